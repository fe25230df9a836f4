use serde_json::{json, Value};

use super::*;

const OPTS: AnthropicOptions = AnthropicOptions {
    default_max_tokens: 1024,
};

fn tr(body: Value) -> Value {
    let out = request(body.to_string().as_bytes(), "claude-test", &OPTS)
        .unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&out).unwrap()
}

fn refused(body: Value) -> TranslateError {
    request(body.to_string().as_bytes(), "claude-test", &OPTS).expect_err("refused")
}

fn hi() -> Value {
    json!([{"role": "user", "content": "hi"}])
}

#[test]
fn a_plain_request_gets_the_model_and_the_default_max_tokens() {
    let out = tr(json!({"model": "alias", "messages": hi()}));
    assert_eq!(
        out,
        json!({"model": "claude-test", "max_tokens": 1024,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]})
    );
    let out = tr(json!({"model": "m", "messages": hi(), "max_tokens": 50, "stream": true}));
    assert_eq!(
        (out["max_tokens"].clone(), out["stream"].clone()),
        (json!(50), json!(true))
    );
    let out = tr(json!({"messages": hi(), "max_tokens": 50, "max_completion_tokens": 70}));
    assert_eq!(out["max_tokens"], 70);
}

#[test]
fn system_and_developer_messages_become_system_blocks_in_order() {
    let out = tr(json!({"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French.",
            "cache_control": {"type": "ephemeral"}}]},
    ]}));
    assert_eq!(
        out["system"],
        json!([{"type": "text", "text": "Be brief."},
            {"type": "text", "text": "Answer in French.", "cache_control": {"type": "ephemeral"}}])
    );
    assert_eq!(out["messages"].as_array().unwrap().len(), 1);
}

#[test]
fn turns_of_one_role_merge_and_tool_results_share_a_user_turn() {
    let out = tr(json!({"messages": [
        {"role": "user", "content": "Weather in Paris and Tokyo?"},
        {"role": "user", "content": [{"type": "text", "text": "In Celsius."}]},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_2", "type": "function",
                "function": {"name": "now", "arguments": ""},
                "extra_content": {"google": {"thought_signature": "c2ln"}}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "9:00"}]},
        {"role": "user", "content": "Thanks"},
    ]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "text", "text": "Weather in Paris and Tokyo?"},
                {"type": "text", "text": "In Celsius."}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "now", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1",
                    "content": [{"type": "text", "text": "18C"}]},
                {"type": "tool_result", "tool_use_id": "call_2",
                    "content": [{"type": "text", "text": "9:00"}]},
                {"type": "text", "text": "Thanks"}]},
        ])
    );
}

#[test]
fn images_and_files_become_blocks() {
    let out = tr(json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0x", "filename": "a.pdf"}},
    ]}]}));
    assert_eq!(
        out["messages"][0]["content"],
        json!([
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                "data": "JVBERi0x"}, "title": "a.pdf"},
        ])
    );
}

