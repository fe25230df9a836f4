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
    /// Run a simulated OpenAI-compatible provider.
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
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The API base, e.g. http://127.0.0.1:8080/v1 (requests go to {URL}/chat/completions).
    #[arg(long, value_name = "URL")]
    pub base_url: String,
    /// The model to ask for.
    #[arg(long)]
    pub model: String,
    /// Sent as `Authorization: Bearer <key>` (to both targets with --compare).
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
