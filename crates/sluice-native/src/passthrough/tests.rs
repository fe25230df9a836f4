use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use sluice_openai::{ErrorBody, PassThrough, PricedUsage, UsagePricer};
use sluice_sse::{Decoder, Event, Frame};
use sluice_types::Usage;

use super::*;

/// Prices every token at one micro-dollar, so a cost shows the usage it was computed from.
#[derive(Debug)]
struct PerToken;

impl UsagePricer for PerToken {
    fn price(&self, usage: &Usage) -> Option<PricedUsage> {
        let cost = format!("0.{:06}", usage.total_tokens);
        Some(PricedUsage {
            cost_usd: cost.clone(),
            currency: "USD".into(),
            cost_local: cost,
        })
    }
}

fn events(sse: &str) -> Vec<Event> {
    let mut decoder = Decoder::new();
    decoder.push(sse.as_bytes());
    let mut out = Vec::new();
    while let Ok(Some(frame)) = decoder.next_frame() {
        if let Frame::Event(e) = frame {
            out.push(e);
        }
    }
    out
}

/// One event's reading: content, text, usage, last, failed.
type Reading = (bool, Option<String>, Option<Usage>, bool, bool);

/// Relays `sse` through `pass`: what the client got, and each event's reading.
fn relay(pass: &mut dyn PassThrough, sse: &str) -> (String, Vec<Reading>) {
    let mut out = BytesMut::new();
    let mut read = Vec::new();
    for event in events(sse) {
        let p = pass.event(&event, &mut out).expect("JSON events");
        read.push((
            p.content,
            p.text.map(|t| t.into_owned()),
            p.usage,
            p.last,
            p.error.is_some(),
        ));
    }
    (String::from_utf8(out.to_vec()).unwrap(), read)
}

const MESSAGES: &str = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":5,\"output_tokens\":1}}}\n\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\",\"citations\":[]}}\n\n\
event: ping\n\
data: {\"type\": \"ping\"}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"citations_delta\",\"citation\":{\"type\":\"char_location\",\"cited_text\":\"x\",\"document_index\":0,\"start_char_index\":0,\"end_char_index\":1}}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi \\\"there\\\"\"}}\n\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":7}}\n\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n\n";

#[test]
fn a_messages_stream_is_relayed_as_it_came_with_the_cost_on_message_delta() {
    let mut pass = MessagesPassThrough::new(Some(Arc::new(PerToken)));
    let (client, read) = relay(&mut pass, MESSAGES);
    // Every event but message_delta is the provider's own bytes, citations included.
    let (before, after) = MESSAGES.split_once("event: message_delta").unwrap();
    assert!(client.starts_with(before), "{client}");
    assert!(client.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
    let delta = client[before.len()..].lines().nth(1).unwrap();
    assert_eq!(
        delta,
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":7,\"cost\":0.000122,\"cost_local\":{\"currency\":\"USD\",\"amount\":0.000122}}}"
    );
    assert!(after.contains("message_stop"));
    // Usage once, at message_delta: the prompt counts every input token, as OpenAI does.
    let usage = read[6].2.expect("message_delta reports usage");
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (115, 7));
    assert_eq!((usage.cached_tokens, usage.cache_write_tokens), (100, 5));
    assert!(read
        .iter()
        .enumerate()
        .all(|(i, r)| i == 6 || r.2.is_none()));
    // Text deltas are content; a citation is not; the last event says so.
    assert_eq!(read[4].1.as_deref(), Some("Hi \"there\""));
    assert!(read[4].0 && !read[3].0);
    assert!(read[7].3 && !read[6].3);
}

#[test]
fn a_messages_error_event_fails_the_stream_and_is_written_in_anthropics_shape() {
    let mut pass = MessagesPassThrough::new(None);
    let sse = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    let (client, read) = relay(&mut pass, sse);
    assert!(client.is_empty(), "a failure is not written as it is read");
    assert!(read[0].4);
    let mut out = BytesMut::new();
    let err = pass
        .event(&events(sse)[0], &mut BytesMut::new())
        .unwrap()
        .error
        .unwrap();
    assert_eq!(err.status_hint(), Some(529), "an overload stays retryable");
    pass.error(&err, &mut out);
    assert_eq!(
        &out[..],
        sse.as_bytes(),
        "the provider's own error, as it came"
    );
    pass.error(&err, &mut out);
    assert_eq!(
        out.iter().filter(|b| **b == b'\n').count(),
        3,
        "one error event only"
    );
}

