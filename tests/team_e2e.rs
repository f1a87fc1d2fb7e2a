//! Team mode against a real `redis-server`: several provider sets stand for several editor
//! processes of a team (each with its own `Team` connection), in front of the fake provider.
//! The rate limit is the team's, one process's answer serves the others, budgets refuse, and
//! a Redis that dies mid-run never makes a request hang: processes carry on with local limits
//! and return to Redis when it is back.

#[path = "support/lsp_client.rs"]
mod lsp_client;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aiex::llm::{LlmError, LlmRequest, PriceConfig, ProviderConfig, Providers, TeamHooks};
use aiex::team::{BudgetConfig, Team, TeamConfig};
use support::fake_provider::{FakeProvider, Reply};
use support::recordings::load;
use support::redis::RedisServer;
use support::{config, providers, stream_through};

const CHAT: &str = "/v1/chat/completions";

/// A fake OpenAI answering every chat with one recorded stream (with its usage).
async fn recorded_chat() -> FakeProvider {
    let fake = FakeProvider::start().await;
    fake.on(
        CHAT,
        vec![Reply::Recorded(load(
            "openai/langchaingo__chat_stream_usage.httprr",
        ))],
    );
    fake
}

fn openai(fake: &FakeProvider) -> ProviderConfig {
    config("openai", &format!("{}/v1", fake.url()), "gpt-4o-mini")
}

/// [`openai`] at a price that makes a few tokens cost cents: budgets bite at once.
fn priced_openai(fake: &FakeProvider) -> ProviderConfig {
    ProviderConfig {
        prices: Some(PriceConfig {
            input_per_mtok: 1_000.0,
            output_per_mtok: 1_000.0,
        }),
        ..openai(fake)
    }
}

/// What the team keeps [`openai`]'s limits under.
fn openai_limit_key(fake: &FakeProvider) -> String {
    aiex::llm::team_limit_key("openai", &format!("{}/v1", fake.url()), "gpt-4o-mini")
}

fn team_config(redis: &RedisServer) -> TeamConfig {
    TeamConfig {
        redis_url: Some(redis.url()),
        // Generous: the test machine is shared; a miss would only mean local limits.
        timeout_ms: Some(500),
        ..TeamConfig::default()
    }
}

/// One editor process of the team: its own providers (limiter, cache, ledger) and its own
/// connection to the team's Redis.
fn process(provider: &ProviderConfig, team: &TeamConfig, user: &str) -> (Providers, Arc<Team>) {
    let providers = providers(&[("p", provider.clone())]);
    let team = Team::new(team, user.to_owned(), &|_| None).expect("team");
    providers.set_team(Some(Arc::clone(&team) as Arc<dyn TeamHooks>));
    (providers, team)
}

/// What the tests of this binary log at `warn` and above: one global subscriber, since the
/// team's tasks log from whichever runtime thread runs them.
fn captured_logs() -> &'static std::sync::Mutex<Vec<u8>> {
    static LOGS: std::sync::OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = Arc::clone(&buffer);
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || LogWriter(Arc::clone(&writer)))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        buffer
    })
}

