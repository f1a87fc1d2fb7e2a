//! Shared support of the integration tests: recorded provider responses and a fake provider
//! server that replays them and injects faults.

// Each test binary uses part of the support; the rest would warn as dead code.
#![allow(dead_code)]

pub mod elixir;
pub mod fake_provider;
pub mod files;
pub mod ollama;
pub mod process;
pub mod realmodel;
pub mod recordings;
pub mod redis;

use std::time::Duration;

use aiex_llm::{
    LlmError, LlmOptions, LlmRequest, LlmResponse, ProviderConfig, Providers, StreamEvent,
};
use futures::StreamExt;

/// The API key every test provider reads (from a fake environment, never the real one).
pub const TEST_KEY: &str = "sk-test-0123456789abcdef";

/// A provider configuration with waits short enough for tests.
pub fn config(kind: &str, base_url: &str, model: &str) -> ProviderConfig {
    ProviderConfig {
        kind: kind.to_owned(),
        base_url: Some(base_url.to_owned()),
        model: model.to_owned(),
        api_key_env: Some("AIEX_TEST_KEY".to_owned()),
        first_byte_timeout_ms: Some(2_000),
        idle_timeout_ms: Some(2_000),
        request_timeout_ms: Some(5_000),
        backoff_base_ms: Some(5),
        max_attempts: Some(3),
        breaker_failures: Some(3),
        breaker_cooldown_ms: Some(60_000),
        ..Default::default()
    }
}

/// Options for tests: no usage file, a small cache.
pub fn options() -> LlmOptions {
    LlmOptions {
        connect_timeout: Duration::from_millis(500),
        cache_max_bytes: 1 << 20,
        cache_ttl: Duration::from_secs(60),
        usage_path: None,
        usage_flush_interval: Duration::ZERO,
        speeds_path: None,
    }
}

/// Builds providers from `(name, config)` pairs with `TEST_KEY` in `AIEX_TEST_KEY`.
pub fn providers(list: &[(&str, ProviderConfig)]) -> Providers {
    providers_with(list, options(), TEST_KEY)
}

/// Builds providers with explicit options and key.
pub fn providers_with(
    list: &[(&str, ProviderConfig)],
    options: LlmOptions,
    key: &str,
) -> Providers {
    let configs: Vec<(String, ProviderConfig)> = list
        .iter()
        .map(|(n, c)| ((*n).to_owned(), c.clone()))
        .collect();
    let key = key.to_owned();
    let (providers, problems) =
        Providers::with_env(configs.iter().map(|(n, c)| (n, c)), options, &move |name| {
            (name == "AIEX_TEST_KEY").then(|| key.clone())
        });
    assert!(problems.is_empty(), "configuration problems: {problems:?}");
    providers
}

/// What a caller saw of one streamed request.
#[derive(Debug)]
pub struct Seen {
    /// The deltas, in order.
    pub deltas: Vec<String>,
    /// The result, or the error (from opening or from the stream).
    pub result: Result<LlmResponse, LlmError>,
}

/// Streams `request` through the chain of `names`, collecting what the caller sees.
pub async fn stream_through(providers: &Providers, names: &[&str], request: &LlmRequest) -> Seen {
    let (chain, unknown) = providers.chain(names);
    assert!(unknown.is_empty(), "unknown providers {unknown:?}");
    let mut deltas = Vec::new();
    let mut stream = match chain.stream(request).await {
        Ok(stream) => stream,
        Err(error) => {
            return Seen {
                deltas,
                result: Err(error),
            }
        }
    };
    while let Some(event) = stream.next().await {
        match event {
            Ok(StreamEvent::Delta(delta)) => deltas.push(delta),
            Ok(StreamEvent::Done(response)) => {
                return Seen {
                    deltas,
                    result: Ok(response),
                }
            }
            Err(error) => {
                return Seen {
                    deltas,
                    result: Err(error),
                }
            }
        }
    }
    Seen {
        deltas,
        result: Err(LlmError::Malformed {
            provider: "test".into(),
            message: "stream ended without Done".into(),
        }),
    }
}
