//! The fault matrix: what the user sees when a provider or the network misbehaves, and how
//! retries, the circuit breaker, the rate limiter, failover, deadlines and cancellation react.

mod support;

use std::time::{Duration, Instant};

use aiex_llm::breaker::BreakerState;
use aiex_llm::{LlmError, LlmRequest, ProviderConfig, Providers, StreamEvent, TimeoutPhase};
use futures::StreamExt;
use support::fake_provider::{refused_url, FakeProvider, Reply};
use support::recordings::{load, Recording};
use support::{config, options, providers, providers_with, stream_through};

const OPENAI_STREAM: &str = "openai/langchaingo__chat_stream_usage.httprr";
const CHAT: &str = "/v1/chat/completions";

fn ok_stream() -> Reply {
    Reply::Recorded(load(OPENAI_STREAM))
}

fn openai(fake: &FakeProvider) -> ProviderConfig {
    config("openai", &format!("{}/v1", fake.url()), "gpt-4o-mini")
}

fn request() -> LlmRequest {
    LlmRequest::chat(None, "Count from 1 to 5").with_timeout(Duration::from_secs(3))
}

fn server_error() -> Reply {
    Reply::status(
        500,
        r#"{"error":{"message":"The server had an error","type":"server_error"}}"#,
        &[],
    )
}

#[tokio::test]
async fn server_errors_are_retried_and_the_user_gets_the_answer() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![server_error(), server_error(), ok_stream()]);
    let providers = providers(&[("p", openai(&fake))]);
    let seen = stream_through(&providers, &["p"], &request()).await;
    assert_eq!(seen.result.unwrap().text, "1, 2, 3, 4, 5");
    assert_eq!(fake.request_count(), 3);
}

#[tokio::test]
async fn retries_stop_after_the_last_attempt_with_the_providers_message() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![server_error()]);
    let providers = providers(&[("p", openai(&fake))]);
    let error = stream_through(&providers, &["p"], &request())
        .await
        .result
        .unwrap_err();
    assert!(
        matches!(error, LlmError::Server { status: 500, .. }),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "p: server error 500: The server had an error"
    );
    assert_eq!(fake.request_count(), 3, "max_attempts = 3");
}

