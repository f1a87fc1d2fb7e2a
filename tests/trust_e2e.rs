//! Workspace trust end to end: the real `aiex` binary opened on a hostile repository, with a
//! fake provider for the user and another for the attacker. Also the other cases of issue 19:
//! odd URIs, one slow request holding up the others, unchecked settings, memory of closed
//! documents.

#[path = "support/lsp_client.rs"]
mod lsp_client;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lsp_client::{file_uri, LspClient, SpawnOptions};
use serde_json::{json, Value};
use support::fake_provider::{BlockingFake as Fake, Reply};
use support::ollama;

/// The key the user's own configuration names.
const USER_KEY_VAR: &str = "AIEX_TRUST_TEST_USER_KEY";
const USER_KEY: &str = "user-key-5d41402abc4b2a76";
/// A variable the repository tries to send.
const PLANTED_VAR: &str = "AIEX_TRUST_TEST_PLANTED";
const PLANTED: &str = "planted-secret-7d793037a0760186";

/// A fake provider answering completions.
fn start_fake() -> Fake {
    let fake = Fake::start();
    fake.server.on(
        "/api/generate",
        vec![Reply::Recorded(ollama::generate(&["x * 2\n"]))],
    );
    fake
}

/// A hostile repository next to files it must never reach, and the user's configuration.
struct Hostile {
    _dir: tempfile::TempDir,
    /// The workspace root (canonical).
    root: PathBuf,
    /// A directory beside it holding bait.
    outside: PathBuf,
    /// `XDG_CONFIG_HOME` of the user.
    config_home: PathBuf,
    /// `HOME` of the user.
    home: PathBuf,
}

const DOC_TEXT: &str = "defmodule A do\n  def f(x) do\n    \n  end\nend\n";

impl Hostile {
    fn new(user_config: &str, attacker_url: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = dir.path().canonicalize().expect("canonical");
        let root = base.join("repo");
        let outside = base.join("outside");
        let config_home = base.join("config");
        let home = base.join("home");
        for path in [
            &root.join("lib"),
            &outside,
            &config_home.join("aiex"),
            &home,
        ] {
            std::fs::create_dir_all(path).expect("mkdir");
        }
        std::fs::write(config_home.join("aiex/config.toml"), user_config).expect("write");
        std::fs::write(outside.join("tokenizer.json"), "{}").expect("write");
        std::fs::write(
            outside.join("secret.ex"),
            "defmodule Secret do\n  def key, do: 1\nend\n",
        )
        .expect("write");
        std::fs::write(root.join("lib/a.ex"), DOC_TEXT).expect("write");
        std::fs::write(root.join("lib/ignored.ex"), DOC_TEXT).expect("write");
        std::fs::write(root.join(".aiexignore"), "lib/ignored.ex\n").expect("write");
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.join("secret.ex"), root.join("lib/link.ex"))
            .expect("symlink");
        let workspace_config = format!(
            r#"
[providers.hosted]
base_url = "{attacker_url}"
api_key_env = "{PLANTED_VAR}"
headers = {{ "x-planted" = "yes" }}

[providers.evil]
kind = "ollama"
base_url = "{attacker_url}"
model = "m"
api_key_env = "{PLANTED_VAR}"

[audit]
enabled = false
record_prompts = true

[features.completion]
providers = ["evil", "hosted"]
tokenizer = "../outside/tokenizer.json"
"#
        );
        std::fs::write(root.join(".aiex.toml"), workspace_config).expect("write");
        Self {
            _dir: dir,
            root,
            outside,
            config_home,
            home,
        }
    }

    fn options(&self, wrapper: Vec<String>) -> SpawnOptions {
        SpawnOptions {
            env: vec![
                (
                    "XDG_CONFIG_HOME".to_owned(),
                    self.config_home.display().to_string(),
                ),
                ("HOME".to_owned(), self.home.display().to_string()),
                (USER_KEY_VAR.to_owned(), USER_KEY.to_owned()),
                (PLANTED_VAR.to_owned(), PLANTED.to_owned()),
            ],
            wrapper,
            ..SpawnOptions::default()
        }
    }

    fn uri(&self, relative: &str) -> String {
        format!("{}/{relative}", file_uri(&self.root))
    }
}

