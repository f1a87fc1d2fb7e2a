//! One configured provider: its adapter, rate limiter, circuit breaker and retry policy, and the
//! request flow through them (cache, limiter, breaker, attempts with backoff, stream, result).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::time::Instant;

use super::adapters::{self, Endpoint, ProviderKind};
use super::breaker::{BreakerPermit, BreakerState, CircuitBreaker};
use super::cache::{CacheKey, ResponseCache};
use super::config::ProviderConfig;
use super::cost::{self, UsageLedger};
use super::error::LlmError;
use super::fim::{self, FimPlan};
use super::limiter::RateLimiter;
use super::retry::RetryPolicy;
use super::speed::{Measure, SpeedBook, SpeedEstimate};
use super::status::{ProviderDescription, ProviderStatus};
use super::stream::LlmStream;
use super::team::{team_limit_key, TeamAsk, TeamHooks, TeamSettlement, TeamVerdict};
use super::tokens::estimate_tokens;
use super::transport::{self, BodyReader, Timeouts};
use super::types::{FinishReason, LlmRequest, LlmResponse, Prompt, StreamEvent, Usage};

/// What every provider shares: one HTTP client, the response cache and the usage ledger.
pub struct Shared {
    /// The one HTTP client (connection pools are per host inside it).
    pub client: reqwest::Client,
    /// The response cache.
    pub cache: ResponseCache,
    /// Usage totals.
    pub ledger: UsageLedger,
    /// How fast each provider reads and writes.
    pub speeds: SpeedBook,
    /// The team's shared limits, budget and cache (team mode), consulted after the local ones.
    pub team: std::sync::RwLock<Option<Arc<dyn TeamHooks>>>,
}

impl Shared {
    /// The team hooks, when team mode is on.
    pub fn team(&self) -> Option<Arc<dyn TeamHooks>> {
        self.team
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    successes: AtomicU64,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// One configured provider, ready to serve requests.
pub struct Provider {
    name: String,
    kind: ProviderKind,
    config: ProviderConfig,
    base_url: String,
    api_key: Option<String>,
    key_problem: Option<String>,
    fim: Result<FimPlan, String>,
    timeouts: Timeouts,
    retry: RetryPolicy,
    limiter: RateLimiter,
    breaker: Arc<CircuitBreaker>,
    shared: Arc<Shared>,
    counters: Counters,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("model", &self.config.model)
            .finish()
    }
}

impl Provider {
    /// Builds provider `name` from its configuration. `env` reads environment variables (the
    /// process environment in production, a map in tests). Fails on an unknown `kind`.
    pub fn new(
        name: &str,
        config: &ProviderConfig,
        env: &dyn Fn(&str) -> Option<String>,
        shared: Arc<Shared>,
    ) -> Result<Self, String> {
        let kind = ProviderKind::parse(&config.kind).ok_or_else(|| {
            format!(
                "providers.{name}.kind: unknown kind {:?}; use openai, openai-compatible, anthropic, gemini, mistral or ollama",
                config.kind
            )
        })?;
        let api_key = config
            .api_key_env
            .as_deref()
            .and_then(env)
            .filter(|key| !key.trim().is_empty());
        let key_problem = match (&config.api_key_env, &api_key) {
            (Some(var), None) => Some(format!(
                "the environment variable {var} (providers.{name}.api_key_env) is not set"
            )),
            (None, _) if kind.requires_key() => Some(format!(
                "providers.{name}.api_key_env is missing: {} needs an API key",
                kind.name()
            )),
            _ => None,
        };
        let ms = |value: Option<u64>, default: Duration| {
            value.map(Duration::from_millis).unwrap_or(default)
        };
        let defaults = Timeouts::default();
        let first_byte_default = if kind == ProviderKind::Ollama {
            Duration::from_secs(30)
        } else {
            defaults.first_byte
        };
        let timeouts = Timeouts {
            first_byte: ms(config.first_byte_timeout_ms, first_byte_default),
            idle: ms(config.idle_timeout_ms, defaults.idle),
            request: ms(config.request_timeout_ms, defaults.request),
        };
        let retry_defaults = RetryPolicy::default();
        let retry = RetryPolicy {
            max_attempts: config
                .max_attempts
                .unwrap_or(retry_defaults.max_attempts)
                .max(1),
            base: ms(config.backoff_base_ms, retry_defaults.base),
            max_backoff: retry_defaults.max_backoff,
        };
        Ok(Self {
            name: name.to_owned(),
            kind,
            base_url: config
                .base_url
                .clone()
                .unwrap_or_else(|| kind.default_base_url().to_owned())
                .trim_end_matches('/')
                .to_owned(),
            api_key,
            key_problem,
            fim: fim::plan(kind, &config.model, config)
                .map_err(|e| format!("providers.{name}.{e}")),
            timeouts,
            retry,
            limiter: RateLimiter::new(config.rpm, config.tpm),
            breaker: CircuitBreaker::new(
                config.breaker_failures.unwrap_or(5),
                ms(config.breaker_cooldown_ms, Duration::from_secs(30)),
            ),
            config: config.clone(),
            shared,
            counters: Counters::default(),
        })
    }

