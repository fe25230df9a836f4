//! A native provider's stream as an OpenAI one: the provider's SSE bytes are decoded and each
//! event handed to its translator (`sluice_native`), and the chunks it wrote go on as
//! `data:` events, so the relay reads every provider alike.
//!
//! One provider read gives one item, at once: nothing is held back for a later read, so
//! translation adds no latency and no buffering, and every read (even one that translates to
//! nothing, such as Anthropic's `ping` or a block's end) still reaches the relay and restarts
//! its idle timer. A translated end (`message_stop`, or a Gemini stream's last finish at end of
//! input) becomes `data: [DONE]`; a provider's `error` event becomes the chunk
//! `{"error":{…}}`, which the relay ends the stream with; output the translator cannot read is
//! a `protocol` failure.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use sluice_native::{Chunks, NativeStream, Step};
use sluice_relay::{StreamError, UpstreamBody};
use sluice_sse::{Decoder, Frame};

/// The translating body.
pub(crate) struct Translated {
    inner: UpstreamBody,
    decoder: Decoder,
    translator: Box<dyn NativeStream>,
    /// The chunks of the event being translated (its buffer reused for every event).
    chunks: Chunks,
    /// What this read translated to, split off as one `Bytes` per read.
    out: BytesMut,
    /// A failure found after some of a read's chunks: given after them.
    failure: Option<StreamError>,
    /// The translator ended the stream (done or failed), or the provider's body ended.
    ended: bool,
    /// The stream ended properly before the provider's body did: what is left of the body is
    /// given untranslated when polled (the relay drains a finished body, within a bound, so
    /// its connection can be used again).
    draining: bool,
}

impl Translated {
    pub(crate) fn new(inner: UpstreamBody, translator: Box<dyn NativeStream>) -> Self {
        Translated {
            inner,
            decoder: Decoder::new(),
            translator,
            chunks: Chunks::new(),
            out: BytesMut::new(),
            failure: None,
            ended: false,
            draining: false,
        }
    }

    /// Translates every complete event the decoder holds.
    fn drain(&mut self) {
        while !self.ended {
            match self.decoder.next_frame() {
                Ok(Some(Frame::Event(event))) => self.event(event.event.as_deref(), &event.data),
                // Comments only keep the connection alive; the read already said so.
                Ok(Some(Frame::Comment(_))) => {}
                Ok(None) => return,
                Err(err) => self.fail(StreamError::Protocol(err.to_string())),
            }
        }
    }

    fn event(&mut self, event: Option<&[u8]>, data: &[u8]) {
        self.chunks.clear();
        let step = self.translator.event(event, data, &mut self.chunks);
        self.write_chunks();
        match step {
            Ok(Step::Continue | Step::Alive) => {}
            Ok(Step::Done) => {
                self.out.put_slice(b"data: [DONE]\n\n");
                self.ended = true;
                self.draining = true;
            }
            Ok(Step::Error(body)) => {
                let error = body.to_json();
                self.out.put_slice(b"data: ");
                self.out.put_slice(error.to_string().as_bytes());
                self.out.put_slice(b"\n\n");
                self.ended = true;
            }
            Err(err) => self.fail(StreamError::Protocol(err.0)),
        }
    }

    /// The provider's body ended: a last event without its blank line, then the translator's
    /// end. An answer that finished gets `[DONE]`; one cut before its finish just ends, and the
    /// relay reports it as cut (`premature_end`).
    fn finish(&mut self) {
        if let Some(event) = self.decoder.finish() {
            self.event(event.event.as_deref(), &event.data);
        }
        // The body is over: nothing is left to drain.
        self.draining = false;
        if self.ended {
            return;
        }
        self.chunks.clear();
        let finished = self.translator.finish(&mut self.chunks).is_ok();
        self.write_chunks();
        if finished {
            self.out.put_slice(b"data: [DONE]\n\n");
        }
        self.ended = true;
    }

    fn write_chunks(&mut self) {
        for chunk in self.chunks.iter() {
            self.out.reserve(chunk.len() + 8);
            self.out.put_slice(b"data: ");
            self.out.put_slice(chunk);
            self.out.put_slice(b"\n\n");
        }
    }

    fn fail(&mut self, err: StreamError) {
        self.failure = Some(err);
        self.ended = true;
    }
}

