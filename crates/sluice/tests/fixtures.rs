//! Every recorded provider stream in `fixtures/sse/` replayed through the real gateway over real
//! sockets, in pseudo-random TCP pieces, twice (with and without `include_usage`). Proves the
//! "Real streams are odd" rules of SPEC §4: the client derives exactly the content, reasoning,
//! refusal, tool calls and finish reasons of each fixture's `*.expected.json`; usage reaches it
//! only when asked (and then is the provider's last usage); a provider error becomes the final
//! `{"error":{...}}` event with no `[DONE]`; only `data:` lines reach the client; chunks pass
//! byte for byte; and the provider got its own key, `include_usage` and identity encoding.
//! Streams made from the recordings add what none of them has: usage the gateway cannot trust
//! (billed as an estimate, never as an exact $0) and usage only in Groq's `x_groq`.

mod common;
#[path = "common/replay.rs"]
mod replay;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;

use serde_json::value::RawValue;
use serde_json::{json, Value};
use sluice_sse::{Decoder, Frame};

use common::{eventually, get, post, raw_json_at, report_row, Proc, Reply};
use replay::{header_values, load_fixtures, Fixture, Recorded, ReplayProvider};

const PROVIDER_KEY: &str = "sk-replay-provider-key";
const CLIENT_SECRET: &str = "client-secret";

// ---------------------------------------------------------------------------------------------
// The gateway
// ---------------------------------------------------------------------------------------------

/// A gateway routing every fixture name to the replay provider. `block` keeps the stream
/// chunk for chunk (coalescing is a backpressure feature, tested elsewhere).
fn gateway_config(replay: SocketAddr, fixtures: &[Fixture]) -> String {
    let routes: String = fixtures
        .iter()
        .map(|f| format!("{:?} = [\"replay\"]\n", f.name))
        .collect();
    format!(
        r#"
[providers.replay]
kind = "openai"
base_url = "http://{replay}/v1"
api_key = "{PROVIDER_KEY}"
timeouts = {{ connect = "5s", first_token = "30s", idle = "30s", total = "120s" }}

[stream]
slow_client = "block"

[routes]
{routes}"#
    )
}

