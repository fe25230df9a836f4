//! [`MockSettings`], the defaults of every answer, and the caps on what one answer may ask
//! for: the mock runs inside the gateway too, so no request header or setting may make it
//! build gigabytes or stay silent for more than a minute.

use std::fmt;
use std::time::Duration;

/// The most completion tokens one answer may have (`x-mock-tokens`, [`MockSettings::tokens`]):
/// a few MiB of text, room for the long-stream benchmarks (`scripts/bench-stalled.sh`).
pub const MAX_TOKENS: usize = 1_000_000;

/// The longest delay before the first token or between tokens (`x-mock-ttft-ms`,
/// `x-mock-itl-ms`, [`MockSettings::ttft`], [`MockSettings::itl`]).
pub const MAX_DELAY: Duration = Duration::from_millis(MAX_DELAY_MS);

/// [`MAX_DELAY`] in the milliseconds of the `x-mock-*-ms` headers.
pub const MAX_DELAY_MS: u64 = 60_000;

/// Defaults for requests that do not override them by header. A setting past its cap is
/// refused by [`serve`](fn@crate::serve) (see [`MockSettings::check`]) and read as the cap by
/// [`respond`](fn@crate::respond), which the gateway calls in-process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MockSettings {
    /// Completion tokens per answer (`x-mock-tokens` overrides); at most [`MAX_TOKENS`].
    pub tokens: usize,
    /// Delay before the first body byte (`x-mock-ttft-ms` overrides); at most [`MAX_DELAY`].
    pub ttft: Duration,
    /// Delay between content tokens (`x-mock-itl-ms` overrides); at most [`MAX_DELAY`]. An
    /// API that sends several tokens an event (Gemini) spaces its events by this much per
    /// token, so every API streams at the same rate.
    pub itl: Duration,
    /// Percentage of otherwise healthy requests that fail at random, half with a 500 before the
    /// stream, half dropping the connection mid-stream (for soak and fault-injection runs);
    /// at most 100.
    pub fail_percent: u8,
}

impl Default for MockSettings {
    fn default() -> Self {
        Self {
            tokens: 16,
            ttft: Duration::from_millis(150),
            itl: Duration::from_millis(15),
            fail_percent: 0,
        }
    }
}

impl MockSettings {
    /// `Ok` when every setting is within its cap, else the first one that is not.
    pub fn check(&self) -> Result<(), SettingsError> {
        let over = |setting, max: String, got: String| Err(SettingsError { setting, max, got });
        if self.tokens > MAX_TOKENS {
            return over("tokens", MAX_TOKENS.to_string(), self.tokens.to_string());
        }
        for (setting, delay) in [("ttft", self.ttft), ("itl", self.itl)] {
            if delay > MAX_DELAY {
                return over(setting, format!("{MAX_DELAY:?}"), format!("{delay:?}"));
            }
        }
        if self.fail_percent > 100 {
            return over("fail_percent", "100".into(), self.fail_percent.to_string());
        }
        Ok(())
    }

    /// These settings with each one held to its cap.
    pub fn capped(&self) -> MockSettings {
        MockSettings {
            tokens: self.tokens.min(MAX_TOKENS),
            ttft: self.ttft.min(MAX_DELAY),
            itl: self.itl.min(MAX_DELAY),
            fail_percent: self.fail_percent.min(100),
        }
    }
}

/// A [`MockSettings`] value past its cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// The field of [`MockSettings`]: `tokens`, `ttft`, `itl` or `fail_percent`.
    pub setting: &'static str,
    /// The cap, as shown in the message.
    pub max: String,
    /// The value given, as shown in the message.
    pub got: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mock {} must be at most {} (got {})",
            self.setting, self.max, self.got
        )
    }
}

impl std::error::Error for SettingsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_and_capped() {
        let fine = MockSettings {
            tokens: MAX_TOKENS,
            ttft: MAX_DELAY,
            itl: MAX_DELAY,
            fail_percent: 100,
        };
        assert_eq!(fine.check(), Ok(()));
        assert_eq!(fine.capped(), fine);
        assert_eq!(MockSettings::default().check(), Ok(()));

        let huge = MockSettings {
            tokens: usize::MAX,
            ttft: Duration::MAX,
            itl: Duration::MAX,
            fail_percent: u8::MAX,
        };
        assert_eq!(huge.capped(), fine);
        let err = huge.check().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("mock tokens must be at most 1000000 (got {})", usize::MAX)
        );
        for (settings, message) in [
            (
                MockSettings {
                    ttft: MAX_DELAY + Duration::from_millis(1),
                    ..fine
                },
                "mock ttft must be at most 60s (got 60.001s)",
            ),
            (
                MockSettings {
                    itl: Duration::from_secs(3600),
                    ..fine
                },
                "mock itl must be at most 60s (got 3600s)",
            ),
            (
                MockSettings {
                    fail_percent: 101,
                    ..fine
                },
                "mock fail_percent must be at most 100 (got 101)",
            ),
        ] {
            assert_eq!(settings.check().unwrap_err().to_string(), message);
        }
    }
}
