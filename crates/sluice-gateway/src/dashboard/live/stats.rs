//! This replica's view of the last [`WINDOW_S`] seconds, fed once per finished request.
//!
//! Each (route, provider) pair of the config has a ring of one-second slots: requests,
//! tokens, errors by kind, coalesced events, slow-client cut-offs and TTFT / TPOT histograms
//! (`hist`). Recording a request takes one slot's lock for a few additions (and, on the first
//! request of a second, clears the slot): no allocation, no await, nothing that grows. A ring
//! is allocated at its pair's first request; requests refused before any provider go to a ring
//! of their own. Reading copies each slot out under its own lock, so a reader never holds a
//! recorder up for more than one slot's copy.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use serde::Serialize;
use sluice_config::Config;
use sluice_types::unix_ms;

use super::hist::{self, Counts, BUCKETS};

/// The window, in seconds.
pub(crate) const WINDOW_S: u64 = 300;

/// Every status a request can end with other than `ok`: the provider failures
/// (`StreamErrorKind`), a client that left, and the gateway's refusals (`Refused`).
pub(crate) const KINDS: [&str; 23] = [
    "connect",
    "rate_limited",
    "provider_5xx",
    "provider_4xx",
    "provider_error_event",
    "first_token_timeout",
    "idle_timeout",
    "total_timeout",
    "transport",
    "premature_end",
    "protocol",
    "slow_client",
    "shutdown",
    "gateway_overloaded",
    "client_closed",
    "bad_request",
    "not_found",
    "unauthorized",
    "forbidden",
    "over_limit",
    "over_budget",
    "limits_unavailable",
    "internal_error",
];

/// The index of a status in [`KINDS`]; `None` for `ok` (and anything unknown).
pub(crate) fn kind_index(status: &str) -> Option<usize> {
    KINDS.iter().position(|k| *k == status)
}

/// What one finished request adds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Sample {
    /// Its error kind in [`KINDS`], `None` when it ended well.
    pub kind: Option<usize>,
    /// Prompt and completion tokens, as the provider reported them.
    pub tokens: u64,
    pub ttft_ms: Option<f64>,
    pub tpot_ms: Option<f64>,
    pub coalesced: u64,
    pub slow_cutoff: bool,
}

/// One second of one ring.
#[derive(Clone, Copy)]
struct Second {
    /// Seconds since start-up, from 1; 0 marks a slot never used.
    sec: u64,
    requests: u64,
    tokens: u64,
    errors: [u32; KINDS.len()],
    coalesced: u64,
    slow_cutoffs: u64,
    ttft: Counts,
    tpot: Counts,
}

const EMPTY: Second = Second {
    sec: 0,
    requests: 0,
    tokens: 0,
    errors: [0; KINDS.len()],
    coalesced: 0,
    slow_cutoffs: 0,
    ttft: [0; BUCKETS],
    tpot: [0; BUCKETS],
};

impl Second {
    fn add(&mut self, s: &Sample) {
        self.requests += 1;
        self.tokens = self.tokens.saturating_add(s.tokens);
        if let Some(k) = s.kind {
            self.errors[k] = self.errors[k].saturating_add(1);
        }
        self.coalesced = self.coalesced.saturating_add(s.coalesced);
        self.slow_cutoffs += u64::from(s.slow_cutoff);
        if let Some(ms) = s.ttft_ms {
            let b = &mut self.ttft[hist::index(ms)];
            *b = b.saturating_add(1);
        }
        if let Some(ms) = s.tpot_ms {
            let b = &mut self.tpot[hist::index(ms)];
            *b = b.saturating_add(1);
        }
    }
}

/// The last [`WINDOW_S`] seconds of one group, allocated at its first request.
#[derive(Default)]
struct Ring {
    slots: OnceLock<Box<[Mutex<Second>]>>,
}

impl Ring {
    fn record(&self, sec: u64, s: &Sample) {
        let slots = self
            .slots
            .get_or_init(|| (0..WINDOW_S).map(|_| Mutex::new(EMPTY)).collect());
        let mut slot = slots[(sec % WINDOW_S) as usize]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if slot.sec != sec {
            *slot = EMPTY;
            slot.sec = sec;
        }
        slot.add(s);
    }