const RESPONSES: &str = "event: response.created\n\
data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1760000000,\"status\":\"in_progress\",\"model\":\"gpt-5\",\"output\":[],\"previous_response_id\":\"resp_0\",\"usage\":null}}\n\n\
event: response.output_item.added\n\
data: {\"type\":\"response.output_item.added\",\"sequence_number\":1,\"output_index\":0,\"item\":{\"id\":\"ws_1\",\"type\":\"web_search_call\",\"status\":\"in_progress\"}}\n\n\
event: response.output_text.delta\n\
data: {\"type\":\"response.output_text.delta\",\"sequence_number\":2,\"item_id\":\"msg_1\",\"output_index\":1,\"content_index\":0,\"delta\":\"Hel\\u006co\",\"logprobs\":[]}\n\n\
event: response.completed\n\
data: {\"type\":\"response.completed\",\"sequence_number\":3,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"model\":\"gpt-5\",\"output\":[],\"usage\":{\"input_tokens\":20,\"input_tokens_details\":{\"cached_tokens\":8},\"output_tokens\":5,\"output_tokens_details\":{\"reasoning_tokens\":2},\"total_tokens\":25}}}\n\n";

#[test]
fn a_responses_stream_is_relayed_as_it_came_with_the_cost_on_the_completed_usage() {
    let mut pass = ResponsesPassThrough::new(Some(Arc::new(PerToken)));
    let (client, read) = relay(&mut pass, RESPONSES);
    let (before, _) = RESPONSES.split_once("event: response.completed").unwrap();
    assert!(client.starts_with(before), "{client}");
    let completed = client[before.len()..].lines().nth(1).unwrap();
    assert_eq!(
        completed,
        "data: {\"type\":\"response.completed\",\"sequence_number\":3,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"model\":\"gpt-5\",\"output\":[],\"usage\":{\"input_tokens\":20,\"input_tokens_details\":{\"cached_tokens\":8},\"output_tokens\":5,\"output_tokens_details\":{\"reasoning_tokens\":2},\"total_tokens\":25,\"cost\":0.000025,\"cost_local\":{\"currency\":\"USD\",\"amount\":0.000025}}}}"
    );
    let usage = read[3].2.expect("the last event reports usage");
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cached_tokens
        ),
        (20, 5, 8)
    );
    assert_eq!(read[2].1.as_deref(), Some("Hello"), "escapes read");
    assert!(read[2].0 && !read[1].0 && !read[0].0);
    assert!(read[3].3 && !read[2].3);
}

#[test]
fn a_responses_failure_is_the_providers_own_event_once_the_client_has_the_stream() {
    let mut pass = ResponsesPassThrough::new(None);
    let failed = "event: response.failed\ndata: {\"type\":\"response.failed\",\"sequence_number\":1,\"response\":{\"id\":\"resp_1\",\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"boom\"},\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n";
    let sse = format!(
        "{}{failed}",
        RESPONSES.split("\n\n").next().unwrap().to_owned() + "\n\n"
    );
    let (client, read) = relay(&mut pass, &sse);
    assert!(!client.contains("response.failed"));
    assert!(read[1].4, "the failure fails the stream");
    assert_eq!(
        read[1].2.map(|u| u.total_tokens),
        Some(4),
        "and its usage is billed"
    );
    let err = ErrorBody::from_message("boom".into());
    let mut out = BytesMut::new();
    pass.error(&err, &mut out);
    assert_eq!(String::from_utf8(out.to_vec()).unwrap(), failed);
}

