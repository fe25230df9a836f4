//! Byte sizes (`max_body`, `max_response_body`, `send_buffer`) and the reading of durations.
//! Durations are read with `sluice_types::parse_duration`, the one duration grammar of the
//! product, so a config file, a command-line flag and a report query accept the same text;
//! this module only tells a duration too long to represent from one that is malformed.

use std::time::Duration;

use sluice_types::parse_duration;

/// Why a size or duration text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// Not a size or duration at all.
    Invalid,
    /// Well formed, but too large to represent (more than `u64::MAX` bytes or seconds).
    Overflow,
}

/// A byte size: `"2048"`, `"10MiB"`, `"512KiB"`, `"1MB"`, `"1 GiB"` (decimal units are
/// powers of 1000, binary units powers of 1024; units are case-insensitive).
pub(crate) fn parse_size(text: &str) -> Result<u64, Unreadable> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(Unreadable::Invalid);
    }
    let multiplier: u64 = match unit.trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000 * 1000,
        "gb" => 1000 * 1000 * 1000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return Err(Unreadable::Invalid),
    };
    // Only digits are left, so a failed parse is a number too long for a u64.
    let n: u64 = digits.parse().map_err(|_| Unreadable::Overflow)?;
    n.checked_mul(multiplier).ok_or(Unreadable::Overflow)
}

/// A duration in the product's grammar.
pub(crate) fn read_duration(text: &str) -> Result<Duration, Unreadable> {
    if let Some(d) = parse_duration(text) {
        return Ok(d);
    }
    // The grammar is humantime's: ask it why, so "1000000000000y" is called too long rather
    // than malformed.
    match humantime::parse_duration(text.trim()) {
        Err(humantime::DurationError::NumberOverflow) => Err(Unreadable::Overflow),
        _ => Err(Unreadable::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2048"), Ok(2048));
        assert_eq!(parse_size("10MiB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_size("512KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("1 gib"), Ok(1 << 30));
        assert_eq!(parse_size("10B"), Ok(10));
        for bad in ["", "MiB", "10XB", "-1", "1.5MiB", "99999999999999999999XB"] {
            assert_eq!(parse_size(bad), Err(Unreadable::Invalid), "{bad:?}");
        }
        for huge in [
            "99999999999999999999GiB",
            "99999999999GiB",
            "18446744073709551616",
        ] {
            assert_eq!(parse_size(huge), Err(Unreadable::Overflow), "{huge:?}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(read_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(read_duration("1y"), Ok(Duration::from_secs(31_557_600)));
        for bad in ["", "10", "10x", "-5s"] {
            assert_eq!(read_duration(bad), Err(Unreadable::Invalid), "{bad:?}");
        }
        assert_eq!(
            read_duration("99999999999999999999y"),
            Err(Unreadable::Overflow)
        );
        assert_eq!(read_duration("600000000000y"), Err(Unreadable::Overflow));
    }
}
