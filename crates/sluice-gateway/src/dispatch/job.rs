//! What a request asks of its route's providers: a chat completion (streamed or whole) or
//! embeddings (whole). The routing policy in `dispatch` is the same for both; a [`Job`] says
//! what differs: the body each provider gets, what the key's limits reserve, and whether an
//! attempt is a stream or a whole answer.

use bytes::Bytes;
use sluice_native::passthrough::NativeApi;
use sluice_openai::{ChatRequest, EmbeddingsRequest};

use crate::format::ClientFormat;
use crate::upstream::{Api, BodyError, ProviderClient};

/// One request's work.
#[derive(Debug, Clone)]
pub(super) enum Job<'a> {
    /// A chat completion, whose stream the client reads in `format`.
    Chat {
        request: &'a ChatRequest,
        format: ClientFormat,
    },
    /// Embeddings: OpenAI-compatible and simulated providers only, always a whole answer.
    Embeddings(&'a EmbeddingsRequest),
}

impl Job<'_> {
    /// The model the client asked for (the route's name).
    pub fn model(&self) -> &str {
        match self {
            Job::Chat { request, .. } => &request.model,
            Job::Embeddings(request) => &request.model,
        }
    }

    /// The client's own body: the prompt a tokenizer counts when the provider reports no
    /// usage, whatever the provider's format.
    pub fn raw(&self) -> &Bytes {
        match self {
            Job::Chat { request, .. } => request.raw(),
            Job::Embeddings(request) => request.raw(),
        }
    }

    pub fn api(&self) -> Api {
        match self {
            Job::Chat { .. } => Api::ChatCompletions,
            Job::Embeddings(_) => Api::Embeddings,
        }
    }

    /// The client's stream format when the answer is streamed; `None` for a whole answer.
    pub fn streamed(&self) -> Option<&ClientFormat> {
        match self {
            Job::Chat { request, format } if request.stream => Some(format),
            _ => None,
        }
    }

    /// The client's format of a whole answer: embeddings pass through, their usage priced as
    /// a chat completion's is.
    pub fn whole_format(&self) -> &ClientFormat {
        static AS_IS: ClientFormat = ClientFormat::ChatCompletions {
            include_usage: true,
        };
        match self {
            Job::Chat { format, .. } => format,
            Job::Embeddings(_) => &AS_IS,
        }
    }

    /// The provider API the client speaks (if not chat completions), and its own body.
    pub fn native(&self) -> Option<(NativeApi, &Bytes)> {
        match self {
            Job::Chat { format, .. } => format.native(),
            Job::Embeddings(_) => None,
        }
    }

    /// The tokens the key's limits reserve before any provider: the prompt's estimate, and the
    /// output allowance (`max_tokens`, else `default_max_tokens`; embeddings have no output).
    pub fn reserve(&self, default_max_tokens: u32) -> (u64, u64) {
        match self {
            Job::Chat { request, .. } => (
                request.prompt_estimate(),
                request.max_tokens.unwrap_or(u64::from(default_max_tokens)),
            ),
            Job::Embeddings(request) => (request.prompt_estimate, 0),
        }
    }

    /// The body for `provider`'s model `model` and the API it is for, or why that provider
    /// cannot take it. A client of an API the provider speaks itself is passed through; any
    /// other is translated, unless its request needs the provider's own API (stored state).
    pub fn body(&self, provider: &ProviderClient, model: &str) -> Result<(Bytes, Api), BodyError> {
        match self {
            Job::Chat { request, format } => {
                if let Some((api, raw)) = format.native().filter(|(api, _)| provider.speaks(*api)) {
                    return Ok((ProviderClient::native_body(raw, model)?, Api::Native(api)));
                }
                if let Some(err) = format.stateful() {
                    return Err(BodyError::Untranslatable(err.clone()));
                }
                let body = provider.body(request, model)?;
                // A translated request's thinking signatures are for native providers only.
                let stripped = format.native().is_some() && !provider.reads_signatures();
                match stripped.then(|| sluice_native::inbound::strip_signatures(&body)) {
                    Some(Some(body)) => Ok((Bytes::from(body), Api::ChatCompletions)),
                    _ => Ok((body, Api::ChatCompletions)),
                }
            }
            Job::Embeddings(request) => {
                Ok((provider.embeddings_body(request, model)?, Api::Embeddings))
            }
        }
    }
}