#[test]
fn a_failure_of_the_gateways_own_ends_the_responses_stream_with_response_failed() {
    let mut pass = ResponsesPassThrough::new(None);
    let first = RESPONSES.split("\n\n").next().unwrap().to_owned() + "\n\n";
    relay(&mut pass, &first);
    let mut out = BytesMut::new();
    pass.error(
        &ErrorBody::new("timed out".into(), "timeout", "idle_timeout".into()),
        &mut out,
    );
    let text = String::from_utf8(out.to_vec()).unwrap();
    let data: serde_json::Value = serde_json::from_str(
        text.strip_prefix("event: response.failed\ndata: ")
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert_eq!(data["sequence_number"], 1);
    assert_eq!(data["response"]["id"], "resp_1");
    assert_eq!(data["response"]["status"], "failed");
    assert_eq!(data["response"]["error"]["code"], "idle_timeout");
}

#[test]
fn whole_answers_are_read_and_priced_in_their_own_api() {
    let message = br#"{"id":"msg_1","type":"message","content":[{"type":"text","text":"hi","citations":null}],"usage":{"input_tokens":3,"cache_read_input_tokens":4,"output_tokens":2}}"#;
    let usage = NativeApi::Messages.whole_usage(message).unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cached_tokens
        ),
        (7, 2, 4)
    );
    let priced = PerToken.price(&usage).unwrap();
    let out = NativeApi::Messages.price_whole(message, &priced);
    let prefix = &message[..message.len() - 2];
    assert!(out.starts_with(prefix), "{}", String::from_utf8_lossy(&out));
    assert!(String::from_utf8(out).unwrap().ends_with(
        r#""output_tokens":2,"cost":0.000009,"cost_local":{"currency":"USD","amount":0.000009}}}"#
    ));

    let response = br#"{"id":"resp_1","object":"response","usage":{"input_tokens":5,"output_tokens":6,"total_tokens":11}}"#;
    let usage = NativeApi::Responses.whole_usage(response).unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (5, 6));
    assert_eq!(
        NativeApi::Responses.whole_usage(br#"{"usage":{"input_tokens":-1}}"#),
        None
    );
    assert_eq!(NativeApi::Messages.whole_usage(b"not json"), None);
}

#[test]
fn an_event_that_is_not_json_is_an_error_not_a_panic() {
    let event = Event {
        event: None,
        data: Bytes::from_static(b"{not json"),
        id: None,
        retry: None,
    };
    let mut out = BytesMut::new();
    assert!(ResponsesPassThrough::new(None)
        .event(&event, &mut out)
        .is_err());
    assert!(MessagesPassThrough::new(None)
        .event(&event, &mut out)
        .is_err());
    assert!(out.is_empty());
}

#[test]
fn a_delta_read_from_its_bytes_says_what_the_full_read_says() {
    let mut pass = ResponsesPassThrough::new(None);
    let cases = [
        // OpenAI's layout: the shortcut's.
        (
            r#"{"type":"response.output_text.delta","sequence_number":7,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"a \"b\"","logprobs":[],"obfuscation":"x"}"#,
            Some("a \"b\""),
        ),
        (
            r#"{"type":"response.function_call_arguments.delta","sequence_number":8,"item_id":"fc_1","output_index":1,"delta":"{\"x\":"}"#,
            Some("{\"x\":"),
        ),
        // Another key order: the full read.
        (
            r#"{"sequence_number":9,"type":"response.output_text.delta","delta":"c"}"#,
            Some("c"),
        ),
        // A delta that is not a string: content all the same, no text.
        (
            r#"{"type":"response.audio.delta","sequence_number":10,"delta":{"x":1}}"#,
            None,
        ),
    ];
    for (data, text) in cases {
        let event = Event {
            event: None,
            data: Bytes::copy_from_slice(data.as_bytes()),
            id: None,
            retry: None,
        };
        let mut out = BytesMut::new();
        let passed = pass.event(&event, &mut out).unwrap();
        assert!(passed.content, "{data}");
        assert_eq!(passed.text.as_deref(), text, "{data}");
        assert!(!passed.last && passed.error.is_none() && passed.usage.is_none());
        assert_eq!(
            &out[..],
            format!("data: {data}\n\n").as_bytes(),
            "relayed as it came"
        );
    }
    assert_eq!(pass.sequence, Some(10));
    // Not a delta: the full read, whatever its bytes look like.
    assert!(super::responses::quick_delta(
        br#"{"type":"response.completed","sequence_number":1,"delta":"x"}"#
    )
    .is_none());
    assert!(super::responses::quick_delta(
        br#"{"type":"response.output_text.delta","sequence_number":1,"delta":"unterminated}"#
    )
    .is_none());
}