struct LogWriter(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn request(prompt: &str) -> LlmRequest {
    LlmRequest::chat(None, prompt).with_timeout(Duration::from_secs(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_asking_the_same_prompt_call_the_provider_once() {
    let Some(redis) = RedisServer::start("two_processes_asking_the_same_prompt") else {
        return;
    };
    let fake = recorded_chat().await;
    let team = team_config(&redis);
    let (first, _) = process(&openai(&fake), &team, "ana");
    let (second, _) = process(&openai(&fake), &team, "bo");
    let answer = stream_through(&first, &["p"], &request("Count from 1 to 5")).await;
    assert_eq!(answer.result.expect("first answer").text, "1, 2, 3, 4, 5");
    let shared = stream_through(&second, &["p"], &request("Count from 1 to 5"))
        .await
        .result
        .expect("second answer");
    assert_eq!(shared.text, "1, 2, 3, 4, 5");
    assert!(
        shared.cached,
        "the second process is served from the team's cache"
    );
    assert_eq!(fake.request_count(), 1, "the provider is called once");
    // Redis holds the hash and the answer: no prompt text, no path.
    let keys = redis.cli(&["--scan", "--pattern", "aiex:default:cache:*"]);
    let key = keys.lines().next().expect("a shared answer");
    assert_eq!(key.len(), "aiex:default:cache:".len() + 64, "{key}");
    let dump = redis.cli(&["--scan"]);
    for key in dump.lines() {
        assert!(!key.contains("Count"), "{key}");
    }
    assert_eq!(redis.cli(&["GET", key]).trim(), "1, 2, 3, 4, 5");
}

/// The issue's load test, scaled for CI: twenty processes, a team limit of `rpm`, requests
/// for a window; the provider sees at most the limit, every request ends by its deadline.
async fn load_test(window: Duration, rpm: u32) {
    let Some(redis) = RedisServer::start("team_rate_limit_load") else {
        return;
    };
    let fake = recorded_chat().await;
    let team = team_config(&redis);
    let mut provider = openai(&fake);
    provider.rpm = Some(rpm);
    let processes: Vec<Providers> = (0..20)
        .map(|i| process(&provider, &team, &format!("dev{i}")).0)
        .collect();
    let started = Instant::now();
    let tasks = processes.into_iter().enumerate().map(|(i, providers)| {
        tokio::spawn(async move {
            let (mut answered, mut limited) = (0, 0);
            let mut n = 0;
            while started.elapsed() < window {
                n += 1;
                let asked = Instant::now();
                let seen = stream_through(&providers, &["p"], &request(&format!("{i}/{n}"))).await;
                // The deadline, and headroom for a loaded machine.
                assert!(
                    asked.elapsed() < Duration::from_secs(5),
                    "a request outlived its 2 s deadline: {:?}",
                    asked.elapsed()
                );
                match seen.result {
                    Ok(_) => answered += 1,
                    // Refused at once: the team's slot (or this process's own) is after the deadline.
                    Err(LlmError::TeamRateLimit { .. } | LlmError::LocalRateLimit { .. }) => {
                        limited += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(other) => panic!("process {i} failed: {other}"),
                }
            }
            (answered, limited)
        })
    });
    let mut answered = 0;
    let mut limited = 0;
    for task in futures::future::join_all(tasks).await {
        let (a, l) = task.expect("no process panicked");
        answered += a;
        limited += l;
    }
    let seen = fake.request_count();
    eprintln!(
        "load test: 20 processes, {window:?}, team limit {rpm}/min: provider saw {seen}, \
         {answered} answered, {limited} refused by the team limit"
    );
    assert!(seen <= rpm as usize, "the provider saw {seen} > {rpm}");
    assert_eq!(seen, answered);
    assert!(limited > 0, "the load exceeded the limit");
    assert!(
        seen >= (rpm as usize) * 9 / 10,
        "the limit was used: {seen}"
    );
}

#[test]
fn twenty_processes_share_one_rate_limit() {
    let _one_at_a_time = TWENTY_PROCESSES.lock().unwrap_or_else(|p| p.into_inner());
    // The issue's 60 a minute for 30 s, at the same ratio over 6 s, in one process (the real
    // processes' run is `twenty_language_servers_share_one_rate_limit_...`).
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(load_test(Duration::from_secs(6), 12));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_dying_mid_run_falls_back_to_local_limits_and_comes_back() {
    let Some(mut redis) = RedisServer::start("redis_dying_mid_run") else {
        return;
    };
    let fake = recorded_chat().await;
    let team = team_config(&redis);
    let mut provider = openai(&fake);
    provider.rpm = Some(4);
    let (a, team_a) = process(&provider, &team, "ana");
    let (b, _) = process(&provider, &team, "bo");
    // The team's 4 a minute: four answers between both, then a refusal (a's third request;
    // each process's own limiter counted its requests too).
    let mut answered = 0;
    for n in 0..5 {
        let providers = if n % 2 == 0 { &a } else { &b };
        if stream_through(providers, &["p"], &request(&format!("before {n}")))
            .await
            .result
            .is_ok()
        {
            answered += 1;
        }
    }
    assert_eq!(answered, 4, "the team limit held while Redis ran");
    assert!(team_a.is_connected());

    redis.kill();
    // Each process now has its own 3 a minute; none of these may hang.
    let mut after = 0;
    for n in 0..4 {
        let providers = if n % 2 == 0 { &a } else { &b };
        let asked = Instant::now();
        let result = stream_through(providers, &["p"], &request(&format!("during {n}")))
            .await
            .result;
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "no request hangs: {:?}",
            asked.elapsed()
        );
        if result.is_ok() {
            after += 1;
        }
    }
    assert!(!team_a.is_connected(), "the outage is noticed");
    // Locally each process had used 1 or 2 of its own 3 before: at least one more each.
    assert!(
        after >= 2,
        "the processes carry on with local limits ({after} answered)"
    );

    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !team_a.is_connected() {
        assert!(Instant::now() < deadline, "reconnected within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Both processes spent their own limits meanwhile; ask the team directly, as the next
    // request will.
    let limit_key = openai_limit_key(&fake);
    let verdict = team_a
        .admit(aiex::llm::TeamAsk {
            limit_key: &limit_key,
            rpm: Some(4),
            tpm: None,
            tokens: 0,
            max_cost_usd: 0.0,
            max_wait: Duration::from_secs(1),
        })
        .await;
    assert_eq!(
        verdict,
        aiex::llm::TeamVerdict::Go {
            wait: Duration::ZERO
        }
    );
    assert_eq!(
        redis
            .cli(&["ZCARD", &format!("aiex:default:rl:{limit_key}:requests")])
            .trim(),
        "1",
        "the fresh Redis holds the slot of the request made after it came back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teammates_naming_one_provider_differently_share_its_rate_limit() {
    let Some(redis) = RedisServer::start("one_provider_named_differently") else {
        return;
    };
    let fake = recorded_chat().await;
    let team = team_config(&redis);
    let mut provider = openai(&fake);
    provider.rpm = Some(2);
    // Ana calls it `work`, Bo calls it `openai`: one endpoint, one model, one limit.
    let ana = providers(&[("work", provider.clone())]);
    let bo = providers(&[("openai", provider.clone())]);
    for (providers, name) in [(&ana, "work"), (&bo, "openai")] {
        let member = Team::new(&team, name.to_owned(), &|_| None).expect("team");
        providers.set_team(Some(member as Arc<dyn TeamHooks>));
    }
    let first = stream_through(&ana, &["work"], &request("one")).await;
    let second = stream_through(&bo, &["openai"], &request("two")).await;
    assert!(first.result.is_ok() && second.result.is_ok());
    let third = stream_through(&bo, &["openai"], &request("three")).await;
    assert!(
        matches!(third.result, Err(LlmError::TeamRateLimit { .. })),
        "the team's 2 a minute were spent by both names: {:?}",
        third.result
    );
    assert_eq!(fake.request_count(), 2);
    // The key names neither the provider nor its endpoint.
    let keys = redis.cli(&["--scan", "--pattern", "aiex:default:rl:*"]);
    assert_eq!(
        keys.trim(),
        format!("aiex:default:rl:{}:requests", openai_limit_key(&fake))
    );
    assert!(
        !keys.contains("work") && !keys.contains("127.0.0.1"),
        "{keys}"
    );
    // Another model at the same endpoint has limits of its own.
    let mut other_model = provider;
    other_model.model = "gpt-4o".to_owned();
    let carol = providers(&[("work", other_model)]);
    carol.set_team(Some(
        Team::new(&team, "carol".to_owned(), &|_| None).expect("team") as Arc<dyn TeamHooks>,
    ));
    assert!(stream_through(&carol, &["work"], &request("four"))
        .await
        .result
        .is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_could_pass_a_hard_cap_is_refused_with_a_clear_message() {
    let Some(redis) = RedisServer::start("budget_cap") else {
        return;
    };
    let fake = recorded_chat().await;
    let provider = priced_openai(&fake);
    let team = TeamConfig {
        budget: BudgetConfig {
            team_daily_usd: Some(0.05),
            ..BudgetConfig::default()
        },
        ..team_config(&redis)
    };
    let (a, team_a) = process(&provider, &team, "ana");
    let (b, _) = process(&provider, &team, "bo");
    // A budget needs each request's cost estimated: the first loads the tokenizer, slow in a
    // debug build on a busy machine, hence a longer deadline.
    let mut first = request("one").with_timeout(Duration::from_secs(20));
    first.max_tokens = 8;
    assert!(stream_through(&a, &["p"], &first).await.result.is_ok());
    let usage = team_a.usage().await.expect("team usage");
    assert_eq!(usage.today.requests, 1);
    assert!(usage.spent_usd[0] > 0.0);
    let mut second = request("two").with_timeout(Duration::from_secs(20));
    second.max_tokens = 64;
    let refused = stream_through(&b, &["p"], &second)
        .await
        .result
        .unwrap_err();
    assert!(matches!(refused, LlmError::OverBudget { .. }), "{refused}");
    let message = refused.to_string();
    assert!(message.contains("team.budget.team_daily_usd"), "{message}");
    assert!(message.contains("$0.05"), "{message}");
    assert_eq!(fake.request_count(), 1, "the refused request was not sent");
    assert!(usage.to_text().contains("cap $0.05"), "{}", usage.to_text());
}

/// A budget ask of `cost` dollars, as a provider makes before sending.
fn priced_ask(cost: f64) -> aiex::llm::TeamAsk<'static> {
    aiex::llm::TeamAsk {
        limit_key: "priced",
        rpm: None,
        tpm: None,
        tokens: 0,
        max_cost_usd: cost,
        max_wait: Duration::from_secs(1),
    }
}

/// The team's spend today, as Redis holds it.
fn team_spent_today(redis: &RedisServer) -> f64 {
    let keys = redis.cli(&["--scan", "--pattern", "aiex:default:spend:team:day:*"]);
    let key = keys.lines().next().unwrap_or("none");
    redis.cli(&["GET", key]).trim().parse().unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_admitted_at_once_cannot_pass_a_hard_cap_together() {
    let Some(redis) = RedisServer::start("admitted_at_once_cannot_pass_a_cap") else {
        return;
    };
    let team = TeamConfig {
        budget: BudgetConfig {
            team_daily_usd: Some(1.0),
            ..BudgetConfig::default()
        },
        ..team_config(&redis)
    };
    // Ten processes each ask for a request that may cost $0.30, all at once, before any has
    // finished: the cap of $1 holds three of them, not ten.
    let members: Vec<Arc<Team>> = (0..10)
        .map(|i| Team::new(&team, format!("dev{i}"), &|_| None).expect("team"))
        .collect();
    let verdicts =
        futures::future::join_all(members.iter().map(|m| m.admit(priced_ask(0.3)))).await;
    let admitted = verdicts
        .iter()
        .filter(|v| matches!(v, aiex::llm::TeamVerdict::Go { .. }))
        .count();
    let refused = verdicts
        .iter()
        .filter(|v| matches!(v, aiex::llm::TeamVerdict::OverBudget(_)))
        .count();
    assert_eq!((admitted, refused), (3, 7), "{verdicts:?}");
    assert!(
        (team_spent_today(&redis) - 0.9).abs() < 1e-9,
        "reserved: {}",
        team_spent_today(&redis)
    );
    // Settled for what they cost ($0.05 each), the reservations give room back.
    for member in &members[..3] {
        member
            .settle(aiex::llm::TeamSettlement {
                reserved_usd: 0.3,
                cost_usd: 0.05,
                provider: "p",
                model: "m",
                usage: aiex::llm::Usage {
                    input_tokens: 10,
                    output_tokens: 5,
                    estimated: false,
                },
                answer: None,
            })
            .await;
    }
    assert!(
        (team_spent_today(&redis) - 0.15).abs() < 1e-9,
        "settled: {}",
        team_spent_today(&redis)
    );
    assert!(matches!(
        members[9].admit(priced_ask(0.3)).await,
        aiex::llm::TeamVerdict::Go { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_dropped_before_its_end_is_charged_its_prompt_and_what_streamed() {
    let Some(redis) = RedisServer::start("a_dropped_stream_is_charged") else {
        return;
    };
    let fake = FakeProvider::start().await;
    // An answer that never ends: only the reader's going away stops it.
    fake.on(CHAT, vec![Reply::Endless { piece: 40 }]);
    let provider = priced_openai(&fake);
    let team = TeamConfig {
        budget: BudgetConfig {
            team_daily_usd: Some(100.0),
            ..BudgetConfig::default()
        },
        ..team_config(&redis)
    };
    let (a, team_a) = process(&provider, &team, "ana");
    let mut ask = request("Write a long story about a cat").with_timeout(Duration::from_secs(20));
    ask.max_tokens = 4_000;
    let (chain, _) = a.chain(&["p"]);
    let mut stream = chain.stream(&ask).await.expect("the stream opens");
    let mut streamed = String::new();
    while streamed.len() < 400 {
        match futures::StreamExt::next(&mut stream).await {
            Some(Ok(aiex::llm::StreamEvent::Delta(delta))) => streamed.push_str(&delta),
            other => panic!("a delta, not {other:?}"),
        }
    }
    // While it streams, the request's most cost (4,000 tokens and the prompt at $1,000 a
    // million: over $4) is reserved.
    assert!(
        team_spent_today(&redis) > 4.0,
        "{}",
        team_spent_today(&redis)
    );
    // The editor moves on: the stream is dropped, the answer never finished.
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(10);
    let charged = loop {
        let usage = team_a.usage().await.expect("team usage");
        if usage.today.requests == 1 {
            break usage;
        }
        assert!(
            Instant::now() < deadline,
            "the dropped request was never charged"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let spent = charged.spent_usd[0];
    // Its prompt and the ~400 characters that streamed: far below the reservation, never
    // nothing.
    assert!(spent > 0.0 && spent < 1.0, "charged ${spent}");
    assert!(
        charged.today.input_tokens > 0,
        "the prompt is billed: {charged:?}"
    );
    assert!(
        charged.today.output_tokens > 0,
        "what streamed is billed: {charged:?}"
    );
    assert!((charged.today.cost_usd - spent).abs() < 1e-9, "{charged:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_seen_by_one_process_pauses_every_process_of_the_team() {
    let Some(redis) = RedisServer::start("retry_after_pauses_the_team") else {
        return;
    };
    let fake = FakeProvider::start().await;
    fake.on(
        CHAT,
        vec![
            Reply::status(
                429,
                r#"{"error":{"message":"Rate limit reached","type":"requests"}}"#,
                &[("retry-after", "2")],
            ),
            Reply::Recorded(load("openai/langchaingo__chat_stream_usage.httprr")),
        ],
    );
    let mut provider = openai(&fake);
    // No retry: the 429 comes back to the first process as it is.
    provider.max_attempts = Some(1);
    let team = team_config(&redis);
    let (a, _) = process(&provider, &team, "ana");
    let (b, _) = process(&provider, &team, "bo");
    let first = stream_through(&a, &["p"], &request("one")).await;
    assert!(
        matches!(first.result, Err(LlmError::RateLimited { .. })),
        "{:?}",
        first.result
    );
    let paused = redis.cli(&[
        "PTTL",
        &format!("aiex:default:pause:{}", openai_limit_key(&fake)),
    ]);
    assert!(
        paused.trim().parse::<i64>().is_ok_and(|ms| ms > 0),
        "the pause is the team's: {paused}"
    );
    // Bo never saw the 429: a request that cannot wait the pause out is refused at once,
    // without reaching the provider...
    let mut hurried = request("two");
    hurried.deadline = Some(tokio::time::Instant::now() + Duration::from_millis(500));
    let refused = stream_through(&b, &["p"], &hurried).await;
    assert!(
        matches!(refused.result, Err(LlmError::TeamRateLimit { .. })),
        "{:?}",
        refused.result
    );
    assert_eq!(fake.request_count(), 1);
    // ... and one that can is sent once the pause is over.
    let asked = Instant::now();
    let patient = request("three").with_timeout(Duration::from_secs(10));
    let answered = stream_through(&b, &["p"], &patient).await;
    assert!(answered.result.is_ok(), "{:?}", answered.result);
    assert!(
        asked.elapsed() >= Duration::from_millis(1_000),
        "bo waited for the pause: {:?}",
        asked.elapsed()
    );
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tokens_per_minute_limit_is_the_teams() {
    let Some(redis) = RedisServer::start("team_tokens_per_minute") else {
        return;
    };
    let fake = recorded_chat().await;
    let mut provider = openai(&fake);
    provider.tpm = Some(100);
    let team = team_config(&redis);
    let (a, _) = process(&provider, &team, "ana");
    let (b, _) = process(&provider, &team, "bo");
    // Each request may use its prompt (a few tokens) and 40 more: two fit the minute's 100
    // between both processes (each process alone has room for both); a third would wait
    // some 20 s, past its deadline.
    let ask = |prompt: &str, deadline: Duration| {
        let mut request = request(prompt).with_timeout(deadline);
        request.max_tokens = 40;
        request
    };
    // The first loads the tokenizer (slow in a debug build): a long deadline.
    assert!(
        stream_through(&a, &["p"], &ask("one", Duration::from_secs(20)))
            .await
            .result
            .is_ok()
    );
    assert!(
        stream_through(&b, &["p"], &ask("two", Duration::from_secs(2)))
            .await
            .result
            .is_ok()
    );
    let third = stream_through(&a, &["p"], &ask("three", Duration::from_secs(2))).await;
    assert!(
        matches!(third.result, Err(LlmError::TeamRateLimit { .. })),
        "{:?}",
        third.result
    );
    assert_eq!(fake.request_count(), 2);
    let tat = redis.cli(&[
        "GET",
        &format!("aiex:default:rl:{}:tokens", openai_limit_key(&fake)),
    ]);
    assert!(
        tat.trim().parse::<u64>().is_ok(),
        "the team's token clock: {tat}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_has_a_cap_of_their_own_and_a_months_spend_counts_against_the_monthly_cap() {
    let Some(redis) = RedisServer::start("user_and_monthly_caps") else {
        return;
    };
    let team = TeamConfig {
        budget: BudgetConfig {
            user_daily_usd: Some(0.5),
            team_monthly_usd: Some(2.0),
            ..BudgetConfig::default()
        },
        ..team_config(&redis)
    };
    let ana = Team::new(&team, "ana".to_owned(), &|_| None).expect("team");
    let bo = Team::new(&team, "bo".to_owned(), &|_| None).expect("team");
    assert!(matches!(
        ana.admit(priced_ask(0.4)).await,
        aiex::llm::TeamVerdict::Go { .. }
    ));
    // Ana's $0.40 is reserved: another $0.40 would pass her $0.50 a day.
    match ana.admit(priced_ask(0.4)).await {
        aiex::llm::TeamVerdict::OverBudget(message) => {
            assert!(message.contains("you already spent $0.4000"), "{message}");
            assert!(message.contains("team.budget.user_daily_usd"), "{message}");
            assert!(message.contains("today"), "{message}");
        }
        other => panic!("ana is over her cap: {other:?}"),
    }
    // Bo's day is his own.
    assert!(matches!(
        bo.admit(priced_ask(0.4)).await,
        aiex::llm::TeamVerdict::Go { .. }
    ));
    // Earlier days of the month spent $1.50: the team's month has $0.50 left, of which the
    // two reservations above took $0.80.
    let month = redis.cli(&["--scan", "--pattern", "aiex:default:spend:team:month:*"]);
    let month = month.lines().next().expect("the month's spend");
    redis.cli(&["INCRBYFLOAT", month, "1.5"]);
    match bo.admit(priced_ask(0.01)).await {
        aiex::llm::TeamVerdict::OverBudget(message) => {
            assert!(
                message.contains("team.budget.team_monthly_usd"),
                "{message}"
            );
            assert!(message.contains("this month"), "{message}");
            assert!(message.contains("$2.00"), "{message}");
        }
        other => panic!("the team is over its month: {other:?}"),
    }
    let usage = ana.usage().await.expect("team usage");
    assert_eq!(usage.caps_usd, [None, Some(2.0), Some(0.5), None]);
    assert!((usage.spent_usd[1] - 2.3).abs() < 1e-9, "{usage:?}");
    assert!((usage.spent_usd[2] - 0.4).abs() < 1e-9, "{usage:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_password_comes_from_the_environment_variable_named_in_password_env() {
    let password = "team-secret-7f3a";
    let Some(redis) = RedisServer::start_with("redis_password_env", &["--requirepass", password])
    else {
        return;
    };
    let team = TeamConfig {
        password_env: Some("AIEX_TEAM_REDIS_PASSWORD".to_owned()),
        ..team_config(&redis)
    };
    let env = |var: &str| (var == "AIEX_TEAM_REDIS_PASSWORD").then(|| password.to_owned());
    let member = Team::new(&team, "ana".to_owned(), &env).expect("team");
    assert!(matches!(
        member.admit(priced_ask(0.0)).await,
        aiex::llm::TeamVerdict::Go { .. }
    ));
    assert!(member.is_connected());
    // A wrong password: Redis refuses, the request goes on with local limits.
    let wrong = |_: &str| Some("not-it".to_owned());
    let stranger = Team::new(&team, "eve".to_owned(), &wrong).expect("team");
    assert_eq!(
        stranger.admit(priced_ask(0.0)).await,
        aiex::llm::TeamVerdict::Local
    );
    assert!(!stranger.is_connected());
    assert!(!format!("{stranger:?}").contains("not-it"));
    // The variable unset: team mode says which variable, never a password.
    let error = Team::new(&team, "ana".to_owned(), &|_| None).unwrap_err();
    assert!(error.contains("AIEX_TEAM_REDIS_PASSWORD"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_answers_expire_after_their_ttl_and_the_oldest_go_past_the_size_cap() {
    let Some(redis) = RedisServer::start("shared_cache_ttl_and_cap") else {
        return;
    };
    let team = TeamConfig {
        cache_ttl_secs: Some(2),
        cache_max_entries: Some(3),
        ..team_config(&redis)
    };
    let member = Team::new(&team, "ana".to_owned(), &|_| None).expect("team");
    let keys: Vec<aiex::llm::cache::CacheKey> = (0u8..5)
        .map(|i| aiex::llm::cache::CacheKey::from_parts(&[&[i]]))
        .collect();
    for (i, key) in keys.iter().enumerate() {
        let text = format!("answer {i}");
        member
            .settle(aiex::llm::TeamSettlement {
                reserved_usd: 0.0,
                cost_usd: 0.0,
                provider: "p",
                model: "m",
                usage: aiex::llm::Usage::default(),
                answer: Some((key, &text)),
            })
            .await;
        // Stored a few milliseconds apart: the index orders them.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut kept = Vec::new();
    for key in &keys {
        kept.push(member.cached(key).await);
    }
    assert_eq!(
        kept,
        [
            None,
            None,
            Some("answer 2".to_owned()),
            Some("answer 3".to_owned()),
            Some("answer 4".to_owned())
        ],
        "the cap of 3 keeps the newest"
    );
    assert_eq!(
        redis.cli(&["ZCARD", "aiex:default:cache-index"]).trim(),
        "3"
    );
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    for key in &keys {
        assert_eq!(member.cached(key).await, None, "expired after the 2 s TTL");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_costs_a_request_no_more_than_its_deadline_and_is_said_once() {
    let Some(redis) = RedisServer::start("hung_redis") else {
        return;
    };
    let fake = recorded_chat().await;
    let logs = captured_logs();
    let team = TeamConfig {
        timeout_ms: Some(200),
        ..team_config(&redis)
    };
    let (a, team_a) = process(&openai(&fake), &team, "ana");
    assert!(stream_through(&a, &["p"], &request("before"))
        .await
        .result
        .is_ok());
    assert!(team_a.is_connected());
    // Redis stops answering, its connections open: every call waits out its deadline once,
    // then the link is down and the next requests do not wait at all.
    redis.hang();
    for n in 0..5 {
        let asked = Instant::now();
        let seen = stream_through(&a, &["p"], &request(&format!("during {n}"))).await;
        assert!(seen.result.is_ok(), "{:?}", seen.result);
        assert!(
            asked.elapsed() < Duration::from_millis(1_500),
            "request {n} took {:?} with Redis hung",
            asked.elapsed()
        );
    }
    assert!(!team_a.is_connected());
    redis.resume();
    let said = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    // Other tests of this binary log too: this Redis's lines only.
    let fallbacks = said
        .lines()
        .filter(|line| {
            line.contains("team mode: Redis is unreachable") && line.contains(&redis.url())
        })
        .count();
    assert_eq!(fallbacks, 1, "the fallback is said once: {said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_is_no_worse_than_none() {
    // A port nothing listens on: every request goes on with local state at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fake = recorded_chat().await;
    let team = TeamConfig {
        redis_url: Some(format!("redis://127.0.0.1:{port}/0")),
        ..TeamConfig::default()
    };
    let (a, team_a) = process(&openai(&fake), &team, "ana");
    // The same request without a team, for comparison (the first request of a process pays
    // for its HTTP client's setup).
    let alone = providers(&[("p", openai(&fake))]);
    let _ = stream_through(&alone, &["p"], &request("warm up")).await;
    let asked = Instant::now();
    let _ = stream_through(&alone, &["p"], &request("zero")).await;
    let without_team = asked.elapsed();
    let asked = Instant::now();
    let seen = stream_through(&a, &["p"], &request("one")).await;
    assert_eq!(seen.result.expect("answered").text, "1, 2, 3, 4, 5");
    let with_dead_team = asked.elapsed();
    eprintln!("unreachable Redis: {with_dead_team:?} (no team: {without_team:?})");
    assert!(
        with_dead_team < without_team + Duration::from_millis(300),
        "{with_dead_team:?} against {without_team:?}"
    );
    assert!(!team_a.is_connected());
}

// ---- the real binary: `aiex complete` processes of one team ---------------------------------

/// A workspace of `files` small modules, a user configuration with the fake Ollama and the
/// team's Redis, and a fake provider.
struct CliTeam {
    runtime: tokio::runtime::Runtime,
    fake: FakeProvider,
    root: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl CliTeam {
    fn new(redis: &RedisServer, files: usize, rpm: u32) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let fake = runtime.block_on(FakeProvider::start());
        fake.on(
            "/api/generate",
            vec![Reply::Recorded(support::ollama::generate(&["a + b"]))],
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("root");
        let write = |path: &std::path::Path, text: &str| {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        };
        write(&root.join("mix.exs"), "defmodule Team.MixProject do\nend\n");
        for i in 0..files {
            write(
                &root.join(format!("lib/m{i}.ex")),
                &format!("defmodule Team.M{i} do\n  def add{i}(a, b), do: \nend\n"),
            );
        }
        write(
            &root.join("user-config/aiex/config.toml"),
            &format!(
                // A latency target the assumed speed of a local server meets with the whole
                // context: a process asks with the prompt another sent, whatever speed each
                // has learnt.
                "[providers.local]\nkind = \"ollama\"\nbase_url = \"{}\"\nmodel = \"qwen2.5-coder:1.5b\"\nrpm = {rpm}\n\n[features.completion]\nlatency_target_ms = 60000\n\n[team]\nredis_url = \"{}\"\ntimeout_ms = 500\n",
                fake.url(),
                redis.url()
            ),
        );
        Self {
            runtime,
            fake,
            root,
            _dir: dir,
        }
    }

    fn complete(&self, file: usize) -> std::process::Child {
        let cache = self.root.join(format!("cache{file}"));
        std::process::Command::new(env!("CARGO_BIN_EXE_aiex"))
            .args(["complete", &format!("lib/m{file}.ex:2:24")])
            .current_dir(&self.root)
            .env("XDG_CONFIG_HOME", self.root.join("user-config"))
            .env("AIEX_DATA_DIR", cache.join("data"))
            .env("AIEX_CACHE_DIR", &cache)
            .env("AIEX_USER", format!("dev{file}"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run aiex")
    }
}

#[test]
fn twenty_aiex_complete_processes_share_the_team_rate_limit() {
    let _one_at_a_time = TWENTY_PROCESSES.lock().unwrap_or_else(|p| p.into_inner());
    let Some(redis) = RedisServer::start("twenty_aiex_complete_processes") else {
        return;
    };
    let rpm = 5;
    let world = CliTeam::new(&redis, 20, rpm);
    let started = Instant::now();
    let children: Vec<_> = (0..20).map(|i| world.complete(i)).collect();
    let mut answered = 0;
    for child in children {
        let output = child.wait_with_output().expect("aiex complete ends");
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() {
            assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "a + b");
            answered += 1;
        } else {
            // Refused at once, in words: the team's next slot is a minute away.
            assert!(stderr.contains("the team's rate limit"), "{stderr}");
        }
    }
    let elapsed = started.elapsed();
    let seen = world.fake.request_count();
    eprintln!("20 `aiex complete`, team limit {rpm}/min: provider saw {seen}, {answered} answered, all done in {elapsed:?}");
    assert_eq!(seen, answered);
    assert_eq!(
        seen, rpm as usize,
        "the provider sees the team's limit, no more"
    );
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    drop(world.runtime);
}

#[test]
fn two_aiex_processes_asking_the_same_prompt_call_the_provider_once() {
    let Some(redis) = RedisServer::start("two_aiex_processes_same_prompt") else {
        return;
    };
    let world = CliTeam::new(&redis, 1, 60);
    for _ in 0..2 {
        let output = world.complete(0).wait_with_output().expect("aiex complete");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "a + b");
    }
    assert_eq!(world.fake.request_count(), 1);
    let usage = std::process::Command::new(env!("CARGO_BIN_EXE_aiex"))
        .args(["usage", "--team"])
        .current_dir(&world.root)
        .env("XDG_CONFIG_HOME", world.root.join("user-config"))
        .env("AIEX_USER", "dev0")
        .output()
        .expect("aiex usage --team");
    let text = String::from_utf8_lossy(&usage.stdout);
    assert!(
        usage.status.success(),
        "{}",
        String::from_utf8_lossy(&usage.stderr)
    );
    assert!(
        text.contains("team default: today $0.0000 (no cap)"),
        "{text}"
    );
    assert!(text.contains("team today: 1 requests"), "{text}");
    assert!(
        text.contains("dev0 local qwen2.5-coder:1.5b: 1 requests"),
        "{text}"
    );
    let doctor = std::process::Command::new(env!("CARGO_BIN_EXE_aiex"))
        .arg("doctor")
        .current_dir(&world.root)
        .env("XDG_CONFIG_HOME", world.root.join("user-config"))
        .env("AIEX_USER", "dev0")
        .output()
        .expect("aiex doctor");
    let text = String::from_utf8_lossy(&doctor.stdout);
    let team = text.split("team mode:").nth(1).unwrap_or_default();
    assert!(team.contains(": reachable"), "{text}");
    assert!(team.contains("team today: 1 requests"), "{text}");
    // Both processes wrote to one audit log: `aiex metrics` counts the team's cache hit.
    let metrics = std::process::Command::new(env!("CARGO_BIN_EXE_aiex"))
        .arg("metrics")
        .current_dir(&world.root)
        .env("XDG_CONFIG_HOME", world.root.join("user-config"))
        .env("AIEX_CACHE_DIR", world.root.join("cache0"))
        .output()
        .expect("aiex metrics");
    let text = String::from_utf8_lossy(&metrics.stdout);
    assert!(
        metrics.status.success(),
        "{}",
        String::from_utf8_lossy(&metrics.stderr)
    );
    for sample in [
        "aiex_requests_total{provider=\"local\",feature=\"completion\",outcome=\"ok\"} 2\n",
        "aiex_cache_hits_total{provider=\"local\",feature=\"completion\",cache=\"team\"} 1\n",
    ] {
        assert!(text.contains(sample), "no {sample} in\n{text}");
    }
    drop(world.runtime);
}

// ---- the issue's load test: twenty real language servers of one team ------------------------

/// The twenty-process runs load the machine (a Redis call slowed past its deadline falls back
/// to local limits, by design): one at a time, whatever the harness's threads.
static TWENTY_PROCESSES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// How long a completion may take (`features.completion.timeout_ms`): its deadline, long
/// enough for twenty debug builds sharing two cores to build their prompts.
const COMPLETION_DEADLINE: Duration = Duration::from_secs(5);
/// What a loaded CI machine may add to a deadline before an answer counts as late.
const HEADROOM: Duration = Duration::from_secs(3);

const TEAM_DOC: &str = "file:///tmp/team/lib/pricing.ex";

/// The text of one editor's document at its `n`th request: the line above the cursor changes
/// each time, so every request is a new prompt (no cache, local or the team's, answers it).
fn team_text(process: usize, n: usize) -> String {
    format!("defmodule Pricing do\n  def total(items) do\n    step_{process}_{n} = Enum.sum(items)\n    \n  end\nend\n")
}

/// One editor of the team: a real `aiex` language server with the team's Redis, the fake
/// provider at `rpm` requests a minute, and completions due within [`COMPLETION_DEADLINE`].
fn team_server(fake_url: &str, redis_url: &str, rpm: u32, process: usize) -> lsp_client::LspClient {
    let options = lsp_client::SpawnOptions {
        env: vec![("AIEX_USER".to_owned(), format!("dev{process}"))],
        ..Default::default()
    };
    let mut client = lsp_client::LspClient::spawn_with(None, &options);
    client.initialize(
        serde_json::json!({}),
        serde_json::json!({
            "providers": { "local": { "kind": "ollama", "base_url": fake_url, "model": "qwen2.5-coder:1.5b", "rpm": rpm } },
            "features": { "completion": { "providers": ["local"], "debounce_min_ms": 0, "debounce_max_ms": 0, "timeout_ms": COMPLETION_DEADLINE.as_millis() as u64 } },
            "team": { "redis_url": redis_url, "timeout_ms": 300 }
        }),
        None,
    );
    client.open(TEAM_DOC, &team_text(process, 0));
    // The first completion of a process loads what completions need (the tokenizer, the
    // context engine): slow for twenty debug builds starting at once on a small machine, and
    // no measure of a deadline. It counts against the team's limit like any other.
    let id = client.send_request(
        "textDocument/inlineCompletion",
        serde_json::json!({ "textDocument": { "uri": TEAM_DOC }, "position": { "line": 3, "character": 4 }, "context": { "triggerKind": 1 } }),
    );
    let warm = client.response_within(id, Duration::from_secs(60));
    assert!(warm.get("error").is_none(), "server {process}: {warm}");
    client
}

/// What one server saw over a run.
#[derive(Debug, Default)]
struct Run {
    requests: usize,
    answered: usize,
    empty: usize,
    slowest: Duration,
}

/// Asks `client` for inline completions, one after another with a new prompt each, until
/// `until`; fails on a late answer or an error response.
fn complete_until(client: &mut lsp_client::LspClient, process: usize, until: Instant) -> Run {
    let mut run = Run::default();
    while Instant::now() < until {
        run.requests += 1;
        let n = run.requests;
        client.notify(
            "textDocument/didChange",
            serde_json::json!({ "textDocument": { "uri": TEAM_DOC, "version": n + 1 }, "contentChanges": [{ "text": team_text(process, n) }] }),
        );
        let asked = Instant::now();
        let id = client.send_request(
            "textDocument/inlineCompletion",
            serde_json::json!({ "textDocument": { "uri": TEAM_DOC }, "position": { "line": 3, "character": 4 }, "context": { "triggerKind": 1 } }),
        );
        let response = client.response_within(id, COMPLETION_DEADLINE + HEADROOM);
        let took = asked.elapsed();
        run.slowest = run.slowest.max(took);
        assert!(
            response.get("error").is_none(),
            "server {process} answered an error: {response}"
        );
        match response["result"]["items"].as_array().map(Vec::len) {
            Some(0) | None => run.empty += 1,
            Some(_) => run.answered += 1,
        }
        client.notifications.clear();
        // An editor asks as the user pauses in typing, not in a tight loop.
        std::thread::sleep(Duration::from_millis(400));
    }
    run
}

/// The requests a server's audit log recorded: (outcome, error kind, latency).
fn audited(client: &lsp_client::LspClient) -> Vec<(String, Option<String>, Duration)> {
    let text = std::fs::read_to_string(client.cache_dir.join("audit.jsonl")).unwrap_or_default();
    text.lines()
        .map(|line| {
            let entry: serde_json::Value = serde_json::from_str(line).expect("an audit line");
            (
                entry["outcome"].as_str().unwrap_or_default().to_owned(),
                entry["error_kind"].as_str().map(str::to_owned),
                Duration::from_millis(entry["latency_ms"].as_u64().unwrap_or(0)),
            )
        })
        .collect()
}

/// Starts twenty servers of one team (in parallel: each loads its configuration and Redis).
fn twenty_team_servers(fake_url: &str, redis_url: &str, rpm: u32) -> Vec<lsp_client::LspClient> {
    std::thread::scope(|scope| {
        let started: Vec<_> = (0..20)
            .map(|process| scope.spawn(move || team_server(fake_url, redis_url, rpm, process)))
            .collect();
        started
            .into_iter()
            .map(|server| server.join().expect("a server started"))
            .collect()
    })
}

/// Runs every server's completion loop until `until`, each on its own thread.
fn run_all(servers: &mut [lsp_client::LspClient], until: Instant) -> Vec<Run> {
    std::thread::scope(|scope| {
        let runs: Vec<_> = servers
            .iter_mut()
            .enumerate()
            .map(|(process, client)| scope.spawn(move || complete_until(client, process, until)))
            .collect();
        runs.into_iter()
            .map(|run| run.join().expect("no server failed"))
            .collect()
    })
}

/// How many requests each server's audit log holds now: the warm-up's, to leave out of the
/// run's checks (its audit line is written off the message loop: given a moment first).
fn audit_offsets(servers: &[lsp_client::LspClient]) -> Vec<usize> {
    std::thread::sleep(Duration::from_millis(500));
    servers.iter().map(|client| audited(client).len()).collect()
}

/// Every request a server recorded after `offsets` ended by its deadline, answered or refused
/// by the team's rate limit (or, with Redis away, by this process's own): no other failure.
fn assert_clean_audit(
    servers: &[lsp_client::LspClient],
    offsets: &[usize],
    allowed_refusals: &[&str],
) -> usize {
    let mut refused = 0;
    for (process, client) in servers.iter().enumerate() {
        for (outcome, kind, latency) in audited(client).into_iter().skip(offsets[process]) {
            assert!(
                latency <= COMPLETION_DEADLINE + HEADROOM,
                "server {process}: a request ended {latency:?} after it left, past its deadline"
            );
            if outcome != "ok" {
                let kind = kind.unwrap_or_default();
                assert!(
                    allowed_refusals.contains(&kind.as_str()),
                    "server {process}: a request failed ({outcome}, {kind})"
                );
                refused += 1;
            }
        }
    }
    refused
}

/// The issue's load test, as it says: twenty `aiex` language servers of one team ask for
/// completions for 30 s against the fake provider, whose limit (`rpm = 60`) the team shares.
/// The provider sees at most 60 requests in the run (any 60 s window holds all of it), every
/// completion is answered by its deadline, and no server dies or answers an error.
///
/// "None fails" is read as the product behaves: a request the team's limit cannot serve
/// before its deadline is not an error for the editor: the server answers it at once with no
/// suggestion (an empty inline completion), and its audit log records the clear refusal
/// (`team_rate_limit`: "the team's rate limit ... is reached; next slot in ..."). Any other
/// error, a late answer, or a server that exits fails the test.
#[test]
fn twenty_language_servers_share_one_rate_limit_of_60_a_minute_for_30_seconds() {
    let _one_at_a_time = TWENTY_PROCESSES.lock().unwrap_or_else(|p| p.into_inner());
    let Some(redis) = RedisServer::start("twenty_language_servers_share_one_rate_limit") else {
        return;
    };
    let fake = support::fake_provider::BlockingFake::start();
    fake.server.on(
        "/api/generate",
        vec![Reply::Recorded(support::ollama::generate(&["items * 2"]))],
    );
    let rpm = 60;
    let mut servers = twenty_team_servers(&fake.server.url(), &redis.url(), rpm);
    let offsets = audit_offsets(&servers);
    let warm_up = fake.server.request_count();
    let window = Duration::from_secs(30);
    let runs = run_all(&mut servers, Instant::now() + window);
    // The warm-up's requests and the run's: well within one minute, so the limit covers all.
    let seen = fake.server.request_count();
    let requests: usize = runs.iter().map(|r| r.requests).sum();
    let answered: usize = runs.iter().map(|r| r.answered).sum::<usize>() + warm_up;
    let slowest = runs.iter().map(|r| r.slowest).max().unwrap_or_default();
    let refused = assert_clean_audit(&servers, &offsets, &["team_rate_limit"]);
    eprintln!(
        "load test: 20 language servers, {window:?}, team limit {rpm}/min: {requests} \
         completions asked, provider saw {seen}, {answered} with a suggestion, {refused} \
         refused by the team limit, slowest answer {slowest:?}"
    );
    assert!(seen <= rpm as usize, "the provider saw {seen} > {rpm}");
    assert!(refused > 0, "the load exceeded the limit");
    assert!(seen >= rpm as usize / 2, "the limit was used: {seen}");
    assert_eq!(
        answered, seen,
        "every request the provider saw made a suggestion"
    );
    // `aiex.usage` in any editor shows the whole team's requests, not its own.
    let usage = servers[19].request(
        "workspace/executeCommand",
        serde_json::json!({ "command": "aiex.usage", "arguments": [] }),
    );
    let team = &usage["result"]["team"];
    assert_eq!(team["today"]["requests"], seen, "{usage}");
    assert_eq!(team["user"], "dev19", "{usage}");
    assert!(
        team["rows"].as_array().is_some_and(|rows| rows.len() > 1),
        "every user's row: {usage}"
    );
    for (process, mut client) in servers.into_iter().enumerate() {
        assert!(
            client.shutdown().success(),
            "server {process} ended cleanly"
        );
    }
}

/// The issue's second load test: Redis killed in the middle of the twenty servers' run. Over
/// 15 s (Redis killed at 5 s, back at 10 s) every completion is answered by its deadline (an
/// unreachable Redis costs a request nothing: its calls are refused at once), the servers
/// carry on with their own limits (the provider sees requests while Redis is away), and once
/// it is back every server takes its slots from Redis again: the fresh Redis's request log
/// holds slots of all twenty processes. The team's limit is 600 a minute here, so the fresh
/// Redis has slots left for the servers that reconnect last (each retries on its own
/// schedule, up to 2 s apart); the 30 s test holds the limit itself.
#[test]
fn twenty_language_servers_carry_on_without_redis_and_use_it_again_when_it_returns() {
    let _one_at_a_time = TWENTY_PROCESSES.lock().unwrap_or_else(|p| p.into_inner());
    let Some(mut redis) = RedisServer::start("twenty_language_servers_redis_killed") else {
        return;
    };
    let fake = support::fake_provider::BlockingFake::start();
    fake.server.on(
        "/api/generate",
        vec![Reply::Recorded(support::ollama::generate(&["items * 2"]))],
    );
    let rpm = 600;
    let mut servers = twenty_team_servers(&fake.server.url(), &redis.url(), rpm);
    let offsets = audit_offsets(&servers);
    let pids: Vec<u32> = servers.iter().map(lsp_client::LspClient::pid).collect();
    let started = Instant::now();
    let (runs, seen_before, seen_during) = std::thread::scope(|scope| {
        let runs = scope.spawn(|| run_all(&mut servers, started + Duration::from_secs(15)));
        std::thread::sleep(Duration::from_secs(5));
        let seen_before = fake.server.request_count();
        redis.kill();
        std::thread::sleep(Duration::from_secs(5));
        let seen_during = fake.server.request_count() - seen_before;
        redis.restart();
        (
            runs.join().expect("no server failed"),
            seen_before,
            seen_during,
        )
    });
    let seen = fake.server.request_count();
    let refused = assert_clean_audit(&servers, &offsets, &["team_rate_limit", "local_rate_limit"]);
    let slowest = runs.iter().map(|r| r.slowest).max().unwrap_or_default();
    let requests: usize = runs.iter().map(|r| r.requests).sum();
    eprintln!(
        "Redis killed mid-run: 20 language servers, {requests} completions, provider saw \
         {seen_before} before the kill, {seen_during} while Redis was away, {} after; {refused} \
         refused; slowest answer {slowest:?}",
        seen - seen_before - seen_during
    );
    assert!(
        seen_before <= rpm as usize,
        "the team limit held: {seen_before}"
    );
    assert!(
        seen_during > 0,
        "the servers carried on with their own limits while Redis was away"
    );
    // Back with Redis: the fresh request log holds every process's slots (a slot's name
    // starts with its process id).
    let slots = redis.cli(&["--scan", "--pattern", "aiex:default:rl:*:requests"]);
    let key = slots
        .lines()
        .next()
        .expect("a request log in the fresh Redis");
    let members = redis.cli(&["ZRANGE", key, "0", "-1"]);
    let back: std::collections::BTreeSet<u32> = members
        .lines()
        .filter_map(|m| m.split('-').next()?.parse().ok())
        .collect();
    let missing: Vec<u32> = pids.iter().copied().filter(|p| !back.contains(p)).collect();
    assert!(
        missing.is_empty(),
        "processes {missing:?} never took a slot from Redis after it came back"
    );
    assert!(
        members.lines().count() <= rpm as usize,
        "the limit holds again after the return"
    );
    for (process, mut client) in servers.into_iter().enumerate() {
        let status = client.request(
            "workspace/executeCommand",
            serde_json::json!({ "command": "aiex.status", "arguments": [] }),
        );
        assert_eq!(
            status["result"]["team"]["connected"], true,
            "server {process} is connected to Redis again: {status}"
        );
        assert!(
            client.shutdown().success(),
            "server {process} ended cleanly"
        );
    }
}
