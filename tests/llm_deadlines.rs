//! Deadlines that hold whatever the provider does: a server that drips a byte at a time (so
//! the idle timeout never fires), stalls before its headers, or streams without end is cut at
//! the request's deadline, and a chain of such servers shares one deadline.

mod support;

use std::time::{Duration, Instant};

use aiex::llm::{LlmError, LlmRequest, ProviderConfig};
use support::fake_provider::{FakeProvider, Reply};
use support::recordings::load;
use support::{config, providers, stream_through};

const OPENAI_STREAM: &str = "openai/langchaingo__chat_stream_usage.httprr";
const CHAT: &str = "/v1/chat/completions";

fn openai(fake: &FakeProvider) -> ProviderConfig {
    config("openai", &format!("{}/v1", fake.url()), "gpt-4o-mini")
}

fn drip(piece: usize, every_ms: u64) -> Reply {
    Reply::Drip {
        recording: load(OPENAI_STREAM),
        piece,
        every: Duration::from_millis(every_ms),
    }
}

/// Fails unless `elapsed` is within `slack` after `deadline`.
fn ended_by(elapsed: Duration, deadline: Duration, slack: Duration) {
    assert!(
        elapsed < deadline + slack,
        "ended after {elapsed:?}, deadline {deadline:?}"
    );
}

#[tokio::test]
async fn a_server_dripping_one_byte_at_a_time_is_cut_at_the_request_deadline() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![drip(1, 20)]);
    let providers = providers(&[("p", openai(&fake))]);
    let deadline = Duration::from_millis(800);
    let request = LlmRequest::chat(None, "explain").with_timeout(deadline);
    let started = Instant::now();
    let seen = stream_through(&providers, &["p"], &request).await;
    ended_by(started.elapsed(), deadline, Duration::from_millis(500));
    let error = seen.result.expect_err("cut at the deadline");
    assert!(matches!(error, LlmError::Timeout { .. }), "{error}");
}

#[tokio::test]
async fn text_that_keeps_dripping_past_the_deadline_ends_the_stream_at_the_deadline() {
    let fake = FakeProvider::start().await;
    // Whole deltas arrive (the stream is handed out), but slower than the deadline allows.
    fake.on(CHAT, vec![drip(60, 150)]);
    let providers = providers(&[("p", openai(&fake))]);
    let deadline = Duration::from_millis(900);
    let request = LlmRequest::chat(None, "explain").with_timeout(deadline);
    let started = Instant::now();
    let seen = stream_through(&providers, &["p"], &request).await;
    ended_by(started.elapsed(), deadline, Duration::from_millis(500));
    assert!(
        seen.result.is_err(),
        "the answer was not complete by the deadline"
    );
}

#[tokio::test]
async fn a_chain_of_stalling_providers_without_a_caller_deadline_shares_one_deadline() {
    let first = FakeProvider::start().await;
    first.on(CHAT, vec![drip(1, 20)]);
    let second = FakeProvider::start().await;
    second.on(CHAT, vec![drip(1, 20)]);
    let timeout = |fake: &FakeProvider| ProviderConfig {
        request_timeout_ms: Some(800),
        max_attempts: Some(1),
        ..openai(fake)
    };
    let providers = providers(&[("first", timeout(&first)), ("second", timeout(&second))]);
    // No deadline from the caller: the chain's first provider's request timeout is the one.
    let request = LlmRequest::chat(None, "explain");
    let started = Instant::now();
    let seen = stream_through(&providers, &["first", "second"], &request).await;
    ended_by(
        started.elapsed(),
        Duration::from_millis(800),
        Duration::from_millis(500),
    );
    assert!(seen.result.is_err());
    assert_eq!(second.request_count(), 0, "no time was left for the second");
}

#[tokio::test]
async fn slow_headers_and_endless_bodies_end_at_the_deadline() {
    let slow = FakeProvider::start().await;
    slow.on(
        CHAT,
        vec![Reply::Delayed {
            recording: load(OPENAI_STREAM),
            delay: Duration::from_secs(10),
        }],
    );
    let endless = FakeProvider::start().await;
    endless.on(CHAT, vec![Reply::Endless { piece: 64 * 1024 }]);
    for (name, fake) in [("slow", &slow), ("endless", &endless)] {
        let providers = providers(&[(name, openai(fake))]);
        let deadline = Duration::from_millis(700);
        let request = LlmRequest::chat(None, "explain").with_timeout(deadline);
        let started = Instant::now();
        let seen = stream_through(&providers, &[name], &request).await;
        ended_by(started.elapsed(), deadline, Duration::from_millis(600));
        assert!(seen.result.is_err(), "{name}");
    }
}
