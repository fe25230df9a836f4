//! `sluice bench`, black-box: the real binary against the simulated provider (also the real
//! binary), checking the measured numbers, `--compare`, and the exit status and single
//! stderr line of the failures.

mod common;

use std::process::{Command, Output, Stdio};

use common::Proc;
use serde_json::Value;

/// Runs `sluice bench <args>` to its end.
fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("bench")
        .args(args)
        .env_remove("SLUICE_API_KEY")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .expect("run sluice bench")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The one JSON document on stdout of a successful run.
fn json(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", stdout(out)))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn upstream() -> Proc {
    Proc::mock_upstream(&["--tokens", "20", "--ttft", "0ms", "--itl", "0ms"])
}

fn v1(up: &Proc) -> String {
    up.url("/v1")
}

#[test]
fn measures_ttft_gaps_and_tokens_of_the_simulated_provider() {
    let up = upstream();
    let base = v1(&up);
    let out = bench(&[
        "--base-url",
        &base,
        "--model",
        "mock",
        "--requests",
        "6",
        "--concurrency",
        "2",
        "--json",
        "--header",
        "x-mock-ttft-ms: 200",
        "--header",
        "x-mock-itl-ms: 20",
    ]);
    let doc = json(&out);
    let r = &doc["report"];
    assert_eq!(r["requests"], 6, "{r}");
    assert_eq!(r["ok"], 6, "{r}");
    assert_eq!(r["errors"], serde_json::json!({}), "{r}");
    assert_eq!(r["completion_tokens"], 120, "{r}");
    let ttft = f(&r["ttft"]["p50_ms"]);
    assert!((200.0..400.0).contains(&ttft), "ttft p50 {ttft}: {r}");
    // The simulated provider paces tokens on absolute deadlines, so the gap after a token
    // that went out late is a little short: single gaps (and so the median) sit around
    // 20 ms on either side, while their mean cannot fall far below it.
    let gap = f(&r["gap"]["p50_ms"]);
    assert!((15.0..60.0).contains(&gap), "gap p50 {gap}: {r}");
    let gap_mean = f(&r["gap"]["mean_ms"]);
    assert!((18.0..60.0).contains(&gap_mean), "gap mean {gap_mean}: {r}");
    assert_eq!(r["gap"]["count"], 6 * 19, "{r}");
    assert!(f(&r["tpot"]["p50_ms"]) >= 19.0, "{r}");
    assert!(f(&r["total"]["min_ms"]) >= 200.0 + 19.0 * 20.0 - 5.0, "{r}");
    assert_eq!(r["ttft"]["count"], 6);
    assert!(f(&r["tokens_per_s"]) > 0.0);
    // No terminal, no progress bar: nothing on stderr.
    assert_eq!(stderr(&out).trim(), "", "stderr should be quiet");
}

#[test]
fn without_delays_the_first_token_is_quick() {
    let up = upstream();
    let base = v1(&up);
    let doc = json(&bench(&[
        "--base-url",
        &base,
        "--model",
        "mock",
        "--requests",
        "6",
        "--concurrency",
        "2",
        "--json",
    ]));
    let r = &doc["report"];
    assert_eq!(r["ok"], 6, "{r}");
    assert_eq!(r["completion_tokens"], 120, "{r}");
    assert!(f(&r["ttft"]["p50_ms"]) < 100.0, "{r}");
}