impl Stream for Translated {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended {
            if !this.out.is_empty() {
                return Poll::Ready(Some(Ok(this.out.split().freeze())));
            }
            if this.draining {
                // Passed on as they are: the relay only counts them, against its bound on
                // what it drains.
                return match this.inner.poll_next_unpin(cx) {
                    Poll::Ready(Some(Ok(rest))) => Poll::Ready(Some(Ok(rest))),
                    Poll::Ready(_) => {
                        this.draining = false;
                        Poll::Ready(None)
                    }
                    Poll::Pending => Poll::Pending,
                };
            }
            return Poll::Ready(this.failure.take().map(Err));
        }
        match this.inner.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(bytes))) => {
                this.decoder.push(&bytes);
                this.drain();
                Poll::Ready(Some(Ok(this.out.split().freeze())))
            }
            Poll::Ready(Some(Err(err))) => {
                this.ended = true;
                Poll::Ready(Some(Err(err)))
            }
            Poll::Ready(None) => {
                this.finish();
                if this.out.is_empty() {
                    return Poll::Ready(this.failure.take().map(Err));
                }
                Poll::Ready(Some(Ok(this.out.split().freeze())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::stream;
    use sluice_native::anthropic::AnthropicStream;
    use sluice_native::ChunkMeta;

    use super::*;

    const START: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n";
    const BLOCK: &str = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
    const DELTA: &str = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n";
    const PING: &str = "event: ping\ndata: {\"type\":\"ping\"}\n\n";
    const END: &str = "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

    fn meta() -> ChunkMeta {
        ChunkMeta {
            id: "chatcmpl-1".into(),
            model: "claude".into(),
            created: 1,
        }
    }

    /// Feeds `reads` as the provider's reads; every item the translated body gives.
    async fn run(reads: Vec<Vec<u8>>) -> Vec<Result<Bytes, StreamError>> {
        let inner = stream::iter(reads.into_iter().map(|r| Ok(Bytes::from(r))));
        let body = Translated::new(Box::pin(inner), Box::new(AnthropicStream::new(meta())));
        body.collect().await
    }

    fn data(items: &[Result<Bytes, StreamError>]) -> Vec<String> {
        let mut decoder = Decoder::new();
        for item in items.iter().flatten() {
            decoder.push(item);
        }
        let mut out = Vec::new();
        while let Ok(Some(frame)) = decoder.next_frame() {
            if let Frame::Event(e) = frame {
                out.push(String::from_utf8_lossy(&e.data).into_owned());
            }
        }
        out
    }

    #[tokio::test]
    async fn one_item_per_read_and_done_at_message_stop() {
        let whole = [START, BLOCK, PING, DELTA, END].concat().into_bytes();
        // Seven-byte reads: events split anywhere, several reads giving nothing.
        let reads: Vec<Vec<u8>> = whole.chunks(7).map(<[u8]>::to_vec).collect();
        let items = run(reads.clone()).await;
        assert_eq!(items.len(), reads.len(), "one item per provider read");
        let events = data(&items);
        assert!(events[0].contains(r#""role":"assistant""#), "{events:?}");
        assert!(events.iter().any(|e| e.contains(r#""content":"Hi""#)));
        assert!(events
            .iter()
            .any(|e| e.contains(r#""finish_reason":"stop""#)));
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    }

    #[tokio::test]
    async fn the_rest_of_a_finished_body_is_passed_on_for_the_relay_to_drain() {
        let items = run(vec![
            [START, BLOCK, DELTA, END].concat().into_bytes(),
            b": trailing bytes\n\n".to_vec(),
        ])
        .await;
        assert_eq!(items.len(), 2);
        assert!(matches!(&items[1], Ok(b) if &b[..] == b": trailing bytes\n\n"));
        assert_eq!(data(&items).last().map(String::as_str), Some("[DONE]"));
    }

    #[tokio::test]
    async fn a_gemini_stream_ends_at_its_input_even_without_a_last_blank_line() {
        let sse = include_str!("../../../../sluice-native/fixtures/gemini/text.sse");
        let cut = sse.trim_end_matches(['\r', '\n']).as_bytes().to_vec();
        let inner = stream::iter([Ok(Bytes::from(cut))]);
        let body = Translated::new(
            Box::pin(inner),
            Box::new(sluice_native::gemini::GeminiStream::new(meta())),
        );
        let items: Vec<_> = body.collect().await;
        let events = data(&items);
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
        assert!(events
            .iter()
            .any(|e| e.contains(r#""finish_reason":"stop""#)));
        let usage: serde_json::Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
        assert_eq!(usage["usage"]["completion_tokens"], 39, "{usage}");
    }

    #[tokio::test]
    async fn a_provider_error_is_the_last_event_without_done() {
        let error = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let items = run(vec![[START, BLOCK, DELTA, error, DELTA]
            .concat()
            .into_bytes()])
        .await;
        let events = data(&items);
        let last: serde_json::Value = serde_json::from_str(events.last().unwrap()).unwrap();
        assert_eq!(last["error"]["type"], "overloaded_error");
        assert_eq!(last["error"]["message"], "Overloaded");
        assert!(!events.iter().any(|e| e == "[DONE]"));
        assert_eq!(events.iter().filter(|e| e.contains("Hi")).count(), 1);
    }

    #[tokio::test]
    async fn a_cut_stream_ends_without_done() {
        let items = run(vec![[START, BLOCK, DELTA].concat().into_bytes()]).await;
        assert!(items.iter().all(Result::is_ok));
        let events = data(&items);
        assert!(events.iter().any(|e| e.contains("Hi")));
        assert!(!events.iter().any(|e| e == "[DONE]"));
    }

    #[tokio::test]
    async fn unreadable_output_is_a_protocol_failure_after_what_came_before() {
        let bad = "event: content_block_delta\ndata: {not json\n\n";
        let items = run(vec![[START, BLOCK, DELTA, bad].concat().into_bytes()]).await;
        let (last, rest) = items.split_last().unwrap();
        assert!(matches!(last, Err(StreamError::Protocol(_))), "{last:?}");
        assert!(data(rest).iter().any(|e| e.contains("Hi")));
    }
}
