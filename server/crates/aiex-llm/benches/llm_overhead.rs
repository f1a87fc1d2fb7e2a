//! Benchmark of the LLM layer's own cost: a chat request with a 2 KB prompt sent to a local fake
//! provider that answers at once (request built, sent, stream parsed, result accounted), and
//! the streaming parsers' throughput on real recordings. Prints figures; run with
//! `cargo bench --bench llm_overhead`.

#[path = "../../../../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use aiex_llm::adapters::{self, ProviderKind};
use aiex_llm::framing::Framer;
use aiex_llm::{LlmOptions, LlmRequest};
use support::fake_provider::{FakeProvider, Reply};
use support::recordings::load;

fn median(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort_unstable();
    (samples[samples.len() / 2], samples[samples.len() * 9 / 10])
}

/// Median and 90th percentile of a streamed request against the fake, and of the same request
/// answered from the cache.
async fn request_overhead() {
    let fake = FakeProvider::start().await;
    fake.on(
        "/v1/chat/completions",
        vec![Reply::Recorded(load(
            "openai/langchaingo__chat_stream_usage.httprr",
        ))],
    );
    let config = support::config("openai", &format!("{}/v1", fake.url()), "gpt-4o-mini");
    let options = LlmOptions {
        cache_max_bytes: 0,
        ..support::options()
    };
    let providers = support::providers_with(&[("p", config.clone())], options, support::TEST_KEY);
    let (chain, _) = providers.chain(&["p"]);
    let prompt: String =
        "defmodule Demo do\n  def hello(name), do: \"Hello #{name}\"\nend\n".repeat(2048 / 60);
    let mut samples = Vec::new();
    for i in 0..2_200 {
        let request = LlmRequest::chat(Some("You explain Elixir code."), format!("{prompt}{i}"))
            .with_timeout(Duration::from_secs(5));
        let started = Instant::now();
        let response = chain.complete(&request).await.expect("the fake answers");
        let elapsed = started.elapsed();
        assert_eq!(response.text, "1, 2, 3, 4, 5");
        if i >= 200 {
            samples.push(elapsed);
        }
    }
    let (p50, p90) = median(samples);
    println!("request overhead, 2 KB prompt, streamed 5 KB answer from a local fake: median {p50:?}, p90 {p90:?} (target: median < 0.3 ms)");

    let cached = support::providers(&[("p", config)]);
    let (chain, _) = cached.chain(&["p"]);
    let request = LlmRequest::chat(None, prompt.clone());
    chain.complete(&request).await.expect("the fake answers");
    let mut samples = Vec::new();
    for _ in 0..10_000 {
        let started = Instant::now();
        let response = chain.complete(&request).await.expect("cached");
        samples.push(started.elapsed());
        assert!(response.cached);
    }
    let (p50, p90) = median(samples);
    println!("cache hit, 2 KB prompt: median {p50:?}, p90 {p90:?}");
}

/// Megabytes per second through framer and decoder, fed in 16 KB network-sized chunks.
fn parse_throughput(fixture: &str, kind: ProviderKind) {
    let recording = load(fixture);
    let content_type = recording
        .content_type()
        .unwrap_or("application/json")
        .to_owned();
    let rounds = (20_000_000 / recording.body.len()).max(1);
    let started = Instant::now();
    let mut text_len = 0;
    for _ in 0..rounds {
        let mut framer = Framer::for_content_type(&content_type);
        let mut decoder = adapters::decoder(kind, "bench");
        let mut frames = Vec::new();
        let mut deltas = Vec::new();
        for chunk in recording.body.chunks(16 * 1024) {
            framer.feed(chunk, &mut frames).expect("framing");
            for frame in frames.drain(..) {
                decoder.frame(&frame, &mut deltas).expect("decoding");
            }
        }
        framer.finish(&mut frames);
        text_len = deltas.iter().map(String::len).sum::<usize>();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mb = (recording.body.len() * rounds) as f64 / 1e6;
    println!(
        "stream parse {fixture}: {:.0} MB/s ({} bytes, {text_len} bytes of text)",
        mb / elapsed,
        recording.body.len()
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(request_overhead());
    parse_throughput(
        "openai/vercel-ai__openai-text.chunks.txt",
        ProviderKind::OpenAi,
    );
    parse_throughput(
        "anthropic/langchaingo__messages_stream.httprr",
        ProviderKind::Anthropic,
    );
    parse_throughput(
        "gemini/langchaingo__streamGenerateContent_jsonarray.httprr",
        ProviderKind::Gemini,
    );
    parse_throughput(
        "ollama/langchaingo__api_chat_stream_default.httprr",
        ProviderKind::Ollama,
    );
}
