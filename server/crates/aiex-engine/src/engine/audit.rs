//! The audit log: one JSON line per provider request (time, feature, provider, model, files
//! included, token counts, redactions, a hash of the prompt, how it ended, how long it took,
//! what it cost, whether a cache answered), kept on this machine and rotated by size. The
//! prompt itself is written only when the user turns that on. It is also the one source of
//! `aiex metrics` ([`crate::metrics`] reads these lines back).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Where and how the audit log is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLog {
    /// The current log file; rotated ones get `.1`, `.2`, ... appended.
    pub path: PathBuf,
    /// Size past which the file is rotated.
    pub max_bytes: u64,
    /// Rotated files kept.
    pub keep: usize,
    /// Whether to record the prompt text itself (off by default).
    pub record_prompts: bool,
}

impl AuditLog {
    /// A log at `path`: 5 MB per file, 3 rotated files kept, prompts not recorded.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            max_bytes: 5 * 1024 * 1024,
            keep: 3,
            record_prompts: false,
        }
    }

    /// The default location: `audit.jsonl` in Aiex's cache directory.
    pub fn default_path() -> Option<PathBuf> {
        crate::index::default_cache_dir().map(|dir| dir.join("audit.jsonl"))
    }

    /// Records one provider request. Called from one place only, the engine's gateway to the
    /// providers (`engine::gateway`), whichever entry point asked.
    pub fn record(&self, request: &AuditRequest<'_>) -> std::io::Result<()> {
        let line = self.line(request, SystemTime::now());
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir)?;
        }
        let current = fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        if current > 0 && current + line.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(line.as_bytes())
    }

    /// The JSON line for `request` at `time`, newline included.
    fn line(&self, request: &AuditRequest<'_>, time: SystemTime) -> String {
        let entry = AuditEntry {
            time: rfc3339(time),
            feature: request.feature,
            provider: request.provider,
            model: request.model,
            files: request.files,
            prompt_tokens: request.prompt_tokens,
            completion_tokens: request.completion_tokens,
            redactions: request.redactions,
            prompt_sha256: prompt_hash(request.prompt),
            outcome: request.outcome,
            error_kind: request.error_kind,
            latency_ms: request.latency_ms,
            cost_usd: request.cost_usd,
            cache: request.cache,
            prompt: self.record_prompts.then_some(request.prompt),
        };
        let mut line = serde_json::to_string(&entry).unwrap_or_default();
        line.push('\n');
        line
    }

    fn rotate(&self) -> std::io::Result<()> {
        let numbered = |n: usize| -> PathBuf {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        if self.keep == 0 {
            return fs::remove_file(&self.path);
        }
        let _ = fs::remove_file(numbered(self.keep));
        for n in (1..self.keep).rev() {
            let from = numbered(n);
            if from.exists() {
                fs::rename(&from, numbered(n + 1))?;
            }
        }
        fs::rename(&self.path, numbered(1))
    }
}

/// What the AI features tell the audit log about one provider request.
#[derive(Debug, Clone, Copy)]
pub struct AuditRequest<'a> {
    /// `completion`, `explain`, `actions`...
    pub feature: &'a str,
    /// The provider's configured name.
    pub provider: &'a str,
    /// The model asked.
    pub model: &'a str,
    /// Workspace-relative paths of the files the prompt draws on.
    pub files: &'a [PathBuf],
    /// Tokens sent.
    pub prompt_tokens: usize,
    /// Tokens received, when known.
    pub completion_tokens: Option<usize>,
    /// Secrets replaced by placeholders in the prompt.
    pub redactions: usize,
    /// The prompt as sent (hashed; written only when configured).
    pub prompt: &'a str,
    /// How the request ended: `ok`, `cancelled`, or `error: ...`.
    pub outcome: &'a str,
    /// For an error, its kind (`timeout`, `rate_limited`, `circuit_open`...: `LlmError::kind`).
    pub error_kind: Option<&'a str>,
    /// Wall time from the request leaving the gateway to its end, in milliseconds.
    pub latency_ms: u64,
    /// What the answer cost, in US dollars, when the model answered in full.
    pub cost_usd: Option<f64>,
    /// Which response cache answered: `local` (this process) or `team` (team mode's shared one).
    pub cache: Option<&'a str>,
}

#[derive(Serialize)]
struct AuditEntry<'a> {
    time: String,
    feature: &'a str,
    provider: &'a str,
    model: &'a str,
    files: &'a [PathBuf],
    prompt_tokens: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    completion_tokens: Option<usize>,
    redactions: usize,
    prompt_sha256: String,
    outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_kind: Option<&'a str>,
    latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<&'a str>,
}

