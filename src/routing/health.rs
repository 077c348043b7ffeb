//! Model health: a pure circuit breaker per model, fed outcomes and timestamps.
//!
//! Closed (healthy) → Open after `failure_threshold` failures within `window_ms`, or at once
//! when a server names a retry-after → HalfOpen when the cool-down ends, where one trial call
//! is let through: its success closes the circuit, its failure opens it again.
//! The analyzer's circuit breaker is the same machine under the key `analyzer`.

use std::collections::VecDeque;

// Model ids come from the catalog and config, not from strangers: no need for SipHash's
// flood resistance, and the plan looks every model up on every decision.
use rustc_hash::FxHashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthPolicy {
    pub failure_threshold: u32,
    pub window_ms: u64,
    pub cooldown_ms: u64,
    /// A retry-after longer than this is capped.
    pub max_retry_after_ms: u64,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            failure_threshold: 3,
            window_ms: 60_000,
            cooldown_ms: 30_000,
            max_retry_after_ms: 60_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// A failure that counts against the model (rate limits, overload, 5xx, timeouts, cuts).
    Failure {
        retry_after_ms: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    Closed,
    Open {
        remaining_ms: u64,
    },
    /// Cool-down over: one trial call may go through.
    HalfOpen,
}

impl HealthState {
    pub fn allows_call(self) -> bool {
        !matches!(self, HealthState::Open { .. })
    }
}

#[derive(Debug, Clone, Default)]
struct ModelHealth {
    failures: VecDeque<u64>,
    open_until: Option<u64>,
    trial_in_flight: bool,
}

#[derive(Debug, Clone, Default)]
pub struct HealthBook {
    policy: HealthPolicy,
    models: FxHashMap<String, ModelHealth>,
}

impl HealthBook {
    pub fn new(policy: HealthPolicy) -> Self {
        HealthBook {
            policy,
            models: FxHashMap::default(),
        }
    }

    pub fn policy(&self) -> HealthPolicy {
        self.policy
    }

    pub fn state(&self, model: &str, now_ms: u64) -> HealthState {
        let Some(h) = self.models.get(model) else {
            return HealthState::Closed;
        };
        match h.open_until {
            Some(until) if until > now_ms => HealthState::Open {
                remaining_ms: until - now_ms,
            },
            Some(_) if h.trial_in_flight => HealthState::Open { remaining_ms: 0 },
            Some(_) => HealthState::HalfOpen,
            None => HealthState::Closed,
        }
    }

    /// Marks the start of a call; in half-open it becomes the one trial call.
    pub fn begin_call(&mut self, model: &str, now_ms: u64) {
        if self.state(model, now_ms) == HealthState::HalfOpen {
            if let Some(h) = self.models.get_mut(model) {
                h.trial_in_flight = true;
            }
        }
    }

    pub fn record(&mut self, model: &str, outcome: Outcome, now_ms: u64) {
        let policy = self.policy;
        let was_half_open = self.state(model, now_ms) == HealthState::HalfOpen
            || self.models.get(model).is_some_and(|h| h.trial_in_flight);
        let h = self.models.entry(model.to_string()).or_default();
        h.trial_in_flight = false;
        match outcome {
            Outcome::Success => {
                h.failures.clear();
                h.open_until = None;
            }
            Outcome::Failure { retry_after_ms } => {
                while h
                    .failures
                    .front()
                    .is_some_and(|&t| now_ms.saturating_sub(t) > policy.window_ms)
                {
                    h.failures.pop_front();
                }
                h.failures.push_back(now_ms);
                let mut until = h.open_until.filter(|&u| u > now_ms);
                if was_half_open || h.failures.len() as u32 >= policy.failure_threshold {
                    until = until.max(Some(now_ms + policy.cooldown_ms));
                    h.failures.clear();
                }
                if let Some(ra) = retry_after_ms {
                    until = until.max(Some(now_ms + ra.min(policy.max_retry_after_ms)));
                }
                h.open_until = until;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> HealthBook {
        HealthBook::new(HealthPolicy {
            failure_threshold: 3,
            window_ms: 10_000,
            cooldown_ms: 5_000,
            max_retry_after_ms: 60_000,
        })
    }
    const FAIL: Outcome = Outcome::Failure {
        retry_after_ms: None,
    };

    #[test]
    fn opens_after_threshold_failures_in_window() {
        let mut b = book();
        b.record("m", FAIL, 1_000);
        b.record("m", FAIL, 2_000);
        assert_eq!(b.state("m", 2_000), HealthState::Closed);
        b.record("m", FAIL, 3_000);
        assert_eq!(
            b.state("m", 3_000),
            HealthState::Open {
                remaining_ms: 5_000
            }
        );
        assert_eq!(b.state("other", 3_000), HealthState::Closed);
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let mut b = book();
        b.record("m", FAIL, 0);
        b.record("m", FAIL, 1_000);
        b.record("m", FAIL, 20_000);
        assert_eq!(b.state("m", 20_000), HealthState::Closed);
    }

    #[test]
    fn retry_after_opens_at_once_and_is_capped() {
        let mut b = book();
        b.record(
            "m",
            Outcome::Failure {
                retry_after_ms: Some(12_000),
            },
            1_000,
        );
        assert_eq!(
            b.state("m", 1_000),
            HealthState::Open {
                remaining_ms: 12_000
            }
        );
        b.record(
            "n",
            Outcome::Failure {
                retry_after_ms: Some(600_000),
            },
            0,
        );
        assert_eq!(
            b.state("n", 0),
            HealthState::Open {
                remaining_ms: 60_000
            }
        );
    }

    #[test]
    fn half_open_allows_one_trial_then_closes_or_reopens() {
        let mut b = book();
        for t in [0, 1, 2] {
            b.record("m", FAIL, t);
        }
        assert_eq!(b.state("m", 5_002), HealthState::HalfOpen);
        b.begin_call("m", 5_002);
        assert!(
            !b.state("m", 5_003).allows_call(),
            "only one trial in half-open"
        );
        b.record("m", FAIL, 5_100);
        assert_eq!(
            b.state("m", 5_100),
            HealthState::Open {
                remaining_ms: 5_000
            }
        );

        assert_eq!(b.state("m", 10_200), HealthState::HalfOpen);
        b.begin_call("m", 10_200);
        b.record("m", Outcome::Success, 10_300);
        assert_eq!(b.state("m", 10_300), HealthState::Closed);
    }

    #[test]
    fn success_resets_failure_count() {
        let mut b = book();
        b.record("m", FAIL, 0);
        b.record("m", FAIL, 1);
        b.record("m", Outcome::Success, 2);
        b.record("m", FAIL, 3);
        assert_eq!(b.state("m", 3), HealthState::Closed);
    }
}