#[test]
fn tools_and_tool_choice() {
    let tools = json!([
        {"type": "function", "function": {"name": "get_weather", "description": "Weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "now", "strict": false}},
    ]);
    let out = tr(json!({"messages": hi(), "tools": tools}));
    assert_eq!(
        out["tools"],
        json!([
            {"name": "get_weather", "description": "Weather",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
            {"name": "now", "input_schema": {"type": "object", "properties": {}}},
        ])
    );
    assert!(out.get("tool_choice").is_none());
    for (choice, want) in [
        (json!("auto"), json!({"type": "auto"})),
        (json!("none"), json!({"type": "none"})),
        (json!("required"), json!({"type": "any"})),
        (
            json!({"type": "function", "function": {"name": "now"}}),
            json!({"type": "tool", "name": "now"}),
        ),
    ] {
        let out = tr(json!({"messages": hi(), "tools": tools, "tool_choice": choice}));
        assert_eq!(out["tool_choice"], want);
    }
    let out = tr(json!({"messages": hi(), "tools": tools, "parallel_tool_calls": false}));
    assert_eq!(
        out["tool_choice"],
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
    let out = tr(
        json!({"messages": hi(), "tools": tools, "parallel_tool_calls": false,
        "tool_choice": "required"}),
    );
    assert_eq!(
        out["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
}

#[test]
fn sampling_stop_and_user() {
    let out = tr(
        json!({"messages": hi(), "temperature": 0.25, "top_p": 0.9, "stop": "END",
        "user": "u-42"}),
    );
    assert_eq!(out["temperature"], 0.25);
    assert_eq!(out["top_p"], 0.9);
    assert_eq!(out["stop_sequences"], json!(["END"]));
    assert_eq!(out["metadata"], json!({"user_id": "u-42"}));
    let out = tr(json!({"messages": hi(), "stop": ["a", "b"]}));
    assert_eq!(out["stop_sequences"], json!(["a", "b"]));
}

#[test]
fn reasoning_effort_sets_a_thinking_budget_under_max_tokens() {
    let out = tr(json!({"messages": hi(), "reasoning_effort": "medium"}));
    assert_eq!(
        out["thinking"],
        json!({"type": "enabled", "budget_tokens": 8192})
    );
    assert_eq!(out["max_tokens"], 1024 + 8192);
    let out =
        tr(json!({"messages": hi(), "reasoning_effort": "high", "max_completion_tokens": 4000}));
    assert_eq!(out["thinking"]["budget_tokens"], 3999);
    assert_eq!(out["max_tokens"], 4000);
    let out = tr(json!({"messages": hi(), "reasoning_effort": "none"}));
    assert!(out.get("thinking").is_none());
    let err = refused(json!({"messages": hi(), "reasoning_effort": "low", "max_tokens": 1000}));
    assert_eq!(err.param, "reasoning_effort");
    let err = refused(json!({"messages": hi(), "reasoning_effort": "extreme"}));
    assert_eq!(err.param, "reasoning_effort");
    assert_eq!(thinking_budget("minimal"), Some(1024));
}

#[test]
fn signed_reasoning_goes_back_as_thinking_blocks() {
    let out = tr(json!({"messages": [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4", "reasoning_content": "Add them.",
            "reasoning_signature": "EqQBsig", "reasoning_redacted": ["EmwKAh"]},
        {"role": "user", "content": "And 3+3?"},
    ]}));
    assert_eq!(
        out["messages"][1]["content"],
        json!([
            {"type": "thinking", "thinking": "Add them.", "signature": "EqQBsig"},
            {"type": "redacted_thinking", "data": "EmwKAh"},
            {"type": "text", "text": "4"},
        ])
    );
    let err = refused(json!({"messages": [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4", "reasoning_content": "Add them."},
    ]}));
    assert_eq!(err.param, "messages[1].reasoning_content");
}

#[test]
fn fields_that_ask_for_nothing_are_ignored() {
    let plain = tr(json!({"messages": hi()}));
    let noisy = tr(
        json!({"model": "x", "messages": hi(), "stream_options": {"include_usage": true},
        "store": false, "metadata": {"a": "b"}, "prompt_cache_key": "k", "safety_identifier": "s",
        "n": 1, "logprobs": false, "logit_bias": {}, "service_tier": "auto",
        "modalities": ["text"], "presence_penalty": 0, "frequency_penalty": 0.0,
        "top_logprobs": null, "response_format": {"type": "text"}}),
    );
    assert_eq!(plain, noisy);
}

#[test]
fn fields_without_an_equivalent_are_refused_by_name() {
    let cases = [
        (
            json!({"response_format": {"type": "json_object"}}),
            "response_format",
        ),
        (
            json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}}),
            "response_format",
        ),
        (json!({"seed": 7}), "seed"),
        (json!({"presence_penalty": 0.5}), "presence_penalty"),
        (json!({"frequency_penalty": -1}), "frequency_penalty"),
        (json!({"n": 2}), "n"),
        (json!({"logprobs": true}), "logprobs"),
        (json!({"top_logprobs": 3}), "top_logprobs"),
        (json!({"logit_bias": {"50256": -100}}), "logit_bias"),
        (json!({"temperature": 1.5}), "temperature"),
        (json!({"service_tier": "flex"}), "service_tier"),
        (json!({"modalities": ["text", "audio"]}), "modalities"),
        (json!({"audio": {"voice": "alloy"}}), "audio"),
        (json!({"prediction": {"type": "content"}}), "prediction"),
        (json!({"functions": []}), "functions"),
        (json!({"web_search_options": {}}), "web_search_options"),
        (json!({"verbosity": "low"}), "verbosity"),
        (json!({"frobnicate": 1}), "frobnicate"),
        (
            json!({"tools": [{"type": "function", "function": {"name": "f", "strict": "yes"}}]}),
            "tools[0].function.strict",
        ),
        (
            json!({"tools": [{"type": "custom", "custom": {"name": "f"}}]}),
            "tools[0].type",
        ),
        (
            json!({"tool_choice": {"type": "allowed_tools", "allowed_tools": {}}}),
            "tool_choice.type",
        ),
    ];
    for (extra, param) in cases {
        let mut body = json!({"messages": hi()});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let err = refused(body);
        assert_eq!(err.param, param, "{err}");
        assert!(err.message.contains(&format!("`{param}`")), "{err}");
    }
    let messages = [
        (
            json!({"role": "user", "content": "hi", "name": "bob"}),
            "messages[0].name",
        ),
        (
            json!({"role": "function", "name": "f", "content": "x"}),
            "messages[0].role",
        ),
        (
            json!({"role": "user", "content": [{"type": "input_audio",
            "input_audio": {"data": "UklG", "format": "wav"}}]}),
            "messages[0].content[0]",
        ),
        (
            json!({"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}),
            "messages[0].content[0].file.file_id",
        ),
        (
            json!({"role": "user", "content": [{"type": "image_url",
            "image_url": {"url": "data:image/png,rawbytes"}}]}),
            "messages[0].content[0].image_url.url",
        ),
        (
            json!({"role": "user", "content": [{"type": "file",
            "file": {"file_data": "data:text/csv;base64,YSxi"}}]}),
            "messages[0].content[0]",
        ),
        (
            json!({"role": "system", "content": [{"type": "image_url",
            "image_url": {"url": "https://x/y.png"}}]}),
            "messages[0].content[0].type",
        ),
        (
            json!({"role": "assistant", "content": "x", "audio": {"id": "a"}}),
            "messages[0].audio",
        ),
        (
            json!({"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
            "function": {"name": "f", "arguments": "[1]"}}]}),
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            json!({"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
            "function": {"name": "f", "arguments": "{oops"}}]}),
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            json!({"role": "tool", "content": "x"}),
            "messages[0].tool_call_id",
        ),
    ];
    for (message, param) in messages {
        let err = refused(json!({"messages": [message]}));
        assert_eq!(err.param, param, "{err}");
    }
    assert_eq!(refused(json!({"model": "m"})).param, "messages");
    let err = request(b"[1]", "m", &OPTS).unwrap_err();
    assert!(err.message.contains("not a JSON object"), "{err}");
    assert_eq!(err.to_error_body().to_json()["error"]["param"], Value::Null);
    let err = refused(json!({"messages": hi(), "tool_choice": "required"}));
    assert_eq!(err.param, "tool_choice");
    // Without tools, `auto` and `none` ask for nothing.
    assert_eq!(
        tr(json!({"messages": hi(), "tool_choice": "none"})),
        tr(json!({"messages": hi()}))
    );
}

#[test]
fn a_refusal_becomes_an_openai_400_body() {
    let err = refused(json!({"messages": hi(), "seed": 1}));
    let body = err.to_error_body().to_json();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["param"], "seed");
    assert_eq!(
        body["error"]["message"],
        "`seed`: Anthropic's Messages API has no equivalent for it"
    );
}

#[test]
fn strict_tools_stay_strict() {
    // The OpenAI Agents SDK marks every function tool strict.
    let tools = json!([
        {"type": "function", "function": {"name": "f", "strict": true,
            "parameters": {"type": "object", "properties": {}, "additionalProperties": false}}},
    ]);
    let out = tr(json!({"messages": hi(), "tools": tools}));
    assert_eq!(out["tools"][0]["strict"], json!(true));
}
