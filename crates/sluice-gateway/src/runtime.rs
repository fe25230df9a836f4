//! The gateway's runtime: start-up and shutdown, in one place.
//!
//! **Start-up** ([`Gateway::start`]): the ledger is opened (one that cannot be opened stops
//! start-up with one line naming it, password masked) and its writer started; the API keys are
//! read from it (and again every `auth::REFRESH` by a background task); the limiter is set up
//! (in memory, or in Redis with `redis = ...`); then the shared state is built from the
//! config: a client per provider, prices, metrics, breakers.
//!
//! **Shutdown** ([`Gateway::serve`] once its signal fires), all within `shutdown_grace`
//! measured from the signal, in this order:
//! 1. no new connections; open streams may finish until the drain reserve (the last
//!    [`DRAIN_RESERVE`] of the grace, or its last half if that is shorter);
//! 2. relays still open are ended, each with a final `shutdown` error event, and report their
//!    outcomes (recorded as their requests' endings);
//! 3. rows still being counted with the tokenizer reach the ledger writer (from step 2 on, a
//!    count no longer waits for tokenizer tables to load), settling their requests' limits;
//! 4. the limiter applies the settlements still queued (Redis), and the keys' last use is
//!    written;
//! 5. the writer writes every row it holds.

use std::future::Future;
use std::time::Duration;

use std::sync::Arc;

use sluice_config::Config;
use sluice_ledger::{Ledger, LedgerHandle, WriterConfig};
use sluice_limit::Limiter;
use sluice_pricing::PriceBook;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::accounting::Accounts;
use crate::auth::keyring::{KeyRing, REFRESH};
use crate::limits::spend::LedgerSpend;
use crate::state::{AppState, InitError, Services};
use crate::upstream::MockHandle;

/// The prefix of every Redis key the limiter writes.
pub const REDIS_PREFIX: &str = "sluice:limits";

/// The longest part of the shutdown grace kept for steps 2–4 (see the module docs).
pub const DRAIN_RESERVE: Duration = Duration::from_secs(5);

/// A started gateway: its state, and the background tasks it must wait for at shutdown.
#[derive(Debug)]
pub struct Gateway {
    state: AppState,
    writer: Option<(LedgerHandle, JoinHandle<()>)>,
    /// Reads the keys again every few seconds; stopped at step 4 of the shutdown.
    key_refresh: Option<(CancellationToken, JoinHandle<()>)>,
}

