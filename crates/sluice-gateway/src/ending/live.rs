//! What a request's ending tells the dashboard's live counters (`crate::dashboard::live`):
//! the figures the metrics read, gathered without allocating.

use std::time::Duration;

use sluice_relay::{End, StreamError};

use super::{Ending, Measures};
use crate::dashboard::live::{kind_index, LiveStats, Sample};

impl Ending {
    /// Adds this ending to the live counters: its route and provider's, or the refusals'.
    pub(super) fn feed_live(&self, stats: &LiveStats) {
        let mut sample = Sample {
            kind: kind_index(self.status),
            tokens: self
                .usage
                .map_or(0, |u| u.prompt_tokens.saturating_add(u.completion_tokens)),
            ttft_ms: self.ttft.map(ms),
            ..Sample::default()
        };
        if let Measures::Stream { outcome, .. } = &self.measures {
            let tally = &outcome.tally;
            sample.coalesced = outcome.queue.coalesced;
            sample.slow_cutoff = matches!(&outcome.end, End::Failed(StreamError::SlowClient(_)));
            // As `sluice_tpot_seconds`: the time between the first and last content over the
            // gaps between the completion's tokens.
            if let (Some(first), Some(last), Some(usage)) =
                (tally.first_content_at, tally.last_content_at, tally.usage)
            {
                if usage.completion_tokens >= 2 {
                    sample.tpot_ms = Some(ms(last - first) / (usage.completion_tokens - 1) as f64);
                }
            }
        }
        match &self.served {
            Some(served) => stats.record(&self.model, &served.provider, &sample),
            None => stats.refused(&sample),
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
