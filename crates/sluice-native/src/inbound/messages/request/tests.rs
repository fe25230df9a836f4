use serde_json::{json, Value};

use super::*;

fn translate(body: Value) -> (Value, Inbound) {
    let inbound = request(body.to_string().as_bytes()).unwrap();
    (serde_json::from_slice(&inbound.body).unwrap(), inbound)
}

fn base(extra: Value) -> Value {
    let mut body = json!({"model": "claude-x", "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// The request Claude Code sends, in shape: adaptive thinking, `output_config`,
/// `context_management`, `metadata`, 32,000 tokens, `cache_control` on blocks, a system entry
/// inside `messages`, server tools beside its own, and a tool round trip with thinking.
#[test]
fn a_claude_code_request_translates_and_names_what_it_drops() {
    let body = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "stream": true,
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "high"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "metadata": {"user_id": "user_abc_account_1_session_2"},
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1"},
            {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}
        ],
        "tools": [
            {"name": "Read", "description": "Reads a file",
             "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
             "cache_control": {"type": "ephemeral"}},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
        "messages": [
            {"role": "system", "content": "Reminder: be brief."},
            {"role": "user", "content": [
                {"type": "text", "text": "Read a.txt", "cache_control": {"type": "ephemeral"}}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "I should read it.", "signature": "EqQB"},
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "toolu_01A", "name": "Read", "input": {"path": "a.txt"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A", "content": [
                    {"type": "text", "text": "hello"}], "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "Now summarise."}]}
        ]
    });
    let (chat, inbound) = translate(body);
    assert!(inbound.stream);
    assert_eq!(inbound.model, "claude-sonnet-4-5");
    assert_eq!(
        chat,
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 32000,
            "stream": true,
            "stream_options": {"include_usage": true},
            "user": "user_abc_account_1_session_2",
            "tools": [{"type": "function", "function": {"name": "Read",
                "description": "Reads a file",
                "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}],
            "tool_choice": "auto",
            "parallel_tool_calls": false,
            "messages": [
                {"role": "system",
                 "content": "x-anthropic-billing-header: cc_version=2.1\n\nYou are Claude Code."},
                {"role": "system", "content": "Reminder: be brief."},
                {"role": "user", "content": "Read a.txt"},
                {"role": "assistant", "content": "Reading.",
                 "reasoning_content": "I should read it.", "reasoning_signature": "EqQB",
                 "tool_calls": [{"id": "toolu_01A", "type": "function",
                    "function": {"name": "Read", "arguments": "{\"path\":\"a.txt\"}"}}]},
                {"role": "tool", "tool_call_id": "toolu_01A", "content": "hello"},
                {"role": "user", "content": "Now summarise."}
            ]
        })
    );
    let mut dropped = inbound.dropped.clone();
    dropped.sort();
    assert_eq!(
        dropped,
        [
            "cache_control",
            "context_management",
            "output_config",
            "tool:web_search_20250305"
        ]
    );
}

#[test]
fn fields_translate_one_by_one() {
    let cases = [
        (
            json!({"temperature": 0.5, "top_p": 0.9}),
            json!({"temperature": 0.5, "top_p": 0.9}),
        ),
        (
            json!({"stop_sequences": ["END", "##"]}),
            json!({"stop": ["END", "##"]}),
        ),
        (json!({"stop_sequences": []}), json!({})),
        (json!({"stream": false}), json!({})),
        (
            json!({"thinking": {"type": "enabled", "budget_tokens": 1024}}),
            json!({"reasoning_effort": "minimal"}),
        ),
        (
            json!({"thinking": {"type": "enabled", "budget_tokens": 2048}}),
            json!({"reasoning_effort": "low"}),
        ),
        (
            json!({"thinking": {"type": "enabled", "budget_tokens": 10000}}),
            json!({"reasoning_effort": "medium"}),
        ),
        (
            json!({"thinking": {"type": "enabled", "budget_tokens": 31999}}),
            json!({"reasoning_effort": "high"}),
        ),
        (json!({"thinking": {"type": "disabled"}}), json!({})),
        (
            json!({"metadata": {"user_id": "u1"}}),
            json!({"user": "u1"}),
        ),
        (
            json!({"top_k": 5, "service_tier": "auto", "container": "c", "mcp_servers": []}),
            json!({}),
        ),
    ];
    for (extra, want) in cases {
        let (chat, _) = translate(base(extra.clone()));
        let mut expected = json!({"model": "claude-x", "max_tokens": 100,
            "messages": [{"role": "user", "content": "hi"}]});
        for (k, v) in want.as_object().unwrap() {
            expected[k] = v.clone();
        }
        assert_eq!(chat, expected, "{extra}");
    }
    let (_, inbound) = translate(base(json!({"top_k": 5, "service_tier": "auto",
        "container": "c", "mcp_servers": [], "thinking": {"type": "enabled",
        "budget_tokens": 2048, "display": "x"}, "metadata": {"tag": 1}})));
    let mut dropped = inbound.dropped;
    dropped.sort();
    assert_eq!(
        dropped,
        [
            "container",
            "mcp_servers",
            "metadata.tag",
            "service_tier",
            "thinking.display",
            "top_k"
        ]
    );
}

#[test]
fn effort_inverts_the_outbound_budget_scale() {
    for effort in ["minimal", "low", "medium", "high"] {
        let budget = thinking_budget(effort).unwrap();
        assert_eq!(effort_for_budget(budget), effort);
        assert_eq!(effort_for_budget(budget + 1), effort);
    }
    assert_eq!(effort_for_budget(0), "minimal");
}

#[test]
fn content_blocks_become_parts() {
    let (chat, inbound) = translate(base(json!({"messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "look"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
            {"type": "image", "source": {"type": "url", "url": "https://x/y.jpg"}},
            {"type": "image", "source": {"type": "file", "file_id": "f1"}},
            {"type": "document", "title": "r.pdf",
             "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
            {"type": "search_result", "source": "s", "title": "t", "content": []},
            {"type": "text", "text": "", "citations": [1]}
        ]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "unsigned", "signature": ""},
            {"type": "redacted_thinking", "data": "abc"},
            {"type": "server_tool_use", "id": "srv_1", "name": "web_search", "input": {}},
            {"type": "tool_use", "id": "toolu_B", "name": "ls", "input": {}}
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_B", "is_error": true, "content": "denied"},
            {"type": "tool_result", "tool_use_id": "toolu_C", "content": [
                {"type": "text", "text": "a"}, {"type": "text", "text": "b"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j"}}]},
            {"type": "tool_result", "tool_use_id": "toolu_D"}
        ]}
    ]})));
    assert_eq!(
        chat["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
                {"type": "image_url", "image_url": {"url": "https://x/y.jpg"}},
                {"type": "file", "file": {"filename": "r.pdf",
                    "file_data": "data:application/pdf;base64,JVBE"}},
                {"type": "text", "text": "notes"}
            ]},
            {"role": "assistant", "content": null, "reasoning_redacted": "abc",
             "reasoning_content": "unsigned",
             "tool_calls": [{"id": "toolu_B", "type": "function",
                "function": {"name": "ls", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "toolu_B", "content": "Error: denied"},
            {"role": "tool", "tool_call_id": "toolu_C", "content": "a\nb"},
            {"role": "tool", "tool_call_id": "toolu_D", "content": ""},
            {"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j"}}]}
        ])
    );
    let mut dropped = inbound.dropped;
    dropped.sort();
    assert_eq!(
        dropped,
        [
            "block:search_result",
            "block:server_tool_use",
            "image.source.file",
            "text.citations"
        ]
    );
}

