//! The set of configured providers: built once from the configuration, shared by every feature,
//! and the source of chains, status, usage and `aiex doctor` reports.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::cache::ResponseCache;
use super::chain::ProviderChain;
use super::config::ProviderConfig;
use super::cost::{default_ledger_path, UsageLedger, UsageSummary};
use super::provider::{Provider, Shared};
use super::speed::SpeedBook;
use super::status::{LlmStatus, ProviderDescription};

/// Settings of the layer as a whole (not per provider).
#[derive(Debug, Clone)]
pub struct LlmOptions {
    /// TCP (and TLS) connect timeout of the shared HTTP client.
    pub connect_timeout: Duration,
    /// Byte bound of the response cache; 0 disables it.
    pub cache_max_bytes: usize,
    /// How long a cached response stays valid.
    pub cache_ttl: Duration,
    /// Where usage totals are kept; `None` keeps them in memory only.
    pub usage_path: Option<PathBuf>,
    /// Shortest time between two writes of the usage file.
    pub usage_flush_interval: Duration,
    /// Where the learnt provider speeds are kept; `None` keeps them in memory only.
    pub speeds_path: Option<PathBuf>,
}

impl Default for LlmOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            cache_max_bytes: 4 * 1024 * 1024,
            cache_ttl: Duration::from_secs(300),
            usage_path: default_ledger_path(),
            usage_flush_interval: Duration::from_secs(10),
            speeds_path: crate::speed::default_speeds_path(),
        }
    }
}

/// A provider's configuration and what a live check found, for `aiex doctor`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoctorReport {
    /// The configuration as understood.
    pub provider: ProviderDescription,
    /// The models the server lists, or why they could not be listed.
    pub models: Result<Vec<String>, String>,
    /// Whether the configured model is among them (`None` when the list is unavailable).
    pub model_available: Option<bool>,
}

impl DoctorReport {
    /// A few human-readable lines for `aiex doctor`.
    pub fn to_text(&self) -> String {
        let p = &self.provider;
        let key = match (&p.api_key_env, p.api_key_present) {
            (Some(var), true) => format!("key from {var}"),
            (Some(var), false) => format!("key variable {var} NOT SET"),
            (None, _) => "no key".to_owned(),
        };
        let mut out = format!(
            "{} ({}, {}) model {}, {key}, fill-in-the-middle: {}\n",
            p.name, p.kind, p.base_url, p.model, p.fim
        );
        match (&self.models, self.model_available) {
            (Ok(models), Some(false)) => out.push_str(&format!(
                "  model {} not offered; the server lists: {}\n",
                p.model,
                models.join(", ")
            )),
            (Ok(models), _) => {
                out.push_str(&format!("  reachable, {} models listed\n", models.len()))
            }
            (Err(error), _) => out.push_str(&format!("  unreachable: {error}\n")),
        }
        for problem in &p.problems {
            out.push_str(&format!("  problem: {problem}\n"));
        }
        out
    }
}

/// Every configured provider.
pub struct Providers {
    by_name: BTreeMap<String, Arc<Provider>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("names", &self.by_name.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Providers {
    /// Builds the providers from `providers.*` of the configuration, reading API keys from the
    /// process environment. Returns the problems found (by configuration path) alongside: a
    /// provider with an unknown kind is left out, the others still work.
    pub fn from_config<'a>(
        configs: impl IntoIterator<Item = (&'a String, &'a ProviderConfig)>,
        options: LlmOptions,
    ) -> (Self, Vec<String>) {
        Self::with_env(configs, options, &|name| std::env::var(name).ok())
    }

    /// Like `from_config`, reading environment variables through `env`.
    pub fn with_env<'a>(
        configs: impl IntoIterator<Item = (&'a String, &'a ProviderConfig)>,
        options: LlmOptions,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> (Self, Vec<String>) {
        let mut problems = Vec::new();
        let client = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("aiex/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|error| {
                // Only a broken TLS setup fails here; a default client still serves plain HTTP
                // (a local Ollama) rather than killing the server.
                problems.push(format!(
                    "HTTP client setup failed ({error}); using defaults"
                ));
                reqwest::Client::new()
            });
        let shared = Arc::new(Shared {
            client,
            cache: ResponseCache::new(options.cache_max_bytes, options.cache_ttl),
            ledger: UsageLedger::open(options.usage_path, options.usage_flush_interval),
            speeds: SpeedBook::open(options.speeds_path, options.usage_flush_interval),
            team: std::sync::RwLock::new(None),
        });
        let mut by_name = BTreeMap::new();
        for (name, config) in configs {
            match Provider::new(name, config, env, Arc::clone(&shared)) {
                Ok(provider) => {
                    problems.extend(provider.describe().problems);
                    by_name.insert(name.clone(), Arc::new(provider));
                }
                Err(problem) => problems.push(problem),
            }
        }
        (Self { by_name, shared }, problems)
    }

