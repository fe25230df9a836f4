//! The client's wire format, chosen by the route the request came in on: each makes the
//! stateful encoder the relay writes a stream through, and writes a whole answer.

use bytes::Bytes;
use sluice_native::inbound::messages;
use sluice_native::inbound::responses::{self, ResponseMeta};
use sluice_native::ResponseError;
use sluice_openai::encode::{ChatChunks, SimpleChat};
use sluice_openai::pricing::price_usage_in_chunk;
use sluice_openai::{ClientEncoder, Pricer, UsagePricer};
use sluice_types::Usage;

/// What a client's answer looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFormat {
    /// `/v1/chat/completions`: OpenAI chunks as the provider wrote them; `include_usage` says
    /// whether the client asked for the usage chunk.
    ChatCompletions { include_usage: bool },
    /// The seed's `/stream/chat`.
    SimpleChat,
    /// `/v1/responses`: OpenAI's Responses events, translated from the chat stream.
    Responses(ResponseMeta),
    /// `/v1/messages`: Anthropic's Messages events, translated from the chat stream. `raw` is
    /// the client's own Messages body, passed through to Anthropic providers as it is.
    Messages {
        model: String,
        id: String,
        raw: Bytes,
    },
}

impl ClientFormat {
    /// A new encoder for one stream; with a `pricer`, the usage the client sees carries the
    /// gateway's cost.
    pub fn encoder(&self, pricer: Option<Pricer>) -> Box<dyn ClientEncoder> {
        match self {
            ClientFormat::ChatCompletions { include_usage } => {
                Box::new(ChatChunks::new(*include_usage, pricer))
            }
            ClientFormat::SimpleChat => Box::new(SimpleChat::new(pricer)),
            ClientFormat::Responses(meta) => {
                Box::new(responses::ResponsesEncoder::new(meta.clone(), pricer))
            }
            ClientFormat::Messages { model, id, .. } => {
                let encoder = messages::MessagesEncoder::new(model.clone(), Some(id.clone()));
                Box::new(encoder.with_pricer(pricer))
            }
        }
    }

    /// The client's own Messages body, for a provider that speaks the Messages API.
    pub fn messages_body(&self) -> Option<&Bytes> {
        match self {
            ClientFormat::Messages { raw, .. } => Some(raw),
            _ => None,
        }
    }

    /// A whole answer for the client from the provider's `chat.completion` (whose usage is
    /// `usage`): its usage priced by `pricer`, in the client's format.
    pub fn whole(
        &self,
        completion: Bytes,
        usage: Option<&Usage>,
        pricer: &dyn UsagePricer,
    ) -> Result<Bytes, ResponseError> {
        match self {
            ClientFormat::ChatCompletions { .. } | ClientFormat::SimpleChat => {
                // The client's usage carries the gateway's cost, as on a stream's usage chunk.
                Ok(match usage.and_then(|u| pricer.price(u)) {
                    Some(priced) => price_usage_in_chunk(&completion, &priced)
                        .map(Bytes::from)
                        .unwrap_or(completion),
                    None => completion,
                })
            }
            ClientFormat::Responses(meta) => {
                responses::response(&completion, meta, Some(pricer)).map(Bytes::from)
            }
            ClientFormat::Messages { model, .. } => {
                messages::response(&completion, model).map(Bytes::from)
            }
        }
    }
}
