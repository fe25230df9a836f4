//! `responses::request` (a Responses request → a chat request, and what it drops) and
//! `responses::response` (a whole chat completion → a Responses `response`), as tables.

mod responses_common;

use responses_common::{meta, FixedPrice};
use serde_json::{json, Value};
use sluice_native::inbound::responses::{request, response, InboundErrorKind};
use sluice_native::ResponseError;

fn translate(req: Value) -> (Value, Vec<String>) {
    let inbound = request(req.to_string().as_bytes()).unwrap_or_else(|e| panic!("{req}: {e}"));
    let body: Value = serde_json::from_slice(&inbound.body).unwrap();
    assert_eq!(body["model"], inbound.model.as_str());
    assert_eq!(body["stream"] == true, inbound.stream);
    let mut dropped = inbound.dropped;
    dropped.sort();
    (body, dropped)
}

/// What Codex CLI sends (SPEC §3): no `instructions`, `developer` items, `store: false`,
/// `include`, `prompt_cache_key`, `client_metadata`, function tools beside tool types chat
/// has not, and a turn with reasoning, a function call and its output.
#[test]
fn a_codex_request() {
    let req = json!({
        "model": "gpt-5-codex",
        "input": [
            {"type": "message", "role": "developer",
             "content": [{"type": "input_text", "text": "<permissions>sandboxed</permissions>"}]},
            {"type": "message", "role": "user",
             "content": [{"type": "input_text", "text": "<environment_context/>"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "**Listing**"}],
             "content": null, "encrypted_content": "gAAAAB..."},
            {"type": "function_call", "id": "fc_1", "name": "shell",
             "arguments": "{\"command\":[\"ls\"]}", "call_id": "call_abc"},
            {"type": "function_call", "id": "fc_2", "name": "shell",
             "arguments": "{\"command\":[\"pwd\"]}", "call_id": "call_def"},
            {"type": "function_call_output", "call_id": "call_abc", "output": "a.txt\nb.txt"},
            {"type": "function_call_output", "call_id": "call_def", "output": "/w"},
            {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
             "content": [{"type": "output_text", "text": "Two files.", "annotations": []}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "thanks"}]}
        ],
        "tools": [
            {"type": "function", "name": "shell", "description": "Runs a command", "strict": false,
             "parameters": {"type": "object", "properties": {"command": {"type": "array"}}}},
            {"type": "namespace", "name": "mcp__fs", "tools": []},
            {"type": "web_search", "external_web_access": false}
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": false,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": false,
        "stream": true,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0199a1b2-c3d4",
        "text": {"verbosity": "low"},
        "client_metadata": {"originator": "codex_cli_rs"}
    });
    let (body, dropped) = translate(req);
    assert_eq!(
        body,
        json!({
            "model": "gpt-5-codex",
            "messages": [
                {"role": "system", "content": "<permissions>sandboxed</permissions>"},
                {"role": "user", "content": "<environment_context/>"},
                {"role": "user", "content": "list files"},
                {"role": "assistant", "content": null, "reasoning_content": "**Listing**",
                 "tool_calls": [
                    {"id": "call_abc", "type": "function",
                     "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}},
                    {"id": "call_def", "type": "function",
                     "function": {"name": "shell", "arguments": "{\"command\":[\"pwd\"]}"}}]},
                {"role": "tool", "tool_call_id": "call_abc", "content": "a.txt\nb.txt"},
                {"role": "tool", "tool_call_id": "call_def", "content": "/w"},
                {"role": "assistant", "content": "Two files."},
                {"role": "user", "content": "thanks"}
            ],
            "tool_choice": "auto",
            "parallel_tool_calls": false,
            "tools": [{"type": "function", "function": {
                "name": "shell", "description": "Runs a command",
                "parameters": {"type": "object", "properties": {"command": {"type": "array"}}},
                "strict": false}}],
            "reasoning_effort": "medium",
            "stream": true,
            "stream_options": {"include_usage": true}
        })
    );
    assert_eq!(
        dropped,
        [
            "client_metadata",
            "include",
            "input.reasoning.encrypted_content",
            "prompt_cache_key",
            "reasoning.summary",
            "text.verbosity",
            "tools.namespace",
            "tools.web_search",
        ]
    );
}

#[test]
fn request_fields_table() {
    let base = |extra: Value| {
        let mut req = json!({"model": "m", "input": "hi"});
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        req
    };
    let user = json!([{"role": "user", "content": "hi"}]);
    // (request fields, chat fields expected beside model and messages, dropped)
    let table: Vec<(Value, Value, Vec<&str>)> = vec![
        // Names the API does not publish are `other`, so clients cannot grow the labels.
        (
            json!({"x_made_up": 1, "y_made_up": 2, "tools": [{"type": "z_tool"}],
                   "reasoning": {"effort": null, "z": 1}, "text": {"z": 1}}),
            json!({}),
            vec!["other", "reasoning.other", "text.other", "tools.other"],
        ),
        (json!({}), json!({}), vec![]),
        (
            json!({"instructions": "be brief"}),
            json!({"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}),
            vec![],
        ),
        (
            json!({"max_output_tokens": 100, "temperature": 0.5, "top_p": 1, "user": "u1"}),
            json!({"max_completion_tokens": 100, "temperature": 0.5, "top_p": 1, "user": "u1"}),
            vec![],
        ),
        (
            json!({"stream": false, "store": true, "metadata": {"a": "b"}, "service_tier": "auto",
                "truncation": "auto", "background": false}),
            json!({}),
            vec![
                "background",
                "metadata",
                "service_tier",
                "store",
                "truncation",
            ],
        ),
        (
            json!({"reasoning": {"effort": "high", "generate_summary": "concise"}}),
            json!({"reasoning_effort": "high"}),
            vec!["reasoning.summary"],
        ),
        (
            json!({"text": {"format": {"type": "json_schema", "name": "pt", "strict": true,
                                    "schema": {"type": "object"}}}}),
            json!({"response_format": {"type": "json_schema", "json_schema":
                {"name": "pt", "schema": {"type": "object"}, "strict": true}}}),
            vec![],
        ),
        (
            json!({"text": {"format": {"type": "json_object"}}}),
            json!({"response_format": {"type": "json_object"}}),
            vec![],
        ),
        (
            json!({"text": {"format": {"type": "text"}}}),
            json!({}),
            vec![],
        ),
        // tool_choice: chat's shape; none without tools; a hosted tool's choice is dropped.
        (
            json!({"tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "function", "name": "f"},
                "parallel_tool_calls": true}),
            json!({"tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": {"type": "function", "function": {"name": "f"}},
                "parallel_tool_calls": true}),
            vec![],
        ),
        (
            json!({"tool_choice": "required", "parallel_tool_calls": true}),
            json!({}),
            vec!["tool_choice"],
        ),
        (json!({"tool_choice": "auto"}), json!({}), vec![]),
        (
            json!({"tools": [{"type": "web_search"}, {"type": "file_search"}, {"type": "local_shell"},
                          {"type": "custom", "name": "apply_patch"}, {"type": "mcp"}],
                "tool_choice": {"type": "web_search"}}),
            json!({}),
            vec![
                "tool_choice.web_search",
                "tools.custom",
                "tools.file_search",
                "tools.local_shell",
                "tools.mcp",
                "tools.web_search",
            ],
        ),
        (
            json!({"stream": true, "previous_response_id": null}),
            json!({"stream": true, "stream_options": {"include_usage": true}}),
            vec![],
        ),
    ];
    for (extra, want, want_dropped) in table {
        let req = base(extra.clone());
        let (body, dropped) = translate(req);
        let mut expected = json!({"model": "m", "messages": user});
        for (k, v) in want.as_object().unwrap() {
            expected[k] = v.clone();
        }
        assert_eq!(body, expected, "{extra}");
        let mut want_dropped = want_dropped;
        want_dropped.sort_unstable();
        assert_eq!(dropped, want_dropped, "{extra}");
    }
}

#[test]
fn input_items_table() {
    // (input, messages expected, dropped)
    let table: Vec<(Value, Value, Vec<&str>)> = vec![
        (
            json!([{"role": "user", "content": [
            {"type": "input_text", "text": "see"},
            {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "low"},
            {"type": "input_image", "file_id": "file_1"},
            {"type": "input_file", "file_data": "data:application/pdf;base64,AA", "filename": "a.pdf"},
            {"type": "input_file", "file_id": "file_2"},
            {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}]}]),
            json!([{"role": "user", "content": [
            {"type": "text", "text": "see"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA", "detail": "low"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,AA", "filename": "a.pdf"}}]}]),
            vec![
                "input.input_audio",
                "input.input_file.file_id",
                "input.input_image.file_id",
            ],
        ),
        // Content whose every part is dropped is empty text, never an empty list.
        (
            json!([{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]),
            json!([{"role": "user", "content": ""}]),
            vec!["input.input_image.file_id"],
        ),
        // A system message and an assistant turn with text, a refusal and reasoning.
        (
            json!([{"type": "message", "role": "system", "content": "sys"},
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "a"},
                                                  {"type": "summary_text", "text": "b"}]},
                {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "raw"}]},
                {"role": "assistant", "content": [{"type": "output_text", "text": "x"},
                                                   {"type": "refusal", "refusal": "no"}]}]),
            json!([{"role": "system", "content": "sys"},
                {"role": "assistant", "content": "x", "refusal": "no", "reasoning_content": "a\n\nb\n\nraw"}]),
            vec![],
        ),
        // A call after an assistant message joins it; tool output parts become text.
        (
            json!([{"role": "assistant", "content": "let me look"},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1",
                 "output": [{"type": "input_text", "text": "ok"}, {"type": "input_image", "image_url": "u"}]}]),
            json!([{"role": "assistant", "content": "let me look", "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "ok"}]),
            vec!["input.input_image"],
        ),
        (
            json!([{"type": "z_item"}, {"role": "user", "content": [{"type": "z_part"}]}]),
            json!([{"role": "user", "content": ""}]),
            vec!["input.other"],
        ),
        // Reasoning never rides on another turn's assistant message.
        (
            json!([{"type": "reasoning", "summary": [{"type": "summary_text", "text": "old"}]},
                   {"role": "user", "content": "q"},
                   {"role": "assistant", "content": "a"}]),
            json!([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]),
            vec!["input.reasoning"],
        ),
        // Items chat has no counterpart for; reasoning with nothing after it.
        (
            json!([{"role": "user", "content": "q"},
                {"type": "item_reference", "id": "msg_1"},
                {"type": "web_search_call", "id": "ws_1", "status": "completed"},
                {"type": "custom_tool_call", "call_id": "c", "name": "apply_patch", "input": "x"},
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "t"}]}]),
            json!([{"role": "user", "content": "q"}]),
            vec![
                "input.custom_tool_call",
                "input.item_reference",
                "input.reasoning",
                "input.web_search_call",
            ],
        ),
    ];
    for (input, want, want_dropped) in table {
        let (body, dropped) = translate(json!({"model": "m", "input": input.clone()}));
        assert_eq!(body["messages"], want, "{input}");
        let mut want_dropped = want_dropped;
        want_dropped.sort_unstable();
        assert_eq!(dropped, want_dropped, "{input}");
    }
}