#[test]
fn tool_choice_follows_the_tools_that_are_left() {
    let tools = json!([{"name": "a", "input_schema": {"type": "object"}, "strict": true},
        {"type": "bash_20250124", "name": "bash"}]);
    let cases = [
        (json!({"type": "any"}), json!("required")),
        (json!({"type": "none"}), json!("none")),
        (
            json!({"type": "tool", "name": "a"}),
            json!({"type": "function", "function": {"name": "a"}}),
        ),
        (json!({"type": "tool", "name": "bash"}), Value::Null),
    ];
    for (choice, want) in cases {
        let (chat, _) = translate(base(json!({"tools": tools, "tool_choice": choice})));
        assert_eq!(chat["tool_choice"], want, "{choice}");
        assert_eq!(
            chat["tools"],
            json!([{"type": "function", "function": {"name": "a",
                "parameters": {"type": "object"}, "strict": true}}])
        );
        assert!(chat.get("parallel_tool_calls").is_none());
    }
    // With only server tools, no tools and no choice are sent.
    let (chat, inbound) = translate(base(json!({
        "tools": [{"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
                  {"type": "computer_20250124", "name": "computer"}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true}})));
    assert!(chat.get("tools").is_none() && chat.get("tool_choice").is_none());
    assert!(chat.get("parallel_tool_calls").is_none());
    assert_eq!(
        inbound.dropped,
        ["tool:text_editor_20250728", "tool:computer_20250124"]
    );
}

#[test]
fn malformed_requests_are_errors_with_a_message() {
    let cases = [
        (b"not json".to_vec(), "not valid JSON"),
        (b"[1]".to_vec(), "not a JSON object"),
        (
            json!({"max_tokens": 1, "messages": []})
                .to_string()
                .into_bytes(),
            "model: is required",
        ),
        (
            json!({"model": "m", "max_tokens": 1})
                .to_string()
                .into_bytes(),
            "messages: is required",
        ),
        (
            json!({"model": "m", "messages": []})
                .to_string()
                .into_bytes(),
            "max_tokens: is required",
        ),
        (
            json!({"model": 1, "max_tokens": 1, "messages": []})
                .to_string()
                .into_bytes(),
            "model",
        ),
        (
            json!({"model": "m", "max_tokens": 0, "messages": []})
                .to_string()
                .into_bytes(),
            "max_tokens",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": {}})
                .to_string()
                .into_bytes(),
            "messages",
        ),
        (
            base(json!({"temperature": "hot"})).to_string().into_bytes(),
            "temperature",
        ),
        (
            base(json!({"stream": "yes"})).to_string().into_bytes(),
            "stream",
        ),
        (
            base(json!({"messages": [{"role": "bot", "content": "x"}]}))
                .to_string()
                .into_bytes(),
            "messages[0].role",
        ),
        (
            base(json!({"messages": [{"role": "user"}]}))
                .to_string()
                .into_bytes(),
            "messages[0].content",
        ),
        (
            base(json!({"messages": [{"role": "user", "content": [{"text": "x"}]}]}))
                .to_string()
                .into_bytes(),
            "messages[0].content[0].type",
        ),
        (
            base(json!({"messages": [{"role": "assistant", "content": [
            {"type": "tool_use", "name": "x", "input": {}}]}]}))
            .to_string()
            .into_bytes(),
            "messages[0].content[0].id",
        ),
        (
            base(json!({"tools": [{"input_schema": {}}]}))
                .to_string()
                .into_bytes(),
            "tools[0].name",
        ),
        (
            base(json!({"thinking": {"type": "enabled"}}))
                .to_string()
                .into_bytes(),
            "thinking.budget_tokens",
        ),
    ];
    for (body, needle) in cases {
        let err = request(&body).unwrap_err();
        assert!(
            err.message.contains(needle),
            "{}: {}",
            String::from_utf8_lossy(&body),
            err
        );
        let doc: Value = serde_json::from_slice(&err.to_json()).unwrap();
        assert_eq!(doc["type"], "error");
        assert_eq!(doc["error"]["type"], "invalid_request_error");
    }
}

#[test]
fn count_tokens_needs_no_max_tokens_and_never_streams() {
    let body = json!({"model": "m", "stream": true,
        "messages": [{"role": "user", "content": "hi"}]});
    let inbound = count_tokens_body(body.to_string().as_bytes()).unwrap();
    let chat: Value = serde_json::from_slice(&inbound.body).unwrap();
    assert_eq!(
        chat,
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    );
    assert!(!inbound.stream);
    assert_eq!(inbound.dropped, ["stream"]);
    assert!(request(body.to_string().as_bytes()).is_err());
}

/// What a Messages client sent reaches an Anthropic provider through this crate's own
/// translation with its thinking, signature, redacted thinking and tool ids intact.
#[test]
fn a_round_trip_to_an_anthropic_provider_keeps_thinking_and_tool_ids() {
    let body = json!({
        "model": "claude-x", "max_tokens": 32000,
        "thinking": {"type": "enabled", "budget_tokens": 8192},
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "List files"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Use ls.", "signature": "EqQB=="},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "tool_use", "id": "toolu_9", "name": "ls", "input": {"dir": "."}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_9", "content": "a.txt"}]}
        ],
        "tools": [{"name": "ls", "input_schema": {"type": "object"}}]
    });
    let inbound = request(body.to_string().as_bytes()).unwrap();
    let opts = crate::anthropic::AnthropicOptions {
        default_max_tokens: 4096,
    };
    let out = crate::anthropic::request(&inbound.body, "claude-x", &opts).unwrap();
    let out: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        out["system"],
        json!([{"type": "text", "text": "Be brief."}])
    );
    assert_eq!(out["thinking"]["type"], "enabled");
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "List files"}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Use ls.", "signature": "EqQB=="},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "tool_use", "id": "toolu_9", "name": "ls", "input": {"dir": "."}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9",
                "content": [{"type": "text", "text": "a.txt"}]}]}
        ])
    );
}
