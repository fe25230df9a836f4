//! `ResponsesEncoder`: every recorded OpenAI-format stream (`fixtures/sse/`) and made-up ones
//! (reasoning, text, refusal and calls mixed; cut, failed and overlong streams) written as
//! Responses events, each checked for the event-order invariants and its answer.

mod responses_common;

use std::path::Path;

use bytes::BytesMut;
use proptest::prelude::*;
use responses_common::{answer, check, delta, encoder, events, replay, sse, usage_chunk, End};
use serde_json::{json, Value};
use sluice_native::inbound::responses::MAX_OUTPUT_BYTES;
use sluice_openai::{chunk, ClientEncoder, ErrorBody, Merge};

fn fixtures() -> Vec<(String, Vec<u8>, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sse");
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
            let expected = std::fs::read(dir.join(format!("{name}.expected.json"))).unwrap();
            (name, sse, serde_json::from_slice(&expected).unwrap())
        })
        .collect()
}

#[test]
fn every_fixture_replays_as_the_expected_answer() {
    let all = fixtures();
    assert!(all.len() >= 20, "{} fixtures", all.len());
    for (name, sse, expected) in all {
        let (bytes, end) = replay(&sse);
        let evs = events(&bytes);
        let response = check(&evs);
        let got = answer(&response["output"]);
        assert_eq!(got.text, expected["content"]["0"], "{name}: text");
        assert_eq!(
            got.reasoning, expected["reasoning"]["0"],
            "{name}: reasoning"
        );
        assert_eq!(got.refusal, expected["refusal"]["0"], "{name}: refusal");
        let calls: Vec<[String; 3]> = expected["tool_calls"]["0"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let s = |k: &str| c[k].as_str().unwrap().to_owned();
                [s("id"), s("name"), s("arguments")]
            })
            .collect();
        assert_eq!(got.calls, calls, "{name}: calls");
        match end {
            End::Completed => {
                let finish = expected["finish_reason"]["0"].as_str();
                let status = match finish {
                    Some("length" | "content_filter") => "incomplete",
                    _ => "completed",
                };
                assert_eq!(response["status"], status, "{name}");
                let usage = &expected["usage"];
                if usage.is_null() {
                    assert!(response["usage"].is_null(), "{name}");
                } else {
                    let u = &response["usage"];
                    assert_eq!(u["input_tokens"], usage["prompt_tokens"], "{name}");
                    assert_eq!(u["output_tokens"], usage["completion_tokens"], "{name}");
                    assert_eq!(u["total_tokens"], usage["total_tokens"], "{name}");
                    let reasoning = &usage["completion_tokens_details"]["reasoning_tokens"];
                    let want = if reasoning.is_u64() {
                        reasoning.clone()
                    } else {
                        json!(0)
                    };
                    assert_eq!(
                        u["output_tokens_details"]["reasoning_tokens"], want,
                        "{name}"
                    );
                    assert_eq!(u["cost"], json!(0.00017151), "{name}");
                    assert_eq!(u["cost_local"]["currency"], "JPY", "{name}");
                }
            }
            End::Failed => {
                assert!(!expected["error"].is_null(), "{name} failed");
                assert_eq!(response["status"], "failed", "{name}");
                let message = expected["error"]["message"].as_str().unwrap();
                assert_eq!(response["error"]["message"], message, "{name}");
            }
        }
    }
}

#[test]
fn a_groq_error_event_fails_with_its_code() {
    let (_, sse, _) = fixtures()
        .into_iter()
        .find(|(n, _, _)| n.starts_with("groq"))
        .unwrap();
    let (bytes, _) = replay(&sse);
    let response = check(&events(&bytes));
    assert_eq!(response["error"]["code"], "tool_use_failed");
    // The reasoning so far was closed before the end, as an incomplete item would be.
    assert_eq!(response["output"][0]["type"], "reasoning");
}

fn run(chunks: &[String]) -> Vec<(String, Value)> {
    let (bytes, _) = replay(&sse(chunks, true));
    let evs = events(&bytes);
    check(&evs);
    evs
}

fn names(evs: &[(String, Value)]) -> Vec<&str> {
    evs.iter()
        .map(|(n, _)| n.strip_prefix("response.").unwrap())
        .collect()
}