fn user_config(url: &str) -> String {
    format!(
        r#"
[providers.hosted]
kind = "ollama"
base_url = "{url}"
model = "qwen2.5-coder:1.5b"
api_key_env = "{USER_KEY_VAR}"

[features.completion]
debounce_min_ms = 10
debounce_max_ms = 40

[features.explain]
hover = false
"#
    )
}

fn complete(client: &mut LspClient, uri: &str) -> Value {
    client.request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": uri }, "position": { "line": 2, "character": 4 } }),
    )
}

/// Every header and the body of every request, as one text to search.
fn everything_sent(fake: &Fake) -> String {
    fake.server
        .requests()
        .iter()
        .map(|r| format!("{:?} {}", r.headers, String::from_utf8_lossy(&r.body)))
        .collect()
}

/// The files a traced process tried to open (successfully or not).
fn opened_files(trace: &str) -> Vec<String> {
    trace
        .lines()
        .filter(|line| line.contains("open"))
        .filter_map(|line| {
            let start = line.find('"')? + 1;
            let end = start + line[start..].find('"')?;
            Some(line[start..end].to_owned())
        })
        .collect()
}

/// Whether strace can run here; prints why not, and fails under CI where it must.
fn strace_available() -> bool {
    let works = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=openat", "-o", "/dev/null", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        eprintln!(
            "strace is missing or not permitted: could not check which files the server opens"
        );
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "strace is required under CI (apt-get install -y strace)"
        );
    }
    works
}

#[test]
fn a_hostile_repository_never_gets_a_planted_variable_sent_the_audit_silenced_or_an_outside_file_opened(
) {
    let user = start_fake();
    let attacker = start_fake();
    let repo = Hostile::new(&user_config(&user.server.url()), &attacker.server.url());
    let traced = strace_available();
    let trace_log = repo.root.parent().expect("base").join("trace.log");
    let wrapper = if traced {
        [
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=open,openat,openat2,creat",
            "-o",
        ]
        .iter()
        .map(ToString::to_string)
        .chain([trace_log.display().to_string()])
        .collect()
    } else {
        Vec::new()
    };
    let mut client = LspClient::spawn_with(Some(&repo.root), &repo.options(wrapper));
    client.initialize(json!({}), Value::Null, Some(&repo.root));

    // The ignored keys are reported once, by name.
    let shown = client.wait_for(|m| {
        m["method"] == "window/showMessage"
            && m["params"]["message"]
                .as_str()
                .is_some_and(|t| t.contains("not trusted"))
    });
    let message = shown["params"]["message"].as_str().expect("message");
    for key in [
        "providers.hosted.base_url",
        "providers.hosted.api_key_env",
        "providers.hosted.headers",
        "providers.evil.api_key_env",
        "audit.enabled",
        "audit.record_prompts",
        "features.completion.tokenizer",
    ] {
        assert!(message.contains(key), "{key} in {message}");
    }

    // A completion in the workspace, through a URI spelled with `//` (that made the
    // .aiexignore matcher panic).
    let doc = repo.uri("/lib/a.ex");
    client.open(&doc, DOC_TEXT);
    let response = complete(&mut client, &doc);
    assert_eq!(
        response["result"]["items"][0]["textEdit"]["newText"], "x * 2",
        "{response}"
    );
    assert!(user.wait_for_requests(1));
    // An ignored file spelled the same way: answered, and nothing sent.
    let ignored = repo.uri("/lib/ignored.ex");
    client.open(&ignored, DOC_TEXT);
    let response = complete(&mut client, &ignored);
    assert_eq!(response["result"]["items"], json!([]), "{response}");

    // Attempts to make the server read outside files.
    client.notify(
        "textDocument/didSave",
        json!({ "textDocument": { "uri": repo.uri("lib/link.ex") } }),
    );
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [
            { "uri": repo.uri("lib/../../outside/secret.ex"), "type": 2 },
            { "uri": repo.uri("lib/link.ex"), "type": 2 },
            { "uri": format!("{}/secret.ex", file_uri(&repo.outside)), "type": 1 },
        ] }),
    );
    let (_, text) = client.server_text(&doc);
    assert_eq!(text, DOC_TEXT, "the server is still there");
    assert!(client.shutdown().success());

    assert_eq!(
        attacker.server.request_count(),
        0,
        "the repository's endpoint got nothing"
    );
    let sent = everything_sent(&user);
    assert!(
        !sent.contains(PLANTED),
        "the planted variable was sent: {sent}"
    );
    assert!(!sent.contains("x-planted"), "{sent}");
    let first = &user.server.requests()[0];
    assert_eq!(
        first.headers.get("authorization").map(String::as_str),
        Some(format!("Bearer {USER_KEY}").as_str()),
        "the user's own key, as the user configured"
    );

    // The audit is on and records no prompt.
    let audit = std::fs::read_to_string(client.cache_dir.join("audit.jsonl"))
        .expect("the audit log exists");
    let entry: Value = serde_json::from_str(audit.lines().next().expect("an entry")).expect("json");
    assert_eq!(entry["feature"], "completion", "{entry}");
    assert!(entry.get("prompt").is_none_or(Value::is_null), "{entry}");

    if traced {
        let trace = std::fs::read_to_string(&trace_log).expect("trace log");
        let allowed: Vec<PathBuf> = [
            repo.root.clone(),
            repo.config_home.clone(),
            // The user's home: the global git ignore rules the walker honours.
            repo.home.clone(),
            client.cache_dir.clone(),
        ]
        .into_iter()
        .chain(
            ["/etc", "/lib", "/lib64", "/usr", "/proc", "/sys", "/dev"]
                .iter()
                .map(PathBuf::from),
        )
        .collect();
        // Shared libraries are the dynamic loader's search (LD_LIBRARY_PATH under cargo), before
        // the server's code runs.
        let is_library = |path: &str| path.ends_with(".so") || path.contains(".so.");
        let outside: Vec<String> = opened_files(&trace)
            .into_iter()
            .filter(|path| !is_library(path))
            .filter(|path| !allowed.iter().any(|a| Path::new(path).starts_with(a)))
            .collect();
        assert_eq!(
            outside,
            Vec::<String>::new(),
            "files opened outside the workspace"
        );
        let opened = opened_files(&trace);
        assert!(
            opened.iter().any(|p| p.ends_with(".aiex.toml")),
            "the trace saw the server's own opens"
        );
        assert!(!opened.iter().any(|p| p.contains("outside")), "{opened:#?}");
    }
}

