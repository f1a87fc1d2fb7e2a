//! Reading, merging and validating the configuration sources.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{Config, PROVIDER_KINDS};

/// Where a piece of configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// `~/.config/aiex/config.toml`.
    User(PathBuf),
    /// `.aiex.toml` at the workspace root.
    Workspace(PathBuf),
    /// The editor's settings (`initializationOptions` or `workspace/didChangeConfiguration`).
    Editor,
    /// The merged result (for problems no single source has, like a dangling provider name).
    Merged,
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(path) | Self::Workspace(path) => write!(f, "{}", path.display()),
            Self::Editor => f.write_str("editor settings"),
            Self::Merged => f.write_str("configuration"),
        }
    }
}

/// A problem found in the configuration; the offending key was ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The source the key came from.
    pub source: ConfigSource,
    /// The key's dotted path (`providers.local.kind`); empty for the whole source.
    pub key: String,
    /// What is wrong, and what was done about it.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.source, self.message)
        } else {
            write!(f, "{}: `{}`: {}", self.source, self.key, self.message)
        }
    }
}

/// The configuration in effect and the problems met on the way.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadedConfig {
    /// The merged, validated configuration.
    pub config: Config,
    /// Every problem, each naming its key and source.
    pub issues: Vec<ConfigIssue>,
    /// The sources that contributed, lowest precedence first.
    pub sources: Vec<ConfigSource>,
}

/// The configuration sources, kept apart so the editor's can change at runtime.
#[derive(Debug, Clone, Default)]
pub struct ConfigLayers {
    user: Option<(ConfigSource, Value)>,
    workspace: Option<(ConfigSource, Value)>,
    /// `initializationOptions`.
    editor_init: Option<Value>,
    /// The latest `workspace/didChangeConfiguration`, layered over `initializationOptions`
    /// (Eglot, for one, sends an empty one on connect that must not wipe them out).
    editor_change: Option<Value>,
    read_issues: Vec<ConfigIssue>,
}

/// The user's configuration file, if the platform has a home.
pub fn user_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("aiex/config.toml"));
    }
    dirs::home_dir().map(|home| home.join(".config/aiex/config.toml"))
}

impl ConfigLayers {
    /// Reads the user's file and the workspace's `.aiex.toml` (either may be missing).
    pub fn from_files(user_file: Option<&Path>, workspace_root: Option<&Path>) -> Self {
        let mut layers = Self::default();
        if let Some(path) = user_file {
            layers.user = layers.read_toml(ConfigSource::User(path.to_owned()), path);
        }
        if let Some(root) = workspace_root {
            let path = root.join(".aiex.toml");
            layers.workspace = layers.read_toml(ConfigSource::Workspace(path.clone()), &path);
        }
        layers
    }

    fn read_toml(&mut self, source: ConfigSource, path: &Path) -> Option<(ConfigSource, Value)> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
            Err(error) => {
                self.read_issues.push(ConfigIssue {
                    source,
                    key: String::new(),
                    message: format!("cannot be read ({error}); it was ignored"),
                });
                return None;
            }
        };
        match toml::from_str::<Value>(&text) {
            Ok(value) => Some((source, value)),
            Err(error) => {
                let message = format!("is not valid TOML; it was ignored: {}", error.message());
                self.read_issues.push(ConfigIssue {
                    source,
                    key: String::new(),
                    message,
                });
                None
            }
        }
    }

    /// Sets the editor's `initializationOptions`.
    pub fn set_editor(&mut self, settings: Value) {
        self.editor_init = editor_settings(settings);
    }

    /// Sets the settings of the latest `workspace/didChangeConfiguration`.
    pub fn set_editor_change(&mut self, settings: Value) {
        self.editor_change = editor_settings(settings);
    }

    /// Merges and validates the layers.
    pub fn resolve(&self) -> LoadedConfig {
        let mut issues = self.read_issues.clone();
        let mut merged = Value::Object(Map::new());
        let mut sources = Vec::new();
        let editor_init = self
            .editor_init
            .clone()
            .map(|value| (ConfigSource::Editor, value));
        let editor_change = self
            .editor_change
            .clone()
            .map(|value| (ConfigSource::Editor, value));
        let layers = [
            self.user.clone(),
            self.workspace.clone(),
            editor_init,
            editor_change,
        ];
        for (source, value) in layers.into_iter().flatten() {
            let cleaned = drop_invalid_keys(strip_nulls(value), &source, &mut issues);
            merge(&mut merged, cleaned);
            sources.push(source);
        }
        // Each layer is valid alone, so the merge is too; if not, the same repair applies.
        let merged = drop_invalid_keys(merged, &ConfigSource::Merged, &mut issues);
        let config = serde_json::from_value::<Config>(merged).unwrap_or_default();
        issues.extend(semantic_issues(&config));
        LoadedConfig {
            config,
            issues,
            sources,
        }
    }
}

