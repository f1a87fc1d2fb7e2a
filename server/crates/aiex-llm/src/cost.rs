//! What requests cost: a built-in price table (overridable per provider), and a ledger of
//! totals per day, provider and model, kept on disk for `aiex doctor` and `aiex.usage`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::adapters::ProviderKind;
use super::config::PriceConfig;
use super::types::Usage;

/// Built-in prices, US dollars per million tokens (input, output), matched by model-name prefix
/// (the longest prefix wins). Checked against the providers' public price pages, late 2025.
const PRICES: &[(&str, f64, f64)] = &[
    ("gpt-5-nano", 0.05, 0.40),
    ("gpt-5-mini", 0.25, 2.00),
    ("gpt-5", 1.25, 10.00),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1", 2.00, 8.00),
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-3.5-turbo-instruct", 1.50, 2.00),
    ("gpt-3.5-turbo", 0.50, 1.50),
    ("claude-haiku-4-5", 1.00, 5.00),
    ("claude-3-5-haiku", 0.80, 4.00),
    ("claude-3-haiku", 0.25, 1.25),
    ("claude-sonnet-4", 3.00, 15.00),
    ("claude-3-7-sonnet", 3.00, 15.00),
    ("claude-3-5-sonnet", 3.00, 15.00),
    ("claude-opus-4", 15.00, 75.00),
    ("claude-3-opus", 15.00, 75.00),
    ("gemini-2.5-flash-lite", 0.10, 0.40),
    ("gemini-2.5-flash", 0.30, 2.50),
    ("gemini-2.5-pro", 1.25, 10.00),
    ("gemini-2.0-flash", 0.10, 0.40),
    ("codestral", 0.30, 0.90),
    ("mistral-small", 0.10, 0.30),
    ("mistral-medium", 0.40, 2.00),
    ("mistral-large", 2.00, 6.00),
];

/// The price of `model`: the configured override, else the built-in table; local providers
/// (Ollama) cost nothing. `None` when the price is unknown.
pub fn price_of(
    kind: ProviderKind,
    model: &str,
    configured: Option<PriceConfig>,
) -> Option<PriceConfig> {
    if configured.is_some() {
        return configured;
    }
    if kind == ProviderKind::Ollama {
        return Some(PriceConfig::default());
    }
    let model = model.to_ascii_lowercase();
    // Hosted names come as `claude-haiku-4-5-20251001` or `openai/gpt-4o-mini` (OpenRouter).
    let bare = model.rsplit('/').next().unwrap_or(&model);
    PRICES
        .iter()
        .filter(|(prefix, _, _)| bare.starts_with(prefix))
        .max_by_key(|(prefix, _, _)| prefix.len())
        .map(|&(_, input_per_mtok, output_per_mtok)| PriceConfig {
            input_per_mtok,
            output_per_mtok,
        })
}

/// The cost of `usage` at `price`, in US dollars.
pub fn cost_usd(usage: &Usage, price: Option<PriceConfig>) -> f64 {
    price.map_or(0.0, |p| {
        (usage.input_tokens as f64 * p.input_per_mtok
            + usage.output_tokens as f64 * p.output_per_mtok)
            / 1_000_000.0
    })
}

/// Totals of one provider and model over one day (or any grouping of those).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UsageTotals {
    /// Completed requests (cache hits excluded: they cost nothing).
    pub requests: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
    /// US dollars.
    pub cost_usd: f64,
}

impl UsageTotals {
    fn add(&mut self, other: &UsageTotals) {
        self.requests += other.requests;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cost_usd += other.cost_usd;
    }
}

/// One row of the usage report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageRow {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// Configured provider name.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Totals.
    #[serde(flatten)]
    pub totals: UsageTotals,
}

/// What `aiex doctor` and `aiex.usage` show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageSummary {
    /// Today (UTC).
    pub today: UsageTotals,
    /// The last 30 days, today included.
    pub last_30_days: UsageTotals,
    /// Every day, provider and model of the last 30 days, newest first.
    pub rows: Vec<UsageRow>,
    /// Where the figures are kept, if anywhere.
    pub path: Option<PathBuf>,
}

