//! Whether the tests that run `mix` can run: Elixir from Debian (`apt-get install elixir`).
//! Without it a test fails when `AIEX_REQUIRE_ELIXIR` is set, as CI does; otherwise it passes
//! saying what it skipped on the real stderr, past the output capture.

use std::io::Write;
use std::process::Command;

/// Whether a missing `mix` fails the run (`AIEX_REQUIRE_ELIXIR=1`).
pub fn required() -> bool {
    std::env::var_os("AIEX_REQUIRE_ELIXIR").is_some_and(|v| !v.is_empty() && v != "0")
}

/// False (after saying so past the output capture) when `mix` is missing and not required.
pub fn installed(test: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", "command -v mix"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let message = format!("SKIPPED {test}: mix is not installed (apt-get install elixir)");
        assert!(!required(), "{message} (AIEX_REQUIRE_ELIXIR is set)");
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "\n*** {message}");
    }
    found
}
