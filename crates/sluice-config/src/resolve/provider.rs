//! One `[providers.NAME]` table: its name, kind, base URL, key, billing, timeouts and list
//! prices, each checked; amounts become exact decimals here.

use std::collections::BTreeMap;

use sluice_types::decimal_from_f64;

use super::Cx;
use crate::config::{Billing, Price, Provider, ProviderKind, Secret, Timeouts};
use crate::error::Problem;
use crate::path::{join, push_key};
use crate::raw::RawProvider;

impl Cx {
    /// One `[providers.NAME]` table; `None` when its kind is unknown (a problem is recorded).
    pub(super) fn provider(&mut self, name: String, raw: RawProvider) -> Option<Provider> {
        let base = join("providers", &[&name]);
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid_name {
            self.push(
                base.clone(),
                Problem::ProviderName {
                    value: name.clone(),
                },
            );
        }
        let kind = match raw.kind.as_str() {
            "openai" => Some(ProviderKind::OpenAi),
            "anthropic" => Some(ProviderKind::Anthropic),
            "gemini" => Some(ProviderKind::Gemini),
            "mock" => Some(ProviderKind::Mock),
            _ => {
                self.push(join(&base, &["kind"]), Problem::Kind { value: raw.kind });
                None
            }
        };
        let base_url = match raw.base_url {
            Some(url) => {
                let trimmed = url.trim().trim_end_matches('/');
                let ok = ["http://", "https://"]
                    .iter()
                    .any(|scheme| trimmed.len() > scheme.len() && trimmed.starts_with(scheme));
                if !ok {
                    self.push(
                        join(&base, &["base_url"]),
                        Problem::BaseUrl { value: url.clone() },
                    );
                }
                trimmed.to_owned()
            }
            None => {
                if kind == Some(ProviderKind::OpenAi) {
                    self.push(
                        join(&base, &["base_url"]),
                        Problem::MissingBaseUrl { kind: "openai" },
                    );
                }
                kind.and_then(ProviderKind::default_base_url)
                    .unwrap_or_default()
                    .to_owned()
            }
        };
        let default_max_tokens = match (raw.default_max_tokens, kind) {
            (Some(0), _) => {
                self.push(
                    join(&base, &["default_max_tokens"]),
                    Problem::TooSmall { value: 0 },
                );
                None
            }
            (Some(_), Some(k)) if !k.is_native() => {
                self.push(
                    join(&base, &["default_max_tokens"]),
                    Problem::NativeOnly { kind: k.as_str() },
                );
                None
            }
            (n, _) => n,
        };
        if let Some(k) = kind.filter(|k| raw.responses && *k != ProviderKind::OpenAi) {
            self.push(
                join(&base, &["responses"]),
                Problem::OpenAiOnly { kind: k.as_str() },
            );
        }
        let api_key = raw.api_key.filter(|k| !k.is_empty()).map(Secret::new);

        // TOML numbers arrive as f64: checked as such (so messages show them as written),
        // then kept as the exact decimal the file wrote. Absent, the provider bills USD at
        // list price.
        let per_usd = raw.billing.per_usd.unwrap_or(1.0);
        if !(per_usd.is_finite() && per_usd > 0.0) {
            self.push(
                join(&base, &["billing", "per_usd"]),
                Problem::NotPositive { value: per_usd },
            );
        }
        let billing = Billing {
            currency: self.currency(join(&base, &["billing", "currency"]), raw.billing.currency),
            per_usd: decimal_from_f64(per_usd),
        };

        let t = Timeouts::default();
        let rt = raw.timeouts;
        let timeouts = Timeouts {
            connect: self.duration(
                join(&base, &["timeouts", "connect"]),
                rt.connect,
                t.connect,
                true,
            ),
            first_token: self.duration(
                join(&base, &["timeouts", "first_token"]),
                rt.first_token,
                t.first_token,
                true,
            ),
            idle: self.duration(join(&base, &["timeouts", "idle"]), rt.idle, t.idle, true),
            total: self.duration(join(&base, &["timeouts", "total"]), rt.total, t.total, true),
        };

        let mut prices = BTreeMap::new();
        for (model, price) in raw.prices.0 {
            let price_path = join(&base, &["prices", &model]);
            if model.trim().is_empty() {
                self.push(price_path.clone(), Problem::Empty);
            }
            let rates = [
                ("input", Some(price.input)),
                ("output", Some(price.output)),
                ("cache_read", price.cache_read),
                ("cache_write", price.cache_write),
                ("cache_write_1h", price.cache_write_1h),
            ];
            for (key, value) in rates {
                let Some(value) = value else { continue };
                if !(value.is_finite() && value >= 0.0) {
                    let mut field = price_path.clone();
                    push_key(&mut field, key);
                    self.push(field, Problem::Negative { value });
                }
            }
            prices.insert(
                model,
                Price {
                    cache_read: price.cache_read.map(decimal_from_f64),
                    cache_write: price.cache_write.map(decimal_from_f64),
                    cache_write_1h: price.cache_write_1h.map(decimal_from_f64),
                    ..Price::new(
                        decimal_from_f64(price.input),
                        decimal_from_f64(price.output),
                    )
                },
            );
        }

        Some(Provider {
            name,
            kind: kind?,
            base_url,
            api_key,
            billing,
            timeouts,
            prices,
            default_max_tokens,
            responses: raw.responses,
        })
    }
}
