//! The IO-free reading of one SSE reply: [`StreamState`] is fed each event with the time it
//! arrived and decides which chunk carries content and when the stream is complete;
//! [`inspect_chunk`] reads one chunk payload. What it produces is a [`Sample`] or a
//! [`Failure`]. Kept apart from the HTTP client so the timing rules are tested without a
//! socket.

use std::time::Duration;

use serde::Deserialize;
use sluice_sse::Event;
use tokio::time::Instant;

use crate::api::Api;
use crate::error::{ErrorKind, Failure};

/// The timings of one successful request.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Start to the first chunk with content; `None` if no chunk had any.
    pub ttft: Option<Duration>,
    /// Between consecutive content chunks.
    pub gaps: Vec<Duration>,
    /// (last content − first content) / (completion tokens − 1), with at least 2 tokens.
    pub tpot: Option<Duration>,
    /// Start to the end of the body.
    pub total: Duration,
    /// From the final usage when the server sent one, else the number of content chunks.
    pub completion_tokens: u64,
}

/// The reading of one SSE reply, fed event by event with the time each arrived.
#[derive(Debug)]
pub struct StreamState {
    api: Api,
    start: Instant,
    first_content: Option<Instant>,
    last_content: Option<Instant>,
    gaps: Vec<Duration>,
    content_chunks: u64,
    usage_tokens: Option<u64>,
    done: bool,
}

impl StreamState {
    /// A chat-completions reply.
    #[cfg(test)]
    pub fn new(start: Instant) -> Self {
        Self::of(Api::Chat, start)
    }

    /// A reply in `api`'s events.
    pub fn of(api: Api, start: Instant) -> Self {
        StreamState {
            api,
            start,
            first_content: None,
            last_content: None,
            gaps: Vec::new(),
            content_chunks: 0,
            usage_tokens: None,
            done: false,
        }
    }

    /// Takes one event; an error event or a payload that is not a JSON chunk fails the
    /// request. Anything after `[DONE]` (or the API's last event) is ignored.
    pub fn on_event(&mut self, event: &Event, at: Instant) -> Result<(), Failure> {
        let data = event.data.trim_ascii();
        if self.done || data.is_empty() {
            return Ok(());
        }
        if self.api != Api::Chat {
            return self.on_native_event(data, at);
        }
        if data == b"[DONE]" {
            self.done = true;
            return Ok(());
        }
        if event.event_type() == b"error" {
            return Err(Failure::new(
                ErrorKind::StreamError,
                snippet(&String::from_utf8_lossy(data)),
            ));
        }
        let info = inspect_chunk(data).map_err(|e| {
            Failure::new(
                ErrorKind::Protocol,
                format!("a data event is not a JSON chunk ({e})"),
            )
        })?;
        if let Some(message) = info.error {
            return Err(Failure::new(ErrorKind::StreamError, message));
        }
        if let Some(tokens) = info.completion_tokens {
            self.usage_tokens = Some(tokens);
        }
        if info.content {
            self.content(at);
        }
        Ok(())
    }

    /// An event of the Responses or Messages API.
    fn on_native_event(&mut self, data: &[u8], at: Instant) -> Result<(), Failure> {
        let reading = self.api.read(data).map_err(|e| {
            Failure::new(
                ErrorKind::Protocol,
                format!("a data event is not a JSON event ({e})"),
            )
        })?;
        if let Some(message) = reading.error {
            return Err(Failure::new(ErrorKind::StreamError, snippet(&message)));
        }
        if let Some(tokens) = reading.completion_tokens {
            self.usage_tokens = Some(tokens);
        }
        if reading.content {
            self.content(at);
        }
        self.done |= reading.done;
        Ok(())
    }

    /// A content event arrived at `at`.
    fn content(&mut self, at: Instant) {
        if let Some(last) = self.last_content {
            self.gaps.push(at.saturating_duration_since(last));
        } else {
            self.first_content = Some(at);
        }
        self.last_content = Some(at);
        self.content_chunks += 1;
    }

    /// Ends the reply at `end`: a success only if `[DONE]` was seen.
    pub fn finish(self, end: Instant) -> Result<Sample, Failure> {
        if !self.done {
            return Err(Failure::new(
                ErrorKind::Incomplete,
                format!("the stream ended without {}", self.api.end()),
            ));
        }
        let completion_tokens = self.usage_tokens.unwrap_or(self.content_chunks);
        let tpot = match (self.first_content, self.last_content) {
            (Some(first), Some(last)) if completion_tokens >= 2 => {
                let span = last.saturating_duration_since(first);
                let per_token = span.as_nanos() / u128::from(completion_tokens - 1);
                Some(Duration::from_nanos(
                    u64::try_from(per_token).unwrap_or(u64::MAX),
                ))
            }
            _ => None,
        };
        Ok(Sample {
            ttft: self
                .first_content
                .map(|t| t.saturating_duration_since(self.start)),
            gaps: self.gaps,
            tpot,
            total: end.saturating_duration_since(self.start),
            completion_tokens,
        })
    }
}

