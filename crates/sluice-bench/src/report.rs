//! From samples to numbers: an HDR histogram per metric (microseconds, up to an hour) read as
//! a [`Summary`], the tally of one target's requests as a [`Report`], and the difference
//! between two reports as a [`Diff`].

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Serialize, Serializer};

use crate::error::Failure;
use crate::stream_state::Sample;

/// The largest value a histogram holds, in microseconds (one hour); longer ones are clamped.
const MAX_US: u64 = 3_600_000_000;
/// Significant digits kept by the histograms (relative error under 0.1%).
const SIGFIG: u8 = 3;

/// One metric over all successful requests, in milliseconds. All zero when `count` is 0.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Summary {
    pub count: u64,
    pub min_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// One metric being recorded: the histogram for percentiles, exact min, max and sum.
#[derive(Debug, Clone)]
pub(crate) struct Metric {
    hist: Histogram<u64>,
    min_us: u64,
    max_us: u64,
    sum_us: u128,
}

impl Metric {
    pub(crate) fn new() -> Self {
        Metric {
            hist: Histogram::new_with_bounds(1, MAX_US, SIGFIG)
                .expect("constant histogram bounds are valid"),
            min_us: u64::MAX,
            max_us: 0,
            sum_us: 0,
        }
    }

    pub(crate) fn record(&mut self, value: Duration) {
        let us = u64::try_from(value.as_micros())
            .unwrap_or(u64::MAX)
            .min(MAX_US);
        self.hist.saturating_record(us);
        self.min_us = self.min_us.min(us);
        self.max_us = self.max_us.max(us);
        self.sum_us += u128::from(us);
    }

    pub(crate) fn summary(&self) -> Summary {
        let count = self.hist.len();
        if count == 0 {
            return Summary::default();
        }
        // A bucket's representative value may lie just past the exact extremes.
        let at = |q: f64| {
            ms(self
                .hist
                .value_at_quantile(q)
                .clamp(self.min_us, self.max_us))
        };
        Summary {
            count,
            min_ms: ms(self.min_us),
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: ms(self.max_us),
            mean_ms: self.sum_us as f64 / count as f64 / 1000.0,
        }
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The result of a run against one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Requests finished, successful or not.
    pub requests: u64,
    pub ok: u64,
    /// Failed requests by kind: `connect`, `http_4xx`, `http_5xx`, `timeout`,
    /// `stream_error`, `incomplete`, `protocol`.
    pub errors: BTreeMap<String, u64>,
    /// The first reason seen for each error kind.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub error_examples: BTreeMap<String, String>,
    /// Request start to the first content chunk.
    pub ttft: Summary,
    /// Time per output token after the first.
    pub tpot: Summary,
    /// Between consecutive content chunks.
    pub gap: Summary,
    /// Request start to the end of the body.
    pub total: Summary,
    /// Over the successful requests.
    pub completion_tokens: u64,
    /// `completion_tokens` over the wall time.
    pub tokens_per_s: f64,
    /// From the first request's start to the last one's end.
    #[serde(rename = "wall_ms", serialize_with = "duration_ms")]
    pub wall: Duration,
}

impl Report {
    /// Requests were made and every one failed to connect.
    pub fn all_failed_to_connect(&self) -> bool {
        self.requests > 0 && self.errors.get("connect") == Some(&self.requests)
    }

    /// Failed requests of all kinds.
    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }
}

fn duration_ms<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// The tally of one target's requests while they finish.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    ttft: Metric,
    tpot: Metric,
    gap: Metric,
    total: Metric,
    requests: u64,
    ok: u64,
    errors: BTreeMap<String, u64>,
    error_examples: BTreeMap<String, String>,
    completion_tokens: u64,
}

impl Recorder {
    pub(crate) fn new() -> Self {
        Recorder {
            ttft: Metric::new(),
            tpot: Metric::new(),
            gap: Metric::new(),
            total: Metric::new(),
            requests: 0,
            ok: 0,
            errors: BTreeMap::new(),
            error_examples: BTreeMap::new(),
            completion_tokens: 0,
        }
    }

    pub(crate) fn record(&mut self, outcome: &Result<Sample, Failure>) {
        self.requests += 1;
        match outcome {
            Ok(sample) => {
                self.ok += 1;
                if let Some(ttft) = sample.ttft {
                    self.ttft.record(ttft);
                }
                if let Some(tpot) = sample.tpot {
                    self.tpot.record(tpot);
                }
                for gap in &sample.gaps {
                    self.gap.record(*gap);
                }
                self.total.record(sample.total);
                self.completion_tokens += sample.completion_tokens;
            }
            Err(failure) => {
                let kind = failure.kind.as_str();
                *self.errors.entry(kind.to_owned()).or_default() += 1;
                self.error_examples
                    .entry(kind.to_owned())
                    .or_insert_with(|| failure.message.clone());
            }
        }
    }

    pub(crate) fn finish(self, wall: Duration) -> Report {
        let secs = wall.as_secs_f64();
        Report {
            requests: self.requests,
            ok: self.ok,
            errors: self.errors,
            error_examples: self.error_examples,
            ttft: self.ttft.summary(),
            tpot: self.tpot.summary(),
            gap: self.gap.summary(),
            total: self.total.summary(),
            completion_tokens: self.completion_tokens,
            tokens_per_s: if secs > 0.0 {
                self.completion_tokens as f64 / secs
            } else {
                0.0
            },
            wall,
        }
    }
}

