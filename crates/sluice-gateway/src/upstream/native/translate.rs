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
