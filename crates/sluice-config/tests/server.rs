//! `[server]`: its defaults, each key, and every way a key can be wrong.

use std::time::Duration;

use sluice_config::{builtin, parse, ConfigError, Server};

fn no_env(_: &str) -> Option<String> {
    None
}

fn server(table: &str) -> Server {
    parse(&format!("[server]\n{table}\n"), "s.toml", &no_env)
        .unwrap()
        .server
}

/// Parses a `[server]` table that must be refused; checks the message is one line naming
/// `field`, with every needle, and returns it.
fn refused(table: &str, field: &str, needles: &[&str]) -> String {
    let err: ConfigError = parse(&format!("[server]\n{table}\n"), "sluice.toml", &no_env)
        .expect_err("config should be rejected");
    let msg = err.to_string();
    assert!(!msg.contains('\n'), "not one line: {msg}");
    assert_eq!(err.field(), Some(field), "{msg}");
    assert!(msg.starts_with(&format!("sluice.toml: {field}: ")), "{msg}");
    for needle in needles {
        assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
    }
    msg
}

#[test]
fn defaults() {
    let want = Server {
        allowed_hosts: Vec::new(),
        header_timeout: Duration::from_secs(10),
        body_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(60),
        max_connections: 10_000,
        max_response_body: 8 * 1024 * 1024,
    };
    assert_eq!(Server::default(), want);
    assert_eq!(parse("", "s.toml", &no_env).unwrap().server, want);
    assert_eq!(server(""), want);
    assert_eq!(builtin(&no_env).server, want);
}

#[test]
fn each_key_alone_keeps_the_other_defaults() {
    let d = Server::default();
    assert_eq!(
        server("allowed_hosts = [\"API.example.com\", \"127.0.0.1:8080\", \"[::1]:80\"]"),
        Server {
            allowed_hosts: vec![
                "api.example.com".to_owned(),
                "127.0.0.1:8080".to_owned(),
                "[::1]:80".to_owned()
            ],
            ..d.clone()
        }
    );
    assert_eq!(
        server("header_timeout = \"2s\""),
        Server {
            header_timeout: Duration::from_secs(2),
            ..d.clone()
        }
    );
    assert_eq!(
        server("body_timeout = \"1m\""),
        Server {
            body_timeout: Duration::from_secs(60),
            ..d.clone()
        }
    );
    assert_eq!(
        server("idle_timeout = \"500ms\""),
        Server {
            idle_timeout: Duration::from_millis(500),
            ..d.clone()
        }
    );
    assert_eq!(
        server("max_connections = 1"),
        Server {
            max_connections: 1,
            ..d.clone()
        }
    );
    assert_eq!(
        server("max_response_body = \"64KiB\"").max_response_body,
        65_536
    );
    assert_eq!(server("max_response_body = 1000").max_response_body, 1000);
    assert_eq!(
        server("allowed_hosts = []").allowed_hosts,
        Vec::<String>::new()
    );
}

#[test]
fn allowed_hosts_interpolate_and_lower_case() {
    let env = |name: &str| (name == "HOST").then(|| "Gateway.Example".to_owned());
    let cfg = parse(
        "[server]\nallowed_hosts = [\"${HOST}:443\"]\n",
        "s.toml",
        &env,
    )
    .unwrap();
    assert_eq!(cfg.server.allowed_hosts, ["gateway.example:443"]);
}

#[test]
fn describe_shows_the_server_limits() {
    let text = parse("", "s.toml", &no_env).unwrap().describe();
    assert!(text.contains("\nserver: allowed_hosts any\n"), "{text}");
    assert!(
        text.contains(
            "\nserver limits: header_timeout 10s, body_timeout 30s, idle_timeout 1m, \
             max_connections 10000, max_response_body 8388608 bytes\n"
        ),
        "{text}"
    );
    let text = parse(
        "[server]\nallowed_hosts = [\"a.example\", \"b.example:8080\"]\nmax_connections = 7\n",
        "s.toml",
        &no_env,
    )
    .unwrap()
    .describe();
    assert!(
        text.contains("\nserver: allowed_hosts a.example, b.example:8080\n"),
        "{text}"
    );
    assert!(text.contains("max_connections 7,"), "{text}");
}