#[tokio::test]
async fn retry_after_ms_is_waited_before_retrying() {
    let fake = FakeProvider::start().await;
    let limited = Reply::status(
        429,
        r#"{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}"#,
        &[("retry-after-ms", "150")],
    );
    fake.on(CHAT, vec![limited, ok_stream()]);
    let providers = providers(&[("p", openai(&fake))]);
    let started = Instant::now();
    let seen = stream_through(&providers, &["p"], &request()).await;
    assert!(seen.result.is_ok());
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retry_after_past_the_deadline_fails_at_once_with_the_wait_asked() {
    let fake = FakeProvider::start().await;
    let limited = Reply::status(
        429,
        r#"{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}"#,
        &[("retry-after", "30")],
    );
    fake.on(CHAT, vec![limited]);
    let providers = providers(&[("p", openai(&fake))]);
    let started = Instant::now();
    let error = stream_through(&providers, &["p"], &request())
        .await
        .result
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(30)));
    assert!(
        error
            .to_string()
            .contains("rate limited: Rate limit reached (retry after 30s)"),
        "{error}"
    );
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn gemini_retry_delay_in_the_error_body_is_honoured() {
    let fake = FakeProvider::start().await;
    let body = r#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"0.2s"}]}}"#;
    fake.on(
        "/v1beta/models/",
        vec![
            Reply::status(429, body, &[]),
            Reply::Recorded(load("gemini/ruby_llm__streamGenerateContent_alt_sse.yml")),
        ],
    );
    let providers = providers(&[(
        "g",
        config(
            "gemini",
            &format!("{}/v1beta", fake.url()),
            "gemini-2.5-flash",
        ),
    )]);
    let started = Instant::now();
    let seen = stream_through(&providers, &["g"], &request()).await;
    assert_eq!(seen.result.unwrap().text, "1, 2, 3");
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn overloaded_provider_is_retried_then_the_next_provider_answers() {
    let busy = FakeProvider::start().await;
    busy.on(CHAT, vec![Reply::status(529, r#"{"type":"error","error":{"details":null,"type":"overloaded_error","message":"Overloaded"}}"#, &[])]);
    let backup = FakeProvider::start().await;
    backup.on(CHAT, vec![ok_stream()]);
    let mut first = openai(&busy);
    first.max_attempts = Some(2);
    let providers = providers(&[("busy", first), ("backup", openai(&backup))]);
    let response = stream_through(&providers, &["busy", "backup"], &request())
        .await
        .result
        .unwrap();
    assert_eq!(response.provider, "backup");
    assert_eq!(busy.request_count(), 2);
}

#[tokio::test]
async fn auth_and_bad_request_errors_are_not_retried() {
    for (status, body, kind) in [
        (
            401,
            r#"{"error":{"message":"Incorrect API key provided","code":"invalid_api_key"}}"#,
            "auth",
        ),
        (
            400,
            r#"{"error":{"message":"Unsupported parameter: 'max_tokens'","code":"unsupported_parameter"}}"#,
            "bad_request",
        ),
    ] {
        let fake = FakeProvider::start().await;
        fake.on(CHAT, vec![Reply::status(status, body, &[])]);
        let providers = providers(&[("p", openai(&fake))]);
        let error = stream_through(&providers, &["p"], &request())
            .await
            .result
            .unwrap_err();
        assert_eq!(error.kind(), kind);
        assert_eq!(fake.request_count(), 1, "{kind} is not retried");
    }
}

#[tokio::test]
async fn refused_connection_fails_over_with_a_clear_reason() {
    let backup = FakeProvider::start().await;
    backup.on(CHAT, vec![ok_stream()]);
    let mut down = config(
        "openai",
        &format!("{}/v1", refused_url().await),
        "gpt-4o-mini",
    );
    down.max_attempts = Some(1);
    let providers = providers(&[("down", down.clone()), ("backup", openai(&backup))]);
    let response = stream_through(&providers, &["down", "backup"], &request())
        .await
        .result
        .unwrap();
    assert_eq!(response.provider, "backup");
    // The stream says who answers before it ends (the audit log records it even when the
    // reader stops early).
    let (chain, _) = providers.chain(&["down", "backup"]);
    let stream = chain.stream(&request()).await.expect("the backup answers");
    assert_eq!(stream.source(), Some(("backup", "gpt-4o-mini")));
    let alone = stream_through(&providers, &["down"], &request())
        .await
        .result
        .unwrap_err();
    assert!(matches!(alone, LlmError::Network { .. }), "{alone}");
    assert!(alone.to_string().contains("cannot connect"), "{alone}");
}

#[tokio::test]
async fn silent_server_times_out_at_the_first_byte_deadline() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![Reply::Silence]);
    let mut cfg = openai(&fake);
    cfg.first_byte_timeout_ms = Some(200);
    cfg.max_attempts = Some(1);
    let providers = providers(&[("p", cfg)]);
    let started = Instant::now();
    let error = stream_through(&providers, &["p"], &request())
        .await
        .result
        .unwrap_err();
    assert!(
        matches!(
            error,
            LlmError::Timeout {
                phase: TimeoutPhase::FirstByte,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn request_deadline_bounds_every_wait_and_stops_the_chain() {
    let silent = FakeProvider::start().await;
    silent.on(CHAT, vec![Reply::Silence]);
    let backup = FakeProvider::start().await;
    backup.on(CHAT, vec![ok_stream()]);
    let providers = providers(&[("silent", openai(&silent)), ("backup", openai(&backup))]);
    let started = Instant::now();
    let request = LlmRequest::chat(None, "hi").with_timeout(Duration::from_millis(300));
    let error = stream_through(&providers, &["silent", "backup"], &request)
        .await
        .result
        .unwrap_err();
    assert!(
        matches!(
            error,
            LlmError::Timeout {
                phase: TimeoutPhase::Deadline,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        backup.request_count(),
        0,
        "no time left for another provider"
    );
}

#[tokio::test]
async fn slow_drip_within_the_idle_timeout_streams_to_the_end() {
    let fake = FakeProvider::start().await;
    fake.on(
        CHAT,
        vec![Reply::Drip {
            recording: load(OPENAI_STREAM),
            piece: 700,
            every: Duration::from_millis(15),
        }],
    );
    let providers = providers(&[("p", openai(&fake))]);
    let seen = stream_through(&providers, &["p"], &request()).await;
    assert_eq!(seen.result.unwrap().text, "1, 2, 3, 4, 5");
    assert!(
        seen.deltas.len() > 5,
        "text arrives piece by piece: {:?}",
        seen.deltas
    );
}

#[tokio::test]
async fn stalled_stream_ends_with_an_idle_timeout() {
    let fake = FakeProvider::start().await;
    fake.on(
        CHAT,
        vec![Reply::Drip {
            recording: load(OPENAI_STREAM),
            piece: 700,
            every: Duration::from_millis(400),
        }],
    );
    let mut cfg = openai(&fake);
    cfg.idle_timeout_ms = Some(150);
    cfg.max_attempts = Some(1);
    let providers = providers(&[("p", cfg)]);
    let error = stream_through(&providers, &["p"], &request())
        .await
        .result
        .unwrap_err();
    assert!(
        matches!(
            error,
            LlmError::Timeout {
                phase: TimeoutPhase::Idle,
                ..
            }
        ),
        "{error}"
    );
}

const ANTHROPIC_START: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-haiku-4-5\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n";
const ANTHROPIC_OVERLOADED: &str = "event: error\ndata: {\"type\":\"error\",\"error\":{\"details\":null,\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";

fn anthropic(fake: &FakeProvider) -> ProviderConfig {
    config(
        "anthropic",
        &format!("{}/v1", fake.url()),
        "claude-haiku-4-5",
    )
}

#[tokio::test]
async fn error_event_before_any_text_is_retried() {
    let fake = FakeProvider::start().await;
    let failing = Reply::sse(&format!("{ANTHROPIC_START}{ANTHROPIC_OVERLOADED}"));
    fake.on(
        "/v1/messages",
        vec![
            failing,
            Reply::Recorded(load("anthropic/langchaingo__messages_stream.httprr")),
        ],
    );
    let providers = providers(&[("a", anthropic(&fake))]);
    let seen = stream_through(&providers, &["a"], &request()).await;
    assert_eq!(seen.result.unwrap().text, "1\n2\n3\n4\n5");
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn error_event_after_text_reaches_the_user_and_is_never_retried() {
    let fake = FakeProvider::start().await;
    let delta = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n";
    fake.on(
        "/v1/messages",
        vec![Reply::sse(&format!(
            "{ANTHROPIC_START}{delta}{ANTHROPIC_OVERLOADED}"
        ))],
    );
    let providers = providers(&[("a", anthropic(&fake))]);
    let seen = stream_through(&providers, &["a"], &request()).await;
    assert_eq!(seen.deltas, vec!["Hel"]);
    let error = seen.result.unwrap_err();
    assert!(matches!(error, LlmError::Overloaded { .. }), "{error}");
    assert_eq!(error.to_string(), "a: overloaded: Overloaded");
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn stream_cut_after_text_is_a_network_error_and_not_retried() {
    let fake = FakeProvider::start().await;
    let recording = load(OPENAI_STREAM);
    // Cut inside the 4th event, after some text went out.
    let cut = recording
        .body
        .windows(6)
        .enumerate()
        .filter(|(_, w)| w == b"data: ")
        .nth(3)
        .unwrap()
        .0
        + 40;
    fake.on(
        CHAT,
        vec![Reply::CutAfter {
            recording,
            bytes: cut,
        }],
    );
    let providers = providers(&[("p", openai(&fake))]);
    let seen = stream_through(&providers, &["p"], &request()).await;
    assert_eq!(seen.deltas.concat(), "1,");
    let error = seen.result.unwrap_err();
    assert!(matches!(error, LlmError::Network { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("ended before the provider finished"),
        "{error}"
    );
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn stream_cut_before_any_text_is_retried() {
    let fake = FakeProvider::start().await;
    fake.on(
        CHAT,
        vec![
            Reply::CutAfter {
                recording: load(OPENAI_STREAM),
                bytes: 30,
            },
            ok_stream(),
        ],
    );
    let providers = providers(&[("p", openai(&fake))]);
    let seen = stream_through(&providers, &["p"], &request()).await;
    assert_eq!(seen.result.unwrap().text, "1, 2, 3, 4, 5");
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn malformed_json_is_reported_not_retried() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![Reply::sse("data: {\"choices\": [oops\n\n")]);
    let providers = providers(&[("p", openai(&fake))]);
    let error = stream_through(&providers, &["p"], &request())
        .await
        .result
        .unwrap_err();
    assert!(matches!(error, LlmError::Malformed { .. }), "{error}");
    assert!(error.to_string().contains("unreadable JSON"), "{error}");
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn huge_response_is_stopped_at_the_size_bound_and_the_connection_dropped() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![Reply::Endless { piece: 64 * 1024 }]);
    let providers = providers(&[("p", openai(&fake))]);
    let seen = stream_through(&providers, &["p"], &request()).await;
    let error = seen.result.unwrap_err();
    assert!(matches!(error, LlmError::Malformed { .. }), "{error}");
    assert!(error.to_string().contains("larger than 8 MiB"), "{error}");
    let received: usize = seen.deltas.iter().map(String::len).sum();
    assert!(received <= 8 * 1024 * 1024, "{received}");
    assert!(
        fake.wait_for_client_close(1, Duration::from_secs(2)).await,
        "the fake sees the connection closed"
    );
}

#[tokio::test]
async fn breaker_opens_after_consecutive_failures_and_the_chain_skips_the_provider() {
    let broken = FakeProvider::start().await;
    broken.on(CHAT, vec![server_error()]);
    let backup = FakeProvider::start().await;
    backup.on(CHAT, vec![ok_stream()]);
    let mut cfg = openai(&broken);
    cfg.max_attempts = Some(1);
    cfg.breaker_failures = Some(3);
    let providers = providers_with(
        &[("broken", cfg), ("backup", openai(&backup))],
        no_cache(),
        support::TEST_KEY,
    );
    for i in 0..5 {
        let request =
            LlmRequest::chat(None, format!("question {i}")).with_timeout(Duration::from_secs(3));
        let response = stream_through(&providers, &["broken", "backup"], &request)
            .await
            .result
            .unwrap();
        assert_eq!(response.provider, "backup");
    }
    assert_eq!(
        broken.request_count(),
        3,
        "after 3 failures the broken provider is skipped"
    );
    let status = providers.status();
    let broken_status = status
        .providers
        .iter()
        .find(|p| p.name == "broken")
        .unwrap();
    assert_eq!(broken_status.breaker, BreakerState::Open);
    let alone = stream_through(&providers, &["broken"], &request())
        .await
        .result
        .unwrap_err();
    assert!(
        matches!(alone, LlmError::CircuitOpen { failures: 3, .. }),
        "{alone}"
    );
}

#[tokio::test]
async fn half_open_probe_after_the_cool_down_closes_the_breaker() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![server_error(), server_error(), ok_stream()]);
    let mut cfg = openai(&fake);
    cfg.max_attempts = Some(1);
    cfg.breaker_failures = Some(2);
    cfg.breaker_cooldown_ms = Some(100);
    let providers = providers_with(&[("p", cfg)], no_cache(), support::TEST_KEY);
    for _ in 0..2 {
        assert!(stream_through(&providers, &["p"], &request())
            .await
            .result
            .is_err());
    }
    let refused = stream_through(&providers, &["p"], &request())
        .await
        .result
        .unwrap_err();
    assert!(matches!(refused, LlmError::CircuitOpen { .. }), "{refused}");
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        providers.status().providers[0].breaker,
        BreakerState::HalfOpen
    );
    let probe = stream_through(&providers, &["p"], &request()).await;
    assert!(probe.result.is_ok());
    assert_eq!(
        providers.status().providers[0].breaker,
        BreakerState::Closed
    );
    assert_eq!(fake.request_count(), 3);
}

fn no_cache() -> aiex_llm::LlmOptions {
    aiex_llm::LlmOptions {
        cache_max_bytes: 0,
        ..options()
    }
}

#[tokio::test]
async fn rpm_limit_fails_fast_when_the_next_slot_is_after_the_deadline() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![ok_stream()]);
    let mut cfg = openai(&fake);
    cfg.rpm = Some(1);
    let providers = providers_with(&[("p", cfg)], no_cache(), support::TEST_KEY);
    assert!(stream_through(&providers, &["p"], &request())
        .await
        .result
        .is_ok());
    let started = Instant::now();
    let error = stream_through(&providers, &["p"], &request())
        .await
        .result
        .unwrap_err();
    assert!(matches!(error, LlmError::LocalRateLimit { .. }), "{error}");
    assert!(error.to_string().contains("local rate limit"), "{error}");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "fails fast, not after the minute"
    );
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn tpm_limit_waits_for_tokens_and_gets_unused_ones_back() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![ok_stream()]);
    let mut cfg = openai(&fake);
    // 1,000 tokens a second. A request reserves its prompt plus `max_tokens` until it ends.
    cfg.tpm = Some(60_000);
    let providers = providers_with(&[("p", cfg)], no_cache(), support::TEST_KEY);
    let (chain, _) = providers.chain(&["p"]);
    let big = LlmRequest::chat(None, "a")
        .with_max_tokens(59_900)
        .with_timeout(Duration::from_secs(3));
    let in_flight = chain.stream(&big).await.unwrap();

    let started = Instant::now();
    let small = LlmRequest::chat(None, "b")
        .with_max_tokens(200)
        .with_timeout(Duration::from_secs(3));
    assert!(stream_through(&providers, &["p"], &small)
        .await
        .result
        .is_ok());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(80) && waited < Duration::from_millis(1000),
        "{waited:?}"
    );

    // The big answer used 27 tokens: the rest of its reservation comes back when it ends.
    let response = in_flight.collect_response().await.unwrap();
    assert_eq!(
        response.usage.input_tokens + response.usage.output_tokens,
        27
    );
    let started = Instant::now();
    let again = LlmRequest::chat(None, "c")
        .with_max_tokens(59_000)
        .with_timeout(Duration::from_secs(3));
    assert!(stream_through(&providers, &["p"], &again)
        .await
        .result
        .is_ok());
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn dropping_the_request_closes_the_connection_at_once() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![Reply::Silence]);
    let providers = std::sync::Arc::new(providers(&[("p", openai(&fake))]));
    let task = {
        let providers = std::sync::Arc::clone(&providers);
        tokio::spawn(async move {
            let (chain, _) = providers.chain(&["p"]);
            let _ = chain.stream(&request()).await;
        })
    };
    assert!(fake.wait_for_requests(1, Duration::from_secs(2)).await);
    let dropped = Instant::now();
    task.abort();
    assert!(
        fake.wait_for_client_close(1, Duration::from_secs(1)).await,
        "the provider connection is closed"
    );
    assert!(
        dropped.elapsed() < Duration::from_millis(500),
        "{:?}",
        dropped.elapsed()
    );
}

#[tokio::test]
async fn dropping_the_stream_mid_answer_closes_the_connection() {
    let fake = FakeProvider::start().await;
    fake.on(
        CHAT,
        vec![Reply::Drip {
            recording: load(OPENAI_STREAM),
            piece: 400,
            every: Duration::from_millis(50),
        }],
    );
    let providers = providers(&[("p", openai(&fake))]);
    let (chain, _) = providers.chain(&["p"]);
    let mut stream = chain.stream(&request()).await.unwrap();
    assert!(matches!(
        stream.next().await,
        Some(Ok(StreamEvent::Delta(_)))
    ));
    drop(stream);
    assert!(
        fake.wait_for_client_close(1, Duration::from_secs(1)).await,
        "the provider connection is closed"
    );
}

#[tokio::test]
async fn an_api_key_echoed_by_the_provider_never_reaches_the_user() {
    let fake = FakeProvider::start().await;
    fake.on(
        CHAT,
        vec![Reply::Recorded(load(
            "openai/ruby_llm__error_401_invalid_api_key.yml",
        ))],
    );
    // The recording's message quotes the key it was sent: "invalid-key".
    let providers = providers_with(&[("p", openai(&fake))], options(), "invalid-key");
    let error = stream_through(&providers, &["p"], &request())
        .await
        .result
        .unwrap_err();
    assert_eq!(
        fake.requests()[0].headers["authorization"],
        "Bearer invalid-key",
        "the key was sent"
    );
    let shown = error.to_string();
    assert!(!shown.contains("invalid-key"), "{shown}");
    assert!(
        shown.contains("Incorrect API key provided: [redacted]"),
        "{shown}"
    );
    let status = serde_json::to_string(&providers.status()).unwrap();
    assert!(!status.contains("invalid-key"));
    assert!(!format!("{providers:?} {:?}", providers.get("p")).contains("invalid-key"));
}

#[tokio::test]
async fn missing_api_key_variable_is_named_and_the_chain_moves_on() {
    let backup = FakeProvider::start().await;
    backup.on(CHAT, vec![ok_stream()]);
    let mut keyless = openai(&backup);
    keyless.api_key_env = Some("AIEX_TEST_UNSET_KEY".into());
    let configs = [
        ("keyless".to_string(), keyless),
        ("backup".to_string(), openai(&backup)),
    ];
    let (providers, problems) =
        Providers::with_env(configs.iter().map(|(n, c)| (n, c)), options(), &|name| {
            (name == "AIEX_TEST_KEY").then(|| support::TEST_KEY.to_owned())
        });
    assert_eq!(problems, vec!["the environment variable AIEX_TEST_UNSET_KEY (providers.keyless.api_key_env) is not set"]);
    let response = stream_through(&providers, &["keyless", "backup"], &request())
        .await
        .result
        .unwrap();
    assert_eq!(response.provider, "backup");
    assert_eq!(backup.request_count(), 1, "nothing was sent without a key");
}

#[tokio::test]
async fn all_failures_are_listed_in_chain_order() {
    let a = FakeProvider::start().await;
    a.on(
        CHAT,
        vec![Reply::status(
            401,
            r#"{"error":{"message":"bad key"}}"#,
            &[],
        )],
    );
    let b = FakeProvider::start().await;
    b.on(
        CHAT,
        vec![Reply::status(
            400,
            r#"{"error":{"message":"bad request"}}"#,
            &[],
        )],
    );
    let providers = providers(&[("a", openai(&a)), ("b", openai(&b))]);
    let error = stream_through(&providers, &["a", "b"], &request())
        .await
        .result
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "all providers failed: a: authentication failed: bad key (check the API key in the environment variable named by `api_key_env`); b: bad request: bad request"
    );
}

fn ollama(fake: &FakeProvider) -> ProviderConfig {
    let mut cfg = config("ollama", &fake.url(), "qwen2.5-coder:1.5b");
    cfg.api_key_env = None;
    cfg
}

#[tokio::test]
async fn ollama_model_not_pulled_says_how_to_fix_it() {
    let fake = FakeProvider::start().await;
    fake.on(
        "/api/chat",
        vec![Reply::status(
            404,
            r#"{"error":"model \"qwen2.5-coder:1.5b\" not found, try pulling it first"}"#,
            &[],
        )],
    );
    let providers = providers(&[("local", ollama(&fake))]);
    let error = stream_through(&providers, &["local"], &request())
        .await
        .result
        .unwrap_err();
    assert!(matches!(error, LlmError::BadRequest { .. }), "{error}");
    assert!(
        error.to_string().contains("(run `ollama pull <model>`)"),
        "{error}"
    );
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn ollama_error_line_after_text_ends_the_stream_with_its_message() {
    let fake = FakeProvider::start().await;
    let body = "{\"model\":\"qwen2.5-coder:1.5b\",\"message\":{\"role\":\"assistant\",\"content\":\"def\"},\"done\":false}\n{\"error\":\"an error was encountered while running the model: unexpected EOF\"}\n";
    fake.on(
        "/api/chat",
        vec![Reply::Recorded(Recording::new(
            200,
            "application/x-ndjson",
            body,
        ))],
    );
    let providers = providers(&[("local", ollama(&fake))]);
    let seen = stream_through(&providers, &["local"], &request()).await;
    assert_eq!(seen.deltas, vec!["def"]);
    let error = seen.result.unwrap_err();
    assert!(error.to_string().contains("unexpected EOF"), "{error}");
}

#[tokio::test]
async fn a_failure_that_opens_the_breaker_is_reported_as_itself_without_more_retries() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![server_error()]);
    let mut cfg = openai(&fake);
    cfg.max_attempts = Some(5);
    cfg.breaker_failures = Some(2);
    let providers = providers(&[("p", cfg)]);
    let error = stream_through(&providers, &["p"], &request())
        .await
        .result
        .unwrap_err();
    assert!(matches!(error, LlmError::Server { .. }), "{error}");
    assert_eq!(
        fake.request_count(),
        2,
        "the breaker opened at the second failure"
    );
}

