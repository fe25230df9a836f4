//! Gemini's SSE stream of `GenerateContentResponse`s as chat-completion chunks.

use sluice_openai::ErrorBody;

use super::view::{finish_reason, Response};
use crate::chunk::{delta, ChunkMeta, Chunks, Envelope};
use crate::error::ProtocolError;
use crate::{NativeStream, Step, TokenUsage, MAX_BLOCKS};

/// The translator of one `streamGenerateContent?alt=sse` stream.
///
/// - the first chunk → the role chunk (`responseId` and `modelVersion` make the envelope);
/// - text parts → `content`; parts with `thought: true` → `reasoning_content`; a
///   `thoughtSignature` on a text part → `reasoning_signature`;
/// - each `functionCall` part → one whole tool call (`tool_calls[i]` with id `call_<i>`, the
///   name and the arguments as JSON text; its `thoughtSignature` as
///   `extra_content.google.thought_signature`);
/// - `finishReason` → the finish chunk (see [the module](super) for the mapping);
/// - `usageMetadata` → the usage, each chunk's replacing the last, written in the usage chunk
///   when the stream ends ([`NativeStream::finish`]: Gemini has no end event);
/// - an `error` object → [`Step::Error`].
#[derive(Debug)]
pub struct GeminiStream {
    meta: ChunkMeta,
    env: Option<Envelope>,
    /// Function calls so far: the next one's index.
    calls: u32,
    usage: Option<TokenUsage>,
    finished: bool,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Done,
    Failed,
}

impl GeminiStream {
    /// A translator for one stream; `meta` fills what the chunks do not say.
    pub fn new(meta: ChunkMeta) -> Self {
        GeminiStream {
            meta,
            env: None,
            calls: 0,
            usage: None,
            finished: false,
            state: State::Open,
        }
    }
}

impl NativeStream for GeminiStream {
    fn event(
        &mut self,
        _event: Option<&[u8]>,
        data: &[u8],
        out: &mut Chunks,
    ) -> Result<Step, ProtocolError> {
        if self.state != State::Open {
            return Ok(Step::Continue);
        }
        let mut chunk: Response<'_> =
            serde_json::from_slice(data).map_err(|e| ProtocolError::json("Gemini chunk", e))?;
        if chunk.error.is_some() {
            self.state = State::Failed;
            return Ok(Step::Error(ErrorBody::from_event_data(data)));
        }
        if let Some(usage) = chunk.usage_metadata.take() {
            self.usage = usage.usage();
        }
        let env = Envelope::open(
            &mut self.env,
            &self.meta,
            chunk.response_id.as_deref(),
            chunk.model_version.as_deref(),
            out,
        );
        let blocked = chunk.blocked();
        let Some(candidate) = chunk.candidate() else {
            if blocked && !self.finished {
                self.finished = true;
                env.finish(out, "content_filter");
            }
            return Ok(Step::Continue);
        };
        for part in candidate.content.into_iter().flat_map(|c| c.parts) {
            if let Some(call) = part.function_call {
                if self.calls as usize >= MAX_BLOCKS {
                    return Err(ProtocolError(format!(
                        "more than {MAX_BLOCKS} function calls"
                    )));
                }
                let index = self.calls;
                self.calls += 1;
                let sig = part.thought_signature;
                env.delta(out, |b| {
                    delta::tool_whole(b, index, call.name, call.arguments(), sig)
                });
                continue;
            }
            if let Some(text) = part.text.filter(|t| !t.is_empty()) {
                let key = match part.thought {
                    Some(true) => "reasoning_content",
                    _ => "content",
                };
                env.delta(out, |b| delta::text(b, key, text));
            }
            if let Some(sig) = part.thought_signature {
                env.delta(out, |b| delta::text(b, "reasoning_signature", sig));
            }
        }
        if let (Some(reason), false) = (candidate.finish_reason, self.finished) {
            self.finished = true;
            env.finish(out, finish_reason(&reason, self.calls > 0));
        }
        Ok(Step::Continue)
    }

    fn finish(&mut self, out: &mut Chunks) -> Result<(), ProtocolError> {
        match self.state {
            State::Done | State::Failed => Ok(()),
            State::Open if self.finished => {
                self.state = State::Done;
                if let (Some(usage), Some(env)) = (&self.usage, &self.env) {
                    env.usage(out, usage);
                }
                Ok(())
            }
            State::Open => {
                self.state = State::Failed;
                Err(ProtocolError(
                    "the Gemini stream ended before a finish reason".into(),
                ))
            }
        }
    }

    fn usage(&self) -> Option<TokenUsage> {
        self.usage
    }
}
