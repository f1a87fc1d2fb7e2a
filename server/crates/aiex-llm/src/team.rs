//! Hooks through which state shared by several Aiex processes takes part in each request: a
//! team's rate limits and `Retry-After` pauses, its budget, its response cache and its spend.
//! `aiex-team` implements them on Redis; this layer stays free of any store. The hooks layer
//! over the local limiter, cache and ledger, never replace them: when the hooks have nothing to
//! say (no team, or its store unreachable) a request is served exactly as without them.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::cache::CacheKey;
use super::types::LlmResponse;

/// A boxed future, as the hooks return (this crate has no `async-trait`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a request asks of the team before it is sent.
#[derive(Debug, Clone, Copy)]
pub struct TeamAsk<'a> {
    /// Configured provider name (the limits and pauses are per provider).
    pub provider: &'a str,
    /// The provider's requests per minute, shared by the team; `None`: unlimited.
    pub rpm: Option<u32>,
    /// The provider's tokens per minute, shared by the team; `None`: unlimited.
    pub tpm: Option<u32>,
    /// Tokens the request may use (prompt estimate plus `max_tokens`); 0 when `tpm` is unset.
    pub tokens: u64,
    /// What the request may cost at most, in US dollars (for the budget's hard caps).
    pub max_cost_usd: f64,
    /// How long the request may wait for its slot (until its deadline).
    pub max_wait: Duration,
}

/// The team's answer to a [`TeamAsk`].
#[derive(Debug, Clone, PartialEq)]
pub enum TeamVerdict {
    /// The slot is taken; send after `wait`.
    Go {
        /// How long to wait first.
        wait: Duration,
    },
    /// The team's next slot comes after the request's deadline; nothing was taken.
    TooLate {
        /// How long the request would have had to wait.
        wait: Duration,
    },
    /// A hard budget cap would be passed; the message says which and what was spent.
    OverBudget(String),
    /// No team state to ask (no team mode, or its store unreachable): local limits apply.
    Local,
}

/// State shared by the processes of a team. Every method must end quickly (its implementation
/// bounds each call by a short deadline) and never fail: a failure answers as if there were no
/// team ([`TeamVerdict::Local`], no cached answer), so a team is never worse than none.
pub trait TeamHooks: Send + Sync {
    /// Whether the team caps spend: only then does a request need its cost estimated (a
    /// tokenizer pass over the prompt).
    fn has_budget(&self) -> bool;

    /// Takes a slot of the team's rate limits, after any pause a provider asked for, within
    /// the team's and the user's budget.
    fn admit<'a>(&'a self, ask: TeamAsk<'a>) -> BoxFuture<'a, TeamVerdict>;

    /// The team's cached answer (its text) to the request hashed as `key`.
    fn cached<'a>(&'a self, key: &'a CacheKey) -> BoxFuture<'a, Option<String>>;

    /// Shares a complete, successful answer (its text, under `key`) and adds its cost to the
    /// team's and the user's spend. Awaited before the answer is handed out, so a process that
    /// exits right after (`aiex complete`) has shared it; one round trip.
    fn finished<'a>(&'a self, key: &'a CacheKey, response: &'a LlmResponse) -> BoxFuture<'a, ()>;

    /// Tells every process of the team that `provider` asked to wait `wait` (`Retry-After`).
    fn pause<'a>(&'a self, provider: &'a str, wait: Duration) -> BoxFuture<'a, ()>;
}
