//! The stream a caller reads: text deltas as they arrive, then the complete result.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};

use super::error::LlmError;
use super::types::{LlmResponse, StreamEvent};

/// A response being generated. Dropping it closes the HTTP connection at once.
pub struct LlmStream {
    inner: Pin<Box<dyn Stream<Item = Result<StreamEvent, LlmError>> + Send>>,
    /// The provider and model answering, once a chain chose one.
    source: Option<(String, String)>,
}

impl LlmStream {
    /// Wraps any stream of events.
    pub fn new(inner: impl Stream<Item = Result<StreamEvent, LlmError>> + Send + 'static) -> Self {
        Self {
            inner: Box::pin(inner),
            source: None,
        }
    }

    /// Marks the stream as coming from `provider`'s `model` (the chain does, when one of its
    /// providers answers): callers learn who answered before the stream ends.
    pub fn answered_by(mut self, provider: &str, model: &str) -> Self {
        self.source = Some((provider.to_owned(), model.to_owned()));
        self
    }

    /// The provider and model answering, when known.
    pub fn source(&self) -> Option<(&str, &str)> {
        self.source.as_ref().map(|(p, m)| (p.as_str(), m.as_str()))
    }

    /// A stream replaying a complete answer (from the cache): one delta, then the result.
    pub fn from_response(response: LlmResponse) -> Self {
        let events = vec![
            Ok(StreamEvent::Delta(response.text.clone())),
            Ok(StreamEvent::Done(response)),
        ];
        Self::new(futures::stream::iter(events))
    }

    /// Reads the stream to its end: the non-streaming form of a request.
    pub async fn collect_response(mut self) -> Result<LlmResponse, LlmError> {
        while let Some(event) = self.next().await {
            if let StreamEvent::Done(response) = event? {
                return Ok(response);
            }
        }
        Err(LlmError::Malformed {
            provider: String::new(),
            message: "the stream ended without a result".to_owned(),
        })
    }
}

impl Stream for LlmStream {
    type Item = Result<StreamEvent, LlmError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for LlmStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LlmStream")
    }
}
