//! Ollama answers as the fake provider replays them: an `/api/generate` stream (completions)
//! and an `/api/chat` stream (explanations and actions), in the shape of the recordings in
//! `fixtures/providers/ollama`.

use std::path::Path;

use serde_json::json;

use super::recordings::Recording;

const MODEL: &str = "qwen2.5-coder:1.5b";

/// An `/api/generate` stream producing `pieces`, then the final message with token counts.
pub fn generate(pieces: &[&str]) -> Recording {
    let mut body = String::new();
    for piece in pieces {
        body.push_str(&json!({ "model": MODEL, "response": piece, "done": false }).to_string());
        body.push('\n');
    }
    body.push_str(&json!({ "model": MODEL, "response": "", "done": true, "done_reason": "stop", "prompt_eval_count": 40, "eval_count": 6 }).to_string());
    body.push('\n');
    Recording::new(200, "application/x-ndjson", body.into_bytes())
}

/// An `/api/chat` stream answering `content`, a line per chunk.
pub fn chat(content: &str) -> Recording {
    let mut body = String::new();
    for piece in content.split_inclusive('\n') {
        body.push_str(&json!({ "model": MODEL, "message": { "role": "assistant", "content": piece }, "done": false }).to_string());
        body.push('\n');
    }
    body.push_str(&json!({ "model": MODEL, "message": { "role": "assistant", "content": "" }, "done": true, "done_reason": "stop", "prompt_eval_count": 90, "eval_count": 30 }).to_string());
    body.push('\n');
    Recording::new(200, "application/x-ndjson", body.into_bytes())
}

/// Writes the user configuration `<root>/user-config/aiex/config.toml` (pass
/// `<root>/user-config` as `XDG_CONFIG_HOME`): one provider, `local`, an Ollama at `url`, then
/// `extra` TOML. Providers are the user's to set: a workspace file may not point them anywhere.
pub fn write_user_config(root: &Path, url: &str, extra: &str) {
    let dir = root.join("user-config/aiex");
    std::fs::create_dir_all(&dir).expect("mkdir user-config/aiex");
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[providers.local]\nkind = \"ollama\"\nbase_url = \"{url}\"\nmodel = \"{MODEL}\"\n{extra}"
        ),
    )
    .expect("write the user configuration");
}
