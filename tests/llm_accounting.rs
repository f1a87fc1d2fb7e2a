//! What the user is told about their AI use: cached answers, token counts and cost per provider,
//! model and day kept on disk, the status snapshot and the `aiex doctor` report.

mod support;

use std::time::Duration;

use aiex_llm::{LlmOptions, LlmRequest, PriceConfig, ProviderConfig, Providers};
use support::fake_provider::{refused_url, FakeProvider, Reply};
use support::recordings::load;
use support::{config, options, providers, providers_with, stream_through, TEST_KEY};

const OPENAI_STREAM: &str = "openai/langchaingo__chat_stream_usage.httprr";
const CHAT: &str = "/v1/chat/completions";

fn openai(fake: &FakeProvider) -> ProviderConfig {
    config("openai", &format!("{}/v1", fake.url()), "gpt-3.5-turbo")
}

fn request(text: &str) -> LlmRequest {
    LlmRequest::chat(None, text).with_timeout(Duration::from_secs(3))
}

#[tokio::test]
async fn a_repeated_request_is_answered_from_the_cache_for_free() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![Reply::Recorded(load(OPENAI_STREAM))]);
    let providers = providers(&[("p", openai(&fake))]);
    let first = stream_through(&providers, &["p"], &request("count"))
        .await
        .result
        .unwrap();
    let second = stream_through(&providers, &["p"], &request("count")).await;
    let second_response = second.result.unwrap();
    assert_eq!(
        second.deltas,
        vec!["1, 2, 3, 4, 5"],
        "the cached text comes as one delta"
    );
    assert_eq!(second_response.text, first.text);
    assert!(second_response.cached && !first.cached);
    assert_eq!(second_response.cost_usd, 0.0);
    assert_eq!(fake.request_count(), 1);
    let cache = providers.status().cache;
    assert_eq!((cache.hits, cache.misses, cache.entries), (1, 1, 1));
    assert_eq!(cache.hit_rate, 0.5);
    assert_eq!(
        providers.usage().today.requests,
        1,
        "a cache hit costs nothing and is not counted"
    );
}

#[tokio::test]
async fn another_prompt_or_setting_is_not_served_from_the_cache() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![Reply::Recorded(load(OPENAI_STREAM))]);
    let providers = providers(&[("p", openai(&fake))]);
    for request in [
        request("count"),
        request("count").with_temperature(0.5),
        request("count").with_max_tokens(7),
        request("count again"),
    ] {
        assert!(
            !stream_through(&providers, &["p"], &request)
                .await
                .result
                .unwrap()
                .cached
        );
    }
    assert_eq!(fake.request_count(), 4);
}

#[tokio::test]
async fn a_failed_answer_is_not_cached() {
    let fake = FakeProvider::start().await;
    let recording = load(OPENAI_STREAM);
    let cut = recording.body.len() - 40;
    fake.on(
        CHAT,
        vec![
            Reply::CutAfter {
                recording,
                bytes: cut,
            },
            Reply::Recorded(load(OPENAI_STREAM)),
        ],
    );
    let mut cfg = openai(&fake);
    cfg.max_attempts = Some(1);
    let providers = providers(&[("p", cfg)]);
    assert!(stream_through(&providers, &["p"], &request("count"))
        .await
        .result
        .is_err());
    let retried = stream_through(&providers, &["p"], &request("count"))
        .await
        .result
        .unwrap();
    assert!(!retried.cached);
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn cached_answers_expire_after_their_ttl() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![Reply::Recorded(load(OPENAI_STREAM))]);
    let short = LlmOptions {
        cache_ttl: Duration::from_millis(50),
        ..options()
    };
    let providers = providers_with(&[("p", openai(&fake))], short, TEST_KEY);
    stream_through(&providers, &["p"], &request("count"))
        .await
        .result
        .unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(
        !stream_through(&providers, &["p"], &request("count"))
            .await
            .result
            .unwrap()
            .cached
    );
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn usage_and_cost_are_totalled_per_provider_and_model_and_kept_on_disk() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![Reply::Recorded(load(OPENAI_STREAM))]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aiex").join("usage.json");
    let with_file = LlmOptions {
        usage_path: Some(path.clone()),
        cache_max_bytes: 0,
        ..options()
    };
    {
        let providers = providers_with(&[("hosted", openai(&fake))], with_file.clone(), TEST_KEY);
        let response = stream_through(&providers, &["hosted"], &request("count"))
            .await
            .result
            .unwrap();
        // gpt-3.5-turbo: $0.50 in, $1.50 out per million tokens; 14 in, 13 out.
        let expected = (14.0 * 0.5 + 13.0 * 1.5) / 1e6;
        assert!(
            (response.cost_usd - expected).abs() < 1e-12,
            "{}",
            response.cost_usd
        );
        stream_through(&providers, &["hosted"], &request("count"))
            .await
            .result
            .unwrap();
        providers.flush_usage().unwrap();
    }
    assert!(path.exists());
    let reopened = providers_with(&[("hosted", openai(&fake))], with_file, TEST_KEY);
    let usage = reopened.usage();
    assert_eq!(usage.today.requests, 2);
    assert_eq!(
        (usage.today.input_tokens, usage.today.output_tokens),
        (28, 26)
    );
    assert_eq!(usage.rows.len(), 1);
    assert_eq!(
        (
            usage.rows[0].provider.as_str(),
            usage.rows[0].model.as_str()
        ),
        ("hosted", "gpt-3.5-turbo-0125")
    );
    assert!(
        usage
            .to_text()
            .contains("hosted gpt-3.5-turbo-0125: 2 requests, 28 in, 26 out"),
        "{}",
        usage.to_text()
    );
}

