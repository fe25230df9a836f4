//! Every recorded provider stream in `fixtures/sse/` replayed through the real gateway over real
//! sockets, in pseudo-random TCP pieces, to a client of each inbound API: `/v1/responses` and
//! `/v1/messages`. Each stream must keep its API's documented event order (checked on every
//! stream, the failed ones included) and carry the fixture's text, reasoning and tool calls
//! (choice 0), ending in the API's failure event exactly when the provider's stream failed.

mod common;
#[path = "common/replay.rs"]
mod replay;

use std::collections::HashMap;

use serde_json::{json, Value};

use common::{post, Proc, Reply};
use replay::{load_fixtures, Fixture, ReplayProvider};

fn config(replay: &ReplayProvider, fixtures: &[Fixture]) -> String {
    let routes: String = fixtures
        .iter()
        .map(|f| format!("{:?} = [\"replay\"]\n", f.name))
        .collect();
    format!(
        "[providers.replay]\nkind = \"openai\"\nbase_url = \"http://{}/v1\"\n\
         [stream]\nslow_client = \"block\"\n[routes]\n{routes}",
        replay.addr
    )
}

/// What choice 0 of a fixture should give: text (content, then refusal), reasoning, and each
/// tool call's (name, arguments).
struct Want {
    content: String,
    refusal: String,
    reasoning: String,
    calls: Vec<(String, String)>,
    failed: bool,
}

