//! A mock server on a loopback port for the HTTP tests, and reading its answers back.

#![allow(dead_code)]

use serde_json::Value;
use sluice_mock::{serve, MockSettings, Stats, StatsSnapshot};
use std::time::{Duration, Instant};

pub struct Server {
    pub base: String,
    pub stats: Stats,
    pub client: reqwest::Client,
}

pub async fn spawn(settings: MockSettings) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = Stats::new();
    let served = stats.clone();
    tokio::spawn(async move {
        serve(listener, settings, served, std::future::pending())
            .await
            .unwrap()
    });
    Server {
        base: format!("http://{addr}"),
        stats,
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
    }
}

/// No delays, 16 tokens.
pub fn fast() -> MockSettings {
    MockSettings {
        tokens: 16,
        ttft: Duration::ZERO,
        itl: Duration::ZERO,
        fail_percent: 0,
    }
}

impl Server {
    /// POSTs `body` to `path` (with its query) with `headers`.
    pub async fn post_to(
        &self,
        path: &str,
        body: String,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        self.client.get(url).send().await.unwrap()
    }

    pub async fn stats(&self) -> StatsSnapshot {
        self.client
            .get(format!("{}/stats", self.base))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap()
    }

    /// The stats once `cond` holds (they settle after the body is dropped).
    pub async fn wait_for(&self, cond: impl Fn(&StatsSnapshot) -> bool) -> StatsSnapshot {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let stats = self.stats().await;
            if cond(&stats) {
                return stats;
            }
            assert!(Instant::now() < deadline, "stats never matched: {stats:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub trait JsonBody {
    async fn json_body<T: serde::de::DeserializeOwned>(self) -> T;
}

impl JsonBody for reqwest::Response {
    async fn json_body<T: serde::de::DeserializeOwned>(self) -> T {
        serde_json::from_slice(&self.bytes().await.unwrap()).unwrap()
    }
}

/// The seed of a native request whose prompt is `messages` (the system prompt first), as the
/// crate documents it: FNV-1a 64 over each text and a NUL, and 0x1E after each message.
pub fn native_seed(messages: &[&[&str]]) -> u64 {
    let mut bytes = Vec::new();
    for message in messages {
        for text in *message {
            bytes.extend_from_slice(text.as_bytes());
            bytes.push(0);
        }
        bytes.push(0x1e);
    }
    sluice_mock::fnv1a64(&bytes)
}

/// Reads a body until it ends or fails: the text read and whether it failed.
pub async fn read_until_error(mut resp: reqwest::Response) -> (String, bool) {
    let mut text = String::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => text.push_str(std::str::from_utf8(&chunk).unwrap()),
            Ok(None) => return (text, false),
            Err(_) => return (text, true),
        }
    }
}

/// Reads a stream until `enough` holds of what was read, then waits a little to show nothing
/// more comes (a stalled stream); returns the text.
pub async fn read_stalled(mut resp: reqwest::Response, enough: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    while !enough(&text) {
        let chunk = resp.chunk().await.unwrap().expect("stream ended early");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let more = tokio::time::timeout(Duration::from_millis(300), resp.chunk()).await;
    assert!(more.is_err(), "stalled stream sent more: {more:?}");
    text
}

/// The value at `pointer` as a string, or "".
pub fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}
