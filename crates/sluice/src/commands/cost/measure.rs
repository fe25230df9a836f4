//! The workload `sluice cost --from-ledger` prices: the tokens the config's ledger recorded
//! over a window, per route model and provider, scaled to a 30-day month.

use std::collections::BTreeSet;

use sluice_pricing::{month_scale, monthly_mtok, Decimal, PriceBook, Window};

use crate::commands::ledger::open_ledger;
use crate::Failure;

/// The traffic a ledger recorded over a window, and the monthly workload it makes.
pub(super) struct Measured {
    /// The ledger's URL (password masked).
    pub(super) ledger: String,
    pub(super) since_ms: i64,
    pub(super) until_ms: i64,
    /// `MONTH_MS / (until_ms - since_ms)`: what the window's tokens are multiplied by.
    pub(super) scale: Decimal,
    pub(super) prompt_tokens: u64,
    pub(super) completion_tokens: u64,
    pub(super) input_mtok: Decimal,
    pub(super) output_mtok: Decimal,
    /// Per route model and provider, as recorded (those with tokens).
    pub(super) traffic: Vec<Traffic>,
    /// The provider model names the traffic used.
    pub(super) models: BTreeSet<String>,
    /// Those of `models` that no provider prices.
    pub(super) unpriced: Vec<String>,
}

#[derive(serde::Serialize)]
pub(super) struct Traffic {
    /// The model asked for (the route name).
    pub(super) model: String,
    pub(super) provider: String,
    /// The model name at the provider, from the config's route (the route name when the
    /// config no longer routes it there).
    pub(super) provider_model: String,
    pub(super) prompt_tokens: u64,
    pub(super) completion_tokens: u64,
}

/// Reads the ledger's traffic since `window.since_ms` (only that of `model`, the provider's
/// model name, when given) and scales it to a 30-day month.
pub(super) async fn measure(
    config: &sluice_config::Config,
    book: &PriceBook,
    window: Window,
    now: i64,
    model: Option<&str>,
) -> Result<Measured, Failure> {
    let ledger = open_ledger(&config.ledger).await?;
    let totals = ledger
        .totals_by_model_provider(Some(window.since_ms))
        .await
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("{e}")))?;
    let traffic: Vec<Traffic> = totals
        .into_iter()
        .map(|(route, provider, prompt_tokens, completion_tokens)| {
            let provider_model = config
                .route(&route)
                .and_then(|r| r.targets.iter().find(|t| t.provider == provider))
                .map_or_else(|| route.clone(), |t| t.model.clone());
            // A provider's own id for a listed model (an alias) counts as that model.
            let provider_model = book.canonical(&provider_model).to_owned();
            Traffic {
                model: route,
                provider,
                provider_model,
                prompt_tokens,
                completion_tokens,
            }
        })
        // Requests that failed before any token (a provider error) add nothing to a workload.
        .filter(|t| t.prompt_tokens > 0 || t.completion_tokens > 0)
        .filter(|t| model.is_none_or(|m| t.provider_model == m))
        .collect();
    let prompt_tokens = traffic
        .iter()
        .fold(0u64, |sum, t| sum.saturating_add(t.prompt_tokens));
    let completion_tokens = traffic
        .iter()
        .fold(0u64, |sum, t| sum.saturating_add(t.completion_tokens));
    let models: BTreeSet<String> = traffic.iter().map(|t| t.provider_model.clone()).collect();
    let unpriced = models
        .iter()
        .filter(|m| !book.providers().any(|p| book.price(p, m).is_some()))
        .cloned()
        .collect();
    let until_ms = window.end_ms(now);
    let window_ms = until_ms - window.since_ms;
    Ok(Measured {
        ledger: ledger.url().to_owned(),
        since_ms: window.since_ms,
        until_ms,
        scale: month_scale(window_ms),
        prompt_tokens,
        completion_tokens,
        input_mtok: monthly_mtok(prompt_tokens, window_ms),
        output_mtok: monthly_mtok(completion_tokens, window_ms),
        traffic,
        models,
        unpriced,
    })
}
