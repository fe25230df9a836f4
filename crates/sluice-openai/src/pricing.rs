//! Putting the gateway's price on a provider's usage without the relay knowing about money: the
//! gateway hands in a [`UsagePricer`] that turns token counts into decimal amounts, already
//! written as JSON number text, and the relay writes them into the usage the client sees.

use std::fmt::Debug;
use std::sync::Arc;

use crate::rewrite::{get_top_level, set_top_level};
use sluice_types::Usage;

/// Prices a usage for one stream (its provider and model are fixed when the stream starts).
pub trait UsagePricer: Send + Sync + Debug {
    fn price(&self, usage: &Usage) -> Option<PricedUsage>;
}

pub type Pricer = Arc<dyn UsagePricer>;

/// Amounts as JSON number text (exact decimals, e.g. `0.00017151`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedUsage {
    /// USD at list price.
    pub cost_usd: String,
    /// The provider's billing currency and the amount in it.
    pub currency: String,
    pub cost_local: String,
}

impl PricedUsage {
    /// `{"currency": ..., "amount": ...}`.
    pub fn cost_local_json(&self) -> String {
        format!(
            "{{\"currency\":{},\"amount\":{}}}",
            serde_json::Value::String(self.currency.clone()),
            self.cost_local
        )
    }
}

/// Adds `cost` and `cost_local` to a usage object (raw JSON), keeping a provider's own `cost`
/// as `provider_cost`; every other byte of it stays as the provider wrote it.
pub fn price_usage_object(usage: &str, priced: &PricedUsage) -> Result<String, serde_json::Error> {
    let mut out = usage.as_bytes().to_vec();
    if let Some(provider_cost) = get_top_level(usage.as_bytes(), "cost")? {
        out = set_top_level(&out, "provider_cost", Some(&provider_cost))?;
    }
    out = set_top_level(&out, "cost", Some(&priced.cost_usd))?;
    out = set_top_level(&out, "cost_local", Some(&priced.cost_local_json()))?;
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// The same for a chunk's top-level `usage`.
pub fn price_usage_in_chunk(
    payload: &[u8],
    priced: &PricedUsage,
) -> Result<Vec<u8>, serde_json::Error> {
    match get_top_level(payload, "usage")? {
        Some(usage) if usage != "null" => {
            let priced_usage = price_usage_object(&usage, priced)?;
            set_top_level(payload, "usage", Some(&priced_usage))
        }
        _ => Ok(payload.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn priced() -> PricedUsage {
        PricedUsage {
            cost_usd: "0.00017151".into(),
            currency: "JPY".into(),
            cost_local: "0.00017151".into(),
        }
    }

    #[test]
    fn adds_cost_and_keeps_the_providers_own() {
        let chunk = br#"{"id":"x","choices":[],"usage":{"prompt_tokens":13,"completion_tokens":400,"total_tokens":413,"cost":0.00085}}"#;
        let out = String::from_utf8(price_usage_in_chunk(chunk, &priced()).unwrap()).unwrap();
        assert_eq!(
            out,
            r#"{"id":"x","choices":[],"usage":{"prompt_tokens":13,"completion_tokens":400,"total_tokens":413,"cost":0.00017151,"provider_cost":0.00085,"cost_local":{"currency":"JPY","amount":0.00017151}}}"#
        );
    }

    #[test]
    fn chunks_without_usage_are_untouched() {
        let chunk = br#"{"choices":[],"usage":null}"#;
        assert_eq!(
            price_usage_in_chunk(chunk, &priced()).unwrap(),
            chunk.to_vec()
        );
    }
}
