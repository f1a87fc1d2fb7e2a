//! The LLM layer: one interface over every model provider, with streaming, retries, rate limits,
//! circuit breakers, failover, deadlines, cancellation, a response cache and cost accounting.
//!
//! Entry points: [`Providers`] (built from the configuration), [`ProviderChain`] (a feature's
//! ordered providers), [`LlmRequest`] in, [`LlmStream`] / [`LlmResponse`] out. See
//! `ARCHITECTURE-llm.md` beside this file.

pub mod adapters;
pub mod breaker;
pub mod cache;
pub mod chain;
pub mod config;
pub mod cost;
pub mod error;
pub mod fim;
pub mod framing;
pub mod limiter;
pub mod provider;
pub mod providers;
pub mod retry;
pub mod speed;
pub mod status;
pub mod stream;
pub mod team;
pub mod tokens;
pub mod transport;
pub mod types;

pub use chain::ProviderChain;
pub use config::{PriceConfig, ProviderConfig};
pub use cost::UsageSummary;
pub use error::{LlmError, TimeoutPhase};
pub use provider::Provider;
pub use providers::{DoctorReport, LlmOptions, Providers};
pub use speed::{SpeedBook, SpeedEstimate};
pub use status::{LlmStatus, ProviderDescription, ProviderStatus};
pub use stream::LlmStream;
pub use team::{team_limit_key, TeamAsk, TeamHooks, TeamSettlement, TeamVerdict};
pub use types::{
    FinishReason, LlmRequest, LlmResponse, Message, Prompt, Role, StreamEvent, Timings, Usage,
};
