//! The label sets of the gateway's metrics: typed, bounded, built once.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;

/// The `model` label of a request no route matched (the raw name is never a label).
pub(super) const UNKNOWN_MODEL: &str = "unknown";
/// The `provider` label of a request refused before a provider was chosen.
pub(super) const NO_PROVIDER: &str = "none";

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct RouteLabels {
    pub model: Arc<str>,
    pub provider: Arc<str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct RequestLabels {
    pub model: Arc<str>,
    pub provider: Arc<str>,
    pub status: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct TokenLabels {
    pub model: Arc<str>,
    pub provider: Arc<str>,
    pub kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct UpstreamErrorLabels {
    pub provider: Arc<str>,
    pub kind: &'static str,
}

/// A request refused by a key's limits: the key (an existing key's public id, never client
/// input) and which limit.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct LimitedLabels {
    pub key: Arc<str>,
    pub reason: &'static str,
}

/// A field or tool type an inbound API's translation could not carry: the API (`responses`,
/// `messages`) and the field's name from the translation's fixed vocabulary.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct DroppedLabels {
    pub api: &'static str,
    pub field: Arc<str>,
}

/// A refused key, by why.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ReasonLabels {
    pub reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ProviderLabels {
    pub provider: Arc<str>,
}

/// A retry: the provider whose attempt failed, and why (a bounded error kind).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RetryLabels {
    pub provider: Arc<str>,
    pub reason: &'static str,
}

/// Why a request was answered before reaching a provider (its `status` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// 400 or 413: the request could not be read.
    BadRequest,
    /// 404: no route for the model.
    NotFound,
    /// 401: no valid key.
    Unauthorized,
    /// 403: the key may not use the model.
    Forbidden,
    /// 429: over the key's requests or tokens per minute.
    OverLimit,
    /// 429: the key's budget is used up.
    OverBudget,
    /// 503: the limits could not be checked (`on_store_error = "closed"`).
    LimitsUnavailable,
    /// 500: the gateway could not serve a route it has.
    Internal,
}

impl Refused {
    pub fn status(self) -> &'static str {
        match self {
            Refused::BadRequest => "bad_request",
            Refused::NotFound => "not_found",
            Refused::Unauthorized => "unauthorized",
            Refused::Forbidden => "forbidden",
            Refused::OverLimit => "over_limit",
            Refused::OverBudget => "over_budget",
            Refused::LimitsUnavailable => "limits_unavailable",
            Refused::Internal => "internal_error",
        }
    }
}