fn chat_request(model: &str, include_usage: bool) -> Value {
    let mut body = json!({
        "model": model,
        "messages": [{"role": "user", "content": "Replay the recording."}],
        "stream": true,
    });
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

// ---------------------------------------------------------------------------------------------
// What a client derives from a stream (the MANIFEST's `expected.json` keys)
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct ToolCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

#[derive(Default)]
struct ChoiceAcc {
    content: String,
    reasoning: String,
    refusal: String,
    finish_reason: Value,
    tool_calls: BTreeMap<u64, ToolCall>,
}

/// Accumulates chunk payloads per choice index, as the OpenAI SDKs do.
#[derive(Default)]
struct Accumulator {
    choices: BTreeMap<u64, ChoiceAcc>,
}

impl Accumulator {
    fn push(&mut self, payload: &Value) {
        let Some(choices) = payload["choices"].as_array() else {
            return;
        };
        for (position, choice) in choices.iter().enumerate() {
            let index = choice["index"].as_u64().unwrap_or(position as u64);
            let acc = self.choices.entry(index).or_default();
            if !choice["finish_reason"].is_null() {
                acc.finish_reason = choice["finish_reason"].clone();
            }
            let delta = &choice["delta"];
            if let Some(text) = delta["content"].as_str() {
                acc.content.push_str(text);
            }
            if let Some(text) = delta["reasoning_content"]
                .as_str()
                .or_else(|| delta["reasoning"].as_str())
            {
                acc.reasoning.push_str(text);
            }
            if let Some(text) = delta["refusal"].as_str() {
                acc.refusal.push_str(text);
            }
            for (pos, call) in delta["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let slot = call["index"].as_u64().unwrap_or(pos as u64);
                let entry = acc.tool_calls.entry(slot).or_default();
                if let Some(id) = call["id"].as_str().filter(|id| !id.is_empty()) {
                    entry.id.get_or_insert_with(|| id.to_owned());
                }
                if let Some(name) = call["function"]["name"].as_str() {
                    entry.name.push_str(name);
                }
                if let Some(args) = call["function"]["arguments"].as_str() {
                    entry.arguments.push_str(args);
                }
            }
        }
    }

    /// The per-choice maps in the shape of `expected.json` (`"0"`, `"1"`, … keys).
    fn observed(&self) -> Value {
        let map = |f: &dyn Fn(&ChoiceAcc) -> Value| -> Value {
            Value::Object(
                self.choices
                    .iter()
                    .map(|(i, c)| (i.to_string(), f(c)))
                    .collect(),
            )
        };
        json!({
            "content": map(&|c| json!(c.content)),
            "reasoning": map(&|c| json!(c.reasoning)),
            "refusal": map(&|c| json!(c.refusal)),
            "finish_reason": map(&|c| c.finish_reason.clone()),
            "tool_calls": map(&|c| {
                c.tool_calls
                    .iter()
                    .map(|(i, t)| json!({"index": i, "id": t.id, "name": t.name, "arguments": t.arguments}))
                    .collect()
            }),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Checks: each returns the problems it found, as readable lines
// ---------------------------------------------------------------------------------------------

/// The client's received stream: its events' data, parsed where it is JSON.
struct Received {
    /// Raw `data` of every event, `[DONE]` included.
    data: Vec<String>,
    /// The JSON payloads (not `[DONE]`), with their raw text.
    payloads: Vec<(String, Value)>,
}

fn receive(reply: &Reply, problems: &mut Vec<String>) -> Received {
    let mut data = Vec::new();
    let mut payloads = Vec::new();
    for event in reply.events() {
        let text = String::from_utf8_lossy(&event.data).into_owned();
        if event.event.is_some() || event.id.is_some() || event.retry.is_some() {
            problems.push(format!(
                "framing: an event carries event/id/retry fields (event {:?}, id {:?}, retry {:?})",
                event.event, event.id, event.retry
            ));
        }
        if text != "[DONE]" {
            match serde_json::from_str::<Value>(&text) {
                Ok(v) => payloads.push((text.clone(), v)),
                Err(e) => {
                    problems.push(format!("a data event is not JSON ({e}): {}", short(&text)))
                }
            }
        }
        data.push(text);
    }
    Received { data, payloads }
}

/// Content, reasoning, refusal, tool calls and finish reasons, per choice.
fn check_accumulated(received: &Received, expected: &Value, problems: &mut Vec<String>) {
    let mut acc = Accumulator::default();
    for (_, payload) in &received.payloads {
        acc.push(payload);
    }
    let observed = acc.observed();
    for key in [
        "content",
        "reasoning",
        "refusal",
        "finish_reason",
        "tool_calls",
    ] {
        let want = expected[key].as_object().cloned().unwrap_or_default();
        let got = observed[key].as_object().cloned().unwrap_or_default();
        let want_idx: BTreeSet<&String> = want.keys().collect();
        let got_idx: BTreeSet<&String> = got.keys().collect();
        if want_idx != got_idx {
            problems.push(format!(
                "{key}: choice indexes {got_idx:?} received, {want_idx:?} expected"
            ));
        }
        for (index, want_value) in &want {
            let got_value = got.get(index).unwrap_or(&Value::Null);
            if got_value != want_value {
                problems.push(format!(
                    "{key}[{index}]: {}",
                    describe_difference(want_value, got_value)
                ));
            }
        }
    }
}

/// With `include_usage`: the last usage received matches the provider's (except `cost*`, which
/// the gateway owns). Without: no payload has a `usage` key at all.
fn check_usage(
    received: &Received,
    expected: &Value,
    include_usage: bool,
    problems: &mut Vec<String>,
) {
    let with_usage_key: Vec<usize> = received
        .payloads
        .iter()
        .enumerate()
        .filter(|(_, (_, p))| p.get("usage").is_some())
        .map(|(i, _)| i)
        .collect();
    if !include_usage {
        if let Some(&first) = with_usage_key.first() {
            problems.push(format!(
                "usage not asked for, yet {} payload(s) carry a top-level `usage` key \
                 (first: payload {first}, `\"usage\":{}`)",
                with_usage_key.len(),
                short(&received.payloads[first].1["usage"].to_string())
            ));
        }
        return;
    }
    let Some(want) = expected["usage"].as_object() else {
        return;
    };
    let last = received
        .payloads
        .iter()
        .rev()
        .find_map(|(_, p)| p.get("usage").filter(|u| !u.is_null()));
    let Some(got) = last else {
        problems.push("usage asked for and provided upstream, but none received".into());
        return;
    };
    for (key, want_value) in want {
        if key.starts_with("cost") {
            continue;
        }
        if got.get(key) != Some(want_value) {
            problems.push(format!(
                "usage.{key}: received {}, expected {want_value} (usage received: {})",
                got.get(key).map_or("nothing".into(), Value::to_string),
                short(&got.to_string())
            ));
        }
    }
}

/// `[DONE]` last on success; the provider's error as the last event, and no `[DONE]`, on failure.
fn check_ending(reply: &Reply, received: &Received, expected: &Value, problems: &mut Vec<String>) {
    let Some(want) = expected["error"].as_object() else {
        if !reply.ends_with_done() {
            problems.push(format!(
                "expected the stream to end with [DONE]; last event: {}",
                received.data.last().map_or("<none>".into(), |d| short(d))
            ));
        }
        if let Some((raw, _)) = received
            .payloads
            .iter()
            .find(|(_, p)| p.get("error").is_some())
        {
            problems.push(format!(
                "an error event in a successful stream: {}",
                short(raw)
            ));
        }
        return;
    };
    if received.data.iter().any(|d| d == "[DONE]") {
        problems.push("a failed stream carries [DONE]".into());
    }
    let last = received.data.last().map(String::as_str).unwrap_or("<none>");
    let Some(got) = serde_json::from_str::<Value>(last)
        .ok()
        .and_then(|v| v.get("error").filter(|e| e.is_object()).cloned())
    else {
        problems.push(format!(
            "the last event is not an error object: {}",
            short(last)
        ));
        return;
    };
    let want_type = want.get("type").cloned().unwrap_or(json!("upstream_error"));
    let want_code = want.get("code").cloned().unwrap_or(Value::Null);
    for (field, want_value) in [
        (
            "message",
            want.get("message").cloned().unwrap_or(Value::Null),
        ),
        ("type", want_type),
        ("code", want_code),
    ] {
        if got[field] != want_value {
            problems.push(format!(
                "error.{field}: received {}, expected {want_value}",
                got[field]
            ));
        }
    }
}

/// Chunks pass as the provider wrote them: every received chunk with choices is byte for byte a
/// fixture payload (only its `usage` may differ: removed when not asked for, given a cost when
/// asked), and every fixture payload without `usage` or `error` arrives unchanged and in order.
fn check_pass_through(
    received: &Received,
    fixture_payloads: &[String],
    problems: &mut Vec<String>,
) {
    let verbatim: HashSet<&str> = fixture_payloads.iter().map(String::as_str).collect();
    let without_usage: Vec<HashMap<String, &str>> = fixture_payloads
        .iter()
        .filter_map(|p| raw_fields_except(p, "usage"))
        .collect();
    for (raw, payload) in &received.payloads {
        let has_choices = payload["choices"].as_array().is_some_and(|c| !c.is_empty());
        if !has_choices || verbatim.contains(raw.as_str()) {
            continue;
        }
        let same_but_usage =
            raw_fields_except(raw, "usage").is_some_and(|f| without_usage.contains(&f));
        if !same_but_usage {
            problems.push(format!(
                "a chunk is not byte for byte from the provider: {}",
                short(raw)
            ));
        }
    }
    let mut rest = received.data.iter();
    for payload in fixture_payloads {
        let plain = serde_json::from_str::<Value>(payload)
            .is_ok_and(|v| v.get("usage").is_none() && v.get("error").is_none());
        if plain && !rest.any(|d| d == payload) {
            problems.push(format!(
                "a provider chunk did not arrive unchanged and in order: {}",
                short(payload)
            ));
            return;
        }
    }
}

/// The raw text of every top-level value of a JSON object, except `skip`.
fn raw_fields_except<'a>(payload: &'a str, skip: &str) -> Option<HashMap<String, &'a str>> {
    let fields: HashMap<String, &'a RawValue> = serde_json::from_str(payload).ok()?;
    Some(
        fields
            .into_iter()
            .filter(|(k, _)| k != skip)
            .map(|(k, v)| (k, v.get()))
            .collect(),
    )
}

/// The provider got its own key, `include_usage`, identity encoding, and nothing of the client's.
fn check_provider_request(
    recorded: &[Recorded],
    fixture: &str,
    sent: &Value,
    problems: &mut Vec<String>,
) {
    let [request] = recorded else {
        problems.push(format!(
            "the provider got {} requests, expected exactly 1",
            recorded.len()
        ));
        return;
    };
    let head = &request.head;
    if !head.starts_with("POST /v1/chat/completions HTTP/1.1\r\n") {
        problems.push(format!(
            "provider request line: {:?}",
            head.lines().next().unwrap_or("")
        ));
    }
    let auth = header_values(head, "authorization");
    if auth != [format!("Bearer {PROVIDER_KEY}")] {
        problems.push(format!("provider authorization headers: {auth:?}"));
    }
    let encoding = header_values(head, "accept-encoding");
    if encoding != ["identity"] {
        problems.push(format!("provider accept-encoding headers: {encoding:?}"));
    }
    let everything = format!("{head}{}", String::from_utf8_lossy(&request.body));
    if everything.to_ascii_lowercase().contains(CLIENT_SECRET) {
        problems.push("the client's secret reached the provider".into());
    }
    let body: Value = match serde_json::from_slice(&request.body) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!(
                "provider body is not JSON ({e}): {}",
                short(&String::from_utf8_lossy(&request.body))
            ));
            return;
        }
    };
    if body["stream_options"] != json!({"include_usage": true}) {
        problems.push(format!(
            "provider stream_options: {}, expected {{\"include_usage\":true}}",
            body["stream_options"]
        ));
    }
    if body["model"] != fixture || body["messages"] != sent["messages"] || body["stream"] != true {
        problems.push(format!(
            "provider body changed: {}",
            short(&body.to_string())
        ));
    }
}

