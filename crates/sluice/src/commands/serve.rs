//! `sluice serve`: run the gateway.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use sluice_config::Origin;
use sluice_gateway::{Gateway, MockHandle};

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
    raise_descriptor_limit();
    let addr = config.listen;
    // The ledger must be usable before the first request: one that cannot be opened stops
    // the gateway with one line naming it.
    let gateway = Gateway::start(config, MockHandle::default())
        .await
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("{e}")))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
        .map_err(Failure::Runtime)?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::Runtime(e.into()))?;
    let shutdown = super::shutdown_signal();
    tracing::info!("listening on http://{local}");
    gateway
        .serve(listener, shutdown)
        .await
        .context("server failed")
        .map_err(Failure::Runtime)?;
    tracing::info!("stopped");
    Ok(())
}

/// Every connection, to a client or a provider, takes a file descriptor, and the usual soft
/// limit (1,024) is far below what a gateway holding thousands of streams needs: it is raised
/// to the hard limit, and the limit is logged.
fn raise_descriptor_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open file limit"),
    }
}
