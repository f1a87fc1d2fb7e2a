//! The normalized request and response every provider adapter speaks.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The user (or Aiex on the user's behalf).
    User,
    /// The model, in an earlier turn.
    Assistant,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// Its text.
    pub content: String,
}

impl Message {
    /// A message from the user.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }

    /// A message from the model.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// What the model is asked: a conversation, or a hole to fill between a prefix and a suffix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Prompt {
    /// A chat: an optional system prompt and the messages so far.
    Chat {
        /// Instructions that frame the whole conversation.
        system: Option<String>,
        /// The turns, oldest first.
        messages: Vec<Message>,
    },
    /// Fill-in-the-middle: the code before and after the cursor.
    Fim {
        /// Text before the cursor.
        prefix: String,
        /// Text after the cursor.
        suffix: String,
        /// The repository around the hole, when it is in one: shown in the layout the model
        /// was trained on where its family has one (Qwen's and StarCoder's file separators),
        /// as comments before the prefix otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repository: Option<Repository>,
    },
}

/// The repository around a fill-in-the-middle hole.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Repository {
    /// Its name (the workspace folder's).
    pub name: String,
    /// The path of the file with the hole, relative to the repository.
    pub path: String,
    /// How a line comment starts in the repository's language (`#` for Elixir), for layouts
    /// that show the pieces as comments.
    pub comment: String,
    /// Code from the repository the hole may depend on, in the order to show it (most
    /// relevant last, nearest the hole).
    pub pieces: Vec<RepositoryPiece>,
}

/// Code from one file of the repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RepositoryPiece {
    /// The file, relative to the repository.
    pub path: String,
    /// Why it is shown (`called: MyApp.Repo.insert/1`), for the comment layout.
    pub reason: String,
    /// The code.
    pub text: String,
}

/// One request to a model, independent of the provider that will serve it.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmRequest {
    /// What is asked.
    pub prompt: Prompt,
    /// A model that replaces the provider's configured one, if any.
    pub model: Option<String>,
    /// Most tokens to generate.
    pub max_tokens: u32,
    /// Sampling temperature; the provider's default when absent.
    pub temperature: Option<f32>,
    /// Sequences that end generation.
    pub stop: Vec<String>,
    /// When the caller stops caring; every wait (rate limit, backoff, network) stays inside it.
    pub deadline: Option<Instant>,
    /// Whether a cached answer to the same request may be served (a user who asks for a
    /// refactor again wants a new one).
    pub use_cache: bool,
    /// When the user's request that this one serves reached the server: as the request
    /// leaves, the time aiex took to prepare it (its server time) is logged under the target
    /// [`SERVER_TIME_LOG`].
    pub asked_at: Option<Instant>,
}

/// The log target of each provider request's server time: from the user's request's arrival
/// to the provider request leaving, as `server_us` (debug level; the benchmarks read it).
pub const SERVER_TIME_LOG: &str = "aiex::server_time";

impl LlmRequest {
    /// A chat request with an optional system prompt and one user message.
    pub fn chat(system: Option<&str>, user: impl Into<String>) -> Self {
        Self::new(Prompt::Chat {
            system: system.map(str::to_owned),
            messages: vec![Message::user(user)],
        })
    }

    /// A fill-in-the-middle request.
    pub fn fim(prefix: impl Into<String>, suffix: impl Into<String>) -> Self {
        Self::new(Prompt::Fim {
            prefix: prefix.into(),
            suffix: suffix.into(),
            repository: None,
        })
    }

    /// A fill-in-the-middle request in a file of `repository`.
    pub fn fim_in_repository(
        prefix: impl Into<String>,
        suffix: impl Into<String>,
        repository: Repository,
    ) -> Self {
        Self::new(Prompt::Fim {
            prefix: prefix.into(),
            suffix: suffix.into(),
            repository: Some(repository),
        })
    }

    /// A request for `prompt` with default settings (256 tokens, no deadline).
    pub fn new(prompt: Prompt) -> Self {
        Self {
            prompt,
            model: None,
            max_tokens: 256,
            temperature: None,
            stop: Vec::new(),
            deadline: None,
            use_cache: true,
            asked_at: None,
        }
    }

