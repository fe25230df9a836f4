//! A replay provider for black-box tests: a bare HTTP/1.1 server that answers with recorded
//! streams in pseudo-random TCP pieces and records what it was sent, and the recorded streams.
#![allow(dead_code)] // Each test binary uses a different part.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the replay provider received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub head: String,
    pub body: Vec<u8>,
}

/// A bare HTTP/1.1 provider that answers each request with the fixture named by its model (the
/// body's `model`, or for Gemini's API the `models/{model}:…` of the path), written in small
/// pieces (a whole answer, at once, when the fixture is a JSON document), and records every
/// request it got.
pub struct ReplayProvider {
    pub addr: SocketAddr,
    recorded: Arc<Mutex<Vec<Recorded>>>,
}

impl ReplayProvider {
    pub async fn start(fixtures: HashMap<String, Vec<u8>>) -> ReplayProvider {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind replay");
        let addr = listener.local_addr().expect("replay address");
        let recorded: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let fixtures = Arc::new(fixtures);
        let log = recorded.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(serve_connection(sock, fixtures.clone(), log.clone()));
            }
        });
        ReplayProvider { addr, recorded }
    }

    /// The requests received since the last call.
    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.recorded.lock().unwrap())
    }
}

async fn serve_connection(
    mut sock: TcpStream,
    fixtures: Arc<HashMap<String, Vec<u8>>>,
    recorded: Arc<Mutex<Vec<Recorded>>>,
) -> std::io::Result<()> {
    sock.set_nodelay(true)?;
    let request = read_request(&mut sock).await?;
    let model = serde_json::from_slice::<Value>(&request.body)
        .ok()
        .and_then(|v| v["model"].as_str().map(str::to_owned))
        .or_else(|| model_in_path(&request.head))
        .unwrap_or_default();
    recorded.lock().unwrap().push(request);
    match fixtures.get(&model) {
        // A JSON document is a whole answer.
        Some(whole) if whole.starts_with(b"{") => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n",
                whole.len()
            );
            sock.write_all(head.as_bytes()).await?;
            sock.write_all(whole).await?;
        }
        Some(sse) => {
            sock.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                  cache-control: no-cache\r\nconnection: close\r\n\r\n",
            )
            .await?;
            sock.flush().await?;
            write_in_pieces(&mut sock, sse, fnv1a(model.as_bytes())).await?;
        }
        None => {
            let body = format!(r#"{{"error":{{"message":"no fixture named {model:?}"}}}}"#);
            let head = format!(
                "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            sock.write_all(head.as_bytes()).await?;
            sock.write_all(body.as_bytes()).await?;
        }
    }
    // Closing the connection delimits the body.
    sock.shutdown().await
}

/// Gemini's model, named in the request line (`POST /v1beta/models/NAME:streamGenerateContent`).
fn model_in_path(head: &str) -> Option<String> {
    let target = head.split(' ').nth(1)?;
    let rest = target.split_once("/models/")?.1;
    Some(rest.split(':').next()?.to_owned())
}

/// Reads one HTTP/1.1 request: the head up to the blank line, then `content-length` bytes.
async fn read_request(sock: &mut TcpStream) -> std::io::Result<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = header_values(&head, "content-length")
        .first()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(Recorded {
        head,
        body: buf[head_end..head_end + length].to_vec(),
    })
}

/// The values of every header line named `name` (case-insensitive) in a request head.
pub fn header_values(head: &str, name: &str) -> Vec<String> {
    head.split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_owned())
        .collect()
}

/// Writes `bytes` in pieces of 1..=200 bytes chosen by a PRNG seeded with `seed`, flushing and
/// pausing after each (a 1 ms sleep every 8th piece) so the pieces reach the gateway in
/// separate reads.
pub async fn write_in_pieces(sock: &mut TcpStream, bytes: &[u8], seed: u64) -> std::io::Result<()> {
    const SLEEP_EVERY: u32 = 8;
    let mut rng = XorShift(seed | 1);
    let mut rest = bytes;
    let mut until_sleep = SLEEP_EVERY;
    while !rest.is_empty() {
        let size = (1 + (rng.next() % 200) as usize).min(rest.len());
        sock.write_all(&rest[..size]).await?;
        sock.flush().await?;
        rest = &rest[size..];
        until_sleep -= 1;
        if until_sleep == 0 {
            until_sleep = SLEEP_EVERY;
            tokio::time::sleep(Duration::from_millis(1)).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
    Ok(())
}

/// A tiny deterministic PRNG (xorshift64).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One recorded stream and what a correct reader gets out of it.
pub struct Fixture {
    pub name: String,
    pub sse: Vec<u8>,
    pub expected: Value,
}

/// Every `<name>.sse` with its `<name>.expected.json`, sorted by name.
pub fn load_fixtures(dir: &Path) -> Vec<Fixture> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read fixtures/sse")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter_map(|f| f.strip_suffix(".sse").map(str::to_owned))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let sse = std::fs::read(dir.join(format!("{name}.sse"))).expect("read .sse");
            let expected_path = dir.join(format!("{name}.expected.json"));
            let expected = std::fs::read(&expected_path)
                .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
            let expected = serde_json::from_slice(&expected).expect("expected.json is JSON");
            Fixture {
                name,
                sse,
                expected,
            }
        })
        .collect()
}
