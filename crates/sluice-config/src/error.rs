//! `ConfigError`: every way loading a config can fail, each rendered as one line that names
//! the file, the dotted field path and the offending value.

use std::fmt;

/// A config could not be loaded. `Display` is always a single line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read config: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{origin}:{line}:{column}: invalid TOML: {message}")]
    Syntax {
        origin: String,
        /// 1-based.
        line: usize,
        /// 1-based, in characters.
        column: usize,
        message: String,
    },
    /// A field is missing, unknown or has a bad value.
    #[error("{origin}: {field}: {problem}{}", More(*more))]
    Invalid {
        origin: String,
        /// Dotted path such as `providers.local.timeouts.connect`.
        field: String,
        problem: Problem,
        /// How many further problems were found after this one.
        more: usize,
    },
}

impl ConfigError {
    /// The dotted path of the field at fault, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { field, .. } => Some(field),
            ConfigError::Read { .. } | ConfigError::Syntax { .. } => None,
        }
    }

    /// The problem with the field, when there is one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ConfigError::Invalid { problem, .. } => Some(problem),
            ConfigError::Read { .. } | ConfigError::Syntax { .. } => None,
        }
    }
}

struct More(usize);

impl fmt::Display for More {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => Ok(()),
            1 => f.write_str(" (and 1 more problem)"),
            n => write!(f, " (and {n} more problems)"),
        }
    }
}

/// What is wrong with one field. Values are shown quoted with `{:?}`, so a message never
/// spans lines.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The serde error for a wrong type or an unknown field, flattened to one line.
    #[error("{0}")]
    Shape(String),
    #[error("required field is missing")]
    Missing,
    #[error("environment variable {var} is not set")]
    UnsetVar { var: String },
    #[error("unterminated \"${{\" (got {value:?})")]
    UnterminatedVar { value: String },
    #[error("invalid environment variable name {name:?} in \"${{...}}\" (got {value:?})")]
    BadVarName { name: String, value: String },
    #[error(
        "invalid duration {value:?}: expected a number followed by a unit such as 250ms, 10s, 5m"
    )]
    Duration { value: String },
    #[error("must be greater than zero (got {value:?})")]
    ZeroDuration { value: String },
    #[error("invalid size {value}: expected a byte count or a size such as \"10MiB\", \"512KiB\", \"1MB\"")]
    Size { value: String },
    #[error("invalid listen address {value:?}: expected IP:PORT such as 127.0.0.1:8080")]
    Listen { value: String },
    #[error(
        "unsupported ledger URL {value:?}: expected sqlite://PATH, postgres://USER@HOST/DB or none"
    )]
    Ledger { value: String },
    #[error("invalid redis URL {value:?}: expected redis://HOST:PORT or rediss://HOST:PORT")]
    Redis { value: String },
    #[error("invalid currency {value:?}: expected a three-letter code such as USD or JPY")]
    Currency { value: String },
    #[error("unknown provider kind {value:?}: expected \"openai\", \"anthropic\", \"gemini\" or \"mock\"")]
    Kind { value: String },
    #[error("invalid provider name {value:?}: use letters, digits, '_', '-' or '.'")]
    ProviderName { value: String },
    #[error("required for a provider of kind {kind:?}")]
    MissingBaseUrl { kind: &'static str },
    #[error("only a provider of kind \"anthropic\" or \"gemini\" takes it (this one is {kind:?})")]
    NativeOnly { kind: &'static str },
    #[error("only a provider of kind \"openai\" takes it (this one is {kind:?})")]
    OpenAiOnly { kind: &'static str },
    #[error("invalid base_url {value:?}: must start with http:// or https://")]
    BaseUrl { value: String },
    #[error("must be greater than zero (got {value})")]
    NotPositive { value: f64 },
    #[error("must be zero or more (got {value})")]
    Negative { value: f64 },
    #[error("must be at least 1 (got {value})")]
    TooSmall { value: u64 },
    /// A value past its bound (see `sluice_config::bounds`). `value` is shown as written:
    /// quoted when the file gave a string.
    #[error("must be at most {max} (got {value})")]
    TooLarge { max: String, value: String },
    #[error("invalid host {value:?}: expected a host name or IP address, optionally with :port and without scheme or path, such as api.example.com or 127.0.0.1:8080")]
    Host { value: String },
    #[error("invalid value {value:?}: expected \"coalesce\" or \"block\"")]
    SlowClient { value: String },
    #[error("invalid value {value:?}: expected \"open\" or \"admin\"")]
    MetricsAccess { value: String },
    #[error("invalid value {value:?}: expected \"closed\" or \"open\"")]
    OnStoreError { value: String },
    #[error("unknown provider {name:?}: not defined under [providers]")]
    UnknownProvider { name: String },
    #[error("no route named {name:?}: not defined under [routes]")]
    UnknownRoute { name: String },
    #[error("route has no providers (got [])")]
    EmptyRoute,
    #[error("must not be empty (got \"\")")]
    Empty,
}

impl Problem {
    /// Flattens a serde message to one line.
    pub(crate) fn shape(message: &str) -> Problem {
        let one_line: Vec<&str> = message
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        Problem::Shape(one_line.join(" "))
    }
}

/// Problems gathered while walking a document, each with its dotted path.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<(String, Problem)>);

impl Problems {
    pub(crate) fn push(&mut self, field: String, problem: Problem) {
        self.0.push((field, problem));
    }

    /// `Ok` when nothing was found, else the first problem and a count of the rest.
    pub(crate) fn finish(self, origin: &str) -> Result<(), ConfigError> {
        let mut it = self.0.into_iter();
        match it.next() {
            None => Ok(()),
            Some((field, problem)) => Err(ConfigError::Invalid {
                origin: origin.to_owned(),
                field,
                problem,
                more: it.count(),
            }),
        }
    }
}
