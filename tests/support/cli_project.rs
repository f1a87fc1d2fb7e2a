//! A small Mix project for the tests that run the real `aiex` command line on it: `lib/cart.ex`
//! and a user configuration of its own, so no test reads or writes the real user's files.
//! Included with `#[path]` by the `aiex` package's tests only (it names their binary).

use std::path::Path;
use std::process::Command;

/// A Mix project in a temporary directory with `lib/cart.ex` holding `cart`, and a user
/// configuration (`user-config/aiex/config.toml`, the `XDG_CONFIG_HOME` of [`aiex_command`])
/// whose one provider, `local`, is an Ollama at `url`, followed by `extra` TOML. A workspace
/// `.aiex.toml` could not define providers unless the user trusts it.
pub fn cart_project(url: &str, cart: &str, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("mix.exs"),
        "defmodule Cart.MixProject do\nend\n",
    )
    .expect("write mix.exs");
    std::fs::create_dir_all(dir.path().join("user-config/aiex")).expect("mkdir");
    std::fs::write(
        dir.path().join("user-config/aiex/config.toml"),
        format!(
            "[providers.local]\nkind = \"ollama\"\nbase_url = \"{url}\"\nmodel = \"qwen2.5-coder:1.5b\"\n{extra}"
        ),
    )
    .expect("write the user configuration");
    std::fs::create_dir_all(dir.path().join("lib")).expect("mkdir");
    std::fs::write(dir.path().join("lib/cart.ex"), cart).expect("write lib/cart.ex");
    dir
}

/// The user configuration, data and cache directories of a [`cart_project`] in `dir`.
pub fn environment(dir: &Path) -> Vec<(String, String)> {
    [
        ("XDG_CONFIG_HOME", dir.join("user-config")),
        ("AIEX_DATA_DIR", dir.join("data")),
        ("AIEX_CACHE_DIR", dir.join("cache")),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_string_lossy().into_owned()))
    .collect()
}

/// `aiex`, run in `dir` with its [`environment`].
pub fn aiex_command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aiex"));
    command.current_dir(dir).envs(environment(dir));
    command
}
