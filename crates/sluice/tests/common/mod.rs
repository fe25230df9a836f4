//! The black-box harness: starts the real `sluice` binary (gateway or simulated provider) on
//! loopback port 0, finds its address in its log, and reads its SSE replies as raw bytes.
#![allow(dead_code)] // Each test binary uses a different part of the harness.

pub mod store;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use sluice_sse::{Decoder, Event, Frame};

/// A running `sluice` process; killed when dropped.
pub struct Proc {
    child: Child,
    pub addr: SocketAddr,
    pub base: String,
    logs: Arc<Mutex<Vec<String>>>,
    _dir: Option<tempfile::TempDir>,
}

impl Proc {
    /// Starts `sluice <args>` in `dir` and waits until it logs its listening address.
    pub fn spawn(args: &[&str], env: &[(&str, &str)], dir: Option<tempfile::TempDir>) -> Proc {
        Self::spawn_program(env!("CARGO_BIN_EXE_sluice"), args, env, dir)
    }

    /// Runs `script` with `sh -c` (it must `exec` sluice) and waits for its listening address.
    pub fn spawn_shell(script: &str) -> Proc {
        Self::spawn_program("sh", &["-c", script], &[], None)
    }

    fn spawn_program(
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
        dir: Option<tempfile::TempDir>,
    ) -> Proc {
        let cwd = dir
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_else(std::env::temp_dir);
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&cwd)
            .env_remove("HOLYSHEEP_API_KEY")
            .env_remove("SLUICE_CONFIG")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start sluice");
        let stderr = child.stderr.take().expect("stderr piped");
        let logs: Arc<Mutex<Vec<String>>> = Arc::default();
        let (tx, rx) = mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    // Text or JSON logs: the address is what follows, up to the first
                    // character that cannot be part of it.
                    let addr: String = rest
                        .chars()
                        .take_while(|c| {
                            c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']')
                        })
                        .collect();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr: SocketAddr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a.parse().expect("address in log"),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "sluice {args:?} did not start; log:\n{}",
                    logs.lock().unwrap().join("\n")
                );
            }
        };
        Proc {
            child,
            base: format!("http://{addr}"),
            addr,
            logs,
            _dir: dir,
        }
    }

    /// The simulated provider with the given extra flags (timings default to zero).
    pub fn mock_upstream(extra: &[&str]) -> Proc {
        let mut args = vec!["mock-upstream", "--listen", "127.0.0.1:0"];
        for (flag, zero) in [("--ttft", "0ms"), ("--itl", "0ms")] {
            if !extra.contains(&flag) {
                args.extend([flag, zero]);
            }
        }
        args.extend_from_slice(extra);
        Proc::spawn(&args, &[], None)
    }

    /// The gateway with this config file (its `listen` is overridden to a free port).
    pub fn gateway(config_toml: &str) -> Proc {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sluice.toml");
        std::fs::write(&path, config_toml).expect("write config");
        let path = path.to_str().expect("utf-8 path").to_owned();
        Proc::spawn(
            &["serve", "--config", &path, "--listen", "127.0.0.1:0"],
            &[],
            Some(dir),
        )
    }

    /// The gateway with this config file and extra flags (e.g. `--log-format json`).
    pub fn gateway_with_flags(config_toml: &str, flags: &[&str]) -> Proc {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sluice.toml");
        std::fs::write(&path, config_toml).expect("write config");
        let path = path.to_str().expect("utf-8 path").to_owned();
        let mut args = vec!["serve", "--config", &path, "--listen", "127.0.0.1:0"];
        args.extend_from_slice(flags);
        Proc::spawn(&args, &[], Some(dir))
    }

    /// The gateway with no config file at all.
    pub fn gateway_builtin() -> Proc {
        let dir = tempfile::tempdir().expect("temp dir");
        Proc::spawn(&["serve", "--listen", "127.0.0.1:0"], &[], Some(dir))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The simulated provider's `/stats`.
    pub async fn stats(&self) -> serde_json::Value {
        reqwest::get(self.url("/stats"))
            .await
            .expect("GET /stats")
            .json()
            .await
            .expect("stats JSON")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A gateway config routing `models` to a provider at `base_url` (`/v1` appended).
pub fn config_for(upstream: &Proc, extra: &str) -> String {
    format!(
        r#"
[providers.up]
kind = "openai"
base_url = "{}/v1"
api_key = "sk-test-upstream-key"
timeouts = {{ connect = "2s", first_token = "5s", idle = "5s", total = "60s" }}

[routes]
"mock" = ["up"]
"fast" = [{{ provider = "up", model = "mock" }}]
"mock-500" = ["up"]
"mock-429" = ["up"]
"mock-stall" = ["up"]
"mock-drop" = ["up"]

{extra}
"#,
        upstream.base
    )
}

/// A reply read to its end: status, headers, raw body and its SSE events.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The SSE frames of the body, decoded with the product's own decoder.
    pub fn frames(&self) -> Vec<Frame> {
        let mut dec = Decoder::new();
        dec.push(self.body.as_bytes());
        let mut out = Vec::new();
        while let Some(f) = dec.next_frame().expect("valid SSE") {
            out.push(f);
        }
        if let Some(ev) = dec.finish() {
            out.push(Frame::Event(ev));
        }
        out
    }

    pub fn events(&self) -> Vec<Event> {
        self.frames()
            .into_iter()
            .filter_map(|f| match f {
                Frame::Event(e) => Some(e),
                Frame::Comment(_) => None,
            })
            .collect()
    }

    /// The JSON payloads of the data events (not `[DONE]`).
    pub fn payloads(&self) -> Vec<serde_json::Value> {
        self.events()
            .iter()
            .filter(|e| &e.data[..] != b"[DONE]")
            .map(|e| {
                serde_json::from_slice(&e.data).unwrap_or_else(|err| panic!("{err}: {:?}", e.data))
            })
            .collect()
    }

    pub fn ends_with_done(&self) -> bool {
        self.events()
            .last()
            .is_some_and(|e| e.data == Bytes::from_static(b"[DONE]"))
    }

    /// The concatenated `delta.content` of choice 0.
    pub fn content(&self) -> String {
        self.payloads()
            .iter()
            .filter_map(|p| {
                p["choices"]
                    .as_array()?
                    .iter()
                    .find(|c| c["index"] == 0)
                    .cloned()
            })
            .filter_map(|c| c["delta"]["content"].as_str().map(str::to_owned))
            .collect()
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// POSTs a JSON body and reads the reply to its end.
pub async fn post(url: &str, body: &serde_json::Value, headers: &[(&str, &str)]) -> Reply {
    let mut req = client().post(url).json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    read(req.send().await.expect("request sent")).await
}

pub async fn get(url: &str) -> Reply {
    read(client().get(url).send().await.expect("request sent")).await
}

pub async fn read(res: reqwest::Response) -> Reply {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res
        .text()
        .await
        .unwrap_or_else(|e| format!("<body error: {e}>"));
    Reply {
        status,
        headers,
        body,
    }
}

pub fn chat(model: &str, stream: bool) -> serde_json::Value {
    serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": "Tell me about rivers."}],
        "stream": stream,
    })
}

/// Polls `check` every 20 ms for up to 10 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..500 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

pub fn fixtures_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/sse"))
}

/// The text of the JSON value at `path` (object keys) in `json`, exactly as written: amounts
/// are read from their digits, where a `serde_json::Value` would hold them as floats.
pub fn raw_json_at(json: &str, path: &[&str]) -> Option<String> {
    use std::collections::HashMap;

    use serde_json::value::RawValue;

    let mut raw: &RawValue = serde_json::from_str(json).ok()?;
    for key in path {
        let fields: HashMap<String, &RawValue> = serde_json::from_str(raw.get()).ok()?;
        raw = fields.get(*key).copied()?;
    }
    Some(raw.get().to_owned())
}

/// The row of `group` in a usage report (`GET /v1/usage`), as written.
pub fn report_row(report: &str, group: &str) -> Option<String> {
    let rows = raw_json_at(report, &["rows"])?;
    let rows: Vec<&serde_json::value::RawValue> = serde_json::from_str(&rows).ok()?;
    let group = serde_json::to_string(group).ok()?;
    rows.into_iter()
        .find(|r| raw_json_at(r.get(), &["group"]).as_deref() == Some(group.as_str()))
        .map(|r| r.get().to_owned())
}
