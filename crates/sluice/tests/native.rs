//! Native providers through the real gateway: every recorded-shape Anthropic and Gemini stream
//! (`crates/sluice-native/fixtures/`) is served by a replay provider in pseudo-random TCP
//! pieces to a gateway whose routes reach it as `kind = "anthropic"` and `kind = "gemini"`, and
//! an OpenAI client must read exactly the fixture's expected text, reasoning and its signature,
//! tool calls, finish reason, usage (with the gateway's cost, only when asked) and final error.
//! The provider must have got its own API: path, auth headers, a translated body.

mod common;
#[path = "common/replay.rs"]
mod replay;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use common::{eventually, get, post, raw_json_at, report_row, Proc, Reply};
use replay::{header_values, Recorded, ReplayProvider};

const ANTHROPIC_KEY: &str = "sk-ant-replay-key";
const GEMINI_KEY: &str = "gemini-replay-key";
const CLIENT_SECRET: &str = "client-secret";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Api {
    Anthropic,
    Gemini,
}

impl Api {
    fn dir(self) -> &'static str {
        match self {
            Api::Anthropic => "anthropic",
            Api::Gemini => "gemini",
        }
    }
}

struct Fixture {
    api: Api,
    name: String,
    sse: Vec<u8>,
    expected: Value,
}

impl Fixture {
    /// The gateway's route to it.
    fn route(&self) -> String {
        format!("{}/{}", self.api.dir(), self.name)
    }
}

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sluice-native/fixtures")
}

fn load(api: Api) -> Vec<Fixture> {
    let dir = fixtures_root().join(api.dir());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("read native fixtures")
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".sse").map(str::to_owned)
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let sse = std::fs::read(dir.join(format!("{name}.sse"))).expect("read .sse");
            let expected = std::fs::read(dir.join(format!("{name}.expected.json")))
                .expect("read .expected.json");
            Fixture {
                api,
                name,
                sse,
                expected: serde_json::from_slice(&expected).expect("expected.json is JSON"),
            }
        })
        .collect()
}

fn gateway_config(anthropic: &ReplayProvider, gemini: &ReplayProvider, all: &[Fixture]) -> String {
    let routes: String = all
        .iter()
        .map(|f| {
            let provider = match f.api {
                Api::Anthropic => "claude",
                Api::Gemini => "google",
            };
            format!(
                "{:?} = [{{ provider = \"{provider}\", model = {:?} }}]\n",
                f.route(),
                f.name
            )
        })
        .collect();
    format!(
        r#"
[providers.claude]
kind = "anthropic"
base_url = "http://{a}/v1"
api_key = "{ANTHROPIC_KEY}"
default_max_tokens = 1000
timeouts = {{ connect = "5s", first_token = "30s", idle = "30s", total = "120s" }}

[providers.google]
kind = "gemini"
base_url = "http://{g}/v1beta"
api_key = "{GEMINI_KEY}"
timeouts = {{ connect = "5s", first_token = "30s", idle = "30s", total = "120s" }}

[stream]
slow_client = "block"

[routes]
{routes}"#,
        a = anthropic.addr,
        g = gemini.addr,
    )
}

fn chat_request(route: &str, include_usage: bool) -> Value {
    let mut body = json!({
        "model": route,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Replay the recording."}
        ],
        "stream": true,
    });
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

/// What an OpenAI SDK accumulates from the chunks (one choice).
#[derive(Default)]
struct Accumulated {
    content: String,
    reasoning: String,
    signature: Option<String>,
    finish_reason: Value,
    calls: BTreeMap<u64, Value>,
}

