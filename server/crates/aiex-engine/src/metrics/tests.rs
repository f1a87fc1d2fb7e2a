use std::path::PathBuf;

use expect_test::expect;

use super::*;
use crate::engine::audit::{AuditLog, AuditRequest};

/// An audit line as `engine::audit` writes it, with the fields metrics read.
fn line(provider: &str, feature: &str, outcome: &str, extra: &str) -> String {
    format!(
        r#"{{"time":"2026-12-02T00:00:00.000Z","feature":"{feature}","provider":"{provider}","model":"m","files":[],"prompt_tokens":100,"completion_tokens":7,"redactions":0,"prompt_sha256":"00","outcome":"{outcome}"{extra}}}"#
    )
}

/// Checks the rules of the text format that a scraper relies on: each sample's family
/// declared by `# TYPE` before it, one `# TYPE` per family, counters named `_total`,
/// histogram buckets cumulative and ending with `+Inf` equal to `_count`, a final newline.
fn assert_valid_exposition(text: &str) {
    assert!(text.ends_with('\n'), "no final newline");
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut last_bucket: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut infinite: BTreeMap<String, f64> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("name and type");
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "{name} declared twice"
            );
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter {name} without _total");
            }
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample and its value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            other => other
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let name = series.split('{').next().expect("a name");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|base| types.get(*base).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "{name} has no # TYPE before it");
        if name.ends_with("_bucket") {
            let (labels, le) = series.rsplit_once(",le=\"").expect("le last");
            let le: f64 = match le.trim_end_matches("\"}") {
                "+Inf" => f64::INFINITY,
                other => other.parse().expect("le"),
            };
            if let Some((previous_le, previous)) = last_bucket.get(labels) {
                assert!(le > *previous_le, "buckets out of order in {line}");
                assert!(value >= *previous, "buckets not cumulative in {line}");
            }
            last_bucket.insert(labels.to_owned(), (le, value));
            if le.is_infinite() {
                infinite.insert(labels.replacen("_bucket", "_count", 1) + "}", value);
            }
        } else if name.ends_with("_count") && family != name {
            assert_eq!(
                infinite.get(series).copied(),
                Some(value),
                "+Inf bucket and _count differ for {series}"
            );
        }
    }
}

