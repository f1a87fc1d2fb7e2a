//! The configuration reference (`docs/guide/configuration.md`), generated from the
//! configuration types themselves: each key's name, type and documentation from the structs'
//! source, its default from `Default`, who may set it from the trust rules. A test compares the
//! page with this output, so the two cannot drift (`UPDATE_EXPECT=1` rewrites the page).

use serde_json::Value;

use super::trust::{only_user_may_set, workspace_may_set};
use super::Config;
use crate::llm::ProviderConfig;

/// The sources of the configuration structs, read as text: doc comments are not available at
/// run time, and they are the documentation the reference shows.
const SOURCES: &[&str] = &[
    include_str!("mod.rs"),
    include_str!("../../../aiex-llm/src/config.rs"),
    include_str!("../../../aiex-checks/src/config.rs"),
    include_str!("../../../aiex-team/src/config.rs"),
];

/// One field of a configuration struct, as its source declares it.
#[derive(Debug, Clone)]
struct Field {
    name: String,
    ty: String,
    doc: String,
}

/// The fields of `pub struct name`, in declaration order.
fn fields_of(name: &str) -> Vec<Field> {
    let header = format!("pub struct {name} {{");
    let source = SOURCES
        .iter()
        .find(|source| source.contains(&header))
        .unwrap_or_else(|| panic!("no source declares {name}"));
    let body = &source[source.find(&header).unwrap() + header.len()..];
    let body = &body[..body.find("\n}").expect("the struct ends")];
    let mut fields = Vec::new();
    let mut doc = Vec::new();
    for line in body.lines().map(str::trim) {
        if let Some(text) = line.strip_prefix("///") {
            doc.push(text.trim().to_owned());
        } else if let Some(declaration) = line.strip_prefix("pub ") {
            let (field, ty) = declaration.split_once(':').expect("a field declaration");
            fields.push(Field {
                name: field.trim().to_owned(),
                ty: ty.trim().trim_end_matches(',').to_owned(),
                doc: doc.join(" "),
            });
            doc.clear();
        } else if !line.starts_with("#[") && !line.is_empty() {
            doc.clear();
        }
    }
    fields
}

/// What a type is called in the reference, and the struct to descend into, if any.
fn describe_type(ty: &str) -> (String, Option<String>) {
    // A struct of another crate is named by its path; the sources are searched by its name.
    let ty = ty.rsplit("::").next().unwrap_or(ty);
    let inner = ty.strip_prefix("Option<").and_then(|t| t.strip_suffix('>'));
    if let Some(inner) = inner {
        let (name, nested) = describe_type(inner);
        return (format!("{name} (optional)"), nested);
    }
    let plain = |text: &str| (text.to_owned(), None);
    match ty {
        "bool" => plain("boolean"),
        "u32" | "u64" | "usize" => plain("integer"),
        "f64" => plain("number"),
        "String" => plain("string"),
        "Vec<String>" => plain("list of strings"),
        "BTreeMap<String, Severity>" => {
            plain("table: check ID → `error`, `warning`, `info` or `hint`")
        }
        "BTreeMap<String, ProviderConfig>" => (
            "table of providers".to_owned(),
            Some("ProviderConfig".to_owned()),
        ),
        other => ("table".to_owned(), Some(other.to_owned())),
    }
}

fn render_default(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "none".to_owned(),
        Some(Value::String(text)) => format!("`\"{text}\"`"),
        Some(Value::Array(items)) if items.is_empty() => "`[]`".to_owned(),
        Some(Value::Object(map)) if map.is_empty() => "`{}`".to_owned(),
        Some(other) => format!("`{other}`"),
    }
}

fn who_may_set(path: &str) -> &'static str {
    if only_user_may_set(path) {
        "user"
    } else if workspace_may_set(path) {
        "user, workspace"
    } else {
        "user, trusted workspace"
    }
}

