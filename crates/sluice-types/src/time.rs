//! Time as the ledger and the reports count it, and the one duration grammar of the product.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds (0 before 1970, saturating far in the future).
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A duration as config files, command-line flags and report queries write it: humantime's
/// grammar (`"250ms"`, `"10s"`, `"5m"`, `"24h"`, `"30d"`, `"2w"`, `"1h 30m"`, `"1h30m"`; `m` is
/// minutes, `M` months). Every number needs a unit. Surrounding spaces are ignored.
pub fn parse_duration(text: &str) -> Option<Duration> {
    humantime::parse_duration(text.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let secs = Duration::from_secs;
        for (text, want) in [
            ("250ms", Duration::from_millis(250)),
            ("5m", secs(300)),
            (" 24h ", secs(86_400)),
            ("30d", secs(30 * 86_400)),
            ("2w", secs(14 * 86_400)),
            ("1h30m", secs(5_400)),
            ("1h 30m", secs(5_400)),
            ("45s", secs(45)),
        ] {
            assert_eq!(parse_duration(text), Some(want), "{text:?}");
        }
        for bad in ["", "10", "10x", "-5s", "d"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn now_is_after_2026() {
        assert!(unix_ms() > 1_767_225_600_000);
    }
}
