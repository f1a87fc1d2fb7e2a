//! Hooks through which state shared by several Aiex processes takes part in each request: a
//! team's rate limits and `Retry-After` pauses, its budget, its response cache and its spend.
//! `aiex-team` implements them on Redis; this layer stays free of any store. The hooks layer
//! over the local limiter, cache and ledger, never replace them: when the hooks have nothing to
//! say (no team, or its store unreachable) a request is served exactly as without them.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::cache::CacheKey;
use super::types::Usage;

/// A boxed future, as the hooks return (this crate has no `async-trait`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a request asks of the team before it is sent.
#[derive(Debug, Clone, Copy)]
pub struct TeamAsk<'a> {
    /// What the shared limits and pauses are kept under: a hash of the provider's API kind,
    /// endpoint and model (what the provider's own limits are per), not its configured name,
    /// so teammates who name one account differently still share its limit
    /// ([`team_limit_key`]).
    pub limit_key: &'a str,
    /// The provider's requests per minute, shared by the team; `None`: unlimited.
    pub rpm: Option<u32>,
    /// The provider's tokens per minute, shared by the team; `None`: unlimited.
    pub tpm: Option<u32>,
    /// Tokens the request may use (prompt estimate plus `max_tokens`); 0 when `tpm` is unset.
    pub tokens: u64,
    /// What the request may cost at most, in US dollars (for the budget's hard caps). A
    /// request let through reserves it against the caps until it is settled
    /// ([`TeamHooks::settle`]), so requests running at once cannot pass a cap together.
    pub max_cost_usd: f64,
    /// How long the request may wait for its slot (until its deadline).
    pub max_wait: Duration,
}

/// The team's answer to a [`TeamAsk`].
#[derive(Debug, Clone, PartialEq)]
pub enum TeamVerdict {
    /// The slot is taken and the request's most cost reserved; send after `wait`.
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

    /// Settles a request [`TeamHooks::admit`] let through: its reservation is replaced by what
    /// it cost (added to the team's and the user's spend), and a complete answer is shared.
    /// Awaited before the answer is handed out, so a process that exits right after (`aiex
    /// complete`) has shared it; one round trip.
    fn settle<'a>(&'a self, settlement: TeamSettlement<'a>) -> BoxFuture<'a, ()>;

    /// Tells every process of the team that the provider behind `limit_key` asked to wait
    /// `wait` (`Retry-After`).
    fn pause<'a>(&'a self, limit_key: &'a str, wait: Duration) -> BoxFuture<'a, ()>;
}

/// How a request the team let through ended: what it reserved, what it cost, and the answer to
/// share when it is complete.
#[derive(Debug, Clone, Copy)]
pub struct TeamSettlement<'a> {
    /// What [`TeamHooks::admit`] reserved ([`TeamAsk::max_cost_usd`]; 0 when it answered
    /// [`TeamVerdict::Local`]).
    pub reserved_usd: f64,
    /// What the request cost, in US dollars: a complete answer's, or for one that never
    /// finished (cancelled, abandoned, broken off) its prompt and what streamed; 0 for an
    /// attempt the provider refused.
    pub cost_usd: f64,
    /// Configured provider name.
    pub provider: &'a str,
    /// Model name.
    pub model: &'a str,
    /// Tokens used; a request with none (a refused attempt) is not counted in the usage.
    pub usage: Usage,
    /// A complete, successful answer's text, to share under its key.
    pub answer: Option<(&'a CacheKey, &'a str)>,
}

/// The name a team keeps one provider account's limits under: a hash of its API kind, base URL
/// and model, so every editor reaching the same endpoint and model shares them whatever it
/// calls the provider, and the key says nothing about the endpoint.
pub fn team_limit_key(kind: &str, base_url: &str, model: &str) -> String {
    let hash = CacheKey::from_parts(&[
        b"team-limit",
        kind.as_bytes(),
        base_url.trim_end_matches('/').as_bytes(),
        model.as_bytes(),
    ])
    .to_hex();
    hash[..24].to_owned()
}
