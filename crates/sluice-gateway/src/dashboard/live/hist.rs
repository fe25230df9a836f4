//! Latency histograms with fixed log-spaced buckets, four per doubling, from 1/16 ms to about
//! 17 minutes: a bucket is found from a float's exponent and top two mantissa bits (no
//! logarithm, no branch per bucket), histograms add by adding counts, and a percentile is read
//! by walking the summed counts, interpolating inside the bucket it falls in (at most a
//! quarter of a doubling wide, so within about 12% of the true value).

/// Buckets per histogram.
pub(crate) const BUCKETS: usize = 96;

/// Bit pattern of the smallest bucketed value, 2^-4 ms, shifted like [`index`] shifts.
const FIRST: u64 = (1023 - 4) << 2;

/// One histogram's counts.
pub(crate) type Counts = [u32; BUCKETS];

/// The bucket of a duration in milliseconds; below 1/16 ms (and NaN) is bucket 0, beyond the
/// last bucket's start is the last bucket.
pub(crate) fn index(ms: f64) -> usize {
    if ms.is_nan() || ms < 0.0625 {
        return 0;
    }
    // A positive double's bits above the mantissa's top two: exponent * 4 + quarter.
    let i = (ms.to_bits() >> 50).saturating_sub(FIRST);
    usize::try_from(i).map_or(BUCKETS - 1, |i| i.min(BUCKETS - 1))
}

/// Where bucket `i` starts (bucket 0 starts at 0), in milliseconds; `bound(BUCKETS)` is where
/// the last one ends.
pub(crate) fn bound(i: usize) -> f64 {
    if i == 0 {
        return 0.0;
    }
    let octave = (i / 4) as i32 - 4;
    2f64.powi(octave) * (1.0 + (i % 4) as f64 / 4.0)
}

/// Adds `from` into `into`.
pub(crate) fn add(into: &mut Counts, from: &Counts) {
    for (a, b) in into.iter_mut().zip(from) {
        *a = a.saturating_add(*b);
    }
}

/// The `q` quantile (0 < q ≤ 1) of the counts, in milliseconds; `None` without samples.
pub(crate) fn quantile(counts: &Counts, q: f64) -> Option<f64> {
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    if total == 0 {
        return None;
    }
    let rank = (q * total as f64).ceil().max(1.0);
    let mut below = 0u64;
    for (i, &c) in counts.iter().enumerate() {
        let c = u64::from(c);
        if c > 0 && (below + c) as f64 >= rank {
            let (lo, hi) = (bound(i), bound(i + 1));
            let within = (rank - below as f64) / c as f64;
            return Some(lo + (hi - lo) * within);
        }
        below += c;
    }
    Some(bound(BUCKETS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_falls_between_its_buckets_bounds() {
        let mut ms = 0.07;
        while ms < 1_000_000.0 {
            let i = index(ms);
            assert!(bound(i) <= ms && ms < bound(i + 1), "{ms} in bucket {i}");
            ms *= 1.07;
        }
        assert_eq!(index(0.0), 0);
        assert_eq!(index(-5.0), 0);
        assert_eq!(index(f64::NAN), 0);
        assert_eq!(index(1e12), BUCKETS - 1);
        assert_eq!(bound(4 * 4), 1.0);
        assert_eq!(index(1.0), 16);
        assert_eq!(index(1.3), 17);
    }

    #[test]
    fn quantiles_come_from_summed_buckets_within_a_bucket_width() {
        let mut a = [0u32; BUCKETS];
        let mut b = [0u32; BUCKETS];
        // 90 fast samples at 10 ms, 10 slow ones at 200 ms, split over two histograms.
        for i in 0..100 {
            let h = if i % 2 == 0 { &mut a } else { &mut b };
            h[index(if i < 90 { 10.0 } else { 200.0 })] += 1;
        }
        add(&mut a, &b);
        let p50 = quantile(&a, 0.5).unwrap();
        let p95 = quantile(&a, 0.95).unwrap();
        let p99 = quantile(&a, 0.99).unwrap();
        assert!((8.0..=12.5).contains(&p50), "{p50}");
        assert!((160.0..=256.0).contains(&p95), "{p95}");
        assert!(p50 <= p95 && p95 <= p99);
        assert_eq!(quantile(&[0; BUCKETS], 0.5), None);
    }
}
