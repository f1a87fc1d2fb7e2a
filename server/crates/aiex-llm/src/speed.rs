//! How fast each provider reads a prompt and writes an answer, learnt from its answers. A model
//! on a laptop CPU reads 30-90 prompt tokens a second: the context a completion may carry is
//! decided by that rate, not by a fixed budget (the engine sizes it from [`SpeedEstimate`]).
//!
//! Sources, best first: the server's own measure ([`Timings`]: llama.cpp's `timings`, Ollama's
//! durations), which leaves out the network and the queue; else wall time, from the request to
//! its first text (reading) and from there to its end (writing). Estimates are kept per
//! provider and model, in the data directory, so a one-shot `aiex complete` starts from what
//! the last run learnt.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::types::Timings;

/// Weight of a new measure against what was learnt: a few requests move the estimate, one
/// outlier (the machine busy for a moment) does not.
const LEARNING_RATE: f64 = 0.3;
/// Prompts shorter than this say more about the server's fixed cost than its reading speed.
const MIN_PROMPT_TOKENS: u64 = 32;
/// Answers shorter than this say little about the writing speed.
const MIN_GENERATED_TOKENS: u64 = 4;

/// Tokens per second of one provider and model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpeedEstimate {
    /// Prompt tokens read per second.
    pub prompt_tokens_per_s: f64,
    /// Tokens generated per second.
    pub generated_tokens_per_s: f64,
    /// Answers it was learnt from (0: an assumption, see [`SpeedEstimate::assumed`]).
    pub samples: u32,
}

impl SpeedEstimate {
    /// What to assume before a provider has answered: a server on this machine is a model on
    /// a CPU or a small GPU (the slow end of what users run); a remote service reads
    /// thousands of tokens a second.
    pub fn assumed(on_this_machine: bool) -> Self {
        if on_this_machine {
            Self {
                prompt_tokens_per_s: 60.0,
                generated_tokens_per_s: 15.0,
                samples: 0,
            }
        } else {
            Self {
                prompt_tokens_per_s: 2_000.0,
                generated_tokens_per_s: 60.0,
                samples: 0,
            }
        }
    }

    /// The time to read `prompt_tokens` and write `generated_tokens`.
    pub fn time_for(&self, prompt_tokens: usize, generated_tokens: usize) -> Duration {
        let seconds = prompt_tokens as f64 / self.prompt_tokens_per_s.max(1e-3)
            + generated_tokens as f64 / self.generated_tokens_per_s.max(1e-3);
        Duration::from_secs_f64(seconds.min(86_400.0))
    }

    /// How many prompt tokens can be read in `time`.
    pub fn prompt_tokens_in(&self, time: Duration) -> usize {
        (time.as_secs_f64() * self.prompt_tokens_per_s) as usize
    }

    /// How many tokens can be generated in `time`.
    pub fn generated_tokens_in(&self, time: Duration) -> usize {
        (time.as_secs_f64() * self.generated_tokens_per_s) as usize
    }

    fn learn(&mut self, measure: Measure) {
        let blend = |old: f64, new: f64, samples: u32| {
            if samples == 0 {
                new
            } else {
                old + LEARNING_RATE * (new - old)
            }
        };
        if let Some(rate) = measure.prompt_tokens_per_s {
            self.prompt_tokens_per_s = blend(self.prompt_tokens_per_s, rate, self.samples);
        }
        if let Some(rate) = measure.generated_tokens_per_s {
            self.generated_tokens_per_s = blend(self.generated_tokens_per_s, rate, self.samples);
        }
        self.samples = self.samples.saturating_add(1);
    }
}

/// What one answer tells of a provider's speed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measure {
    prompt_tokens_per_s: Option<f64>,
    generated_tokens_per_s: Option<f64>,
}

impl Measure {
    /// From the server's own timings.
    pub fn from_timings(timings: &Timings) -> Self {
        let rate = |tokens: u64, ms: f64, least: u64| {
            (tokens >= least && ms > 0.0).then(|| tokens as f64 * 1_000.0 / ms)
        };
        Self {
            prompt_tokens_per_s: rate(timings.prompt_tokens, timings.prompt_ms, MIN_PROMPT_TOKENS),
            generated_tokens_per_s: rate(
                timings.generated_tokens,
                timings.generation_ms,
                MIN_GENERATED_TOKENS,
            ),
        }
    }

    /// From wall time: the prompt was read by the first text, the rest was writing. Network
    /// and queueing count as reading, which errs on the slow side.
    pub fn from_wall_time(
        prompt_tokens: u64,
        generated_tokens: u64,
        to_first_text: Duration,
        total: Duration,
    ) -> Self {
        let rate = |tokens: u64, time: Duration, least: u64| {
            (tokens >= least && !time.is_zero()).then(|| tokens as f64 / time.as_secs_f64())
        };
        Self {
            prompt_tokens_per_s: rate(prompt_tokens, to_first_text, MIN_PROMPT_TOKENS),
            generated_tokens_per_s: rate(
                generated_tokens.saturating_sub(1),
                total.saturating_sub(to_first_text),
                MIN_GENERATED_TOKENS,
            ),
        }
    }

    fn is_empty(&self) -> bool {
        self.prompt_tokens_per_s.is_none() && self.generated_tokens_per_s.is_none()
    }
}

/// The learnt speeds of every provider, kept in a file.
#[derive(Debug)]
pub struct SpeedBook {
    path: Option<PathBuf>,
    flush_interval: Duration,
    state: Mutex<BookState>,
}

#[derive(Debug, Default)]
struct BookState {
    speeds: BTreeMap<String, SpeedEstimate>,
    dirty: bool,
    last_write: Option<Instant>,
}

