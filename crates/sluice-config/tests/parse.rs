//! Happy paths: the SPEC §2 example, defaults, aliases, optional providers, per-route stream
//! overrides, builtin, load.

use std::str::FromStr;
use std::time::Duration;

use sluice_config::{
    builtin, load, parse, Auth, CircuitBreaker, LedgerSetting, Limits, MetricsAccess, OnStoreError,
    Origin, ProviderKind, Retry, Server, SkippedProvider, SlowClient, StreamOverride,
    StreamSettings, Target, DEFAULT_MAX_TOKENS,
};
use sluice_types::Decimal;

/// SPEC §2's example, verbatim: keep it a copy of the contract's text, so every key the
/// contract shows is known to parse.
const SPEC_EXAMPLE: &str = r#"
listen = "127.0.0.1:8080"
ledger = "sqlite://sluice.db"          # or "postgres://user@host/db"
redis  = "redis://127.0.0.1:6379"      # optional: shared limits across replicas
display_currency = "JPY"
max_body = "10MiB"                     # a larger request body: 413
shutdown_grace = "30s"                 # SIGTERM: open streams finish and the ledger flushes within it

[providers.holysheep]
kind = "openai"                        # OpenAI-compatible /chat/completions
base_url = "https://api.holysheep.ai/v1"
api_key = "${HOLYSHEEP_API_KEY}"
optional = true
billing = { currency = "JPY", per_usd = 1.0 }   # what one USD of list price costs here
timeouts = { connect = "10s", first_token = "60s", idle = "30s", total = "10m" }
[providers.holysheep.prices]           # USD per million tokens
"gpt-4.1"       = { input = 2.00, output = 8.00 }
"deepseek-v3.2" = { input = 0.27, output = 0.42 }

