//! Limits counted in this process: one replica's view, or every replica's when each keeps its
//! own (`on_store_error = "open"` while Redis is away). The same sums as the Redis script
//! (`rate`), under one short lock.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::plan::{Admit, LimitReason, Plan, Settlement};
use crate::rate;

/// Per-key counters.
#[derive(Debug, Default)]
pub struct MemoryStore {
    keys: Mutex<HashMap<String, KeyState>>,
}

#[derive(Debug)]
struct KeyState {
    rpm_tat: i64,
    tpm_tat: i64,
    /// Budget windows by their start (Unix ms): the current one, and any a settlement may
    /// still arrive for.
    windows: HashMap<i64, Window>,
    /// Open reservations by id: (nano-units, window start, expiry in µs).
    open: HashMap<u64, (i64, i64, i64)>,
    /// The earliest expiry among `open`, so sweeps happen only when one is due.
    next_expiry: i64,
}

impl Default for KeyState {
    fn default() -> Self {
        KeyState {
            rpm_tat: 0,
            tpm_tat: 0,
            windows: HashMap::new(),
            open: HashMap::new(),
            next_expiry: i64::MAX,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    spent: i64,
    reserved: i64,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, KeyState>> {
        // The state is a few integers per key; a panic elsewhere leaves nothing half-done
        // that matters more than serving.
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits a request of `key_id` at `now_us` (Unix µs) as `plan` says, or says why not.
    pub fn admit(&self, key_id: &str, plan: &Plan, now_us: i64) -> Admit {
        let mut keys = self.lock();
        let state = keys.entry(key_id.to_owned()).or_default();
        state.sweep(now_us);
        if let Some(b) = &plan.budget {
            if !state.windows.contains_key(&b.window_start_ms) {
                return Admit::NeedSeed;
            }
        }
        let rpm = match plan.rpm_cost_us {
            Some(cost) => match rate::admit(state.rpm_tat, now_us, cost) {
                Ok(tat) => Some(tat),
                Err(wait) => return Admit::limited(LimitReason::Rpm, wait),
            },
            None => None,
        };
        let tpm = match plan.tpm_cost_us {
            Some(cost) if cost > rate::MINUTE_US => return Admit::too_large(),
            Some(cost) => match rate::admit(state.tpm_tat, now_us, cost) {
                Ok(tat) => Some(tat),
                Err(wait) => return Admit::limited(LimitReason::Tpm, wait),
            },
            None => None,
        };
        if let Some(b) = &plan.budget {
            let w = state
                .windows
                .get(&b.window_start_ms)
                .copied()
                .unwrap_or_default();
            if !rate::within_budget(b.limit_nanos, w.spent, w.reserved, b.ask_nanos) {
                return Admit::limited(
                    LimitReason::Budget,
                    (b.window_end_ms * 1000).saturating_sub(now_us),
                );
            }
        }
        // Every limit holds: commit them together.
        if let Some(tat) = rpm {
            state.rpm_tat = tat;
        }
        if let Some(tat) = tpm {
            state.tpm_tat = tat;
        }
        if let Some(b) = &plan.budget {
            if let Some(w) = state.windows.get_mut(&b.window_start_ms) {
                w.reserved += b.ask_nanos;
            }
            let expires = now_us.saturating_add(plan.hold_us);
            state
                .open
                .insert(plan.id, (b.ask_nanos, b.window_start_ms, expires));
            state.next_expiry = state.next_expiry.min(expires);
        }
        Admit::Admitted
    }

    /// Records what a window had spent before this process counted it (from the ledger),
    /// unless it is known already.
    pub fn seed(&self, key_id: &str, window_start_ms: i64, spent_nanos: i64) {
        let mut keys = self.lock();
        let state = keys.entry(key_id.to_owned()).or_default();
        state.windows.entry(window_start_ms).or_insert(Window {
            spent: spent_nanos,
            reserved: 0,
        });
        // Windows that ended long ago are of no more use.
        let oldest = window_start_ms - 40 * 86_400_000;
        state.windows.retain(|start, _| *start >= oldest);
    }

    /// Ends a reservation: what was used is charged (tokens to the per-minute limit, cost to
    /// the budget window the request started in) and the rest released.
    pub fn settle(&self, s: &Settlement) {
        let mut keys = self.lock();
        let Some(state) = keys.get_mut(&s.key_id) else {
            return;
        };
        if let Some(adjust) = s.tpm_adjust_us {
            state.tpm_tat = state.tpm_tat.saturating_add(adjust);
        }
        if let Some(window_start) = s.window_start_ms {
            // A reservation that already expired was released by the sweep.
            let held = state.open.remove(&s.id).map_or(0, |(nanos, _, _)| nanos);
            if let Some(w) = state.windows.get_mut(&window_start) {
                w.reserved -= held;
                w.spent = w.spent.saturating_add(s.used_nanos);
            }
        }
    }

    /// What a key's budget window holds now: (spent, reserved) in nano-units.
    pub fn window(&self, key_id: &str, window_start_ms: i64) -> Option<(i64, i64)> {
        let keys = self.lock();
        let w = keys.get(key_id)?.windows.get(&window_start_ms)?;
        Some((w.spent, w.reserved))
    }
}

impl KeyState {
    /// Releases reservations whose request outlived its time limit without settling (its
    /// replica died, or its settlement was lost): a reservation is always settled or expired.
    fn sweep(&mut self, now_us: i64) {
        if self.open.is_empty() || now_us < self.next_expiry {
            return;
        }
        let windows = &mut self.windows;
        self.open.retain(|_, (nanos, start, expires)| {
            if *expires > now_us {
                return true;
            }
            if let Some(w) = windows.get_mut(start) {
                w.reserved -= *nanos;
            }
            false
        });
        self.next_expiry = self
            .open
            .values()
            .map(|(_, _, e)| *e)
            .min()
            .unwrap_or(i64::MAX);
    }
}
