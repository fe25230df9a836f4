use serde_json::{json, Value};
use sluice_openai::ErrorBody;

use super::*;
use crate::ResponseError;

fn doc(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn error_documents_take_their_type_from_the_status_unless_anthropic_named_one() {
    let plain = ErrorBody::from_message("boom".into());
    let cases = [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "billing_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (422, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
        (504, "timeout_error"),
        (529, "overloaded_error"),
    ];
    for (status, kind) in cases {
        assert_eq!(
            doc(&error_json(status, &plain)),
            json!({"type": "error", "error": {"type": kind, "message": "boom"}}),
            "{status}"
        );
    }
    // An Anthropic provider's own type is kept; OpenAI's own types are not Anthropic's.
    let own = ErrorBody::new("Overloaded".into(), "overloaded_error", Value::Null);
    assert_eq!(
        doc(&error_json(500, &own))["error"]["type"],
        "overloaded_error"
    );
    let openai = ErrorBody::new("slow down".into(), "rate_limit_exceeded", Value::Null);
    assert_eq!(
        doc(&error_json(429, &openai))["error"]["type"],
        "rate_limit_error"
    );
    assert_eq!(doc(&error_json(500, &openai))["error"]["type"], "api_error");
}

#[test]
fn stream_errors_are_typed_from_what_they_carry() {
    let with = |kind: &str, code: Value| ErrorBody::new("m".into(), kind, code);
    let mut status = ErrorBody::from_message("m".into());
    status.extra.insert("status_code".into(), 503.into());
    let cases = [
        (with("overloaded_error", Value::Null), "overloaded_error"),
        (
            with("invalid_request_error", "tool_use_failed".into()),
            "invalid_request_error",
        ),
        (status, "overloaded_error"),
        (with("server_error", 500.into()), "api_error"),
        (with("timeout", "idle_timeout".into()), "timeout_error"),
        (
            with("server_error", "gateway_overloaded".into()),
            "overloaded_error",
        ),
        (with("rate_limit_exceeded", Value::Null), "rate_limit_error"),
        (with("slow_client", "slow_client".into()), "api_error"),
        (ErrorBody::from_message("m".into()), "api_error"),
    ];
    for (body, kind) in cases {
        assert_eq!(stream_error_type(&body), kind, "{body:?}");
    }
}

#[test]
fn a_whole_completion_becomes_a_message() {
    let completion = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-x",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "Checking.",
            "reasoning_content": "Need the weather.", "reasoning_signature": "sig",
            "reasoning_redacted": ["r1"],
            "tool_calls": [
                {"id": "toolu_1", "type": "function",
                 "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}},
                {"id": "toolu_2", "type": "function",
                 "function": {"name": "broken", "arguments": "{\"city\":"}}]}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
            "prompt_tokens_details": {"cached_tokens": 60, "cache_creation_tokens": 30}}
    });
    let got = doc(&response(completion.to_string().as_bytes(), "claude-asked").unwrap());
    assert_eq!(
        got,
        json!({
            "id": "msg_chatcmpl-1", "type": "message", "role": "assistant",
            "model": "claude-asked",
            "content": [
                {"type": "thinking", "thinking": "Need the weather.", "signature": "sig"},
                {"type": "redacted_thinking", "data": "r1"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
                {"type": "tool_use", "id": "toolu_2", "name": "broken", "input": {}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 20,
                "cache_read_input_tokens": 60, "cache_creation_input_tokens": 30}
        })
    );
}

#[test]
fn completion_stop_reasons_and_odd_bodies() {
    for (finish, stop) in [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("content_filter", "refusal"),
        ("function_call", "tool_use"),
        ("weird", "end_turn"),
    ] {
        let c = json!({"id": "msg_9", "choices": [{"index": 0, "finish_reason": finish,
            "message": {"role": "assistant", "content": [{"type": "text", "text": "a"}],
            "refusal": "b"}}]});
        let got = doc(&response(c.to_string().as_bytes(), "m").unwrap());
        assert_eq!(got["stop_reason"], stop);
        assert_eq!(got["id"], "msg_9");
        assert_eq!(got["content"], json!([{"type": "text", "text": "ab"}]));
        assert_eq!(got["usage"]["output_tokens"], 0);
    }
    let err = json!({"error": {"message": "nope", "type": "server_error"}});
    match response(err.to_string().as_bytes(), "m") {
        Err(ResponseError::Provider(body)) => assert_eq!(body.message, "nope"),
        other => panic!("{other:?}"),
    }
    for bad in [&b"{"[..], b"[]", b"{\"choices\":[]}", b"{\"id\":\"x\"}"] {
        assert!(matches!(
            response(bad, "m"),
            Err(ResponseError::Protocol(_))
        ));
    }
}

#[test]
fn usage_is_split_as_anthropic_counts_it() {
    let u = Usage {
        cached_tokens: 5,
        cache_write_tokens: 3,
        cache_write_1h_tokens: 1,
        ..Usage::counted(20, 7)
    };
    assert_eq!(
        usage_json(Some(&u)),
        json!({"input_tokens": 12, "output_tokens": 7, "cache_read_input_tokens": 5,
            "cache_creation_input_tokens": 3})
    );
    assert_eq!(usage_json(None)["input_tokens"], 0);
}
