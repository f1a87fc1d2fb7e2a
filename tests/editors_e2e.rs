//! Real editors drive this build of `aiex`: headless Neovim (Debian's 0.7 and 0.11), Emacs
//! with Eglot and with lsp-mode, plus the VS Code extension's build, lint, tests and package,
//! and checks of the Helix and Zed files. The work is in `tests/editors/run.sh`; this test runs
//! it so that `cargo test` covers the editors too.
//!
//! On a machine without the editors (`bash tests/editors/install.sh` installs them on Debian)
//! the test says so and passes, unless `AIEX_REQUIRE_EDITORS` is set, as CI does.

use std::path::Path;
use std::process::Command;

fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn real_editors_attach_and_use_the_server() {
    let missing: Vec<&str> = ["nvim", "emacs", "npm"]
        .into_iter()
        .filter(|p| !installed(p))
        .collect();
    if !missing.is_empty() {
        let message = format!(
            "editor tests need {}: run `bash tests/editors/install.sh`",
            missing.join(", ")
        );
        assert!(
            std::env::var_os("AIEX_REQUIRE_EDITORS").is_none(),
            "{message}"
        );
        eprintln!("skipped: {message}");
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
}
