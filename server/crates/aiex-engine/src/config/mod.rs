//! Configuration: one shape, read from the editor, the workspace and the user's home.
//!
//! Sources are merged key by key, the editor's settings winning over `.aiex.toml`, which wins
//! over `~/.config/aiex/config.toml`. An unknown key, a bad value or a number out of its range
//! is reported with the key's path and its source, dropped, and the rest still applies. What a
//! workspace file may set depends on the user's trust in it ([`trust`]).

mod load;
pub mod reference;
pub mod trust;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use load::{user_config_path, ConfigIssue, ConfigLayers, ConfigSource, LoadedConfig};
pub use trust::{TrustStore, WorkspaceTrust};

use crate::checks::ChecksConfig;
use crate::llm::ProviderConfig;

/// The provider kinds Aiex speaks.
pub const PROVIDER_KINDS: &[&str] = &[
    "openai",
    "openai-compatible",
    "anthropic",
    "gemini",
    "mistral",
    "ollama",
];

/// The name of the provider Aiex uses when none is configured.
pub const IMPLICIT_PROVIDER: &str = "ollama";

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Model providers by the name features refer to them with.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Which providers each AI feature uses, and its settings.
    pub features: FeaturesConfig,
    /// The built-in checks.
    pub checks: ChecksConfig,
    /// The local record of what was sent to which provider.
    pub audit: AuditConfig,
    /// Team mode: one rate limit, budget and cache shared through Redis. The user's only.
    pub team: aiex_team::TeamConfig,
    /// Metrics for monitoring (`aiex metrics` prints them without any setting). The user's only.
    pub telemetry: TelemetryConfig,
    /// How long conversations and checkpoints are kept. The user's only.
    pub sessions: SessionsConfig,
}

/// How long the session database keeps conversations and checkpoints (they hold the user's
/// code and questions). Only the user sets these: a repository must neither keep a
/// developer's conversations forever nor delete them. Applied when the language server or a
/// command that uses sessions starts, after a session is created, and by `aiex sessions prune`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionsConfig {
    /// Delete sessions not written to for this many days (0: keep them whatever their age).
    pub retain_days: u32,
    /// Keep at most this many sessions, the most recently written (0: no limit).
    pub retain_count: usize,
    /// Keep at most this many checkpoints, the newest (0: no limit).
    pub retain_checkpoints: usize,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        Self {
            retain_days: 90,
            retain_count: 500,
            retain_checkpoints: 1_000,
        }
    }
}

impl SessionsConfig {
    /// These settings as the store's retention (0 is no limit).
    pub fn retention(&self) -> aiex_sessions::Retention {
        aiex_sessions::Retention {
            max_age_days: (self.retain_days > 0).then_some(self.retain_days),
            max_sessions: (self.retain_count > 0).then_some(self.retain_count),
            max_checkpoints: (self.retain_checkpoints > 0).then_some(self.retain_checkpoints),
        }
    }
}

/// Where metrics are served. Only the user sets these, even in a trusted workspace: a
/// repository must not open a port on the developer's machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// A loopback address and port (`127.0.0.1:9464`, `[::1]:9464`) where the language server
    /// answers `GET /metrics` with what `aiex metrics` prints (Prometheus text). Any other
    /// address is refused.
    pub prometheus_addr: Option<String>,
    /// An OpenTelemetry collector's OTLP/HTTP address (`http://127.0.0.1:4318`): the language
    /// server sends it the same metrics, as OTLP JSON to `<endpoint>/v1/metrics`, every
    /// `otlp_interval_secs` and once more when it shuts down. Headers a managed collector
    /// needs come from `OTEL_EXPORTER_OTLP_HEADERS` (`key=value,key=value`), never from here.
    pub otlp_endpoint: Option<String>,
    /// Seconds between two exports to `otlp_endpoint` (default 60, 1 to 3,600).
    pub otlp_interval_secs: Option<u64>,
}

/// Seconds between OTLP exports when `otlp_interval_secs` is not set.
pub const DEFAULT_OTLP_INTERVAL_SECS: u64 = 60;

