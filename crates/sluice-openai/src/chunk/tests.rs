use super::*;

/// Checks the flags and usage of a summary (its text places have tests of their own).
fn check(payload: &str, expect: ChunkSummary) {
    let got = inspect(payload.as_bytes()).unwrap();
    let flags = ChunkSummary {
        mergeable: false,
        texts: Texts::default(),
        ..got
    };
    assert_eq!(flags, expect, "{payload}");
}

#[test]
fn role_chunk_is_not_content() {
    check(
        r#"{"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}"#,
        ChunkSummary {
            choices: 1,
            ..Default::default()
        },
    );
}

#[test]
fn content_reasoning_refusal_and_tool_calls_are_content() {
    for delta in [
        r#"{"content":"hi"}"#,
        r#"{"content":"\u4eba"}"#,
        r#"{"reasoning_content":"hmm","content":null}"#,
        r#"{"reasoning":"We","channel":"analysis"}"#,
        r#"{"refusal":"no"}"#,
        r#"{"tool_calls":[{"index":0,"function":{"arguments":"{"}}]}"#,
    ] {
        let payload = format!(r#"{{"choices":[{{"index":0,"delta":{delta}}}]}}"#);
        check(
            &payload,
            ChunkSummary {
                choices: 1,
                content: true,
                ..Default::default()
            },
        );
    }
}

#[test]
fn usage_on_finish_chunk_and_usage_null() {
    check(
        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}],"usage":{"prompt_tokens":13,"completion_tokens":400,"total_tokens":413,"prompt_cache_hit_tokens":0}}"#,
        ChunkSummary {
            choices: 1,
            finish: true,
            usage: Some(Usage::counted(13, 400)),
            usage_key: true,
            ..Default::default()
        },
    );
    check(
        r#"{"choices":[{"index":0,"delta":{"content":"a"}}],"usage":null}"#,
        ChunkSummary {
            choices: 1,
            content: true,
            usage_key: true,
            ..Default::default()
        },
    );
}

#[test]
fn usage_only_chunk_and_vendor_usage() {
    check(
        r#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#,
        ChunkSummary {
            usage: Some(Usage::counted(1, 2)),
            usage_key: true,
            ..Default::default()
        },
    );
    check(
        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"r","usage":{"prompt_tokens":5,"completion_tokens":6,"total_tokens":11}}}"#,
        ChunkSummary {
            choices: 1,
            finish: true,
            vendor_usage: Some(Usage::counted(5, 6)),
            ..Default::default()
        },
    );
}