    /// How long a whole request may take when its caller gave no deadline.
    pub fn request_timeout(&self) -> Duration {
        self.timeouts.request
    }

    /// The configured name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The API kind.
    pub fn kind(&self) -> ProviderKind {
        self.kind
    }

    /// The configuration the provider was built from.
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// How fast it reads a prompt and writes an answer: learnt from its answers, or assumed
    /// from where it runs until it has answered.
    pub fn speed(&self) -> SpeedEstimate {
        self.shared
            .speeds
            .learnt(&self.name, &self.config.model)
            .unwrap_or_else(|| SpeedEstimate::assumed(self.is_on_this_machine()))
    }

    fn is_on_this_machine(&self) -> bool {
        crate::config::is_on_this_machine(&self.base_url)
    }

    /// Sends `request` and resolves once the first text is ready (or the answer is complete):
    /// the rate limit wait, retries and the circuit breaker all happen before. Errors after that
    /// point arrive in the stream and are never retried, since the caller has already shown text.
    /// Dropping the future or the stream aborts the HTTP call.
    pub async fn stream(self: &Arc<Self>, request: &LlmRequest) -> Result<LlmStream, LlmError> {
        let started = Instant::now();
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        match self.open(request, started).await {
            Ok(stream) => Ok(stream),
            Err(error) => {
                let error = self.redact(error);
                self.note_failure(&error);
                Err(error)
            }
        }
    }

    /// Sends `request` and waits for the whole answer.
    pub async fn complete(self: &Arc<Self>, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        self.stream(request).await?.collect_response().await
    }

    fn redact(&self, error: LlmError) -> LlmError {
        match &self.api_key {
            Some(key) => error.redacted(key),
            None => error,
        }
    }

    fn note_failure(&self, error: &LlmError) {
        self.counters.failures.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(provider = %self.name, kind = error.kind(), %error, "model request failed");
        if let Ok(mut last) = self.counters.last_error.lock() {
            *last = Some(error.to_string());
        }
    }

