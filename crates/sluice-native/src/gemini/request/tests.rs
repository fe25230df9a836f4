use serde_json::{json, Value};

use super::*;

fn tr(body: Value) -> Value {
    let out = request(body.to_string().as_bytes(), &GeminiOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&out).unwrap()
}

fn refused(body: Value) -> TranslateError {
    request(body.to_string().as_bytes(), &GeminiOptions::default()).expect_err("refused")
}

fn hi() -> Value {
    json!([{"role": "user", "content": "hi"}])
}

#[test]
fn system_instruction_roles_and_merged_contents() {
    let out = tr(json!({"model": "m", "stream": true, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "user", "content": "there"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": "Bye"},
    ]}));
    assert_eq!(
        out,
        json!({
            "contents": [
                {"role": "user", "parts": [{"text": "hi"}, {"text": "there"}]},
                {"role": "model", "parts": [{"text": "Hello!"}]},
                {"role": "user", "parts": [{"text": "Bye"}]},
            ],
            "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Answer in French."}]},
        })
    );
}

#[test]
fn tool_calls_and_results_pair_by_name() {
    let out = tr(json!({"messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "get_weather",
                "arguments": "{\"city\":\"Paris\"}"},
                "extra_content": {"google": {"thought_signature": "CiQB"}}},
            {"id": "call_1", "type": "function", "function": {"name": "now", "arguments": "{}"}},
        ]},
        {"role": "tool", "tool_call_id": "call_0", "content": "{\"temp\": 18}"},
        {"role": "tool", "tool_call_id": "call_1", "content": "9:00"},
    ]}));
    assert_eq!(
        out["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather?"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "CiQB"},
                {"functionCall": {"name": "now", "args": {}}}]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp": 18}}},
                {"functionResponse": {"name": "now", "response": {"content": "9:00"}}}]},
        ])
    );
    let err = refused(json!({"messages": [
        {"role": "user", "content": "x"},
        {"role": "tool", "tool_call_id": "call_9", "content": "y"},
    ]}));
    assert_eq!(err.param, "messages[1].tool_call_id");
}

#[test]
fn media_become_inline_or_file_data() {
    let out = tr(json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a/cat.PNG?size=2"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}},
    ]}]}));
    assert_eq!(
        out["contents"][0]["parts"],
        json!([
            {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}},
            {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/a/cat.PNG?size=2"}},
            {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}},
        ])
    );
    let err = refused(json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/image?id=3"}}]}]}));
    assert_eq!(err.param, "messages[0].content[0]");
}

#[test]
fn tools_and_tool_config() {
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "description": "Weather", "parameters": {"type": "object",
            "properties": {"city": {"type": "string"}}, "additionalProperties": false}}},
        {"type": "function", "function": {"name": "now"}}]);
    let out = tr(json!({"messages": hi(), "tools": tools}));
    assert_eq!(
        out["tools"],
        json!([{"functionDeclarations": [
            {"name": "get_weather", "description": "Weather", "parametersJsonSchema":
                {"type": "object", "properties": {"city": {"type": "string"}},
                    "additionalProperties": false}},
            {"name": "now"}]}])
    );
    for (choice, want) in [
        (json!("auto"), json!({"mode": "AUTO"})),
        (json!("none"), json!({"mode": "NONE"})),
        (json!("required"), json!({"mode": "ANY"})),
        (
            json!({"type": "function", "function": {"name": "now"}}),
            json!({"mode": "ANY", "allowedFunctionNames": ["now"]}),
        ),
    ] {
        let out = tr(json!({"messages": hi(), "tools": tools, "tool_choice": choice}));
        assert_eq!(out["toolConfig"], json!({ "functionCallingConfig": want }));
    }
}