#[test]
fn unknown_key() {
    refused(
        "read_timeout = \"5s\"",
        "server.read_timeout",
        &["unknown field", "read_timeout"],
    );
    refused(
        "allowed_host = []",
        "server.allowed_host",
        &["unknown field"],
    );
    let msg = parse("server = 5", "sluice.toml", &no_env).unwrap_err();
    assert_eq!(msg.field(), Some("server"), "{msg}");
}

#[test]
fn bad_hosts_name_the_entry() {
    let msg = refused(
        "allowed_hosts = [\"ok.example\", \"https://evil.example\"]",
        "server.allowed_hosts[1]",
        &[
            "invalid host \"https://evil.example\"",
            "without scheme or path",
        ],
    );
    assert!(!msg.contains("ok.example"), "{msg}");
    for bad in [
        "",
        "example.com/v1",
        "example.com:http",
        "example.com:70000",
        "::1",
        "a b",
    ] {
        refused(
            &format!("allowed_hosts = [{bad:?}]"),
            "server.allowed_hosts[0]",
            &[&format!("{bad:?}")],
        );
    }
    refused(
        "allowed_hosts = \"example.com\"",
        "server.allowed_hosts",
        &["invalid type"],
    );
    refused(
        "allowed_hosts = [8080]",
        "server.allowed_hosts[0]",
        &["invalid type"],
    );
    // All bad entries are counted, not only the first.
    refused(
        "allowed_hosts = [\"a/b\", \"ok\", \"c/d\"]",
        "server.allowed_hosts[0]",
        &["(and 1 more problem)"],
    );
}

#[test]
fn bad_timeouts() {
    for key in ["header_timeout", "body_timeout", "idle_timeout"] {
        let field = format!("server.{key}");
        refused(
            &format!("{key} = \"soon\""),
            &field,
            &["invalid duration \"soon\""],
        );
        refused(
            &format!("{key} = \"0s\""),
            &field,
            &["greater than zero", "\"0s\""],
        );
        refused(&format!("{key} = 10"), &field, &["invalid type"]);
        refused(
            &format!("{key} = \"2y\""),
            &field,
            &["must be at most 1y", "\"2y\""],
        );
    }
}

#[test]
fn bad_max_connections() {
    let msg = refused("max_connections = 0", "server.max_connections", &[]);
    assert_eq!(
        msg,
        "sluice.toml: server.max_connections: must be at least 1 (got 0)"
    );
    refused("max_connections = -1", "server.max_connections", &["-1"]);
    refused(
        "max_connections = \"many\"",
        "server.max_connections",
        &["invalid type"],
    );
    let msg = refused("max_connections = 10000001", "server.max_connections", &[]);
    assert_eq!(
        msg,
        "sluice.toml: server.max_connections: must be at most 10000000 (got 10000001)"
    );
    assert_eq!(
        server("max_connections = 10000000").max_connections,
        10_000_000
    );
}

#[test]
fn bad_max_response_body() {
    refused(
        "max_response_body = \"8 megs\"",
        "server.max_response_body",
        &["invalid size \"8 megs\""],
    );
    refused(
        "max_response_body = 0",
        "server.max_response_body",
        &["invalid size 0"],
    );
    refused(
        "max_response_body = \"2GiB\"",
        "server.max_response_body",
        &["must be at most 1GiB", "\"2GiB\""],
    );
}

#[test]
fn several_bad_keys_are_reported_together() {
    refused(
        "header_timeout = \"0s\"\nmax_connections = 0\nmax_response_body = \"x\"",
        "server.header_timeout",
        &["(and 2 more problems)"],
    );
}