fn want(f: &Fixture) -> Want {
    let e = &f.expected;
    let text = |key: &str| e[key]["0"].as_str().unwrap_or("").to_owned();
    Want {
        content: text("content"),
        refusal: text("refusal"),
        reasoning: text("reasoning"),
        calls: e["tool_calls"]["0"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                (
                    c["name"].as_str().unwrap_or("").to_owned(),
                    c["arguments"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect(),
        failed: !e["error"].is_null(),
    }
}

/// The Responses stream's invariants, and what it carried.
fn check_responses(reply: &Reply, w: &Want) -> Vec<String> {
    let mut problems = Vec::new();
    let events: Vec<(String, Value)> = reply
        .events()
        .iter()
        .map(|e| {
            let name = String::from_utf8_lossy(e.event.as_deref().unwrap_or(b"")).into_owned();
            (name, serde_json::from_slice(&e.data).unwrap_or(Value::Null))
        })
        .collect();
    for (i, (name, data)) in events.iter().enumerate() {
        if data["type"] != name.as_str() {
            problems.push(format!(
                "event {i}: `event: {name}` but type {}",
                data["type"]
            ));
        }
        if data["sequence_number"] != i {
            problems.push(format!(
                "event {i}: sequence_number {}",
                data["sequence_number"]
            ));
        }
    }
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    if names.get(..2) != Some(&["response.created", "response.in_progress"][..]) {
        problems.push(format!("first events {:?}", names.get(..2)));
    }
    let last = if w.failed {
        "response.failed"
    } else {
        "response.completed"
    };
    if names.last() != Some(&last) {
        problems.push(format!("last event {:?}, expected {last}", names.last()));
    }
    if names
        .iter()
        .filter(|n| n.starts_with("response.completed") || **n == "response.failed")
        .count()
        != 1
    {
        problems.push("not exactly one final event".into());
    }
    // Each item's events between its added and done; one item open at a time.
    let mut open: Option<String> = None;
    let mut next_index = 0u64;
    let (mut text, mut reasoning) = (String::new(), String::new());
    let mut calls: HashMap<String, (String, String)> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for (name, data) in &events {
        match name.as_str() {
            "response.output_item.added" => {
                if open.is_some() {
                    problems.push("an item added while another is open".into());
                }
                if data["output_index"] != next_index {
                    problems.push(format!(
                        "output_index {} (expected {next_index})",
                        data["output_index"]
                    ));
                }
                next_index += 1;
                let id = data["item"]["id"].as_str().unwrap_or("").to_owned();
                if data["item"]["type"] == "function_call" {
                    let name = data["item"]["name"].as_str().unwrap_or("").to_owned();
                    calls.insert(id.clone(), (name, String::new()));
                    order.push(id.clone());
                }
                open = Some(id);
            }
            "response.output_item.done" => {
                if open.as_deref() != data["item"]["id"].as_str() {
                    problems.push("an item done that is not the open one".into());
                }
                open = None;
            }
            n if n.starts_with("response.") && data.get("item_id").is_some() => {
                if open.as_deref() != data["item_id"].as_str() {
                    problems.push(format!("{n} outside its item"));
                }
                let delta = data["delta"].as_str().unwrap_or("");
                match n {
                    "response.output_text.delta" => text.push_str(delta),
                    "response.reasoning_summary_text.delta" => reasoning.push_str(delta),
                    "response.function_call_arguments.delta" => {
                        if let Some(call) = calls.get_mut(data["item_id"].as_str().unwrap_or("")) {
                            call.1.push_str(delta);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if open.is_some() {
        problems.push("an item never done".into());
    }
    if text != w.content {
        problems.push(format!("text {text:?}, expected {:?}", w.content));
    }
    if reasoning != w.reasoning {
        problems.push(format!(
            "reasoning {reasoning:?}, expected {:?}",
            w.reasoning
        ));
    }
    let got: Vec<(String, String)> = order.iter().map(|id| calls[id].clone()).collect();
    if got != w.calls {
        problems.push(format!("calls {got:?}, expected {:?}", w.calls));
    }
    problems
}

/// The Messages stream's invariants, and what it carried.
fn check_messages(reply: &Reply, w: &Want) -> Vec<String> {
    let mut problems = Vec::new();
    let events: Vec<(String, Value)> = reply
        .events()
        .iter()
        .map(|e| {
            let name = String::from_utf8_lossy(e.event.as_deref().unwrap_or(b"")).into_owned();
            (name, serde_json::from_slice(&e.data).unwrap_or(Value::Null))
        })
        .collect();
    for (name, data) in &events {
        if data["type"] != name.as_str() {
            problems.push(format!("`event: {name}` but type {}", data["type"]));
        }
    }
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    if names.first() != Some(&"message_start") {
        problems.push(format!("first event {:?}", names.first()));
    }
    let last = if w.failed { "error" } else { "message_stop" };
    if names.last() != Some(&last) {
        problems.push(format!("last event {:?}, expected {last}", names.last()));
    }
    if w.failed == names.contains(&"message_stop") {
        problems.push("message_stop in a failed stream, or missing in a good one".into());
    }
    let mut open: Option<u64> = None;
    let mut next = 0u64;
    let (mut text, mut thinking) = (String::new(), String::new());
    let mut calls: Vec<(String, String)> = Vec::new();
    for (name, data) in &events {
        match name.as_str() {
            "content_block_start" => {
                if open.is_some() || data["index"] != next {
                    problems.push(format!("block {} started out of order", data["index"]));
                }
                open = data["index"].as_u64();
                next += 1;
                if data["content_block"]["type"] == "tool_use" {
                    let name = data["content_block"]["name"].as_str().unwrap_or("");
                    calls.push((name.to_owned(), String::new()));
                }
            }
            "content_block_delta" => {
                if open != data["index"].as_u64() {
                    problems.push(format!(
                        "a delta for block {} which is not open",
                        data["index"]
                    ));
                }
                let d = &data["delta"];
                match d["type"].as_str() {
                    Some("text_delta") => text.push_str(d["text"].as_str().unwrap_or("")),
                    Some("thinking_delta") => {
                        thinking.push_str(d["thinking"].as_str().unwrap_or(""))
                    }
                    Some("input_json_delta") => {
                        if let Some(call) = calls.last_mut() {
                            call.1.push_str(d["partial_json"].as_str().unwrap_or(""));
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                if open != data["index"].as_u64() {
                    problems.push("a block stopped that is not open".into());
                }
                open = None;
            }
            _ => {}
        }
    }
    let want_text = format!("{}{}", w.content, w.refusal);
    if text != want_text {
        problems.push(format!("text {text:?}, expected {want_text:?}"));
    }
    if thinking != w.reasoning {
        problems.push(format!("thinking {thinking:?}, expected {:?}", w.reasoning));
    }
    if calls != w.calls {
        problems.push(format!("tool uses {calls:?}, expected {:?}", w.calls));
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_recorded_stream_reaches_responses_and_messages_clients_in_order() {
    let fixtures = load_fixtures(common::fixtures_dir());
    assert!(fixtures.len() >= 20, "{} fixtures", fixtures.len());
    let replay = ReplayProvider::start(
        fixtures
            .iter()
            .map(|f| (f.name.clone(), f.sse.clone()))
            .collect(),
    )
    .await;
    let gw = Proc::gateway(&config(&replay, &fixtures));
    let mut failures = Vec::new();
    for f in &fixtures {
        let w = want(f);
        let body = json!({"model": f.name, "input": "Replay the recording.", "stream": true});
        let reply = post(&gw.url("/v1/responses"), &body, &[]).await;
        let problems = if reply.status == 200 {
            check_responses(&reply, &w)
        } else {
            vec![format!("HTTP {}: {}", reply.status, reply.body)]
        };
        failures.extend(
            problems
                .into_iter()
                .map(|p| format!("{} /v1/responses: {p}", f.name)),
        );

        let body = json!({"model": f.name, "max_tokens": 1000, "stream": true,
            "messages": [{"role": "user", "content": "Replay the recording."}]});
        let reply = post(&gw.url("/v1/messages"), &body, &[]).await;
        let problems = if reply.status == 200 {
            check_messages(&reply, &w)
        } else {
            vec![format!("HTTP {}: {}", reply.status, reply.body)]
        };
        failures.extend(
            problems
                .into_iter()
                .map(|p| format!("{} /v1/messages: {p}", f.name)),
        );
    }
    assert!(
        failures.is_empty(),
        "{} problem(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
