//! Team mode: every editor process of a team shares one rate limit per provider, one budget
//! and one response cache, kept in Redis. [`Team`] implements aiex-llm's [`TeamHooks`], which
//! the provider layer consults after its own limiter and cache; it never replaces them.
//!
//! Architecture invariants:
//! - failure is never worse than no Redis: every call has a short deadline; when Redis is
//!   unreachable the hooks answer "local" at once, the outage is logged once, and a background
//!   task reconnects (`link`);
//! - the shared cache holds the prompt's hash and the answer, nothing else (no path, no prompt);
//! - the Redis password comes from an environment variable, never from a file, and never
//!   appears in a message.

mod config;
mod link;
mod scripts;
mod usage;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aiex_llm::cache::CacheKey;
use aiex_llm::cost::day_string;
use aiex_llm::team::{BoxFuture, TeamAsk, TeamHooks, TeamSettlement, TeamVerdict};
use redis::Script;

pub use config::{current_user, BudgetConfig, TeamConfig};
pub use usage::{TeamUsage, TeamUsageRow};

use link::Link;

/// Answers longer than this are not shared (a cache is for completions and explanations).
const MAX_SHARED_ANSWER_BYTES: usize = 256 * 1024;

/// A team's shared state, reached through one Redis.
pub struct Team {
    link: Arc<Link>,
    config: TeamConfig,
    namespace: String,
    user: String,
    admit: Script,
    finished: Script,
    pause: Script,
    /// Makes each slot's name unique within the process (with the process id and the time).
    next_member: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Team {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("Team")
            .field("namespace", &self.namespace)
            .field("user", &self.user)
            .finish()
    }
}

impl Team {
    /// The team of `config` (which must have a `redis_url`), reading the password through
    /// `env`. Does not connect: the first request does, within its deadline. Fails on a URL
    /// Redis cannot use, or a password variable that is not set.
    pub fn new(
        config: &TeamConfig,
        user: String,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Arc<Self>, String> {
        let url = config
            .redis_url
            .as_deref()
            .ok_or("team.redis_url is not set")?;
        let shown_url = aiex_llm::config::mask_url_credentials(url);
        let mut info = redis::IntoConnectionInfo::into_connection_info(url)
            .map_err(|error| format!("team.redis_url {shown_url}: {error}"))?;
        if let Some(var) = &config.password_env {
            let password = env(var).filter(|p| !p.is_empty()).ok_or_else(|| {
                format!("the environment variable {var} (team.password_env) is not set")
            })?;
            info.redis.password = Some(password);
        }
        if let Some(username) = &config.username {
            info.redis.username = Some(username.clone());
        }
        let client = redis::Client::open(info)
            .map_err(|error| format!("team.redis_url {shown_url}: {error}"))?;
        Ok(Arc::new(Self {
            link: Link::new(client, shown_url, config.timeout()),
            config: config.clone(),
            namespace: config.namespace(),
            user,
            admit: Script::new(scripts::ADMIT),
            finished: Script::new(scripts::FINISHED),
            pause: Script::new(scripts::PAUSE),
            next_member: std::sync::atomic::AtomicU64::new(0),
        }))
    }

    /// Whether the last call reached Redis (for `aiex.status` and `aiex doctor`).
    pub fn is_connected(&self) -> bool {
        self.link.is_up()
    }

    /// The user spend is counted for.
    pub fn user(&self) -> &str {
        &self.user
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.namespace)
    }

    /// The four spend counters, in the order of the budget's caps.
    fn spend_keys(&self) -> [String; 4] {
        let day = day_string(SystemTime::now());
        let month = &day[..7];
        let user = &self.user;
        [
            self.key(&format!("spend:team:day:{day}")),
            self.key(&format!("spend:team:month:{month}")),
            self.key(&format!("spend:user:{user}:day:{day}")),
            self.key(&format!("spend:user:{user}:month:{month}")),
        ]
    }

    fn cache_key(&self, key: &CacheKey) -> String {
        self.key(&format!("cache:{}", key.to_hex()))
    }

