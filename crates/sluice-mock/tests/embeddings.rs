//! `POST /v1/embeddings` on the simulated provider, over HTTP and in process.

mod common;

use common::{fast, spawn, JsonBody, Server};
use futures_util::StreamExt;
use serde_json::{json, Value};
use sluice_mock::embeddings::{embedding, respond, DEFAULT_DIMENSIONS};
use sluice_mock::Stats;

impl Server {
    async fn embed(&self, body: &Value) -> reqwest::Response {
        self.post_to("/v1/embeddings", body.to_string(), &[]).await
    }
}

fn vector_of(item: &Value) -> Vec<f32> {
    item["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt()
}

#[tokio::test]
async fn one_string_gets_a_unit_vector_of_eight_dimensions() {
    let s = spawn(fast()).await;
    let resp = s
        .embed(&json!({"model":"mock-embed","input":"the quick brown fox"}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: Value = resp.json_body().await;
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "mock-embed");
    assert_eq!(v["usage"], json!({"prompt_tokens":4,"total_tokens":4}));
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["object"], "embedding");
    assert_eq!(data[0]["index"], 0);
    let vector = vector_of(&data[0]);
    assert_eq!(vector.len(), DEFAULT_DIMENSIONS);
    assert!((norm(&vector) - 1.0).abs() < 1e-5);
    // Deterministic, and the value the crate documents for the text.
    assert_eq!(vector, embedding("the quick brown fox", DEFAULT_DIMENSIONS));
    let again: Value = s
        .embed(&json!({"model":"mock","input":"the quick brown fox"}))
        .await
        .json_body()
        .await;
    assert_eq!(vector_of(&again["data"][0]), vector);
}

#[tokio::test]
async fn arrays_of_strings_and_of_tokens_with_dimensions() {
    let s = spawn(fast()).await;
    let body = json!({
        "model": "mock",
        "input": ["alpha beta", "gamma", [1, 2, 3]],
        "dimensions": 3,
    });
    let v: Value = s.embed(&body).await.json_body().await;
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    for (i, item) in data.iter().enumerate() {
        assert_eq!(item["index"], i);
        let vector = vector_of(item);
        assert_eq!(vector.len(), 3);
        assert!((norm(&vector) - 1.0).abs() < 1e-5);
    }
    assert_eq!(vector_of(&data[0]), embedding("alpha beta", 3));
    assert_eq!(vector_of(&data[1]), embedding("gamma", 3));
    assert_ne!(vector_of(&data[2]), vector_of(&data[1]));
    // Two words, one word, three token ids.
    assert_eq!(v["usage"], json!({"prompt_tokens":6,"total_tokens":6}));

    // One array of token ids is one input.
    let v: Value = s
        .embed(&json!({"model":"mock","input":[5, 6]}))
        .await
        .json_body()
        .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["usage"]["prompt_tokens"], 2);
}

#[tokio::test]
async fn base64_holds_the_same_floats() {
    let s = spawn(fast()).await;
    let v: Value = s
        .embed(&json!({"model":"mock","input":"abc","encoding_format":"base64"}))
        .await
        .json_body()
        .await;
    let text = v["data"][0]["embedding"].as_str().unwrap();
    let bytes = decode_base64(text);
    let floats: Vec<f32> = bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(floats, embedding("abc", DEFAULT_DIMENSIONS));
}

fn decode_base64(text: &str) -> Vec<u8> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').chars() {
        bits = (bits << 6) | ALPHABET.find(c).unwrap() as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

#[tokio::test]
async fn bad_bodies_get_openai_400s() {
    let s = spawn(fast()).await;
    for body in [
        "{not json",
        "[1]",
        r#"{"input":"hi"}"#,
        r#"{"model":"mock"}"#,
        r#"{"model":"mock","input":[]}"#,
        r#"{"model":"mock","input":42}"#,
        r#"{"model":"mock","input":[["a"]]}"#,
        r#"{"model":"mock","input":[-1]}"#,
        r#"{"model":"mock","input":"hi","dimensions":0}"#,
        r#"{"model":"mock","input":"hi","dimensions":100000}"#,
        r#"{"model":"mock","input":"hi","encoding_format":"hex"}"#,
    ] {
        let resp = s.post_to("/v1/embeddings", body.to_owned(), &[]).await;
        assert_eq!(resp.status(), 400, "{body}");
        let v: Value = resp.json_body().await;
        assert_eq!(v["error"]["type"], "invalid_request_error", "{body}");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(s.stats().await.errors, 11);
}

#[tokio::test]
async fn faults_by_model_name() {
    let s = spawn(fast()).await;
    let resp = s.embed(&json!({"model":"mock-500","input":"x"})).await;
    assert_eq!(resp.status(), 500);
    let v: Value = resp.json_body().await;
    assert_eq!(v["error"]["code"], "mock_500");

    let resp = s.embed(&json!({"model":"mock-429","input":"x"})).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    let v: Value = resp.json_body().await;
    assert_eq!(v["error"]["type"], "rate_limit_error");

    let resp = s.embed(&json!({"model":"mock-529","input":"x"})).await;
    assert_eq!(resp.status(), 529);

    let stats = s.stats().await;
    assert_eq!((stats.requests, stats.errors), (3, 3));
}

#[tokio::test]
async fn only_post_is_allowed() {
    let s = spawn(fast()).await;
    let resp = s.get("/v1/embeddings").await;
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
}

#[tokio::test]
async fn in_process_matches_http() {
    let s = spawn(fast()).await;
    let body = json!({"model":"mock","input":["one two","three"],"dimensions":16});
    let over_http = s.embed(&body).await.bytes().await.unwrap();

    let stats = Stats::new();
    let mock = respond(
        &fast(),
        &stats,
        &http::HeaderMap::new(),
        body.to_string().as_bytes(),
    );
    assert_eq!(mock.status, 200);
    let chunks: Vec<_> = mock.body.collect().await;
    let in_process: Vec<u8> = chunks.into_iter().flat_map(|c| c.unwrap()).collect();
    assert_eq!(over_http, in_process);
    let snap = stats.snapshot();
    assert_eq!((snap.requests, snap.completed, snap.active), (1, 1, 0));
}
