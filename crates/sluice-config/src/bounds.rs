//! The largest value each configured duration, size and count may take.
//!
//! The gateway adds durations to an `Instant`, turns sizes into `usize` buffer lengths and
//! socket options, and allocates by counts; a value past these bounds would panic or exhaust
//! memory long after start-up. So `resolve` refuses it at load time, with an error naming the
//! field and the bound. Each bound is far above any sane setting, so none limits a real
//! deployment.

use std::time::Duration;

/// Every configured duration: one year as the duration grammar reads `"1y"` (365.25 days).
/// `Instant + MAX_DURATION` cannot overflow on any platform Sluice runs on.
pub const MAX_DURATION: Duration = Duration::from_secs(31_557_600);
/// [`MAX_DURATION`] as written in a config file, for messages.
pub const MAX_DURATION_TEXT: &str = "1y";

/// Every configured byte size (`max_body`, `[server] max_response_body`,
/// `[stream] send_buffer`): 1 GiB, which fits a `usize` on 32-bit targets and `SO_SNDBUF`'s
/// `int`, and is more than any single request or answer should be buffered in memory.
pub const MAX_SIZE: u64 = 1 << 30;
/// [`MAX_SIZE`] as written in a config file, for messages.
pub const MAX_SIZE_TEXT: &str = "1GiB";

/// `[stream] buffer_events` (and its per-route override): events queued per stream.
pub const MAX_BUFFER_EVENTS: usize = 1_000_000;
/// `[retry] attempts`: retries after the first attempt.
pub const MAX_RETRY_ATTEMPTS: u32 = 100;
/// `[server] max_connections`: open client connections.
pub const MAX_CONNECTIONS: usize = 10_000_000;
/// `[limits] default_max_tokens`: output tokens reserved for a request that names none,
/// well above any model's output limit.
pub const MAX_DEFAULT_MAX_TOKENS: u32 = 10_000_000;
/// `[circuit_breaker] failures`: consecutive failures that open a circuit.
pub const MAX_BREAKER_FAILURES: u32 = 1_000_000;