#[test]
fn malformed_requests_are_errors() {
    let table: Vec<(&[u8], &str, InboundErrorKind)> = vec![
        (b"not json", "", InboundErrorKind::Malformed),
        (b"[1]", "", InboundErrorKind::Malformed),
        (br#"{"input":"hi"}"#, "model", InboundErrorKind::Malformed),
        (br#"{"model":"m"}"#, "input", InboundErrorKind::Malformed),
        (br#"{"model":7,"input":"hi"}"#, "model", InboundErrorKind::Malformed),
        (br#"{"model":"m","input":7}"#, "input", InboundErrorKind::Malformed),
        (br#"{"model":"m","input":[7]}"#, "input[0]", InboundErrorKind::Malformed),
        (br#"{"model":"m","input":[{"role":"boss","content":"x"}]}"#, "input[0].role", InboundErrorKind::Malformed),
        (br#"{"model":"m","input":[{"role":"user"}]}"#, "input[0].content", InboundErrorKind::Malformed),
        (br#"{"model":"m","input":[{"type":"function_call","name":"f"}]}"#, "input[0].call_id", InboundErrorKind::Malformed),
        (br#"{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":1}]}"#, "input[0].output", InboundErrorKind::Malformed),
        (br#"{"model":"m","input":[{"role":"user","content":[{"type":"input_text"}]}]}"#, "input[0].content[0].text", InboundErrorKind::Malformed),
        (br#"{"model":"m","input":"hi","stream":"yes"}"#, "stream", InboundErrorKind::Malformed),
        (br#"{"model":"m","input":"hi","temperature":"hot"}"#, "temperature", InboundErrorKind::Malformed),
        (br#"{"model":"m","input":"hi","max_output_tokens":0}"#, "max_output_tokens", InboundErrorKind::Malformed),
        (br#"{"model":"m","input":"hi","tools":[{"type":"function"}]}"#, "tools[0].name", InboundErrorKind::Malformed),
        (br#"{"model":"m","input":"hi","tools":[{"type":"function","name":"f","parameters":"x"}]}"#, "tools[0].parameters", InboundErrorKind::Malformed),
        (br#"{"model":"m","input":"hi","tool_choice":"always"}"#, "tool_choice", InboundErrorKind::Malformed),
        (br#"{"model":"m","input":"hi","text":{"format":{"type":"yaml"}}}"#, "text.format.type", InboundErrorKind::Malformed),
    ];
    for (body, param, kind) in table {
        let text = String::from_utf8_lossy(body);
        let err = request(body).expect_err(&text);
        assert_eq!(
            (err.param.as_str(), err.kind),
            (param, kind),
            "{text}: {err}"
        );
        let json = err.to_error_body().to_json();
        assert_eq!(json["error"]["type"], "invalid_request_error");
        let want_param = if param.is_empty() {
            Value::Null
        } else {
            param.into()
        };
        assert_eq!(json["error"]["param"], want_param);
        assert!(!err.message.is_empty());
    }
}

#[test]
fn a_stateful_request_is_translated_without_its_state_and_says_what_it_needs() {
    for field in ["previous_response_id", "conversation"] {
        let body = format!(r#"{{"model":"m","input":"hi","{field}":"x_1"}}"#);
        let inbound = request(body.as_bytes()).unwrap();
        let chat: Value = serde_json::from_slice(&inbound.body).unwrap();
        assert!(chat.get(field).is_none(), "{chat}");
        assert!(
            !inbound.dropped.iter().any(|d| d == field),
            "needed, not dropped"
        );
        let need = inbound.stateful.expect("named");
        assert_eq!(
            (need.param.as_str(), need.kind),
            (field, InboundErrorKind::Stateful)
        );
        let json = need.to_error_body().to_json();
        assert_eq!(json["error"]["param"], field);
    }
    assert!(request(br#"{"model":"m","input":"hi"}"#)
        .unwrap()
        .stateful
        .is_none());
}

fn whole(completion: Value) -> Value {
    let bytes = response(
        completion.to_string().as_bytes(),
        &meta(),
        Some(&FixedPrice),
    )
    .unwrap_or_else(|e| panic!("{completion}: {e}"));
    serde_json::from_slice(&bytes).unwrap()
}

fn completion(message: Value, finish: &str, usage: Value) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "provider-model",
           "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage})
}

#[test]
fn whole_answers_table() {
    let usage = json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                       "prompt_tokens_details": {"cached_tokens": 4},
                       "completion_tokens_details": {"reasoning_tokens": 3}});
    let got = whole(completion(
        json!({"role": "assistant", "content": "Hi", "reasoning_content": "think",
               "tool_calls": [{"id": "call_1", "type": "function",
                               "function": {"name": "f", "arguments": "{\"a\":1}"}}]}),
        "tool_calls",
        usage,
    ));
    assert_eq!(
        got,
        json!({
            "id": "resp_gw1", "object": "response", "created_at": 1_760_000_000u64,
            "status": "completed", "error": null, "incomplete_details": null,
            "model": "asked-model",
            "output": [
                {"id": "rs_gw1_0", "type": "reasoning", "summary": [{"type": "summary_text", "text": "think"}]},
                {"id": "msg_gw1_1", "type": "message", "status": "completed", "role": "assistant",
                 "content": [{"type": "output_text", "text": "Hi", "annotations": []}]},
                {"id": "fc_gw1_2", "type": "function_call", "status": "completed", "call_id": "call_1",
                 "name": "f", "arguments": "{\"a\":1}"}
            ],
            "usage": {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4},
                      "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 3},
                      "total_tokens": 15, "cost": 0.00017151,
                      "cost_local": {"currency": "JPY", "amount": 0.0257265}}
        })
    );
    // (message, finish) → (status, incomplete reason, output item types)
    let table = [
        (
            json!({"content": "cut"}),
            "length",
            "incomplete",
            json!("max_output_tokens"),
            vec!["message"],
        ),
        (
            json!({"content": null, "refusal": "no"}),
            "stop",
            "completed",
            Value::Null,
            vec!["message"],
        ),
        (
            json!({"content": ""}),
            "content_filter",
            "incomplete",
            json!("content_filter"),
            vec![],
        ),
        (
            json!({"content": null, "reasoning": "r"}),
            "stop",
            "completed",
            Value::Null,
            vec!["reasoning"],
        ),
        (
            json!({"content": "a", "reasoning_content": "r", "reasoning_signature": "sig",
                   "reasoning_redacted": ["d1", "d2"]}),
            "stop",
            "completed",
            Value::Null,
            vec!["reasoning", "reasoning", "reasoning", "message"],
        ),
    ];
    for (message, finish, status, reason, types) in table {
        let got = whole(completion(message.clone(), finish, Value::Null));
        assert_eq!(got["status"], status, "{message}");
        assert_eq!(got["incomplete_details"]["reason"], reason, "{message}");
        let kinds: Vec<&str> = got["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, types, "{message}");
        assert!(got["usage"].is_null());
        let encrypted: Vec<&str> = got["output"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["encrypted_content"].as_str())
            .collect();
        if message.get("reasoning_signature").is_some() {
            let want = [
                "sluice-signature:sig",
                "sluice-redacted:d1",
                "sluice-redacted:d2",
            ];
            assert_eq!(encrypted, want);
        } else {
            assert!(encrypted.is_empty(), "{message}");
        }
    }
}

#[test]
fn whole_answers_that_are_not_completions() {
    let err = response(
        br#"{"error":{"message":"overloaded","type":"server_error"}}"#,
        &meta(),
        None,
    );
    assert!(matches!(err, Err(ResponseError::Provider(b)) if b.message == "overloaded"));
    for bad in [&b"nope"[..], br#"{"choices":[]}"#, br#"[]"#] {
        assert!(
            matches!(
                response(bad, &meta(), None),
                Err(ResponseError::Protocol(_))
            ),
            "{bad:?}"
        );
    }
}