/// The editor's settings, bare or under an `aiex` key; `None` when there are none (null, or
/// an empty array as Neovim sends for an empty Lua table).
fn editor_settings(settings: Value) -> Option<Value> {
    let settings = match settings {
        Value::Object(mut object) if object.len() == 1 && object.contains_key("aiex") => {
            object.remove("aiex").unwrap_or(Value::Null)
        }
        other => other,
    };
    match settings {
        Value::Null => None,
        Value::Array(items) if items.is_empty() => None,
        other => Some(other),
    }
}

/// Removes keys that do not deserialize, one at a time, recording an issue for each.
fn drop_invalid_keys(
    mut value: Value,
    source: &ConfigSource,
    issues: &mut Vec<ConfigIssue>,
) -> Value {
    if !value.is_object() {
        issues.push(ConfigIssue {
            source: source.clone(),
            key: String::new(),
            message: "must be a table of settings; it was ignored".to_owned(),
        });
        return Value::Object(Map::new());
    }
    // Each round removes one key, so the loop ends; the bound is a guard against surprises.
    for _ in 0..256 {
        let error = match serde_path_to_error::deserialize::<_, Config>(&value) {
            Ok(_) => return value,
            Err(error) => error,
        };
        let segments: Vec<String> = error
            .path()
            .iter()
            .map(|segment| match segment {
                serde_path_to_error::Segment::Seq { index } => index.to_string(),
                serde_path_to_error::Segment::Map { key } => key.clone(),
                serde_path_to_error::Segment::Enum { variant } => variant.clone(),
                serde_path_to_error::Segment::Unknown => "?".to_owned(),
            })
            .collect();
        let message = clean_serde_message(&error.inner().to_string());
        issues.push(ConfigIssue {
            source: source.clone(),
            key: segments.join("."),
            message: format!("{message}; the key was ignored"),
        });
        if segments.is_empty() || !remove_path(&mut value, &segments) {
            return Value::Object(Map::new());
        }
    }
    Value::Object(Map::new())
}

/// Serde's messages name Rust types; keep what helps a user.
fn clean_serde_message(message: &str) -> String {
    message
        .split(", expected one of")
        .next()
        .unwrap_or(message)
        .to_owned()
}

