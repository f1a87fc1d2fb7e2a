//! Real editors drive this build of `aiex`: Neovim 0.7, 0.11 and 0.12 (headless, and 0.12's TUI
//! for ghost text), Emacs with Eglot and with lsp-mode, VS Code 1.100 (code-server driven by
//! headless Chromium), Helix 25.07's TUI, plus the VS Code extension's build, lint, tests and
//! package and the Zed extension's wasm32-wasip2 build. The work is in `tests/editors/run.sh`;
//! this test runs it so that `cargo test` covers the editors too.
//!
//! An editor that is not installed (`bash tests/editors/install.sh` installs them all on
//! Debian) fails the test when `AIEX_REQUIRE_EDITORS` is set, as CI does. Otherwise the test
//! passes but says what it skipped on the real stderr: `cargo test` captures what `eprintln!`
//! prints in a passing test, so a skip printed that way would read as a plain `ok`.

use std::io::Write;
use std::path::Path;
use std::process::Command;

fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Writes to the process's stderr itself, past the test harness's output capture.
fn tell(message: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "\n*** editors_e2e: {message}");
    let _ = stderr.flush();
}

fn required() -> bool {
    std::env::var_os("AIEX_REQUIRE_EDITORS").is_some_and(|v| !v.is_empty() && v != "0")
}

#[test]
fn real_editors_attach_and_use_the_server() {
    let missing: Vec<&str> = ["nvim", "emacs", "npm"]
        .into_iter()
        .filter(|p| !installed(p))
        .collect();
    if !missing.is_empty() {
        let message = format!(
            "SKIPPED the real-editor tests: they need {}; run `bash tests/editors/install.sh`",
            missing.join(", ")
        );
        assert!(!required(), "{message} (AIEX_REQUIRE_EDITORS is set)");
        tell(&message);
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/editors/run.sh");
    let output = Command::new("bash")
        .arg(&script)
        .env("AIEX_BIN", env!("CARGO_BIN_EXE_aiex"))
        .output()
        .expect("run tests/editors/run.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    let summary = stdout.lines().last().unwrap_or("");
    assert!(output.status.success(), "editor checks failed: {summary}");
    // run.sh fails on a missing editor when AIEX_REQUIRE_EDITORS is set; otherwise its skips
    // must still be seen.
    let skips: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("skip - "))
        .collect();
    if !skips.is_empty() {
        tell(&format!(
            "{summary}; SKIPPED:\n    {}",
            skips.join("\n    ")
        ));
    }
}
