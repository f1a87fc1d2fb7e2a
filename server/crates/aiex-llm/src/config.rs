//! How one provider is configured: the `providers.<name>` entry of the Aiex configuration.

use serde::{Deserialize, Serialize};

/// One configured provider, as written under `providers.<name>` in the configuration.
///
/// Every field but `kind` and `model` is optional; absent fields take the defaults documented
/// on each. API keys are never written here: only the name of the environment variable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    /// Which API the provider speaks: `openai`, `openai-compatible`, `anthropic`, `gemini`,
    /// `mistral` or `ollama`.
    pub kind: String,
    /// Where the API lives; the provider's public endpoint when absent.
    pub base_url: Option<String>,
    /// The model name sent to the provider.
    pub model: String,
    /// The environment variable that holds the API key.
    pub api_key_env: Option<String>,
    /// Requests per minute allowed by the local rate limiter; unlimited when absent.
    pub rpm: Option<u32>,
    /// Tokens per minute (prompt estimate plus `max_tokens`) allowed by the local rate limiter.
    pub tpm: Option<u32>,
    /// Longest wait for the response headers, in milliseconds (default 10 000, and 30 000 for
    /// Ollama, whose first request may have to load the model).
    pub first_byte_timeout_ms: Option<u64>,
    /// Longest silence between two chunks of a stream, in milliseconds (default 15 000).
    pub idle_timeout_ms: Option<u64>,
    /// Longest time for a whole request when the caller gives no deadline (default 60 000).
    pub request_timeout_ms: Option<u64>,
    /// Attempts per request including the first (default 3).
    pub max_attempts: Option<u32>,
    /// First backoff step for retries, in milliseconds (default 250).
    pub backoff_base_ms: Option<u64>,
    /// Consecutive failures that open the circuit breaker (default 5).
    pub breaker_failures: Option<u32>,
    /// How long an open breaker waits before letting one probe through, in ms (default 30 000).
    pub breaker_cooldown_ms: Option<u64>,
    /// How fill-in-the-middle is done: `auto` (default), `native`, `template` or `chat`.
    pub fim: Option<String>,
    /// A FIM template: a family name (`qwen`, `codestral`, `deepseek`, `starcoder`, `codellama`,
    /// `codegemma`, `granite`) or a custom string with `{prefix}` and `{suffix}` placeholders.
    pub fim_template: Option<String>,
    /// Prices that replace the built-in table for this provider's model.
    pub prices: Option<PriceConfig>,
    /// Ollama only: how long the model stays loaded after a request (`"5m"`, `"-1"`...;
    /// default `"30m"`, so a model is not unloaded between two bursts of typing).
    pub keep_alive: Option<String>,
    /// OpenAI-compatible servers: ask the server to keep the prompt's tokens and reuse the
    /// common prefix next time (`cache_prompt`, llama.cpp's server). Default: on for a server
    /// on this machine (`127.0.0.1`, `localhost`, `[::1]`), off elsewhere, where a strict
    /// server may refuse a field it does not know.
    pub cache_prompt: Option<bool>,
}

/// True when `base_url` names this machine (`127.0.0.1`, `localhost`, `[::1]`): a local
/// server, typically a model on the CPU, with no prices and slow prompt reading.
pub fn is_on_this_machine(base_url: &str) -> bool {
    let authority = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or("");
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    };
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// Prices in US dollars per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PriceConfig {
    /// Dollars per million prompt tokens.
    pub input_per_mtok: f64,
    /// Dollars per million generated tokens.
    pub output_per_mtok: f64,
}

/// Hides the credentials of a URL: `https://user:pass@host/x` becomes `https://****@host/x`,
/// for status reports and `aiex doctor`. Other text is returned unchanged.
pub fn mask_url_credentials(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://****{}", &rest[at..]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_product_brief_example_reads_and_unknown_keys_are_refused() {
        let local: ProviderConfig = serde_json::from_str(
            r#"{ "kind": "ollama", "base_url": "http://127.0.0.1:11434", "model": "qwen2.5-coder:1.5b", "keep_alive": "30m", "rpm": 60 }"#,
        )
        .unwrap();
        assert_eq!(local.kind, "ollama");
        assert_eq!(local.keep_alive.as_deref(), Some("30m"));
        assert!(is_on_this_machine(
            &local.base_url.clone().unwrap_or_default()
        ));
        assert!(is_on_this_machine("http://localhost/v1"));
        assert!(is_on_this_machine("http://[::1]:8080"));
        assert!(!is_on_this_machine("https://api.openai.com/v1"));
        assert!(!is_on_this_machine("http://127.0.0.1.evil.example:80/v1"));
        assert_eq!(local.rpm, Some(60));
        let hosted: ProviderConfig = toml::from_str(
            "kind = \"anthropic\"\nmodel = \"claude-haiku-4-5\"\napi_key_env = \"ANTHROPIC_API_KEY\"\nprices = { input_per_mtok = 1.0, output_per_mtok = 5.0 }\n",
        )
        .unwrap();
        assert_eq!(
            hosted.prices,
            Some(PriceConfig {
                input_per_mtok: 1.0,
                output_per_mtok: 5.0
            })
        );
        let unknown =
            serde_json::from_str::<ProviderConfig>(r#"{ "kind": "openai", "api_key": "sk-..." }"#)
                .unwrap_err();
        assert!(
            unknown.to_string().contains("unknown field `api_key`"),
            "{unknown}"
        );
    }
}