#[tokio::test]
async fn configured_prices_replace_the_built_in_table() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![Reply::Recorded(load(OPENAI_STREAM))]);
    let mut cfg = openai(&fake);
    cfg.prices = Some(PriceConfig {
        input_per_mtok: 1000.0,
        output_per_mtok: 2000.0,
    });
    let providers = providers(&[("p", cfg)]);
    let response = stream_through(&providers, &["p"], &request("count"))
        .await
        .result
        .unwrap();
    assert!(
        (response.cost_usd - 0.04).abs() < 1e-12,
        "{}",
        response.cost_usd
    );
}

#[tokio::test]
async fn tokens_are_counted_locally_when_the_provider_reports_none() {
    let fake = FakeProvider::start().await;
    let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello world\"}}]}\n\n\
                data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
                data: [DONE]\n\n";
    fake.on(CHAT, vec![Reply::sse(body)]);
    let mut cfg = config(
        "openai-compatible",
        &format!("{}/v1", fake.url()),
        "local-model",
    );
    cfg.api_key_env = None;
    let providers = providers(&[("local", cfg)]);
    let response = stream_through(&providers, &["local"], &request("Say hello world"))
        .await
        .result
        .unwrap();
    assert!(response.usage.estimated);
    assert_eq!(
        response.usage.output_tokens, 2,
        "\"Hello world\" is two cl100k tokens"
    );
    assert!(response.usage.input_tokens >= 3);
    assert_eq!(response.cost_usd, 0.0, "no known price for a local model");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_read_only_until_the_suggestion_was_decided_is_still_counted() {
    // A completion stops reading once its line is decided and drops the connection: the
    // provider billed the prompt and what streamed, so the totals count the request.
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![Reply::Endless { piece: 40 }]);
    let providers = providers(&[("p", openai(&fake))]);
    let (chain, _) = providers.chain(&["p"]);
    let mut stream = chain
        .stream(&request("Write a long story about a cat"))
        .await
        .expect("the stream opens");
    match futures::StreamExt::next(&mut stream).await {
        Some(Ok(aiex_llm::StreamEvent::Delta(_))) => {}
        other => panic!("a delta, not {other:?}"),
    }
    drop(stream);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let today = loop {
        let today = providers.usage().today;
        if today.requests == 1 {
            break today;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the dropped request was never counted: {today:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        today.input_tokens >= 5 && today.output_tokens >= 1,
        "its prompt and what streamed, estimated: {today:?}"
    );
}

#[tokio::test]
async fn doctor_lists_each_providers_models_and_flags_a_missing_one() {
    let openai_fake = FakeProvider::start().await;
    openai_fake.on(
        "/v1/models",
        vec![Reply::status(
            200,
            r#"{"object":"list","data":[{"id":"gpt-4o"},{"id":"gpt-3.5-turbo"}]}"#,
            &[],
        )],
    );
    let ollama_fake = FakeProvider::start().await;
    ollama_fake.on(
        "/api/tags",
        vec![Reply::status(
            200,
            r#"{"models":[{"name":"llama3.1:latest"},{"name":"gemma3:1b"}]}"#,
            &[],
        )],
    );
    let mut ollama = config("ollama", &ollama_fake.url(), "qwen2.5-coder:1.5b");
    ollama.api_key_env = None;
    let mut down = config("ollama", &refused_url().await, "llama3.1");
    down.api_key_env = None;
    let providers = providers(&[
        ("hosted", openai(&openai_fake)),
        ("local", ollama),
        ("down", down),
    ]);
    let reports = providers.doctor().await;
    let by_name = |name: &str| reports.iter().find(|r| r.provider.name == name).unwrap();
    let hosted = by_name("hosted");
    assert_eq!(
        hosted.models,
        Ok(vec!["gpt-4o".to_owned(), "gpt-3.5-turbo".to_owned()])
    );
    assert_eq!(hosted.model_available, Some(true));
    assert!(hosted.provider.api_key_present);
    assert_eq!(
        openai_fake.requests()[0].headers["authorization"],
        format!("Bearer {TEST_KEY}")
    );
    let local = by_name("local");
    assert_eq!(
        local.model_available,
        Some(false),
        "qwen2.5-coder is not pulled"
    );
    assert_eq!(local.provider.fim, "native");
    let down = by_name("down");
    assert!(
        down.models.as_ref().unwrap_err().contains("cannot connect"),
        "{:?}",
        down.models
    );
    assert_eq!(down.model_available, None);
    assert!(
        local.to_text().contains(
            "model qwen2.5-coder:1.5b not offered; the server lists: llama3.1:latest, gemma3:1b"
        ),
        "{}",
        local.to_text()
    );
    assert!(
        down.to_text()
            .contains("unreachable: down: network error: cannot connect"),
        "{}",
        down.to_text()
    );
}

#[tokio::test]
async fn configuration_problems_are_reported_by_path_and_the_rest_still_works() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![Reply::Recorded(load(OPENAI_STREAM))]);
    let mut odd = openai(&fake);
    odd.kind = "openia".into();
    let mut bad_fim = openai(&fake);
    bad_fim.fim = Some("sometimes".into());
    let configs = [
        ("odd".to_string(), odd),
        ("bad_fim".to_string(), bad_fim),
        ("good".to_string(), openai(&fake)),
    ];
    let (providers, problems) =
        Providers::with_env(configs.iter().map(|(n, c)| (n, c)), options(), &|_| {
            Some(TEST_KEY.to_owned())
        });
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("providers.odd.kind: unknown kind \"openia\""),
        "{problems:?}"
    );
    assert!(
        problems[1].starts_with("providers.bad_fim.`fim` must be auto, native, template or chat"),
        "{problems:?}"
    );
    let (chain, unknown) = providers.chain(&["odd", "good"]);
    assert_eq!(unknown, vec!["odd"]);
    assert_eq!(
        chain.complete(&request("count")).await.unwrap().text,
        "1, 2, 3, 4, 5"
    );
    let fim = LlmRequest::fim("a", "b").with_timeout(Duration::from_secs(1));
    let error = providers
        .chain(&["bad_fim"])
        .0
        .complete(&fim)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "config");
}