[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:9000/v1"
api_key = "unused"

[routes]                               # model asked for -> providers tried in order
"gpt-4.1" = ["holysheep", "local"]
"fast"    = [{ provider = "local", model = "mock-1" }]   # alias with the provider's model name

[stream]
buffer_events = 64                     # per-stream queue between upstream reader and client writer
slow_client = "coalesce"               # or "block"
slow_client_timeout = "30s"
keepalive = "15s"                      # SSE comment while nothing else is sent

[cors]
allow_origins = ["*"]

[retry]
attempts = 2
backoff = "200ms"
max_retry_after = "10s"

[auth]
required = false                       # true: keys needed even before the first key exists
metrics = "open"                       # or "admin"

[limits]
on_store_error = "closed"              # Redis unreachable: "closed" (503) or "open" (per-replica)

[server]
allowed_hosts = []                     # optional Host allow-list (DNS rebinding), empty = any
header_timeout = "10s"                 # the whole request head must arrive within this
body_timeout = "30s"                   # the whole request body must arrive within this
idle_timeout = "60s"                   # a keep-alive connection with no request is closed
max_connections = 10000                # beyond it, accept waits (backpressure), never a crash
max_response_body = "8MiB"             # a non-streaming provider answer larger than this: 502
"#;

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn with_key(name: &str) -> Option<String> {
    (name == "HOLYSHEEP_API_KEY").then(|| "sk-test-123".to_owned())
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn target(provider: &str, model: &str) -> Target {
    Target {
        provider: provider.to_owned(),
        model: model.to_owned(),
    }
}

#[test]
fn spec_example_with_key() {
    let cfg = parse(SPEC_EXAMPLE, "sluice.toml", &with_key).unwrap();
    assert_eq!(cfg.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(cfg.redis.as_deref(), Some("redis://127.0.0.1:6379"));
    assert_eq!(cfg.display_currency, "JPY");
    assert_eq!(cfg.origin, Origin::File("sluice.toml".into()));
    assert!(cfg.skipped_providers.is_empty());

    let hs = &cfg.providers["holysheep"];
    assert_eq!(hs.kind, ProviderKind::OpenAi);
    assert_eq!(hs.base_url, "https://api.holysheep.ai/v1");
    assert_eq!(hs.api_key.as_ref().unwrap().expose(), "sk-test-123");
    assert_eq!(hs.billing.currency, "JPY");
    assert_eq!(hs.billing.per_usd, Decimal::ONE);
    assert_eq!(hs.timeouts.total, Duration::from_secs(600));
    // Amounts are the decimals written, not their nearest f64.
    assert_eq!(hs.prices["deepseek-v3.2"].output, dec("0.42"));
    assert_eq!(hs.prices["deepseek-v3.2"].input, dec("0.27"));
    assert_eq!(hs.prices["gpt-4.1"].input, dec("2"));

    let models: Vec<&str> = cfg.routes.iter().map(|r| r.model.as_str()).collect();
    assert_eq!(models, ["gpt-4.1", "fast"]);
    assert_eq!(
        cfg.route("gpt-4.1").unwrap().targets,
        [target("holysheep", "gpt-4.1"), target("local", "gpt-4.1")]
    );
    assert_eq!(
        cfg.route("fast").unwrap().targets,
        [target("local", "mock-1")]
    );
    assert!(cfg.route("nope").is_none());

    assert_eq!(
        cfg.auth,
        Auth {
            required: false,
            metrics: MetricsAccess::Open,
        }
    );
    assert_eq!(cfg.limits.on_store_error, OnStoreError::Closed);
    assert_eq!(cfg.limits.default_max_tokens, 4096);
}

/// Every table of the example resolves to what it says (here, the defaults it restates).
#[test]
fn spec_example_sets_every_table() {
    let cfg = parse(SPEC_EXAMPLE, "sluice.toml", &with_key).unwrap();
    assert_eq!(cfg.ledger, LedgerSetting::Url("sqlite://sluice.db".into()));
    assert_eq!(cfg.max_body, 10 * 1024 * 1024);
    assert_eq!(cfg.shutdown_grace, Duration::from_secs(30));
    let hs = &cfg.providers["holysheep"];
    assert_eq!(hs.timeouts.connect, Duration::from_secs(10));
    assert_eq!(hs.timeouts.first_token, Duration::from_secs(60));
    assert_eq!(hs.timeouts.idle, Duration::from_secs(30));
    assert_eq!(
        cfg.providers["local"].api_key.as_ref().unwrap().expose(),
        "unused"
    );
    assert_eq!(cfg.stream, StreamSettings::default());
    assert_eq!(cfg.cors.allow_origins, ["*"]);
    assert_eq!(cfg.retry, Retry::default());
    assert_eq!(cfg.auth, Auth::default());
    assert_eq!(cfg.limits, Limits::default());
    assert_eq!(
        cfg.server,
        Server {
            allowed_hosts: Vec::new(),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            max_response_body: 8 * 1024 * 1024,
        }
    );
    assert_eq!(cfg.server, Server::default());
}

#[test]
fn spec_example_without_key_skips_optional_provider() {
    let cfg = parse(SPEC_EXAMPLE, "sluice.toml", &no_env).unwrap();
    assert!(!cfg.providers.contains_key("holysheep"));
    assert!(cfg.providers.contains_key("local"));
    assert_eq!(
        cfg.skipped_providers,
        [SkippedProvider {
            name: "holysheep".into(),
            missing_var: "HOLYSHEEP_API_KEY".into(),
        }]
    );
    assert_eq!(
        cfg.route("gpt-4.1").unwrap().targets,
        [target("local", "gpt-4.1")]
    );
}

#[test]
fn route_left_with_no_targets_is_removed() {
    let text = r#"
        [providers.hs]
        kind = "openai"
        base_url = "https://example.com/v1/"
        api_key = "${KEY}"
        optional = true
        [providers.m]
        kind = "mock"
        [routes]
        only-hs = ["hs"]
        mock = ["m"]
    "#;
    let cfg = parse(text, "x.toml", &no_env).unwrap();
    let models: Vec<&str> = cfg.routes.iter().map(|r| r.model.as_str()).collect();
    assert_eq!(models, ["mock"]);

    let cfg = parse(text, "x.toml", &|_: &str| Some("k".into())).unwrap();
    assert_eq!(cfg.providers["hs"].base_url, "https://example.com/v1");
    assert_eq!(cfg.routes.len(), 2);
}

#[test]
fn defaults_fill_an_empty_file() {
    let cfg = parse("", "empty.toml", &no_env).unwrap();
    assert_eq!(cfg.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(cfg.ledger, LedgerSetting::Url("sqlite://sluice.db".into()));
    assert_eq!(cfg.redis, None);
    assert_eq!(cfg.display_currency, "USD");
    assert!(cfg.providers.is_empty() && cfg.routes.is_empty());
    assert_eq!(cfg.stream.buffer_events, 64);
    assert_eq!(cfg.stream.slow_client, SlowClient::Coalesce);
    assert_eq!(cfg.stream.slow_client_timeout, Duration::from_secs(30));
    assert_eq!(cfg.stream.keepalive, Duration::from_secs(15));
    assert_eq!(cfg.cors.allow_origins, ["*"]);
    assert_eq!(cfg.retry.attempts, 2);
    assert_eq!(cfg.retry.backoff, Duration::from_millis(200));
    assert_eq!(cfg.retry.max_retry_after, Duration::from_secs(10));
    assert!(!cfg.auth.required);
    assert_eq!(cfg.auth.metrics, MetricsAccess::Open);
    assert_eq!(
        cfg.limits,
        Limits {
            on_store_error: OnStoreError::Closed,
            default_max_tokens: DEFAULT_MAX_TOKENS,
        }
    );
    assert_eq!(DEFAULT_MAX_TOKENS, 4096);
    assert_eq!(cfg.circuit_breaker.failures, 5);
    assert_eq!(cfg.circuit_breaker.cooldown, Duration::from_secs(30));
    assert_eq!(cfg.circuit_breaker, CircuitBreaker::default());
    assert_eq!(cfg.shutdown_grace, Duration::from_secs(30));
    assert_eq!(cfg.max_body, 10 * 1024 * 1024);
    assert_eq!(cfg.server, Server::default());
}

#[test]
fn circuit_breaker_settings() {
    let text = "[circuit_breaker]\nfailures = 3\ncooldown = \"700ms\"\n";
    let cfg = parse(text, "c.toml", &no_env).unwrap();
    assert_eq!(
        cfg.circuit_breaker,
        CircuitBreaker {
            failures: 3,
            cooldown: Duration::from_millis(700),
        }
    );
    let text = cfg.describe();
    assert!(
        text.contains("\ncircuit_breaker: failures 3, cooldown 700ms\n"),
        "{text}"
    );

    // Either key alone keeps the other's default.
    let cfg = parse("[circuit_breaker]\nfailures = 1\n", "c.toml", &no_env).unwrap();
    assert_eq!(cfg.circuit_breaker.failures, 1);
    assert_eq!(cfg.circuit_breaker.cooldown, Duration::from_secs(30));
    let cfg = parse(
        "[circuit_breaker]\ncooldown = \"1m 30s\"\n",
        "c.toml",
        &no_env,
    )
    .unwrap();
    assert_eq!(cfg.circuit_breaker.failures, 5);
    assert_eq!(cfg.circuit_breaker.cooldown, Duration::from_secs(90));

    let cfg = builtin(&no_env);
    assert_eq!(cfg.circuit_breaker, CircuitBreaker::default());
    assert!(cfg
        .describe()
        .contains("\ncircuit_breaker: failures 5, cooldown 30s\n"));
}

#[test]
fn auth_and_limits_settings() {
    let text = "redis = \"redis://:s3cret@cache:6379/0\"\n\
                [auth]\nrequired = true\nmetrics = \"admin\"\n\
                [limits]\non_store_error = \"open\"\ndefault_max_tokens = 1\n";
    let cfg = parse(text, "a.toml", &no_env).unwrap();
    assert_eq!(
        cfg.auth,
        Auth {
            required: true,
            metrics: MetricsAccess::Admin,
        }
    );
    assert_eq!(
        cfg.limits,
        Limits {
            on_store_error: OnStoreError::Open,
            default_max_tokens: 1,
        }
    );
    let text = cfg.describe();
    assert!(
        text.contains("\nauth: required on every request, keys in the ledger, metrics admin\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "\nlimits: store redis redis://:***@cache:6379/0 (shared by replicas), \
             on_store_error open, default_max_tokens 1\n"
        ),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");

    // One key of a table keeps the others' defaults.
    let cfg = parse("[limits]\ndefault_max_tokens = 32000\n", "a.toml", &no_env).unwrap();
    assert_eq!(cfg.limits.on_store_error, OnStoreError::Closed);
    assert_eq!(cfg.limits.default_max_tokens, 32_000);
    let cfg = parse("[auth]\nmetrics = \"open\"\n", "a.toml", &no_env).unwrap();
    assert_eq!(cfg.auth, Auth::default());
    let text = cfg.describe();
    assert!(
        text.contains("\nauth: required once any key exists, keys in the ledger, metrics open\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "\nlimits: store memory (per replica), on_store_error closed, \
             default_max_tokens 4096\n"
        ),
        "{text}"
    );
    let cfg = parse("ledger = \"none\"\n", "a.toml", &no_env).unwrap();
    assert!(cfg
        .describe()
        .contains("no keys (ledger = \"none\" keeps none)"));
    assert_eq!(builtin(&no_env).limits, Limits::default());
    assert_eq!(builtin(&no_env).auth, Auth::default());
}

#[test]
fn ledger_none_keeps_no_ledger() {
    let cfg = parse("ledger = \"none\"", "n.toml", &no_env).unwrap();
    assert_eq!(cfg.ledger, LedgerSetting::None);
    assert_eq!(cfg.ledger.url(), None);
    assert_eq!(cfg.ledger.to_string(), "none");
    assert!(cfg.describe().contains("\nledger: none\n"));

    let cfg = builtin(&no_env);
    assert_eq!(cfg.ledger.url(), Some("sqlite://sluice.db"));
    assert_eq!(cfg.ledger.to_string(), "sqlite://sluice.db");
    let cfg = parse("ledger = \"postgres://u:pw@db/x\"", "p.toml", &no_env).unwrap();
    assert_eq!(cfg.ledger.to_string(), "postgres://u:pw@db/x");
    assert!(cfg.describe().contains("\nledger: postgres://u:***@db/x\n"));
}

#[test]
fn provider_defaults() {
    let cfg = parse(
        "[providers.p]\nkind = \"openai\"\nbase_url = \"http://h\"\n",
        "p.toml",
        &no_env,
    )
    .unwrap();
    let p = &cfg.providers["p"];
    assert_eq!(p.name, "p");
    assert!(p.api_key.is_none());
    assert_eq!(p.billing.currency, "USD");
    assert_eq!(p.billing.per_usd, Decimal::ONE);
    assert_eq!(p.timeouts.connect, Duration::from_secs(10));
    assert_eq!(p.timeouts.first_token, Duration::from_secs(60));
    assert_eq!(p.timeouts.idle, Duration::from_secs(30));
    assert_eq!(p.timeouts.total, Duration::from_secs(600));
    assert!(
        !p.responses,
        "chat completions only unless the config says more"
    );
}

#[test]
fn an_openai_provider_may_serve_the_responses_api() {
    let cfg = parse(
        "[providers.p]\nkind = \"openai\"\nbase_url = \"http://h/v1\"\nresponses = true\n",
        "p.toml",
        &no_env,
    )
    .unwrap();
    assert!(cfg.providers["p"].responses);
    assert!(cfg
        .describe()
        .contains("serves the Responses API: /v1/responses passed through"));
}

#[test]
fn native_providers_default_to_their_official_apis() {
    let cfg = parse(
        "[providers.claude]\nkind = \"anthropic\"\napi_key = \"k\"\ndefault_max_tokens = 2048\n\
         [providers.google]\nkind = \"gemini\"\n\
         [providers.vertex]\nkind = \"gemini\"\nbase_url = \"http://127.0.0.1:9/v1beta/\"\n",
        "p.toml",
        &no_env,
    )
    .unwrap();
    let claude = &cfg.providers["claude"];
    assert_eq!(claude.kind, ProviderKind::Anthropic);
    assert_eq!(claude.base_url, "https://api.anthropic.com/v1");
    assert_eq!(claude.default_max_tokens, Some(2048));
    let google = &cfg.providers["google"];
    assert_eq!(google.kind, ProviderKind::Gemini);
    assert_eq!(
        google.base_url,
        "https://generativelanguage.googleapis.com/v1beta"
    );
    assert_eq!(google.default_max_tokens, None);
    assert_eq!(
        cfg.providers["vertex"].base_url,
        "http://127.0.0.1:9/v1beta"
    );
}

#[test]
fn prices_take_optional_cache_rates() {
    let cfg = parse(
        r#"
[providers.p]
kind = "mock"
[providers.p.prices]
"claude-sonnet-4-5" = { input = 3.00, output = 15.00, cache_read = 0.30, cache_write = 3.75, cache_write_1h = 6.00 }
"gpt-4.1"           = { input = 2.00, output = 8.00, cache_read = 0.5 }
"plain"             = { input = 0.27, output = 0.42 }
"free-cache"        = { input = 1, output = 1, cache_read = 0 }
"#,
        "p.toml",
        &no_env,
    )
    .unwrap();
    let prices = &cfg.providers["p"].prices;
    let claude = &prices["claude-sonnet-4-5"];
    assert_eq!((claude.input, claude.output), (dec("3"), dec("15")));
    // The rates are the decimals written, as input and output are.
    assert_eq!(claude.cache_read, Some(dec("0.3")));
    assert_eq!(claude.cache_write, Some(dec("3.75")));
    assert_eq!(claude.cache_write_1h, Some(dec("6")));
    let gpt = &prices["gpt-4.1"];
    assert_eq!(
        (gpt.cache_read, gpt.cache_write, gpt.cache_write_1h),
        (Some(dec("0.5")), None, None)
    );
    // Left out: billed at the input rate.
    let plain = &prices["plain"];
    assert_eq!(
        (plain.cache_read, plain.cache_write, plain.cache_write_1h),
        (None, None, None)
    );
    assert_eq!(plain.cache_read_rate(), dec("0.27"));
    assert_eq!(prices["free-cache"].cache_read, Some(Decimal::ZERO));
    // `check-config` shows the rates a price sets, and nothing more for one that sets none.
    let text = cfg.describe();
    assert!(
        text.contains(
            "\n      claude-sonnet-4-5: 3.00 / 15.00 (cache read 0.3, write 3.75, 1h write 6)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\n      gpt-4.1: 2.00 / 8.00 (cache read 0.5)\n"),
        "{text}"
    );
    assert!(text.contains("\n      plain: 0.27 / 0.42\n"), "{text}");
}

#[test]
fn alias_and_plain_targets_mix() {
    let text = r#"
        [providers.a]
        kind = "mock"
        [providers.b]
        kind = "openai"
        base_url = "https://b.example/v1"
        [routes]
        "big" = ["a", { provider = "b", model = "b-large" }, { provider = "a" }]
    "#;
    let cfg = parse(text, "r.toml", &no_env).unwrap();
    assert_eq!(
        cfg.route("big").unwrap().targets,
        [
            target("a", "big"),
            target("b", "b-large"),
            target("a", "big")
        ]
    );
    assert_eq!(cfg.providers["a"].base_url, "");
}

#[test]
fn values_and_units() {
    let text = r#"
        listen = "[::1]:9999"
        ledger = "postgres://u@h/db"
        redis = "${REDIS_URL}"
        display_currency = "jpy"
        shutdown_grace = "1m"
        max_body = "512KiB"
        [stream]
        buffer_events = 1
        slow_client = "block"
        [auth]
        required = true
        [cors]
        allow_origins = ["https://${HOST}"]
    "#;
    let env = |name: &str| match name {
        "REDIS_URL" => Some("redis://r:6379".to_owned()),
        "HOST" => Some("app.example".to_owned()),
        _ => None,
    };
    let cfg = parse(text, "u.toml", &env).unwrap();
    assert_eq!(cfg.listen.to_string(), "[::1]:9999");
    assert_eq!(cfg.ledger, LedgerSetting::Url("postgres://u@h/db".into()));
    assert_eq!(cfg.ledger.url(), Some("postgres://u@h/db"));
    assert_eq!(cfg.redis.as_deref(), Some("redis://r:6379"));
    assert_eq!(cfg.display_currency, "JPY");
    assert_eq!(cfg.shutdown_grace, Duration::from_secs(60));
    assert_eq!(cfg.max_body, 512 * 1024);
    assert_eq!(cfg.stream.buffer_events, 1);
    assert_eq!(cfg.stream.slow_client, SlowClient::Block);
    assert!(cfg.auth.required);
    assert_eq!(cfg.cors.allow_origins, ["https://app.example"]);

    for (value, bytes) in [("2048", 2048), ("\"1MB\"", 1_000_000), ("\"2048\"", 2048)] {
        let cfg = parse(&format!("max_body = {value}"), "m.toml", &no_env).unwrap();
        assert_eq!(cfg.max_body, bytes, "{value}");
    }
}

#[test]
fn builtin_without_key_is_mock_only() {
    let cfg = builtin(&no_env);
    assert_eq!(cfg.origin, Origin::Builtin { holysheep: false });
    assert_eq!(cfg.providers.len(), 1);
    assert_eq!(cfg.providers["mock"].kind, ProviderKind::Mock);
    assert_eq!(cfg.routes.len(), 1);
    assert_eq!(cfg.route("mock").unwrap().targets, [target("mock", "mock")]);
    assert_eq!(cfg.max_body, 10 * 1024 * 1024);
    assert_eq!(cfg.server, Server::default());
}

#[test]
fn builtin_with_key_adds_holysheep_before_mock() {
    let cfg = builtin(&with_key);
    assert_eq!(cfg.origin, Origin::Builtin { holysheep: true });
    let hs = &cfg.providers["holysheep"];
    assert_eq!(hs.base_url, "https://api.holysheep.ai/v1");
    assert_eq!(hs.api_key.as_ref().unwrap().expose(), "sk-test-123");
    assert_eq!(hs.billing.currency, "JPY");
    assert_eq!(hs.billing.per_usd, Decimal::ONE);
    assert_eq!(hs.prices["claude-sonnet-4.5"].output, dec("15"));
    assert_eq!(hs.prices["gemini-2.5-flash"].input, dec("0.3"));
    assert_eq!(hs.prices["deepseek-v3.2"].output, dec("0.42"));
    let models: Vec<&str> = cfg.routes.iter().map(|r| r.model.as_str()).collect();
    assert_eq!(
        models,
        [
            "gpt-4.1",
            "claude-sonnet-4.5",
            "gemini-2.5-flash",
            "deepseek-v3.2",
            "mock"
        ]
    );
    assert_eq!(
        cfg.route("deepseek-v3.2").unwrap().targets,
        [target("holysheep", "deepseek-v3.2")]
    );
}

#[test]
fn load_reads_files_and_falls_back_to_builtin() {
    let cfg = load(None, &no_env).unwrap();
    assert_eq!(cfg.origin, Origin::Builtin { holysheep: false });

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluice.toml");
    std::fs::write(&path, SPEC_EXAMPLE).unwrap();
    let cfg = load(Some(&path), &with_key).unwrap();
    assert_eq!(cfg.origin, Origin::File(path.clone()));
    assert_eq!(cfg.routes.len(), 2);
}

#[test]
fn secret_is_masked_and_describe_has_routes_but_no_key() {
    let cfg = parse(SPEC_EXAMPLE, "sluice.toml", &with_key).unwrap();
    let debug = format!("{cfg:?}");
    assert!(!debug.contains("sk-test-123"), "{debug}");
    assert!(debug.contains("***"));
    let key = cfg.providers["holysheep"].api_key.clone().unwrap();
    assert_eq!(format!("{key}"), "***");
    assert_eq!(format!("{key:?}"), "***");

    let text = cfg.describe();
    assert!(!text.contains("sk-test-123"), "{text}");
    assert!(!text.contains("unused"), "{text}");
    assert!(text.contains("sluice.toml"), "{text}");
    assert!(
        text.contains("gpt-4.1 -> holysheep/gpt-4.1, local/gpt-4.1"),
        "{text}"
    );
    assert!(text.contains("fast -> local/mock-1"), "{text}");
    assert!(text.contains("https://api.holysheep.ai/v1"), "{text}");
    assert!(text.contains("max_body: 10485760"), "{text}");
    assert!(text.contains("\n    billing: 1 JPY per USD\n"), "{text}");
    assert!(
        text.contains("\n      deepseek-v3.2: 0.27 / 0.42\n"),
        "{text}"
    );
    assert!(text.contains("\n      gpt-4.1: 2.00 / 8.00\n"), "{text}");

    let skipped = parse(SPEC_EXAMPLE, "sluice.toml", &no_env)
        .unwrap()
        .describe();
    assert!(skipped.contains("holysheep: skipped"), "{skipped}");
    assert!(skipped.contains("HOLYSHEEP_API_KEY"), "{skipped}");
}

const OVERRIDES: &str = r#"
[providers.hs]
kind = "openai"
base_url = "https://example.com/v1"
api_key = "${KEY}"
optional = true
[providers.local]
kind = "mock"

[routes]
"gpt-4.1" = ["local"]
fast = ["local"]
only-hs = ["hs"]

[stream]
buffer_events = 64
keepalive = "20s"

[stream.routes."gpt-4.1"]
slow_client = "block"
buffer_events = 16

[stream.routes.fast]
slow_client_timeout = "5s"
keepalive = "1s"

[stream.routes.only-hs]
buffer_events = 2
"#;

#[test]
fn stream_overrides_parse_and_apply_per_route() {
    let cfg = parse(OVERRIDES, "o.toml", &|_: &str| Some("k".into())).unwrap();
    let wide = StreamSettings {
        buffer_events: 64,
        slow_client: SlowClient::Coalesce,
        slow_client_timeout: Duration::from_secs(30),
        keepalive: Duration::from_secs(20),
    };
    assert_eq!(cfg.stream, wide);
    assert_eq!(
        cfg.stream_overrides["gpt-4.1"],
        StreamOverride {
            buffer_events: Some(16),
            slow_client: Some(SlowClient::Block),
            ..StreamOverride::default()
        }
    );
    assert_eq!(
        cfg.stream_for("gpt-4.1"),
        StreamSettings {
            buffer_events: 16,
            slow_client: SlowClient::Block,
            ..wide.clone()
        }
    );
    assert_eq!(
        cfg.stream_for("fast"),
        StreamSettings {
            slow_client_timeout: Duration::from_secs(5),
            keepalive: Duration::from_secs(1),
            ..wide.clone()
        }
    );
    assert_eq!(cfg.stream_for("only-hs").buffer_events, 2);
    // No override, and no such route at all: the gateway-wide settings.
    assert_eq!(cfg.stream_for("nope"), wide);
    let keys: Vec<&str> = cfg.stream_overrides.keys().map(String::as_str).collect();
    assert_eq!(keys, ["fast", "gpt-4.1", "only-hs"]);
}

#[test]
fn stream_for_without_overrides_is_the_gateway_wide_settings() {
    let cfg = parse(SPEC_EXAMPLE, "sluice.toml", &with_key).unwrap();
    assert!(cfg.stream_overrides.is_empty());
    assert_eq!(cfg.stream_for("gpt-4.1"), cfg.stream);
    assert_eq!(cfg.stream_for("fast"), StreamSettings::default());

    let cfg = builtin(&no_env);
    assert!(cfg.stream_overrides.is_empty());
    assert_eq!(cfg.stream_for("mock"), StreamSettings::default());

    // An empty override table changes nothing.
    let text = "[providers.m]\nkind = \"mock\"\n[routes]\nm = [\"m\"]\n[stream.routes.m]\n";
    let cfg = parse(text, "e.toml", &no_env).unwrap();
    assert!(cfg.stream_overrides["m"].is_empty());
    assert_eq!(cfg.stream_for("m"), StreamSettings::default());
}

#[test]
fn override_for_a_route_dropped_with_its_skipped_provider_is_ignored() {
    let cfg = parse(OVERRIDES, "o.toml", &no_env).unwrap();
    assert!(cfg.route("only-hs").is_none());
    assert!(!cfg.stream_overrides.contains_key("only-hs"));
    assert_eq!(cfg.stream_for("only-hs"), cfg.stream);
    assert_eq!(cfg.stream_for("gpt-4.1").buffer_events, 16);
    assert!(!cfg.describe().contains("buffer_events 2,"));
}

#[test]
fn describe_shows_overrides_under_their_routes() {
    let cfg = parse(OVERRIDES, "o.toml", &|_: &str| Some("k".into())).unwrap();
    let text = cfg.describe();
    let lines: Vec<&str> = text.lines().collect();
    let under = |route: &str| {
        let at = lines
            .iter()
            .position(|l| l.starts_with(&format!("  {route} -> ")))
            .unwrap_or_else(|| panic!("no route line for {route}:\n{text}"));
        lines[at + 1]
    };
    assert_eq!(
        under("gpt-4.1"),
        "    stream override: buffer_events 16, slow_client block",
        "{text}"
    );
    assert_eq!(
        under("fast"),
        "    stream override: slow_client_timeout 5s, keepalive 1s",
        "{text}"
    );
    assert_eq!(
        under("only-hs"),
        "    stream override: buffer_events 2",
        "{text}"
    );
    assert!(
        text.contains("stream: buffer_events 64, slow_client coalesce, slow_client_timeout 30s, keepalive 20s"),
        "{text}"
    );
    // Routes without an override get no such line.
    let plain = parse(SPEC_EXAMPLE, "sluice.toml", &with_key)
        .unwrap()
        .describe();
    assert!(!plain.contains("stream override"), "{plain}");
}

#[test]
fn stream_send_buffer_is_a_size() {
    let env = |_: &str| None;
    let c = sluice_config::parse("[stream]\nsend_buffer = \"32KiB\"\n", "t.toml", &env).unwrap();
    assert_eq!(c.send_buffer, Some(32 * 1024));
    let c = sluice_config::parse("", "t.toml", &env).unwrap();
    assert_eq!(c.send_buffer, None);
    let err =
        sluice_config::parse("[stream]\nsend_buffer = \"lots\"\n", "t.toml", &env).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("stream.send_buffer") && msg.contains("lots"),
        "{msg}"
    );
}
