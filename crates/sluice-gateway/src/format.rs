//! The client's wire format of a stream, chosen by the route the request came in on; each
//! makes the stateful encoder the relay writes through.

use sluice_openai::encode::{ChatChunks, SimpleChat};
use sluice_openai::{ClientEncoder, Pricer};

/// What a client's stream looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientFormat {
    /// `/v1/chat/completions`: OpenAI chunks as the provider wrote them; `include_usage` says
    /// whether the client asked for the usage chunk.
    ChatCompletions { include_usage: bool },
    /// The seed's `/stream/chat`.
    SimpleChat,
}

impl ClientFormat {
    /// A new encoder for one stream; with a `pricer`, the usage the client sees carries the
    /// gateway's cost.
    pub fn encoder(self, pricer: Option<Pricer>) -> Box<dyn ClientEncoder> {
        match self {
            ClientFormat::ChatCompletions { include_usage } => {
                Box::new(ChatChunks::new(include_usage, pricer))
            }
            ClientFormat::SimpleChat => Box::new(SimpleChat::new(pricer)),
        }
    }
}