/// What one chunk payload says, as far as timing cares.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChunkInfo {
    /// Some choice's delta carries content, reasoning, a refusal or tool calls.
    pub content: bool,
    /// `usage.completion_tokens`, when present.
    pub completion_tokens: Option<u64>,
    /// The payload is an error (`{"error": ...}`): its text.
    pub error: Option<String>,
}

/// Reads a chunk payload with the relay's own one-pass inspection (so the bench and the
/// gateway agree on what counts as content); only an error's text is read again.
pub fn inspect_chunk(data: &[u8]) -> Result<ChunkInfo, serde_json::Error> {
    let summary = sluice_openai::chunk::inspect(data)?;
    let error = if summary.error {
        let value: serde_json::Value = serde_json::from_slice(data)?;
        Some(error_text(&value["error"].to_string()))
    } else {
        None
    };
    Ok(ChunkInfo {
        content: summary.content,
        completion_tokens: summary
            .usage
            .or(summary.vendor_usage)
            .map(|u| u.completion_tokens),
        error,
    })
}

/// The `message` of an OpenAI-style error, else the error JSON itself.
fn error_text(raw: &str) -> String {
    #[derive(Deserialize)]
    struct Shape {
        message: Option<String>,
    }
    match serde_json::from_str::<Shape>(raw) {
        Ok(Shape {
            message: Some(message),
        }) => snippet(&message),
        _ => match serde_json::from_str::<String>(raw) {
            Ok(text) => snippet(&text),
            Err(_) => snippet(raw),
        },
    }
}

