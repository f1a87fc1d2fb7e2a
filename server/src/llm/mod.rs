//! The LLM layer: one interface over every model provider.

use serde::{Deserialize, Serialize};

/// One configured provider, as written under `providers.<name>` in the configuration.
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
}