impl UsageSummary {
    /// A few human-readable lines.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "AI usage today: {} requests, {} tokens in, {} out, ${:.4}\nLast 30 days: {} requests, ${:.4}\n",
            self.today.requests,
            self.today.input_tokens,
            self.today.output_tokens,
            self.today.cost_usd,
            self.last_30_days.requests,
            self.last_30_days.cost_usd
        );
        for row in &self.rows {
            out.push_str(&format!(
                "  {} {} {}: {} requests, {} in, {} out, ${:.4}\n",
                row.day,
                row.provider,
                row.model,
                row.totals.requests,
                row.totals.input_tokens,
                row.totals.output_tokens,
                row.totals.cost_usd
            ));
        }
        out
    }
}

/// day → provider → model → totals: the on-disk shape too.
type Totals = BTreeMap<String, BTreeMap<String, BTreeMap<String, UsageTotals>>>;

#[derive(Debug, Default, Serialize, Deserialize)]
struct LedgerFile {
    version: u32,
    days: Totals,
}

#[derive(Debug)]
struct LedgerState {
    days: Totals,
    dirty: bool,
    last_write: Option<std::time::Instant>,
}

/// Usage totals per day, provider and model, written to a JSON file.
#[derive(Debug)]
pub struct UsageLedger {
    path: Option<PathBuf>,
    flush_interval: Duration,
    state: Mutex<LedgerState>,
}

/// Where Aiex keeps what it learns on this machine (usage totals, provider speeds):
/// `$AIEX_DATA_DIR`, or `<data dir>/aiex`. One directory for all of it, so that pointing
/// `AIEX_DATA_DIR` elsewhere (a test, a second profile) leaves none of it behind.
pub fn data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("AIEX_DATA_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    dirs::data_dir().map(|dir| dir.join("aiex"))
}

/// Where the ledger lives by default: `usage.json` in [`data_dir`].
pub fn default_ledger_path() -> Option<PathBuf> {
    data_dir().map(|dir| dir.join("usage.json"))
}

impl UsageLedger {
    /// Opens the ledger at `path` (in memory only when `None`). A missing file starts empty; an
    /// unreadable one is set aside as `usage.json.corrupt` rather than lost or fatal. Writes are
    /// batched: at most one per `flush_interval`, plus `flush()`.
    pub fn open(path: Option<PathBuf>, flush_interval: Duration) -> Self {
        let days = path.as_deref().map(load).unwrap_or_default();
        Self {
            path,
            flush_interval,
            state: Mutex::new(LedgerState {
                days,
                dirty: false,
                last_write: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LedgerState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds one completed request.
    pub fn record(&self, provider: &str, model: &str, usage: &Usage, cost_usd: f64) {
        let day = day_string(SystemTime::now());
        let mut state = self.lock();
        let totals = state
            .days
            .entry(day)
            .or_default()
            .entry(provider.to_owned())
            .or_default()
            .entry(model.to_owned())
            .or_default();
        totals.add(&UsageTotals {
            requests: 1,
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cost_usd,
        });
        state.dirty = true;
        let due = state
            .last_write
            .is_none_or(|at| at.elapsed() >= self.flush_interval);
        if due {
            if let Err(error) = self.write(&mut state) {
                tracing::warn!(%error, path = ?self.path, "could not save AI usage totals");
            }
        }
    }

    /// Writes pending totals to disk now.
    pub fn flush(&self) -> io::Result<()> {
        let mut state = self.lock();
        self.write(&mut state)
    }

    fn write(&self, state: &mut LedgerState) -> io::Result<()> {
        state.last_write = Some(std::time::Instant::now());
        let Some(path) = &self.path else {
            state.dirty = false;
            return Ok(());
        };
        if !state.dirty {
            return Ok(());
        }
        let file = LedgerFile {
            version: 1,
            days: state.days.clone(),
        };
        write_json(path, &file)?;
        state.dirty = false;
        Ok(())
    }

    /// Totals for today, the last 30 days, and per day, provider and model.
    pub fn summary(&self) -> UsageSummary {
        let now = SystemTime::now();
        let today = day_string(now);
        let oldest = day_string(now - Duration::from_secs(29 * 86_400));
        let state = self.lock();
        let mut summary = UsageSummary {
            today: UsageTotals::default(),
            last_30_days: UsageTotals::default(),
            rows: Vec::new(),
            path: self.path.clone(),
        };
        for (day, providers) in state.days.range(oldest..).rev() {
            for (provider, models) in providers {
                for (model, totals) in models {
                    summary.last_30_days.add(totals);
                    if *day == today {
                        summary.today.add(totals);
                    }
                    summary.rows.push(UsageRow {
                        day: day.clone(),
                        provider: provider.clone(),
                        model: model.clone(),
                        totals: *totals,
                    });
                }
            }
        }
        summary
    }
}

impl Drop for UsageLedger {
    fn drop(&mut self) {
        if let Err(error) = self.flush() {
            tracing::warn!(%error, "could not save AI usage totals");
        }
    }
}

fn load(path: &Path) -> Totals {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Totals::new(),
        Err(error) => {
            tracing::warn!(%error, ?path, "could not read AI usage totals; starting from zero");
            return Totals::new();
        }
    };
    match serde_json::from_slice::<LedgerFile>(&bytes) {
        Ok(file) => file.days,
        Err(error) => {
            let aside = path.with_extension("json.corrupt");
            tracing::warn!(%error, ?path, ?aside, "unreadable AI usage totals set aside; starting from zero");
            let _ = std::fs::rename(path, aside);
            Totals::new()
        }
    }
}

/// `YYYY-MM-DD` (UTC) of a time.
pub fn day_string(at: SystemTime) -> String {
    let days = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0);
    let (year, month, day) = civil_from_days(days as i64);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Writes `value` as pretty JSON to `path`, creating its directory: to a temporary file first,
/// then renamed, so a crash never leaves a half-written file. The usage and speed files share it.
pub(crate) fn write_json(path: &Path, value: &impl Serialize) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, json)?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(civil_from_days(20_413), (2025, 11, 21));
    }

