//! How `sluice keys` shows keys: one JSON object per key (amounts as JSON numbers with their
//! exact decimal digits), the table of `keys list`, and one-line summaries. Never a key's
//! secret hash; the secret itself only in what `create` prints, once.

use std::fmt::Write as _;

use serde::Serialize;
use sluice_ledger::ApiKey;
use sluice_pricing::display::{grouped, money};
use sluice_pricing::Decimal;
use sluice_types::{Budget, KeyLimits};

use super::spend::Spend;
use crate::commands::render::{utc, utc_minute, Table};
use crate::Failure;

/// A key as the JSON documents show it.
#[derive(Debug, Serialize)]
struct KeyJson<'a> {
    id: &'a str,
    name: &'a str,
    /// The whole key: only in what `create` prints.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    admin: bool,
    /// `active`, `revoked` or `expired`.
    status: &'static str,
    limits: LimitsJson<'a>,
    /// Only in `keys list`.
    #[serde(skip_serializing_if = "Option::is_none")]
    spend: Option<SpendJson<'a>>,
    created: String,
    created_ms: i64,
    expires: Option<String>,
    expires_ms: Option<i64>,
    revoked: Option<String>,
    revoked_ms: Option<i64>,
    last_used: Option<String>,
    last_used_ms: Option<i64>,
    updated_ms: i64,
}

#[derive(Debug, Serialize)]
struct LimitsJson<'a> {
    rpm: Option<u32>,
    tpm: Option<u64>,
    budget: Option<BudgetJson<'a>>,
    models: Option<&'a [String]>,
}

#[derive(Debug, Serialize)]
struct BudgetJson<'a> {
    #[serde(with = "sluice_pricing::json::number")]
    amount: Decimal,
    currency: &'a str,
    window: &'static str,
}

#[derive(Debug, Serialize)]
struct SpendJson<'a> {
    /// `null` when it cannot be charged in `currency` (no rate any more).
    #[serde(with = "sluice_pricing::json::number_option")]
    amount: Option<Decimal>,
    currency: &'a str,
    window: &'static str,
    since: String,
    since_ms: i64,
    until: String,
    until_ms: i64,
    requests: u64,
}

fn key_json<'a>(
    key: &'a ApiKey,
    token: Option<&'a str>,
    spend: Option<&'a Spend>,
    now_ms: i64,
) -> KeyJson<'a> {
    let l = &key.limits;
    KeyJson {
        id: &key.id,
        name: &key.name,
        key: token,
        admin: key.admin,
        status: status(key, now_ms),
        limits: LimitsJson {
            rpm: l.rpm,
            tpm: l.tpm,
            budget: l.budget.as_ref().map(|b| BudgetJson {
                amount: b.amount,
                currency: &b.currency,
                window: b.window.as_str(),
            }),
            models: l.models.as_deref(),
        },
        spend: spend.map(|s| SpendJson {
            amount: s.amount,
            currency: &s.currency,
            window: s.window.as_str(),
            since: utc(s.since_ms),
            since_ms: s.since_ms,
            until: utc(s.until_ms),
            until_ms: s.until_ms,
            requests: s.requests,
        }),
        created: utc(key.created_ms),
        created_ms: key.created_ms,
        expires: key.expires_ms.map(utc),
        expires_ms: key.expires_ms,
        revoked: key.revoked_ms.map(utc),
        revoked_ms: key.revoked_ms,
        last_used: key.last_used_ms.map(utc),
        last_used_ms: key.last_used_ms,
        updated_ms: key.updated_ms,
    }
}

fn to_json(doc: &impl Serialize) -> Result<String, Failure> {
    let mut text = serde_json::to_string_pretty(doc).map_err(|e| Failure::Runtime(e.into()))?;
    text.push('\n');
    Ok(text)
}