#[test]
fn each_kind_of_audit_line_counts_where_it_should() {
    // (what the line says, the line, samples the exposition must hold)
    let cases: &[(&str, String, &[&str])] = &[
        (
            "an answered request",
            line(
                "local",
                "completion",
                "ok",
                r#","latency_ms":420,"cost_usd":0.5"#,
            ),
            &[
                r#"aiex_requests_total{provider="local",feature="completion",outcome="ok"} 1"#,
                r#"aiex_tokens_total{provider="local",feature="completion",direction="input"} 100"#,
                r#"aiex_tokens_total{provider="local",feature="completion",direction="output"} 7"#,
                r#"aiex_cost_usd_total{provider="local",feature="completion"} 0.5"#,
                r#"aiex_request_duration_seconds_bucket{provider="local",feature="completion",le="0.25"} 0"#,
                r#"aiex_request_duration_seconds_bucket{provider="local",feature="completion",le="0.5"} 1"#,
                r#"aiex_request_duration_seconds_bucket{provider="local",feature="completion",le="+Inf"} 1"#,
                r#"aiex_request_duration_seconds_sum{provider="local",feature="completion"} 0.42"#,
                r#"aiex_request_duration_seconds_count{provider="local",feature="completion"} 1"#,
            ],
        ),
        (
            "a failure, by its kind and without its message",
            line(
                "hosted",
                "explain",
                "error: the provider timed out",
                r#","error_kind":"timeout","latency_ms":9000"#,
            ),
            &[
                r#"aiex_requests_total{provider="hosted",feature="explain",outcome="error"} 1"#,
                r#"aiex_request_failures_total{provider="hosted",feature="explain",kind="timeout"} 1"#,
            ],
        ),
        (
            "a failure written before error kinds were recorded",
            line("hosted", "explain", "error: refused", ""),
            &[
                r#"aiex_request_failures_total{provider="hosted",feature="explain",kind="unknown"} 1"#,
            ],
        ),
        (
            "a cancelled request",
            line("local", "completion", "cancelled", r#","latency_ms":30"#),
            &[
                r#"aiex_requests_total{provider="local",feature="completion",outcome="cancelled"} 1"#,
            ],
        ),
        (
            "a local cache hit, whose tokens were paid for before",
            line(
                "local",
                "explain",
                "ok",
                r#","latency_ms":1,"cost_usd":0.0,"cache":"local""#,
            ),
            &[
                r#"aiex_cache_hits_total{provider="local",feature="explain",cache="local"} 1"#,
                r#"aiex_tokens_total{provider="local",feature="explain",direction="input"} 0"#,
                r#"aiex_request_duration_seconds_bucket{provider="local",feature="explain",le="0.05"} 1"#,
            ],
        ),
        (
            "a team cache hit",
            line("local", "explain", "ok", r#","cache":"team""#),
            &[r#"aiex_cache_hits_total{provider="local",feature="explain",cache="team"} 1"#],
        ),
        (
            "a line from before latencies were recorded",
            line("local", "docs", "ok", ""),
            &[r#"aiex_requests_total{provider="local",feature="docs",outcome="ok"} 1"#],
        ),
        (
            "a latency past the last bucket",
            line("local", "tests", "ok", r#","latency_ms":600000"#),
            &[
                r#"aiex_request_duration_seconds_bucket{provider="local",feature="tests",le="120"} 0"#,
                r#"aiex_request_duration_seconds_bucket{provider="local",feature="tests",le="+Inf"} 1"#,
                r#"aiex_request_duration_seconds_sum{provider="local",feature="tests"} 600"#,
            ],
        ),
        (
            "names that need escaping",
            line(r#"we\\\"ird"#, "chat", "ok", ""),
            &[r#"aiex_requests_total{provider="we\\\"ird",feature="chat",outcome="ok"} 1"#],
        ),
        (
            "a line that is not JSON",
            "{\"feature\": \"completion\", truncated".to_owned(),
            &["aiex_audit_lines_skipped 1"],
        ),
        (
            "a line without a provider",
            r#"{"feature":"completion","outcome":"ok"}"#.to_owned(),
            &["aiex_audit_lines_skipped 1"],
        ),
    ];
    for (what, line, expected) in cases {
        let metrics = Metrics::from_lines(line);
        let text = metrics.render(&[]);
        assert_valid_exposition(&text);
        for sample in *expected {
            assert!(
                text.lines().any(|l| l == *sample),
                "{what}: no `{sample}` in\n{text}"
            );
        }
    }
}

#[test]
fn latencies_fill_cumulative_buckets_and_only_answered_requests_are_timed() {
    let lines: Vec<String> = [10, 50, 51, 700, 3_000, 3_000]
        .iter()
        .map(|ms| line("p", "completion", "ok", &format!(r#","latency_ms":{ms}"#)))
        .chain([line(
            "p",
            "completion",
            "error: x",
            r#","error_kind":"network","latency_ms":5"#,
        )])
        .collect();
    let text = Metrics::from_lines(&lines.join("\n")).render(&[]);
    assert_valid_exposition(&text);
    let buckets: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("aiex_request_duration_seconds_"))
        .collect();
    expect![[r#"
        [
            "aiex_request_duration_seconds_bucket{provider=\"p\",feature=\"completion\",le=\"0.05\"} 2",
            "aiex_request_duration_seconds_bucket{provider=\"p\",feature=\"completion\",le=\"0.1\"} 3",
            "aiex_request_duration_seconds_bucket{provider=\"p\",feature=\"completion\",le=\"0.25\"} 3",
            "aiex_request_duration_seconds_bucket{provider=\"p\",feature=\"completion\",le=\"0.5\"} 3",
            "aiex_request_duration_seconds_bucket{provider=\"p\",feature=\"completion\",le=\"1\"} 4",
            "aiex_request_duration_seconds_bucket{provider=\"p\",feature=\"completion\",le=\"2.5\"} 4",
            "aiex_request_duration_seconds_bucket{provider=\"p\",feature=\"completion\",le=\"5\"} 6",
            "aiex_request_duration_seconds_bucket{provider=\"p\",feature=\"completion\",le=\"10\"} 6",
            "aiex_request_duration_seconds_bucket{provider=\"p\",feature=\"completion\",le=\"30\"} 6",
            "aiex_request_duration_seconds_bucket{provider=\"p\",feature=\"completion\",le=\"60\"} 6",
            "aiex_request_duration_seconds_bucket{provider=\"p\",feature=\"completion\",le=\"120\"} 6",
            "aiex_request_duration_seconds_bucket{provider=\"p\",feature=\"completion\",le=\"+Inf\"} 6",
            "aiex_request_duration_seconds_sum{provider=\"p\",feature=\"completion\"} 6.811",
            "aiex_request_duration_seconds_count{provider=\"p\",feature=\"completion\"} 6",
        ]
    "#]]
    .assert_debug_eq(&buckets);
}

#[test]
fn no_traffic_gives_a_valid_exposition_with_every_family_and_no_request_samples() {
    let text = Metrics::default().render(&[]);
    assert_valid_exposition(&text);
    expect![[r#"
        # HELP aiex_requests_total Provider requests recorded in the audit log, by how they ended (ok, error, cancelled).
        # TYPE aiex_requests_total counter
        # HELP aiex_request_failures_total Failed provider requests by kind (timeout, rate_limited, circuit_open, ...).
        # TYPE aiex_request_failures_total counter
        # HELP aiex_request_duration_seconds Time from a request leaving Aiex to its answer, for answered requests.
        # TYPE aiex_request_duration_seconds histogram
        # HELP aiex_tokens_total Tokens sent (input, as Aiex counts the prompt) and received (output, as the provider reports), cache hits excepted.
        # TYPE aiex_tokens_total counter
        # HELP aiex_cost_usd_total What answered requests cost, in US dollars, at the configured or known prices.
        # TYPE aiex_cost_usd_total counter
        # HELP aiex_cache_hits_total Answers served from a response cache: local (this process) or team (team mode).
        # TYPE aiex_cache_hits_total counter
        # HELP aiex_circuit_breaker_state 1 for the state each provider's circuit breaker is in (closed, open, half_open); only a serving process has breakers.
        # TYPE aiex_circuit_breaker_state gauge
        # HELP aiex_circuit_breaker_consecutive_failures Consecutive failed attempts of each provider; its breaker opens at breaker_failures.
        # TYPE aiex_circuit_breaker_consecutive_failures gauge
        # HELP aiex_audit_lines_skipped Audit log lines that could not be read, so are not counted above.
        # TYPE aiex_audit_lines_skipped gauge
        aiex_audit_lines_skipped 0
    "#]]
    .assert_eq(&text);
}

#[test]
fn breakers_are_a_state_set_per_provider() {
    let breakers = [
        BreakerSample {
            provider: "hosted".to_owned(),
            state: BreakerState::Open,
            consecutive_failures: 5,
        },
        BreakerSample {
            provider: "local".to_owned(),
            state: BreakerState::Closed,
            consecutive_failures: 0,
        },
    ];
    let text = Metrics::default().render(&breakers);
    assert_valid_exposition(&text);
    let samples: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("aiex_circuit_breaker"))
        .collect();
    expect![[r#"
        [
            "aiex_circuit_breaker_state{provider=\"hosted\",state=\"closed\"} 0",
            "aiex_circuit_breaker_state{provider=\"hosted\",state=\"open\"} 1",
            "aiex_circuit_breaker_state{provider=\"hosted\",state=\"half_open\"} 0",
            "aiex_circuit_breaker_state{provider=\"local\",state=\"closed\"} 1",
            "aiex_circuit_breaker_state{provider=\"local\",state=\"open\"} 0",
            "aiex_circuit_breaker_state{provider=\"local\",state=\"half_open\"} 0",
            "aiex_circuit_breaker_consecutive_failures{provider=\"hosted\"} 5",
            "aiex_circuit_breaker_consecutive_failures{provider=\"local\"} 0",
        ]
    "#]]
    .assert_debug_eq(&samples);
}

#[test]
fn label_values_escape_backslashes_quotes_and_newlines() {
    let cases = [
        ("plain", "plain"),
        (r"a\b", r"a\\b"),
        (r#"say "hi""#, r#"say \"hi\""#),
        ("two\nlines", r"two\nlines"),
        ("ünïcödé", "ünïcödé"),
    ];
    for (raw, escaped) in cases {
        assert_eq!(escape_label(raw), escaped, "{raw:?}");
    }
}

#[test]
fn counts_add_up_across_lines_providers_and_features() {
    let lines = [
        line("a", "completion", "ok", r#","cost_usd":0.25"#),
        line("a", "completion", "ok", r#","cost_usd":0.5"#),
        line("a", "explain", "ok", ""),
        line("b", "completion", "cancelled", ""),
    ]
    .join("\n");
    let metrics = Metrics::from_lines(&lines);
    assert_eq!(metrics.requests(), 4);
    let text = metrics.render(&[]);
    for sample in [
        r#"aiex_requests_total{provider="a",feature="completion",outcome="ok"} 2"#,
        r#"aiex_requests_total{provider="a",feature="explain",outcome="ok"} 1"#,
        r#"aiex_requests_total{provider="b",feature="completion",outcome="cancelled"} 1"#,
        r#"aiex_cost_usd_total{provider="a",feature="completion"} 0.75"#,
        r#"aiex_tokens_total{provider="a",feature="completion",direction="input"} 200"#,
    ] {
        assert!(
            text.lines().any(|l| l == sample),
            "no `{sample}` in\n{text}"
        );
    }
}

fn audit_request<'a>(
    files: &'a [PathBuf],
    outcome: &'a str,
    error_kind: Option<&'a str>,
    cache: Option<&'a str>,
) -> AuditRequest<'a> {
    AuditRequest {
        feature: "completion",
        provider: "local",
        model: "m",
        files,
        prompt_tokens: 50,
        completion_tokens: Some(5),
        redactions: 0,
        prompt: "prompt",
        outcome,
        error_kind,
        latency_ms: 200,
        cost_usd: Some(0.001),
        cache,
    }
}

#[test]
fn what_the_audit_log_writes_is_what_metrics_read_including_rotated_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = AuditLog {
        // Small files: the six lines spread over the current file and rotated ones.
        max_bytes: 700,
        keep: 5,
        ..AuditLog::new(dir.path().join("audit.jsonl"))
    };
    let files = vec![PathBuf::from("lib/a.ex")];
    for _ in 0..3 {
        log.record(&audit_request(&files, "ok", None, None))
            .expect("record");
    }
    log.record(&audit_request(&files, "ok", None, Some("team")))
        .expect("record");
    log.record(&audit_request(
        &files,
        "error: the provider is overloaded",
        Some("overloaded"),
        None,
    ))
    .expect("record");
    log.record(&audit_request(&files, "cancelled", None, None))
        .expect("record");
    assert!(
        dir.path().join("audit.jsonl.1").exists(),
        "the test needs rotation"
    );
    let metrics = read_audit_log(&log.path).expect("read");
    assert_eq!(metrics.requests(), 6);
    assert_eq!(metrics.skipped_lines(), 0);
    let text = metrics.render(&[]);
    assert_valid_exposition(&text);
    for sample in [
        r#"aiex_requests_total{provider="local",feature="completion",outcome="ok"} 4"#,
        r#"aiex_requests_total{provider="local",feature="completion",outcome="error"} 1"#,
        r#"aiex_requests_total{provider="local",feature="completion",outcome="cancelled"} 1"#,
        r#"aiex_request_failures_total{provider="local",feature="completion",kind="overloaded"} 1"#,
        r#"aiex_cache_hits_total{provider="local",feature="completion",cache="team"} 1"#,
        r#"aiex_request_duration_seconds_count{provider="local",feature="completion"} 4"#,
        r#"aiex_tokens_total{provider="local",feature="completion",direction="input"} 250"#,
    ] {
        assert!(
            text.lines().any(|l| l == sample),
            "no `{sample}` in\n{text}"
        );
    }
}

#[test]
fn a_log_not_written_yet_gives_empty_metrics_and_an_unreadable_one_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = read_audit_log(&dir.path().join("audit.jsonl")).expect("no log is no traffic");
    assert_eq!(missing, Metrics::default());

    // A directory where the file should be: it exists, but cannot be read as a log.
    let unreadable = dir.path().join("dir.jsonl");
    std::fs::create_dir(&unreadable).expect("mkdir");
    let error = read_audit_log(&unreadable).expect_err("a directory is no log");
    assert!(
        error.to_string().starts_with(&format!(
            "cannot read the audit log {}:",
            unreadable.display()
        )),
        "{error}"
    );
}

#[test]
fn bytes_that_are_not_utf8_skip_their_line_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.jsonl");
    let mut bytes = line("p", "completion", "ok", "").into_bytes();
    bytes.extend_from_slice(b"\n\xff\xfe garbage\n");
    bytes.extend_from_slice(line("p", "completion", "ok", "").as_bytes());
    std::fs::write(&path, bytes).expect("write");
    let metrics = read_audit_log(&path).expect("read");
    assert_eq!((metrics.requests(), metrics.skipped_lines()), (2, 1));
}

#[test]
fn the_otlp_export_decodes_as_opentelemetry_s_own_types_with_the_same_numbers() {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
    use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};

    let metrics = Metrics::from_lines(
        &[
            line(
                "local",
                "completion",
                "ok",
                r#","latency_ms":420,"cost_usd":0.5"#,
            ),
            line("local", "completion", "ok", r#","latency_ms":200000"#),
            line("local", "completion", "error", r#","error_kind":"timeout""#),
        ]
        .join("\n"),
    );
    let breakers = [BreakerSample {
        provider: "local".to_owned(),
        state: BreakerState::Open,
        consecutive_failures: 3,
    }];
    let window = OtlpWindow {
        service_version: "0.1.0",
        start_unix_nano: 1_700_000_000_000_000_000,
        now_unix_nano: 1_700_000_060_000_000_000,
    };
    let body = metrics.otlp_json(&breakers, window).to_string();
    let request: ExportMetricsServiceRequest =
        serde_json::from_str(&body).expect("an OTLP ExportMetricsServiceRequest");

    let resource = &request.resource_metrics[0];
    let service = resource.resource.as_ref().expect("resource").attributes[0].clone();
    assert_eq!(service.key, "service.name");
    let by_name = |name: &str| {
        resource.scope_metrics[0]
            .metrics
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| m.data.clone())
            .unwrap_or_else(|| panic!("no {name} in {body}"))
    };
    let attribute = |attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue], key: &str| {
        attributes.iter().find(|a| a.key == key).and_then(|a| {
            match a.value.as_ref()?.value.as_ref()? {
                AnyValue::StringValue(s) => Some(s.clone()),
                _ => None,
            }
        })
    };

    let Some(metric::Data::Sum(requests)) = Some(by_name("aiex.requests")) else {
        panic!("aiex.requests is not a sum");
    };
    assert!(requests.is_monotonic);
    assert_eq!(requests.aggregation_temporality, 2, "cumulative");
    let ok = requests
        .data_points
        .iter()
        .find(|p| attribute(&p.attributes, "outcome").as_deref() == Some("ok"))
        .expect("ok requests");
    assert_eq!(ok.value, Some(number_data_point::Value::AsInt(2)));
    assert_eq!(
        attribute(&ok.attributes, "provider").as_deref(),
        Some("local")
    );
    assert_eq!(ok.start_time_unix_nano, window.start_unix_nano);
    assert_eq!(ok.time_unix_nano, window.now_unix_nano);

    let Some(metric::Data::Histogram(durations)) = Some(by_name("aiex.request.duration")) else {
        panic!("aiex.request.duration is not a histogram");
    };
    let point = &durations.data_points[0];
    assert_eq!(point.count, 2);
    assert_eq!(point.explicit_bounds.len() + 1, point.bucket_counts.len());
    assert_eq!(
        point.bucket_counts.iter().sum::<u64>(),
        2,
        "every request in a bucket"
    );
    assert_eq!(
        point.bucket_counts.last(),
        Some(&1),
        "200 s is past the last bound"
    );
    assert_eq!(point.sum, Some(200.42));

    let Some(metric::Data::Sum(cost)) = Some(by_name("aiex.cost")) else {
        panic!("aiex.cost is not a sum");
    };
    assert_eq!(
        cost.data_points[0].value,
        Some(number_data_point::Value::AsDouble(0.5))
    );

    let Some(metric::Data::Gauge(states)) = Some(by_name("aiex.circuit_breaker.state")) else {
        panic!("the breaker state is not a gauge");
    };
    let open = states
        .data_points
        .iter()
        .find(|p| attribute(&p.attributes, "state").as_deref() == Some("open"))
        .expect("open");
    assert_eq!(open.value, Some(number_data_point::Value::AsInt(1)));
}

#[test]
fn an_otlp_export_without_traffic_is_a_valid_empty_request() {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    let window = OtlpWindow {
        service_version: "0.1.0",
        start_unix_nano: 1,
        now_unix_nano: 2,
    };
    let body = Metrics::default().otlp_json(&[], window).to_string();
    let request: ExportMetricsServiceRequest = serde_json::from_str(&body).expect("decodes");
    let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
    assert_eq!(metrics.len(), 8, "every metric declared, with no points");
}

fn span(outcome: &'static str, error_kind: Option<&'static str>) -> RequestSpan {
    RequestSpan {
        feature: "completion".to_owned(),
        provider: "local".to_owned(),
        model: "qwen2.5-coder:1.5b".to_owned(),
        input_tokens: 512,
        output_tokens: (outcome == "ok").then_some(12),
        outcome,
        error_kind,
        cache: None,
        cost_usd: (outcome == "ok").then_some(0.25),
        start_unix_nano: 1_700_000_000_000_000_000,
        end_unix_nano: 1_700_000_000_420_000_000,
    }
}

#[test]
fn the_spans_decode_as_opentelemetry_s_own_trace_types_with_what_each_request_did() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
    use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode};

    let spans = [
        span("ok", None),
        span("error", Some("team_rate_limit")),
        span("cancelled", None),
    ];
    let body = traces_json(&spans, "0.1.0", random_hex_id).to_string();
    let request: ExportTraceServiceRequest =
        serde_json::from_str(&body).expect("an OTLP ExportTraceServiceRequest");
    let resource = &request.resource_spans[0];
    let service = &resource.resource.as_ref().expect("resource").attributes[0];
    assert_eq!(service.key, "service.name");
    let decoded = &resource.scope_spans[0].spans;
    assert_eq!(decoded.len(), 3);
    let attribute = |span: &opentelemetry_proto::tonic::trace::v1::Span, key: &str| {
        span.attributes
            .iter()
            .find(|a| a.key == key)
            .and_then(|a| a.value.as_ref()?.value.clone())
    };
    let ok = &decoded[0];
    assert_eq!(ok.name, "completion qwen2.5-coder:1.5b");
    assert_eq!(ok.kind, SpanKind::Client as i32);
    assert_eq!(ok.trace_id.len(), 16);
    assert_eq!(ok.span_id.len(), 8);
    assert_ne!(
        ok.trace_id, decoded[1].trace_id,
        "each request its own trace"
    );
    assert_eq!(ok.end_time_unix_nano - ok.start_time_unix_nano, 420_000_000);
    assert_eq!(
        attribute(ok, "aiex.feature"),
        Some(AnyValue::StringValue("completion".into()))
    );
    assert_eq!(
        attribute(ok, "aiex.provider"),
        Some(AnyValue::StringValue("local".into()))
    );
    assert_eq!(
        attribute(ok, "gen_ai.usage.input_tokens"),
        Some(AnyValue::IntValue(512))
    );
    assert_eq!(
        attribute(ok, "gen_ai.usage.output_tokens"),
        Some(AnyValue::IntValue(12))
    );
    assert_eq!(
        attribute(ok, "aiex.latency_ms"),
        Some(AnyValue::IntValue(420))
    );
    assert_eq!(
        attribute(ok, "aiex.cost_usd"),
        Some(AnyValue::DoubleValue(0.25))
    );
    assert_eq!(
        attribute(ok, "aiex.cache"),
        Some(AnyValue::StringValue("none".into()))
    );
    assert_eq!(
        ok.status.as_ref().map(|s| s.code),
        Some(StatusCode::Ok as i32)
    );
    let refused = &decoded[1];
    assert_eq!(
        refused
            .status
            .as_ref()
            .map(|s| (s.code, s.message.as_str())),
        Some((StatusCode::Error as i32, "team_rate_limit"))
    );
    assert_eq!(
        attribute(refused, "error.type"),
        Some(AnyValue::StringValue("team_rate_limit".into()))
    );
    assert_eq!(
        decoded[2].status.as_ref().map(|s| s.code),
        Some(StatusCode::Unset as i32),
        "a cancelled request is neither"
    );
}

#[test]
fn spans_are_kept_only_while_exported_and_within_their_bound() {
    let buffer = SpanBuffer::default();
    buffer.push(span("ok", None));
    assert!(buffer.drain().is_empty(), "no exporter: nothing kept");
    buffer.set_enabled(true);
    for _ in 0..MAX_PENDING_SPANS + 5 {
        buffer.push(span("ok", None));
    }
    assert_eq!(buffer.dropped(), 5);
    let taken = buffer.drain();
    assert_eq!(taken.len(), MAX_PENDING_SPANS);
    buffer.push(span("error", Some("timeout")));
    // An export that failed puts its spans back ahead of the newer one, within the bound.
    buffer.put_back(taken);
    let again = buffer.drain();
    assert_eq!(again.len(), MAX_PENDING_SPANS);
    assert_eq!(again.last().map(|s| s.outcome), Some("error"));
    buffer.set_enabled(false);
    buffer.push(span("ok", None));
    assert!(buffer.drain().is_empty());
}