/// A readable account of two different values; for strings, where they first differ.
fn describe_difference(want: &Value, got: &Value) -> String {
    if let (Some(w), Some(g)) = (want.as_str(), got.as_str()) {
        let at = w.chars().zip(g.chars()).take_while(|(a, b)| a == b).count();
        let tail = |s: &str| short(&s.chars().skip(at).collect::<String>());
        return format!(
            "differs at char {at} (received {} chars, expected {}): received …{:?}, expected …{:?}",
            g.chars().count(),
            w.chars().count(),
            tail(g),
            tail(w)
        );
    }
    format!(
        "received {}, expected {}",
        short(&got.to_string()),
        short(&want.to_string())
    )
}

fn short(s: &str) -> String {
    const MAX: usize = 200;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

/// The last `lines` lines of a log.
fn log_tail(log: &str, lines: usize) -> String {
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The `data` of every JSON event of a fixture (not `[DONE]`), decoded by the SSE rules.
fn fixture_payloads(sse: &[u8]) -> Vec<String> {
    let mut dec = Decoder::new();
    dec.push(sse);
    let mut out = Vec::new();
    while let Some(frame) = dec.next_frame().expect("fixture is valid SSE") {
        if let Frame::Event(ev) = frame {
            out.push(String::from_utf8_lossy(&ev.data).into_owned());
        }
    }
    out.extend(
        dec.finish()
            .map(|ev| String::from_utf8_lossy(&ev.data).into_owned()),
    );
    out.retain(|d| d != "[DONE]");
    out
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

/// One request through the gateway for one fixture; the problems found, if any.
async fn run_case(
    gateway: &Proc,
    replay: &ReplayProvider,
    fixture: &Fixture,
    include_usage: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    replay.take();
    let request = chat_request(&fixture.name, include_usage);
    let reply = post(
        &gateway.url("/v1/chat/completions"),
        &request,
        &[("authorization", &format!("Bearer {CLIENT_SECRET}"))],
    )
    .await;
    if reply.status != 200 {
        problems.push(format!("HTTP {}: {}", reply.status, short(&reply.body)));
        return problems;
    }
    check_provider_request(&replay.take(), &fixture.name, &request, &mut problems);
    let received = receive(&reply, &mut problems);
    check_accumulated(&received, &fixture.expected, &mut problems);
    check_usage(&received, &fixture.expected, include_usage, &mut problems);
    check_ending(&reply, &received, &fixture.expected, &mut problems);
    check_pass_through(&received, &fixture_payloads(&fixture.sse), &mut problems);
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_recorded_stream_reaches_the_client_intact() {
    let fixtures = load_fixtures(common::fixtures_dir());
    assert!(
        fixtures.len() >= 20,
        "expected at least 20 fixtures, found {}",
        fixtures.len()
    );
    let replay = ReplayProvider::start(
        fixtures
            .iter()
            .map(|f| (f.name.clone(), f.sse.clone()))
            .collect(),
    )
    .await;
    let gateway = Proc::gateway(&gateway_config(replay.addr, &fixtures));

    let mut failures = Vec::new();
    let mut cases = 0;
    for fixture in &fixtures {
        for include_usage in [true, false] {
            cases += 1;
            for problem in run_case(&gateway, &replay, fixture, include_usage).await {
                failures.push(format!(
                    "{} (include_usage={include_usage}): {problem}",
                    fixture.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) in {cases} replays of {} fixtures:\n{}\n\ngateway log:\n{}",
        failures.len(),
        fixtures.len(),
        failures.join("\n"),
        log_tail(&gateway.logs(), 30)
    );
}

// ---------------------------------------------------------------------------------------------
// Usage no recording has
// ---------------------------------------------------------------------------------------------

/// A stream that answers "Hello there" and finishes with `usage` as written.
fn answer_with_usage(usage: &str) -> Vec<u8> {
    let head =
        r#""id":"chatcmpl-odd","object":"chat.completion.chunk","created":1771434740,"model":"m""#;
    format!(
        "data: {{{head},\"choices\":[{{\"index\":0,\"delta\":{{\"role\":\"assistant\",\"content\":\"Hello there\"}},\"finish_reason\":null}}]}}\n\n\
         data: {{{head},\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}],\"usage\":{usage}}}\n\n\
         data: [DONE]\n\n"
    )
    .into_bytes()
}

/// The Groq recording as it ends when nothing fails: its chunks, then Groq's finish chunk,
/// with the usage only in `x_groq` (beside Groq's float timings), then `[DONE]`.
fn groq_completed() -> Vec<u8> {
    let path = common::fixtures_dir().join("groq-gpt-oss-event-error-no-done.sse");
    let text = String::from_utf8(std::fs::read(path).unwrap()).unwrap();
    let cut = text
        .find("event: error")
        .expect("the recording's error event");
    let finish = r#"{"id":"chatcmpl-4f39f3af-3267-4ac1-a0cf-6aa7451877dc","object":"chat.completion.chunk","created":1771434740,"model":"openai/gpt-oss-120b","system_fingerprint":"fp_e8236260a9","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"x_groq":{"id":"req_01khrvt2r6e9rb7e8qsg86ywkw","usage":{"queue_time":0.061348671,"prompt_tokens":180,"prompt_time":0.000211569,"completion_tokens":93,"completion_time":0.798181818,"total_tokens":273,"total_time":0.798393387}}}"#;
    format!("{}data: {finish}\n\ndata: [DONE]\n\n", &text[..cut]).into_bytes()
}

/// The client's payloads with a non-null top-level `usage`.
fn usages(reply: &Reply) -> Vec<Value> {
    reply
        .payloads()
        .into_iter()
        .filter(|p| p.get("usage").is_some_and(|u| !u.is_null()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_usage_is_estimated_and_extension_usage_reaches_the_client() {
    let streams = [
        // A fractional count: nothing in this usage can be trusted.
        (
            "odd-usage",
            answer_with_usage(r#"{"prompt_tokens":12.5,"completion_tokens":"3"}"#),
        ),
        // Counts as a whole float and a digit string, a wrong total: 12 and 3.
        (
            "lenient-usage",
            answer_with_usage(
                r#"{"prompt_tokens":12.0,"completion_tokens":"3","total_tokens":99}"#,
            ),
        ),
        ("groq-usage", groq_completed()),
    ];
    let fixtures: Vec<Fixture> = streams
        .iter()
        .map(|(name, sse)| Fixture {
            name: (*name).to_owned(),
            sse: sse.clone(),
            expected: Value::Null,
        })
        .collect();
    let replay = ReplayProvider::start(
        fixtures
            .iter()
            .map(|f| (f.name.clone(), f.sse.clone()))
            .collect(),
    )
    .await;
    let prices: String = streams
        .iter()
        .map(|(name, _)| format!("{name:?} = {{ input = 1, output = 2 }}\n"))
        .collect();
    let config = format!(
        "{}\n[providers.replay.prices]\n{prices}",
        gateway_config(replay.addr, &fixtures)
    );
    let gateway = Proc::gateway(&config);
    let chat = |model: &str, include_usage: bool| {
        let url = gateway.url("/v1/chat/completions");
        let body = chat_request(model, include_usage);
        async move { post(&url, &body, &[]).await }
    };

    // Usage that cannot be trusted does not break the stream: the chunk is relayed as the
    // provider wrote it, without a cost, and nothing is added.
    let odd = chat("odd-usage", true).await;
    assert_eq!(odd.status, 200, "{}", odd.body);
    let data: Vec<String> = odd
        .events()
        .iter()
        .map(|e| String::from_utf8_lossy(&e.data).into_owned())
        .collect();
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
    assert_eq!(data.len(), 3, "{data:?}");
    assert!(data[1].ends_with(r#""usage":{"prompt_tokens":12.5,"completion_tokens":"3"}}"#));
    let odd = chat("odd-usage", false).await;
    assert_eq!(odd.status, 200, "{}", odd.body);
    assert!(!odd.body.contains("usage"), "{}", odd.body);

    // Lenient counts are priced.
    let lenient = chat("lenient-usage", true).await;
    let got = usages(&lenient);
    assert_eq!(got.len(), 1, "{}", lenient.body);
    assert!(got[0]["usage"]["cost"].is_number(), "{}", lenient.body);

    // Usage only in `x_groq`: the x_groq chunk is relayed unchanged and the client that asked
    // gets exactly one top-level usage, with the gateway's cost.
    for include_usage in [true, false] {
        let groq = chat("groq-usage", include_usage).await;
        assert_eq!(groq.status, 200, "{}", groq.body);
        assert!(groq
            .body
            .contains(r#""x_groq":{"id":"req_01khrvt2r6e9rb7e8qsg86ywkw","usage":{"queue_time""#));
        let got = usages(&groq);
        if !include_usage {
            assert!(got.is_empty(), "{}", groq.body);
            continue;
        }
        assert_eq!(got.len(), 1, "{}", groq.body);
        let u = &got[0];
        assert_eq!(u["choices"], json!([]));
        assert_eq!(u["id"], "chatcmpl-4f39f3af-3267-4ac1-a0cf-6aa7451877dc");
        assert_eq!(u["model"], "openai/gpt-oss-120b");
        assert_eq!(u["usage"]["prompt_tokens"], 180);
        assert_eq!(u["usage"]["completion_tokens"], 93);
        assert_eq!(u["usage"]["total_tokens"], 273);
        // 180 × 1 + 93 × 2 per million tokens.
        assert!(
            groq.body.contains(r#""total_tokens":273,"cost":0.000366,"#),
            "{}",
            groq.body
        );
    }

    // The ledger: the odd usage was counted by the tokenizer and marked estimated, at a
    // price, never an exact $0; the others are exact.
    let url = gateway.url("/v1/usage?by=model");
    eventually("the rows in the ledger", || async {
        get(&url).await.json()["total"]["requests"] == 5
    })
    .await;
    let report = get(&url).await.json();
    let row = |model: &str| {
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["group"] == model)
            .unwrap_or_else(|| panic!("no {model} in {report:#}"))
            .clone()
    };
    let odd = row("odd-usage");
    assert_eq!(odd["estimated_requests"], 2, "{odd}");
    assert!(odd["completion_tokens"].as_u64().unwrap() > 0, "{odd}");
    assert!(odd["cost_usd"].as_f64().unwrap() > 0.0, "{odd}");
    let lenient = row("lenient-usage");
    assert_eq!(lenient["estimated_requests"], 0, "{lenient}");
    assert_eq!(
        (
            lenient["prompt_tokens"].as_u64(),
            lenient["completion_tokens"].as_u64()
        ),
        (Some(12), Some(3))
    );
    let groq = row("groq-usage");
    assert_eq!(groq["estimated_requests"], 0, "{groq}");
    assert_eq!(
        (
            groq["prompt_tokens"].as_u64(),
            groq["completion_tokens"].as_u64()
        ),
        (Some(360), Some(186))
    );
}

// ---------------------------------------------------------------------------------------------
// Prompt-cache tokens
// ---------------------------------------------------------------------------------------------

/// Cache reads and writes are billed at their own rates, as the client's `usage.cost` and the
/// ledger say, for a stream and a whole answer, from a recording and from Anthropic-style
/// cache writes; a price without cache rates bills them as plain input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_tokens_are_billed_at_their_own_rates() {
    let recording = std::fs::read(
        common::fixtures_dir().join("deepseek-reasoner-reasoning-then-tool-call.sse"),
    )
    .unwrap();
    // 10,000 prompt tokens: 6,000 cache reads, 3,000 cache writes (1,000 of them for an hour).
    let cached = r#"{"prompt_tokens":10000,"completion_tokens":500,"total_tokens":10500,"prompt_tokens_details":{"cached_tokens":6000,"cache_creation_tokens":3000,"cache_creation_1h_tokens":1000}}"#;
    let whole = format!(
        r#"{{"id":"chatcmpl-w","object":"chat.completion","created":1771434740,"model":"m","choices":[{{"index":0,"message":{{"role":"assistant","content":"Hello there"}},"finish_reason":"stop"}}],"usage":{cached}}}"#
    );
    let sonnet = "{ input = 3.00, output = 15.00, cache_read = 0.30, cache_write = 3.75, cache_write_1h = 6.00 }";
    let cases = [
        // 19 × 0.27 + 320 × 0.028 + 83 × 0.42 = 48.95 per million tokens.
        (
            "deepseek-cached",
            recording.clone(),
            "{ input = 0.27, output = 0.42, cache_read = 0.028 }",
            true,
            "0.00004895",
        ),
        // No cache rate: 339 × 0.27 + 83 × 0.42 = 126.39.
        (
            "deepseek-plain",
            recording,
            "{ input = 0.27, output = 0.42 }",
            true,
            "0.00012639",
        ),
        // 1,000 × 3.00 + 6,000 × 0.30 + 2,000 × 3.75 + 1,000 × 6.00 + 500 × 15.00 = 25,800.
        (
            "sonnet-stream",
            answer_with_usage(cached),
            sonnet,
            true,
            "0.0258",
        ),
        ("sonnet-whole", whole.into_bytes(), sonnet, false, "0.0258"),
    ];
    let fixtures: Vec<Fixture> = cases
        .iter()
        .map(|(name, sse, ..)| Fixture {
            name: (*name).to_owned(),
            sse: sse.clone(),
            expected: Value::Null,
        })
        .collect();
    let replay = ReplayProvider::start(
        fixtures
            .iter()
            .map(|f| (f.name.clone(), f.sse.clone()))
            .collect(),
    )
    .await;
    let prices: String = cases
        .iter()
        .map(|(name, _, price, ..)| format!("{name:?} = {price}\n"))
        .collect();
    let config = format!(
        "{}\n[providers.replay.prices]\n{prices}",
        gateway_config(replay.addr, &fixtures)
    );
    let gateway = Proc::gateway(&config);

    for (name, _, _, stream, cost) in &cases {
        let mut body = chat_request(name, true);
        body["stream"] = json!(stream);
        let reply = post(&gateway.url("/v1/chat/completions"), &body, &[]).await;
        assert_eq!(reply.status, 200, "{name}: {}", reply.body);
        let usage = if *stream {
            let payloads: Vec<String> = reply
                .events()
                .iter()
                .map(|e| String::from_utf8_lossy(&e.data).into_owned())
                .filter(|d| d.contains("\"usage\":{"))
                .collect();
            assert_eq!(payloads.len(), 1, "{name}: {}", reply.body);
            payloads[0].clone()
        } else {
            reply.body.clone()
        };
        assert_eq!(
            raw_json_at(&usage, &["usage", "cost"]).as_deref(),
            Some(*cost),
            "{name}: {usage}"
        );
        // The provider's cache counts reach the client as it wrote them.
        let details = raw_json_at(&usage, &["usage", "prompt_tokens_details"]).unwrap();
        assert!(details.contains("\"cached_tokens\":"), "{name}: {details}");
    }

    // The ledger holds the same amounts.
    let url = gateway.url("/v1/usage?by=model");
    eventually("the rows in the ledger", || async {
        get(&url).await.json()["total"]["requests"] == 4
    })
    .await;
    let report = get(&url).await.body;
    for (name, _, _, _, cost) in &cases {
        let row = report_row(&report, name).unwrap_or_else(|| panic!("no {name} in {report}"));
        assert_eq!(
            raw_json_at(&row, &["cost_usd"]).as_deref(),
            Some(*cost),
            "{name}: {report}"
        );
        assert_eq!(
            raw_json_at(&row, &["estimated_requests"]).as_deref(),
            Some("0")
        );
    }
}