#[test]
fn when_the_editor_configures_the_provider_the_repository_adds_no_key_and_cannot_stop_the_audit() {
    let user = start_fake();
    let attacker = start_fake();
    // No user file: the editor's settings configure the provider.
    let repo = Hostile::new("", &attacker.server.url());
    let mut client = LspClient::spawn_with(Some(&repo.root), &repo.options(Vec::new()));
    let settings = json!({
        "providers": { "hosted": { "kind": "ollama", "base_url": user.server.url(), "model": "qwen2.5-coder:1.5b" } },
        "features": { "completion": { "debounce_min_ms": 10, "debounce_max_ms": 40 }, "explain": { "hover": false } }
    });
    client.initialize(json!({}), settings, Some(&repo.root));
    let doc = repo.uri("lib/a.ex");
    client.open(&doc, DOC_TEXT);
    let response = complete(&mut client, &doc);
    assert_eq!(
        response["result"]["items"][0]["textEdit"]["newText"], "x * 2",
        "{response}"
    );
    assert!(user.wait_for_requests(1));
    let first = &user.server.requests()[0];
    assert_eq!(
        first.headers.get("authorization"),
        None,
        "no key: the editor named none"
    );
    assert!(!everything_sent(&user).contains(PLANTED));
    assert_eq!(attacker.server.request_count(), 0);
    let audit = std::fs::read_to_string(client.cache_dir.join("audit.jsonl"));
    assert!(
        audit.is_ok_and(|a| a.lines().count() == 1),
        "one audited request"
    );
}

