//! The release archive on a machine without Rust: `tests/dist/fresh_machine.sh` serves the
//! archives `cargo xtask dist` built (in `AIEX_DIST_DIR`) from a local HTTP server, downloads
//! the Linux x86_64 one, checks its checksum, unpacks it into an empty directory and runs
//! `aiex --version`, `aiex health` and `aiex check` with no cargo or rustc on PATH.
//!
//! Without `AIEX_DIST_DIR` there is nothing to test: the test says so past `cargo test`'s
//! output capture, and fails when `AIEX_REQUIRE_DIST` is set (as `.ci/run` does after building
//! the archive).

use std::io::Write;
use std::path::Path;
use std::process::Command;

fn tell(message: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "\n*** dist_e2e: {message}");
    let _ = stderr.flush();
}

#[test]
fn the_linux_archive_installs_and_runs_on_a_machine_without_rust() {
    let required = std::env::var_os("AIEX_REQUIRE_DIST").is_some_and(|v| !v.is_empty() && v != "0");
    let Some(dist) = std::env::var_os("AIEX_DIST_DIR").filter(|d| !d.is_empty()) else {
        let message = "SKIPPED the fresh-machine test: set AIEX_DIST_DIR to the output of \
                       `cargo xtask dist` (target/release-archives)";
        assert!(!required, "{message} (AIEX_REQUIRE_DIST is set)");
        tell(message);
        return;
    };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new("bash")
        .arg(repo.join("tests/dist/fresh_machine.sh"))
        .arg(&dist)
        .arg(&repo)
        .output()
        .expect("run tests/dist/fresh_machine.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "fresh-machine checks failed: {}",
        stdout.lines().last().unwrap_or("")
    );
    assert!(stdout.contains("ok - aiex --version"), "{stdout}");
}