/// The hex SHA-256 of a prompt.
pub fn prompt_hash(prompt: &str) -> String {
    Sha256::digest(prompt.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `time` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn request<'a>(files: &'a [PathBuf], prompt: &'a str) -> AuditRequest<'a> {
        AuditRequest {
            feature: "completion",
            provider: "local",
            model: "qwen2.5-coder:1.5b",
            files,
            prompt_tokens: 812,
            completion_tokens: Some(17),
            redactions: 2,
            prompt,
            outcome: "ok",
            error_kind: None,
            latency_ms: 420,
            cost_usd: Some(0.000_25),
            cache: None,
        }
    }

    #[test]
    fn dates_are_utc_rfc3339() {
        let time = UNIX_EPOCH + Duration::from_millis(1_763_754_000_123);
        assert_eq!(rfc3339(time), "2025-11-21T19:40:00.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn records_metadata_and_a_hash_but_not_the_prompt_by_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        let files = vec![PathBuf::from("lib/app/accounts.ex")];
        let prompt = "defmodule App.Accounts do # the prompt text";
        log.record(&request(&files, prompt)).expect("record");
        log.record(&request(&files, prompt)).expect("record");
        let written = fs::read_to_string(&log.path).expect("read");
        let lines: Vec<serde_json::Value> = written
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 2);
        let entry = &lines[0];
        assert_eq!(entry["feature"], "completion");
        assert_eq!(entry["provider"], "local");
        assert_eq!(entry["model"], "qwen2.5-coder:1.5b");
        assert_eq!(entry["files"][0], "lib/app/accounts.ex");
        assert_eq!(entry["prompt_tokens"], 812);
        assert_eq!(entry["completion_tokens"], 17);
        assert_eq!(entry["redactions"], 2);
        assert_eq!(entry["outcome"], "ok");
        assert_eq!(entry["latency_ms"], 420);
        assert_eq!(entry["cost_usd"], 0.000_25);
        assert!(entry.get("cache").is_none() && entry.get("error_kind").is_none());
        assert_eq!(entry["prompt_sha256"], prompt_hash(prompt));
        assert!(entry.get("prompt").is_none());
        assert!(!written.contains("the prompt text"));

        let with_prompts = AuditLog {
            record_prompts: true,
            ..log.clone()
        };
        with_prompts
            .record(&request(&files, prompt))
            .expect("record");
        let written = fs::read_to_string(&log.path).expect("read");
        assert!(written
            .lines()
            .last()
            .is_some_and(|l| l.contains("the prompt text")));
    }

    #[test]
    fn rotates_by_size_and_keeps_a_bounded_number_of_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog {
            max_bytes: 600,
            keep: 2,
            ..AuditLog::new(dir.path().join("logs/audit.jsonl"))
        };
        let files = vec![PathBuf::from("lib/a.ex")];
        for _ in 0..12 {
            log.record(&request(&files, "prompt")).expect("record");
        }
        let mut names: Vec<String> = fs::read_dir(dir.path().join("logs"))
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]);
        for name in &names {
            let size = fs::metadata(dir.path().join("logs").join(name))
                .expect("meta")
                .len();
            assert!(size <= 600, "{name} is {size} bytes");
        }
    }
}

/// Audit lines being written off the message loop: counted, so shutdown can wait for them
/// before the process ends (a line queued on the blocking pool would be lost otherwise).
#[derive(Debug, Default, Clone)]
pub(crate) struct PendingWrites(std::sync::Arc<(parking_lot::Mutex<usize>, parking_lot::Condvar)>);

/// One pending write; dropping it marks the write done.
pub(crate) struct PendingWrite(PendingWrites);

impl PendingWrites {
    /// Counts a write until the returned guard is dropped.
    pub(crate) fn start(&self) -> PendingWrite {
        *self.0 .0.lock() += 1;
        PendingWrite(self.clone())
    }

    /// Waits until no write is pending, for at most `within`; false if some still are.
    pub(crate) fn wait_idle(&self, within: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        let (count, idle) = &*self.0;
        let mut pending = count.lock();
        while *pending > 0 {
            if idle.wait_until(&mut pending, deadline).timed_out() {
                return *pending == 0;
            }
        }
        true
    }
}

impl Drop for PendingWrite {
    fn drop(&mut self) {
        let (count, idle) = &*self.0 .0;
        let mut pending = count.lock();
        *pending -= 1;
        if *pending == 0 {
            idle.notify_all();
        }
    }
}
