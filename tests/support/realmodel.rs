//! A real code model behind llama.cpp's OpenAI-compatible server
//! (`tests/realmodel/setup.sh --port 18080 --threads 2`), for the end-to-end tests and the
//! quality benchmark that must see a real model. Missing, it is reported and, under
//! `AIEX_REQUIRE_REALMODEL=1` (CI), the test fails; it never passes silently.

use std::time::Duration;

use serde_json::{json, Value};

/// Longest wait for one model request: a cold 1,000-token prompt read at 30-90 tokens per
/// second on a busy 2-core machine, plus the answer.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(180);

/// Where the model server is and which model it serves.
#[derive(Debug, Clone)]
pub struct RealModel {
    /// The OpenAI-compatible base URL, ending in `/v1`.
    pub base_url: String,
    pub model: String,
}

impl RealModel {
    /// From `AIEX_REALMODEL_URL` (default `http://127.0.0.1:18080/v1`) and
    /// `AIEX_REALMODEL_MODEL` (default `qwen2.5-coder-0.5b`), if the server answers.
    pub fn find() -> Result<Self, String> {
        let base_url = std::env::var("AIEX_REALMODEL_URL")
            .unwrap_or_else(|_| "http://127.0.0.1:18080/v1".to_owned());
        let model = std::env::var("AIEX_REALMODEL_MODEL")
            .unwrap_or_else(|_| "qwen2.5-coder-0.5b".to_owned());
        let url = format!("{}/models", base_url.trim_end_matches('/'));
        let output = std::process::Command::new("curl")
            .args(["-sf", "-m", "5", &url])
            .output()
            .map_err(|error| format!("cannot run curl: {error}"))?;
        if !output.status.success() {
            return Err(format!("no model server answers GET {url}"));
        }
        Ok(Self { base_url, model })
    }

    /// [`Self::find`] for a test: `None` (said on stderr) when there is no server, a failure
    /// instead when `AIEX_REQUIRE_REALMODEL=1`.
    pub fn for_test(test: &str) -> Option<Self> {
        match Self::find() {
            Ok(model) => Some(model),
            Err(why) => {
                let message = format!(
                    "{test}: SKIPPED, {why}; start one with `tests/realmodel/setup.sh --port \
                     18080 --threads 2` (.ci/run does, and sets AIEX_REQUIRE_REALMODEL=1)"
                );
                assert!(!required(), "{message}");
                use std::io::Write as _;
                let _ = writeln!(std::io::stderr(), "{message}");
                None
            }
        }
    }

    /// The provider entry (`providers.local`) as JSON, for `initializationOptions`: one
    /// attempt, deadlines long enough for a CPU.
    pub fn provider(&self) -> Value {
        let deadline = REQUEST_DEADLINE.as_millis() as u64;
        json!({
            "kind": "openai-compatible", "base_url": self.base_url, "model": self.model,
            "first_byte_timeout_ms": deadline, "request_timeout_ms": deadline,
            "idle_timeout_ms": deadline, "max_attempts": 1
        })
    }

    /// The same provider as a user's `config.toml`, with every AI feature using it.
    pub fn user_config(&self) -> String {
        let deadline = REQUEST_DEADLINE.as_millis();
        format!(
            "[providers.local]\nkind = \"openai-compatible\"\nbase_url = \"{}\"\nmodel = \"{}\"\n\
             first_byte_timeout_ms = {deadline}\nrequest_timeout_ms = {deadline}\n\
             idle_timeout_ms = {deadline}\nmax_attempts = 1\n",
            self.base_url, self.model
        )
    }
}

/// Whether a missing model server fails the run (`AIEX_REQUIRE_REALMODEL=1`).
pub fn required() -> bool {
    std::env::var("AIEX_REQUIRE_REALMODEL").is_ok_and(|v| v == "1")
}