#[tokio::test]
async fn status_reports_every_provider_with_its_counters() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![Reply::Recorded(load(OPENAI_STREAM))]);
    let mut local = config("ollama", &refused_url().await, "qwen2.5-coder:1.5b");
    local.api_key_env = None;
    local.max_attempts = Some(1);
    let providers = providers(&[("hosted", openai(&fake)), ("local", local)]);
    stream_through(&providers, &["local", "hosted"], &request("count"))
        .await
        .result
        .unwrap();
    let status = providers.status();
    let hosted = status
        .providers
        .iter()
        .find(|p| p.name == "hosted")
        .unwrap();
    let local = status.providers.iter().find(|p| p.name == "local").unwrap();
    assert_eq!(
        (hosted.requests, hosted.successes, hosted.failures),
        (1, 1, 0)
    );
    assert_eq!((local.requests, local.successes, local.failures), (1, 0, 1));
    assert_eq!(local.consecutive_failures, 1);
    assert!(local
        .last_error
        .as_deref()
        .unwrap()
        .contains("cannot connect"));
    assert_eq!(local.kind, "ollama");
}

#[tokio::test]
async fn a_configuration_change_keeps_unchanged_providers_and_the_usage_totals() {
    let fake = FakeProvider::start().await;
    fake.on(CHAT, vec![Reply::Recorded(load(OPENAI_STREAM))]);
    let before = [
        ("same".to_string(), openai(&fake)),
        ("changed".to_string(), openai(&fake)),
    ];
    let env = |name: &str| (name == "AIEX_TEST_KEY").then(|| TEST_KEY.to_owned());
    let (providers, _) = Providers::with_env(before.iter().map(|(n, c)| (n, c)), options(), &env);
    stream_through(&providers, &["same"], &request("one"))
        .await
        .result
        .unwrap();
    stream_through(&providers, &["changed"], &request("two"))
        .await
        .result
        .unwrap();

    let mut changed = openai(&fake);
    changed.model = "gpt-4o-mini".into();
    let after = [
        ("same".to_string(), openai(&fake)),
        ("changed".to_string(), changed),
    ];
    let (updated, problems) =
        providers.reconfigure_with_env(after.iter().map(|(n, c)| (n, c)), &env);
    assert!(problems.is_empty());
    let status = updated.status();
    let same = status.providers.iter().find(|p| p.name == "same").unwrap();
    let changed = status
        .providers
        .iter()
        .find(|p| p.name == "changed")
        .unwrap();
    assert_eq!(same.requests, 1, "the unchanged provider is the same one");
    assert_eq!(
        (changed.requests, changed.model.as_str()),
        (0, "gpt-4o-mini")
    );
    assert_eq!(
        updated.usage().today.requests,
        2,
        "one ledger for both sets"
    );
    assert!(
        stream_through(&updated, &["same"], &request("one"))
            .await
            .result
            .unwrap()
            .cached,
        "one cache too"
    );
}
