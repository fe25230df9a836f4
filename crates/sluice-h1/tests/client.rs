//! The client against scripted servers on loopback: framing, pooling, cancellation, staleness.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use http::HeaderMap;
use sluice_h1::{Client, H1Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Reads one request (head and content-length body); `None` when the peer closed.
async fn read_request(sock: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map(|v| v.parse().unwrap())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Some(String::from_utf8_lossy(&buf[..end + 4 + len]).to_string());
            }
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A server that answers every request on every connection with `answer`, counting
/// connections and requests. `close_after` closes each connection after that many answers.
async fn server(
    answer: &'static [&'static [u8]],
    close_after: usize,
) -> (u16, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let conns = Arc::new(AtomicUsize::new(0));
    let reqs = Arc::new(AtomicUsize::new(0));
    let (c, r) = (conns.clone(), reqs.clone());
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            c.fetch_add(1, Ordering::SeqCst);
            let r = r.clone();
            tokio::spawn(async move {
                for _ in 0..close_after {
                    if read_request(&mut sock).await.is_none() {
                        return;
                    }
                    r.fetch_add(1, Ordering::SeqCst);
                    for piece in answer {
                        sock.write_all(piece).await.unwrap();
                        sock.flush().await.unwrap();
                        tokio::task::yield_now().await;
                    }
                }
            });
        }
    });
    (port, conns, reqs)
}

fn client(port: u16) -> Client {
    Client::new("127.0.0.1", port, Duration::from_secs(2))
}

async fn body_of(client: &Client) -> Result<(u16, Vec<u8>), H1Error> {
    let res = client
        .post("/v1/chat/completions", &HeaderMap::new(), b"{}")
        .await?;
    let status = res.status.as_u16();
    Ok((status, res.body.read_to_end(1 << 20).await?))
}

const CHUNKED: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
    b"d\r\ndata: hello\n\n\r\n",
    b"d\r\ndata: ",
    b"world\n\n\r\n0\r\n\r\n",
];

#[tokio::test]
async fn chunked_body_streams_and_the_connection_is_reused() {
    let (port, conns, reqs) = server(CHUNKED, usize::MAX).await;
    let c = client(port);
    let res = c
        .post("/v1/chat/completions", &HeaderMap::new(), b"{}")
        .await
        .unwrap();
    assert_eq!(res.status, 200);
    assert_eq!(res.headers["content-type"], "text/event-stream");
    let pieces: Vec<_> = res.body.map(|p| p.unwrap()).collect().await;
    assert_eq!(pieces.concat(), b"data: hello\n\ndata: world\n\n");
    assert_eq!(c.idle_connections(), 1);
    assert_eq!(
        body_of(&c).await.unwrap().1,
        b"data: hello\n\ndata: world\n\n"
    );
    assert_eq!(conns.load(Ordering::SeqCst), 1);
    assert_eq!(reqs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn content_length_body() {
    let (port, conns, _) = server(
        &[b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\ncontent-length: 5\r\n\r\nslow!"],
        usize::MAX,
    )
    .await;
    let c = client(port);
    assert_eq!(body_of(&c).await.unwrap(), (429, b"slow!".to_vec()));
    assert_eq!(body_of(&c).await.unwrap(), (429, b"slow!".to_vec()));
    assert_eq!(conns.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn close_delimited_body_is_read_to_eof_and_not_reused() {
    let (port, conns, _) = server(
        &[b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it"],
        1,
    )
    .await;
    let c = client(port);
    assert_eq!(body_of(&c).await.unwrap(), (200, b"all of it".to_vec()));
    assert_eq!(c.idle_connections(), 0);
    assert_eq!(body_of(&c).await.unwrap(), (200, b"all of it".to_vec()));
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn interim_responses_are_skipped() {
    let (port, _, _) = server(
        &[b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"],
        usize::MAX,
    )
    .await;
    assert_eq!(body_of(&client(port)).await.unwrap(), (200, b"ok".to_vec()));
}

#[tokio::test]
async fn a_stale_pooled_connection_is_replaced() {
    // The server closes every connection after one answer, but keeps it looking reusable.
    let (port, conns, reqs) = server(&[b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"], 1).await;
    let c = client(port);
    assert_eq!(body_of(&c).await.unwrap().1, b"ok");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(body_of(&c).await.unwrap().1, b"ok");
    assert_eq!(conns.load(Ordering::SeqCst), 2);
    assert_eq!(reqs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn dropping_the_body_closes_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        read_request(&mut sock).await.unwrap();
        sock.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            .await
            .unwrap();
        // Nothing more is sent; the client's drop must close the connection.
        let mut rest = [0u8; 16];
        sock.read(&mut rest).await.unwrap()
    });
    let c = client(port);
    let mut res = c.post("/", &HeaderMap::new(), b"").await.unwrap();
    assert_eq!(res.body.next().await.unwrap().unwrap(), "first");
    drop(res);
    let n = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0, "the server saw EOF");
    assert_eq!(c.idle_connections(), 0);
}

#[tokio::test]
async fn a_truncated_chunked_body_is_an_error() {
    let (port, _, _) = server(
        &[b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfir"],
        1,
    )
    .await;
    let res = client(port)
        .post("/", &HeaderMap::new(), b"")
        .await
        .unwrap();
    let items: Vec<_> = res.body.collect().await;
    assert!(
        matches!(items.last(), Some(Err(H1Error::UnexpectedEof))),
        "{items:?}"
    );
}

#[tokio::test]
async fn refused_connection() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = client(port)
        .post("/", &HeaderMap::new(), b"")
        .await
        .unwrap_err();
    assert!(matches!(err, H1Error::Connect { .. }), "{err}");
    assert!(err.to_string().contains(&port.to_string()));
}

#[tokio::test]
async fn request_carries_host_length_and_headers() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let req = read_request(&mut sock).await.unwrap();
        sock.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
            .await
            .unwrap();
        req
    });
    let mut headers = HeaderMap::new();
    headers.insert("authorization", "Bearer k".parse().unwrap());
    let res = client(port)
        .post("/v1/chat/completions", &headers, b"{\"a\":1}")
        .await
        .unwrap();
    assert_eq!(res.status, 204);
    assert!(res.body.read_to_end(10).await.unwrap().is_empty());
    let req = server.await.unwrap();
    assert!(
        req.starts_with("POST /v1/chat/completions HTTP/1.1\r\n"),
        "{req}"
    );
    assert!(req.contains(&format!("host: 127.0.0.1:{port}\r\n")));
    assert!(req.contains("content-length: 7\r\n"));
    assert!(req.contains("authorization: Bearer k\r\n"));
    assert!(req.ends_with("\r\n\r\n{\"a\":1}"));
}

#[tokio::test]
async fn a_request_the_provider_read_is_never_sent_again() {
    // The server answers the first request, then reads the second and closes without a word.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let reqs = Arc::new(AtomicUsize::new(0));
    let r = reqs.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let r = r.clone();
            tokio::spawn(async move {
                read_request(&mut sock).await.unwrap();
                r.fetch_add(1, Ordering::SeqCst);
                sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await
                    .unwrap();
                if read_request(&mut sock).await.is_some() {
                    r.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    let c = client(port);
    assert_eq!(body_of(&c).await.unwrap().1, b"ok");
    let err = body_of(&c).await.unwrap_err();
    assert!(matches!(err, H1Error::UnexpectedEof), "{err}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        reqs.load(Ordering::SeqCst),
        2,
        "the second request was sent once"
    );
}