    #[test]
    fn longest_prefix_price_wins_and_config_overrides() {
        let mini = price_of(ProviderKind::OpenAi, "gpt-4o-mini-2024-07-18", None).unwrap();
        assert_eq!(mini.input_per_mtok, 0.15);
        let routed = price_of(ProviderKind::OpenAiCompatible, "openai/gpt-4o", None).unwrap();
        assert_eq!(routed.output_per_mtok, 10.0);
        assert_eq!(
            price_of(ProviderKind::Ollama, "qwen2.5-coder", None),
            Some(PriceConfig::default())
        );
        assert_eq!(
            price_of(ProviderKind::OpenAiCompatible, "my-local-model", None),
            None
        );
        let custom = PriceConfig {
            input_per_mtok: 9.0,
            output_per_mtok: 9.0,
        };
        assert_eq!(
            price_of(ProviderKind::OpenAi, "gpt-4o", Some(custom)),
            Some(custom)
        );
        let usage = Usage {
            input_tokens: 1_000_000,
            output_tokens: 500_000,
            estimated: false,
        };
        assert!((cost_usd(&usage, Some(mini)) - 0.45).abs() < 1e-9);
    }

    #[test]
    fn ledger_persists_totals_and_survives_a_corrupt_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.json");
        let usage = Usage {
            input_tokens: 10,
            output_tokens: 5,
            estimated: false,
        };
        {
            let ledger = UsageLedger::open(Some(path.clone()), Duration::from_secs(3600));
            ledger.record("hosted", "claude-haiku-4-5", &usage, 0.5);
            ledger.record("hosted", "claude-haiku-4-5", &usage, 0.25);
        }
        let reopened = UsageLedger::open(Some(path.clone()), Duration::ZERO);
        let summary = reopened.summary();
        assert_eq!(
            summary.today,
            UsageTotals {
                requests: 2,
                input_tokens: 20,
                output_tokens: 10,
                cost_usd: 0.75
            }
        );
        assert_eq!(summary.rows.len(), 1);
        drop(reopened);
        std::fs::write(&path, b"{not json").unwrap();
        let fresh = UsageLedger::open(Some(path.clone()), Duration::ZERO);
        assert_eq!(fresh.summary().today.requests, 0);
        assert!(path.with_extension("json.corrupt").exists());
    }
}
