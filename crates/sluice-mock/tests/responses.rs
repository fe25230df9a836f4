//! The Responses API of the mock over loopback HTTP: the documented event order with sequence
//! numbers, the generator's text, usage, `max_output_tokens`, `previous_response_id` echoed,
//! and the fault models.

mod common;

use common::{fast, native_seed, read_until_error, spawn, str_at, JsonBody, Server};
use serde_json::{json, Value};
use sluice_mock::completion_text;

impl Server {
    async fn responses(&self, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
        self.post_to("/v1/responses", body.to_string(), headers)
            .await
    }
}

fn request(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "instructions": "Be brief.",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "one two"}]}],
    })
}

/// The seed and prompt tokens of [`request`].
fn seed() -> u64 {
    native_seed(&[&["Be brief."], &["one two"]])
}

/// Each event's name (equal to its data's `type`) and data; sequence numbers from 0 in order.
fn events(body: &str) -> Vec<(String, Value)> {
    let events: Vec<(String, Value)> = body
        .split_terminator("\n\n")
        .map(|event| {
            let (name, data) = event
                .strip_prefix("event: ")
                .and_then(|e| e.split_once("\ndata: "))
                .unwrap_or_else(|| panic!("not an event: {event:?}"));
            let data: Value = serde_json::from_str(data).unwrap();
            assert_eq!(data["type"], name, "{event}");
            (name.to_owned(), data)
        })
        .collect();
    for (i, (_, data)) in events.iter().enumerate() {
        assert_eq!(data["sequence_number"], i, "{data}");
    }
    events
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(name, _)| name.as_str()).collect()
}

fn order(n: usize, last: &'static str) -> Vec<&'static str> {
    let mut order = vec![
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ];
    order.extend(std::iter::repeat_n("response.output_text.delta", n));
    order.extend([
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        last,
    ]);
    order
}

#[tokio::test]
async fn a_stream_follows_the_documented_order_and_echoes_the_previous_response() {
    let s = spawn(fast()).await;
    let mut body = request("gpt-x", true);
    body["previous_response_id"] = "resp_earlier".into();
    let resp = s.responses(&body, &[("x-mock-tokens", "6")]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let evs = events(&resp.text().await.unwrap());
    assert_eq!(names(&evs), order(6, "response.completed"));
    let text: String = evs
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| str_at(d, "/delta"))
        .collect();
    assert_eq!(text, completion_text(seed(), 6));
    let created = &evs[0].1["response"];
    assert_eq!(created["status"], "in_progress");
    assert_eq!(created["previous_response_id"], "resp_earlier");
    let done = &evs.last().unwrap().1["response"];
    assert_eq!(done["id"], created["id"]);
    assert_eq!(done["status"], "completed");
    assert_eq!(done["output"][0]["content"][0]["text"], text);
    let prompt = (2 + 4) + (2 + 4);
    assert_eq!(
        done["usage"],
        json!({"input_tokens": prompt, "input_tokens_details": {"cached_tokens": 0},
               "output_tokens": 6, "output_tokens_details": {"reasoning_tokens": 0},
               "total_tokens": prompt + 6})
    );
}

#[tokio::test]
async fn a_whole_answer_is_the_response_object_and_max_output_tokens_makes_it_incomplete() {
    let s = spawn(fast()).await;
    let whole: Value = s
        .responses(&request("gpt-x", false), &[("x-mock-tokens", "5")])
        .await
        .json_body()
        .await;
    assert_eq!(whole["object"], "response");
    assert_eq!(whole["status"], "completed");
    assert_eq!(whole["previous_response_id"], Value::Null);
    assert_eq!(
        whole["output"][0]["content"][0]["text"],
        completion_text(seed(), 5)
    );

    let mut body = request("gpt-x", true);
    body["max_output_tokens"] = 3.into();
    let resp = s.responses(&body, &[("x-mock-tokens", "9")]).await;
    let evs = events(&resp.text().await.unwrap());
    assert_eq!(names(&evs), order(3, "response.incomplete"));
    let last = &evs.last().unwrap().1["response"];
    assert_eq!(last["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(last["usage"]["output_tokens"], 3);
}

#[tokio::test]
async fn faults_answer_in_openais_errors_and_a_failure_mid_stream_is_response_failed() {
    let s = spawn(fast()).await;
    let resp = s.responses(&request("mock-429", true), &[]).await;
    assert_eq!(resp.status(), 429);
    let err: Value = resp.json_body().await;
    assert_eq!(err["error"]["code"], "rate_limit_exceeded");
    let resp = s.responses(&json!({"input": "x"}), &[]).await;
    assert_eq!(resp.status(), 400);

    let resp = s
        .responses(&request("mock-error-midstream", true), &[])
        .await;
    let evs = events(&resp.text().await.unwrap());
    let mut want = order(3, "");
    want.truncate(7);
    want.push("response.failed");
    assert_eq!(names(&evs), want);
    assert_eq!(evs[7].1["response"]["status"], "failed");
    assert_eq!(evs[7].1["response"]["error"]["code"], "server_error");

    let resp = s.responses(&request("mock-drop", true), &[]).await;
    let (text, failed) = read_until_error(resp).await;
    assert!(failed, "the body ended cleanly: {text}");
}
