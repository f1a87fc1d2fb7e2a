//! Failover along an ordered list of providers: the first that opens a stream serves the
//! request; one that fails before sending any text hands over to the next.

use std::sync::Arc;

use super::error::LlmError;
use super::provider::Provider;
use super::stream::LlmStream;
use super::types::{LlmRequest, LlmResponse};

/// The providers of one feature, in the order they are tried.
#[derive(Debug, Clone, Default)]
pub struct ProviderChain {
    providers: Vec<Arc<Provider>>,
}

impl ProviderChain {
    /// A chain trying `providers` in order.
    pub fn new(providers: Vec<Arc<Provider>>) -> Self {
        Self { providers }
    }

    /// The providers, in order.
    pub fn providers(&self) -> &[Arc<Provider>] {
        &self.providers
    }

    /// True when the chain has no provider (AI features are off for the feature).
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// Opens a stream on the first provider that answers. Every provider shares the request's
    /// deadline; a cancellation or a spent deadline stops the chain. A single provider's error
    /// is returned as is; several come back as `AllFailed`, in order.
    ///
    /// Hot path: runs for every completion request (each keystroke after debounce); its overhead
    /// is measured by `benches/llm_overhead.rs`.
    pub async fn stream(&self, request: &LlmRequest) -> Result<LlmStream, LlmError> {
        // A request without a deadline gets one for the whole chain (the first provider's
        // request timeout): otherwise each provider would start its own, and a chain of
        // stalling providers would take the sum of them.
        let with_deadline;
        let request = match (request.deadline, self.providers.first()) {
            (None, Some(first)) => {
                with_deadline = LlmRequest {
                    deadline: Some(tokio::time::Instant::now() + first.request_timeout()),
                    ..request.clone()
                };
                &with_deadline
            }
            _ => request,
        };
        let mut errors = Vec::new();
        for provider in &self.providers {
            match provider.stream(request).await {
                Ok(stream) => {
                    return Ok(stream.answered_by(provider.name(), &provider.config().model))
                }
                Err(error) if !error.allows_failover() => return Err(error),
                Err(error) => {
                    tracing::info!(
                        provider = provider.name(),
                        kind = error.kind(),
                        "failing over to the next provider"
                    );
                    errors.push(error);
                }
            }
        }
        if errors.len() == 1 {
            return Err(errors.remove(0));
        }
        Err(LlmError::AllFailed(errors))
    }

    /// Sends `request` along the chain and waits for the whole answer.
    pub async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        self.stream(request).await?.collect_response().await
    }
}
