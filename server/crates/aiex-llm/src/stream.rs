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
    /// For a replayed cached answer: whether the cache was the team's (else this process's).
    cached: Option<bool>,
}

impl LlmStream {
    /// Wraps any stream of events.
    pub fn new(inner: impl Stream<Item = Result<StreamEvent, LlmError>> + Send + 'static) -> Self {
        Self {
            inner: Box::pin(inner),
            source: None,
            cached: None,
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
        let cached = response.cached.then_some(response.team_cache);
        let events = vec![
            Ok(StreamEvent::Delta(response.text.clone())),
            Ok(StreamEvent::Done(response)),
        ];
        Self {
            cached,
            ..Self::new(futures::stream::iter(events))
        }
    }

    /// `Some(team)` when the stream replays a cached answer, `team` telling whether the cache
    /// was the team's: known before the result, for a caller that stops reading early.
    pub fn cached(&self) -> Option<bool> {
        self.cached
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::types::{FinishReason, Usage};

    fn response(cached: bool, team_cache: bool) -> LlmResponse {
        LlmResponse {
            text: "a + b".to_owned(),
            finish_reason: FinishReason::Stop,
            usage: Usage::default(),
            cost_usd: 0.0,
            provider: "p".to_owned(),
            model: "m".to_owned(),
            latency: Duration::ZERO,
            cached,
            team_cache,
            timings: None,
        }
    }

    #[test]
    fn a_replayed_answer_says_which_cache_it_came_from_before_its_result() {
        let cases = [
            ((false, false), None),
            ((true, false), Some(false)),
            ((true, true), Some(true)),
        ];
        for ((cached, team), expected) in cases {
            let stream = LlmStream::from_response(response(cached, team)).answered_by("p", "m");
            assert_eq!(stream.cached(), expected, "cached {cached}, team {team}");
        }
        assert_eq!(LlmStream::new(futures::stream::empty()).cached(), None);
    }
}