fn remove_path(value: &mut Value, segments: &[String]) -> bool {
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut current = value;
    for segment in parents {
        current = match current {
            Value::Object(object) => match object.get_mut(segment) {
                Some(next) => next,
                None => return false,
            },
            Value::Array(items) => {
                match segment.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                    Some(next) => next,
                    None => return false,
                }
            }
            _ => return false,
        };
    }
    match current {
        Value::Object(object) => object.remove(last).is_some(),
        Value::Array(items) => match last.parse::<usize>() {
            Ok(index) if index < items.len() => {
                items.remove(index);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// Drops `null` values: editors send them for settings the user left unset.
fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Merges `overlay` into `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value)
                    }
                    _ => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

/// Problems that only show once the sources are merged.
fn semantic_issues(config: &Config) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    let mut issue = |key: String, message: String| {
        issues.push(ConfigIssue {
            source: ConfigSource::Merged,
            key,
            message,
        });
    };
    for (name, provider) in &config.providers {
        if !PROVIDER_KINDS.contains(&provider.kind.as_str()) {
            issue(
                format!("providers.{name}.kind"),
                format!(
                    "`{}` is not a provider kind (one of: {}); the provider is unusable",
                    provider.kind,
                    PROVIDER_KINDS.join(", ")
                ),
            );
        }
        if provider.model.is_empty() {
            issue(
                format!("providers.{name}.model"),
                "is missing; the provider is unusable".to_owned(),
            );
        }
    }
    for problem in config.checks.problems() {
        let (key, message) = problem
            .split_once(": ")
            .unwrap_or(("checks", problem.as_str()));
        issue(key.to_owned(), format!("{message}; it has no effect"));
    }
    for (feature, _, providers) in config.features.list() {
        for name in providers {
            if !config.providers.contains_key(name) {
                issue(
                    format!("features.{feature}.providers"),
                    format!("names `{name}`, which is not under `providers`; it is skipped"),
                );
            }
        }
    }
    issues
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn resolve(editor: Value) -> LoadedConfig {
        let mut layers = ConfigLayers::default();
        layers.set_editor(editor);
        layers.resolve()
    }

    #[test]
    fn the_product_example_is_accepted_whole() {
        let loaded = resolve(json!({
            "providers": {
                "local":  { "kind": "ollama", "base_url": "http://127.0.0.1:11434", "model": "qwen2.5-coder:1.5b" },
                "hosted": { "kind": "anthropic", "model": "claude-haiku-4-5", "api_key_env": "ANTHROPIC_API_KEY" }
            },
            "features": {
                "completion": { "providers": ["local", "hosted"] },
                "explain":    { "providers": ["hosted", "local"] },
                "actions":    { "providers": ["hosted", "local"] }
            }
        }));
        assert_eq!(loaded.issues, vec![]);
        assert_eq!(loaded.config.providers["hosted"].kind, "anthropic");
        assert_eq!(
            loaded.config.features.explain.providers,
            ["hosted", "local"]
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_reported_and_the_rest_applies() {
        let loaded = resolve(json!({
            "aiex": {
                "providers": { "local": { "kind": "ollama", "model": "m", "colour": "red" } },
                "features": { "completion": { "enabled": "yes", "providers": ["local"] } },
                "telemetry": true
            }
        }));
        let rendered: Vec<String> = loaded.issues.iter().map(ToString::to_string).collect();
        assert_eq!(rendered.len(), 3, "{rendered:#?}");
        assert!(
            rendered
                .iter()
                .any(|i| i.contains("`providers.local.colour`")),
            "{rendered:#?}"
        );
        assert!(
            rendered
                .iter()
                .any(|i| i.contains("`features.completion.enabled`")),
            "{rendered:#?}"
        );
        assert!(
            rendered.iter().any(|i| i.contains("`telemetry`")),
            "{rendered:#?}"
        );
        assert!(rendered.iter().all(|i| i.starts_with("editor settings")));
        assert_eq!(loaded.config.providers["local"].model, "m");
        assert_eq!(loaded.config.features.completion.providers, ["local"]);
        assert!(
            loaded.config.features.completion.enabled,
            "the bad value falls back to the default"
        );
    }

    #[test]
    fn the_editor_wins_over_the_workspace_which_wins_over_the_user() {
        let dir = tempfile::tempdir().expect("tempdir");
        let user = dir.path().join("user.toml");
        std::fs::write(
            &user,
            "[providers.a]\nkind = \"ollama\"\nmodel = \"user-model\"\nbase_url = \"http://u\"\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join(".aiex.toml"),
            "[providers.a]\nmodel = \"workspace-model\"\n",
        )
        .expect("write");
        let mut layers = ConfigLayers::from_files(Some(&user), Some(dir.path()));
        let loaded = layers.resolve();
        assert_eq!(loaded.config.providers["a"].model, "workspace-model");
        assert_eq!(
            loaded.config.providers["a"].base_url.as_deref(),
            Some("http://u")
        );
        layers.set_editor(json!({ "providers": { "a": { "model": "editor-model" } } }));
        let loaded = layers.resolve();
        assert_eq!(loaded.config.providers["a"].model, "editor-model");
        assert_eq!(loaded.config.providers["a"].kind, "ollama");
        assert_eq!(loaded.sources.len(), 3);
    }

    #[test]
    fn an_empty_configuration_change_keeps_the_initialization_options() {
        let mut layers = ConfigLayers::default();
        layers.set_editor(json!({ "providers": { "a": { "kind": "ollama", "model": "m" } } }));
        layers.set_editor_change(json!({}));
        assert_eq!(layers.resolve().config.providers["a"].model, "m");
        layers.set_editor_change(json!({ "aiex": { "providers": { "a": { "model": "n" } } } }));
        assert_eq!(layers.resolve().config.providers["a"].model, "n");
        layers.set_editor(json!([]));
        layers.set_editor_change(json!([]));
        let loaded = layers.resolve();
        assert_eq!(
            loaded.issues,
            vec![],
            "an empty array is no settings, not an error"
        );
    }

    #[test]
    fn broken_toml_is_reported_with_its_path_and_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(".aiex.toml"), "[providers\nkind = ").expect("write");
        let loaded = ConfigLayers::from_files(None, Some(dir.path())).resolve();
        assert_eq!(loaded.issues.len(), 1);
        let message = loaded.issues[0].to_string();
        assert!(
            message.contains(".aiex.toml: is not valid TOML"),
            "{message}"
        );
        assert_eq!(loaded.config, Config::default());
    }

    #[test]
    fn dangling_provider_names_and_unknown_kinds_are_reported() {
        let loaded = resolve(json!({
            "providers": { "x": { "kind": "skynet", "model": "m" } },
            "features": { "explain": { "providers": ["x", "missing"] } }
        }));
        let rendered: Vec<String> = loaded.issues.iter().map(ToString::to_string).collect();
        assert!(rendered
            .iter()
            .any(|i| i.contains("`providers.x.kind`") && i.contains("skynet")));
        assert!(rendered.iter().any(|i| i.contains("`missing`")));
    }

    #[test]
    fn no_configuration_means_a_local_ollama() {
        let config = resolve(Value::Null).config;
        let providers = config.effective_providers();
        assert_eq!(providers.len(), 1);
        assert_eq!(
            providers["ollama"].base_url.as_deref(),
            Some("http://127.0.0.1:11434")
        );
        assert_eq!(
            config.feature_providers(&config.features.completion.providers),
            ["ollama"]
        );
    }
}