fn render_struct(name: &str, prefix: &str, defaults: &Value, rows: &mut Vec<String>) {
    for field in fields_of(name) {
        let path = if prefix.is_empty() {
            field.name.clone()
        } else {
            format!("{prefix}.{}", field.name)
        };
        let (ty, nested) = describe_type(&field.ty);
        let default = defaults.get(&field.name);
        match nested.as_deref() {
            Some("ProviderConfig") => {
                rows.push(row(&path, &ty, "`{}`", &field.doc));
                let provider = serde_json::to_value(ProviderConfig::default()).unwrap_or_default();
                render_struct("ProviderConfig", &format!("{path}.<name>"), &provider, rows);
            }
            Some(nested) => {
                let empty = Value::Null;
                render_struct(nested, &path, default.unwrap_or(&empty), rows);
            }
            None => rows.push(row(&path, &ty, &render_default(default), &field.doc)),
        }
    }
}

fn row(path: &str, ty: &str, default: &str, doc: &str) -> String {
    format!(
        "| `{path}` | {ty} | {default} | {} | {} |",
        who_may_set(path),
        doc.replace('|', "\\|")
    )
}

/// The whole reference page, in Markdown.
pub fn reference_markdown() -> String {
    let defaults = serde_json::to_value(Config::default()).unwrap_or_default();
    let mut rows = Vec::new();
    render_struct("Config", "", &defaults, &mut rows);
    format!(
        "# Configuration reference\n\n\
         <!-- Generated from the configuration types (server/crates/aiex-engine/src/config/reference.rs);\n\
         a test fails when this page and the code differ. Regenerate: UPDATE_EXPECT=1 cargo test -p aiex-engine config_reference -->\n\n\
         One shape, from three places merged key by key: `~/.config/aiex/config.toml` (the user),\n\
         `.aiex.toml` at the workspace root (the workspace), and the editor's settings\n\
         (`initializationOptions`, or `workspace/didChangeConfiguration` under `aiex`), which\n\
         count as the user's. Later places win. An unknown key or a bad value is reported with\n\
         its path and source, and the rest applies.\n\n\
         **Who may set it**: *user* keys only from your own file or editor; *user, workspace*\n\
         keys also from any workspace's `.aiex.toml`; *user, trusted workspace* keys from a\n\
         workspace file only after `aiex trust` (its current content). `<name>` is a provider\n\
         name of your choice.\n\n\
         | key | type | default | who may set it | what it does |\n\
         | --- | --- | --- | --- | --- |\n{}\n",
        rows.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reference_matches_docs_guide_configuration_md() {
        expect_test::expect_file!["../../../../../docs/guide/configuration.md"]
            .assert_eq(&reference_markdown());
    }

    #[test]
    fn every_serialized_key_has_a_row() {
        // A field the parser missed (a renamed type, a new struct) would leave its key out.
        let page = reference_markdown();
        fn keys(value: &Value, prefix: &str, out: &mut Vec<String>) {
            if let Value::Object(map) = value {
                for (key, value) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    match value {
                        Value::Object(inner) if !inner.is_empty() => keys(value, &path, out),
                        _ => out.push(path),
                    }
                }
            }
        }
        let mut all = Vec::new();
        keys(
            &serde_json::to_value(Config::default()).unwrap(),
            "",
            &mut all,
        );
        keys(
            &serde_json::to_value(ProviderConfig::default()).unwrap(),
            "providers.<name>",
            &mut all,
        );
        for key in all {
            // An optional table absent by default (`prices`) has rows for its own keys.
            let row =
                page.contains(&format!("| `{key}` |")) || page.contains(&format!("| `{key}."));
            assert!(row, "no row for {key}");
        }
        assert!(
            page.contains("| `audit.enabled` | boolean | `true` | user |"),
            "{page}"
        );
        assert!(page.contains(
            "| `providers.<name>.base_url` | string (optional) | none | user, trusted workspace |"
        ));
        assert!(page.contains(
            "| `features.completion.debounce_min_ms` | integer | `30` | user, workspace |"
        ));
    }
}
