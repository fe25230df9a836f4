//! The command line: clap types only, no behaviour.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "sluice", version, about = "A streaming gateway for LLM APIs")]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve {
        /// The config file (default: $SLUICE_CONFIG; without either, the built-in config).
        #[arg(long, env = "SLUICE_CONFIG")]
        config: Option<PathBuf>,
        /// Address to listen on, overriding the config's `listen`.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Run a simulated provider (OpenAI chat completions, Anthropic Messages, Gemini).
    MockUpstream {
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: SocketAddr,
        /// Completion tokens per answer (`x-mock-tokens` overrides per request).
        #[arg(long, default_value_t = 16)]
        tokens: usize,
        /// Delay before the first token, e.g. 150ms (`x-mock-ttft-ms` overrides).
        #[arg(long, value_parser = humantime::parse_duration, default_value = "150ms")]
        ttft: Duration,
        /// Delay between tokens, e.g. 15ms (`x-mock-itl-ms` overrides).
        #[arg(long, value_parser = humantime::parse_duration, default_value = "15ms")]
        itl: Duration,
        /// Percentage of requests that fail at random (a 500, or a connection dropped
        /// mid-stream), for soak and fault-injection runs.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
        fail_percent: u8,
    },
    /// Validate a config and print the resolved routes, prices and limits.
    CheckConfig {
        #[arg(long, env = "SLUICE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Load-test an OpenAI-compatible endpoint: TTFT, TPOT, gaps, totals, tokens/s, errors.
    Bench(BenchArgs),
    /// The monthly cost of a workload at every priced provider and model, cheapest first:
    /// USD, local currency at each provider's rate, saving per month and year.
    Cost(CostArgs),
    /// Spend and tokens from the ledger, grouped by model, provider, key or day.
    Usage(UsageArgs),
    /// Gateway API keys (`sk-sluice-<id>-<secret>`), kept in the config's ledger: create,
    /// list, update, revoke.
    Keys(KeysArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The API base, e.g. http://127.0.0.1:8080/v1 (requests go to {URL}/chat/completions,
    /// or {URL}/responses or {URL}/messages with --api).
    #[arg(long, value_name = "URL")]
    pub base_url: String,
    /// The model to ask for.
    #[arg(long)]
    pub model: String,
    /// The streaming API to use: OpenAI chat completions, OpenAI Responses (as Codex speaks
    /// it) or Anthropic Messages (as Claude Code speaks it).
    #[arg(long, value_enum, default_value_t = BenchApi::Chat)]
    pub api: BenchApi,
    /// Sent as `Authorization: Bearer <key>` (`x-api-key` with --api messages; to both
    /// targets with --compare).
    #[arg(long, env = "SLUICE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Requests in flight at once (per target with --compare).
    #[arg(long, default_value_t = 1, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub concurrency: usize,
    /// Requests to make (default 10, or no limit when --duration is given).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,
    /// Stop starting new requests after this long, e.g. 30s.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// The user message to send.
    #[arg(long, conflicts_with = "prompt_file")]
    pub prompt: Option<String>,
    /// Read the user message from this file.
    #[arg(long, value_name = "FILE")]
    pub prompt_file: Option<PathBuf>,
    /// Ask for at most this many completion tokens.
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// An extra request header, 'name: value' (repeatable), e.g. 'x-mock-ttft-ms: 200'.
    #[arg(long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// The limit for one request, from sending to the end of its stream.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "60s")]
    pub timeout: Duration,
    /// Simulate a slow client: after each read of a response body, wait this long before
    /// reading again, e.g. 50ms (timings then include the waits).
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub read_delay: Option<Duration>,
    /// Print one JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Run the same load against this second base URL too, interleaved, and print the
    /// difference (B − A).
    #[arg(long, value_name = "URL2")]
    pub compare: Option<String>,
}

/// `sluice bench --api`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchApi {
    Chat,
    Responses,
    Messages,
}

