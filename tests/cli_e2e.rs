//! The command line, run as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn aiex(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiex"))
        .args(args)
        .env(
            "XDG_CONFIG_HOME",
            std::env::temp_dir().join("aiex-test-no-config"),
        )
        .env(
            "AIEX_DATA_DIR",
            std::env::temp_dir().join("aiex-test-cli-data"),
        )
        .env(
            "AIEX_CACHE_DIR",
            std::env::temp_dir().join("aiex-test-cli-cache"),
        )
        .output()
        .expect("run aiex")
}

fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/sample_app")
        .join(relative)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn version_and_help_describe_the_tool() {
    let version = aiex(&["--version"]);
    assert!(version.status.success());
    // The commit, date and target are checked in tests/lifecycle_e2e.rs.
    let version = text(&version.stdout);
    assert!(
        version.starts_with(&format!("aiex {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    let help = aiex(&["--help"]);
    let help = text(&help.stdout);
    for command in ["lsp", "symbols", "doctor", "check"] {
        assert!(help.contains(command), "{help}");
    }
}

#[test]
fn symbols_prints_chunks_as_json_and_as_text() {
    let file = fixture("lib/sample_app/accounts.ex");
    let json = aiex(&["symbols", file.to_str().expect("utf-8 path")]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(value["modules"][0]["name"], "SampleApp.Accounts");
    assert_eq!(value["modules"][0]["functions"][0]["name"], "register");
    assert_eq!(
        value["modules"][0]["functions"][0]["specs"][0],
        "register(map()) :: {:ok, User.t()} | {:error, atom()}"
    );
    let outline = aiex(&[
        "symbols",
        file.to_str().expect("utf-8 path"),
        "--format",
        "text",
    ]);
    assert!(
        text(&outline.stdout).contains("  def fetch/2 (lines 33-43)"),
        "{}",
        text(&outline.stdout)
    );
}

#[test]
fn symbols_errors_are_one_clear_line_and_a_failure_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let latin1 = dir.path().join("latin1.ex");
    std::fs::write(&latin1, b"defmodule A do\n  # caf\xe9\nend\n").expect("write");
    let cases = [
        (dir.path().join("missing.ex"), "cannot read"),
        (latin1, "is not UTF-8 text"),
        (fixture("mix.lock"), "is not an Elixir file"),
    ];
    for (path, expected) in cases {
        let output = aiex(&["symbols", path.to_str().expect("utf-8 path")]);
        assert_eq!(output.status.code(), Some(1));
        let stderr = text(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(output.stdout.is_empty());
    }
    let usage = aiex(&["symbols"]);
    assert_eq!(usage.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn doctor_reports_configuration_and_masks_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join(".aiex.toml"),
        "[providers.hosted]\nkind = \"anthropic\"\nmodel = \"claude-haiku-4-5\"\napi_key_env = \"AIEX_TEST_UNSET_KEY\"\nbase_url = \"https://me:hunter2@proxy.local\"\n\n[features.explain]\nproviders = [\"hosted\"]\nspeed = 3\n",
    )
    .expect("write");
    // A workspace file defines providers only once the user trusts it.
    let workspace = dir.path().to_str().expect("utf-8 path");
    let trusted = aiex(&["trust", "--workspace", workspace]);
    assert!(trusted.status.success(), "{}", text(&trusted.stderr));
    let output = aiex(&["doctor", "--workspace", workspace]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report = text(&output.stdout);
    assert!(report.contains(&format!("aiex {}", env!("CARGO_PKG_VERSION"))));
    assert!(report.contains("`features.explain.speed`"), "{report}");
    assert!(report.contains("explain: tries hosted (anthropic claude-haiku-4-5, MISSING KEY: $AIEX_TEST_UNSET_KEY is not set)"), "{report}");
    assert!(!report.contains("hunter2"), "{report}");
    assert!(report.contains("trusted (with `aiex trust`"), "{report}");
}

#[test]
fn the_server_logs_to_stderr_and_the_log_file_never_to_stdout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("aiex.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_aiex"))
        .args(["--stdio", "--log-file", log.to_str().expect("utf-8 path")])
        .env("AIEX_LOG", "debug")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::{BufRead, BufReader, Read, Write};
    let frame = |body: &str| format!("Content-Length: {}\r\n\r\n{body}", body.len());
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdin
        .write_all(
            frame(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#)
                .as_bytes(),
        )
        .expect("write");
    stdin.flush().expect("flush");
    // Everything on stdout is a frame: a header, a blank line, then exactly the body.
    let mut header = String::new();
    stdout.read_line(&mut header).expect("header");
    let length: usize = header
        .trim()
        .strip_prefix("Content-Length: ")
        .expect("a frame header")
        .parse()
        .expect("length");
    let mut blank = String::new();
    stdout.read_line(&mut blank).expect("blank line");
    assert_eq!(blank, "\r\n");
    let mut body = vec![0; length];
    stdout.read_exact(&mut body).expect("body");
    let response: serde_json::Value = serde_json::from_slice(&body).expect("json body");
    assert_eq!(response["id"], 1);
    stdin
        .write_all(frame(r#"{"jsonrpc":"2.0","method":"exit"}"#).as_bytes())
        .expect("write");
    drop(stdin);
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).expect("rest of stdout");
    assert!(
        rest.is_empty(),
        "nothing but frames on stdout: {}",
        text(&rest)
    );
    let output = child.wait_with_output().expect("wait");
    assert!(text(&output.stderr).contains("initialize"));
    assert!(std::fs::read_to_string(&log)
        .expect("log file")
        .contains("initialize"));
}
