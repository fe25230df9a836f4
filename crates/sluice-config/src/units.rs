//! Byte sizes (`max_body`, `send_buffer`). Durations are read with
//! `sluice_types::parse_duration`, the one duration grammar of the product, so a config file,
//! a command-line flag and a report query accept the same text.

/// A byte size: `"2048"`, `"10MiB"`, `"512KiB"`, `"1MB"`, `"1 GiB"` (decimal units are
/// powers of 1000, binary units powers of 1024; units are case-insensitive).
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let multiplier: u64 = match unit.trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000 * 1000,
        "gb" => 1000 * 1000 * 1000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2048"), Some(2048));
        assert_eq!(parse_size("10MiB"), Some(10 * 1024 * 1024));
        assert_eq!(parse_size("512KiB"), Some(512 * 1024));
        assert_eq!(parse_size("1MB"), Some(1_000_000));
        assert_eq!(parse_size("1 gib"), Some(1 << 30));
        assert_eq!(parse_size("10B"), Some(10));
        for bad in ["", "MiB", "10XB", "-1", "1.5MiB", "99999999999999999999GiB"] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }
}