#[tokio::test]
async fn retries_count_against_the_requests_per_minute_limit() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![server_error(), ok_stream()]);
    let mut cfg = openai(&fake);
    cfg.rpm = Some(2);
    let providers = providers_with(&[("p", cfg)], no_cache(), support::TEST_KEY);
    assert!(stream_through(&providers, &["p"], &request())
        .await
        .result
        .is_ok());
    assert_eq!(fake.request_count(), 2, "one retry");
    let error = stream_through(&providers, &["p"], &request())
        .await
        .result
        .unwrap_err();
    assert!(matches!(error, LlmError::LocalRateLimit { .. }), "{error}");
}

#[tokio::test]
async fn keep_alive_comments_and_a_missing_done_marker_are_accepted() {
    let fake = FakeProvider::start().await;
    // llama.cpp-style: comment pings, CRLF framing, no `data: [DONE]`.
    let body = ": ping\r\n\r\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"def\"}}]}\r\n\r\n: ping\r\n\r\n\
                data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" a\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\r\n\r\n";
    fake.on(CHAT, vec![Reply::sse(body)]);
    let mut cfg = config(
        "openai-compatible",
        &format!("{}/v1", fake.url()),
        "qwen2.5-coder-7b",
    );
    cfg.api_key_env = None;
    let providers = providers(&[("local", cfg)]);
    let response = stream_through(&providers, &["local"], &request())
        .await
        .result
        .unwrap();
    assert_eq!(response.text, "def a");
    assert_eq!(
        (response.usage.input_tokens, response.usage.output_tokens),
        (3, 2)
    );
}

#[tokio::test]
async fn multi_byte_characters_split_across_network_packets_arrive_intact() {
    let fake = FakeProvider::start().await;
    let recording = load("ollama/langchaingo__api_chat_stream_default.httprr");
    // 97-byte packets cut through the ’ and 😊 of this answer.
    fake.on(
        "/api/chat",
        vec![Reply::Drip {
            recording,
            piece: 97,
            every: Duration::from_millis(1),
        }],
    );
    let providers = providers(&[("local", ollama(&fake))]);
    let response = stream_through(&providers, &["local"], &request())
        .await
        .result
        .unwrap();
    assert!(
        response.text.contains("I’m doing well"),
        "{}",
        response.text
    );
    assert!(response.text.contains('😊'), "{}", response.text);
    assert!(
        !response.text.contains('\u{FFFD}'),
        "no replacement character"
    );
}
