//! The client's wire format, chosen by the route the request came in on: each makes the
//! stateful encoder the relay writes a stream through, and writes a whole answer. A client of
//! a provider's own API whose request is passed through to that provider gets the provider's
//! answer instead ([`pass_through`]).

use bytes::Bytes;
use sluice_native::inbound::messages;
use sluice_native::inbound::responses::{self, ResponseMeta};
use sluice_native::passthrough::{MessagesPassThrough, NativeApi, ResponsesPassThrough};
use sluice_native::{ResponseError, TranslateError};
use sluice_openai::encode::{ChatChunks, SimpleChat};
use sluice_openai::pricing::price_usage_in_chunk;
use sluice_openai::{ClientEncoder, PassThrough, Pricer, UsagePricer};
use sluice_types::Usage;

/// What a client's answer looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFormat {
    /// `/v1/chat/completions`: OpenAI chunks as the provider wrote them; `include_usage` says
    /// whether the client asked for the usage chunk.
    ChatCompletions { include_usage: bool },
    /// The seed's `/stream/chat`.
    SimpleChat,
    /// `/v1/responses`: OpenAI's Responses events, translated from the chat stream. `raw` is
    /// the client's own body, passed through to providers that serve the Responses API;
    /// `stateful` says the request continues a stored response, which only they can answer
    /// (the 400 for any other provider).
    Responses {
        meta: ResponseMeta,
        raw: Bytes,
        stateful: Option<TranslateError>,
    },
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
            ClientFormat::Responses { meta, .. } => {
                Box::new(responses::ResponsesEncoder::new(meta.clone(), pricer))
            }
            ClientFormat::Messages { model, id, .. } => {
                let encoder = messages::MessagesEncoder::new(model.clone(), Some(id.clone()));
                Box::new(encoder.with_pricer(pricer))
            }
        }
    }

    /// The provider API the client speaks, if not chat completions, and its own body: passed
    /// through to a provider that speaks that API.
    pub fn native(&self) -> Option<(NativeApi, &Bytes)> {
        match self {
            ClientFormat::Messages { raw, .. } => Some((NativeApi::Messages, raw)),
            ClientFormat::Responses { raw, .. } => Some((NativeApi::Responses, raw)),
            ClientFormat::ChatCompletions { .. } | ClientFormat::SimpleChat => None,
        }
    }

    /// Why only a provider that speaks the client's API can serve the request, if so.
    pub fn stateful(&self) -> Option<&TranslateError> {
        match self {
            ClientFormat::Responses { stateful, .. } => stateful.as_ref(),
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
            ClientFormat::Responses { meta, .. } => {
                responses::response(&completion, meta, Some(pricer)).map(Bytes::from)
            }
            ClientFormat::Messages { model, .. } => {
                messages::response(&completion, model).map(Bytes::from)
            }
        }
    }
}

/// The relay's reader and writer for a stream passed through in `api`; with a `pricer`, its
/// final usage carries the gateway's cost.
pub fn pass_through(api: NativeApi, pricer: Option<Pricer>) -> Box<dyn PassThrough> {
    match api {
        NativeApi::Messages => Box::new(MessagesPassThrough::new(pricer)),
        NativeApi::Responses => Box::new(ResponsesPassThrough::new(pricer)),
    }
}

/// A whole answer passed through in `api`, with the gateway's cost on its usage when `pricer`
/// prices it.
pub fn whole_passed_through(
    api: NativeApi,
    answer: Bytes,
    usage: Option<&Usage>,
    pricer: &dyn UsagePricer,
) -> Bytes {
    match usage.and_then(|u| pricer.price(u)) {
        Some(priced) => Bytes::from(api.price_whole(&answer, &priced)),
        None => answer,
    }
}
