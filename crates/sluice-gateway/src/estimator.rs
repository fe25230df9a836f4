//! Where tokenizer counts run: threads of their own, fed by a bounded queue, so a mass
//! hang-up (thousands of streams cut at once, each needing a count) neither takes the runtime's
//! blocking pool from the SQLite ledger nor grows without bound. When the queue is full, the
//! count is made at once with the rule of thumb (four bytes a token): the row is still
//! written, still marked estimated, just counted more roughly.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::estimate::Tables;

/// Counts waiting at most; beyond, the rule of thumb.
pub const QUEUE: usize = 4096;
/// Threads counting.
pub const THREADS: usize = 2;

type Job = Box<dyn FnOnce(Tables) + Send>;

/// The counting threads and their queue. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Estimator(Arc<Inner>);

struct Inner {
    queue: SyncSender<Job>,
    /// Counts submitted and not yet done.
    pending: AtomicUsize,
    done: Notify,
    /// The gateway is draining: counts no longer wait for tokenizer tables to load.
    draining: AtomicBool,
    /// Counts made with the rule of thumb because the queue was full.
    overflowed: AtomicUsize,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Estimator")
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl Estimator {
    /// Starts the counting threads (they live as long as the process).
    pub fn start() -> Self {
        let (queue, jobs) = sync_channel::<Job>(QUEUE);
        let inner = Arc::new(Inner {
            queue,
            pending: AtomicUsize::new(0),
            done: Notify::new(),
            draining: AtomicBool::new(false),
            overflowed: AtomicUsize::new(0),
        });
        let jobs = Arc::new(Mutex::new(jobs));
        for n in 0..THREADS {
            let (jobs, inner) = (jobs.clone(), inner.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("sluice-estimate-{n}"))
                .spawn(move || loop {
                    let job = match jobs.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    };
                    let tables = if inner.draining.load(Ordering::Relaxed) {
                        Tables::Loaded
                    } else {
                        Tables::Load
                    };
                    job(tables);
                    inner.finished();
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a token-counting thread");
            }
        }
        Estimator(inner)
    }

    /// Runs `job` on a counting thread, or at once with the rule of thumb when the queue is
    /// full.
    pub fn submit(&self, job: impl FnOnce(Tables) + Send + 'static) {
        self.0.pending.fetch_add(1, Ordering::AcqRel);
        match self.0.queue.try_send(Box::new(job)) {
            Ok(()) => {}
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => {
                if self
                    .0
                    .overflowed
                    .fetch_add(1, Ordering::Relaxed)
                    .is_multiple_of(1000)
                {
                    tracing::warn!(
                        queue = QUEUE,
                        "token counting is behind: rows are counted at four bytes a token"
                    );
                }
                job(Tables::None);
                self.0.finished();
            }
        }
    }

    /// From now on, counts do not wait for tokenizer tables to load.
    pub fn begin_drain(&self) {
        self.0.draining.store(true, Ordering::Relaxed);
    }

    /// Waits until every submitted count is done (its row handed to the writer).
    pub async fn finish(&self) {
        loop {
            let done = self.0.done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if self.0.pending.load(Ordering::Acquire) == 0 {
                return;
            }
            done.await;
        }
    }

    /// Counts made with the rule of thumb because the queue was full.
    #[cfg(test)]
    pub fn overflowed(&self) -> usize {
        self.0.overflowed.load(Ordering::Relaxed)
    }
}

impl Inner {
    fn finished(&self) {
        self.pending.fetch_sub(1, Ordering::AcqRel);
        self.done.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[tokio::test]
    async fn every_job_runs_and_finish_waits_for_them() {
        let e = Estimator::start();
        let ran = Arc::new(AtomicU64::new(0));
        for _ in 0..100 {
            let ran = ran.clone();
            e.submit(move |_| {
                std::thread::sleep(std::time::Duration::from_millis(1));
                ran.fetch_add(1, Ordering::Relaxed);
            });
        }
        e.finish().await;
        assert_eq!(ran.load(Ordering::Relaxed), 100);
    }

    #[tokio::test]
    async fn a_full_queue_counts_at_once_with_the_rule_of_thumb() {
        let e = Estimator::start();
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let blocked = Arc::new(Mutex::new(blocked));
        // Occupy both threads, then fill the queue.
        for _ in 0..THREADS {
            let blocked = blocked.clone();
            e.submit(move |_| {
                let _ = blocked.lock().unwrap().recv();
            });
        }
        let rough = Arc::new(AtomicU64::new(0));
        for _ in 0..(QUEUE + THREADS + 10) {
            let rough = rough.clone();
            e.submit(move |tables| {
                if tables == Tables::None {
                    rough.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        assert!(rough.load(Ordering::Relaxed) >= 10);
        assert_eq!(e.overflowed() as u64, rough.load(Ordering::Relaxed));
        for _ in 0..THREADS {
            let _ = release.send(());
        }
        e.finish().await;
    }
}