#[derive(Debug, Serialize, Deserialize)]
struct BookFile {
    version: u32,
    speeds: BTreeMap<String, SpeedEstimate>,
}

/// `speeds.json` in the data directory ([`crate::cost::data_dir`]: `$AIEX_DATA_DIR` when set,
/// like the usage totals, so a test's speeds never come from, or go to, the user's).
pub fn default_speeds_path() -> Option<PathBuf> {
    crate::cost::data_dir().map(|dir| dir.join("speeds.json"))
}

impl SpeedBook {
    /// The book kept at `path` (in memory only when `None`). A missing or unreadable file
    /// starts empty: these are estimates, relearnt in a few requests.
    pub fn open(path: Option<PathBuf>, flush_interval: Duration) -> Self {
        let speeds = path.as_deref().map(load).unwrap_or_default();
        Self {
            path,
            flush_interval,
            state: Mutex::new(BookState {
                speeds,
                ..BookState::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BookState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What was learnt of `provider` serving `model`, if it answered before.
    pub fn learnt(&self, provider: &str, model: &str) -> Option<SpeedEstimate> {
        self.lock().speeds.get(&key(provider, model)).copied()
    }

    /// Every estimate, by `provider/model`.
    pub fn all(&self) -> BTreeMap<String, SpeedEstimate> {
        self.lock().speeds.clone()
    }

    /// Learns from one answer of `provider` serving `model`.
    pub fn observe(&self, provider: &str, model: &str, measure: Measure, on_this_machine: bool) {
        if measure.is_empty() {
            return;
        }
        let mut state = self.lock();
        state
            .speeds
            .entry(key(provider, model))
            .or_insert_with(|| SpeedEstimate::assumed(on_this_machine))
            .learn(measure);
        state.dirty = true;
        if state
            .last_write
            .is_none_or(|at| at.elapsed() >= self.flush_interval)
        {
            if let Err(error) = self.write(&mut state) {
                tracing::warn!(%error, path = ?self.path, "could not save provider speeds");
            }
        }
    }

    /// Writes pending estimates now.
    pub fn flush(&self) -> io::Result<()> {
        let mut state = self.lock();
        self.write(&mut state)
    }

    fn write(&self, state: &mut BookState) -> io::Result<()> {
        state.last_write = Some(Instant::now());
        let (Some(path), true) = (&self.path, state.dirty) else {
            return Ok(());
        };
        let file = BookFile {
            version: 1,
            speeds: state.speeds.clone(),
        };
        crate::cost::write_json(path, &file)?;
        state.dirty = false;
        Ok(())
    }
}

fn key(provider: &str, model: &str) -> String {
    format!("{provider}/{model}")
}

fn load(path: &Path) -> BTreeMap<String, SpeedEstimate> {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<BookFile>(&bytes).ok())
        .map(|file| file.speeds)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timings(prompt: u64, prompt_ms: f64, generated: u64, generation_ms: f64) -> Timings {
        Timings {
            prompt_tokens: prompt,
            cached_tokens: 0,
            prompt_ms,
            generated_tokens: generated,
            generation_ms,
        }
    }

    #[test]
    fn the_first_answer_replaces_the_assumption_and_later_ones_move_it() {
        let book = SpeedBook::open(None, Duration::ZERO);
        assert_eq!(book.learnt("local", "qwen"), None);
        book.observe(
            "local",
            "qwen",
            Measure::from_timings(&timings(200, 2_500.0, 20, 1_000.0)),
            true,
        );
        let first = book.learnt("local", "qwen").expect("learnt");
        assert!((first.prompt_tokens_per_s - 80.0).abs() < 1e-9);
        assert!((first.generated_tokens_per_s - 20.0).abs() < 1e-9);
        book.observe(
            "local",
            "qwen",
            Measure::from_timings(&timings(400, 10_000.0, 20, 2_000.0)),
            true,
        );
        let second = book.learnt("local", "qwen").expect("learnt");
        assert!(second.prompt_tokens_per_s < 80.0 && second.prompt_tokens_per_s > 40.0);
        assert_eq!(second.samples, 2);
    }

    #[test]
    fn short_prompts_and_cached_prefixes_do_not_pass_for_slow_reading() {
        // 3 tokens read (the rest came from the cache) in 120 ms: a fixed cost, not a rate.
        let measure = Measure::from_timings(&timings(3, 120.0, 12, 600.0));
        assert_eq!(measure.prompt_tokens_per_s, None);
        assert_eq!(measure.generated_tokens_per_s, Some(20.0));
    }

    #[test]
    fn wall_time_counts_until_the_first_text_as_reading() {
        let measure = Measure::from_wall_time(
            1_000,
            11,
            Duration::from_millis(500),
            Duration::from_millis(1_000),
        );
        assert_eq!(measure.prompt_tokens_per_s, Some(2_000.0));
        assert_eq!(measure.generated_tokens_per_s, Some(20.0));
    }

    #[test]
    fn estimates_survive_a_restart_in_their_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("speeds.json");
        let book = SpeedBook::open(Some(path.clone()), Duration::ZERO);
        book.observe(
            "local",
            "qwen",
            Measure::from_timings(&timings(100, 1_000.0, 10, 500.0)),
            true,
        );
        let reopened = SpeedBook::open(Some(path), Duration::ZERO);
        assert_eq!(
            reopened.learnt("local", "qwen"),
            book.learnt("local", "qwen")
        );
    }

    #[test]
    fn a_budget_follows_from_the_rates() {
        let speed = SpeedEstimate {
            prompt_tokens_per_s: 80.0,
            generated_tokens_per_s: 20.0,
            samples: 3,
        };
        assert_eq!(speed.prompt_tokens_in(Duration::from_secs(2)), 160);
        assert_eq!(speed.time_for(160, 20), Duration::from_secs(3));
    }
}