#[test]
fn reasoning_text_refusal_and_calls_are_items_in_order() {
    let evs = run(&[
        delta(json!({"role": "assistant", "content": ""}), None),
        delta(json!({"reasoning_content": "think"}), None),
        delta(json!({"reasoning_content": "ing"}), None),
        delta(json!({"content": "Hi"}), None),
        delta(json!({"refusal": "no"}), None),
        delta(
            json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                     "function": {"name": "f", "arguments": ""}}]}),
            None,
        ),
        delta(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"x\":"}}]}),
            None,
        ),
        delta(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
            None,
        ),
        delta(
            json!({"tool_calls": [{"index": 1, "id": "call_b",
                                     "function": {"name": "g", "arguments": "{}"}}]}),
            None,
        ),
        delta(json!({}), Some("tool_calls")),
        usage_chunk(10, 20, 5),
    ]);
    assert_eq!(
        names(&evs),
        [
            "created",
            "in_progress",
            "output_item.added",
            "reasoning_summary_part.added",
            "reasoning_summary_text.delta",
            "reasoning_summary_text.delta",
            "reasoning_summary_text.done",
            "reasoning_summary_part.done",
            "output_item.done",
            "output_item.added",
            "content_part.added",
            "output_text.delta",
            "output_text.done",
            "content_part.done",
            "content_part.added",
            "refusal.delta",
            "refusal.done",
            "content_part.done",
            "output_item.done",
            "output_item.added",
            "function_call_arguments.delta",
            "function_call_arguments.delta",
            "function_call_arguments.done",
            "output_item.done",
            "output_item.added",
            "function_call_arguments.delta",
            "function_call_arguments.done",
            "output_item.done",
            "completed",
        ]
    );
    let response = &evs.last().unwrap().1["response"];
    assert_eq!(response["status"], "completed");
    assert!(response["incomplete_details"].is_null());
    let output = &response["output"];
    assert_eq!(output[0]["summary"][0]["text"], "thinking");
    assert_eq!(output[1]["content"][0]["text"], "Hi");
    assert_eq!(
        output[1]["content"][1],
        json!({"type": "refusal", "refusal": "no"})
    );
    assert_eq!(output[2]["call_id"], "call_a");
    assert_eq!(output[2]["arguments"], "{\"x\":1}");
    assert_eq!(output[3]["name"], "g");
    let added = &evs[19].1["item"];
    assert_eq!(added["call_id"], "call_a");
    assert_eq!(added["name"], "f");
    assert_eq!(added["arguments"], "");
    assert_eq!(
        response["usage"],
        json!({"input_tokens": 10, "input_tokens_details": {"cached_tokens": 2},
               "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 5},
               "total_tokens": 30, "cost": 0.00017151,
               "cost_local": {"currency": "JPY", "amount": 0.0257265}})
    );
    for (name, data) in &evs {
        if name == "response.output_text.delta" {
            assert_eq!(data["content_index"], 0);
            assert_eq!(data["item_id"], "msg_gw1_1");
        }
    }
}

#[test]
fn a_length_or_filter_finish_is_incomplete() {
    for (finish, reason) in [
        ("length", "max_output_tokens"),
        ("content_filter", "content_filter"),
    ] {
        let evs = run(&[delta(json!({"content": "a"}), Some(finish))]);
        let response = &evs.last().unwrap().1["response"];
        assert_eq!(evs.last().unwrap().0, "response.completed");
        assert_eq!(response["status"], "incomplete");
        assert_eq!(response["incomplete_details"]["reason"], reason);
        assert_eq!(response["output"][0]["status"], "incomplete");
        assert!(response["usage"].is_null());
    }
}

#[test]
fn a_cut_stream_fails_with_the_output_so_far() {
    let (bytes, end) = replay(&sse(&[], false));
    // An empty stream still opens and fails properly.
    assert!(matches!(end, End::Failed));
    let response = check(&events(&bytes));
    assert_eq!(response["output"], json!([]));

    let chunks = [
        delta(json!({"content": "par"}), None),
        delta(json!({"content": "tial"}), None),
    ];
    let (bytes, end) = replay(&sse(&chunks, false));
    assert!(matches!(end, End::Failed));
    let response = check(&events(&bytes));
    assert_eq!(response["status"], "failed");
    assert_eq!(
        response["error"],
        json!({"code": "server_error", "message": "the stream was cut"})
    );
    assert_eq!(response["output"][0]["status"], "incomplete");
    assert_eq!(response["output"][0]["content"][0]["text"], "partial");
}

#[test]
fn nothing_follows_the_end() {
    let mut enc = encoder();
    let mut out = BytesMut::new();
    let chunk = delta(json!({"content": "a"}), None);
    let summary = chunk::inspect(chunk.as_bytes()).unwrap();
    assert_eq!(
        enc.chunk(chunk.as_bytes(), &summary, &mut out).unwrap(),
        Merge::No
    );
    enc.end(None, &mut out);
    let len = out.len();
    enc.error(&ErrorBody::from_message("late".into()), &mut out);
    enc.end(None, &mut out);
    assert_eq!(
        enc.chunk(chunk.as_bytes(), &summary, &mut out).unwrap(),
        Merge::No
    );
    assert_eq!(out.len(), len);
    check(&events(&out));
}

