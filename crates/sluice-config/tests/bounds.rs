//! Every duration, size and count has an upper bound (`sluice_config::bounds`): a value at
//! the bound loads, one past it (or too large to represent at all) is a one-line error naming
//! the field and the bound.

use sluice_config::bounds::{
    MAX_BREAKER_FAILURES, MAX_BUFFER_EVENTS, MAX_CONNECTIONS, MAX_DEFAULT_MAX_TOKENS, MAX_DURATION,
    MAX_RETRY_ATTEMPTS, MAX_SIZE,
};
use sluice_config::{parse, Config};

const BASE: &str = "[providers.p]\nkind = \"mock\"\n[routes]\nr = [\"p\"]\n";

fn no_env(_: &str) -> Option<String> {
    None
}

/// A config setting `key = value` in `table` (`""` for the top level).
fn doc(table: &str, key: &str, value: &str) -> String {
    if table.is_empty() {
        format!("{key} = {value}\n{BASE}")
    } else {
        format!("{BASE}[{table}]\n{key} = {value}\n")
    }
}

fn accepted(table: &str, key: &str, value: &str) -> Config {
    let text = doc(table, key, value);
    parse(&text, "sluice.toml", &no_env)
        .unwrap_or_else(|e| panic!("{table}.{key} = {value} refused: {e}"))
}

/// Expects `key = value` in `table` refused with a one-line message naming the field first
/// and holding every needle.
fn refused(table: &str, key: &str, value: &str, needles: &[&str]) {
    let field = if table.is_empty() {
        key.to_owned()
    } else {
        format!("{table}.{key}")
    };
    let err = parse(&doc(table, key, value), "sluice.toml", &no_env)
        .expect_err(&format!("{field} = {value} accepted"));
    let msg = err.to_string();
    assert!(!msg.contains('\n'), "not one line: {msg}");
    assert_eq!(err.field(), Some(field.as_str()), "{msg}");
    assert!(msg.starts_with(&format!("sluice.toml: {field}: ")), "{msg}");
    for needle in needles {
        assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
    }
}

/// Every duration the file can set, as (table, key).
const DURATIONS: [(&str, &str); 15] = [
    ("", "shutdown_grace"),
    ("providers.p.timeouts", "connect"),
    ("providers.p.timeouts", "first_token"),
    ("providers.p.timeouts", "idle"),
    ("providers.p.timeouts", "total"),
    ("stream", "slow_client_timeout"),
    ("stream", "keepalive"),
    ("stream.routes.r", "slow_client_timeout"),
    ("stream.routes.r", "keepalive"),
    ("retry", "backoff"),
    ("retry", "max_retry_after"),
    ("circuit_breaker", "cooldown"),
    ("server", "header_timeout"),
    ("server", "body_timeout"),
    ("server", "idle_timeout"),
];

#[test]
fn durations_are_at_most_a_year() {
    assert_eq!(MAX_DURATION.as_secs(), 31_557_600);
    for (table, key) in DURATIONS {
        accepted(table, key, "\"1y\"");
        accepted(table, key, "\"365d\"");
        for too_long in [
            "1y 1s",
            "366d",
            "2y",
            "1000000000y",
            "99999999999999999999y",
            "18446744073709551615s",
            "99999999999999999999ms",
        ] {
            refused(
                table,
                key,
                &format!("{too_long:?}"),
                &["must be at most 1y", &format!("(got {too_long:?})")],
            );
        }
    }
}

/// Every byte size the file can set, as (table, key).
const SIZES: [(&str, &str); 3] = [
    ("", "max_body"),
    ("server", "max_response_body"),
    ("stream", "send_buffer"),
];

#[test]
fn sizes_are_at_most_a_gibibyte() {
    assert_eq!(MAX_SIZE, 1 << 30);
    for (table, key) in SIZES {
        for at_bound in ["\"1GiB\"", "1073741824", "\"1073741824\"", "\"1GB\""] {
            accepted(table, key, at_bound);
        }
        for too_large in [
            "\"1073741825\"",
            "\"2GiB\"",
            "\"1025MiB\"",
            "\"99999999999GiB\"",
            "\"99999999999999999999\"",
            "1073741825",
            "9223372036854775807",
        ] {
            refused(
                table,
                key,
                too_large,
                &["must be at most 1GiB", &format!("(got {too_large})")],
            );
        }
    }
}

#[test]
fn counts_have_bounds() {
    let cases: [(&str, &str, u64); 6] = [
        ("stream", "buffer_events", MAX_BUFFER_EVENTS as u64),
        ("stream.routes.r", "buffer_events", MAX_BUFFER_EVENTS as u64),
        ("retry", "attempts", u64::from(MAX_RETRY_ATTEMPTS)),
        ("server", "max_connections", MAX_CONNECTIONS as u64),
        (
            "limits",
            "default_max_tokens",
            u64::from(MAX_DEFAULT_MAX_TOKENS),
        ),
        (
            "circuit_breaker",
            "failures",
            u64::from(MAX_BREAKER_FAILURES),
        ),
    ];
    for (table, key, max) in cases {
        accepted(table, key, &max.to_string());
        let over = max + 1;
        refused(
            table,
            key,
            &over.to_string(),
            &[&format!("must be at most {max} (got {over})")],
        );
        // Far past the bound: refused by the bound, or by the field's type.
        refused(table, key, "9223372036854775807", &["9223372036854775807"]);
    }
    assert_eq!(MAX_BUFFER_EVENTS, 1_000_000);
    assert_eq!(MAX_RETRY_ATTEMPTS, 100);
    assert_eq!(MAX_CONNECTIONS, 10_000_000);
    assert_eq!(MAX_DEFAULT_MAX_TOKENS, 10_000_000);
    assert_eq!(MAX_BREAKER_FAILURES, 1_000_000);
    // Zero retries is allowed: only the first attempt.
    assert_eq!(accepted("retry", "attempts", "0").retry.attempts, 0);
}

#[test]
fn exact_messages() {
    let err = parse("shutdown_grace = \"1000000000y\"", "sluice.toml", &no_env).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sluice.toml: shutdown_grace: must be at most 1y (got \"1000000000y\")"
    );
    let err = parse("max_body = \"99999999999GiB\"", "sluice.toml", &no_env).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sluice.toml: max_body: must be at most 1GiB (got \"99999999999GiB\")"
    );
    let err = parse("[retry]\nattempts = 101", "sluice.toml", &no_env).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sluice.toml: retry.attempts: must be at most 100 (got 101)"
    );
}

#[test]
fn every_value_past_its_bound_is_counted() {
    let text = "shutdown_grace = \"2y\"\nmax_body = \"2GiB\"\n\
                [retry]\nattempts = 1000\nbackoff = \"5y\"\n\
                [stream]\nbuffer_events = 2000000\n\
                [server]\nmax_connections = 99999999\nidle_timeout = \"1000000000y\"\n";
    let msg = parse(text, "sluice.toml", &no_env).unwrap_err().to_string();
    assert!(
        msg.starts_with("sluice.toml: shutdown_grace: must be at most 1y"),
        "{msg}"
    );
    assert!(msg.ends_with("(and 6 more problems)"), "{msg}");
}