#[test]
fn a_read_delay_slows_the_client_but_the_request_completes() {
    let up = Proc::mock_upstream(&["--tokens", "10", "--ttft", "0ms", "--itl", "0ms"]);
    let base = v1(&up);
    let doc = json(&bench(&[
        "--base-url",
        &base,
        "--model",
        "mock",
        "--requests",
        "1",
        "--read-delay",
        "20ms",
        "--json",
    ]));
    let r = &doc["report"];
    assert_eq!(r["requests"], 1, "{r}");
    assert_eq!(r["ok"], 1, "{r}");
    assert_eq!(r["errors"], serde_json::json!({}), "{r}");
    assert_eq!(r["completion_tokens"], 10, "{r}");
    // A body of 10 tokens takes at least one read that returns data, and every such read is
    // followed by a 20 ms wait before the next one (the one that sees the end at the
    // latest): a lower bound only, since how the bytes split into reads is not known.
    let total = f(&r["total"]["p50_ms"]);
    assert!(total >= 20.0, "total p50 {total}: {r}");

    // The table says the client was slowed.
    let out = bench(&[
        "--base-url",
        &base,
        "--model",
        "mock",
        "--requests",
        "1",
        "--read-delay",
        "20ms",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("read delay 20ms"), "{}", stdout(&out));

    // A duration that does not parse is a usage error.
    let out = bench(&[
        "--base-url",
        &base,
        "--model",
        "mock",
        "--read-delay",
        "soon",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn compare_reports_both_targets_and_the_difference() {
    let up = upstream();
    let base = v1(&up);
    let doc = json(&bench(&[
        "--base-url",
        &base,
        "--model",
        "mock",
        "--requests",
        "4",
        "--concurrency",
        "2",
        "--json",
        "--compare",
        &base,
    ]));
    for side in ["a", "b"] {
        assert_eq!(doc[side]["ok"], 4, "{side}: {doc}");
        assert_eq!(doc[side]["requests"], 4, "{side}: {doc}");
        assert_eq!(doc[side]["completion_tokens"], 80, "{side}: {doc}");
    }
    let diff = &doc["diff"];
    for metric in ["ttft", "tpot", "gap", "total"] {
        assert!(diff[metric]["p50_ms"].is_number(), "{diff}");
        assert!(diff[metric]["p99_ms"].is_number(), "{diff}");
    }
    assert!(f(&diff["tokens_per_s_ratio"]) > 0.0, "{diff}");
}

#[test]
fn tables_by_default_and_for_compare() {
    let up = upstream();
    let base = v1(&up);
    let common = ["--base-url", &base, "--model", "mock", "--requests", "2"];
    let out = bench(&common);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for word in [
        "ttft", "tpot", "gap", "total", "p50", "p99", "tokens/s", "errors",
    ] {
        assert!(text.contains(word), "missing {word}:\n{text}");
    }
    assert!(serde_json::from_str::<Value>(&text).is_err());

    let mut args = common.to_vec();
    args.extend(["--compare", &base]);
    let out = bench(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.matches("ttft").count(), 3, "{text}");
    assert!(text.contains("difference (B - A)"), "{text}");
    assert!(text.contains("B/A"), "{text}");
}

#[test]
fn a_refused_port_exits_1_with_one_line_naming_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let out = bench(&["--base-url", &url, "--model", "mock", "--requests", "3"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("cannot connect to"), "{err}");
    assert!(err.contains(&url), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(stdout(&out), "");

    // The same when only the second target of a comparison is down.
    let up = upstream();
    let base = v1(&up);
    let out = bench(&[
        "--base-url",
        &base,
        "--model",
        "mock",
        "--requests",
        "2",
        "--compare",
        &url,
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(&url), "{err}");
}

#[test]
fn bad_usage_exits_2() {
    let out = bench(&["--base-url", "not-a-url", "--model", "mock"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("not-a-url"), "{err}");

    let out = bench(&[
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model",
        "mock",
        "--header",
        "no colon here",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let out = bench(&[
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model",
        "mock",
        "--prompt-file",
        "/nonexistent/prompt.txt",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("/nonexistent/prompt.txt"));
}

#[test]
fn streams_the_responses_and_messages_apis_too() {
    let up = upstream();
    let base = v1(&up);
    let gw = Proc::gateway_builtin();
    let gw_base = gw.url("/v1");
    for (api, base) in [
        ("responses", &base),
        ("messages", &base),
        ("responses", &gw_base),
        ("messages", &gw_base),
    ] {
        let doc = json(&bench(&[
            "--base-url",
            base,
            "--api",
            api,
            "--model",
            "mock",
            "--requests",
            "4",
            "--concurrency",
            "2",
            "--header",
            "x-mock-tokens: 20",
            "--json",
        ]));
        let r = &doc["report"];
        assert_eq!(r["ok"], 4, "{api} at {base}: {r}");
        assert_eq!(r["errors"], serde_json::json!({}), "{r}");
        assert_eq!(r["completion_tokens"], 80, "{api} at {base}: {r}");
        assert_eq!(r["ttft"]["count"], 4, "{r}");
        assert_eq!(
            r["gap"]["count"],
            4 * 19,
            "one content event per token: {r}"
        );
    }
    // A stream that fails mid-way is counted as the API's own stream error.
    let doc = json(&bench(&[
        "--base-url",
        &base,
        "--api",
        "messages",
        "--model",
        "mock-error-midstream",
        "--requests",
        "2",
        "--json",
    ]));
    assert_eq!(doc["report"]["ok"], 0, "{doc}");
    assert_eq!(doc["report"]["errors"]["stream_error"], 2, "{doc}");
}
