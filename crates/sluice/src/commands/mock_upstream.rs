//! `sluice mock-upstream`: the simulated provider as a standalone HTTP server.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use sluice_mock::{MockSettings, Stats};

use crate::Failure;

pub async fn run(
    listen: SocketAddr,
    tokens: usize,
    ttft: Duration,
    itl: Duration,
    fail_percent: u8,
) -> Result<(), Failure> {
    let settings = MockSettings {
        tokens,
        ttft,
        itl,
        fail_percent,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))
        .map_err(Failure::Runtime)?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::Runtime(e.into()))?;
    let shutdown = super::shutdown_signal();
    tracing::info!(tokens, ttft = ?ttft, itl = ?itl, "simulated provider listening on http://{local}");
    sluice_mock::serve(listener, settings, Stats::new(), shutdown)
        .await
        .context("mock upstream failed")
        .map_err(Failure::Runtime)?;
    Ok(())
}
