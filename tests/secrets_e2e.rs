//! No planted secret leaves the machine: the real `aiex` binary runs every AI feature path
//! (LSP completion, inline completion, hover explanation, each code action through
//! `workspace/executeCommand`, the chat `aiex/chat` with `#file:` references, and the commands
//! `aiex complete`, `explain`, `docs`, `tests` and `chat`) on a copy of `fixtures/secrets_app`
//! (secrets in code, config, docs, a `.env` reached through a symlink in `lib/`, a GCP
//! service-account key under a name that says nothing), against a fake provider; then every
//! byte the provider received and every line of the audit logs (prompts recorded) is searched
//! for each secret in `planted.txt`.

#[path = "support/lsp_client.rs"]
mod lsp_client;
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lsp_client::{file_uri, LspClient};
use serde_json::{json, Value};
use support::fake_provider::{BlockingFake as Fake, Reply};
use support::ollama;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/secrets_app")
}

fn planted() -> Vec<String> {
    std::fs::read_to_string(corpus().join("planted.txt"))
        .expect("planted.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// A copy of the corpus in a temporary directory, with `lib/secrets_app/settings.ex` a symlink
/// to the project's `.env`, and a user configuration (`user-config/`, the `XDG_CONFIG_HOME` of
/// the server and the commands) pointing at `url` with prompts recorded: provider endpoints and
/// the audit are the user's to set, not a workspace file's.
fn project(url: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().canonicalize().expect("canonical");
    for relative in [
        "mix.exs",
        ".env",
        "config/runtime.exs",
        "lib/secrets_app/vault.ex",
        "lib/secrets_app/orders.ex",
        "lib/secrets_app/integrations.ex",
        "priv/deploy.json",
    ] {
        let target = root.join(relative);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(corpus().join(relative), target).expect("copy");
    }
    std::os::unix::fs::symlink("../../.env", root.join("lib/secrets_app/settings.ex"))
        .expect("symlink");
    ollama::write_user_config(&root, url, "\n[audit]\nrecord_prompts = true\n");
    (dir, root)
}

/// The fake provider every test here talks to, answering every feature.
fn start_fake() -> Fake {
    let fake = Fake::start();
    fake.server.on(
        "/api/generate",
        vec![Reply::Recorded(ollama::generate(&[":ok"]))],
    );
    fake.server.on(
        "/api/chat",
        vec![Reply::Recorded(ollama::chat(
            "```elixir\ndef put do\n  :ok\nend\n```\n",
        ))],
    );
    fake
}

/// Every planted secret found in `haystack`.
fn leaks(haystack: &str) -> Vec<String> {
    planted()
        .into_iter()
        .filter(|secret| haystack.contains(secret.as_str()))
        .collect()
}

fn line_of(text: &str, needle: &str) -> u32 {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle}")) as u32
}

/// Runs a command to its end, answering the server's edit and show-document requests.
fn execute(client: &mut LspClient, command: Value) -> Value {
    let id = client.send_request("workspace/executeCommand", command);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "the command never finished");
        let message = client.wait_for(|m| {
            m.get("id") == Some(&json!(id)) && m.get("method").is_none()
                || m.get("id").is_some()
                    && matches!(
                        m["method"].as_str(),
                        Some("workspace/applyEdit" | "window/showDocument")
                    )
        });
        match message["method"].as_str() {
            Some("workspace/applyEdit") => client.send(
                &json!({ "jsonrpc": "2.0", "id": message["id"], "result": { "applied": true } }),
            ),
            Some(_) => client.send(
                &json!({ "jsonrpc": "2.0", "id": message["id"], "result": { "success": true } }),
            ),
            None => return message,
        }
    }
}

/// Every string in `value`, one a line.
fn strings_of(value: &Value) -> String {
    match value {
        Value::String(text) => format!("{text}\n"),
        Value::Array(items) => items.iter().map(strings_of).collect(),
        Value::Object(fields) => fields.values().map(strings_of).collect(),
        _ => String::new(),
    }
}

fn audit_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("audit.jsonl")).unwrap_or_default()
}

