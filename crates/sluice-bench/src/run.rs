//! Scheduling: worker tasks share one HTTP client and take the next request from a
//! [`Schedule`] until every target's count or duration is used up; the caller's task
//! collects the outcomes into one report per target and reports progress.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::Target;
use crate::error::Failure;
use crate::measure::measure;
use crate::report::{Recorder, Report};
use crate::stream_state::Sample;
use crate::{BenchConfig, BenchError};

/// Called after each finished request with the number done and the planned total (`None`
/// when the run is bounded by time only). Always called from the task that awaits the run.
pub type Progress<'a> = &'a (dyn Fn(u64, Option<u64>) + Sync);

/// Runs the configured load against one target.
pub async fn run(cfg: &BenchConfig, on_progress: Progress<'_>) -> Result<Report, BenchError> {
    let [report] = drive([Target::new(cfg)?], on_progress).await?;
    Ok(report)
}

/// Runs the same load against two targets at once, interleaved: requests alternate between
/// `a` and `b`, with `a.concurrency + b.concurrency` workers in all, so each sees about its
/// own concurrency, and both see the same network, machine and upstream conditions.
pub async fn compare(
    a: &BenchConfig,
    b: &BenchConfig,
    on_progress: Progress<'_>,
) -> Result<(Report, Report), BenchError> {
    let [ra, rb] = drive([Target::new(a)?, Target::new(b)?], on_progress).await?;
    Ok((ra, rb))
}

async fn drive<const N: usize>(
    targets: [Target; N],
    on_progress: Progress<'_>,
) -> Result<[Report; N], BenchError> {
    let workers: usize = targets.iter().map(|t| t.concurrency).sum();
    // Room for every worker's connection even when both compared targets share a host.
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(workers)
        .build()
        .map_err(BenchError::Client)?;
    let planned: Option<u64> = targets.iter().map(|t| t.requests).sum();

    let start = Instant::now();
    let schedule = Arc::new(Mutex::new(Schedule::new(
        targets.iter().map(|t| (t.requests, t.duration)),
        start,
    )));
    let targets = Arc::new(targets);
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, Result<Sample, Failure>)>();
    let mut tasks = JoinSet::new();
    for _ in 0..workers {
        let (client, targets, schedule, tx) = (
            client.clone(),
            targets.clone(),
            schedule.clone(),
            tx.clone(),
        );
        tasks.spawn(async move {
            loop {
                let next = schedule
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .next(Instant::now());
                let Some(i) = next else { break };
                let outcome = measure(&client, &targets[i]).await;
                if tx.send((i, outcome)).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);

    let mut recorders: [Recorder; N] = std::array::from_fn(|_| Recorder::new());
    let mut done = 0u64;
    while let Some((i, outcome)) = rx.recv().await {
        recorders[i].record(&outcome);
        done += 1;
        on_progress(done, planned);
    }
    let wall = start.elapsed();
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
    Ok(recorders.map(|r| r.finish(wall)))
}

/// Which target the next request goes to: round-robin over the targets that still have
/// requests left and time left.
#[derive(Debug)]
struct Schedule {
    slots: Vec<Slot>,
    turn: usize,
}

#[derive(Debug)]
struct Slot {
    limit: Option<u64>,
    deadline: Option<Instant>,
    issued: u64,
}

impl Slot {
    fn open(&self, now: Instant) -> bool {
        self.limit.is_none_or(|n| self.issued < n) && self.deadline.is_none_or(|d| now < d)
    }
}

impl Schedule {
    fn new(limits: impl Iterator<Item = (Option<u64>, Option<Duration>)>, start: Instant) -> Self {
        Schedule {
            slots: limits
                .map(|(limit, duration)| Slot {
                    limit,
                    deadline: duration.map(|d| start + d),
                    issued: 0,
                })
                .collect(),
            turn: 0,
        }
    }

    fn next(&mut self, now: Instant) -> Option<usize> {
        let n = self.slots.len();
        let i = (0..n)
            .map(|k| (self.turn + k) % n)
            .find(|&i| self.slots[i].open(now))?;
        self.slots[i].issued += 1;
        self.turn = (i + 1) % n;
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(s: &mut Schedule, now: Instant) -> Vec<usize> {
        std::iter::from_fn(|| s.next(now)).collect()
    }

    #[test]
    fn one_target_gets_its_count() {
        let t0 = Instant::now();
        let mut s = Schedule::new([(Some(3), None)].into_iter(), t0);
        assert_eq!(drain(&mut s, t0), vec![0, 0, 0]);
    }

    #[test]
    fn two_targets_alternate_then_the_rest_runs_out() {
        let t0 = Instant::now();
        let mut s = Schedule::new([(Some(3), None), (Some(2), None)].into_iter(), t0);
        assert_eq!(drain(&mut s, t0), vec![0, 1, 0, 1, 0]);
    }

    #[test]
    fn a_duration_stops_new_requests() {
        let t0 = Instant::now();
        let mut s = Schedule::new([(None, Some(Duration::from_secs(1)))].into_iter(), t0);
        assert_eq!(s.next(t0), Some(0));
        assert_eq!(s.next(t0 + Duration::from_millis(999)), Some(0));
        assert_eq!(s.next(t0 + Duration::from_secs(1)), None);
        // Whichever comes first: the count or the time.
        let mut s = Schedule::new([(Some(1), Some(Duration::from_secs(1)))].into_iter(), t0);
        assert_eq!(drain(&mut s, t0), vec![0]);
    }
}
