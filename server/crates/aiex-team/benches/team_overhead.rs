//! What team mode adds to one model request with Redis on localhost: the shared-cache look-up
//! (a miss), the admission (rate limits, pause, budget: one script) and the record of the
//! finished request (spend, usage and the shared answer: one script). Starts its own
//! `redis-server` on a free port. Target: < 1 ms median.
//!
//! `cargo bench -p aiex-team --bench team_overhead`

use std::time::{Duration, Instant};

use aiex_llm::cache::CacheKey;
use aiex_llm::team::{TeamAsk, TeamHooks, TeamSettlement, TeamVerdict};
use aiex_llm::{FinishReason, LlmResponse, Usage};
use aiex_team::{BudgetConfig, Team, TeamConfig};

fn main() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut redis = match std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(error) => {
            eprintln!(
                "team_overhead: cannot start redis-server ({error}); apt-get install redis-server"
            );
            std::process::exit(1);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let config = TeamConfig {
        redis_url: Some(format!("redis://127.0.0.1:{port}/0")),
        budget: BudgetConfig {
            team_daily_usd: Some(1_000_000.0),
            user_daily_usd: Some(1_000_000.0),
            ..BudgetConfig::default()
        },
        ..TeamConfig::default()
    };
    let team = Team::new(&config, "bench".to_owned(), &|_| None).expect("team");
    let samples = runtime.block_on(async {
        // Redis may take a moment to listen.
        let ready = Instant::now();
        while !matches!(team.admit(ask()).await, TeamVerdict::Go { .. }) {
            assert!(
                ready.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut samples = Vec::with_capacity(2_000);
        for i in 0u32..2_200 {
            let key = CacheKey::from_parts(&[&i.to_le_bytes()]);
            let response = response();
            let started = Instant::now();
            assert!(team.cached(&key).await.is_none());
            assert!(matches!(team.admit(ask()).await, TeamVerdict::Go { .. }));
            team.settle(TeamSettlement {
                reserved_usd: ask().max_cost_usd,
                cost_usd: response.cost_usd,
                provider: &response.provider,
                model: &response.model,
                usage: response.usage,
                answer: Some((&key, &response.text)),
            })
            .await;
            if i >= 200 {
                samples.push(started.elapsed());
            }
        }
        samples
    });
    let _ = redis.kill();
    let _ = redis.wait();
    let mut sorted = samples;
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q) as usize];
    println!(
        "team mode overhead per request (Redis on localhost, 2,000 requests: cache look-up + admission + record): median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms (target: median < 1 ms)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
    );
}

fn ask() -> TeamAsk<'static> {
    TeamAsk {
        limit_key: "bench",
        rpm: Some(1_000_000),
        tpm: Some(1_000_000_000),
        tokens: 600,
        max_cost_usd: 0.001,
        max_wait: Duration::from_secs(5),
    }
}

fn response() -> LlmResponse {
    LlmResponse {
        text: "def add(a, b), do: a + b".to_owned(),
        finish_reason: FinishReason::Stop,
        usage: Usage {
            input_tokens: 500,
            output_tokens: 12,
            estimated: false,
        },
        cost_usd: 0.0001,
        provider: "bench".to_owned(),
        model: "m".to_owned(),
        latency: Duration::ZERO,
        cached: false,
        team_cache: false,
        timings: None,
    }
}