    /// Calls `f` with a copy of every second in `first..=last` that had requests.
    fn each(&self, first: u64, last: u64, mut f: impl FnMut(&Second)) {
        let Some(slots) = self.slots.get() else {
            return;
        };
        for slot in slots.iter() {
            let copy = {
                let s = slot.lock().unwrap_or_else(|p| p.into_inner());
                if s.sec < first || s.sec > last || s.requests == 0 {
                    continue;
                }
                *s
            };
            f(&copy);
        }
    }
}

struct Group {
    model: String,
    provider: String,
    ring: Ring,
}

/// The live view's counters (see the module docs).
pub(crate) struct LiveStats {
    origin: Instant,
    origin_ms: i64,
    groups: Vec<Group>,
    /// Group index by model, then provider.
    index: HashMap<String, HashMap<String, usize>>,
    refused: Ring,
}

impl std::fmt::Debug for LiveStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveStats")
            .field("groups", &self.groups.len())
            .finish()
    }
}

impl LiveStats {
    /// A group per (route, provider) of the config, in its order.
    pub fn new(config: &Config) -> Self {
        let mut groups = Vec::new();
        let mut index: HashMap<String, HashMap<String, usize>> = HashMap::new();
        for route in &config.routes {
            for target in &route.targets {
                let by_provider = index.entry(route.model.clone()).or_default();
                if by_provider.contains_key(&target.provider) {
                    continue;
                }
                by_provider.insert(target.provider.clone(), groups.len());
                groups.push(Group {
                    model: route.model.clone(),
                    provider: target.provider.clone(),
                    ring: Ring::default(),
                });
            }
        }
        LiveStats {
            origin: Instant::now(),
            origin_ms: unix_ms(),
            groups,
            index,
            refused: Ring::default(),
        }
    }

    fn now_sec(&self) -> u64 {
        self.origin.elapsed().as_secs() + 1
    }

    /// A request served (or last failed) by `provider` for route `model`.
    pub fn record(&self, model: &str, provider: &str, s: &Sample) {
        self.record_at(self.now_sec(), model, provider, s);
    }

    fn record_at(&self, sec: u64, model: &str, provider: &str, s: &Sample) {
        let found = self.index.get(model).and_then(|p| p.get(provider));
        if let Some(&i) = found {
            self.groups[i].ring.record(sec, s);
        }
    }

    /// A request the gateway refused before any provider.
    pub fn refused(&self, s: &Sample) {
        self.refused.record(self.now_sec(), s);
    }

    /// The window as it is now.
    pub fn view(&self) -> LiveView {
        self.view_at(self.now_sec())
    }

    /// The window ending with second `last`.
    fn view_at(&self, last: u64) -> LiveView {
        let first = last.saturating_sub(WINDOW_S - 1).max(1);
        // Rates over the window, or over the time since start-up while that is shorter.
        let span = last.min(WINDOW_S) as f64;
        let mut series: Vec<Acc> = vec![Acc::default(); WINDOW_S as usize];
        let slot_of = |sec: u64| (sec + WINDOW_S - 1 - last) as usize;
        let mut groups = Vec::new();
        let mut totals = Acc::default();
        for g in &self.groups {
            let mut acc = Acc::default();
            g.ring.each(first, last, |s| {
                acc.add(s);
                series[slot_of(s.sec)].add(s);
            });
            if acc.requests == 0 {
                continue;
            }
            totals.add_acc(&acc);
            groups.push(GroupView {
                model: g.model.clone(),
                provider: g.provider.clone(),
                requests: acc.requests,
                requests_per_s: rate(acc.requests, span),
                tokens_per_s: rate(acc.tokens, span),
                ttft_ms: Percentiles::of(&acc.ttft),
                tpot_ms: Percentiles::of(&acc.tpot),
                errors: acc.error_map(),
                coalesced: acc.coalesced,
                slow_client_cutoffs: acc.slow_cutoffs,
            });
        }
        let mut refused = Acc::default();
        self.refused.each(first, last, |s| {
            refused.add(s);
            series[slot_of(s.sec)].add(s);
        });
        totals.add_acc(&refused);
        let series = series
            .iter()
            .enumerate()
            .map(|(i, p)| {
                // Second `last - (WINDOW_S - 1) + i`, where second 1 began at start-up.
                let sec = last as i64 - (WINDOW_S as i64 - 1) + i as i64;
                Point {
                    t: self.origin_ms + (sec - 1) * 1000,
                    requests: p.requests,
                    tokens: p.tokens,
                    errors: p.errors.iter().sum(),
                    ttft_p50_ms: ms(hist::quantile(&p.ttft, 0.5)),
                    ttft_p95_ms: ms(hist::quantile(&p.ttft, 0.95)),
                    tpot_p50_ms: ms(hist::quantile(&p.tpot, 0.5)),
                }
            })
            .collect();
        LiveView {
            time: unix_ms(),
            window_s: WINDOW_S,
            totals: Totals {
                requests_per_s: rate(totals.requests, span),
                tokens_per_s: rate(totals.tokens, span),
                errors: totals.errors.iter().sum(),
            },
            groups,
            series,
            refused: refused.error_map(),
        }
    }
}