    async fn admit_now(&self, ask: TeamAsk<'_>) -> TeamVerdict {
        let budget = self.config.budget;
        let caps = [
            budget.team_daily_usd,
            budget.team_monthly_usd,
            budget.user_daily_usd,
            budget.user_monthly_usd,
        ];
        let mut invocation = self.admit.prepare_invoke();
        invocation
            .key(self.key(&format!("rl:{}:requests", ask.limit_key)))
            .key(self.key(&format!("rl:{}:tokens", ask.limit_key)))
            .key(self.key(&format!("pause:{}", ask.limit_key)));
        for key in self.spend_keys() {
            invocation.key(key);
        }
        invocation
            .arg(ask.rpm.unwrap_or(0))
            .arg(ask.tpm.unwrap_or(0))
            .arg(ask.tokens)
            .arg(ask.max_wait.as_millis() as u64)
            .arg(self.unique_member())
            .arg(ask.max_cost_usd);
        for cap in caps {
            invocation.arg(cap.unwrap_or(-1.0));
        }
        let reply = self
            .link
            .run(|mut connection| async move {
                invocation
                    .invoke_async::<(i64, i64, Option<String>)>(&mut connection)
                    .await
            })
            .await;
        match reply {
            None => TeamVerdict::Local,
            Some((1, wait, _)) => TeamVerdict::Go {
                wait: Duration::from_millis(wait.max(0) as u64),
            },
            Some((0, wait, _)) => TeamVerdict::TooLate {
                wait: Duration::from_millis(wait.max(0) as u64),
            },
            Some((_, which, spent)) => {
                let index = (which.clamp(1, 4) - 1) as usize;
                let (who, period) = [
                    ("the team", "today"),
                    ("the team", "this month"),
                    ("you", "today"),
                    ("you", "this month"),
                ][index];
                let key = [
                    "team_daily_usd",
                    "team_monthly_usd",
                    "user_daily_usd",
                    "user_monthly_usd",
                ][index];
                let spent: f64 = spent.and_then(|s| s.parse().ok()).unwrap_or(0.0);
                TeamVerdict::OverBudget(format!(
                    "the request could cost up to ${:.4} and {who} already spent ${spent:.4} of \
                     the ${:.2} allowed {period} (team.budget.{key}); it was not sent. `aiex \
                     usage --team` shows the spend",
                    ask.max_cost_usd,
                    caps[index].unwrap_or(0.0)
                ))
            }
        }
    }

    async fn cached_now(&self, key: &CacheKey) -> Option<String> {
        let name = self.cache_key(key);
        self.link
            .run(|mut connection| async move {
                redis::cmd("GET")
                    .arg(name)
                    .query_async::<Option<String>>(&mut connection)
                    .await
            })
            .await
            .flatten()
    }

    async fn settle_now(&self, settlement: TeamSettlement<'_>) {
        let mut invocation = self.finished.prepare_invoke();
        for spend in self.spend_keys() {
            invocation.key(spend);
        }
        let day = day_string(SystemTime::now());
        let (cache_key, shared) = match settlement.answer {
            Some((key, text)) if text.len() <= MAX_SHARED_ANSWER_BYTES => {
                (self.cache_key(key), text)
            }
            // Nothing to share: the script leaves the answer's key alone.
            _ => (self.key("cache-index"), ""),
        };
        invocation
            .key(self.key(&format!("usage:{day}")))
            .key(cache_key)
            .key(self.key("cache-index"));
        let usage = settlement.usage;
        let counted = settlement.answer.is_some() || usage.input_tokens + usage.output_tokens > 0;
        invocation
            .arg(settlement.cost_usd)
            .arg(usage.input_tokens)
            .arg(usage.output_tokens)
            .arg(usage::field_prefix(
                &self.user,
                settlement.provider,
                settlement.model,
            ))
            .arg(shared)
            .arg(self.config.cache_ttl().as_millis() as u64)
            .arg(self.config.cache_max_entries())
            .arg(settlement.reserved_usd)
            .arg(if counted { "1" } else { "0" });
        self.link
            .run(|mut connection| async move {
                invocation.invoke_async::<i64>(&mut connection).await
            })
            .await;
    }

    async fn pause_now(&self, limit_key: &str, wait: Duration) {
        let mut invocation = self.pause.prepare_invoke();
        invocation
            .key(self.key(&format!("pause:{limit_key}")))
            .arg((wait.as_millis() as u64).max(1));
        self.link
            .run(|mut connection| async move {
                invocation.invoke_async::<i64>(&mut connection).await
            })
            .await;
    }

    /// A name no other slot of any process has: process id, time, and a counter.
    fn unique_member(&self) -> String {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let count = self
            .next_member
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{}-{nanos}-{count}", std::process::id())
    }

    /// The team's spend and usage over the last 30 days, with its caps; `None` when Redis
    /// cannot be reached.
    pub async fn usage(&self) -> Option<TeamUsage> {
        usage::read(self).await
    }
}

impl TeamHooks for Team {
    fn has_budget(&self) -> bool {
        let budget = self.config.budget;
        [
            budget.team_daily_usd,
            budget.team_monthly_usd,
            budget.user_daily_usd,
            budget.user_monthly_usd,
        ]
        .iter()
        .any(Option::is_some)
    }

    fn admit<'a>(&'a self, ask: TeamAsk<'a>) -> BoxFuture<'a, TeamVerdict> {
        Box::pin(self.admit_now(ask))
    }

    fn cached<'a>(&'a self, key: &'a CacheKey) -> BoxFuture<'a, Option<String>> {
        Box::pin(self.cached_now(key))
    }

    fn settle<'a>(&'a self, settlement: TeamSettlement<'a>) -> BoxFuture<'a, ()> {
        Box::pin(self.settle_now(settlement))
    }

    fn pause<'a>(&'a self, limit_key: &'a str, wait: Duration) -> BoxFuture<'a, ()> {
        Box::pin(self.pause_now(limit_key, wait))
    }
}
