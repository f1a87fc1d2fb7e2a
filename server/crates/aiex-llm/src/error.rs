//! The typed errors of the LLM layer, and how each one is treated by retries, breakers and
//! failover.

use std::time::Duration;

use thiserror::Error;

/// Which wait ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// Opening the TCP/TLS connection.
    Connect,
    /// Waiting for the response headers.
    FirstByte,
    /// Waiting for the next chunk of a stream.
    Idle,
    /// The request's own deadline.
    Deadline,
}

impl std::fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Connect => "connecting",
            Self::FirstByte => "waiting for the first byte",
            Self::Idle => "waiting for the next chunk of the stream",
            Self::Deadline => "before the request's deadline",
        })
    }
}

/// Everything that can go wrong with a model request. Messages name the provider (by its
/// configured name) and never contain an API key.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LlmError {
    /// The provider refused the credentials.
    #[error("{provider}: authentication failed: {message} (check the API key in the environment variable named by `api_key_env`)")]
    Auth {
        /// Configured provider name.
        provider: String,
        /// The provider's explanation.
        message: String,
    },
    /// The provider's rate limit was hit.
    #[error("{provider}: rate limited: {message}{}", fmt_after(*retry_after))]
    RateLimited {
        /// Configured provider name.
        provider: String,
        /// The provider's explanation.
        message: String,
        /// When the provider said to try again.
        retry_after: Option<Duration>,
    },
    /// Aiex's own rate limiter would have had to wait past the deadline.
    #[error("{provider}: local rate limit (`rpm`/`tpm`) reached; next slot in {wait:?}, after the request's deadline")]
    LocalRateLimit {
        /// Configured provider name.
        provider: String,
        /// How long the request would have had to wait.
        wait: Duration,
    },
    /// The team's shared rate limit (team mode) would have had to wait past the deadline.
    #[error("{provider}: the team's rate limit (`rpm`/`tpm`, shared by every editor of the team) is reached; next slot in {wait:?}, after the request's deadline")]
    TeamRateLimit {
        /// Configured provider name.
        provider: String,
        /// How long the request would have had to wait.
        wait: Duration,
    },
    /// A hard budget cap (team mode) would be passed; nothing was sent.
    #[error("{provider}: refused: {message}")]
    OverBudget {
        /// Configured provider name.
        provider: String,
        /// Which cap, what was spent, and what to do.
        message: String,
    },
    /// The provider is overloaded (HTTP 529/503, or an overload event in a stream).
    #[error("{provider}: overloaded: {message}{}", fmt_after(*retry_after))]
    Overloaded {
        /// Configured provider name.
        provider: String,
        /// The provider's explanation.
        message: String,
        /// When the provider said to try again.
        retry_after: Option<Duration>,
    },
    /// The prompt does not fit the model's context window.
    #[error("{provider}: the prompt is too long for the model: {message}")]
    ContextTooLong {
        /// Configured provider name.
        provider: String,
        /// The provider's explanation.
        message: String,
    },
    /// The provider rejected the request as malformed or unsupported.
    #[error("{provider}: bad request: {message}")]
    BadRequest {
        /// Configured provider name.
        provider: String,
        /// The provider's explanation.
        message: String,
    },
    /// The provider failed (HTTP 5xx).
    #[error("{provider}: server error {status}: {message}")]
    Server {
        /// Configured provider name.
        provider: String,
        /// HTTP status.
        status: u16,
        /// The provider's explanation.
        message: String,
    },
    /// A wait ran out.
    #[error("{provider}: {}", fmt_timeout(*phase, *after))]
    Timeout {
        /// Configured provider name.
        provider: String,
        /// Which wait.
        phase: TimeoutPhase,
        /// How long it was.
        after: Duration,
    },
    /// The connection failed or broke.
    #[error("{provider}: network error: {message}")]
    Network {
        /// Configured provider name.
        provider: String,
        /// What failed.
        message: String,
    },
    /// The request was cancelled by the caller.
    #[error("the request was cancelled")]
    Cancelled,
    /// The provider answered something Aiex cannot read.
    #[error("{provider}: malformed response: {message}")]
    Malformed {
        /// Configured provider name.
        provider: String,
        /// What was wrong.
        message: String,
    },
    /// The provider's circuit breaker is open after repeated failures.
    #[error("{provider}: skipped after {failures} consecutive failures; next try in {retry_in:?}")]
    CircuitOpen {
        /// Configured provider name.
        provider: String,
        /// Consecutive failures seen.
        failures: u32,
        /// Time until a probe is allowed.
        retry_in: Duration,
    },
    /// The provider cannot be used as configured.
    #[error("{provider}: {message}")]
    Config {
        /// Configured provider name.
        provider: String,
        /// What to fix.
        message: String,
    },
    /// Every provider of a chain failed; the errors are in chain order.
    #[error("all providers failed: {}", join_errors(.0))]
    AllFailed(Vec<LlmError>),
}