/// Sums over seconds.
#[derive(Clone)]
struct Acc {
    requests: u64,
    tokens: u64,
    errors: [u64; KINDS.len()],
    coalesced: u64,
    slow_cutoffs: u64,
    ttft: Counts,
    tpot: Counts,
}

impl Default for Acc {
    fn default() -> Self {
        Acc {
            requests: 0,
            tokens: 0,
            errors: [0; KINDS.len()],
            coalesced: 0,
            slow_cutoffs: 0,
            ttft: [0; BUCKETS],
            tpot: [0; BUCKETS],
        }
    }
}

impl Acc {
    fn add(&mut self, s: &Second) {
        self.requests += s.requests;
        self.tokens = self.tokens.saturating_add(s.tokens);
        for (a, &b) in self.errors.iter_mut().zip(&s.errors) {
            *a += u64::from(b);
        }
        self.coalesced = self.coalesced.saturating_add(s.coalesced);
        self.slow_cutoffs += s.slow_cutoffs;
        hist::add(&mut self.ttft, &s.ttft);
        hist::add(&mut self.tpot, &s.tpot);
    }

    fn add_acc(&mut self, o: &Acc) {
        self.requests += o.requests;
        self.tokens = self.tokens.saturating_add(o.tokens);
        for (a, &b) in self.errors.iter_mut().zip(&o.errors) {
            *a += b;
        }
    }

    fn error_map(&self) -> BTreeMap<&'static str, u64> {
        KINDS
            .iter()
            .zip(&self.errors)
            .filter(|(_, &n)| n > 0)
            .map(|(k, &n)| (*k, n))
            .collect()
    }
}

