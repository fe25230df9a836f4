//! Codex through a native provider: every Anthropic and Gemini recorded stream translated to
//! chat chunks and written as Responses events (checked as every Responses stream is), and a
//! second turn made of the first turn's output items translated back to the provider with its
//! signed thinking and its tool-call ids.

mod common;
mod responses_common;

use std::path::Path;

use bytes::BytesMut;
use common::{assemble, run, Kind};
use responses_common::{answer, check, delta, encoder, events, replay, sse, usage_chunk};
use serde_json::{json, Value};
use sluice_native::anthropic::{self, AnthropicOptions};
use sluice_native::inbound::responses::request;
use sluice_openai::{chunk, ClientEncoder, ErrorBody};

fn fixtures(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(dir);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".sse").map(str::to_owned))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let sse = std::fs::read(dir.join(format!("{name}.sse"))).unwrap();
            (name, sse)
        })
        .collect()
}

#[test]
fn native_streams_become_responses_streams() {
    let mut seen = 0;
    for (kind, dir) in [(Kind::Anthropic, "anthropic"), (Kind::Gemini, "gemini")] {
        for (name, sse) in fixtures(dir) {
            let translated = run(kind, &sse, || usize::MAX);
            let mut enc = encoder();
            let mut out = BytesMut::new();
            let mut usage = None;
            for c in &translated.chunks {
                let summary = chunk::inspect(c).unwrap();
                usage = summary.usage.or(usage);
                enc.chunk(c, &summary, &mut out).unwrap();
            }
            match &translated.error {
                Some(err) => enc.error(&ErrorBody::from_json(err), &mut out),
                None if translated.truncated => {
                    enc.error(&ErrorBody::from_message("cut".into()), &mut out)
                }
                None => enc.end(usage.as_ref(), &mut out),
            }
            let response = check(&events(&out));
            let want = assemble(&translated.chunks);
            let got = answer(&response["output"]);
            assert_eq!(got.text, want["content"], "{dir}/{name}");
            assert_eq!(got.reasoning, want["reasoning"], "{dir}/{name}");
            let calls: Vec<[String; 3]> = want["tool_calls"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    let s = |k: &str| c[k].as_str().unwrap().to_owned();
                    [s("id"), s("name"), s("arguments")]
                })
                .collect();
            assert_eq!(got.calls, calls, "{dir}/{name}");
            let signatures: Vec<&str> = response["output"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|i| i["encrypted_content"].as_str())
                .collect();
            match want["reasoning_signature"].as_str() {
                Some(sig) => {
                    assert_eq!(
                        signatures,
                        [format!("sluice-signature:{sig}")],
                        "{dir}/{name}"
                    )
                }
                None => assert!(signatures.is_empty(), "{dir}/{name}"),
            }
            seen += 1;
        }
    }
    assert!(seen >= 16, "{seen} native fixtures");
}

/// The client's next request: the first turn's output items given back as input, after the
/// user's message, with each call's output, as Codex sends it.
fn next_turn(output: &Value) -> Value {
    let mut input = vec![json!({"type": "message", "role": "user",
                                "content": [{"type": "input_text", "text": "go"}]})];
    for item in output.as_array().unwrap() {
        input.push(item.clone());
        if item["type"] == "function_call" {
            input.push(
                json!({"type": "function_call_output", "call_id": item["call_id"],
                              "output": "done"}),
            );
        }
    }
    json!({"model": "claude-x", "input": input, "store": false, "stream": true,
           "include": ["reasoning.encrypted_content"], "reasoning": {"effort": "low"},
           "tools": [{"type": "function", "name": "shell", "parameters": {"type": "object"}}]})
}

fn to_anthropic(responses_request: &Value) -> Value {
    let inbound = request(responses_request.to_string().as_bytes()).unwrap();
    assert!(
        !inbound
            .dropped
            .iter()
            .any(|d| d.starts_with("input.reasoning")),
        "{:?}",
        inbound.dropped
    );
    let opts = AnthropicOptions {
        default_max_tokens: 4096,
    };
    let body =
        anthropic::request(&inbound.body, "claude-x", &opts).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&body).unwrap()
}

#[test]
fn a_second_turn_gives_anthropic_its_signed_thinking_and_call_ids() {
    let (bytes, _) = replay(&sse(
        &[
            delta(json!({"role": "assistant", "content": ""}), None),
            delta(json!({"reasoning_content": "Need "}), None),
            delta(json!({"reasoning_content": "ls."}), None),
            delta(json!({"reasoning_signature": "EqQBsig"}), None),
            delta(
                json!({"tool_calls": [{"index": 0, "id": "toolu_01", "type": "function",
                "function": {"name": "shell", "arguments": "{\"cmd\":\"ls\"}"}}]}),
                None,
            ),
            delta(json!({}), Some("tool_calls")),
            usage_chunk(5, 6, 0),
        ],
        true,
    ));
    let output = check(&events(&bytes))["output"].clone();
    assert_eq!(output[0]["encrypted_content"], "sluice-signature:EqQBsig");
    let body = to_anthropic(&next_turn(&output));
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "go"}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Need ls.", "signature": "EqQBsig"},
                {"type": "tool_use", "id": "toolu_01", "name": "shell", "input": {"cmd": "ls"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01",
                 "content": [{"type": "text", "text": "done"}]}]}
        ])
    );
}

#[test]
fn a_recorded_anthropic_answer_comes_back_as_it_was_signed() {
    let (_, sse) = fixtures("anthropic")
        .into_iter()
        .find(|(n, _)| n == "thinking-signature")
        .unwrap();
    let translated = run(Kind::Anthropic, &sse, || usize::MAX);
    let want = assemble(&translated.chunks);
    let mut enc = encoder();
    let mut out = BytesMut::new();
    for c in &translated.chunks {
        let summary = chunk::inspect(c).unwrap();
        enc.chunk(c, &summary, &mut out).unwrap();
    }
    enc.end(None, &mut out);
    let output = check(&events(&out))["output"].clone();
    let body = to_anthropic(&next_turn(&output));
    let assistant = &body["messages"][1];
    assert_eq!(assistant["role"], "assistant");
    assert_eq!(
        assistant["content"][0],
        json!({"type": "thinking", "thinking": want["reasoning"],
               "signature": want["reasoning_signature"]})
    );
    assert_eq!(assistant["content"][1]["text"], want["content"]);
}

#[test]
fn redacted_reasoning_is_an_item_of_its_own_and_comes_back() {
    let (bytes, _) = replay(&sse(
        &[
            delta(json!({"reasoning_redacted": "EmwKAh"}), None),
            delta(json!({"reasoning_content": "a"}), None),
            delta(json!({"reasoning_signature": "s1"}), None),
            delta(json!({"reasoning_content": "b"}), None),
            delta(json!({"content": "answer"}), Some("stop")),
        ],
        true,
    ));
    let output = check(&events(&bytes))["output"].clone();
    let kinds: Vec<(&str, &str)> = output
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let e = i["encrypted_content"].as_str().unwrap_or("");
            (i["type"].as_str().unwrap(), e)
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("reasoning", "sluice-redacted:EmwKAh"),
            ("reasoning", "sluice-signature:s1"),
            ("reasoning", ""),
            ("message", "")
        ]
    );
    let inbound = request(next_turn(&output).to_string().as_bytes()).unwrap();
    let chat: Value = serde_json::from_slice(&inbound.body).unwrap();
    assert_eq!(
        chat["messages"][1],
        json!({"role": "assistant", "content": "answer", "reasoning_content": "a\n\nb",
               "reasoning_signature": "s1", "reasoning_redacted": ["EmwKAh"]})
    );
}