/// B − A for the median and the tail of one metric, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MetricDiff {
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl MetricDiff {
    fn between(a: &Summary, b: &Summary) -> Self {
        MetricDiff {
            p50_ms: b.p50_ms - a.p50_ms,
            p99_ms: b.p99_ms - a.p99_ms,
        }
    }
}

/// How target B compared with target A.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Diff {
    pub ttft: MetricDiff,
    pub tpot: MetricDiff,
    pub gap: MetricDiff,
    pub total: MetricDiff,
    /// B's tokens/s over A's; `None` when A had no throughput.
    pub tokens_per_s_ratio: Option<f64>,
}

impl Diff {
    pub fn between(a: &Report, b: &Report) -> Self {
        Diff {
            ttft: MetricDiff::between(&a.ttft, &b.ttft),
            tpot: MetricDiff::between(&a.tpot, &b.tpot),
            gap: MetricDiff::between(&a.gap, &b.gap),
            total: MetricDiff::between(&a.total, &b.total),
            tokens_per_s_ratio: (a.tokens_per_s > 0.0).then(|| b.tokens_per_s / a.tokens_per_s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= b.abs() * 0.001 + 1e-9
    }

    #[test]
    fn empty_metric_is_all_zero() {
        assert_eq!(Metric::new().summary(), Summary::default());
    }

    #[test]
    fn percentiles_of_one_to_a_hundred_ms() {
        let mut m = Metric::new();
        // Recorded out of order on purpose.
        for i in (1..=100u64).rev() {
            m.record(Duration::from_millis(i));
        }
        let s = m.summary();
        assert_eq!(s.count, 100);
        assert_eq!(s.min_ms, 1.0);
        assert_eq!(s.max_ms, 100.0);
        assert!(close(s.p50_ms, 50.0), "{s:?}");
        assert!(close(s.p90_ms, 90.0), "{s:?}");
        assert!(close(s.p99_ms, 99.0), "{s:?}");
        assert!(close(s.mean_ms, 50.5), "{s:?}");
    }

    #[test]
    fn percentiles_stay_within_the_exact_extremes() {
        let mut m = Metric::new();
        m.record(Duration::from_micros(123_457));
        let s = m.summary();
        assert_eq!(s.count, 1);
        for v in [s.min_ms, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms, s.mean_ms] {
            assert_eq!(v, 123.457);
        }
    }

    #[test]
    fn microsecond_resolution_and_an_hour_cap() {
        let mut m = Metric::new();
        m.record(Duration::ZERO);
        m.record(Duration::from_micros(1));
        m.record(Duration::from_secs(10 * 3600));
        let s = m.summary();
        assert_eq!(s.min_ms, 0.0);
        assert_eq!(s.p50_ms, 0.001);
        assert_eq!(s.max_ms, 3_600_000.0);
    }

    #[test]
    fn recorder_tallies_samples_and_failures() {
        let mut r = Recorder::new();
        let sample = Sample {
            ttft: Some(Duration::from_millis(200)),
            gaps: vec![Duration::from_millis(20); 19],
            tpot: Some(Duration::from_millis(20)),
            total: Duration::from_millis(580),
            completion_tokens: 20,
        };
        r.record(&Ok(sample.clone()));
        r.record(&Ok(sample));
        for message in ["refused", "refused again"] {
            r.record(&Err(Failure {
                kind: ErrorKind::Connect,
                message: message.into(),
            }));
        }
        let report = r.finish(Duration::from_secs(2));
        assert_eq!((report.requests, report.ok, report.failed()), (4, 2, 2));
        assert_eq!(report.errors["connect"], 2);
        assert_eq!(report.error_examples["connect"], "refused");
        assert_eq!(report.ttft.count, 2);
        assert_eq!(report.gap.count, 38);
        assert!(close(report.gap.p50_ms, 20.0));
        assert_eq!(report.completion_tokens, 40);
        assert!(close(report.tokens_per_s, 20.0));
        assert!(!report.all_failed_to_connect());

        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["wall_ms"], 2000.0);
        assert_eq!(json["ttft"]["p50_ms"], 200.0);
    }

    #[test]
    fn all_failed_to_connect_needs_requests() {
        let mut r = Recorder::new();
        assert!(!r.clone().finish(Duration::ZERO).all_failed_to_connect());
        r.record(&Err(Failure {
            kind: ErrorKind::Connect,
            message: "x".into(),
        }));
        let report = r.finish(Duration::ZERO);
        assert!(report.all_failed_to_connect());
        assert_eq!(report.tokens_per_s, 0.0);
    }

    #[test]
    fn diff_is_b_minus_a() {
        let mut a = Recorder::new().finish(Duration::from_secs(1));
        let mut b = a.clone();
        a.ttft.p50_ms = 100.0;
        b.ttft.p50_ms = 130.0;
        a.ttft.p99_ms = 200.0;
        b.ttft.p99_ms = 150.0;
        a.tokens_per_s = 50.0;
        b.tokens_per_s = 25.0;
        let d = Diff::between(&a, &b);
        assert_eq!(
            d.ttft,
            MetricDiff {
                p50_ms: 30.0,
                p99_ms: -50.0
            }
        );
        assert_eq!(d.tokens_per_s_ratio, Some(0.5));
        a.tokens_per_s = 0.0;
        assert_eq!(Diff::between(&a, &b).tokens_per_s_ratio, None);
    }
}
