//! A circuit breaker per provider: closed while it answers, open after N consecutive failures
//! (requests fail fast and the chain moves on), half-open after a cool-down to let one probe
//! through.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// The state of a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Requests flow.
    Closed,
    /// Requests fail fast until the cool-down ends.
    Open,
    /// One probe request is allowed; its outcome closes or re-opens the breaker.
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    probe_in_flight: bool,
}

/// The breaker of one provider.
#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    cooldown: Duration,
    inner: Mutex<Inner>,
}

/// Why a request was refused: the breaker is open for `retry_in` more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// Consecutive failures seen.
    pub failures: u32,
    /// Time until a probe is allowed.
    pub retry_in: Duration,
}

impl CircuitBreaker {
    /// A breaker opening after `threshold` consecutive failures for `cooldown`.
    pub fn new(threshold: u32, cooldown: Duration) -> Arc<Self> {
        Arc::new(Self {
            threshold: threshold.max(1),
            cooldown,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                consecutive_failures: 0,
                opened_at: None,
                probe_in_flight: false,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The state stays consistent between statements; a panic elsewhere cannot break it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The current state and consecutive failure count.
    pub fn snapshot(&self) -> (BreakerState, u32) {
        let inner = self.lock();
        let state = match inner.state {
            BreakerState::Open
                if inner
                    .opened_at
                    .is_some_and(|at| at.elapsed() >= self.cooldown) =>
            {
                BreakerState::HalfOpen
            }
            state => state,
        };
        (state, inner.consecutive_failures)
    }

    /// Asks to send one attempt. The permit must be settled with its outcome; dropped unsettled
    /// (the request was cancelled), it only frees the probe slot.
    pub fn admit(self: &Arc<Self>) -> Result<BreakerPermit, Refused> {
        let mut inner = self.lock();
        let probe = match inner.state {
            BreakerState::Closed => false,
            BreakerState::Open | BreakerState::HalfOpen => {
                let since = inner
                    .opened_at
                    .map(|at| at.elapsed())
                    .unwrap_or(self.cooldown);
                if since < self.cooldown || inner.probe_in_flight {
                    return Err(Refused {
                        failures: inner.consecutive_failures,
                        retry_in: self.cooldown.saturating_sub(since),
                    });
                }
                inner.state = BreakerState::HalfOpen;
                inner.probe_in_flight = true;
                true
            }
        };
        Ok(BreakerPermit {
            breaker: Arc::clone(self),
            probe,
            settled: false,
        })
    }

    fn settle(&self, probe: bool, outcome: Option<bool>) {
        let mut inner = self.lock();
        if probe {
            inner.probe_in_flight = false;
        }
        match outcome {
            Some(true) => {
                inner.state = BreakerState::Closed;
                inner.consecutive_failures = 0;
                inner.opened_at = None;
            }
            Some(false) => {
                inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
                if probe || inner.consecutive_failures >= self.threshold {
                    if inner.state != BreakerState::Open || probe {
                        tracing::warn!(
                            failures = inner.consecutive_failures,
                            "circuit breaker opened"
                        );
                    }
                    inner.state = BreakerState::Open;
                    inner.opened_at = Some(Instant::now());
                }
            }
            None => {}
        }
    }
}

/// Leave to send one attempt, to be settled with its outcome.
#[derive(Debug)]
pub struct BreakerPermit {
    breaker: Arc<CircuitBreaker>,
    probe: bool,
    settled: bool,
}

impl BreakerPermit {
    /// The attempt succeeded: the breaker closes.
    pub fn success(mut self) {
        self.settled = true;
        self.breaker.settle(self.probe, Some(true));
    }

    /// The attempt failed because of the provider.
    pub fn failure(mut self) {
        self.settled = true;
        self.breaker.settle(self.probe, Some(false));
    }

    /// The attempt ended in a way that says nothing about the provider's health.
    pub fn release(self) {}
}

impl Drop for BreakerPermit {
    fn drop(&mut self) {
        if !self.settled {
            self.breaker.settle(self.probe, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_failures_and_refuses() {
        let breaker = CircuitBreaker::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            breaker.admit().unwrap().failure();
        }
        assert_eq!(breaker.snapshot(), (BreakerState::Open, 3));
        let refused = breaker.admit().unwrap_err();
        assert_eq!(refused.failures, 3);
        assert!(refused.retry_in > Duration::from_secs(59));
    }

    #[test]
    fn success_resets_the_count() {
        let breaker = CircuitBreaker::new(3, Duration::from_secs(60));
        breaker.admit().unwrap().failure();
        breaker.admit().unwrap().failure();
        breaker.admit().unwrap().success();
        breaker.admit().unwrap().failure();
        assert_eq!(breaker.snapshot(), (BreakerState::Closed, 1));
    }

    #[test]
    fn half_open_lets_one_probe_through_and_its_outcome_decides() {
        let breaker = CircuitBreaker::new(1, Duration::ZERO);
        breaker.admit().unwrap().failure();
        assert_eq!(breaker.snapshot().0, BreakerState::HalfOpen);
        let probe = breaker.admit().unwrap();
        assert!(
            breaker.admit().is_err(),
            "a second request waits for the probe"
        );
        probe.failure();
        let probe = breaker.admit().unwrap();
        probe.success();
        assert_eq!(breaker.snapshot(), (BreakerState::Closed, 0));
    }

    #[test]
    fn a_cancelled_probe_frees_the_slot() {
        let breaker = CircuitBreaker::new(1, Duration::ZERO);
        breaker.admit().unwrap().failure();
        drop(breaker.admit().unwrap());
        assert!(breaker.admit().is_ok());
    }
}
