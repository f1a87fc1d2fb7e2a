//! Zed extension that starts the `aiex` language server for Elixir, EEx and HEEx.
//!
//! The binary is the one named in Zed's settings (`lsp.aiex.binary.path`), else
//! the `aiex` on the worktree's PATH, else the release this extension version
//! pins, downloaded into the extension's work directory (`install`). Zed passes
//! `lsp.aiex.initialization_options` and `lsp.aiex.settings` to the server; when
//! only one of them is set, the same configuration is used for both, so the
//! server sees it at start and on `workspace/didChangeConfiguration` alike.

pub mod install;

use zed_extension_api::{self as zed, serde_json, settings::LspSettings, LanguageServerId, Result};

/// The server's id in `extension.toml` and in Zed's `lsp` settings.
const SERVER_ID: &str = "aiex";

/// What the user configured for the binary, from `lsp.aiex.binary`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BinarySettings {
    pub path: Option<String>,
    pub arguments: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
}

/// How to start the server, so that the rules are unit-tested on the host. The binary is the
/// configured path, else the one on PATH, else what `download` gives (called only then).
pub fn server_command(
    settings: BinarySettings,
    on_path: Option<String>,
    shell_env: Vec<(String, String)>,
    download: impl FnOnce() -> std::result::Result<String, String>,
) -> std::result::Result<zed::Command, String> {
    let command = match settings.path.filter(|p| !p.trim().is_empty()).or(on_path) {
        Some(command) => command,
        None => download()?,
    };
    // The worktree's shell environment carries the provider API keys
    // (api_key_env); the user's `binary.env` wins over it.
    let mut env = shell_env;
    for (key, value) in settings.env {
        env.retain(|(k, _)| k != &key);
        env.push((key, value));
    }
    Ok(zed::Command {
        command,
        args: settings.arguments.unwrap_or_default(),
        env,
    })
}

/// The initialization options key naming the oldest server this extension works with. VS Code
/// and Neovim send it in the client capabilities (`experimental.aiex.minimumServerVersion`);
/// Zed's extension API has no way to add capabilities, so it goes with the initialization
/// options, which the server takes it out of. An older binary shows a message asking to update it.
pub const MINIMUM_SERVER_VERSION_OPTION: &str = "minimumServerVersion";

/// `initialization_options` and `settings` fall back on each other; the initialization
/// options also carry the minimum server version (the version this extension downloads).
pub fn configuration(
    initialization_options: Option<serde_json::Value>,
    settings: Option<serde_json::Value>,
) -> (Option<serde_json::Value>, Option<serde_json::Value>) {
    let init = initialization_options.clone().or_else(|| settings.clone());
    let workspace = settings.or(initialization_options);
    (
        with_minimum_server_version(init),
        workspace.map(|s| serde_json::json!({ "aiex": s })),
    )
}

/// The initialization options with the minimum server version added. Options that are not an
/// object are left as the user wrote them, for the server to report.
fn with_minimum_server_version(init: Option<serde_json::Value>) -> Option<serde_json::Value> {
    let version = serde_json::Value::from(install::AIEX_VERSION);
    match init.unwrap_or_else(|| serde_json::Value::Object(Default::default())) {
        serde_json::Value::Object(mut options) => {
            options.insert(MINIMUM_SERVER_VERSION_OPTION.to_owned(), version);
            Some(serde_json::Value::Object(options))
        }
        other => Some(other),
    }
}

struct AiexExtension {
    /// The downloaded binary, once found, relative to the extension's work directory.
    downloaded: Option<String>,
}

fn lsp_settings(worktree: &zed::Worktree) -> LspSettings {
    LspSettings::for_worktree(SERVER_ID, worktree).unwrap_or_default()
}

impl zed::Extension for AiexExtension {
    fn new() -> Self {
        AiexExtension { downloaded: None }
    }

