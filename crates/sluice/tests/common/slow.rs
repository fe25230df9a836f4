//! A slow client on a real socket: a raw TCP client with a tiny receive buffer that stops
//! reading, then reads a few hundred bytes at a time.
#![allow(dead_code)] // Each test binary uses a different part.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::common::{self, Proc};

/// Connects with a 4 KiB receive buffer (so the kernel holds little for us) and sends the
/// streaming request.
pub async fn slow_client(gw: &Proc, body: &serde_json::Value, extra_headers: &str) -> TcpStream {
    slow_client_at(gw, "/v1/chat/completions", body, extra_headers).await
}

/// The same for the API at `path`.
pub async fn slow_client_at(
    gw: &Proc,
    path: &str,
    body: &serde_json::Value,
    extra_headers: &str,
) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut sock = socket.connect(gw.addr).await.unwrap();
    let payload = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{extra_headers}content-length: {}\r\n\r\n{payload}",
        payload.len()
    );
    sock.write_all(request.as_bytes()).await.unwrap();
    sock
}

/// Reads the rest of the response: a few hundred bytes at a time at first, then in larger
/// reads so long streams do not make the test slow.
pub async fn read_slowly(sock: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    for reads in 0usize.. {
        let want = if reads < 200 { 300 } else { buf.len() };
        match tokio::time::timeout(Duration::from_secs(30), sock.read(&mut buf[..want])).await {
            Ok(Ok(0)) | Ok(Err(_)) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no byte for 30 s"),
        }
        if out.ends_with(b"0\r\n\r\n") {
            return out;
        }
    }
    out
}

/// The response body, de-chunked, and the text of its chat deltas.
pub fn content_of(raw: &[u8]) -> (String, bool) {
    let reply = common::Reply {
        status: 200,
        headers: Default::default(),
        body: body_of(raw),
    };
    (reply.content(), reply.ends_with_done())
}

/// The body of a raw chunked HTTP/1.1 response.
pub fn body_of(raw: &[u8]) -> String {
    // De-chunked as bytes: a character split between two HTTP chunks is whole again after.
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head")
        + 4;
    let mut rest = &raw[head_end..];
    let mut bytes = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = std::str::from_utf8(&rest[..line_end]).expect("ASCII size");
        let size = usize::from_str_radix(size.trim(), 16).expect("hex size");
        if size == 0 {
            break;
        }
        let data = &rest[line_end + 2..];
        bytes.extend_from_slice(&data[..size]);
        rest = &data[size + 2..];
    }
    String::from_utf8(bytes).expect("the body is UTF-8")
}
