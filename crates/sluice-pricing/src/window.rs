//! The window of a usage report and its bounds (`sluice usage --since/--until`,
//! `GET /v1/usage?since=&until=`, `sluice cost --from-ledger --since`): a duration before now
//! or a point in unix milliseconds, in the product's one duration grammar.

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;
/// The month of a monthly projection: 30 days, in milliseconds.
pub const MONTH_MS: i64 = 30 * DAY_MS;
/// The window of a report when none is given: the last 30 days.
pub const DEFAULT_SINCE: &str = "30d";

/// A duration in milliseconds, in the product's one duration grammar
/// ([`sluice_types::parse_duration`], humantime's): `30d`, `24h`, `90m`, `1h30m`, `1h 30m`,
/// `45s`, `250ms`, `2w`, `1.5h`. Every number needs a unit; units are case-sensitive (`m` is
/// minutes, `M` months). `None` for anything else, and for a duration beyond `i64`
/// milliseconds; parts below a millisecond are dropped.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let duration = sluice_types::parse_duration(text)?;
    i64::try_from(duration.as_millis()).ok()
}

/// A bound of a report window: a duration meaning "that long before `now_ms`" (`24h`, `30d`)
/// or a point in time in unix milliseconds (`1767225600000`). The error says what is
/// expected, for the caller to prefix with the parameter's name.
pub fn parse_time_bound(text: &str, now_ms: i64) -> Result<i64, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<i64>()
            .map_err(|_| format!("{text:?} is out of range as unix milliseconds"));
    }
    parse_duration_ms(t)
        .map(|d| now_ms.saturating_sub(d))
        .ok_or_else(|| {
            format!("{text:?} is neither a duration (e.g. 24h, 30d, 90m) nor unix milliseconds")
        })
}

/// Which requests a report covers: `since_ms` inclusive, `until_ms` exclusive; `until` is
/// `None` when not asked for (up to now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since_ms: i64,
    pub until_ms: Option<i64>,
}

/// Which parameter of a window is at fault, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowError {
    /// `since` or `until`.
    pub param: &'static str,
    pub reason: String,
}

impl std::fmt::Display for WindowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.param, self.reason)
    }
}

impl std::error::Error for WindowError {}

impl Window {
    /// The window from `since` (default [`DEFAULT_SINCE`]) and `until` (default: now), as
    /// [`parse_time_bound`] reads them. An empty window (since at or after until) is an error.
    pub fn parse(
        since: Option<&str>,
        until: Option<&str>,
        now_ms: i64,
    ) -> Result<Window, WindowError> {
        let since_ms =
            parse_time_bound(since.unwrap_or(DEFAULT_SINCE), now_ms).map_err(|reason| {
                WindowError {
                    param: "since",
                    reason,
                }
            })?;
        let until_ms = until
            .map(|u| parse_time_bound(u, now_ms))
            .transpose()
            .map_err(|reason| WindowError {
                param: "until",
                reason,
            })?;
        let end = until_ms.unwrap_or(now_ms);
        if since_ms >= end {
            return Err(WindowError {
                param: if until_ms.is_some() { "until" } else { "since" },
                reason: format!(
                    "the window is empty: it starts at {since_ms} and ends at {end} (unix ms)"
                ),
            });
        }
        Ok(Window { since_ms, until_ms })
    }

    /// The end of the window: `until_ms`, or `now_ms` when it has none.
    pub fn end_ms(&self, now_ms: i64) -> i64 {
        self.until_ms.unwrap_or(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("30d"), Some(30 * DAY_MS));
        assert_eq!(parse_duration_ms("24h"), Some(DAY_MS));
        assert_eq!(parse_duration_ms("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration_ms("1h 30m"), Some(5_400_000));
        assert_eq!(parse_duration_ms("250ms"), Some(250));
        assert_eq!(parse_duration_ms("2w"), Some(14 * DAY_MS));
        assert_eq!(parse_duration_ms(" 7 days "), Some(7 * DAY_MS));
        assert_eq!(parse_duration_ms("0s"), Some(0));
        // humantime's grammar, as in sluice.toml: a fraction is exact where it is whole
        // milliseconds, `M` is a month (30.44 days) and a sub-millisecond part is dropped.
        assert_eq!(parse_duration_ms("1.5h"), Some(5_400_000));
        assert_eq!(parse_duration_ms("1M"), Some(2_630_016_000));
        assert_eq!(parse_duration_ms("1500us"), Some(1));
        for bad in [
            "",
            "30",
            "d",
            "10x",
            "-1d",
            "99999999999999999999d",
            "1d x",
            "1.5",
            "30D",
            "1h 30",
        ] {
            assert_eq!(parse_duration_ms(bad), None, "{bad:?}");
        }
        // Representable as a Duration but not as i64 milliseconds: None, not a panic.
        assert_eq!(
            parse_duration_ms("9223372036854775s"),
            Some(9_223_372_036_854_775_000)
        );
        assert_eq!(parse_duration_ms("9223372036854776s"), None);
        assert_eq!(parse_duration_ms("10000000000000000s"), None);
    }

    #[test]
    fn time_bounds_are_durations_ago_or_unix_ms() {
        let now = 1_800_000_000_000;
        assert_eq!(parse_time_bound("24h", now), Ok(now - DAY_MS));
        assert_eq!(
            parse_time_bound("1700000000000", now),
            Ok(1_700_000_000_000)
        );
        assert!(parse_time_bound("yesterday", now)
            .unwrap_err()
            .contains("neither a duration"));
        assert!(parse_time_bound("99999999999999999999", now).is_err());
    }

    #[test]
    fn windows() {
        let now = 1_800_000_000_000;
        let w = Window::parse(None, None, now).unwrap();
        assert_eq!(w.since_ms, now - MONTH_MS);
        assert_eq!(w.until_ms, None);
        assert_eq!(w.end_ms(now), now);
        let w = Window::parse(Some("7d"), Some("1d"), now).unwrap();
        assert_eq!(
            (w.since_ms, w.until_ms),
            (now - 7 * DAY_MS, Some(now - DAY_MS))
        );
        assert_eq!(
            Window::parse(Some("x"), None, now).unwrap_err().param,
            "since"
        );
        assert_eq!(
            Window::parse(None, Some("x"), now).unwrap_err().param,
            "until"
        );
        let e = Window::parse(Some("1d"), Some("2d"), now).unwrap_err();
        assert_eq!(e.param, "until");
        assert!(e.reason.contains("empty"), "{}", e.reason);
        assert_eq!(
            Window::parse(Some("0s"), None, now).unwrap_err().param,
            "since"
        );
    }
}
