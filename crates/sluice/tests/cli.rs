//! The binary's contract outside HTTP: exit statuses and one-line errors for bad configs,
//! `check-config` output.

use std::process::{Command, Output};

fn sluice(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(dir)
        .env_remove("HOLYSHEEP_API_KEY")
        .env_remove("SLUICE_CONFIG")
        .output()
        .expect("run sluice")
}

fn with_config(toml: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sluice.toml"), toml).unwrap();
    let mut all = args.to_vec();
    all.extend(["--config", "sluice.toml"]);
    sluice(&all, dir.path())
}

/// The single stderr line of a failed run.
fn error_line(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert_eq!(
        stderr.lines().count(),
        1,
        "expected one line, got:\n{stderr}"
    );
    stderr
}

#[test]
fn bad_configs_exit_2_with_one_line_naming_file_field_and_value() {
    let cases = [
        ("[stream]\nkeepalive = \"10x\"\n", "stream.keepalive", "10x"),
        ("bogus = 1\n", "bogus", "bogus"),
        (
            "[providers.p]\nkind = \"openai\"\nbase_url = \"http://h/v1\"\ntimeouts = { idle = \"soon\" }\n[routes]\n\"m\" = [\"p\"]\n",
            "providers.p.timeouts.idle",
            "soon",
        ),
        (
            "[providers.p]\nkind = \"nope\"\nbase_url = \"http://h/v1\"\n",
            "providers.p.kind",
            "nope",
        ),
        ("[routes]\n\"m\" = [\"ghost\"]\n", "routes.m", "ghost"),
        (
            "[providers.p]\nkind = \"openai\"\nbase_url = \"http://h/v1\"\napi_key = \"${SLUICE_TEST_UNSET_VAR}\"\n",
            "providers.p.api_key",
            "SLUICE_TEST_UNSET_VAR",
        ),
    ];
    for (toml, field, value) in cases {
        for command in [&["serve"][..], &["check-config"][..]] {
            let out = with_config(toml, command);
            assert_eq!(out.status.code(), Some(2), "{toml}");
            let line = error_line(&out);
            for needle in ["sluice.toml", field, value] {
                assert!(
                    line.contains(needle),
                    "{command:?} {toml:?}: {needle:?} not in {line:?}"
                );
            }
        }
    }
}

#[test]
fn missing_config_file_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = sluice(&["serve", "--config", "absent.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(error_line(&out).contains("absent.toml"));
}

#[test]
fn bad_flags_are_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = sluice(&["serve", "--listen", "not-an-address"], dir.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_config_prints_the_resolved_routes() {
    let out = with_config(
        "[providers.local]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9000/v1\"\napi_key = \"sk-secret-value\"\n\
         [routes]\n\"gpt-4.1\" = [\"local\"]\n\"fast\" = [{ provider = \"local\", model = \"mock-1\" }]\n",
        &["check-config"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "gpt-4.1",
        "fast",
        "mock-1",
        "local",
        "http://127.0.0.1:9000/v1",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    assert!(!text.contains("sk-secret-value"));
}

#[test]
fn check_config_without_a_file_describes_the_builtin_mock() {
    let dir = tempfile::tempdir().unwrap();
    let out = sluice(&["check-config"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8(out.stdout).unwrap().contains("mock"));
}

#[test]
fn an_unreachable_ledger_stops_serve_with_one_line() {
    let out = with_config(
        "ledger = \"postgres://nobody:hunter2@127.0.0.1:1/none\"\n",
        &["serve", "--listen", "127.0.0.1:0"],
    );
    assert_eq!(out.status.code(), Some(1));
    // Start-up log lines come first; the failure is the one `sluice:` line at the end.
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let line = stderr.lines().last().unwrap_or_default();
    assert!(line.starts_with("sluice: ledger"), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("sluice:")).count(),
        1,
        "{stderr}"
    );
    assert!(line.contains("127.0.0.1:1"), "{line}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn check_config_describes_auth_and_limits() {
    // SPEC §2's [auth] and [limits] tables, with a Redis password that must not be shown.
    let out = with_config(
        "redis = \"redis://:hunter2@127.0.0.1:6379\"\n\
         [auth]\nrequired = true\nmetrics = \"admin\"\n\
         [limits]\non_store_error = \"open\"\ndefault_max_tokens = 8192\n",
        &["check-config"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "auth: required on every request, keys in the ledger, metrics admin",
        "limits: store redis redis://:***@127.0.0.1:6379 (shared by replicas), \
         on_store_error open, default_max_tokens 8192",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    assert!(!text.contains("hunter2"), "{text}");
    // Defaults, and the same checks as every other table.
    let out = with_config("", &["check-config"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("limits: store memory (per replica), on_store_error closed"),
        "{text}"
    );
    let out = with_config("[limits]\non_store_error = \"maybe\"\n", &["check-config"]);
    assert_eq!(out.status.code(), Some(2));
    let line = error_line(&out);
    assert!(
        line.contains("limits.on_store_error") && line.contains("maybe"),
        "{line}"
    );
}
