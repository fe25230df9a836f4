//! `POST /v1/embeddings`, black box: the real gateway in front of the real simulated provider
//! (`sluice mock-upstream`). The answer is the provider's own with its usage priced, the
//! request is billed in the ledger and counted in the metrics, retried and fallen back from
//! like a whole chat answer; a route with no provider that serves embeddings, a bad body and a
//! missing key are refused in OpenAI's shape.

mod common;

use common::{config_for, eventually, get, post, raw_json_at, report_row, Proc};
use serde_json::{json, Value};

/// An embedding model priced at $1,000 per million input tokens (a tenth of a cent a token),
/// an Anthropic provider (nothing listens at its address: it must never be tried) and a route
/// whose first target always answers 429 with `retry-after: 1`.
fn extra(up: &Proc) -> String {
    format!(
        r#""text-embedding-3-small" = ["up"]
"claude" = ["claude"]
"flaky" = [{{ provider = "up", model = "mock-429" }}, {{ provider = "up2", model = "text-embedding-3-small" }}]

[providers.up.prices]
"text-embedding-3-small" = {{ input = 1000.0, output = 1000.0 }}

[providers.up2]
kind = "openai"
base_url = "{}/v1"
api_key = "sk-test-upstream-key"

[providers.claude]
kind = "anthropic"
base_url = "http://127.0.0.1:9/v1"
api_key = "sk-ant-test"

[retry]
attempts = 1
max_retry_after = "2s"
"#,
        up.base
    )
}

fn body(model: &str) -> Value {
    json!({"model": model, "input": ["the quick brown fox", "jumps"], "dimensions": 12})
}

