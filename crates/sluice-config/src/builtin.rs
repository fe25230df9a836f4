//! The configuration used when there is no config file: the simulated model `mock`, plus
//! HolySheep when `HOLYSHEEP_API_KEY` is set, so a fresh machine works offline.

use std::collections::BTreeMap;

use sluice_types::{decimal_from_f64, Decimal};

use crate::config::{
    Auth, Billing, CircuitBreaker, Config, Cors, LedgerSetting, Limits, Origin, Price, Provider,
    ProviderKind, Retry, Route, Secret, Server, StreamSettings, Target, Timeouts, DEFAULT_CURRENCY,
    DEFAULT_LEDGER, DEFAULT_LISTEN, DEFAULT_MAX_BODY, DEFAULT_SHUTDOWN_GRACE,
};

/// HolySheep's OpenAI-compatible endpoint.
pub const HOLYSHEEP_BASE_URL: &str = "https://api.holysheep.ai/v1";
/// The variable whose presence adds the HolySheep provider to the built-in config.
pub const HOLYSHEEP_API_KEY_VAR: &str = "HOLYSHEEP_API_KEY";

/// HolySheep list prices (USD per million tokens, input and output) for the seed's models,
/// written as in a config file and read the same way (`decimal_from_f64`).
const HOLYSHEEP_PRICES: [(&str, f64, f64); 4] = [
    ("gpt-4.1", 2.00, 8.00),
    ("claude-sonnet-4.5", 3.00, 15.00),
    ("gemini-2.5-flash", 0.30, 2.50),
    ("deepseek-v3.2", 0.27, 0.42),
];

/// The built-in configuration (see the module docs). An empty key counts as unset.
pub fn builtin(env: &dyn Fn(&str) -> Option<String>) -> Config {
    let api_key = env(HOLYSHEEP_API_KEY_VAR).filter(|key| !key.is_empty());
    let holysheep = api_key.is_some();
    let mut providers = BTreeMap::new();
    let mut routes = Vec::new();

    if let Some(key) = api_key {
        let prices = HOLYSHEEP_PRICES
            .iter()
            .map(|&(model, input, output)| {
                let price = Price::new(decimal_from_f64(input), decimal_from_f64(output));
                (model.to_owned(), price)
            })
            .collect();
        providers.insert(
            "holysheep".to_owned(),
            Provider {
                name: "holysheep".to_owned(),
                kind: ProviderKind::OpenAi,
                base_url: HOLYSHEEP_BASE_URL.to_owned(),
                api_key: Some(Secret::new(key)),
                billing: Billing {
                    currency: "JPY".to_owned(),
                    per_usd: Decimal::ONE,
                },
                timeouts: Timeouts::default(),
                prices,
                default_max_tokens: None,
                responses: false,
            },
        );
        routes.extend(HOLYSHEEP_PRICES.iter().map(|&(model, _, _)| Route {
            model: model.to_owned(),
            targets: vec![Target {
                provider: "holysheep".to_owned(),
                model: model.to_owned(),
            }],
        }));
    }

    providers.insert(
        "mock".to_owned(),
        Provider {
            name: "mock".to_owned(),
            kind: ProviderKind::Mock,
            base_url: String::new(),
            api_key: None,
            billing: Billing::default(),
            timeouts: Timeouts::default(),
            prices: BTreeMap::new(),
            default_max_tokens: None,
            responses: false,
        },
    );
    routes.push(Route {
        model: "mock".to_owned(),
        targets: vec![Target {
            provider: "mock".to_owned(),
            model: "mock".to_owned(),
        }],
    });

    Config {
        listen: DEFAULT_LISTEN,
        ledger: LedgerSetting::Url(DEFAULT_LEDGER.to_owned()),
        redis: None,
        display_currency: DEFAULT_CURRENCY.to_owned(),
        providers,
        routes,
        stream: StreamSettings::default(),
        stream_overrides: BTreeMap::new(),
        cors: Cors::default(),
        retry: Retry::default(),
        circuit_breaker: CircuitBreaker::default(),
        auth: Auth::default(),
        limits: Limits::default(),
        shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        max_body: DEFAULT_MAX_BODY,
        server: Server::default(),
        send_buffer: None,
        origin: Origin::Builtin { holysheep },
        skipped_providers: Vec::new(),
    }
}
