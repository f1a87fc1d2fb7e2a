//! Snapshots of the layer's state for `aiex.status` and `aiex doctor`.

use serde::Serialize;

use super::breaker::BreakerState;
use super::cache::CacheStats;

/// The state of one provider.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderStatus {
    /// Configured name.
    pub name: String,
    /// API kind (`ollama`, `anthropic`...).
    pub kind: String,
    /// Configured model.
    pub model: String,
    /// Base URL.
    pub base_url: String,
    /// Circuit breaker state.
    pub breaker: BreakerState,
    /// Consecutive failed attempts.
    pub consecutive_failures: u32,
    /// Requests made (cache hits included).
    pub requests: u64,
    /// Requests that completed.
    pub successes: u64,
    /// Requests that failed after their retries.
    pub failures: u64,
    /// The last error, as the user would read it.
    pub last_error: Option<String>,
    /// How fast it read and wrote, once it has answered.
    pub speed: Option<crate::speed::SpeedEstimate>,
}

/// The whole layer, for `aiex.status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlmStatus {
    /// Every configured provider, by name.
    pub providers: Vec<ProviderStatus>,
    /// The response cache.
    pub cache: CacheStats,
}

/// What `aiex doctor` prints about one provider.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderDescription {
    /// Configured name.
    pub name: String,
    /// API kind.
    pub kind: String,
    /// Base URL.
    pub base_url: String,
    /// Configured model.
    pub model: String,
    /// The environment variable expected to hold the key.
    pub api_key_env: Option<String>,
    /// Whether that variable is set (its value is never shown).
    pub api_key_present: bool,
    /// How fill-in-the-middle is done: `native`, `template:<family>` or `chat`.
    pub fim: String,
    /// Problems to fix before the provider can work.
    pub problems: Vec<String>,
}