    /// The providers of a changed configuration (`workspace/didChangeConfiguration`), sharing
    /// this set's HTTP client, response cache and usage ledger (two ledgers on one file would
    /// overwrite each other). A provider whose configuration did not change is kept as is, with
    /// its breaker, limiter and counters.
    pub fn reconfigure<'a>(
        &self,
        configs: impl IntoIterator<Item = (&'a String, &'a ProviderConfig)>,
    ) -> (Self, Vec<String>) {
        self.reconfigure_with_env(configs, &|name| std::env::var(name).ok())
    }

    /// Like `reconfigure`, reading environment variables through `env`.
    pub fn reconfigure_with_env<'a>(
        &self,
        configs: impl IntoIterator<Item = (&'a String, &'a ProviderConfig)>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> (Self, Vec<String>) {
        let mut problems = Vec::new();
        let mut by_name = BTreeMap::new();
        for (name, config) in configs {
            if let Some(kept) = self.by_name.get(name).filter(|p| p.config() == config) {
                problems.extend(kept.describe().problems);
                by_name.insert(name.clone(), Arc::clone(kept));
                continue;
            }
            match Provider::new(name, config, env, Arc::clone(&self.shared)) {
                Ok(provider) => {
                    problems.extend(provider.describe().problems);
                    by_name.insert(name.clone(), Arc::new(provider));
                }
                Err(problem) => problems.push(problem),
            }
        }
        (
            Self {
                by_name,
                shared: Arc::clone(&self.shared),
            },
            problems,
        )
    }

    /// The provider Aiex tries when nothing is configured: a local Ollama.
    pub fn default_local_config() -> (String, ProviderConfig) {
        let config = ProviderConfig {
            kind: "ollama".to_owned(),
            base_url: Some("http://127.0.0.1:11434".to_owned()),
            model: "qwen2.5-coder:1.5b".to_owned(),
            ..Default::default()
        };
        ("local".to_owned(), config)
    }

    /// The provider named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Provider>> {
        self.by_name.get(name)
    }

    /// The chain of a feature, from its ordered provider names; unknown names are returned
    /// so the caller can report them.
    pub fn chain<S: AsRef<str>>(&self, names: &[S]) -> (ProviderChain, Vec<String>) {
        let mut unknown = Vec::new();
        let mut providers = Vec::new();
        for name in names {
            match self.by_name.get(name.as_ref()) {
                Some(provider) => providers.push(Arc::clone(provider)),
                None => unknown.push(name.as_ref().to_owned()),
            }
        }
        (ProviderChain::new(providers), unknown)
    }

    /// Breakers, counters and cache figures, for `aiex.status`.
    pub fn status(&self) -> LlmStatus {
        LlmStatus {
            providers: self.by_name.values().map(|p| p.status()).collect(),
            cache: self.shared.cache.stats(),
        }
    }

    /// Turns team mode on (`Some`) or off for every provider of this set and those
    /// `reconfigure` derives from it.
    pub fn set_team(&self, team: Option<std::sync::Arc<dyn crate::team::TeamHooks>>) {
        *self
            .shared
            .team
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = team;
    }

    /// Whether team mode is on.
    pub fn has_team(&self) -> bool {
        self.shared.team().is_some()
    }

    /// Usage and cost totals, for `aiex doctor` and `aiex.usage`.
    pub fn usage(&self) -> UsageSummary {
        self.shared.ledger.summary()
    }

    /// Writes pending usage totals to disk (call at shutdown; they are also written as they come).
    pub fn flush_usage(&self) -> std::io::Result<()> {
        self.shared.ledger.flush()
    }

    /// Each provider's configuration and live model list, checked concurrently.
    pub async fn doctor(&self) -> Vec<DoctorReport> {
        let checks = self.by_name.values().map(|provider| async move {
            let description = provider.describe();
            let models = provider.list_models().await.map_err(|e| e.to_string());
            let model_available = models.as_ref().ok().map(|names| {
                names.iter().any(|name| {
                    name == &description.model
                        // Ollama lists `qwen2.5-coder:1.5b`; a config may omit `:latest`.
                        || name.strip_suffix(":latest") == Some(description.model.as_str())
                })
            });
            DoctorReport {
                provider: description,
                models,
                model_available,
            }
        });
        futures::future::join_all(checks).await
    }
}