#[tokio::test]
async fn an_embedding_through_the_gateway_is_the_providers_own_priced_and_billed() {
    let up = Proc::mock_upstream(&[]);
    let gw = Proc::gateway(&config_for(&up, &extra(&up)));
    let direct = post(
        &up.url("/v1/embeddings"),
        &body("text-embedding-3-small"),
        &[],
    )
    .await;
    assert_eq!(direct.status, 200, "{}", direct.body);
    let direct = direct.json();

    let reply = post(
        &gw.url("/v1/embeddings"),
        &body("text-embedding-3-small"),
        &[("origin", "https://app.example")],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-sluice-provider"), Some("up"));
    assert_eq!(reply.header("x-sluice-attempts"), Some("1"));
    assert!(reply
        .header("x-request-id")
        .is_some_and(|id| !id.is_empty()));
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert!(reply
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json")));
    let v = reply.json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], direct["model"]);
    assert_eq!(v["data"], direct["data"]);
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 12);
    // Five words: the provider's usage, with the gateway's cost at the input price.
    assert_eq!(v["usage"]["prompt_tokens"], 5);
    assert_eq!(v["usage"]["total_tokens"], direct["usage"]["total_tokens"]);
    assert_eq!(
        raw_json_at(&reply.body, &["usage", "cost"]).as_deref(),
        Some("0.005")
    );
    assert_eq!(v["usage"]["cost_local"]["currency"], "USD");
    assert_eq!(
        raw_json_at(&reply.body, &["usage", "cost_local", "amount"]).as_deref(),
        Some("0.005")
    );

    // One ledger row: the prompt, no completion, the cost.
    let usage_url = gw.url("/v1/usage?by=model");
    eventually("the request in the ledger", || async {
        get(&usage_url).await.json()["total"]["requests"] == 1
    })
    .await;
    let report = get(&usage_url).await.body;
    let row = report_row(&report, "text-embedding-3-small").expect("row of the model");
    let row_json: Value = serde_json::from_str(&row).unwrap();
    assert_eq!(row_json["requests"], 1);
    assert_eq!(row_json["prompt_tokens"], 5);
    assert_eq!(row_json["completion_tokens"], 0);
    assert_eq!(row_json["errors"], 0);
    assert_eq!(raw_json_at(&row, &["cost_usd"]).as_deref(), Some("0.005"));

    // Counted like a whole chat answer.
    let metrics = get(&gw.url("/metrics")).await.body;
    for line in [
        r#"sluice_requests_total{model="text-embedding-3-small",provider="up",status="ok"} 1"#,
        r#"sluice_tokens_total{model="text-embedding-3-small",provider="up",kind="prompt"} 5"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after_then_the_route_falls_back() {
    let up = Proc::mock_upstream(&[]);
    let gw = Proc::gateway(&config_for(&up, &extra(&up)));
    let reply = post(&gw.url("/v1/embeddings"), &body("flaky"), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // Two tries at `up` (429, waited out, 429), then `up2` answered.
    assert_eq!(reply.header("x-sluice-attempts"), Some("3"));
    assert_eq!(reply.header("x-sluice-provider"), Some("up2"));
    assert_eq!(reply.json()["data"].as_array().unwrap().len(), 2);
    assert_eq!(up.stats().await["requests"], 3);

    let usage_url = gw.url("/v1/usage?by=model");
    eventually("the request in the ledger", || async {
        get(&usage_url).await.json()["total"]["requests"] == 1
    })
    .await;
    let row: Value =
        serde_json::from_str(&report_row(&get(&usage_url).await.body, "flaky").unwrap()).unwrap();
    assert_eq!(
        (row["requests"].as_u64(), row["errors"].as_u64()),
        (Some(1), Some(0))
    );
    let metrics = get(&gw.url("/metrics")).await.body;
    assert!(
        metrics.contains(r#"sluice_retries_total{provider="up",reason="rate_limited"} 2"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn refusals_are_openai_shaped_and_reach_no_provider() {
    let up = Proc::mock_upstream(&[]);
    let gw = Proc::gateway(&config_for(&up, &extra(&up)));
    let url = gw.url("/v1/embeddings");

    // A route whose only provider speaks Anthropic's API.
    let reply = post(&url, &body("claude"), &[]).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    let err = &reply.json()["error"];
    assert_eq!(err["type"], "invalid_request_error");
    assert_eq!(err["param"], "model");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("`claude`") && message.contains("serves embeddings"),
        "{message}"
    );

    // Bodies that are not embeddings requests.
    for bad in [
        json!({"input": "x"}),
        json!({"model": "text-embedding-3-small"}),
        json!({"model": "text-embedding-3-small", "input": 42}),
        json!({"model": "text-embedding-3-small", "input": []}),
    ] {
        let reply = post(&url, &bad, &[]).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
        let err = &reply.json()["error"];
        assert_eq!(err["type"], "invalid_request_error", "{bad}");
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Not JSON by its content type.
    let res = common::client()
        .post(&url)
        .header("content-type", "text/plain")
        .body(body("text-embedding-3-small").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);

    // A model with no route.
    let reply = post(&url, &body("nope"), &[]).await;
    assert_eq!(reply.status, 404, "{}", reply.body);

    assert_eq!(up.stats().await["requests"], 0);
    // Every refusal has its row: 1 + 4 + 1 + 1.
    let usage_url = gw.url("/v1/usage?by=model");
    eventually("the refusals in the ledger", || async {
        get(&usage_url).await.json()["total"]["requests"] == 7
    })
    .await;
}

/// `sluice keys <args> --config <config> --json`.
fn keys(config: &str, args: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("keys")
        .args(args)
        .args(["--config", config, "--json"])
        .output()
        .expect("run sluice keys");
    assert!(
        out.status.success(),
        "sluice keys {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

#[tokio::test]
async fn a_key_is_needed_and_its_budget_is_charged_what_was_billed() {
    let up = Proc::mock_upstream(&[]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sluice.toml");
    let toml = format!(
        "ledger = \"sqlite://{}\"\n{}",
        dir.path().join("ledger.db").display(),
        config_for(&up, &extra(&up))
    );
    std::fs::write(&config, toml).unwrap();
    let config = config.to_str().unwrap().to_owned();
    // Each request reserves its input's estimate, 24 bytes at a token per three: $0.008, with
    // no output allowance; it is billed its 5 tokens, $0.005. So a budget of $0.0135 admits a
    // second request only if the first one's hold was settled at what it cost, and no third.
    let created = keys(
        &config,
        &["create", "--name", "embedder", "--budget-usd", "0.0135"],
    );
    let (id, key) = (
        created["id"].as_str().unwrap().to_owned(),
        created["key"].as_str().unwrap().to_owned(),
    );
    let gw = Proc::spawn(
        &["serve", "--config", &config, "--listen", "127.0.0.1:0"],
        &[],
        None,
    );
    let url = gw.url("/v1/embeddings");
    let model = body("text-embedding-3-small");

    let reply = post(&url, &model, &[]).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert!(reply.json()["error"]["message"].is_string());
    let reply = post(&url, &model, &[("authorization", "Bearer sk-sluice-wrong")]).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(up.stats().await["requests"], 0);

    let bearer = format!("Bearer {key}");
    let auth = [("authorization", bearer.as_str())];
    for _ in 0..2 {
        let reply = post(&url, &model, &auth).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let reply = post(&url, &model, &auth).await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    assert_eq!(reply.json()["error"]["code"], "insufficient_quota");
    assert_eq!(up.stats().await["requests"], 2);

    // The ledger's rows, once written, say the same.
    let spend = || {
        let listed = keys(&config, &["list"]);
        listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id.as_str())
            .expect("the key")["spend"]
            .clone()
    };
    eventually("the key's rows in the ledger", || async {
        spend()["amount"] == 0.01
    })
    .await;
    // The refused third request has its row too, at no cost.
    assert_eq!(spend()["requests"], 3);
}

#[tokio::test]
async fn the_built_in_mock_model_serves_embeddings_with_no_config() {
    let gw = Proc::gateway_builtin();
    let reply = post(
        &gw.url("/v1/embeddings"),
        &json!({"model": "mock", "input": "hello there"}),
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-sluice-provider"), Some("mock"));
    let v = reply.json();
    let vector: Vec<f32> = v["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(vector, sluice_mock::embeddings::embedding("hello there", 8));
    assert_eq!(v["usage"]["prompt_tokens"], 2);
    assert!(v["usage"]["cost"].is_number(), "{}", reply.body);
}
