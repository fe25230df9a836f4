//! The wait before a retry: exponential backoff with full jitter.

use std::time::Duration;

/// Backoff with full jitter: a random wait in `[0, base * 2^(retry - 1)]`, from a small
/// xorshift generator (no cryptographic quality needed; one per request).
#[derive(Debug)]
pub(crate) struct Jitter(u64);

impl Jitter {
    /// A generator seeded from the clock.
    pub fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Self::seeded(nanos)
    }

    pub fn seeded(seed: u64) -> Self {
        // Xorshift must not start at zero.
        Jitter(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// The wait before retry number `retry` (1 for the first retry): at most
    /// `base * 2^(retry - 1)`, the doubling capped at 2^16.
    pub fn backoff(&mut self, base: Duration, retry: u32) -> Duration {
        let cap = base.saturating_mul(1u32 << retry.saturating_sub(1).min(16));
        let cap_ns = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        if cap_ns == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.next() % cap_ns.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_stay_within_a_doubling_cap() {
        let base = Duration::from_millis(200);
        let mut j = Jitter::seeded(42);
        for retry in 1..=6u32 {
            let cap = base * (1 << (retry - 1));
            for _ in 0..200 {
                assert!(j.backoff(base, retry) <= cap, "retry {retry}");
            }
        }
        // Retry 0 is treated as the first retry.
        assert!(j.backoff(base, 0) <= base);
    }

    #[test]
    fn waits_are_spread_not_fixed() {
        let base = Duration::from_millis(100);
        let mut j = Jitter::seeded(7);
        let waits: Vec<Duration> = (0..100).map(|_| j.backoff(base, 3)).collect();
        let max = waits.iter().max().unwrap();
        let min = waits.iter().min().unwrap();
        // Full jitter: both small and large waits occur in [0, 400ms].
        assert!(*min < Duration::from_millis(100), "{min:?}");
        assert!(*max > Duration::from_millis(300), "{max:?}");
    }

    #[test]
    fn zero_base_and_huge_retries_do_not_overflow() {
        let mut j = Jitter::seeded(0);
        assert_eq!(j.backoff(Duration::ZERO, 5), Duration::ZERO);
        let long = j.backoff(Duration::from_secs(u64::MAX / 2), u32::MAX);
        assert!(long <= Duration::MAX);
    }
}