    /// Sets the deadline `timeout` from now.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.deadline = Some(Instant::now() + timeout);
        self
    }

    /// Asks the model even if the same request was answered before.
    pub fn without_cache(mut self) -> Self {
        self.use_cache = false;
        self
    }

    /// Sets the most tokens to generate.
    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = max_tokens;
        self
    }

    /// Sets the sampling temperature.
    pub fn with_temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Adds stop sequences.
    pub fn with_stop(mut self, stop: impl IntoIterator<Item = String>) -> Self {
        self.stop.extend(stop);
        self
    }

    /// All the prompt text, for token estimates.
    pub fn prompt_text(&self) -> String {
        match &self.prompt {
            Prompt::Chat { system, messages } => {
                let mut text = system.clone().unwrap_or_default();
                for message in messages {
                    text.push('\n');
                    text.push_str(&message.content);
                }
                text
            }
            Prompt::Fim {
                prefix,
                suffix,
                repository,
            } => {
                let mut text = String::new();
                for piece in repository.iter().flat_map(|r| &r.pieces) {
                    text.push_str(&piece.text);
                    text.push('\n');
                }
                text.push_str(prefix);
                text.push_str(suffix);
                text
            }
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model finished on its own or hit a stop sequence.
    Stop,
    /// `max_tokens` was reached.
    Length,
    /// The provider's safety filter cut the answer.
    ContentFilter,
    /// The model asked to call a tool (Aiex does not use tools; the text may be empty).
    ToolUse,
    /// A reason Aiex does not know, as the provider named it.
    Other(String),
}

impl FinishReason {
    /// Maps a provider's finish reason name (`stop`, `end_turn`, `MAX_TOKENS`...) to ours.
    pub fn from_provider(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "stop" | "end_turn" | "stop_sequence" | "eos" | "finish_reason_unspecified" => {
                Self::Stop
            }
            "length" | "max_tokens" | "model_length" => Self::Length,
            "content_filter" | "safety" | "recitation" | "blocklist" | "prohibited_content" => {
                Self::ContentFilter
            }
            "tool_calls" | "tool_use" | "function_call" => Self::ToolUse,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// Token counts of one response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
    /// True when Aiex counted them itself because the provider gave no figures.
    pub estimated: bool,
}

/// How fast the model read the prompt and wrote the answer, as the server measured it
/// (llama.cpp's `timings`, Ollama's `prompt_eval_duration` and `eval_duration`). Network and
/// queueing are not in it, which is what makes it worth more than wall time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Prompt tokens the model read (not those it reused from its prompt cache).
    pub prompt_tokens: u64,
    /// Prompt tokens it reused from its cache, when it said.
    pub cached_tokens: u64,
    /// Milliseconds spent reading them.
    pub prompt_ms: f64,
    /// Tokens generated.
    pub generated_tokens: u64,
    /// Milliseconds spent generating them.
    pub generation_ms: f64,
}

/// The complete result of one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmResponse {
    /// The whole generated text.
    pub text: String,
    /// Why generation ended.
    pub finish_reason: FinishReason,
    /// Token counts.
    pub usage: Usage,
    /// What it cost, in US dollars.
    pub cost_usd: f64,
    /// The configured name of the provider that answered.
    pub provider: String,
    /// The model that answered, as the provider reported it when it did.
    pub model: String,
    /// From the first attempt to the last byte.
    pub latency: Duration,
    /// True when the answer came from the response cache.
    pub cached: bool,
    /// True when that cache was the team's shared one (team mode), not this process's.
    #[serde(default)]
    pub team_cache: bool,
    /// The server's own measure of its speed, when it gave one.
    #[serde(default)]
    pub timings: Option<Timings>,
}

/// One item of a response stream: a piece of text, then the complete result last.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// Newly generated text.
    Delta(String),
    /// The end of the stream, with the complete result.
    Done(LlmResponse),
}
