//! The stream's time limits as pure arithmetic: which deadline applies now, what error it
//! means, and when the relay's one timer must next wake.

use std::time::Duration;

use tokio::time::Instant;

use crate::error::StreamError;

/// A stream's limits, all measured from fixed instants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadlines {
    /// When the gateway received the request.
    pub started: Instant,
    /// Limit on the wait for the provider's first event, from `started`.
    pub first_token: Duration,
    /// Limit on the gap between any two provider bytes after the first event.
    pub idle: Duration,
    /// Limit on the whole request, from `started`.
    pub total: Duration,
    /// A comment is sent after this long with nothing else sent.
    pub keepalive: Duration,
}

impl Deadlines {
    /// When the whole request must be over.
    pub fn total_at(&self) -> Instant {
        self.started + self.total
    }

    /// The current limit on waiting for the provider, and the error if it passes: the first
    /// token until the first event (`last_byte` is `None`), then the idle gap after the last
    /// byte; never later than the total limit.
    pub fn read(&self, last_byte: Option<Instant>) -> (Instant, StreamError) {
        let (at, err) = match last_byte {
            None => (
                self.started + self.first_token,
                StreamError::FirstTokenTimeout(self.first_token),
            ),
            Some(t) => (t + self.idle, StreamError::IdleTimeout(self.idle)),
        };
        if self.total_at() <= at {
            (self.total_at(), StreamError::TotalTimeout(self.total))
        } else {
            (at, err)
        }
    }

    /// The earliest instant something time-driven may be due: a read limit, or a keep-alive
    /// after `last_sent`.
    pub fn next_wake(&self, last_byte: Option<Instant>, last_sent: Instant) -> Instant {
        self.read(last_byte).0.min(last_sent + self.keepalive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deadlines(started: Instant) -> Deadlines {
        Deadlines {
            started,
            first_token: Duration::from_secs(10),
            idle: Duration::from_secs(3),
            total: Duration::from_secs(20),
            keepalive: Duration::from_secs(5),
        }
    }

    #[test]
    fn first_token_then_idle_then_total() {
        let t0 = Instant::now();
        let d = deadlines(t0);
        let s = Duration::from_secs;
        assert_eq!(d.read(None).0, t0 + s(10));
        assert!(matches!(d.read(None).1, StreamError::FirstTokenTimeout(_)));
        assert_eq!(d.read(Some(t0 + s(4))).0, t0 + s(7));
        assert!(matches!(
            d.read(Some(t0 + s(4))).1,
            StreamError::IdleTimeout(_)
        ));
        // An idle gap reaching past the total limit ends at the total limit.
        let (at, err) = d.read(Some(t0 + s(19)));
        assert_eq!(at, t0 + s(20));
        assert!(matches!(err, StreamError::TotalTimeout(_)));
    }

    #[test]
    fn wakes_for_the_earlier_of_a_limit_and_a_keepalive() {
        let t0 = Instant::now();
        let d = deadlines(t0);
        let s = Duration::from_secs;
        assert_eq!(d.next_wake(None, t0), t0 + s(5));
        assert_eq!(d.next_wake(Some(t0 + s(8)), t0 + s(8)), t0 + s(11));
    }
}