#[derive(Debug, Args)]
pub struct CostArgs {
    // The amounts are strings parsed by the command, so a bad one is one line naming the flag.
    /// Million input (prompt) tokens a month [default: 1000].
    #[arg(long, value_name = "MTOK", allow_negative_numbers = true)]
    pub input_mtok: Option<String>,
    /// Million output (completion) tokens a month [default: 500].
    #[arg(long, value_name = "MTOK", allow_negative_numbers = true)]
    pub output_mtok: Option<String>,
    /// Only this model (the provider's model name, e.g. deepseek-v3.2).
    #[arg(long)]
    pub model: Option<String>,
    /// Also show amounts in this currency where a provider bills in it, e.g. JPY
    /// (default: the config's display_currency unless it is USD).
    #[arg(long, value_name = "CODE")]
    pub currency: Option<String>,
    /// A config whose providers' prices and billing are added to the built-in price list.
    #[arg(long, env = "SLUICE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print one JSON document (amounts as exact decimal strings) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Take the monthly workload from the traffic recorded in the config's ledger (scaled
    /// from the --since window to a 30-day month) instead of --input-mtok/--output-mtok.
    #[arg(long, conflicts_with_all = ["input_mtok", "output_mtok"])]
    pub from_ledger: bool,
    /// With --from-ledger: the window measured, a duration before now (e.g. 30d, 7d, 24h) or
    /// unix milliseconds [default: 30d].
    #[arg(long, value_name = "DUR", requires = "from_ledger")]
    pub since: Option<String>,
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// The config whose ledger is read (default: $SLUICE_CONFIG; without either, the built-in
    /// config and its ledger, sqlite://sluice.db in the working directory).
    #[arg(long, env = "SLUICE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The start of the report: a duration before now (e.g. 30d, 24h, 90m) or unix
    /// milliseconds [default: 30d].
    #[arg(long, value_name = "DUR")]
    pub since: Option<String>,
    /// The end of the report (exclusive): a duration before now or unix milliseconds
    /// [default: now].
    #[arg(long, value_name = "DUR")]
    pub until: Option<String>,
    /// What the rows are grouped by.
    #[arg(long, value_enum, default_value_t = UsageBy::Model)]
    pub by: UsageBy,
    /// Also show costs in this currency, e.g. JPY, at the billing rate of a provider that
    /// bills in it (default: the config's display_currency).
    #[arg(long, value_name = "CODE")]
    pub currency: Option<String>,
    /// Print one JSON document (amounts as exact decimal strings) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

// Values are strings checked by the command, so a bad one is one line naming the flag (exit 2)
// and `none` can take a limit away in `update`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it: the only time its secret is shown (only a hash is stored).
    Create(KeyCreateArgs),
    /// Every key with its limits, its spend in the current budget window (this month in USD
    /// for keys without a budget), when it was created and last used, and whether it is
    /// revoked or expired. Never a secret.
    List(KeyListArgs),
    /// Change a key's name, limits, admin flag or expiry: only what is given changes.
    Update(KeyUpdateArgs),
    /// Revoke a key: the gateway refuses it within seconds; it stays listed.
    Revoke(KeyRevokeArgs),
}

/// What every `keys` command takes.
#[derive(Debug, Args)]
pub struct KeysCommon {
    /// The config whose ledger holds the keys (default: $SLUICE_CONFIG; without either, the
    /// built-in config and its ledger, sqlite://sluice.db in the working directory).
    #[arg(long, env = "SLUICE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print one JSON document (amounts as exact JSON numbers) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A key's limits and expiry, as `create` and `update` take them.
#[derive(Debug, Args)]
pub struct KeyLimitArgs {
    /// Requests per minute (update: `none` removes the limit).
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    pub rpm: Option<String>,
    /// Tokens per minute, prompt and completion (update: `none` removes the limit).
    #[arg(long, value_name = "T", allow_negative_numbers = true)]
    pub tpm: Option<String>,
    /// A budget in USD per window.
    #[arg(long, value_name = "AMOUNT", allow_negative_numbers = true)]
    pub budget_usd: Option<String>,
    /// A budget in --currency per window, charged as providers bill (update: `none` removes
    /// the budget).
    #[arg(long, value_name = "AMOUNT", allow_negative_numbers = true)]
    pub budget: Option<String>,
    /// The currency of --budget, e.g. JPY: USD, or one a configured or built-in provider
    /// bills in.
    #[arg(long, value_name = "CODE")]
    pub currency: Option<String>,
    /// The budget's window, fixed periods in UTC: 1d, 7d (ISO week), 30d or month
    /// [default: month].
    #[arg(long, value_name = "WINDOW")]
    pub window: Option<String>,
    /// The only models (route names) the key may use, comma-separated (update: `none` allows
    /// every model).
    #[arg(long, value_name = "A,B")]
    pub models: Option<String>,
    /// The key stops working this long from now, e.g. 30d, 12h (update: `none` never expires).
    #[arg(long, value_name = "DUR")]
    pub expires: Option<String>,
}

#[derive(Debug, Args)]
pub struct KeyCreateArgs {
    /// Who or what uses the key (shown by `keys list` and `usage --by key`).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub limits: KeyLimitArgs,
    /// An admin key: may read every key's usage (`/v1/usage`) and the dashboard.
    #[arg(long)]
    pub admin: bool,
    #[command(flatten)]
    pub common: KeysCommon,
}

#[derive(Debug, Args)]
pub struct KeyListArgs {
    #[command(flatten)]
    pub common: KeysCommon,
}

#[derive(Debug, Args)]
pub struct KeyUpdateArgs {
    /// The key's public id (as `keys list` shows it).
    pub id: String,
    /// A new name.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub limits: KeyLimitArgs,
    /// Whether it is an admin key: true or false.
    #[arg(long, value_name = "BOOL")]
    pub admin: Option<String>,
    #[command(flatten)]
    pub common: KeysCommon,
}

#[derive(Debug, Args)]
pub struct KeyRevokeArgs {
    /// The key's public id (as `keys list` shows it).
    pub id: String,
    #[command(flatten)]
    pub common: KeysCommon,
}

/// The groups of a usage report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UsageBy {
    /// The model asked for (the route name).
    Model,
    /// The provider that served it (`-` when none did).
    Provider,
    /// The gateway API key (`-` for requests without one).
    Key,
    /// The UTC date the request started.
    Day,
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(format!("expected 'name: value', got {s:?}")),
    }
}
