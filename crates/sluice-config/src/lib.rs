//! Sluice configuration: reads `sluice.toml` (SPEC §2), replaces `${VAR}` from an injected
//! environment, and validates everything into a resolved [`Config`] with defaults filled in.
//!
//! This crate owns the file format, its defaults and its error messages. Every error is one
//! line naming the file, the dotted field path and the offending value, e.g.
//! `sluice.toml: providers.local.timeouts.connect: invalid duration "10x": ...`.
//! It does no network IO and never reads the process environment itself: callers pass an
//! `env` lookup (tests pass a closure). The only IO is reading the config file in [`load`].
//! The resolved config holds no float: prices and billing rates become `sluice-types`' exact
//! decimals ([`Price`], [`Billing`]) when they are resolved, durations are read in the one
//! grammar of `sluice_types::parse_duration`.
//!
//! Layout: `raw` (serde types mirroring the file) -> `interpolate` (`${VAR}` on the untyped
//! tree) -> `resolve` (checks and defaults) -> `config` (the resolved types); `builtin` is
//! the no-file configuration, `describe` the `check-config` summary, `error` the errors.
//! [`bounds`] holds the largest value each duration, size and count may take, so nothing the
//! file sets can overflow when the gateway uses it.

pub mod bounds;

mod builtin;
mod config;
mod describe;
mod error;
mod interpolate;
mod path;
mod raw;
mod resolve;
mod units;

use std::path::Path;

pub use builtin::{builtin, HOLYSHEEP_API_KEY_VAR, HOLYSHEEP_BASE_URL};
pub use config::{
    Auth, Billing, CircuitBreaker, Config, Cors, LedgerSetting, Limits, MetricsAccess,
    OnStoreError, Origin, Price, Provider, ProviderKind, Retry, Route, Secret, Server,
    SkippedProvider, SlowClient, StreamOverride, StreamSettings, Target, Timeouts,
    DEFAULT_ANTHROPIC_MAX_TOKENS, DEFAULT_CURRENCY, DEFAULT_LEDGER, DEFAULT_LISTEN,
    DEFAULT_MAX_BODY, DEFAULT_MAX_TOKENS, DEFAULT_SHUTDOWN_GRACE,
};
pub use error::{ConfigError, Problem};

use error::Problems;
use raw::RawConfig;

/// Loads the config file at `path`, or the [`builtin`] config when `path` is `None`.
/// Messages name the file by `path` as given.
pub fn load(
    path: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let Some(path) = path else {
        return Ok(builtin(env));
    };
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: name.clone(),
        source,
    })?;
    parse_document(&text, &name, Origin::File(path.to_path_buf()), env)
}

/// Parses config text. `origin` is the file name used in messages and in [`Config::origin`].
pub fn parse(
    text: &str,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    parse_document(text, origin, Origin::File(origin.into()), env)
}

fn parse_document(
    text: &str,
    name: &str,
    origin: Origin,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut doc: toml::Table =
        toml::from_str(text).map_err(|err| syntax_error(text, name, &err))?;

    let mut problems = Problems::default();
    let skipped = interpolate::interpolate(&mut doc, env, &mut problems);
    problems.finish(name)?;

    let raw: RawConfig = serde_path_to_error::deserialize(toml::Value::Table(doc))
        .map_err(|err| shape_error(name, &err))?;
    resolve::resolve(raw, skipped, origin, name)
}

fn syntax_error(text: &str, name: &str, err: &toml::de::Error) -> ConfigError {
    let start = err.span().map_or(0, |span| span.start).min(text.len());
    let before = text.get(..start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    ConfigError::Syntax {
        origin: name.to_owned(),
        line,
        column,
        message: err.message().lines().next().unwrap_or("").trim().to_owned(),
    }
}

fn shape_error(name: &str, err: &serde_path_to_error::Error<toml::de::Error>) -> ConfigError {
    let mut field = path::from_serde(err.path());
    let message = err.inner().message();
    let problem = match missing_field(message) {
        Some(key) => {
            path::push_key(&mut field, key);
            Problem::Missing
        }
        None => Problem::shape(message),
    };
    if field.is_empty() {
        field.push_str("(document)");
    }
    ConfigError::Invalid {
        origin: name.to_owned(),
        field,
        problem,
        more: 0,
    }
}

/// The key named by serde's "missing field `key`" message.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.strip_suffix('`')
}