/// The start of a body, on one line.
pub(crate) fn snippet(body: &str) -> String {
    const MAX: usize = 200;
    let line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn content(json: &str) -> bool {
        inspect_chunk(json.as_bytes()).unwrap().content
    }

    fn chunk(delta: &str) -> String {
        format!(
            r#"{{"id":"c","object":"chat.completion.chunk","choices":[{{"index":0,"delta":{delta},"finish_reason":null}}]}}"#
        )
    }

    #[test]
    fn role_only_and_empty_deltas_are_not_content() {
        assert!(!content(&chunk(r#"{"role":"assistant"}"#)));
        assert!(!content(&chunk(r#"{"role":"assistant","content":""}"#)));
        assert!(!content(&chunk(r#"{"content":null,"tool_calls":[]}"#)));
        assert!(!content(&chunk("{}")));
        assert!(!content(
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#
        ));
        assert!(!content(
            r#"{"choices":[],"usage":{"completion_tokens":3}}"#
        ));
        assert!(!content(r#"{"choices":null}"#));
    }

    #[test]
    fn every_kind_of_delta_text_is_content() {
        assert!(content(&chunk(r#"{"role":"assistant","content":"Hi"}"#)));
        assert!(content(&chunk(r#"{"content":"\n"}"#)));
        assert!(content(&chunk(r#"{"content":"\u00e9\"q\""}"#)));
        assert!(content(&chunk(r#"{"reasoning_content":"think"}"#)));
        assert!(content(&chunk(r#"{"reasoning":"think"}"#)));
        assert!(content(&chunk(r#"{"refusal":"no"}"#)));
        assert!(content(&chunk(
            r#"{"tool_calls":[{"index":0,"function":{"arguments":"{"}}]}"#
        )));
        // Any choice, not only the first.
        assert!(content(
            r#"{"choices":[{"index":0,"delta":{}},{"index":1,"delta":{"content":"x"}}]}"#
        ));
    }

    #[test]
    fn usage_and_errors_are_read() {
        let info =
            inspect_chunk(br#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":20}}"#)
                .unwrap();
        assert_eq!(info.completion_tokens, Some(20));
        let info = inspect_chunk(br#"{"error":{"message":"upstream died","type":"x"}}"#).unwrap();
        assert_eq!(info.error.as_deref(), Some("upstream died"));
        let info = inspect_chunk(br#"{"error":"plain text"}"#).unwrap();
        assert_eq!(info.error.as_deref(), Some("plain text"));
        assert_eq!(inspect_chunk(br#"{"error":null}"#).unwrap().error, None);
        assert!(inspect_chunk(b"not json").is_err());
    }

    fn event(data: &str) -> Event {
        Event {
            data: Bytes::copy_from_slice(data.as_bytes()),
            ..Event::default()
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn timings_follow_content_chunks_only() {
        let t0 = Instant::now();
        let mut s = StreamState::new(t0);
        s.on_event(&event(&chunk(r#"{"role":"assistant"}"#)), t0 + ms(50))
            .unwrap();
        s.on_event(&event(&chunk(r#"{"content":"a"}"#)), t0 + ms(200))
            .unwrap();
        s.on_event(&event(&chunk(r#"{"content":"b"}"#)), t0 + ms(220))
            .unwrap();
        s.on_event(&event(&chunk(r#"{"content":"c"}"#)), t0 + ms(260))
            .unwrap();
        s.on_event(
            &event(r#"{"choices":[],"usage":{"completion_tokens":4}}"#),
            t0 + ms(261),
        )
        .unwrap();
        s.on_event(&event("[DONE]"), t0 + ms(262)).unwrap();
        let sample = s.finish(t0 + ms(270)).unwrap();
        assert_eq!(sample.ttft, Some(ms(200)));
        assert_eq!(sample.gaps, vec![ms(20), ms(40)]);
        assert_eq!(sample.completion_tokens, 4);
        assert_eq!(sample.tpot, Some(ms(20))); // 60 ms over 3 intervals
        assert_eq!(sample.total, ms(270));
    }

    #[test]
    fn without_usage_tokens_are_content_chunks() {
        let t0 = Instant::now();
        let mut s = StreamState::new(t0);
        s.on_event(&event(&chunk(r#"{"content":"a"}"#)), t0 + ms(10))
            .unwrap();
        s.on_event(&event(&chunk(r#"{"content":"b"}"#)), t0 + ms(30))
            .unwrap();
        s.on_event(&event("[DONE]"), t0 + ms(31)).unwrap();
        let sample = s.finish(t0 + ms(31)).unwrap();
        assert_eq!(sample.completion_tokens, 2);
        assert_eq!(sample.tpot, Some(ms(20)));

        let mut s = StreamState::new(t0);
        s.on_event(&event(&chunk(r#"{"content":"a"}"#)), t0 + ms(10))
            .unwrap();
        s.on_event(&event("[DONE]"), t0 + ms(11)).unwrap();
        let sample = s.finish(t0 + ms(11)).unwrap();
        assert_eq!((sample.completion_tokens, sample.tpot), (1, None));
    }

    #[test]
    fn failures_have_their_kind() {
        let t0 = Instant::now();
        let mut s = StreamState::new(t0);
        s.on_event(&event(&chunk(r#"{"content":"a"}"#)), t0)
            .unwrap();
        assert_eq!(s.finish(t0).unwrap_err().kind, ErrorKind::Incomplete);

        let mut s = StreamState::new(t0);
        let err = s
            .on_event(&event(r#"{"error":{"message":"boom"}}"#), t0)
            .unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (ErrorKind::StreamError, "boom")
        );

        let mut s = StreamState::new(t0);
        let typed = Event {
            event: Some(Bytes::from_static(b"error")),
            ..event(r#"{"message":"x"}"#)
        };
        assert_eq!(
            s.on_event(&typed, t0).unwrap_err().kind,
            ErrorKind::StreamError
        );

        let mut s = StreamState::new(t0);
        assert_eq!(
            s.on_event(&event("{oops"), t0).unwrap_err().kind,
            ErrorKind::Protocol
        );

        // After [DONE] nothing counts.
        let mut s = StreamState::new(t0);
        s.on_event(&event("[DONE]"), t0).unwrap();
        s.on_event(&event("{oops"), t0).unwrap();
        assert!(s.finish(t0).is_ok());
    }

    #[test]
    fn snippets_are_one_bounded_line() {
        assert_eq!(snippet("a\n  b\tc"), "a b c");
        let long = "x".repeat(500);
        assert_eq!(snippet(&long).chars().count(), 201);
    }

    #[test]
    fn a_responses_or_messages_reply_is_timed_by_its_own_events() {
        let t0 = Instant::now();
        let mut s = StreamState::of(Api::Responses, t0);
        s.on_event(
            &event(r#"{"type":"response.created","response":{}}"#),
            t0 + ms(5),
        )
        .unwrap();
        s.on_event(
            &event(r#"{"type":"response.output_text.delta","delta":"a"}"#),
            t0 + ms(100),
        )
        .unwrap();
        s.on_event(
            &event(r#"{"type":"response.output_text.delta","delta":"b"}"#),
            t0 + ms(130),
        )
        .unwrap();
        s.on_event(
            &event(r#"{"type":"response.completed","response":{"usage":{"output_tokens":2}}}"#),
            t0 + ms(131),
        )
        .unwrap();
        let sample = s.finish(t0 + ms(140)).unwrap();
        assert_eq!((sample.ttft, sample.tpot), (Some(ms(100)), Some(ms(30))));
        assert_eq!(sample.completion_tokens, 2);

        let mut s = StreamState::of(Api::Messages, t0);
        s.on_event(
            &event(r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}"#),
            t0 + ms(10),
        )
        .unwrap();
        let failure = s.finish(t0 + ms(20)).unwrap_err();
        assert!(
            failure.message.contains("without message_stop"),
            "{failure:?}"
        );
        let mut s = StreamState::of(Api::Messages, t0);
        let err = s
            .on_event(
                &event(r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#),
                t0,
            )
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::StreamError);
    }
}
