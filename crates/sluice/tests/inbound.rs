//! The inbound APIs (`/v1/responses`, `/v1/messages`) hold what every request does: the
//! gateway key (in `x-api-key` too, for Anthropic's clients), errors in each API's shape, one
//! ledger row per request with the provider's exact usage, and a stream the provider breaks
//! ending in the API's own failure event.

mod common;
#[path = "common/replay.rs"]
mod replay;

use std::collections::HashMap;
use std::process::Command;

use serde_json::{json, Value};

use common::{eventually, fixtures_dir, post, Proc, Reply};
use replay::ReplayProvider;

/// A ledger of its own with one ordinary key, and a gateway on it in front of `up`: (the
/// gateway, the key, the ledger's directory).
fn gateway_with_key(up: &Proc) -> (Proc, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.db");
    let config = format!(
        r#"
ledger = "sqlite://{ledger}"
[providers.claude]
kind = "anthropic"
base_url = "http://{a}/v1"
api_key = "k"
[providers.local]
kind = "openai"
base_url = "http://{a}/v1"
[retry]
attempts = 0
[routes]
"claude" = [{{ provider = "claude", model = "claude-sonnet-4-5" }}]
"openai" = [{{ provider = "local", model = "m" }}]
"openai-drop" = [{{ provider = "local", model = "mock-drop" }}]
"#,
        ledger = ledger.display(),
        a = up.addr
    );
    let path = dir.path().join("sluice.toml");
    std::fs::write(&path, &config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["keys", "create", "--name", "agent", "--config"])
        .arg(&path)
        .env_remove("SLUICE_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    (Proc::gateway(&config), key, dir)
}

fn messages(model: &str) -> Value {
    json!({"model": model, "max_tokens": 40, "stream": true,
        "messages": [{"role": "user", "content": "Tell me about rivers."}]})
}

/// The data of every event named `name`.
fn events(reply: &Reply, name: &str) -> Vec<Value> {
    reply
        .events()
        .iter()
        .filter(|e| e.event.as_deref() == Some(name.as_bytes()))
        .map(|e| serde_json::from_slice(&e.data).unwrap())
        .collect()
}

#[tokio::test]
async fn keys_errors_and_ledger_rows_hold_for_the_inbound_apis() {
    let up = Proc::mock_upstream(&[]);
    let (gw, key, dir) = gateway_with_key(&up);
    let url = gw.url("/v1/messages");

    // No key, and a wrong one: 401 in Anthropic's shape.
    for headers in [vec![], vec![("x-api-key", "sk-sluice-nope-nope")]] {
        let reply = post(&url, &messages("claude"), &headers).await;
        assert_eq!(reply.status, 401, "{}", reply.body);
        assert_eq!(reply.json()["type"], "error", "{}", reply.body);
        assert_eq!(reply.json()["error"]["type"], "authentication_error");
    }

    // The key in x-api-key, as Claude Code sends it: passed through to Anthropic, and
    // translated to an OpenAI-compatible provider.
    let mut reported = Vec::new();
    for model in ["claude", "openai"] {
        let reply = post(&url, &messages(model), &[("x-api-key", &key)]).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let names: Vec<String> = reply
            .events()
            .iter()
            .map(|e| String::from_utf8_lossy(e.event.as_deref().unwrap_or(b"")).into_owned())
            .collect();
        assert_eq!(names.first().map(String::as_str), Some("message_start"));
        assert_eq!(names.last().map(String::as_str), Some("message_stop"));
        let usage = events(&reply, "message_delta")[0]["usage"].clone();
        reported.push((model, usage));
    }

    // The Responses API, with the key as a bearer token.
    let auth = format!("Bearer {key}");
    let body = json!({"model": "openai", "input": "Tell me about rivers.", "stream": true,
        "max_output_tokens": 40});
    let reply = post(&gw.url("/v1/responses"), &body, &[("authorization", &auth)]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let done = events(&reply, "response.completed");
    assert_eq!(done.len(), 1);
    let responses_usage = done[0]["response"]["usage"].clone();

    // A stream the provider breaks ends in response.failed.
    let mut broken = body.clone();
    broken["model"] = json!("openai-drop");
    let reply = post(
        &gw.url("/v1/responses"),
        &broken,
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let last = reply.events().pop().unwrap();
    assert_eq!(last.event.as_deref(), Some(&b"response.failed"[..]));

    // One ledger row per request, with the usage the client was told.
    let ledger = sluice_ledger::Ledger::open(&format!(
        "sqlite://{}",
        dir.path().join("ledger.db").display()
    ))
    .await
    .unwrap();
    eventually("the rows of every model", || async {
        ledger.totals_by_model_provider(None).await.unwrap().len() >= 3
    })
    .await;
    let totals = ledger.totals_by_model_provider(None).await.unwrap();
    let tokens = |model: &str| {
        totals
            .iter()
            .find(|(m, ..)| m == model)
            .map(|(_, _, p, c)| (*p, *c))
            .unwrap_or_else(|| panic!("no {model} in {totals:?}"))
    };
    for (model, usage) in &reported {
        let prompt = usage["input_tokens"].as_u64().unwrap()
            + usage["cache_read_input_tokens"].as_u64().unwrap_or(0)
            + usage["cache_creation_input_tokens"].as_u64().unwrap_or(0);
        let (p, c) = tokens(model);
        // `openai` also served the Responses request.
        if *model == "claude" {
            assert_eq!((p, c), (prompt, usage["output_tokens"].as_u64().unwrap()));
        } else {
            let r_in = responses_usage["input_tokens"].as_u64().unwrap();
            let r_out = responses_usage["output_tokens"].as_u64().unwrap();
            assert_eq!(
                (p, c),
                (
                    prompt + r_in,
                    usage["output_tokens"].as_u64().unwrap() + r_out
                )
            );
        }
    }
}

/// Claude Code sends its earlier thinking back, signed. An Anthropic provider gets the signature
/// (it checks it); an OpenAI-compatible one gets the thinking as `reasoning_content` and no
/// signature field, which it has no use for and may refuse.
#[tokio::test]
async fn thinking_signatures_reach_only_the_provider_that_signed() {
    let chat_stream =
        std::fs::read(fixtures_dir().join("openai-gpt4o-text-include-usage.sse")).unwrap();
    let anthropic_stream = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../sluice-native/fixtures/anthropic/text-pings.sse"),
    )
    .unwrap();
    let replay = ReplayProvider::start(HashMap::from([
        ("gpt".to_owned(), chat_stream),
        ("claude".to_owned(), anthropic_stream),
    ]))
    .await;
    let gw = Proc::gateway(&format!(
        "[providers.compat]\nkind = \"openai\"\nbase_url = \"http://{a}/v1\"\n\
         [providers.anth]\nkind = \"anthropic\"\nbase_url = \"http://{a}/v1\"\napi_key = \"k\"\n\
         [routes]\n\"compat\" = [{{ provider = \"compat\", model = \"gpt\" }}]\n\
         \"anth\" = [{{ provider = \"anth\", model = \"claude\" }}]\n",
        a = replay.addr
    ));
    for (route, signature_sent) in [("compat", false), ("anth", true)] {
        let body = json!({"model": route, "max_tokens": 100, "stream": true,
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "messages": [
                {"role": "user", "content": "Is 7 prime?"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "Check divisors.", "signature": "EqQBsig"},
                    {"type": "text", "text": "Yes."}]},
                {"role": "user", "content": "And 9?"}]});
        let reply = post(&gw.url("/v1/messages"), &body, &[]).await;
        assert_eq!(reply.status, 200, "{route}: {}", reply.body);
        let sent = replay.take();
        let sent = String::from_utf8(sent.last().unwrap().body.clone()).unwrap();
        assert_eq!(sent.contains("EqQBsig"), signature_sent, "{route}: {sent}");
        assert!(
            sent.contains("Check divisors."),
            "{route}: the thinking itself goes: {sent}"
        );
    }
}
