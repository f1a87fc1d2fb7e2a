//! When to try a failed request again: exponential backoff with full jitter, or the wait the
//! provider asked for, and never past the request's deadline.

use std::time::Duration;

use rand::Rng;

use super::error::LlmError;

/// The retry settings of one provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The first backoff ceiling; it doubles after each failure.
    pub base: Duration,
    /// The largest backoff ceiling.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// The wait before the next attempt after `failures` failed ones ending with `error`, or
    /// `None` when the request must not be retried: the error is not retryable, the attempts
    /// are used up, or the wait would end after `time_left`.
    pub fn next_delay(
        &self,
        failures: u32,
        error: &LlmError,
        time_left: Duration,
    ) -> Option<Duration> {
        if !error.is_retryable() || failures >= self.max_attempts {
            return None;
        }
        let delay = match error.retry_after() {
            // The provider knows when it will take requests again; earlier is wasted.
            Some(asked) => asked,
            None => {
                let exponent = failures.saturating_sub(1).min(20);
                let ceiling = self
                    .base
                    .saturating_mul(1 << exponent)
                    .min(self.max_backoff);
                // Full jitter: spreads the retries of many clients over the whole window.
                let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
                Duration::from_nanos(rand::rng().random_range(0..=nanos))
            }
        };
        (delay < time_left).then_some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error() -> LlmError {
        LlmError::Server {
            provider: "p".into(),
            status: 500,
            message: "boom".into(),
        }
    }

    #[test]
    fn backoff_stays_under_a_doubling_ceiling() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
        };
        for failures in 1..8 {
            let ceiling = Duration::from_millis((100u64 << (failures - 1)).min(500));
            for _ in 0..50 {
                let delay = policy
                    .next_delay(failures, &server_error(), Duration::from_secs(60))
                    .unwrap();
                assert!(
                    delay <= ceiling,
                    "{delay:?} > {ceiling:?} after {failures} failures"
                );
            }
        }
    }

    #[test]
    fn retry_after_is_honoured_and_the_deadline_wins() {
        let policy = RetryPolicy::default();
        let limited = LlmError::RateLimited {
            provider: "p".into(),
            message: "slow down".into(),
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(
            policy.next_delay(1, &limited, Duration::from_secs(5)),
            Some(Duration::from_secs(2))
        );
        assert_eq!(policy.next_delay(1, &limited, Duration::from_secs(1)), None);
    }

    #[test]
    fn non_retryable_errors_and_spent_attempts_stop() {
        let policy = RetryPolicy::default();
        let auth = LlmError::Auth {
            provider: "p".into(),
            message: "no".into(),
        };
        assert_eq!(policy.next_delay(1, &auth, Duration::from_secs(60)), None);
        assert_eq!(
            policy.next_delay(3, &server_error(), Duration::from_secs(60)),
            None
        );
    }
}