#[test]
fn generation_config() {
    let out = tr(
        json!({"messages": hi(), "max_tokens": 100, "temperature": 1.5, "top_p": 0.5,
        "stop": ["END"], "seed": 3, "presence_penalty": 0.2, "frequency_penalty": 0.1,
        "response_format": {"type": "json_schema", "json_schema": {"name": "r",
            "schema": {"type": "object"}, "strict": true}},
        "reasoning_effort": "low", "user": "u-1"}),
    );
    assert_eq!(
        out["generationConfig"],
        json!({"maxOutputTokens": 100, "temperature": 1.5, "topP": 0.5, "seed": 3,
            "presencePenalty": 0.2, "frequencyPenalty": 0.1, "stopSequences": ["END"],
            "responseMimeType": "application/json", "responseJsonSchema": {"type": "object"},
            "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true}})
    );
    let out = tr(
        json!({"messages": hi(), "response_format": {"type": "json_object"},
        "reasoning_effort": "none"}),
    );
    assert_eq!(
        out["generationConfig"],
        json!({"responseMimeType": "application/json", "thinkingConfig": {"thinkingBudget": 0}})
    );
    let opts = GeminiOptions {
        default_max_tokens: Some(2048),
    };
    let out: Value = serde_json::from_slice(
        &request(json!({"messages": hi()}).to_string().as_bytes(), &opts).unwrap(),
    )
    .unwrap();
    assert_eq!(out["generationConfig"], json!({"maxOutputTokens": 2048}));
    assert_eq!(thinking_budget("high"), Some(24576));
}

#[test]
fn signatures_go_back_and_thought_text_does_not() {
    let out = tr(json!({"messages": [
        {"role": "user", "content": "Count the r's"},
        {"role": "assistant", "content": "Three.", "reasoning_content": "s-t-r-a-w...",
            "reasoning_signature": "CiQBsig"},
        {"role": "user", "content": "Sure?"},
    ]}));
    assert_eq!(
        out["contents"][1],
        json!({"role": "model", "parts": [{"text": "Three.", "thoughtSignature": "CiQBsig"}]})
    );
}

#[test]
fn fields_without_an_equivalent_are_refused_by_name() {
    for (extra, param) in [
        (json!({"parallel_tool_calls": false}), "parallel_tool_calls"),
        (json!({"n": 3}), "n"),
        (json!({"logprobs": true}), "logprobs"),
        (json!({"audio": {}}), "audio"),
        (json!({"frobnicate": true}), "frobnicate"),
    ] {
        let mut body = json!({"messages": hi()});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let err = refused(body);
        assert_eq!(err.param, param, "{err}");
        assert!(err.message.contains("Gemini"), "{err}");
    }
    // What Gemini has no use for but which asks nothing of the answer.
    let plain = tr(json!({"messages": hi()}));
    let noisy = tr(
        json!({"messages": [{"role": "user", "content": [{"type": "text",
        "text": "hi", "cache_control": {"type": "ephemeral"}}]}], "user": "u",
        "parallel_tool_calls": true, "store": true, "stream_options": {"include_usage": false}}),
    );
    assert_eq!(plain, noisy);
}

#[test]
fn strict_tools_call_in_validated_mode() {
    let strict = json!([{"type": "function", "function": {"name": "f", "strict": true}}]);
    let out = tr(json!({"messages": hi(), "tools": strict}));
    assert_eq!(
        out["toolConfig"],
        json!({"functionCallingConfig": {"mode": "VALIDATED"}})
    );
    // `required` is `ANY`, which holds calls to their schema already.
    let out = tr(json!({"messages": hi(), "tools": strict, "tool_choice": "required"}));
    assert_eq!(
        out["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY"}})
    );
    let err = refused(json!({"messages": hi(),
        "tools": [{"type": "function", "function": {"name": "f", "strict": "yes"}}]}));
    assert_eq!(err.param, "tools[0].function.strict", "{err}");
    let loose = json!([{"type": "function", "function": {"name": "f"}}]);
    let out = tr(json!({"messages": hi(), "tools": loose}));
    assert!(out.get("toolConfig").is_none());
}
