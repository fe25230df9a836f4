//! The `keys` flags checked into values by `sluice_limit::settings` (the same checks the
//! dashboard's form for a new key goes through); a problem is a usage failure (exit 2), one
//! line naming the flag.

use sluice_ledger::ApiKey;
use sluice_limit::settings::{self, KeyFields, SettingError};

pub(super) use sluice_limit::settings::{LimitEdits, Mode};

use crate::cli::KeyLimitArgs;
use crate::Failure;

impl From<SettingError> for Failure {
    fn from(e: SettingError) -> Failure {
        Failure::Usage(e.to_string())
    }
}

/// Reads the limit flags. `rate_known(code)` says whether a USD amount can be charged in that
/// currency (a provider bills in it): a budget in any other currency is refused.
pub(super) fn parse(
    args: &KeyLimitArgs,
    mode: Mode,
    rate_known: &dyn Fn(&str) -> bool,
) -> Result<LimitEdits, Failure> {
    let fields = KeyFields {
        rpm: args.rpm.clone(),
        tpm: args.tpm.clone(),
        budget_usd: args.budget_usd.clone(),
        budget: args.budget.clone(),
        currency: args.currency.clone(),
        window: args.window.clone(),
        models: args.models.clone(),
        expires: args.expires.clone(),
    };
    Ok(LimitEdits::parse(&fields, mode, rate_known)?)
}

/// Applies the changes to `key`, an expiry counted from `now_ms`.
pub(super) fn apply(edits: &LimitEdits, key: &mut ApiKey, now_ms: i64) -> Result<(), Failure> {
    Ok(edits.apply(&mut key.limits, &mut key.expires_ms, &key.id, now_ms)?)
}

/// A key's name: trimmed, not empty, one line, bounded.
pub(super) fn name(text: &str) -> Result<String, Failure> {
    Ok(settings::name(text)?)
}

/// `update --admin true|false`.
pub(super) fn admin(text: &str) -> Result<bool, Failure> {
    Ok(settings::admin(text)?)
}