impl TelemetryConfig {
    /// The address to serve metrics on, if any: a loopback socket address, or why the setting
    /// cannot be used.
    pub fn prometheus_socket(&self) -> Result<Option<std::net::SocketAddr>, String> {
        let Some(text) = self.prometheus_addr.as_deref() else {
            return Ok(None);
        };
        let address: std::net::SocketAddr = text.trim().parse().map_err(|_| {
            format!(
                "`{text}` is not an address and port such as `127.0.0.1:9464`; metrics are not \
                 served"
            )
        })?;
        if !address.ip().is_loopback() {
            return Err(format!(
                "`{text}` is not a loopback address: metrics are only served on this machine \
                 (`127.0.0.1` or `[::1]`), so they are not served"
            ));
        }
        Ok(Some(address))
    }

    /// Where to send OTLP metrics, if anywhere: `<endpoint>/v1/metrics` for an `http` or
    /// `https` endpoint, or why the setting cannot be used.
    pub fn otlp_metrics_url(&self) -> Result<Option<String>, String> {
        let Some(text) = self.otlp_endpoint.as_deref() else {
            return Ok(None);
        };
        let trimmed = text.trim();
        let (scheme, rest) = ["http://", "https://"]
            .iter()
            .find_map(|scheme| Some((*scheme, trimmed.strip_prefix(scheme)?)))
            .ok_or_else(|| {
                format!(
                    "`{text}` is not an http:// or https:// address such as \
                     `http://127.0.0.1:4318` (OTLP over HTTP); metrics are not exported"
                )
            })?;
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
            return Err(format!("`{text}` names no host; metrics are not exported"));
        }
        let base = format!("{scheme}{rest}");
        let base = base.strip_suffix("/v1/metrics").unwrap_or(&base);
        Ok(Some(format!("{base}/v1/metrics")))
    }

    /// Time between two OTLP exports.
    pub fn otlp_interval(&self) -> std::time::Duration {
        let secs = self
            .otlp_interval_secs
            .unwrap_or(DEFAULT_OTLP_INTERVAL_SECS)
            .clamp(1, 3_600);
        std::time::Duration::from_secs(secs)
    }
}

/// Settings of the audit log (`audit.jsonl` in the cache directory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Whether provider requests are recorded at all.
    pub enabled: bool,
    /// Whether the prompts themselves are recorded, not only their hashes.
    pub record_prompts: bool,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            record_prompts: false,
        }
    }
}

/// Per-feature settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeaturesConfig {
    /// Inline completions and completion items.
    pub completion: CompletionConfig,
    /// Hover explanations and the explain action.
    pub explain: ExplainConfig,
    /// Code actions: refactor, tests, docs, fixes.
    pub actions: ActionsConfig,
}

impl FeaturesConfig {
    /// Each AI feature's name, whether it is on, and its provider list.
    pub fn list(&self) -> [(&'static str, bool, &[String]); 3] {
        [
            (
                "completion",
                self.completion.enabled,
                &self.completion.providers,
            ),
            ("explain", self.explain.enabled, &self.explain.providers),
            ("actions", self.actions.enabled, &self.actions.providers),
        ]
    }
}

/// Explanation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExplainConfig {
    /// Whether explanations are offered.
    pub enabled: bool,
    /// Providers to try, in order.
    pub providers: Vec<String>,
    /// Whether hovering a function also asks a model to explain it.
    pub hover: bool,
    /// How long a hover waits for the explanation before showing what is known offline
    /// (milliseconds); the explanation is kept for the next hover.
    pub hover_timeout_ms: u64,
}

impl Default for ExplainConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            providers: Vec::new(),
            hover: true,
            hover_timeout_ms: 1_500,
        }
    }
}