    fn language_server_command(
        &mut self,
        language_server_id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<zed::Command> {
        let binary = lsp_settings(worktree).binary.map(|b| BinarySettings {
            path: b.path,
            arguments: b.arguments,
            env: b.env.map(|e| e.into_iter().collect()).unwrap_or_default(),
        });
        let host = install::ZedHost { language_server_id };
        server_command(
            binary.unwrap_or_default(),
            worktree.which(SERVER_ID),
            worktree.shell_env(),
            || install::binary_path(&host, &mut self.downloaded),
        )
    }

    fn language_server_initialization_options(
        &mut self,
        _language_server_id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<Option<serde_json::Value>> {
        let s = lsp_settings(worktree);
        Ok(configuration(s.initialization_options, s.settings).0)
    }

    fn language_server_workspace_configuration(
        &mut self,
        _language_server_id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<Option<serde_json::Value>> {
        let s = lsp_settings(worktree);
        Ok(configuration(s.initialization_options, s.settings).1)
    }
}

zed::register_extension!(AiexExtension);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_configured_path_wins_over_path() {
        let settings = BinarySettings {
            path: Some("/opt/aiex".into()),
            arguments: Some(vec!["--stdio".into()]),
            ..Default::default()
        };
        let cmd =
            server_command(settings, Some("/usr/bin/aiex".into()), vec![], no_download).unwrap();
        assert_eq!(cmd.command, "/opt/aiex");
        assert_eq!(cmd.args, vec!["--stdio".to_string()]);
    }

    #[test]
    fn falls_back_to_path_and_keeps_the_shell_environment() {
        let shell = vec![("ANTHROPIC_API_KEY".to_string(), "k".to_string())];
        let cmd = server_command(
            BinarySettings::default(),
            Some("/usr/bin/aiex".into()),
            shell.clone(),
            no_download,
        )
        .unwrap();
        assert_eq!(cmd.command, "/usr/bin/aiex");
        assert!(cmd.args.is_empty());
        assert_eq!(cmd.env, shell);
    }

    #[test]
    fn binary_env_overrides_the_shell_environment() {
        let settings = BinarySettings {
            env: vec![("AIEX_LOG".into(), "debug".into())],
            ..Default::default()
        };
        let shell = vec![
            ("AIEX_LOG".to_string(), "warn".to_string()),
            ("HOME".to_string(), "/h".to_string()),
        ];
        let cmd = server_command(settings, Some("aiex".into()), shell, no_download).unwrap();
        assert_eq!(
            cmd.env,
            vec![
                ("HOME".to_string(), "/h".to_string()),
                ("AIEX_LOG".to_string(), "debug".to_string())
            ]
        );
    }

    fn no_download() -> std::result::Result<String, String> {
        panic!("downloaded although a binary was configured or on PATH")
    }

    #[test]
    fn without_a_configured_path_or_path_the_download_gives_the_binary() {
        let blank = BinarySettings {
            path: Some("  ".into()),
            ..Default::default()
        };
        let cmd = server_command(blank, None, vec![], || Ok("aiex-0.1.0/aiex".into())).unwrap();
        assert_eq!(cmd.command, "aiex-0.1.0/aiex");
        let err = server_command(BinarySettings::default(), None, vec![], || {
            Err("cannot download".into())
        })
        .unwrap_err();
        assert_eq!(err, "cannot download");
    }

    #[test]
    fn settings_and_initialization_options_fall_back_on_each_other() {
        let version = install::AIEX_VERSION;
        let only_settings = configuration(None, Some(json!({"providers": {}})));
        assert_eq!(
            only_settings.0,
            Some(json!({"providers": {}, "minimumServerVersion": version}))
        );
        assert_eq!(only_settings.1, Some(json!({"aiex": {"providers": {}}})));

        let only_init = configuration(Some(json!({"checks": {}})), None);
        assert_eq!(
            only_init.0,
            Some(json!({"checks": {}, "minimumServerVersion": version}))
        );
        assert_eq!(only_init.1, Some(json!({"aiex": {"checks": {}}})));
    }

    #[test]
    fn the_initialization_options_always_name_the_minimum_server_version() {
        let version = install::AIEX_VERSION;
        assert_eq!(
            configuration(None, None),
            (Some(json!({"minimumServerVersion": version})), None)
        );
        // The extension's requirement, not a stale one copied into the settings.
        let stale = configuration(Some(json!({"minimumServerVersion": "0.0.1"})), None);
        assert_eq!(stale.0, Some(json!({"minimumServerVersion": version})));
        // Options that are not an object reach the server as written (it reports them).
        assert_eq!(configuration(Some(json!([1])), None).0, Some(json!([1])));
    }
}