    async fn open(
        self: &Arc<Self>,
        request: &LlmRequest,
        started: Instant,
    ) -> Result<LlmStream, LlmError> {
        let deadline = request.deadline.unwrap_or(started + self.timeouts.request);
        if let Some(problem) = &self.key_problem {
            return Err(LlmError::Config {
                provider: self.name.clone(),
                message: problem.clone(),
            });
        }
        let model = request
            .model
            .clone()
            .unwrap_or_else(|| self.config.model.clone());
        let fim = match (&request.prompt, &request.model) {
            (Prompt::Chat { .. }, _) => Ok(FimPlan::Chat),
            (Prompt::Fim { .. }, None) => self.fim.clone(),
            (Prompt::Fim { .. }, Some(model)) => fim::plan(self.kind, model, &self.config),
        }
        .map_err(|message| LlmError::Config {
            provider: self.name.clone(),
            message,
        })?;

        let key = self.cache_key(request, &model, &fim);
        let cached = if request.use_cache {
            self.shared.cache.get(&key)
        } else {
            None
        };
        if let Some(mut hit) = cached {
            hit.cached = true;
            hit.team_cache = false;
            hit.cost_usd = 0.0;
            hit.latency = started.elapsed();
            self.counters.successes.fetch_add(1, Ordering::Relaxed);
            return Ok(LlmStream::from_response(hit));
        }
        let team = self.shared.team();
        if let (Some(team), true) = (&team, request.use_cache) {
            if let Some(text) = team.cached(&key).await {
                let hit = LlmResponse {
                    text,
                    finish_reason: FinishReason::Stop,
                    usage: Usage::default(),
                    cost_usd: 0.0,
                    provider: self.name.clone(),
                    model: model.clone(),
                    latency: started.elapsed(),
                    cached: true,
                    team_cache: true,
                    // A shared answer says nothing about this machine's speed.
                    timings: None,
                };
                self.shared.cache.insert(key, hit.clone());
                self.counters.successes.fetch_add(1, Ordering::Relaxed);
                return Ok(LlmStream::from_response(hit));
            }
        }

        // A team with a budget needs the most a request may cost, which needs its tokens.
        let price = cost::price_of(self.kind, &model, self.config.prices)
            .filter(|price| price.input_per_mtok > 0.0 || price.output_per_mtok > 0.0);
        let needs_cost = price.is_some() && team.as_ref().is_some_and(|team| team.has_budget());
        let tokens = if self.limiter.limits_tokens() || needs_cost {
            estimate_tokens(&request.prompt_text()) + u64::from(request.max_tokens)
        } else {
            0
        };
        let max_cost_usd = price.filter(|_| needs_cost).map_or(0.0, |price| {
            // Every token priced as the dearer kind: an upper bound, as a hard cap needs.
            tokens as f64 * price.input_per_mtok.max(price.output_per_mtok) / 1_000_000.0
        });
        let endpoint = Endpoint {
            base_url: &self.base_url,
            api_key: self.api_key.as_deref(),
            model: &model,
            config: &self.config,
            fim: &fim,
        };
        let call = adapters::build_call(self.kind, &endpoint, request)?;
        let body = match &call.body {
            Some(json) => Some(Bytes::from(serde_json::to_vec(json).map_err(|e| {
                LlmError::Config {
                    provider: self.name.clone(),
                    message: format!("cannot encode the request: {e}"),
                }
            })?)),
            None => None,
        };

        let limit_key = team_limit_key(self.kind.name(), &self.base_url, &model);
        let mut failures = 0;
        loop {
            // Every attempt is a request the provider counts, retries included.
            match self.limiter.reserve(tokens, Instant::now(), deadline) {
                Ok(wait) if wait > Duration::ZERO => tokio::time::sleep(wait).await,
                Ok(_) => {}
                // The deadline passed before the request could go (it waited elsewhere): a
                // timeout, not a rate limit.
                Err(wait) if wait.is_zero() => {
                    return Err(LlmError::Timeout {
                        provider: self.name.clone(),
                        phase: super::error::TimeoutPhase::Deadline,
                        after: started.elapsed(),
                    })
                }
                Err(wait) => {
                    return Err(LlmError::LocalRateLimit {
                        provider: self.name.clone(),
                        wait,
                    })
                }
            }
            // Held from here: every request is accounted for however it ends (see [`Charge`]).
            let mut charge = Charge {
                team: None,
                reserved_usd: 0.0,
                provider: Arc::clone(self),
                model: model.clone(),
                prompt: request.prompt_text(),
                streamed: String::new(),
                sent: false,
                settled: false,
            };
            if let Some(team) = &team {
                let (reserved_usd, wait) = self
                    .admit_in_team(team.as_ref(), &limit_key, tokens, max_cost_usd, deadline)
                    .await
                    // Refused by the team: nothing is sent, this process's slot goes back.
                    .inspect_err(|_| self.limiter.give_back(tokens))?;
                // Dropped while it waits for its slot, the request gives its reservation back.
                charge.team = Some(Arc::clone(team));
                charge.reserved_usd = reserved_usd;
                if wait > Duration::ZERO {
                    tokio::time::sleep(wait).await;
                }
            }
            let permit = match self.breaker.admit() {
                Ok(permit) => permit,
                Err(refused) => {
                    // Nothing was sent: the reservation goes back.
                    charge.refund().await;
                    return Err(LlmError::CircuitOpen {
                        provider: self.name.clone(),
                        failures: refused.failures,
                        retry_in: refused.retry_in,
                    });
                }
            };
            charge.sent = true;
            if let Some(asked_at) = request.asked_at {
                tracing::debug!(
                    target: crate::types::SERVER_TIME_LOG,
                    provider = %self.name,
                    server_us = asked_at.elapsed().as_micros() as u64,
                    "provider request leaving"
                );
            }
            match self.attempt(&call, body.as_ref(), deadline).await {
                Ok((reader, deltas)) => {
                    let finish = Finish {
                        provider: Arc::clone(self),
                        key,
                        model,
                        started,
                        reserved_tokens: tokens,
                    };
                    return Ok(live_stream(reader, deltas, permit, finish, charge));
                }
                Err(error) => {
                    // The provider refused the attempt (it bills none): the reservation goes
                    // back. Dropped while it was being sent, the charge bills its prompt.
                    charge.refund().await;
                    if error.is_provider_failure() {
                        permit.failure();
                    } else {
                        permit.release();
                    }
                    failures += 1;
                    if let (Some(team), Some(wait)) = (&team, error.retry_after()) {
                        team.pause(&limit_key, wait).await;
                    }
                    // Once this failure opened the breaker a retry would only be refused; the
                    // user is better served by the provider's own error, now.
                    if self.breaker.snapshot().0 != BreakerState::Closed {
                        return Err(error);
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    let Some(delay) = self.retry.next_delay(failures, &error, left) else {
                        return Err(error);
                    };
                    tracing::info!(provider = %self.name, attempt = failures, kind = error.kind(), ?delay, "retrying model request");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Takes the team's slot for one attempt (its shared rate limits and any pause a provider
    /// asked for) and waits for it, or refuses: a slot after the deadline, a budget cap.
    /// Returns what the team reserved against its budget for the attempt, and how long to
    /// wait for the slot.
    async fn admit_in_team(
        &self,
        team: &dyn TeamHooks,
        limit_key: &str,
        tokens: u64,
        max_cost_usd: f64,
        deadline: Instant,
    ) -> Result<(f64, Duration), LlmError> {
        let ask = TeamAsk {
            limit_key,
            rpm: self.config.rpm,
            tpm: self.config.tpm,
            tokens,
            max_cost_usd,
            max_wait: deadline.saturating_duration_since(Instant::now()),
        };
        match team.admit(ask).await {
            TeamVerdict::Go { wait } => Ok((max_cost_usd, wait)),
            TeamVerdict::Local => Ok((0.0, Duration::ZERO)),
            TeamVerdict::TooLate { wait } => Err(LlmError::TeamRateLimit {
                provider: self.name.clone(),
                wait,
            }),
            TeamVerdict::OverBudget(message) => Err(LlmError::OverBudget {
                provider: self.name.clone(),
                message,
            }),
        }
    }

    /// Sends a call; a non-2xx answer becomes the provider's error, read from its body.
    async fn send(
        &self,
        call: &adapters::HttpCall,
        body: Option<&Bytes>,
        deadline: Instant,
    ) -> Result<reqwest::Response, LlmError> {
        let response = transport::send(
            &self.shared.client,
            &self.name,
            call,
            body,
            self.timeouts.first_byte,
            deadline,
        )
        .await?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(transport::read_error(
            self.kind,
            &self.name,
            response,
            self.timeouts.idle,
            deadline,
        )
        .await)
    }

    async fn attempt(
        &self,
        call: &adapters::HttpCall,
        body: Option<&Bytes>,
        deadline: Instant,
    ) -> Result<(BodyReader, VecDeque<String>), LlmError> {
        let response = self.send(call, body, deadline).await?;
        let mut reader = BodyReader::new(
            self.kind,
            &self.name,
            response,
            self.timeouts.idle,
            deadline,
        );
        let mut deltas = VecDeque::new();
        reader.pull(&mut deltas).await?;
        Ok((reader, deltas))
    }

    fn cache_key(&self, request: &LlmRequest, model: &str, fim: &FimPlan) -> CacheKey {
        // Everything that changes the answer, nothing secret. The prompt is hashed from its
        // parts rather than a serialization, to keep this cheap on every keystroke.
        let mut parts: Vec<&[u8]> = vec![
            self.name.as_bytes(),
            self.kind.name().as_bytes(),
            self.base_url.as_bytes(),
            model.as_bytes(),
        ];
        let fim_tag = match fim {
            FimPlan::Native => "native".to_owned(),
            FimPlan::Chat => "chat".to_owned(),
            FimPlan::Template(template) => format!("template:{}", template.format),
        };
        parts.push(fim_tag.as_bytes());
        match &request.prompt {
            Prompt::Chat { system, messages } => {
                parts.push(b"chat");
                parts.push(system.as_deref().unwrap_or("\u{0}none").as_bytes());
                for message in messages {
                    parts.push(if message.role == super::types::Role::User {
                        b"u"
                    } else {
                        b"a"
                    });
                    parts.push(message.content.as_bytes());
                }
            }
            Prompt::Fim {
                prefix,
                suffix,
                repository,
            } => {
                parts.push(b"fim");
                parts.push(prefix.as_bytes());
                parts.push(suffix.as_bytes());
                if let Some(repository) = repository {
                    parts.push(repository.name.as_bytes());
                    parts.push(repository.path.as_bytes());
                    parts.push(repository.comment.as_bytes());
                    for piece in &repository.pieces {
                        parts.push(piece.path.as_bytes());
                        parts.push(piece.reason.as_bytes());
                        parts.push(piece.text.as_bytes());
                    }
                }
            }
        }
        let settings = format!(
            "{}|{:?}",
            request.max_tokens,
            request.temperature.map(f32::to_bits)
        );
        parts.push(settings.as_bytes());
        for stop in &request.stop {
            parts.push(stop.as_bytes());
        }
        CacheKey::from_parts(&parts)
    }

    /// The provider's state for `aiex.status`.
    pub fn status(&self) -> ProviderStatus {
        let (breaker, consecutive_failures) = self.breaker.snapshot();
        ProviderStatus {
            name: self.name.clone(),
            kind: self.kind.name().to_owned(),
            model: self.config.model.clone(),
            base_url: crate::config::mask_url_credentials(&self.base_url),
            breaker,
            consecutive_failures,
            requests: self.counters.requests.load(Ordering::Relaxed),
            successes: self.counters.successes.load(Ordering::Relaxed),
            failures: self.counters.failures.load(Ordering::Relaxed),
            last_error: self
                .counters
                .last_error
                .lock()
                .ok()
                .and_then(|last| last.clone()),
            speed: self.shared.speeds.learnt(&self.name, &self.config.model),
        }
    }

    /// What `aiex doctor` shows about the configuration (no network).
    pub fn describe(&self) -> ProviderDescription {
        let mut problems = Vec::new();
        problems.extend(self.key_problem.clone());
        let fim = match &self.fim {
            Ok(FimPlan::Native) => "native".to_owned(),
            Ok(FimPlan::Chat) => "chat".to_owned(),
            Ok(FimPlan::Template(template)) => format!("template:{}", template.family),
            Err(problem) => {
                problems.push(problem.clone());
                "unavailable".to_owned()
            }
        };
        ProviderDescription {
            name: self.name.clone(),
            kind: self.kind.name().to_owned(),
            base_url: crate::config::mask_url_credentials(&self.base_url),
            model: self.config.model.clone(),
            api_key_env: self.config.api_key_env.clone(),
            api_key_present: self.api_key.is_some(),
            fim,
            problems,
        }
    }

    /// The models the provider offers (`/v1/models`, `/api/tags`...), for `aiex doctor`.
    pub async fn list_models(&self) -> Result<Vec<String>, LlmError> {
        let deadline = Instant::now() + self.timeouts.first_byte + self.timeouts.idle;
        let endpoint = Endpoint {
            base_url: &self.base_url,
            api_key: self.api_key.as_deref(),
            model: &self.config.model,
            config: &self.config,
            fim: &FimPlan::Chat,
        };
        let call = adapters::models_call(self.kind, &endpoint);
        let result = async {
            let response = self.send(&call, None, deadline).await?;
            let body = tokio::time::timeout_at(deadline, response.bytes())
                .await
                .map_err(|_| LlmError::Timeout {
                    provider: self.name.clone(),
                    phase: super::error::TimeoutPhase::Deadline,
                    after: self.timeouts.idle,
                })?
                .map_err(|e| transport::network_error(&self.name, e))?;
            adapters::parse_models(self.kind, &body).map_err(|message| LlmError::Malformed {
                provider: self.name.clone(),
                message,
            })
        }
        .await;
        result.map_err(|e| self.redact(e))
    }
}

/// What the end of a stream needs to build the result and account for it.
struct Finish {
    provider: Arc<Provider>,
    key: CacheKey,
    model: String,
    started: Instant,
    /// Tokens the limiter reserved for the attempt that answered.
    reserved_tokens: u64,
}

impl Finish {
    fn response(
        &self,
        prompt: &str,
        text: String,
        reader: &BodyReader,
        first_text_at: Option<Instant>,
    ) -> LlmResponse {
        let provider = &self.provider;
        let outcome = reader.outcome();
        let estimated = outcome.input_tokens.is_none() || outcome.output_tokens.is_none();
        let usage = Usage {
            input_tokens: outcome
                .input_tokens
                .unwrap_or_else(|| estimate_tokens(prompt)),
            output_tokens: outcome
                .output_tokens
                .unwrap_or_else(|| estimate_tokens(&text)),
            estimated,
        };
        let model = outcome.model.unwrap_or_else(|| self.model.clone());
        let price = cost::price_of(provider.kind, &model, provider.config.prices)
            .or_else(|| cost::price_of(provider.kind, &self.model, None));
        let cost_usd = cost::cost_usd(&usage, price);
        provider
            .shared
            .ledger
            .record(&provider.name, &model, &usage, cost_usd);
        provider.limiter.refund(
            self.reserved_tokens
                .saturating_sub(usage.input_tokens + usage.output_tokens),
        );
        let response = LlmResponse {
            text,
            finish_reason: outcome.finish_reason.unwrap_or(FinishReason::Stop),
            usage,
            cost_usd,
            provider: provider.name.clone(),
            model,
            latency: self.started.elapsed(),
            cached: false,
            team_cache: false,
            timings: outcome.timings,
        };
        self.learn_speed(&response, first_text_at);
        provider.shared.cache.insert(self.key, response.clone());
        provider.counters.successes.fetch_add(1, Ordering::Relaxed);
        response
    }
}

impl Finish {
    /// Learns the provider's speed from a complete answer: its own timings, else wall time.
    fn learn_speed(&self, response: &LlmResponse, first_text_at: Option<Instant>) {
        let measure = match (&response.timings, first_text_at) {
            (Some(timings), _) => Measure::from_timings(timings),
            (None, Some(first)) if !response.usage.estimated => Measure::from_wall_time(
                response.usage.input_tokens,
                response.usage.output_tokens,
                first.duration_since(self.started),
                response.latency,
            ),
            _ => return,
        };
        let provider = &self.provider;
        provider.shared.speeds.observe(
            &provider.name,
            &provider.config.model,
            measure,
            provider.is_on_this_machine(),
        );
    }
}

/// A request on its way, until it is accounted for. A complete answer is counted in the usage
/// ledger by [`Finish::response`] and settles the team's reservation with its cost; an attempt
/// the provider refused gives the reservation back; a request that never finishes (the editor
/// cancelled it, the reader stopped once the suggestion was decided, the stream broke off:
/// common for completions) is counted when dropped, for its prompt and the text that streamed,
/// since the provider bills those whether or not anyone reads the rest.
struct Charge {
    /// The team holding a reservation for this request (team mode only).
    team: Option<Arc<dyn TeamHooks>>,
    reserved_usd: f64,
    provider: Arc<Provider>,
    model: String,
    prompt: String,
    /// The text that arrived so far (set when the stream is dropped).
    streamed: String,
    /// Whether the request left: dropped before, nothing is billed.
    sent: bool,
    settled: bool,
}

impl Charge {
    /// Settles a complete answer: its cost replaces the reservation, its text is shared.
    async fn finished(mut self, key: &CacheKey, response: &LlmResponse) {
        self.settled = true;
        if let Some(team) = &self.team {
            team.settle(TeamSettlement {
                reserved_usd: self.reserved_usd,
                cost_usd: response.cost_usd,
                provider: &response.provider,
                model: &response.model,
                usage: response.usage,
                answer: Some((key, &response.text)),
            })
            .await;
        }
    }

    /// Gives the reservation back: the provider refused the attempt, or it was never sent.
    async fn refund(mut self) {
        self.settled = true;
        if let Some(team) = &self.team {
            team.settle(TeamSettlement {
                reserved_usd: self.reserved_usd,
                cost_usd: 0.0,
                provider: &self.provider.name,
                model: &self.model,
                usage: Usage::default(),
                answer: None,
            })
            .await;
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if self.settled || (!self.sent && self.team.is_none()) {
            return;
        }
        // Dropping cannot wait for Redis, and counting the prompt's tokens is a tokenizer
        // pass: both happen off whatever loop dropped the request.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let team = self.team.take();
        let provider = Arc::clone(&self.provider);
        let sent = self.sent;
        let model = std::mem::take(&mut self.model);
        let prompt = std::mem::take(&mut self.prompt);
        let streamed = std::mem::take(&mut self.streamed);
        let reserved_usd = self.reserved_usd;
        runtime.spawn(async move {
            // Counting is CPU work proportional to the text (up to the 8 MiB body bound) and the
            // ledger may write its file: both on the blocking pool, so neither holds up the
            // loop that dropped the request, nor the requests that come after it.
            let counted = {
                let provider = Arc::clone(&provider);
                let model = model.clone();
                tokio::task::spawn_blocking(move || {
                    if !sent {
                        return (Usage::default(), 0.0);
                    }
                    let usage = Usage {
                        input_tokens: estimate_tokens(&prompt),
                        output_tokens: estimate_tokens(&streamed),
                        estimated: true,
                    };
                    let price = cost::price_of(provider.kind, &model, provider.config.prices);
                    let cost_usd = cost::cost_usd(&usage, price);
                    provider
                        .shared
                        .ledger
                        .record(&provider.name, &model, &usage, cost_usd);
                    (usage, cost_usd)
                })
            };
            let (usage, cost_usd) = counted.await.unwrap_or_default();
            tracing::debug!(provider = %provider.name, cost_usd, "a request that never finished is charged its prompt and what streamed");
            if let Some(team) = team {
                team.settle(TeamSettlement {
                    reserved_usd,
                    cost_usd,
                    provider: &provider.name,
                    model: &model,
                    usage,
                    answer: None,
                })
                .await;
            }
        });
    }
}

struct Live {
    reader: BodyReader,
    deltas: VecDeque<String>,
    text: String,
    permit: Option<BreakerPermit>,
    finish: Finish,
    /// How this request is accounted for: taken when the stream ends, or billed for what
    /// streamed when it is dropped before.
    charge: Option<Charge>,
    done: bool,
    first_text_at: Option<Instant>,
}

impl Drop for Live {
    fn drop(&mut self) {
        // Not settled at the end of the stream: the rest of the answer was never read; the
        // charge bills what streamed.
        if let Some(mut charge) = self.charge.take() {
            charge.streamed = std::mem::take(&mut self.text);
        }
    }
}

fn live_stream(
    reader: BodyReader,
    deltas: VecDeque<String>,
    permit: BreakerPermit,
    finish: Finish,
    charge: Charge,
) -> LlmStream {
    let live = Live {
        reader,
        deltas,
        text: String::new(),
        permit: Some(permit),
        finish,
        charge: Some(charge),
        done: false,
        first_text_at: None,
    };
    let events = futures::stream::unfold(live, |mut live| async move {
        if live.done {
            return None;
        }
        loop {
            if let Some(delta) = live.deltas.pop_front() {
                live.first_text_at.get_or_insert_with(Instant::now);
                live.text.push_str(&delta);
                return Some((Ok(StreamEvent::Delta(delta)), live));
            }
            if live.reader.ended() {
                live.done = true;
                if let Some(permit) = live.permit.take() {
                    permit.success();
                }
                let text = std::mem::take(&mut live.text);
                let charge = live.charge.take();
                let prompt = charge.as_ref().map_or("", |charge| charge.prompt.as_str());
                let response = live
                    .finish
                    .response(prompt, text, &live.reader, live.first_text_at);
                if let Some(charge) = charge {
                    charge.finished(&live.finish.key, &response).await;
                }
                return Some((Ok(StreamEvent::Done(response)), live));
            }
            if let Err(error) = live.reader.pull(&mut live.deltas).await {
                live.done = true;
                // Broken off: the charge bills the prompt and what streamed.
                if let Some(mut charge) = live.charge.take() {
                    charge.streamed = live.text.clone();
                }
                if let Some(permit) = live.permit.take() {
                    if error.is_provider_failure() {
                        permit.failure();
                    }
                }
                let provider = &live.finish.provider;
                let error = provider.redact(error);
                provider.note_failure(&error);
                return Some((Err(error), live));
            }
        }
    });
    LlmStream::new(events.boxed())
}
