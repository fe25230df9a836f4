//! `sluice serve`: run the gateway.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use sluice_config::Origin;
use sluice_gateway::{Accounts, AppState, MockHandle};

/// How long shutdown waits for the ledger to take the last rows.
const LEDGER_FLUSH_LIMIT: std::time::Duration = std::time::Duration::from_secs(20);

use crate::Failure;

pub async fn run(config: Option<PathBuf>, listen: Option<SocketAddr>) -> Result<(), Failure> {
    let mut config = super::load_config(config.as_deref())?;
    if let Some(addr) = listen {
        config.listen = addr;
    }
    for skipped in &config.skipped_providers {
        tracing::info!(
            provider = %skipped.name,
            "optional provider skipped: {} is not set",
            skipped.missing_var
        );
    }
    match &config.origin {
        Origin::Builtin { holysheep: false } => tracing::info!(
            "no config file and no provider key: serving the built-in simulated model `mock`"
        ),
        Origin::Builtin { holysheep: true } => tracing::info!(
            "no config file: routing the seed's models to HolySheep (HOLYSHEEP_API_KEY), and `mock`"
        ),
        Origin::File(path) => tracing::info!(config = %path.display(), "config loaded"),
    }
    let addr = config.listen;
    // The ledger must be usable before the first request: one that cannot be opened stops
    // the gateway with one line naming it.
    let accounts = if config.ledger == "none" {
        tracing::warn!("ledger = \"none\": requests are not recorded");
        None
    } else {
        let ledger = sluice_ledger::Ledger::open(&config.ledger)
            .await
            .map_err(|e| Failure::Runtime(anyhow::anyhow!("{e}")))?;
        tracing::info!(ledger = %ledger.url(), "ledger open");
        let (writer, writer_task) = ledger.writer(sluice_ledger::WriterConfig::default());
        Some((Accounts::new(ledger, writer), tokio::spawn(writer_task)))
    };
    let (accounts, writer_task) = match accounts {
        Some((a, t)) => (Some(a), Some(t)),
        None => (None, None),
    };
    let writer = accounts.as_ref().map(|a| a.writer.clone());
    let estimates = accounts.clone();
    let state = AppState::new(config, MockHandle::default(), accounts)
        .map_err(|e| Failure::Runtime(e.into()))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
        .map_err(Failure::Runtime)?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::Runtime(e.into()))?;
    tracing::info!("listening on http://{local}");
    let served = sluice_gateway::serve(listener, state, super::shutdown_signal())
        .await
        .context("server failed");
    // Every row recorded so far goes to the ledger before the process exits: first the rows
    // still being counted with the tokenizer, then the writer's queue.
    if let Some(accounts) = &estimates {
        let _ = tokio::time::timeout(LEDGER_FLUSH_LIMIT, accounts.finish_estimates()).await;
    }
    if let (Some(writer), Some(task)) = (writer, writer_task) {
        let flushed = tokio::time::timeout(LEDGER_FLUSH_LIMIT, writer.shutdown()).await;
        let _ = tokio::time::timeout(LEDGER_FLUSH_LIMIT, task).await;
        match flushed {
            Ok(()) => tracing::info!(written = writer.written(), "ledger flushed"),
            Err(_) => tracing::error!(pending = writer.pending(), "ledger not flushed in time"),
        }
        if writer.dropped() > 0 {
            tracing::error!(dropped = writer.dropped(), "ledger rows dropped");
        }
    }
    served.map_err(Failure::Runtime)?;
    tracing::info!("stopped");
    Ok(())
}
