//! A circuit breaker per provider: a provider that keeps failing is skipped for a while, so
//! requests go straight to the route's next target instead of waiting on it.
//!
//! States: **closed** (used normally) → after `failures` consecutive failures → **open** for
//! `cooldown` (skipped by routing) → when the cool-down has passed, **half-open**:
//! one request (the probe) is let through; its success closes the circuit, its failure opens it
//! again for another cool-down. A probe that ends neither way (the client left, or the provider
//! refused the request itself, e.g. HTTP 400) frees the slot for the next request.
//!
//! What counts as a failure: a retryable upstream error before anything reached the client
//! (connect error, HTTP 429/500/502/503/504/529 or an error event saying one, first-token
//! timeout; see `StreamError::retryable`). A stream that got as far as its first event is a
//! success, even if it breaks later. Any success resets the count.
//!
//! The threshold and the cool-down are `[circuit_breaker] failures` and `cooldown` in the
//! config (5 and 30 s by default).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A provider's circuit state, as `/readyz` and the metrics show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// Consecutive failures while closed.
    failures: u32,
    /// Set while open (and half-open: the cool-down has passed but no probe succeeded yet).
    open_until: Option<Instant>,
    /// A half-open probe is in flight.
    probing: bool,
}

/// Every provider's breaker.
#[derive(Debug)]
pub struct Breakers {
    threshold: u32,
    cooldown: Duration,
    states: BTreeMap<String, Mutex<State>>,
}

/// Whether a provider may be tried now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Yes: closed, or this request is the half-open probe.
    Admitted,
    /// No: open (or another probe is in flight) until about this instant.
    Denied(Instant),
}

impl Breakers {
    /// Breakers for these providers, opening after `failures` consecutive failures for
    /// `cooldown`.
    pub fn new<'a>(
        providers: impl IntoIterator<Item = &'a String>,
        threshold: u32,
        cooldown: Duration,
    ) -> Self {
        Breakers {
            threshold: threshold.max(1),
            cooldown,
            states: providers
                .into_iter()
                .map(|p| (p.clone(), Mutex::new(State::default())))
                .collect(),
        }
    }

    fn with<R>(&self, provider: &str, f: impl FnOnce(&mut State) -> R) -> Option<R> {
        let state = self.states.get(provider)?;
        let mut guard = state.lock().unwrap_or_else(|e| e.into_inner());
        Some(f(&mut guard))
    }

    /// Asks to try `provider` now; an admitted half-open probe must be followed by
    /// [`success`](Self::success), [`failure`](Self::failure) or [`release`](Self::release)
    /// (a [`Permit`] does the last when dropped).
    pub fn admit(&self, provider: &str, now: Instant) -> Admission {
        self.with(provider, |s| match s.open_until {
            None => Admission::Admitted,
            Some(t) if now < t || s.probing => Admission::Denied(t),
            Some(_) => {
                s.probing = true;
                Admission::Admitted
            }
        })
        .unwrap_or(Admission::Admitted)
    }

    /// Lets a probe through whatever the state (every target of a route is open).
    pub fn force_probe(&self, provider: &str) {
        self.with(provider, |s| {
            if s.open_until.is_some() {
                s.probing = true;
            }
        });
    }

    pub fn success(&self, provider: &str) {
        self.with(provider, |s| *s = State::default());
    }

    /// Counts a failure; returns whether the circuit is now open.
    pub fn failure(&self, provider: &str, now: Instant) -> bool {
        let (threshold, cooldown) = (self.threshold, self.cooldown);
        self.with(provider, |s| {
            s.failures = s.failures.saturating_add(1);
            if s.probing || s.open_until.is_some() || s.failures >= threshold {
                s.open_until = Some(now + cooldown);
                s.probing = false;
                true
            } else {
                false
            }
        })
        .unwrap_or(false)
    }

    /// A probe ended without telling anything about the provider: the next request may probe.
    pub fn release(&self, provider: &str) {
        self.with(provider, |s| s.probing = false);
    }

    pub fn state(&self, provider: &str, now: Instant) -> CircuitState {
        self.with(provider, |s| match s.open_until {
            None => CircuitState::Closed,
            Some(t) if now < t => CircuitState::Open,
            Some(_) => CircuitState::HalfOpen,
        })
        .unwrap_or(CircuitState::Closed)
    }

    /// Every provider's state, by name.
    pub fn states(&self, now: Instant) -> impl Iterator<Item = (&str, CircuitState)> + '_ {
        self.states
            .keys()
            .map(move |p| (p.as_str(), self.state(p, now)))
    }
}

/// One provider's admission for a request: releases a half-open probe slot if the request
/// ends (or is dropped) without reporting success or failure.
pub struct Permit<'a> {
    breakers: &'a Breakers,
    provider: String,
    settled: bool,
}

impl<'a> Permit<'a> {
    pub fn new(breakers: &'a Breakers, provider: &str) -> Self {
        Permit {
            breakers,
            provider: provider.to_owned(),
            settled: false,
        }
    }

    pub fn success(&mut self) {
        self.breakers.success(&self.provider);
        self.settled = true;
    }

    /// Returns whether the circuit is now open.
    pub fn failure(&mut self) -> bool {
        self.settled = true;
        self.breakers.failure(&self.provider, Instant::now())
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.breakers.release(&self.provider);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breakers() -> Breakers {
        let names = ["a".to_owned()];
        Breakers::new(names.iter(), 3, Duration::from_millis(100))
    }

    #[test]
    fn opens_after_threshold_and_probes_after_cooldown() {
        let b = breakers();
        let t0 = Instant::now();
        assert!(!b.failure("a", t0));
        assert!(!b.failure("a", t0));
        assert_eq!(b.state("a", t0), CircuitState::Closed);
        assert!(b.failure("a", t0));
        assert_eq!(b.state("a", t0), CircuitState::Open);
        assert!(matches!(b.admit("a", t0), Admission::Denied(_)));
        let later = t0 + Duration::from_millis(150);
        assert_eq!(b.state("a", later), CircuitState::HalfOpen);
        assert_eq!(b.admit("a", later), Admission::Admitted);
        // Only one probe at a time.
        assert!(matches!(b.admit("a", later), Admission::Denied(_)));
        // A failed probe re-opens at once.
        assert!(b.failure("a", later));
        assert_eq!(b.state("a", later), CircuitState::Open);
        let later2 = later + Duration::from_millis(150);
        assert_eq!(b.admit("a", later2), Admission::Admitted);
        b.success("a");
        assert_eq!(b.state("a", later2), CircuitState::Closed);
        assert_eq!(b.admit("a", later2), Admission::Admitted);
    }

    #[test]
    fn a_success_resets_the_count_and_a_dropped_permit_frees_the_probe() {
        let b = breakers();
        let t0 = Instant::now();
        b.failure("a", t0);
        b.failure("a", t0);
        b.success("a");
        assert!(!b.failure("a", t0));
        b.failure("a", t0);
        b.failure("a", t0);
        let later = t0 + Duration::from_millis(150);
        assert_eq!(b.admit("a", later), Admission::Admitted);
        drop(Permit::new(&b, "a"));
        assert_eq!(b.admit("a", later), Admission::Admitted);
        // Unknown providers are always admitted.
        assert_eq!(b.admit("zz", later), Admission::Admitted);
    }
}