impl Accumulated {
    fn push(&mut self, payload: &Value) {
        for choice in payload["choices"].as_array().into_iter().flatten() {
            if !choice["finish_reason"].is_null() {
                self.finish_reason = choice["finish_reason"].clone();
            }
            let delta = &choice["delta"];
            if let Some(t) = delta["content"].as_str() {
                self.content.push_str(t);
            }
            if let Some(t) = delta["reasoning_content"].as_str() {
                self.reasoning.push_str(t);
            }
            if let Some(t) = delta["reasoning_signature"].as_str() {
                self.signature.get_or_insert_with(String::new).push_str(t);
            }
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let index = call["index"].as_u64().expect("tool call index");
                let entry = self.calls.entry(index).or_insert_with(|| {
                    json!({"index": index, "id": null, "name": "", "arguments": "",
                        "thought_signature": null})
                });
                if let Some(id) = call["id"].as_str() {
                    entry["id"] = json!(id);
                }
                if let Some(name) = call["function"]["name"].as_str() {
                    let name = format!("{}{name}", entry["name"].as_str().unwrap_or(""));
                    entry["name"] = json!(name);
                }
                if let Some(args) = call["function"]["arguments"].as_str() {
                    let args = format!("{}{args}", entry["arguments"].as_str().unwrap_or(""));
                    entry["arguments"] = json!(args);
                }
                let signature = &call["extra_content"]["google"]["thought_signature"];
                if signature.is_string() {
                    entry["thought_signature"] = signature.clone();
                }
            }
        }
    }
}

fn check_stream(reply: &Reply, f: &Fixture, include_usage: bool, problems: &mut Vec<String>) {
    let expected = &f.expected;
    let payloads = reply.payloads();
    let mut acc = Accumulated::default();
    for p in &payloads {
        acc.push(p);
    }
    let calls: Vec<Value> = acc.calls.into_values().collect();
    for (what, got, want) in [
        ("content", json!(acc.content), expected["content"].clone()),
        (
            "reasoning",
            json!(acc.reasoning),
            expected["reasoning"].clone(),
        ),
        (
            "reasoning_signature",
            json!(acc.signature),
            expected["reasoning_signature"].clone(),
        ),
        ("tool_calls", json!(calls), expected["tool_calls"].clone()),
        (
            "finish_reason",
            acc.finish_reason,
            expected["finish_reason"].clone(),
        ),
    ] {
        if got != want {
            problems.push(format!("{what}: received {got}, expected {want}"));
        }
    }
    // Exactly one role delta, first.
    let roles = payloads
        .iter()
        .filter(|p| !p["choices"][0]["delta"]["role"].is_null())
        .count();
    if roles != 1 {
        problems.push(format!("{roles} role deltas, expected 1"));
    }

    let usages: Vec<&Value> = payloads
        .iter()
        .filter_map(|p| p.get("usage").filter(|u| !u.is_null()))
        .collect();
    match (include_usage, expected["usage"].as_object()) {
        (false, _) => {
            if !usages.is_empty() {
                problems.push(format!("usage not asked for, yet received: {}", usages[0]));
            }
        }
        (true, Some(want)) => match usages.last() {
            None => problems.push("usage asked for, none received".into()),
            Some(got) => {
                for (key, value) in want {
                    if got.get(key) != Some(value) {
                        problems.push(format!(
                            "usage.{key}: received {:?}, expected {value}",
                            got.get(key)
                        ));
                    }
                }
                if got.get("cost").is_none() || got.get("cost_local").is_none() {
                    problems.push(format!("usage without the gateway's cost: {got}"));
                }
            }
        },
        (true, None) => {}
    }

    match expected["error"].as_object() {
        None => {
            if !reply.ends_with_done() {
                problems.push("a completed stream does not end with [DONE]".into());
            }
        }
        Some(want) => {
            if reply.events().iter().any(|e| &e.data[..] == b"[DONE]") {
                problems.push("a failed stream carries [DONE]".into());
            }
            let last = payloads.last().cloned().unwrap_or(Value::Null);
            for key in ["message", "type", "code"] {
                if last["error"][key] != want[key] {
                    problems.push(format!(
                        "error.{key}: received {}, expected {}",
                        last["error"][key], want[key]
                    ));
                }
            }
        }
    }
}

