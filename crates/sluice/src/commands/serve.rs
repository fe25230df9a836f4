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
    tracing::info!("listening on http://{local}");
    gateway
        .serve(listener, super::shutdown_signal())
        .await
        .context("server failed")
        .map_err(Failure::Runtime)?;
    tracing::info!("stopped");
    Ok(())
}