#[test]
fn cache_details_of_a_usage_are_read() {
    let cached = |p, c, read, write, write_1h| Usage {
        cached_tokens: read,
        cache_write_tokens: write,
        cache_write_1h_tokens: write_1h,
        ..Usage::counted(p, c)
    };
    check(
        r#"{"choices":[],"usage":{"prompt_tokens":339,"completion_tokens":83,"total_tokens":422,"prompt_tokens_details":{"cached_tokens":320},"completion_tokens_details":{"reasoning_tokens":39},"prompt_cache_hit_tokens":320,"prompt_cache_miss_tokens":19}}"#,
        ChunkSummary {
            usage: Some(cached(339, 83, 320, 0, 0)),
            usage_key: true,
            ..Default::default()
        },
    );
    check(
        r#"{"choices":[],"usage":{"prompt_tokens":30,"completion_tokens":5,"total_tokens":35,"prompt_tokens_details":{"cached_tokens":10,"cache_creation_tokens":8,"cache_creation_1h_tokens":2}}}"#,
        ChunkSummary {
            usage: Some(cached(30, 5, 10, 8, 2)),
            usage_key: true,
            ..Default::default()
        },
    );
    check(
        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"r","usage":{"prompt_tokens":5,"completion_tokens":6,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":4}}}}"#,
        ChunkSummary {
            choices: 1,
            finish: true,
            vendor_usage: Some(cached(5, 6, 4, 0, 0)),
            ..Default::default()
        },
    );
    // A detail that is not a count: the usage is not believed, the chunk still is.
    check(
        r#"{"choices":[],"usage":{"prompt_tokens":30,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":-10}}}"#,
        ChunkSummary {
            usage_key: true,
            usage_unreadable: true,
            ..Default::default()
        },
    );
    check(
        r#"{"choices":[],"usage":{"prompt_tokens":30,"completion_tokens":5,"prompt_tokens_details":"cached"}}"#,
        ChunkSummary {
            usage_key: true,
            usage_unreadable: true,
            ..Default::default()
        },
    );
}

/// Odd usage never fails a chunk: readable counts are read, anything uncertain is
/// reported as no usage (so the gateway estimates) while the chunk stays good.
#[test]
fn odd_usage_is_read_leniently_or_reported_unreadable() {
    let finish = r#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":"#;
    let counted = |p, c| Some(Usage::counted(p, c));
    for (usage, want) in [
        (
            r#"{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}"#,
            counted(12, 3),
        ),
        (
            r#"{"prompt_tokens":12.0,"completion_tokens":3.0,"total_tokens":15.0}"#,
            counted(12, 3),
        ),
        (
            r#"{"prompt_tokens":"12","completion_tokens":"3","total_tokens":"15"}"#,
            counted(12, 3),
        ),
        (
            r#"{"prompt_tokens":12,"completion_tokens":3}"#,
            counted(12, 3),
        ),
        (
            r#"{"prompt_tokens":12,"completion_tokens":3,"total_tokens":7}"#,
            counted(12, 3),
        ),
        (r#"{"prompt_tokens":-12,"completion_tokens":3}"#, None),
        (r#"{"prompt_tokens":12.5,"completion_tokens":3}"#, None),
        (r#"{"prompt_tokens":"twelve","completion_tokens":3}"#, None),
        (
            r#"{"prompt_tokens":{"text":12},"completion_tokens":3}"#,
            None,
        ),
        (
            r#"{"prompt_tokens":12,"completion_tokens":3,"total_tokens":"n/a"}"#,
            None,
        ),
        (r#"{}"#, None),
        (r#""12""#, None),
        (r#"[12,3]"#, None),
        (r#"15"#, None),
    ] {
        let payload = format!("{finish}{usage}}}");
        check(
            &payload,
            ChunkSummary {
                choices: 1,
                finish: true,
                usage: want,
                usage_key: true,
                usage_unreadable: want.is_none(),
                ..Default::default()
            },
        );
    }
    // Counts serde cannot read as numbers at all are unreadable too.
    check(
        &format!(r#"{finish}{{"prompt_tokens":1e400,"completion_tokens":3}}}}"#),
        ChunkSummary {
            choices: 1,
            finish: true,
            usage_key: true,
            usage_unreadable: true,
            ..Default::default()
        },
    );
    check(
        r#"{"choices":[],"x_groq":{"usage":{"prompt_tokens":-1e999}}}"#,
        ChunkSummary::default(),
    );
    // Outside usage, a number is only skipped over: a content that is one is content, but
    // neither mergeable nor text in place.
    let odd = inspect(br#"{"choices":[{"delta":{"content":1e400}}]}"#).unwrap();
    assert!(odd.content && !odd.mergeable && !odd.texts.complete());
    // `null` stays "present, no usage", not unreadable.
    check(
        &format!("{finish}null}}"),
        ChunkSummary {
            choices: 1,
            finish: true,
            usage_key: true,
            ..Default::default()
        },
    );
}

#[test]
fn odd_vendor_usage_never_fails_the_chunk() {
    let groq = |x: &str| format!(r#"{{"choices":[],"x_groq":{x}}}"#);
    let usage = |x: &str| inspect(groq(x).as_bytes()).unwrap().vendor_usage;
    assert_eq!(
        usage(
            r#"{"id":"r","usage":{"queue_time":0.06,"prompt_tokens":18.0,"completion_tokens":"439","total_tokens":457,"total_time":0.79}}"#
        ),
        Some(Usage::counted(18, 439))
    );
    for odd in [
        r#"{"id":"r","usage":{"prompt_tokens":1.5}}"#,
        r#"{"id":"r","usage":null}"#,
        r#"{"id":"r","usage":"lots"}"#,
        r#"{"id":"r","seed":27718886}"#,
        r#""req_1""#,
        r#"[1,{"usage":{"prompt_tokens":1}}]"#,
        r#"null"#,
        r#"7"#,
    ] {
        assert_eq!(usage(odd), None, "{odd}");
    }
}

#[test]
fn error_object() {
    check(
        r#"{"error":{"code":500,"message":"bad","type":"server_error"}}"#,
        ChunkSummary {
            error: true,
            ..Default::default()
        },
    );
}

#[test]
fn not_an_object_is_an_error() {
    assert!(inspect(b"[DONE] {}").is_err());
    assert!(inspect(b"42").is_err());
    assert!(inspect(br#"{"choices":[{"delta":"#).is_err());
}

#[test]
fn append_text_collects_every_kind_of_content() {
    let mut out = String::new();
    append_text(br#"{"choices":[{"delta":{"content":"a\n","reasoning_content":"b"}},{"delta":{"tool_calls":[{"function":{"name":"f","arguments":"{}"}}]}}]}"#, &mut out).unwrap();
    append_text(br#"{"choices":[],"usage":null}"#, &mut out).unwrap();
    assert_eq!(out, "a\nbf{}");
}

#[test]
fn simple_delta_reads_first_choice() {
    let d = simple_delta(
        br#"{"id":"c1","choices":[{"index":1,"delta":{"content":"no"}},{"index":0,"delta":{"content":"yes"},"finish_reason":"stop"}]}"#,
    )
    .unwrap();
    assert_eq!(d.id.as_deref(), Some("c1"));
    assert_eq!(d.content, "yes");
    assert_eq!(d.finish_reason.as_deref(), Some("stop"));
}

#[test]
fn texts_are_the_string_contents_in_payload_order() {
    let payload = br#"{"choices":[{"index":0,"delta":{"reasoning":"a\"b","content":"x","tool_calls":[{"index":0,"id":"c1","function":{"name":"f","arguments":"{\"q"}}]}}]}"#;
    let s = inspect(payload).unwrap();
    assert!(s.texts.complete());
    let found: Vec<(&str, TextKind, bool)> = s
        .texts
        .spans()
        .iter()
        .map(|sp| {
            let text = std::str::from_utf8(&payload[sp.range()]).unwrap();
            (text, sp.kind, sp.escaped)
        })
        .collect();
    assert_eq!(
        found,
        [
            (r#"a\"b"#, TextKind::Text, true),
            ("x", TextKind::Text, false),
            ("f", TextKind::ToolName, false),
            (r#"{\"q"#, TextKind::Arguments, true),
        ]
    );
    let mut text = String::new();
    s.texts.append_to(payload, &mut text).unwrap();
    assert_eq!(text, "a\"bxf{\"q");
}

#[test]
fn only_plain_single_choice_deltas_are_mergeable() {
    let delta = |extra: &str| {
        format!(r#"{{"id":"c","choices":[{{"index":0,"delta":{{"content":"hi"}}{extra}}}]}}"#)
    };
    let mergeable = |p: &str| inspect(p.as_bytes()).unwrap().mergeable;
    assert!(mergeable(&delta("")));
    assert!(mergeable(&delta(
        r#","logprobs":null,"finish_reason":null"#
    )));
    assert!(mergeable(
        r#"{"choices":[{"delta":{"content":"a"}}],"usage":null}"#
    ));
    for not in [
        delta(r#","finish_reason":"stop""#),
        delta(r#","logprobs":{"content":[]}"#),
        r#"{"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"}}]}"#.to_owned(),
        r#"{"choices":[{"delta":{"content":"a"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#.to_owned(),
        r#"{"choices":[{"delta":{"content":[{"type":"text","text":"a"}]}}]}"#.to_owned(),
        r#"{"choices":[{"delta":{"role":"assistant","content":""}}]}"#.to_owned(),
        r#"{"choices":[{"delta":{"content":"a"}}],"error":{"message":"x"}}"#.to_owned(),
    ] {
        assert!(!mergeable(&not), "{not}");
    }
}

#[test]
fn too_many_text_values_are_read_the_slow_way() {
    let calls: Vec<String> = (0..MAX_TEXTS)
        .map(|i| format!(r#"{{"index":{i},"function":{{"name":"f{i}","arguments":"{i}"}}}}"#))
        .collect();
    let payload = format!(
        r#"{{"choices":[{{"delta":{{"tool_calls":[{}]}}}}]}}"#,
        calls.join(",")
    );
    let s = inspect(payload.as_bytes()).unwrap();
    assert!(s.content && !s.texts.complete() && !s.mergeable);
    let (mut fast, mut slow) = (String::new(), String::new());
    s.texts.append_to(payload.as_bytes(), &mut fast).unwrap();
    append_text(payload.as_bytes(), &mut slow).unwrap();
    assert_eq!(fast, slow);
    assert!(fast.starts_with("f00f11"), "{fast}");
}
