//! Per-provider rate limits: a requests-per-minute and a tokens-per-minute token bucket. A
//! request waits for its slot when the slot comes before its deadline and fails fast otherwise.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    per_second: f64,
    /// May go negative: a reservation taken now for a slot in the future.
    level: f64,
    updated: Instant,
}

impl Bucket {
    fn per_minute(limit: u32, now: Instant) -> Self {
        let capacity = f64::from(limit.max(1));
        Self {
            capacity,
            per_second: capacity / 60.0,
            level: capacity,
            updated: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.level = (self.level + elapsed * self.per_second).min(self.capacity);
        self.updated = now;
    }

    /// How long until `amount` is available.
    fn wait_for(&self, amount: f64) -> Duration {
        // A request larger than the bucket could never pass; it waits for a full bucket instead.
        let amount = amount.min(self.capacity);
        if self.level >= amount {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((amount - self.level) / self.per_second)
        }
    }
}

/// The rate limiter of one provider.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<(Option<Bucket>, Option<Bucket>)>,
}

impl RateLimiter {
    /// A limiter for `rpm` requests and `tpm` tokens per minute; `None` means unlimited.
    pub fn new(rpm: Option<u32>, tpm: Option<u32>) -> Self {
        let now = Instant::now();
        Self {
            buckets: Mutex::new((
                rpm.map(|l| Bucket::per_minute(l, now)),
                tpm.map(|l| Bucket::per_minute(l, now)),
            )),
        }
    }

    /// Whether a token estimate is needed at all (it costs a tokenizer pass).
    pub fn limits_tokens(&self) -> bool {
        self.buckets.lock().map(|b| b.1.is_some()).unwrap_or(false)
    }

    /// Reserves one request of `tokens` tokens. `Ok(wait)`: the slot is taken and starts after
    /// `wait`. `Err(wait)`: the slot would start after `deadline`; nothing is taken.
    pub fn reserve(
        &self,
        tokens: u64,
        now: Instant,
        deadline: Instant,
    ) -> Result<Duration, Duration> {
        // A poisoned lock only means another request panicked mid-update; the numbers are
        // still usable.
        let mut guard = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (requests, token_bucket) = &mut *guard;
        let tokens = tokens as f64;
        let mut wait = Duration::ZERO;
        if let Some(bucket) = requests.as_mut() {
            bucket.refill(now);
            wait = wait.max(bucket.wait_for(1.0));
        }
        if let Some(bucket) = token_bucket.as_mut() {
            bucket.refill(now);
            wait = wait.max(bucket.wait_for(tokens));
        }
        if now + wait > deadline {
            return Err(wait);
        }
        if let Some(bucket) = requests.as_mut() {
            bucket.level -= 1.0;
        }
        if let Some(bucket) = token_bucket.as_mut() {
            bucket.level -= tokens.min(bucket.capacity);
        }
        Ok(wait)
    }
}

impl RateLimiter {
    /// Gives back tokens reserved but not used: a reservation counts the whole `max_tokens`,
    /// the answer is usually shorter.
    pub fn refund(&self, tokens: u64) {
        let mut guard = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(bucket) = guard.1.as_mut() {
            bucket.level = (bucket.level + tokens as f64).min(bucket.capacity);
        }
    }

    /// Gives back a whole reservation of `tokens`: the request was never sent (the team's
    /// shared limit or budget refused it), so it must not count against this process's own.
    pub fn give_back(&self, tokens: u64) {
        let mut guard = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(bucket) = guard.0.as_mut() {
            bucket.level = (bucket.level + 1.0).min(bucket.capacity);
        }
        if let Some(bucket) = guard.1.as_mut() {
            bucket.level =
                (bucket.level + (tokens as f64).min(bucket.capacity)).min(bucket.capacity);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unused_tokens_are_given_back() {
        let limiter = RateLimiter::new(None, Some(1_000));
        let now = Instant::now();
        assert_eq!(limiter.reserve(1_000, now, now), Ok(Duration::ZERO));
        assert!(limiter.reserve(500, now, now).is_err());
        limiter.refund(600);
        assert_eq!(limiter.reserve(500, now, now), Ok(Duration::ZERO));
    }

    #[test]
    fn a_reservation_given_back_frees_its_request_and_its_tokens() {
        let limiter = RateLimiter::new(Some(1), Some(1_000));
        let now = Instant::now();
        assert_eq!(limiter.reserve(800, now, now), Ok(Duration::ZERO));
        assert!(limiter.reserve(800, now, now).is_err());
        limiter.give_back(800);
        assert_eq!(limiter.reserve(800, now, now), Ok(Duration::ZERO));
    }

    #[test]
    fn requests_within_the_limit_pass_at_once_then_wait_their_turn() {
        let limiter = RateLimiter::new(Some(60), None);
        let now = Instant::now();
        let far = now + Duration::from_secs(3600);
        for _ in 0..60 {
            assert_eq!(limiter.reserve(0, now, far), Ok(Duration::ZERO));
        }
        // 60 per minute is one per second: the 61st waits one second, the 62nd two.
        let wait = limiter.reserve(0, now, far).unwrap();
        assert!((wait.as_secs_f64() - 1.0).abs() < 0.01, "{wait:?}");
        let wait = limiter.reserve(0, now, far).unwrap();
        assert!((wait.as_secs_f64() - 2.0).abs() < 0.01, "{wait:?}");
    }

    #[test]
    fn a_slot_after_the_deadline_fails_fast_and_takes_nothing() {
        let limiter = RateLimiter::new(None, Some(600));
        let now = Instant::now();
        assert_eq!(limiter.reserve(600, now, now), Ok(Duration::ZERO));
        let refused = limiter.reserve(100, now, now + Duration::from_secs(1));
        assert!(
            matches!(refused, Err(wait) if wait >= Duration::from_secs(9)),
            "{refused:?}"
        );
        // Nothing was taken: after 10 s (100 tokens at 10 per second) it passes.
        let later = now + Duration::from_secs(10);
        assert_eq!(limiter.reserve(100, later, later), Ok(Duration::ZERO));
    }
}
