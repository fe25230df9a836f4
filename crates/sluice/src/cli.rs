//! The command line: clap types only, no behaviour.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

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
    },
    /// Validate a config and print the resolved routes, prices and limits.
    CheckConfig {
        #[arg(long, env = "SLUICE_CONFIG")]
        config: Option<PathBuf>,
    },
}
