//! Every error class: one line naming the origin, the dotted field path and the value.

use sluice_config::{load, parse, ConfigError};

const BASE: &str = r#"
[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:9000/v1"
[routes]
"gpt-4.1" = ["local"]
"#;

fn no_env(_: &str) -> Option<String> {
    None
}

/// Parses `text`, expects an error, checks it
/// is one line starting with the origin and containing every `needles`, and returns it.
fn check(text: &str, field: Option<&str>, needles: &[&str]) -> ConfigError {
    let err = parse(text, "sluice.toml", &no_env).expect_err("config should be rejected");
    let msg = err.to_string();
    assert!(!msg.contains('\n'), "not one line: {msg}");
    assert!(msg.starts_with("sluice.toml"), "no origin: {msg}");
    assert_eq!(err.field(), field, "{msg}");
    if let Some(field) = field {
        assert!(msg.starts_with(&format!("sluice.toml: {field}: ")), "{msg}");
    }
    for needle in needles {
        assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
    }
    err
}

fn with_base(extra: &str) -> String {
    format!("{extra}\n{BASE}")
}

#[test]
fn unknown_key_top_level() {
    check("lisen = \"x\"", Some("lisen"), &["unknown field", "lisen"]);
}

#[test]
fn unknown_key_nested() {
    check(
        &format!("{BASE}\n[stream]\nbogus = 1\n"),
        Some("stream.bogus"),
        &["unknown field", "bogus"],
    );
    check(
        &format!("{BASE}\n[providers.local.timeouts]\nconect = \"1s\"\n"),
        Some("providers.local.timeouts.conect"),
        &["unknown field"],
    );
    check(
        "[providers.p]\nkind = \"mock\"\nprices = { m = { input = 1, output = 2, cached = 0 } }",
        Some("providers.p.prices.m.cached"),
        &["unknown field"],
    );
    check(
        "[providers.p]\nkind = \"mock\"\n[routes]\nx = [{ provider = \"p\", modle = \"y\" }]",
        Some("routes.x[0].modle"),
        &["unknown field"],
    );
}

#[test]
fn bad_duration() {
    check(
        &format!("{BASE}\n[providers.local.timeouts]\nconnect = \"10x\"\n"),
        Some("providers.local.timeouts.connect"),
        &[r#"invalid duration "10x": expected a number followed by a unit such as 250ms, 10s, 5m"#],
    );
    check(
        &with_base("shutdown_grace = \"soon\""),
        Some("shutdown_grace"),
        &["\"soon\""],
    );
    check(
        &format!("{BASE}\n[stream]\nkeepalive = \"0s\"\n"),
        Some("stream.keepalive"),
        &["greater than zero", "\"0s\""],
    );
}

#[test]
fn bad_kind() {
    check(
        "[providers.x]\nkind = \"claude\"",
        Some("providers.x.kind"),
        &[
            "unknown provider kind \"claude\"",
            "\"anthropic\", \"gemini\"",
        ],
    );
    check(
        "[providers.x]\nkind = \"openai\"\nbase_url = \"http://h\"\ndefault_max_tokens = 100",
        Some("providers.x.default_max_tokens"),
        &[
            "only a provider of kind \"anthropic\" or \"gemini\"",
            "\"openai\"",
        ],
    );
    check(
        "[providers.x]\nkind = \"anthropic\"\nresponses = true",
        Some("providers.x.responses"),
        &["only a provider of kind \"openai\"", "\"anthropic\""],
    );
    check(
        "[providers.x]\nkind = \"anthropic\"\ndefault_max_tokens = 0",
        Some("providers.x.default_max_tokens"),
        &["at least 1"],
    );
    check(
        "[providers.x]\nbase_url = \"http://h\"",
        Some("providers.x.kind"),
        &["missing"],
    );
}

#[test]
fn base_url_missing_or_bad() {
    check(
        "[providers.x]\nkind = \"openai\"",
        Some("providers.x.base_url"),
        &["required", "openai"],
    );
    check(
        "[providers.x]\nkind = \"openai\"\nbase_url = \"ftp://h\"",
        Some("providers.x.base_url"),
        &["\"ftp://h\"", "http://"],
    );
}

#[test]
fn route_to_unknown_provider() {
    check(
        &format!("{BASE}\"fast\" = [\"local\", \"nowhere\"]\n"),
        Some("routes.fast[1]"),
        &["unknown provider \"nowhere\""],
    );
    check(
        &format!("{BASE}\"gpt-5.1\" = [{{ provider = \"ghost\", model = \"m\" }}]\n"),
        Some(r#"routes."gpt-5.1"[0].provider"#),
        &["\"ghost\""],
    );
    check(
        &format!("{BASE}empty = []\n"),
        Some("routes.empty"),
        &["no providers"],
    );
}

#[test]
fn unset_env_var_in_required_provider() {
    let text = "[providers.holysheep]\nkind = \"openai\"\nbase_url = \"https://h\"\napi_key = \"${HOLYSHEEP_API_KEY}\"";
    let err = check(
        text,
        Some("providers.holysheep.api_key"),
        &["environment variable HOLYSHEEP_API_KEY is not set"],
    );
    assert_eq!(
        err.to_string(),
        "sluice.toml: providers.holysheep.api_key: environment variable HOLYSHEEP_API_KEY is not set"
    );
    check("redis = \"${REDIS}\"", Some("redis"), &["REDIS is not set"]);
    check(
        "[cors]\nallow_origins = [\"a\", \"${ORIGIN}\"]",
        Some("cors.allow_origins[1]"),
        &["ORIGIN"],
    );
}

#[test]
fn bad_interpolation_syntax() {
    check(
        "ledger = \"sqlite://${DIR\"",
        Some("ledger"),
        &["unterminated", "${DIR"],
    );
    check(
        "ledger = \"${9X}\"",
        Some("ledger"),
        &["invalid environment variable name", "9X"],
    );
}

#[test]
fn optional_provider_is_still_checked_for_shape() {
    check(
        "[providers.h]\nkind = \"openai\"\noptional = true\napi_key = \"${K}\"\nbase_ur = \"x\"",
        Some("providers.h.base_ur"),
        &["unknown field"],
    );
}

#[test]
fn bad_listen_address() {
    check(
        &with_base("listen = \"localhost:80800\""),
        Some("listen"),
        &["invalid listen address \"localhost:80800\""],
    );
}

#[test]
fn bad_max_body() {
    check(
        &with_base("max_body = \"10XB\""),
        Some("max_body"),
        &["invalid size \"10XB\""],
    );
    check(
        &with_base("max_body = -5"),
        Some("max_body"),
        &["invalid size -5"],
    );
    check(
        &with_base("max_body = 0"),
        Some("max_body"),
        &["invalid size 0"],
    );
}

#[test]
fn buffer_events_zero() {
    check(
        &format!("{BASE}\n[stream]\nbuffer_events = 0\n"),
        Some("stream.buffer_events"),
        &["at least 1", "got 0"],
    );
}

#[test]
fn bad_slow_client() {
    check(
        &format!("{BASE}\n[stream]\nslow_client = \"drop\"\n"),
        Some("stream.slow_client"),
        &["\"drop\"", "coalesce", "block"],
    );
}

#[test]
fn wrong_types_and_numbers() {
    check(
        &format!("{BASE}\n[retry]\nattempts = \"two\"\n"),
        Some("retry.attempts"),
        &["invalid type", "two"],
    );
    check(
        "[providers.p]\nkind = \"mock\"\nbilling = { per_usd = 0 }",
        Some("providers.p.billing.per_usd"),
        &["greater than zero", "got 0"],
    );
    check(
        "[providers.p]\nkind = \"mock\"\n[providers.p.prices]\n\"m-1.0\" = { input = -1, output = 1 }",
        Some(r#"providers.p.prices."m-1.0".input"#),
        &["got -1"],
    );
    for key in ["cache_read", "cache_write", "cache_write_1h"] {
        check(
            &format!(
                "[providers.p]\nkind = \"mock\"\n[providers.p.prices]\n\"m-1.0\" = {{ input = 1, output = 1, {key} = -0.5 }}"
            ),
            Some(&format!(r#"providers.p.prices."m-1.0".{key}"#)),
            &["zero or more", "got -0.5"],
        );
    }
    check(
        "[providers.p]\nkind = \"mock\"\n[providers.p.prices]\nm = { input = 1, output = 1, cache_read = nan }",
        Some("providers.p.prices.m.cache_read"),
        &["got NaN"],
    );
    check(
        "[providers.p]\nkind = \"mock\"\n[providers.p.prices]\nm = { input = 1 }",
        Some("providers.p.prices.m.output"),
        &["missing"],
    );
    check(
        "display_currency = \"yens\"",
        Some("display_currency"),
        &["\"yens\""],
    );
    check("ledger = \"mysql://x\"", Some("ledger"), &["\"mysql://x\""]);
}

#[test]
fn several_problems_are_counted() {
    let err = check(
        "listen = \"nope\"\nshutdown_grace = \"x\"\nmax_body = \"y\"",
        Some("listen"),
        &["(and 2 more problems)"],
    );
    assert!(err.to_string().contains("\"nope\""));
}

#[test]
fn toml_syntax_error_has_line_and_column() {
    let err = check(
        "listen = \"127.0.0.1:8080\"\n\n[stream\n",
        None,
        &["invalid TOML"],
    );
    let msg = err.to_string();
    assert!(msg.starts_with("sluice.toml:3:"), "{msg}");
    assert!(matches!(err, ConfigError::Syntax { line: 3, .. }), "{msg}");
}

#[test]
fn unreadable_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.toml");
    let err = load(Some(&path), &no_env).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{}: cannot read config: ", path.display())),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
}

#[test]
fn load_names_the_file_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[stream]\nbuffer_events = 0\n").unwrap();
    let msg = load(Some(&path), &no_env).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("{}: stream.buffer_events: ", path.display())),
        "{msg}"
    );
}

#[test]
fn stream_override_unknown_key() {
    check(
        &format!("{BASE}\n[stream.routes.\"gpt-4.1\"]\nbuffer = 4\n"),
        Some(r#"stream.routes."gpt-4.1".buffer"#),
        &["unknown field", "buffer"],
    );
    check(
        &format!("{BASE}\n[stream.routes.\"gpt-4.1\"]\nretry = {{ attempts = 1 }}\n"),
        Some(r#"stream.routes."gpt-4.1".retry"#),
        &["unknown field"],
    );
}

#[test]
fn stream_override_bad_values() {
    check(
        &format!("{BASE}\n[stream.routes.\"gpt-4.1\"]\nbuffer_events = 0\n"),
        Some(r#"stream.routes."gpt-4.1".buffer_events"#),
        &["at least 1", "got 0"],
    );
    check(
        &format!("{BASE}\n[stream.routes.\"gpt-4.1\"]\nbuffer_events = -3\n"),
        Some(r#"stream.routes."gpt-4.1".buffer_events"#),
        &["-3"],
    );
    check(
        &format!("{BASE}\n[stream.routes.\"gpt-4.1\"]\nslow_client = \"drop\"\n"),
        Some(r#"stream.routes."gpt-4.1".slow_client"#),
        &["\"drop\"", "coalesce", "block"],
    );
    check(
        &format!("{BASE}\n[stream.routes.\"gpt-4.1\"]\nslow_client_timeout = \"soon\"\n"),
        Some(r#"stream.routes."gpt-4.1".slow_client_timeout"#),
        &["invalid duration \"soon\""],
    );
    check(
        &format!("{BASE}\n[stream.routes.\"gpt-4.1\"]\nkeepalive = \"0ms\"\n"),
        Some(r#"stream.routes."gpt-4.1".keepalive"#),
        &["greater than zero", "\"0ms\""],
    );
    check(
        &format!("{BASE}\n[stream.routes.\"gpt-4.1\"]\nslow_client_timeout = \"0s\"\n"),
        Some(r#"stream.routes."gpt-4.1".slow_client_timeout"#),
        &["greater than zero", "\"0s\""],
    );
    check(
        &format!("{BASE}\n[stream.routes]\n\"gpt-4.1\" = 5\n"),
        Some(r#"stream.routes."gpt-4.1""#),
        &["invalid type"],
    );
}

#[test]
fn stream_override_for_an_unknown_route() {
    let err = check(
        &format!("{BASE}\n[stream.routes.nope]\nslow_client = \"block\"\n"),
        Some("stream.routes.nope"),
        &["no route named \"nope\""],
    );
    assert_eq!(
        err.to_string(),
        "sluice.toml: stream.routes.nope: no route named \"nope\": not defined under [routes]"
    );
    check(
        &format!("{BASE}\n[stream.routes.\"gpt-4.2\"]\n"),
        Some(r#"stream.routes."gpt-4.2""#),
        &["no route named \"gpt-4.2\""],
    );
    // The route is named first; a bad value in the same table is counted after it.
    check(
        &format!("{BASE}\n[stream.routes.nope]\nbuffer_events = 0\n"),
        Some("stream.routes.nope"),
        &["no route named", "(and 1 more problem)"],
    );
}

#[test]
fn stream_override_of_a_skipped_route_is_still_checked() {
    let text = "[providers.h]\nkind = \"openai\"\nbase_url = \"https://h\"\noptional = true\napi_key = \"${K}\"\n[routes]\nr = [\"h\"]\n[stream.routes.r]\nbuffer_events = 0\n";
    check(text, Some("stream.routes.r.buffer_events"), &["at least 1"]);
}

#[test]
fn circuit_breaker_unknown_key() {
    check(
        &format!("{BASE}\n[circuit_breaker]\nfailure = 3\n"),
        Some("circuit_breaker.failure"),
        &["unknown field", "failure"],
    );
    check(
        &format!("{BASE}\n[circuit_breaker]\ncooldown_ms = 700\n"),
        Some("circuit_breaker.cooldown_ms"),
        &["unknown field", "cooldown_ms"],
    );
}

#[test]
fn circuit_breaker_bad_values() {
    let err = check(
        &format!("{BASE}\n[circuit_breaker]\nfailures = 0\n"),
        Some("circuit_breaker.failures"),
        &["at least 1", "got 0"],
    );
    assert_eq!(
        err.to_string(),
        "sluice.toml: circuit_breaker.failures: must be at least 1 (got 0)"
    );
    check(
        &format!("{BASE}\n[circuit_breaker]\nfailures = -2\n"),
        Some("circuit_breaker.failures"),
        &["-2"],
    );
    check(
        &format!("{BASE}\n[circuit_breaker]\nfailures = \"five\"\n"),
        Some("circuit_breaker.failures"),
        &["invalid type", "five"],
    );
    check(
        &format!("{BASE}\n[circuit_breaker]\ncooldown = \"0s\"\n"),
        Some("circuit_breaker.cooldown"),
        &["greater than zero", "\"0s\""],
    );
    check(
        &format!("{BASE}\n[circuit_breaker]\ncooldown = \"soon\"\n"),
        Some("circuit_breaker.cooldown"),
        &[r#"invalid duration "soon": expected a number followed by a unit"#],
    );
    check(
        &format!("{BASE}\n[circuit_breaker]\ncooldown = \"700\"\n"),
        Some("circuit_breaker.cooldown"),
        &["invalid duration \"700\""],
    );
    check(
        &format!("{BASE}\n[circuit_breaker]\ncooldown = 700\n"),
        Some("circuit_breaker.cooldown"),
        &["invalid type"],
    );
    check(
        &with_base("circuit_breaker = 5"),
        Some("circuit_breaker"),
        &["invalid type"],
    );
    // Both wrong: the first is named, the other counted.
    check(
        &format!("{BASE}\n[circuit_breaker]\nfailures = 0\ncooldown = \"0s\"\n"),
        Some("circuit_breaker.failures"),
        &["(and 1 more problem)"],
    );
}

#[test]
fn auth_and_limits_unknown_keys() {
    check(
        &format!("{BASE}\n[auth]\nmetric = \"open\"\n"),
        Some("auth.metric"),
        &["unknown field", "metric"],
    );
    check(
        &format!("{BASE}\n[limits]\nrpm = 10\n"),
        Some("limits.rpm"),
        &["unknown field", "rpm"],
    );
    check(
        &format!("{BASE}\n[limits]\non_error = \"open\"\n"),
        Some("limits.on_error"),
        &["unknown field", "on_error"],
    );
}

#[test]
fn auth_and_limits_bad_values() {
    let err = check(
        &format!("{BASE}\n[auth]\nmetrics = \"private\"\n"),
        Some("auth.metrics"),
        &[],
    );
    assert_eq!(
        err.to_string(),
        "sluice.toml: auth.metrics: invalid value \"private\": expected \"open\" or \"admin\""
    );
    check(
        &format!("{BASE}\n[auth]\nmetrics = true\n"),
        Some("auth.metrics"),
        &["invalid type"],
    );
    check(
        &format!("{BASE}\n[auth]\nrequired = \"yes\"\n"),
        Some("auth.required"),
        &["invalid type"],
    );
    let err = check(
        &format!("{BASE}\n[limits]\non_store_error = \"fail\"\n"),
        Some("limits.on_store_error"),
        &[],
    );
    assert_eq!(
        err.to_string(),
        "sluice.toml: limits.on_store_error: invalid value \"fail\": expected \"closed\" or \"open\""
    );
    let err = check(
        &format!("{BASE}\n[limits]\ndefault_max_tokens = 0\n"),
        Some("limits.default_max_tokens"),
        &[],
    );
    assert_eq!(
        err.to_string(),
        "sluice.toml: limits.default_max_tokens: must be at least 1 (got 0)"
    );
    for bad in ["-5", "4294967296", "\"4096\"", "1.5"] {
        check(
            &format!("{BASE}\n[limits]\ndefault_max_tokens = {bad}\n"),
            Some("limits.default_max_tokens"),
            &[],
        );
    }
    check(
        &with_base("limits = \"closed\""),
        Some("limits"),
        &["invalid type"],
    );
    // Both wrong: the first is named, the other counted.
    check(
        &format!("{BASE}\n[auth]\nmetrics = \"x\"\n[limits]\non_store_error = \"y\"\n"),
        Some("auth.metrics"),
        &["(and 1 more problem)"],
    );
}
