//! The `[team]` section of the configuration. The user's (user file or editor settings) only:
//! a workspace's `.aiex.toml` never decides where a team's state lives or what it spends.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Team mode: set `redis_url` to share one rate limit, one budget and one response cache with
/// every editor of the team. Without it nothing changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TeamConfig {
    /// `redis://host:port/db` or `rediss://` (TLS). Never holds the password: see
    /// `password_env`.
    pub redis_url: Option<String>,
    /// The environment variable holding the Redis password.
    pub password_env: Option<String>,
    /// The Redis user (ACL), with `password_env`.
    pub username: Option<String>,
    /// The team's name: every key is under `aiex:<name>:` (default `default`), so teams can
    /// share one Redis.
    pub name: Option<String>,
    /// Longest wait for any one Redis call, in milliseconds (default 100); past it the
    /// request goes on with this process's own limits and cache.
    pub timeout_ms: Option<u64>,
    /// How long a shared answer stays, in seconds (default 86 400).
    pub cache_ttl_secs: Option<u64>,
    /// How many answers the shared cache holds at most (default 10 000; the oldest go first).
    pub cache_max_entries: Option<u64>,
    /// Hard spending caps.
    pub budget: BudgetConfig,
}

/// Hard caps on spend, in US dollars (the currency the providers bill and the price table
/// uses). A request that could pass one is refused before it is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// The whole team, per UTC day.
    pub team_daily_usd: Option<f64>,
    /// The whole team, per UTC month.
    pub team_monthly_usd: Option<f64>,
    /// Each user (`AIEX_USER`, or the OS user), per UTC day.
    pub user_daily_usd: Option<f64>,
    /// Each user, per UTC month.
    pub user_monthly_usd: Option<f64>,
}

impl TeamConfig {
    /// Whether team mode is on.
    pub fn enabled(&self) -> bool {
        self.redis_url.is_some()
    }

    pub(crate) fn namespace(&self) -> String {
        format!("aiex:{}:", self.name.as_deref().unwrap_or("default"))
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.unwrap_or(100))
    }

    pub(crate) fn cache_ttl(&self) -> Duration {
        Duration::from_secs(self.cache_ttl_secs.unwrap_or(86_400))
    }

    pub(crate) fn cache_max_entries(&self) -> u64 {
        self.cache_max_entries.unwrap_or(10_000)
    }
}

/// Who is spending: `AIEX_USER`, else the OS user, else `unknown`.
pub fn current_user() -> String {
    ["AIEX_USER", "USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}