/// A wait that ran out: the provider's own waits with their length; the request's deadline
/// without one (the length it reports is the phase's, not the deadline's: the caller, who set
/// the deadline, says how long it was).
fn fmt_timeout(phase: TimeoutPhase, after: Duration) -> String {
    match phase {
        TimeoutPhase::Deadline => "no answer by the request's deadline".to_owned(),
        _ => format!("timed out {phase} (after {after:?})"),
    }
}

fn fmt_after(after: Option<Duration>) -> String {
    after
        .map(|d| format!(" (retry after {d:?})"))
        .unwrap_or_default()
}

fn join_errors(errors: &[LlmError]) -> String {
    if errors.is_empty() {
        return "no provider is configured for this feature".to_owned();
    }
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl LlmError {
    /// True when the same request may succeed if sent again to the same provider.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. }
            | Self::Overloaded { .. }
            | Self::Server { .. }
            | Self::Network { .. } => true,
            Self::Timeout { phase, .. } => *phase != TimeoutPhase::Deadline,
            _ => false,
        }
    }

    /// True when the failure says something about the provider's health (it counts towards
    /// opening its circuit breaker); a bad request or a cancellation does not.
    pub fn is_provider_failure(&self) -> bool {
        self.is_retryable() || matches!(self, Self::Malformed { .. })
    }

    /// True when another provider of a chain may still answer: not after a cancellation or once
    /// the request's own deadline has passed.
    pub fn allows_failover(&self) -> bool {
        !matches!(
            self,
            Self::Cancelled
                | Self::Timeout {
                    phase: TimeoutPhase::Deadline,
                    ..
                }
        )
    }

    /// The wait the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Overloaded { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// A short machine-friendly name of the kind of error, for status reports and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Auth { .. } => "auth",
            Self::RateLimited { .. } => "rate_limited",
            Self::LocalRateLimit { .. } => "local_rate_limit",
            Self::TeamRateLimit { .. } => "team_rate_limit",
            Self::OverBudget { .. } => "over_budget",
            Self::Overloaded { .. } => "overloaded",
            Self::ContextTooLong { .. } => "context_too_long",
            Self::BadRequest { .. } => "bad_request",
            Self::Server { .. } => "server_error",
            Self::Timeout { .. } => "timeout",
            Self::Network { .. } => "network",
            Self::Cancelled => "cancelled",
            Self::Malformed { .. } => "malformed_response",
            Self::CircuitOpen { .. } => "circuit_open",
            Self::Config { .. } => "config",
            Self::AllFailed(_) => "all_failed",
        }
    }
}

impl LlmError {
    /// The same error with every occurrence of `secret` in its messages replaced, for provider
    /// messages that echo the key they were sent (OpenAI's 401 does).
    pub fn redacted(self, secret: &str) -> Self {
        // Keys shorter than this would match ordinary words; real keys are far longer.
        if secret.len() < 8 {
            return self;
        }
        let clean = |message: String| {
            if message.contains(secret) {
                message.replace(secret, "[redacted]")
            } else {
                message
            }
        };
        match self {
            Self::Auth { provider, message } => Self::Auth {
                provider,
                message: clean(message),
            },
            Self::RateLimited {
                provider,
                message,
                retry_after,
            } => Self::RateLimited {
                provider,
                message: clean(message),
                retry_after,
            },
            Self::Overloaded {
                provider,
                message,
                retry_after,
            } => Self::Overloaded {
                provider,
                message: clean(message),
                retry_after,
            },
            Self::ContextTooLong { provider, message } => Self::ContextTooLong {
                provider,
                message: clean(message),
            },
            Self::BadRequest { provider, message } => Self::BadRequest {
                provider,
                message: clean(message),
            },
            Self::Server {
                provider,
                status,
                message,
            } => Self::Server {
                provider,
                status,
                message: clean(message),
            },
            Self::Network { provider, message } => Self::Network {
                provider,
                message: clean(message),
            },
            Self::Malformed { provider, message } => Self::Malformed {
                provider,
                message: clean(message),
            },
            Self::Config { provider, message } => Self::Config {
                provider,
                message: clean(message),
            },
            Self::AllFailed(errors) => {
                Self::AllFailed(errors.into_iter().map(|e| e.redacted(secret)).collect())
            }
            other => other,
        }
    }
}
