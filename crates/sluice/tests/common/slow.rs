//! A slow client on a real socket: a raw TCP client with a tiny receive buffer that stops
//! reading, then reads a few hundred bytes at a time.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::common::{self, Proc};

/// Connects with a 4 KiB receive buffer (so the kernel holds little for us) and sends the
/// streaming request.
pub async fn slow_client(gw: &Proc, body: &serde_json::Value, extra_headers: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut sock = socket.connect(gw.addr).await.unwrap();
    let payload = body.to_string();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{extra_headers}content-length: {}\r\n\r\n{payload}",
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
    let text = String::from_utf8_lossy(raw);
    let (_head, mut rest) = text.split_once("\r\n\r\n").expect("response head");
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").expect("chunk size line");
        let size = usize::from_str_radix(size.trim(), 16).expect("hex size");
        if size == 0 {
            break;
        }
        body.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    let reply = common::Reply {
        status: 200,
        headers: Default::default(),
        body,
    };
    (reply.content(), reply.ends_with_done())
}