#[test]
fn other_choices_and_late_fragments_of_a_closed_call_are_not_carried() {
    let other = json!({"id": "c", "choices": [{"index": 1, "delta": {"content": "other"}}]});
    let evs = run(&[
        other.to_string(),
        delta(
            json!({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "1"}}]}),
            None,
        ),
        delta(
            json!({"tool_calls": [{"index": 1, "function": {"name": "g", "arguments": "2"}}]}),
            None,
        ),
        delta(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "3"}}]}),
            None,
        ),
        delta(json!({}), Some("tool_calls")),
    ]);
    let output = &evs.last().unwrap().1["response"]["output"];
    assert_eq!(output.as_array().unwrap().len(), 2);
    assert_eq!(output[0]["arguments"], "1");
    // A call whose first fragment had no id gets one of the gateway's.
    assert_eq!(output[1]["call_id"], "call_gw1_1");
}

#[test]
fn an_answer_past_the_bound_fails_the_stream() {
    let mut enc = encoder();
    let mut out = BytesMut::new();
    let piece = "x".repeat(1 << 20);
    let chunk = delta(json!({"content": piece}), None);
    let summary = chunk::inspect(chunk.as_bytes()).unwrap();
    let mut failed = false;
    for _ in 0..=MAX_OUTPUT_BYTES >> 20 {
        if enc.chunk(chunk.as_bytes(), &summary, &mut out).is_err() {
            failed = true;
            break;
        }
    }
    assert!(failed, "the bound held");
    enc.error(&ErrorBody::from_message("too long".into()), &mut out);
    let response = check(&events(&out));
    assert_eq!(response["status"], "failed");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Text split anywhere, in any mix of reasoning and content deltas, comes out whole and in
    /// order.
    #[test]
    fn text_comes_out_in_order(pieces in prop::collection::vec((any::<bool>(), ".{0,8}"), 0..24)) {
        let chunks: Vec<String> = pieces
            .iter()
            .map(|(reasoning, text)| {
                let key = if *reasoning { "reasoning_content" } else { "content" };
                delta(json!({ key: text }), None)
            })
            .chain([delta(json!({}), Some("stop"))])
            .collect();
        let evs = run(&chunks);
        let mut text = String::new();
        let mut reasoning = String::new();
        for (name, data) in &evs {
            match name.as_str() {
                "response.output_text.delta" => text.push_str(data["delta"].as_str().unwrap()),
                "response.reasoning_summary_text.delta" => {
                    reasoning.push_str(data["delta"].as_str().unwrap())
                }
                _ => {}
            }
        }
        let want = |r: bool| pieces.iter().filter(|p| p.0 == r).map(|p| p.1.as_str()).collect::<String>();
        prop_assert_eq!(&text, &want(false));
        prop_assert_eq!(&reasoning, &want(true));
        let got = answer(&evs.last().unwrap().1["response"]["output"]);
        prop_assert_eq!(got.text, want(false));
        prop_assert_eq!(got.reasoning, want(true));
    }
}

#[test]
fn items_past_the_bound_fail_the_stream() {
    let mut enc = encoder();
    let mut out = BytesMut::new();
    let chunks = [
        delta(json!({"reasoning_content": "a"}), None),
        delta(json!({"content": "b"}), None),
    ];
    let mut failed_at = None;
    for n in 0..=sluice_native::MAX_BLOCKS {
        let chunk = &chunks[n % 2];
        let summary = chunk::inspect(chunk.as_bytes()).unwrap();
        if enc.chunk(chunk.as_bytes(), &summary, &mut out).is_err() {
            failed_at = Some(n);
            break;
        }
    }
    assert_eq!(failed_at, Some(sluice_native::MAX_BLOCKS));
    enc.error(&ErrorBody::from_message("too many".into()), &mut out);
    let response = check(&events(&out));
    let items = response["output"].as_array().unwrap().len();
    assert_eq!(items, sluice_native::MAX_BLOCKS);
}

/// The checker itself finds a stream out of order: an item's done event missing, a sequence
/// number skipped, two ends.
#[test]
fn the_checker_rejects_broken_streams() {
    let evs = run(&[delta(json!({"content": "hi"}), Some("stop"))]);
    let renumber = |mut evs: Vec<(String, Value)>| {
        for (i, (_, data)) in evs.iter_mut().enumerate() {
            data["sequence_number"] = json!(i);
        }
        evs
    };
    let mut no_done = evs.clone();
    no_done.retain(|(n, _)| n != "response.output_item.done");
    let mut skipped = evs.clone();
    skipped[3].1["sequence_number"] = json!(99);
    let mut two_ends = evs.clone();
    two_ends.insert(2, evs.last().unwrap().clone());
    let mut late_delta = evs.clone();
    let delta_at = late_delta
        .iter()
        .position(|(n, _)| n == "response.output_text.delta")
        .unwrap();
    let moved = late_delta.remove(delta_at);
    late_delta.insert(late_delta.len() - 1, moved);
    for broken in [
        renumber(no_done),
        skipped,
        renumber(two_ends),
        renumber(late_delta),
    ] {
        let result = std::panic::catch_unwind(|| check(&broken));
        assert!(result.is_err(), "{broken:?}");
    }
}
