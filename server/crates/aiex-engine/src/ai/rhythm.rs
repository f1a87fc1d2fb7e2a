//! Adaptive debounce: how long to wait before asking a model, learnt from how fast the user
//! types. Fast typists get a short wait that still outlasts the gap between their keys, so
//! requests made mid-word are superseded before they reach a provider.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Gaps longer than this are pauses, not typing, and do not count.
const PAUSE: Duration = Duration::from_millis(1_000);
/// How many recent gaps are remembered.
const WINDOW: usize = 16;

/// The typing rhythm of one document.
#[derive(Debug, Clone)]
pub struct TypingRhythm {
    last_edit: Option<Instant>,
    gaps: VecDeque<Duration>,
}

impl Default for TypingRhythm {
    fn default() -> Self {
        Self {
            last_edit: None,
            gaps: VecDeque::with_capacity(WINDOW),
        }
    }
}

impl TypingRhythm {
    /// Records an edit at `now`. Runs on every keystroke.
    pub fn record(&mut self, now: Instant) {
        if let Some(last) = self.last_edit {
            let gap = now.saturating_duration_since(last);
            if gap < PAUSE {
                if self.gaps.len() == WINDOW {
                    self.gaps.pop_front();
                }
                self.gaps.push_back(gap);
            }
        }
        self.last_edit = Some(now);
    }

    /// The wait before asking: 1.5 times the median gap between keys, within `[min, max]`;
    /// `default` until enough keys were seen.
    pub fn debounce(&self, min: Duration, max: Duration, default: Duration) -> Duration {
        if self.gaps.len() < 3 {
            return default.clamp(min, max);
        }
        let mut sorted: Vec<Duration> = self.gaps.iter().copied().collect();
        sorted.sort_unstable();
        let median = sorted[sorted.len() / 2];
        (median * 3 / 2).clamp(min, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_millis(30);
    const MAX: Duration = Duration::from_millis(400);
    const DEFAULT: Duration = Duration::from_millis(100);

    #[test]
    fn the_wait_follows_the_typing_speed_within_bounds() {
        let start = Instant::now();
        let mut rhythm = TypingRhythm::default();
        assert_eq!(rhythm.debounce(MIN, MAX, DEFAULT), DEFAULT);
        for key in 0..10 {
            rhythm.record(start + Duration::from_millis(40 * key));
        }
        assert_eq!(
            rhythm.debounce(MIN, MAX, DEFAULT),
            Duration::from_millis(60)
        );
        let mut slow = TypingRhythm::default();
        for key in 0..10 {
            slow.record(start + Duration::from_millis(900 * key));
        }
        assert_eq!(slow.debounce(MIN, MAX, DEFAULT), MAX);
    }

    #[test]
    fn pauses_do_not_count_as_typing() {
        let start = Instant::now();
        let mut rhythm = TypingRhythm::default();
        for (key, at) in [0, 50, 100, 5_000, 5_050, 5_100].into_iter().enumerate() {
            let _ = key;
            rhythm.record(start + Duration::from_millis(at));
        }
        assert_eq!(
            rhythm.debounce(MIN, MAX, DEFAULT),
            Duration::from_millis(75)
        );
    }
}