/// What `keys create` prints: the key on a line of its own, then what it may do; or one
/// JSON object with the key in `key`.
pub(super) fn created(
    key: &ApiKey,
    token: &str,
    ledger: &str,
    now_ms: i64,
    json: bool,
) -> Result<String, Failure> {
    if json {
        return to_json(&key_json(key, Some(token), None, now_ms));
    }
    let mut out = String::new();
    let _ = writeln!(out, "{token}");
    let _ = writeln!(out);
    let _ = writeln!(out, "Created key {}: {}.", title(key), summary(key));
    let _ = writeln!(
        out,
        "This is the only time the key is shown: store it now. Ledger {ledger} keeps only a \
         hash of it."
    );
    Ok(out)
}

/// What `keys update` and `keys revoke` print: a sentence, or the key as JSON.
pub(super) fn changed(
    key: &ApiKey,
    sentence: &str,
    now_ms: i64,
    json: bool,
) -> Result<String, Failure> {
    if json {
        return to_json(&key_json(key, None, None, now_ms));
    }
    Ok(format!("{sentence}\n"))
}

/// What `keys list` prints: a table, or `{"ledger","keys"}`.
pub(super) fn list(
    keys: &[(ApiKey, Spend)],
    ledger: &str,
    now_ms: i64,
    json: bool,
) -> Result<String, Failure> {
    if json {
        #[derive(Serialize)]
        struct Doc<'a> {
            ledger: &'a str,
            keys: Vec<KeyJson<'a>>,
        }
        let keys = keys
            .iter()
            .map(|(k, s)| key_json(k, None, Some(s), now_ms))
            .collect();
        return to_json(&Doc { ledger, keys });
    }
    let mut out = String::new();
    if keys.is_empty() {
        let _ = writeln!(
            out,
            "No keys in ledger {ledger}: the gateway is open unless [auth] required = true. \
             Create one with `sluice keys create --name NAME`."
        );
        return Ok(out);
    }
    let _ = writeln!(out, "Keys in ledger {ledger} (times in UTC)");
    let _ = writeln!(out);
    let header = [
        "ID",
        "NAME",
        "STATUS",
        "ADMIN",
        "MODELS",
        "CREATED",
        "LAST USED",
        "EXPIRES",
        "RPM",
        "TPM",
        "BUDGET",
        "SPENT",
    ];
    let mut table = Table::new(header.iter().map(|h| (*h).to_owned()).collect(), 8);
    let dash = || "-".to_owned();
    for (k, s) in keys {
        let l = &k.limits;
        table.row(vec![
            k.id.clone(),
            k.name.clone(),
            status(k, now_ms).to_owned(),
            if k.admin { "yes" } else { "no" }.to_owned(),
            l.models
                .as_ref()
                .map_or_else(|| "all".to_owned(), |m| m.join(",")),
            utc_minute(k.created_ms),
            k.last_used_ms.map_or_else(dash, utc_minute),
            k.expires_ms.map_or_else(dash, utc_minute),
            l.rpm.map_or_else(dash, |n| grouped(&n.to_string())),
            l.tpm.map_or_else(dash, |n| grouped(&n.to_string())),
            l.budget
                .as_ref()
                .map_or_else(dash, |b| format!("{}/{}", amount(b), b.window)),
            s.amount.map_or_else(
                || format!("? {}", s.currency),
                |a| format!("{} {}", money(a, &s.currency), s.currency),
            ),
        ]);
    }
    table.write(&mut out);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "SPENT: in the budget's current window (1d, 7d from Monday, 30d, or the calendar \
         month, in UTC); for a key without a budget, this month in USD."
    );
    if keys.iter().any(|(_, s)| s.amount.is_none()) {
        let _ = writeln!(
            out,
            "?: part of that spend was billed in a currency with no rate to the budget's \
             currency in this config."
        );
    }
    Ok(out)
}

/// `active`, `revoked` or `expired` at `now_ms`.
fn status(key: &ApiKey, now_ms: i64) -> &'static str {
    if key.revoked_ms.is_some() {
        "revoked"
    } else if key.is_active(now_ms) {
        "active"
    } else {
        "expired"
    }
}

/// `abc123 "ci runner"` (and that it is an admin key).
pub(super) fn title(key: &ApiKey) -> String {
    let admin = if key.admin { " (admin)" } else { "" };
    format!("{} {:?}{admin}", key.id, key.name)
}