impl Gateway {
    /// Opens the ledger the config names, starts its writer and builds the gateway's state.
    pub async fn start(config: Config, mock: MockHandle) -> Result<Gateway, InitError> {
        let (accounts, writer) = if let Some(url) = config.ledger.url() {
            let ledger = Ledger::open(url).await?;
            tracing::info!(ledger = %ledger.url(), "ledger open");
            // Rows that could not be written at the last exit are written first.
            let spill = spill_path(&ledger);
            match ledger.replay_spill(&spill).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(rows = n, path = %spill.display(), "rows kept at the last exit written")
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot write the rows kept at the last exit")
                }
            }
            let writer_config = WriterConfig {
                spill_path: Some(spill),
                ..WriterConfig::default()
            };
            let (handle, task) = ledger.writer(writer_config);
            // Awaited in step 4 of the shutdown.
            let task = tokio::spawn(task);
            (
                Some(Accounts::new(ledger, handle.clone())),
                Some((handle, task)),
            )
        } else {
            tracing::warn!("ledger = \"none\": requests are not recorded");
            (None, None)
        };
        let keys = Arc::new(KeyRing::default());
        let limiter = match (&accounts, &config.redis) {
            (Some(a), Some(url)) => {
                let spend = Arc::new(LedgerSpend {
                    ledger: a.ledger.clone(),
                    book: Arc::new(PriceBook::with_config(&config)),
                });
                let limiter =
                    Limiter::with_redis(url, REDIS_PREFIX, config.limits.on_store_error, spend)?;
                tracing::info!(
                    on_store_error = config.limits.on_store_error.as_str(),
                    "limits shared through Redis"
                );
                Some(Arc::new(limiter))
            }
            _ => None,
        };
        let key_refresh = match &accounts {
            Some(a) => {
                keys.refresh(&a.ledger).await?;
                let stop = CancellationToken::new();
                // Awaited in step 4 of the shutdown.
                let task = tokio::spawn(refresh_keys(keys.clone(), a.ledger.clone(), stop.clone()));
                Some((stop, task))
            }
            None if config.auth.required => return Err(InitError::KeysWithoutLedger),
            None => None,
        };
        let services = Services {
            accounts,
            keys,
            limiter,
        };
        let state = AppState::with(config, mock, services)?;
        Ok(Gateway {
            state,
            writer,
            key_refresh,
        })
    }

    /// The shared state every handler gets.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves on `listener` until `shutdown` resolves, then shuts down as the module docs say.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let grace = self.state.config().shutdown_grace;
        let (signal_tx, mut signal_rx) = watch::channel(None::<Instant>);
        let closing = self.state.live().closing.clone();
        let server = crate::server::serve(listener, self.state.clone(), async move {
            shutdown.await;
            // The dashboard's live streams never end by themselves: they end now.
            closing.cancel();
            tracing::info!("shutting down: no new connections, open streams may finish");
            let _ = signal_tx.send(Some(Instant::now()));
        });
        let reserve = DRAIN_RESERVE.min(grace / 2);
        let streams_over = async {
            match signal_rx.wait_for(Option::is_some).await {
                Ok(at) => {
                    let at = at.unwrap_or_else(Instant::now);
                    tokio::time::sleep_until(at + grace - reserve).await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        // 1. Serve; after the signal, until every connection closed or the streams' time is up.
        let served = tokio::select! {
            res = server => res,
            () = streams_over => {
                tracing::warn!(grace = ?grace, "grace period over; ending the streams still open");
                Ok(())
            }
        };
        let signalled = *signal_rx.borrow();
        let deadline = signalled.unwrap_or_else(Instant::now) + grace;
        self.drain(deadline).await;
        served
    }

    /// Steps 2–4 of the shutdown, each bounded by `deadline`.
    async fn drain(self, deadline: Instant) {
        let accounts = self.state.accounts();
        if let Some(a) = accounts {
            a.begin_drain();
        }
        // 2. Every relay reports its outcome before its stream ends.
        let relays = self.state.relays();
        relays.shutdown.cancel();
        relays.tasks.close();
        if tokio::time::timeout_at(deadline, relays.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                open = relays.tasks.len(),
                "relay tasks still running at exit"
            );
        }
        // 3. Rows being counted with the tokenizer.
        if let Some(a) = accounts {
            if tokio::time::timeout_at(deadline, a.finish_estimates())
                .await
                .is_err()
            {
                tracing::error!("token estimates not finished in time: their rows are lost");
            }
        }
        // 4. Queued settlements, and when keys were last used.
        self.state.limiter().drain(deadline).await;
        if let Some((stop, task)) = self.key_refresh {
            stop.cancel();
            let _ = tokio::time::timeout_at(deadline, task).await;
        }
        // 5. The writer's last flush; what it cannot write by the deadline goes to the spill
        // file, written at the next start.
        if let Some((writer, task)) = self.writer {
            let report = writer.shutdown_by(deadline).await;
            let _ = tokio::time::timeout_at(deadline, task).await;
            if report.spilled > 0 || report.lost > 0 {
                tracing::error!(
                    written = report.written,
                    spilled = report.spilled,
                    lost = report.lost,
                    "ledger not flushed in time: spilled rows are written at the next start"
                );
            } else {
                tracing::info!(written = report.written, "ledger flushed");
            }
            if writer.dropped() > 0 {
                tracing::error!(dropped = writer.dropped(), "ledger rows dropped");
            }
        }
    }
}

/// Reads the keys again every [`REFRESH`] (so keys created or revoked anywhere take effect
/// here within seconds) and writes when keys were last used; once more when stopped.
async fn refresh_keys(keys: Arc<KeyRing>, ledger: Ledger, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(REFRESH) => {}
        }
        if let Err(e) = keys.refresh(&ledger).await {
            tracing::warn!(error = %e, "could not read the API keys; keeping the last ones");
        }
        keys.write_last_used(&ledger).await;
    }
    keys.write_last_used(&ledger).await;
}

/// Where rows that cannot be written at exit are kept: next to a SQLite file, or in the
/// working directory for Postgres.
fn spill_path(ledger: &Ledger) -> std::path::PathBuf {
    ledger
        .spill_path()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| std::path::PathBuf::from("sluice-ledger.spill.jsonl"))
}