#[test]
fn no_planted_secret_reaches_the_provider_or_the_audit_log_on_any_feature_path() {
    let fake = start_fake();
    let (_dir, root) = project(&fake.server.url());
    let options = lsp_client::SpawnOptions {
        env: vec![(
            "XDG_CONFIG_HOME".to_owned(),
            root.join("user-config").display().to_string(),
        )],
        ..lsp_client::SpawnOptions::default()
    };
    let mut client = LspClient::spawn_with(Some(&root), &options);
    client.initialize(
        json!({
            "workspace": { "workspaceEdit": { "documentChanges": true } },
            "window": { "showDocument": { "support": true } },
            "textDocument": { "publishDiagnostics": {} }
        }),
        json!({
            "features": {
                "completion": { "providers": ["local"], "debounce_min_ms": 10, "debounce_max_ms": 40, "timeout_ms": 4000 },
                "actions": { "providers": ["local"] },
                "explain": { "providers": ["local"], "hover_timeout_ms": 3000 }
            }
        }),
        Some(&root),
    );
    // Wait for the index: the vault's functions are then known to every feature.
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.request("workspace/symbol", json!({ "query": "SecretsApp.Vault" }))["result"]
        .as_array()
        .is_none_or(|r| r.is_empty())
    {
        assert!(Instant::now() < deadline, "the workspace was never indexed");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut paths: Vec<(&str, usize)> = Vec::new();

    // Every file open at once: each is a candidate for every other's context.
    let vault_path = root.join("lib/secrets_app/vault.ex");
    let vault = std::fs::read_to_string(&vault_path).expect("vault");
    let vault_uri = file_uri(&vault_path);
    let orders_path = root.join("lib/secrets_app/orders.ex");
    let orders = std::fs::read_to_string(&orders_path).expect("orders");
    let orders_uri = file_uri(&orders_path);
    let settings_path = root.join("lib/secrets_app/settings.ex");
    let settings_uri = file_uri(&settings_path);
    let config_path = root.join("config/runtime.exs");
    let integrations_path = root.join("lib/secrets_app/integrations.ex");
    let integrations = std::fs::read_to_string(&integrations_path).expect("integrations");
    let integrations_uri = file_uri(&integrations_path);
    let deploy_path = root.join("priv/deploy.json");
    let deploy_uri = file_uri(&deploy_path);
    client.open(&vault_uri, &vault);
    client.open(&integrations_uri, &integrations);
    client.open(
        &deploy_uri,
        &std::fs::read_to_string(&deploy_path).expect("deploy.json"),
    );
    client.open(&orders_uri, &orders);
    client.open(
        &settings_uri,
        &std::fs::read_to_string(&settings_path).expect("settings"),
    );
    client.open(
        &file_uri(&config_path),
        &std::fs::read_to_string(&config_path).expect("config"),
    );

    // LSP completion: in the vault (the secrets are in the window) and in ordinary code.
    for (uri, line, character) in [
        (&vault_uri, line_of(&vault, "def tokens"), 2),
        (&vault_uri, line_of(&vault, "@repo_url \"postgres"), 0),
        (&orders_uri, line_of(&orders, "Vault.put()"), 4),
        (&integrations_uri, line_of(&integrations, "def webhook"), 2),
        (&integrations_uri, line_of(&integrations, "region:"), 6),
    ] {
        let response = client.request(
            "textDocument/completion",
            json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } }),
        );
        assert!(response.get("result").is_some(), "{response}");
    }
    paths.push(("completion", fake.server.request_count()));

    // Inline completion.
    let before = fake.server.request_count();
    let inline = client.request(
        "textDocument/inlineCompletion",
        json!({ "textDocument": { "uri": vault_uri }, "position": { "line": line_of(&vault, "def keys"), "character": 0 }, "context": { "triggerKind": 1 } }),
    );
    assert!(inline.get("result").is_some(), "{inline}");
    paths.push(("inline completion", fake.server.request_count() - before));

    // A document that is a symlink to `.env`, or a service-account key under a name that says
    // nothing, is never sent, whatever its name says.
    for uri in [&settings_uri, &deploy_uri] {
        let before = fake.server.request_count();
        let _ = client.request(
            "textDocument/completion",
            json!({ "textDocument": { "uri": uri }, "position": { "line": 1, "character": 0 } }),
        );
        assert_eq!(
            fake.server.request_count(),
            before,
            "a secret file reached a provider: {uri}"
        );
    }

    // Hover explanation of the vault's `put/0`, from the call in orders.ex.
    let before = fake.server.request_count();
    let put_line = line_of(&orders, "Vault.put()");
    let _ = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": orders_uri }, "position": { "line": put_line, "character": 11 } }),
    );
    fake.wait_for_requests(before + 1);
    paths.push(("hover explanation", fake.server.request_count() - before));

    // Every AI code action on `put/0`, and the fix on the hardcoded-secret finding.
    let position = json!({ "line": line_of(&vault, "Application.put_env"), "character": 6 });
    let diagnostics = client.wait_for(|m| {
        m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == json!(vault_uri)
    })["params"]["diagnostics"]
        .clone();
    let actions = client.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": vault_uri }, "range": { "start": position, "end": position }, "context": { "diagnostics": diagnostics } }),
    );
    let actions = actions["result"].as_array().cloned().unwrap_or_default();
    for command in [
        "aiex.explain",
        "aiex.addDocs",
        "aiex.refactor",
        "aiex.generateTests",
    ] {
        let before = fake.server.request_count();
        let offered = actions
            .iter()
            .find(|a| a["command"]["command"] == command)
            .unwrap_or_else(|| panic!("{command} not offered: {actions:?}"));
        let mut invocation = offered["command"].clone();
        if command == "aiex.refactor" {
            invocation["arguments"][0]["instruction"] = json!("simplify");
        }
        let _ = execute(&mut client, invocation);
        paths.push((command, fake.server.request_count() - before));
    }
    // Explain and Add docs on the function holding the short secrets of the integrations.
    for command in ["aiex.explain", "aiex.addDocs"] {
        let before = fake.server.request_count();
        let offered = client.code_action(
            &integrations_uri,
            line_of(&integrations, "region:"),
            6,
            command,
        );
        let _ = execute(&mut client, offered["command"].clone());
        paths.push((command, fake.server.request_count() - before));
    }

    // "Fix with AI" on a hardcoded secret inside a function: it must be offered (a secret in
    // a function body is what it fixes), and it runs like any action.
    let secret_findings: Vec<Value> = client
        .notifications
        .iter()
        .filter(|m| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == json!(vault_uri)
        })
        .flat_map(|m| {
            m["params"]["diagnostics"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .chain(diagnostics.as_array().cloned().unwrap_or_default())
        .filter(|d| d["code"] == "security/hardcoded-secret")
        .collect();
    let fix = secret_findings
        .iter()
        .find_map(|diagnostic| {
            let fixes = client.request(
                "textDocument/codeAction",
                json!({ "textDocument": { "uri": vault_uri }, "range": diagnostic["range"], "context": { "diagnostics": [diagnostic] } }),
            );
            fixes["result"]
                .as_array()?
                .iter()
                .find(|a| a["command"]["command"] == "aiex.fix")
                .cloned()
        })
        .unwrap_or_else(|| panic!("aiex.fix not offered on any of {secret_findings:?}"));
    let before = fake.server.request_count();
    let _ = execute(&mut client, fix["command"].clone());
    paths.push(("aiex.fix", fake.server.request_count() - before));

    // The chat, about a file holding secrets and with `#file:` references to two more.
    let before = fake.server.request_count();
    let chat = client.request(
        "aiex/chat",
        json!({
            "message": "What do #file:lib/secrets_app/vault.ex and #file:lib/secrets_app/integrations.ex connect to?",
            "textDocument": { "uri": vault_uri },
        }),
    );
    assert!(chat.get("result").is_some(), "{chat}");
    paths.push(("aiex/chat", fake.server.request_count() - before));
    // `#file:` of a secret file is refused, and nothing at all is sent.
    for secret_file in [".env", "lib/secrets_app/settings.ex", "priv/deploy.json"] {
        let before = fake.server.request_count();
        let refused = client.request(
            "aiex/chat",
            json!({ "message": format!("What is in #file:{secret_file}?") }),
        );
        assert!(refused.get("error").is_some(), "{secret_file}: {refused}");
        assert_eq!(
            fake.server.request_count(),
            before,
            "#file:{secret_file} reached a provider"
        );
    }
    let lsp_audit = audit_of(&client.cache_dir);
    assert!(client.shutdown().success());

    // The command line: `aiex complete` and `aiex explain` on the vault.
    let cli_cache = root.join("cli-cache");
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_aiex"))
            .args(args)
            .current_dir(&root)
            .env("XDG_CONFIG_HOME", root.join("user-config"))
            .env("AIEX_DATA_DIR", root.join("cli-data"))
            .env("AIEX_CACHE_DIR", &cli_cache)
            .output()
            .expect("run aiex")
    };
    let before = fake.server.request_count();
    let tokens_line = line_of(&vault, "def tokens") + 1;
    let complete = cli(&[
        "complete",
        &format!("lib/secrets_app/vault.ex:{tokens_line}:3"),
    ]);
    // The fake's answer need not fit there: what matters is what was sent.
    let _ = complete;
    paths.push(("aiex complete", fake.server.request_count() - before));
    let before = fake.server.request_count();
    let put_line = line_of(&vault, "def put do") + 1;
    let explain = cli(&["explain", &format!("lib/secrets_app/vault.ex:{put_line}")]);
    assert!(
        explain.status.success(),
        "{}",
        String::from_utf8_lossy(&explain.stderr)
    );
    paths.push(("aiex explain", fake.server.request_count() - before));
    let options_line = line_of(&integrations, "region:") + 1;
    for (name, args) in [
        (
            "aiex docs",
            vec![
                "docs".to_owned(),
                format!("lib/secrets_app/integrations.ex:{options_line}"),
            ],
        ),
        (
            "aiex tests",
            vec![
                "tests".to_owned(),
                format!("lib/secrets_app/integrations.ex:{options_line}"),
            ],
        ),
        (
            "aiex chat",
            vec![
                "chat".to_owned(),
                "--file".to_owned(),
                "lib/secrets_app/vault.ex".to_owned(),
                "--message".to_owned(),
                "What do #file:lib/secrets_app/integrations.ex and #file:config/runtime.exs set?"
                    .to_owned(),
            ],
        ),
    ] {
        let before = fake.server.request_count();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // The fake's answer need not make good docs or tests: what matters is what was sent.
        let _ = cli(&args);
        paths.push((name, fake.server.request_count() - before));
    }
    let before = fake.server.request_count();
    let refused = cli(&["chat", "--message", "What is in #file:priv/deploy.json?"]);
    assert!(!refused.status.success(), "a chat about a secret file ran");
    assert_eq!(
        fake.server.request_count(),
        before,
        "#file:priv/deploy.json reached a provider from the command line"
    );

    // Every path asked the provider at least once (else this test would prove nothing)...
    let silent: Vec<_> = paths.iter().filter(|(_, n)| *n == 0).collect();
    assert!(silent.is_empty(), "paths that sent nothing: {silent:?}");
    // The vault's own text went out (redacted), so the secrets had every chance to leak...
    for (file, marker) in [("vault", "eu-west-1"), ("integrations", "eu-central-1")] {
        assert!(
            fake.server
                .requests()
                .iter()
                .any(|r| String::from_utf8_lossy(&r.body).contains(marker)),
            "no request carried the {file}'s code"
        );
    }
    // ...and no planted secret is in what it received or in the audit log.
    for request in fake.server.requests() {
        let body = String::from_utf8_lossy(&request.body).into_owned();
        // JSON escapes newlines and quotes; secrets are searched in the decoded text too.
        let decoded = request.json().to_string().replace("\\n", "\n");
        let found = [leaks(&body), leaks(&decoded)].concat();
        assert!(found.is_empty(), "{} received {found:?}", request.path);
    }
    let cli_audit = audit_of(&cli_cache);
    assert!(
        lsp_audit.contains("\"prompt\""),
        "prompts are recorded: {lsp_audit}"
    );
    for (name, audit) in [("LSP", &lsp_audit), ("CLI", &cli_audit)] {
        for line in audit.lines() {
            // As written, and its strings decoded (JSON escapes quotes, newlines, `/`...).
            let decoded = serde_json::from_str::<Value>(line)
                .map(|entry| strings_of(&entry))
                .unwrap_or_default();
            let found = [leaks(line), leaks(&decoded)].concat();
            assert!(
                found.is_empty(),
                "the {name} audit log holds {found:?} in {line}"
            );
        }
    }
    // The chat and the command line's actions were audited like the rest.
    for feature in ["chat", "explain", "docs", "tests"] {
        assert!(
            cli_audit.contains(&format!("\"feature\":\"{feature}")),
            "no {feature} line in the CLI audit: {cli_audit}"
        );
    }
    assert!(
        lsp_audit.contains("\"feature\":\"chat\""),
        "no chat line in the LSP audit"
    );
}

#[test]
fn a_file_of_env_lines_is_never_sent_whatever_its_name() {
    let fake = start_fake();
    let (_dir, root) = project(&fake.server.url());
    // Not a symlink, not a secret name: only its content says what it is.
    let path = root.join("lib/secrets_app/runtime_values.ex");
    std::fs::write(
        &path,
        "APP_SIGNING=EnvOnlyPlantedValue42\nFEATURE_FLAG=EnvFlagPlanted\n",
    )
    .expect("write");
    let mut client = LspClient::spawn(Some(&root));
    client.initialize(
        json!({}),
        json!({ "features": { "completion": { "providers": ["local"], "debounce_min_ms": 10, "debounce_max_ms": 40, "timeout_ms": 4000 } } }),
        Some(&root),
    );
    let uri = file_uri(&path);
    client.open(&uri, &std::fs::read_to_string(&path).expect("read"));
    let _ = client.request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": uri }, "position": { "line": 1, "character": 3 } }),
    );
    let sent: String = fake
        .server
        .requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert!(leaks(&sent).is_empty(), "{:?}", leaks(&sent));
    assert_eq!(
        fake.server.request_count(),
        0,
        "a secret file reached a provider"
    );
    assert!(client.shutdown().success());
}