/// A key's limits and expiry in one clause: `rpm 60, tpm none, budget 1,500.50 JPY per 7d,
/// models gpt-4.1, mock; never expires`.
pub(super) fn summary(key: &ApiKey) -> String {
    let KeyLimits {
        rpm,
        tpm,
        budget,
        models,
    } = &key.limits;
    let none = || "none".to_owned();
    let count = |n: u64| grouped(&n.to_string());
    let expiry = key.expires_ms.map_or_else(
        || "never expires".to_owned(),
        |ms| format!("expires {}", utc(ms)),
    );
    format!(
        "rpm {}, tpm {}, budget {}, models {}; {expiry}",
        rpm.map_or_else(none, |n| count(u64::from(n))),
        tpm.map_or_else(none, count),
        budget
            .as_ref()
            .map_or_else(none, |b| format!("{} per {}", amount(b), b.window)),
        models
            .as_ref()
            .map_or_else(|| "all".to_owned(), |m| m.join(", ")),
    )
}

/// A budget's amount with every digit it was given, and its currency.
fn amount(b: &Budget) -> String {
    format!("{} {}", grouped(&b.amount.to_string()), b.currency)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sluice_types::BudgetWindow;

    use super::*;

    fn key() -> ApiKey {
        ApiKey {
            id: "abc123def456".into(),
            name: "ci runner".into(),
            secret_hash: "ab".repeat(32),
            admin: true,
            limits: KeyLimits {
                rpm: Some(60),
                tpm: None,
                budget: Some(Budget {
                    amount: Decimal::from_str("1500.50").unwrap(),
                    currency: "JPY".into(),
                    window: BudgetWindow::Week,
                }),
                models: Some(vec!["gpt-4.1".into(), "mock".into()]),
            },
            created_ms: 0,
            expires_ms: Some(86_400_000),
            revoked_ms: None,
            last_used_ms: None,
            updated_ms: 0,
        }
    }

    #[test]
    fn json_amounts_are_exact_numbers_and_no_hash_is_shown() {
        let k = key();
        let spend = Spend {
            amount: Some(Decimal::from_str("0.30017151").unwrap()),
            currency: "JPY".into(),
            window: BudgetWindow::Week,
            since_ms: 0,
            until_ms: 7,
            requests: 2,
        };
        let text = list(&[(k.clone(), spend)], "sqlite://x.db", 5, true).unwrap();
        assert!(text.contains("\"amount\": 1500.50,"), "{text}");
        assert!(text.contains("\"amount\": 0.30017151,"), "{text}");
        assert!(!text.contains(&k.secret_hash), "{text}");
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let shown = &doc["keys"][0];
        assert_eq!(shown["status"], "active");
        assert_eq!(shown["limits"]["budget"]["window"], "7d");
        assert_eq!(shown["limits"]["models"][1], "mock");
        assert_eq!(shown["created"], "1970-01-01T00:00:00Z");
        assert_eq!(shown["spend"]["requests"], 2);
        assert!(shown.get("key").is_none());
        let text = created(&k, "sk-sluice-x", "sqlite://x.db", 5, true).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["key"], "sk-sluice-x");
        assert!(doc.get("spend").is_none());
    }

    #[test]
    fn summaries_and_statuses() {
        let k = key();
        assert_eq!(
            summary(&k),
            "rpm 60, tpm none, budget 1,500.50 JPY per 7d, models gpt-4.1, mock; expires \
             1970-01-02T00:00:00Z"
        );
        assert_eq!(title(&k), "abc123def456 \"ci runner\" (admin)");
        assert_eq!(status(&k, 0), "active");
        assert_eq!(status(&k, 86_400_000), "expired");
        let revoked = ApiKey {
            revoked_ms: Some(1),
            ..k
        };
        assert_eq!(status(&revoked, 0), "revoked");
        let text = created(&revoked, "sk-sluice-x", "sqlite://x.db", 0, false).unwrap();
        assert_eq!(text.lines().next(), Some("sk-sluice-x"));
    }
}