/// Completion settings: the common ones and the latency knobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompletionConfig {
    /// Whether completions are offered.
    pub enabled: bool,
    /// Providers to try, in order.
    pub providers: Vec<String>,
    /// Shortest wait after a keystroke before a model is asked (milliseconds).
    pub debounce_min_ms: u64,
    /// Longest such wait (milliseconds); the wait adapts to the typing rhythm in between.
    pub debounce_max_ms: u64,
    /// How long a completion may take before it is given up (milliseconds).
    pub timeout_ms: u64,
    /// Whether whole blocks may be suggested (otherwise one line at most).
    pub multiline: bool,
    /// The prompt's budget in tokens: the text around the cursor and what the context engine
    /// adds from the workspace. The most a prompt carries: a slow model gets less, see
    /// `latency_target_ms`.
    pub context_tokens: usize,
    /// How long the first suggestion at a new place should take (milliseconds). The context
    /// is sized from the provider's learnt reading and writing speed to arrive within it: a
    /// model on a laptop CPU reads 30-90 prompt tokens a second.
    pub latency_target_ms: u64,
    /// How many suggestions to ask for a block (a function body, the lines after `do`): more
    /// than one asks the provider again with sampling, keeps those that parse in place, puts
    /// first the one adding fewest findings of the built-in checks, and offers the others as
    /// alternatives the editor cycles through. Each is a provider request (on a local server
    /// they queue: the first suggestion waits for all).
    pub candidates: usize,
    /// The model's own `tokenizer.json` (relative to the workspace root), so budgets are
    /// counted in its tokens; cl100k counts otherwise. From an untrusted workspace file it is
    /// only kept when it names a file inside the workspace, rewritten to its canonical path.
    pub tokenizer: Option<String>,
}

impl Default for CompletionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            providers: Vec::new(),
            debounce_min_ms: 30,
            debounce_max_ms: 300,
            timeout_ms: 5_000,
            multiline: true,
            context_tokens: 1_536,
            latency_target_ms: 2_500,
            candidates: 1,
            tokenizer: None,
        }
    }
}

/// The AI code actions' settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionsConfig {
    /// Whether the feature is on.
    pub enabled: bool,
    /// Providers to try, in order (failover goes down the list).
    pub providers: Vec<String>,
    /// How many versions an edit (Add docs, Refactor, Fix) is asked in: more than one asks
    /// the provider again with sampling, keeps those that pass the action's own checks, applies
    /// the one adding fewest findings of the built-in checks, and offers the others as code
    /// actions ("use alternative 2 of 3") on the edited function.
    pub candidates: usize,
    /// How long an AI code action (Explain included) may wait for the model, retries, failover
    /// and a second ask included, before it is given up (milliseconds). Unset: the first
    /// provider's `request_timeout_ms` (60 s unless set), for the whole action.
    pub timeout_ms: Option<u64>,
    /// Whether "Generate ExUnit tests", when its tests are run and some fail, sends the failing
    /// tests with `mix test`'s output back to the model once and keeps the repaired tests that
    /// then pass (one more request; `aiex tests --repair` and `mix aiex.gen.test --repair` ask
    /// for it whatever this says).
    pub repair_tests: bool,
}

impl Default for ActionsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            providers: Vec::new(),
            candidates: 1,
            timeout_ms: None,
            repair_tests: false,
        }
    }
}

impl Config {
    /// The providers in effect: the configured ones, or a local Ollama when there are none.
    pub fn effective_providers(&self) -> BTreeMap<String, ProviderConfig> {
        if !self.providers.is_empty() {
            return self.providers.clone();
        }
        let ollama = ProviderConfig {
            kind: "ollama".to_owned(),
            base_url: Some("http://127.0.0.1:11434".to_owned()),
            model: "qwen2.5-coder:1.5b".to_owned(),
            ..ProviderConfig::default()
        };
        BTreeMap::from([(IMPLICIT_PROVIDER.to_owned(), ollama)])
    }

    /// The providers a feature tries, in order: its list, or every provider in effect.
    pub fn feature_providers(&self, listed: &[String]) -> Vec<String> {
        if !listed.is_empty() {
            return listed.to_vec();
        }
        self.effective_providers().into_keys().collect()
    }
}