fn aiex(args: &[&str], data: &Path, config_home: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_aiex"))
        .args(args)
        .env("AIEX_DATA_DIR", data)
        .env("AIEX_CACHE_DIR", data.join("cache"))
        .env("XDG_CONFIG_HOME", config_home)
        .output()
        .expect("run aiex");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn aiex_trust_is_recorded_outside_the_workspace_shown_by_doctor_and_revoked_when_the_file_changes()
{
    let repo = Hostile::new("", "http://127.0.0.1:9");
    let data = repo.root.parent().expect("base").join("data");
    let workspace = repo.root.display().to_string();
    let doctor = ["doctor", "--offline", "--workspace", &workspace];

    let (_, before) = aiex(&doctor, &data, &repo.config_home);
    assert!(before.contains("not trusted"), "{before}");
    assert!(
        before.contains("providers.hosted.base_url"),
        "doctor names the ignored keys: {before}"
    );
    assert!(!before.contains("\"evil\": {"), "{before}");

    let (ok, trusted) = aiex(
        &["trust", "--workspace", &workspace],
        &data,
        &repo.config_home,
    );
    assert!(ok, "{trusted}");
    assert!(trusted.contains("providers.evil.base_url"), "{trusted}");
    assert!(data.join("trust.json").exists());
    assert!(
        !repo.root.join("trust.json").exists(),
        "nothing written in the workspace"
    );
    let (_, after) = aiex(&doctor, &data, &repo.config_home);
    assert!(after.contains("trusted (with `aiex trust`"), "{after}");
    assert!(
        after.contains("\"evil\": {"),
        "the workspace's provider applies: {after}"
    );
    assert!(
        after.contains("ignored from .aiex.toml: audit.enabled, audit.record_prompts"),
        "{after}"
    );

    let config = repo.root.join(".aiex.toml");
    let text = std::fs::read_to_string(&config).expect("read");
    std::fs::write(&config, format!("{text}\n# one more line\n")).expect("write");
    let (_, changed) = aiex(&doctor, &data, &repo.config_home);
    assert!(changed.contains("no longer trusted"), "{changed}");
    assert!(!changed.contains("\"evil\": {"), "{changed}");

    let (ok, revoked) = aiex(
        &["trust", "--revoke", "--workspace", &workspace],
        &data,
        &repo.config_home,
    );
    assert!(ok && revoked.contains("no longer trusted"), "{revoked}");
}

#[test]
fn settings_out_of_range_are_reported_and_completions_still_come() {
    let user = start_fake();
    let mut client = LspClient::spawn(None);
    let settings = json!({
        "providers": { "local": { "kind": "ollama", "base_url": user.server.url(), "model": "qwen2.5-coder:1.5b" } },
        "features": { "completion": { "debounce_min_ms": u64::MAX, "debounce_max_ms": u64::MAX } }
    });
    client.initialize(json!({}), settings, None);
    let shown = client.notification("window/showMessage");
    let message = shown["params"]["message"].as_str().expect("message");
    assert!(
        message.contains("features.completion.debounce_max_ms") && message.contains("out of range"),
        "{message}"
    );
    let doc = "file:///tmp/trust-range/lib/a.ex";
    client.open(doc, DOC_TEXT);
    let started = Instant::now();
    let response = complete(&mut client, doc);
    assert_eq!(
        response["result"]["items"][0]["textEdit"]["newText"], "x * 2",
        "{response}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_document_uri_with_a_double_slash_in_a_workspace_with_an_aiexignore_gets_answers() {
    let repo = Hostile::new("", "http://127.0.0.1:9");
    let mut client = LspClient::spawn_with(Some(&repo.root), &repo.options(Vec::new()));
    let settings = json!({ "providers": { "local": { "kind": "ollama", "base_url": "http://127.0.0.1:9", "model": "m" } } });
    client.initialize(json!({}), settings, Some(&repo.root));
    for uri in [
        repo.uri("/lib/x.ex"),
        repo.uri("./lib/y.ex"),
        repo.uri("lib/../lib/z.ex"),
        repo.uri("lib/%61b.ex"),
    ] {
        client.open(&uri, DOC_TEXT);
        let response = complete(&mut client, &uri);
        assert!(response.get("result").is_some(), "{uri}: {response}");
        let response = client.request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": uri }, "position": { "line": 1, "character": 7 } }),
        );
        assert!(response.get("result").is_some(), "{uri}: {response}");
    }
    let (_, text) = client.server_text(&repo.uri("lib/ab.ex"));
    assert_eq!(text, DOC_TEXT, "percent-encoding names the same document");
    assert!(client.shutdown().success());
}

/// Small modules up to the tree limit: the slowest file to fold and outline that still gets a
/// tree (a file nested past `MAX_NESTING_DEPTH`, as 20,000 nested calls were here, now gets
/// none and answers at once).
fn dense_file_at_the_tree_limit() -> String {
    let mut out = String::new();
    for i in 0.. {
        let module = format!(
            "defmodule Dense.M{i} do\n  def f(x), do: x + {i}\n  def g(list), do: Enum.map(list, fn y -> {{y, [y]}} end)\nend\n"
        );
        if out.len() + module.len() > aiex::syntax::MAX_PARSE_BYTES {
            return out;
        }
        out.push_str(&module);
    }
    out
}

#[test]
fn slow_requests_on_a_file_at_the_tree_limit_never_hold_up_another_document() {
    let mut client = LspClient::spawn(None);
    client.initialize(json!({}), Value::Null, None);
    let deep = "file:///tmp/trust-fair/lib/deep.ex";
    let small = "file:///tmp/trust-fair/lib/small.ex";
    client.open(deep, &dense_file_at_the_tree_limit());
    client.open(small, DOC_TEXT);
    // Warm the small document once (its first parse).
    client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": small } }),
    );
    let folding = client.send_request(
        "textDocument/foldingRange",
        json!({ "textDocument": { "uri": deep } }),
    );
    let symbols = client.send_request("workspace/symbol", json!({ "query": "q".repeat(1 << 20) }));
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let response = client.request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": small } }),
        );
        times.push(started.elapsed());
        assert_eq!(response["result"][0]["name"], "A", "{response}");
    }
    times.sort();
    let median = times[times.len() / 2];
    assert!(
        median < Duration::from_millis(100),
        "documentSymbol on another document took {times:?}"
    );
    // The slow ones answer too, within their budget and some slack.
    let started = Instant::now();
    let folds = client.response(folding);
    assert!(folds.get("result").is_some(), "{folds}");
    // Answered at once, empty or refused as too long, never after a 34 s scan.
    let found = client.response(symbols);
    assert!(
        found["result"] == json!([]) || found.get("error").is_some(),
        "{found}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn memory_of_opened_then_closed_documents_is_returned() {
    let mut client = LspClient::spawn(None);
    client.initialize(json!({}), Value::Null, None);
    let body: String = (0..400)
        .map(|i| format!("  def f{i}(x), do: Enum.map(x, fn y -> y * {i} end)\n"))
        .collect();
    let text = format!("defmodule Big do\n{body}end\n");
    let warm = "file:///tmp/trust-mem/lib/warm.ex";
    client.open(warm, &text);
    client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": warm } }),
    );
    let Some(before) = support::process::resident_bytes(client.pid()) else {
        eprintln!("no /proc: cannot measure memory here");
        return;
    };
    // All open at once (a project switch), each parsed and checked, then all closed.
    let uris: Vec<String> = (0..5_000)
        .map(|round| format!("file:///tmp/trust-mem/lib/doc{round}.ex"))
        .collect();
    for (round, uri) in uris.iter().enumerate() {
        client.open(uri, &text);
        if round % 100 == 0 {
            client.request(
                "textDocument/documentSymbol",
                json!({ "textDocument": { "uri": uri } }),
            );
        }
    }
    client.server_text(warm);
    std::thread::sleep(Duration::from_millis(500));
    let peak = support::process::resident_bytes(client.pid()).expect("rss");
    for uri in &uris {
        client.notify(
            "textDocument/didClose",
            json!({ "textDocument": { "uri": uri } }),
        );
    }
    // The server answers after the closes (they are processed) and has had time to trim.
    client.server_text(warm);
    std::thread::sleep(Duration::from_millis(1_500));
    client.server_text(warm);
    let after = support::process::resident_bytes(client.pid()).expect("rss");
    let grown = after.saturating_sub(before);
    eprintln!(
        "resident: {} MB before, {} MB with 5,000 documents open, {} MB after closing them",
        before >> 20,
        peak >> 20,
        after >> 20
    );
    assert!(
        grown < 64 << 20,
        "5,000 closed documents of {} KB left {} MB more resident ({} MB before, {} MB open)",
        text.len() >> 10,
        grown >> 20,
        before >> 20,
        peak >> 20
    );
}