fn rate(n: u64, span: f64) -> f64 {
    round3(n as f64 / span)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn ms(x: Option<f64>) -> f64 {
    x.map_or(0.0, round3)
}

/// The live window as the snapshot shows it (`docs/dashboard-api.md`).
#[derive(Debug, Serialize)]
pub(crate) struct LiveView {
    /// Unix ms.
    pub time: i64,
    pub window_s: u64,
    pub totals: Totals,
    pub groups: Vec<GroupView>,
    /// One point per second, oldest first.
    pub series: Vec<Point>,
    /// Requests refused before any provider, by status.
    pub refused: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Totals {
    pub requests_per_s: f64,
    pub tokens_per_s: f64,
    pub errors: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct GroupView {
    pub model: String,
    pub provider: String,
    pub requests: u64,
    pub requests_per_s: f64,
    pub tokens_per_s: f64,
    /// `null` without a sample.
    pub ttft_ms: Option<Percentiles>,
    pub tpot_ms: Option<Percentiles>,
    pub errors: BTreeMap<&'static str, u64>,
    pub coalesced: u64,
    pub slow_client_cutoffs: u64,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub(crate) struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

impl Percentiles {
    fn of(counts: &Counts) -> Option<Percentiles> {
        Some(Percentiles {
            p50: round3(hist::quantile(counts, 0.5)?),
            p95: round3(hist::quantile(counts, 0.95)?),
            p99: round3(hist::quantile(counts, 0.99)?),
        })
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Point {
    /// The second's start, unix ms.
    pub t: i64,
    pub requests: u64,
    pub tokens: u64,
    pub errors: u64,
    pub ttft_p50_ms: f64,
    pub ttft_p95_ms: f64,
    pub tpot_p50_ms: f64,
}

#[cfg(test)]
mod tests {
    use sluice_types::StreamErrorKind;

    use super::*;
    use crate::metrics::Refused;

    fn stats() -> LiveStats {
        let toml = r#"
[providers.up]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key = "k"

[providers.alt]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key = "k"

[routes]
"m" = ["up", "alt"]
"n" = ["up"]
"#;
        LiveStats::new(&sluice_config::parse(toml, "sluice.toml", &|_| None).expect("config"))
    }

    fn ok(tokens: u64, ttft: f64) -> Sample {
        Sample {
            tokens,
            ttft_ms: Some(ttft),
            tpot_ms: Some(2.0),
            ..Sample::default()
        }
    }

    #[test]
    fn every_ending_status_has_a_kind() {
        for k in StreamErrorKind::ALL {
            assert!(kind_index(k.as_str()).is_some(), "{k}");
        }
        for r in [
            Refused::BadRequest,
            Refused::NotFound,
            Refused::Unauthorized,
            Refused::Forbidden,
            Refused::OverLimit,
            Refused::OverBudget,
            Refused::LimitsUnavailable,
            Refused::Internal,
        ] {
            assert!(kind_index(r.status()).is_some(), "{}", r.status());
        }
        assert!(kind_index("client_closed").is_some());
        assert_eq!(kind_index("ok"), None);
    }

    #[test]
    fn requests_show_in_their_group_the_totals_and_the_series() {
        let s = stats();
        for i in 0..10 {
            s.record_at(100, "m", "up", &ok(100, 10.0 + f64::from(i)));
        }
        let failed = Sample {
            kind: kind_index("provider_5xx"),
            ..Sample::default()
        };
        s.record_at(101, "m", "alt", &failed);
        s.record_at(101, "zz", "up", &ok(5, 1.0));
        let v = s.view_at(101);
        assert_eq!(v.groups.len(), 2);
        let up = &v.groups[0];
        assert_eq!((up.model.as_str(), up.provider.as_str()), ("m", "up"));
        assert_eq!(up.requests, 10);
        // 101 seconds since start-up: rates over those.
        assert_eq!(up.requests_per_s, round3(10.0 / 101.0));
        assert_eq!(up.tokens_per_s, round3(1000.0 / 101.0));
        let ttft = up.ttft_ms.unwrap();
        assert!((10.0..=20.0).contains(&ttft.p50), "{ttft:?}");
        assert!(ttft.p50 <= ttft.p95 && ttft.p95 <= ttft.p99);
        assert!(up.errors.is_empty());
        let alt = &v.groups[1];
        assert_eq!(alt.errors.get("provider_5xx"), Some(&1));
        assert_eq!(alt.ttft_ms, None);
        assert_eq!(v.totals.errors, 1);
        assert_eq!(v.series.len(), WINDOW_S as usize);
        let last_two: Vec<u64> = v.series[298..].iter().map(|p| p.requests).collect();
        assert_eq!(last_two, [10, 1]);
        assert_eq!(v.series[299].t - v.series[298].t, 1000);
        assert!(v.series[298].ttft_p50_ms > 0.0);
        assert_eq!(v.series[299].ttft_p50_ms, 0.0);
    }

    #[test]
    fn seconds_leave_the_window_and_slots_are_reused() {
        let s = stats();
        s.record_at(5, "n", "up", &ok(1, 1.0));
        s.refused(&Sample {
            kind: kind_index("unauthorized"),
            ..Sample::default()
        });
        assert_eq!(s.view_at(5 + WINDOW_S - 1).groups.len(), 1);
        assert!(s.view_at(5 + WINDOW_S).groups.is_empty());
        // The slot of second 5 serves second 305, cleared first.
        s.record_at(5 + WINDOW_S, "n", "up", &ok(1, 1.0));
        let v = s.view_at(5 + WINDOW_S);
        assert_eq!(v.groups[0].requests, 1);
    }

    #[test]
    fn refusals_count_in_the_totals_by_status() {
        let s = stats();
        let refused = Sample {
            kind: kind_index("unauthorized"),
            ..Sample::default()
        };
        s.refused(&refused);
        s.refused(&refused);
        let v = s.view();
        assert!(v.groups.is_empty());
        assert_eq!(v.refused.get("unauthorized"), Some(&2));
        assert_eq!(v.totals.errors, 2);
        assert_eq!(v.series.iter().map(|p| p.errors).sum::<u64>(), 2);
    }
}