fn check_provider_request(recorded: &[Recorded], f: &Fixture, problems: &mut Vec<String>) {
    let [request] = recorded else {
        problems.push(format!("the provider got {} requests", recorded.len()));
        return;
    };
    let head = &request.head;
    let line = head.lines().next().unwrap_or("");
    let want_line = match f.api {
        Api::Anthropic => "POST /v1/messages HTTP/1.1".to_owned(),
        Api::Gemini => format!(
            "POST /v1beta/models/{}:streamGenerateContent?alt=sse HTTP/1.1",
            f.name
        ),
    };
    if line != want_line {
        problems.push(format!("request line {line:?}, expected {want_line:?}"));
    }
    let (key_header, key) = match f.api {
        Api::Anthropic => ("x-api-key", ANTHROPIC_KEY),
        Api::Gemini => ("x-goog-api-key", GEMINI_KEY),
    };
    if header_values(head, key_header) != [key] {
        problems.push(format!(
            "{key_header}: {:?}",
            header_values(head, key_header)
        ));
    }
    if !header_values(head, "authorization").is_empty() {
        problems.push("an Authorization header reached a native provider".into());
    }
    let version = header_values(head, "anthropic-version");
    if (f.api == Api::Anthropic) != (version == ["2023-06-01"]) {
        problems.push(format!("anthropic-version: {version:?}"));
    }
    let everything = format!("{head}{}", String::from_utf8_lossy(&request.body));
    if everything.contains(CLIENT_SECRET) {
        problems.push("the client's key reached the provider".into());
    }
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let want = match f.api {
        Api::Anthropic => json!({
            "model": f.name, "max_tokens": 1000, "stream": true,
            "system": [{"type": "text", "text": "Be brief."}],
            "messages": [{"role": "user",
                "content": [{"type": "text", "text": "Replay the recording."}]}],
        }),
        Api::Gemini => json!({
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "contents": [{"role": "user", "parts": [{"text": "Replay the recording."}]}],
        }),
    };
    if body != want {
        problems.push(format!("provider body {body}, expected {want}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn native_streams_reach_an_openai_client_intact() {
    let anthropic = load(Api::Anthropic);
    let gemini = load(Api::Gemini);
    assert!(
        anthropic.len() >= 8 && gemini.len() >= 9,
        "fixtures missing"
    );
    let serve = |list: &[Fixture]| {
        list.iter()
            .map(|f| (f.name.clone(), f.sse.clone()))
            .collect()
    };
    let replay_a = ReplayProvider::start(serve(&anthropic)).await;
    let replay_g = ReplayProvider::start(serve(&gemini)).await;
    let all: Vec<Fixture> = anthropic.into_iter().chain(gemini).collect();
    let gateway = Proc::gateway(&gateway_config(&replay_a, &replay_g, &all));

    let mut failures = Vec::new();
    for f in &all {
        for include_usage in [true, false] {
            let replay = match f.api {
                Api::Anthropic => &replay_a,
                Api::Gemini => &replay_g,
            };
            replay.take();
            let reply = post(
                &gateway.url("/v1/chat/completions"),
                &chat_request(&f.route(), include_usage),
                &[("authorization", &format!("Bearer {CLIENT_SECRET}"))],
            )
            .await;
            let mut problems = Vec::new();
            if reply.status != 200 {
                problems.push(format!("HTTP {}: {}", reply.status, reply.body));
            } else {
                check_provider_request(&replay.take(), f, &mut problems);
                check_stream(&reply, f, include_usage, &mut problems);
            }
            failures.extend(
                problems
                    .into_iter()
                    .map(|p| format!("{} (include_usage={include_usage}): {p}", f.route())),
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s):\n{}\n\ngateway log:\n{}",
        failures.len(),
        failures.join("\n"),
        gateway.logs()
    );
}

/// A field the provider's API has no equivalent for is the client's 400 naming it, before any
/// provider is asked; a route whose next target can take it is served there instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untranslatable_fields_are_a_400_naming_the_field() {
    let fixtures = load(Api::Anthropic);
    let replay = ReplayProvider::start(
        fixtures
            .iter()
            .map(|f| (f.name.clone(), f.sse.clone()))
            .collect(),
    )
    .await;
    let upstream = Proc::mock_upstream(&[]);
    let config = format!(
        r#"
[providers.claude]
kind = "anthropic"
base_url = "http://{a}/v1"
api_key = "k"

[providers.local]
kind = "openai"
base_url = "http://{m}/v1"

[routes]
"claude" = [{{ provider = "claude", model = "text-pings" }}]
"claude-or-local" = [{{ provider = "claude", model = "text-pings" }}, {{ provider = "local", model = "mock-1" }}]
"#,
        a = replay.addr,
        m = upstream.addr,
    );
    let gateway = Proc::gateway(&config);
    let mut body = json!({
        "model": "claude",
        "messages": [{"role": "user", "content": "hi"}],
        "logit_bias": {"50256": -100},
    });
    let reply = post(&gateway.url("/v1/chat/completions"), &body, &[]).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    let error = &reply.json()["error"];
    assert_eq!(error["type"], "invalid_request_error", "{error}");
    assert_eq!(error["param"], "logit_bias", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("logit_bias"),
        "{error}"
    );
    assert!(replay.take().is_empty(), "the provider was asked");

    // The OpenAI-compatible fallback takes the field.
    body["model"] = json!("claude-or-local");
    let reply = post(&gateway.url("/v1/chat/completions"), &body, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-sluice-provider"), Some("local"));
    assert!(replay.take().is_empty(), "the Anthropic provider was asked");
}

/// Anthropic's cache reads and writes and Gemini's cached content, translated into OpenAI's
/// usage, are billed at the price's cache rates: in the client's `usage.cost` and the ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_cache_tokens_are_billed_at_their_own_rates() {
    let fixtures: Vec<Fixture> = load(Api::Anthropic)
        .into_iter()
        .filter(|f| f.name == "cache-usage")
        .chain(
            load(Api::Gemini)
                .into_iter()
                .filter(|f| f.name == "cached-usage"),
        )
        .collect();
    assert_eq!(fixtures.len(), 2, "fixtures missing");
    let serve = |api: Api| {
        fixtures
            .iter()
            .filter(|f| f.api == api)
            .map(|f| (f.name.clone(), f.sse.clone()))
            .collect()
    };
    let replay_a = ReplayProvider::start(serve(Api::Anthropic)).await;
    let replay_g = ReplayProvider::start(serve(Api::Gemini)).await;
    let config = format!(
        "{}\n\
         [providers.claude.prices]\n\
         \"cache-usage\" = {{ input = 3.00, output = 15.00, cache_read = 0.30, cache_write = 3.75, cache_write_1h = 6.00 }}\n\
         [providers.google.prices]\n\
         \"cached-usage\" = {{ input = 0.30, output = 2.50, cache_read = 0.03 }}\n",
        gateway_config(&replay_a, &replay_g, &fixtures)
    );
    let gateway = Proc::gateway(&config);

    // Anthropic: 3,596 prompt tokens, 2,048 read, 1,536 written (1,024 of them for an hour),
    // 12 plain; 57 completion tokens. 12 × 3.00 + 2,048 × 0.30 + 512 × 3.75 + 1,024 × 6.00 +
    // 57 × 15.00 = 36 + 614.4 + 1,920 + 6,144 + 855 = 9,569.4 per million tokens.
    // Gemini: 4,120 prompt tokens, 4,096 cached; 18 completion tokens. 24 × 0.30 +
    // 4,096 × 0.03 + 18 × 2.50 = 7.2 + 122.88 + 45 = 175.08.
    let cases = [(&fixtures[0], "0.0095694"), (&fixtures[1], "0.00017508")];
    for (f, cost) in cases {
        let reply = post(
            &gateway.url("/v1/chat/completions"),
            &chat_request(&f.route(), true),
            &[],
        )
        .await;
        assert_eq!(reply.status, 200, "{}: {}", f.route(), reply.body);
        let usage = reply
            .events()
            .iter()
            .map(|e| String::from_utf8_lossy(&e.data).into_owned())
            .find(|d| d.contains("\"usage\":{"))
            .unwrap_or_else(|| panic!("{}: no usage in {}", f.route(), reply.body));
        assert_eq!(
            raw_json_at(&usage, &["usage", "cost"]).as_deref(),
            Some(cost),
            "{}: {usage}",
            f.route()
        );
    }

    let url = gateway.url("/v1/usage?by=model");
    eventually("the rows in the ledger", || async {
        get(&url).await.json()["total"]["requests"] == 2
    })
    .await;
    let report = get(&url).await.body;
    for (f, cost) in cases {
        let row = report_row(&report, &f.route())
            .unwrap_or_else(|| panic!("no {} in {report}", f.route()));
        assert_eq!(
            raw_json_at(&row, &["cost_usd"]).as_deref(),
            Some(cost),
            "{}: {report}",
            f.route()
        );
    }
}
