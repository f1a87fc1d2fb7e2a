//! The privacy gate: the one place that decides whether a file may reach a model, and the last
//! pass over every request before it leaves the machine.
//!
//! A file is admitted when it lies inside a workspace root once symlinks are resolved, is not a
//! secret file (by its own name or its target's), and is not excluded by the root's
//! `.aiexignore`. Every request is redacted as a whole right before it is sent, whatever built
//! it, so a prompt that skipped an earlier redaction still leaves with no known secret in it.
//!
//! Architecture invariant: the engine's gateway (`engine::gateway`) calls [`PrivacyGate::redact`]
//! on every request, and every file read into a prompt went through [`PrivacyGate::admit`].

use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::document::key::normalize;
use crate::llm::{LlmRequest, Prompt};

/// Why a file may not reach a model; the message is shown to the user as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Outside every workspace folder (after resolving symlinks and `..`).
    #[error("{} is outside the workspace folders: Aiex never sends it to a model", .0.display())]
    OutsideWorkspace(PathBuf),
    /// A secret file (`.env*`, keys, `config/*secret*`...), by its name or its target's.
    #[error("{} is a secret file: Aiex never sends it to a model", .0.display())]
    SecretFile(PathBuf),
    /// Excluded by the workspace's `.aiexignore`.
    #[error("{} is excluded by .aiexignore: Aiex never sends it to a model", .0.display())]
    Ignored(PathBuf),
}

/// A file the gate let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// The file's real path (symlinks resolved).
    pub absolute: PathBuf,
    /// Its path relative to the root holding it (just its name with no workspace folder).
    pub relative: PathBuf,
    /// The workspace root holding it, as the client named it; `None` with no workspace.
    pub root: Option<PathBuf>,
}

#[derive(Debug)]
struct Root {
    /// As the client named it: paths are reported against it.
    given: PathBuf,
    /// Resolved, to compare real paths.
    real: PathBuf,
    /// Its `.aiexignore`, read once when the gate is built.
    ignore: Option<Gitignore>,
}

/// The gate of one workspace: its roots and their `.aiexignore` rules.
#[derive(Debug, Default)]
pub struct PrivacyGate {
    roots: Vec<Root>,
}

impl PrivacyGate {
    /// The gate for `roots`. Reads each root's `.aiexignore` now: build a new gate when one
    /// changes.
    pub fn new(roots: &[PathBuf]) -> Self {
        let roots = roots
            .iter()
            .map(|given| {
                let given = normalize(given);
                let real = given.canonicalize().unwrap_or_else(|_| given.clone());
                Root {
                    ignore: read_ignore(&real),
                    given,
                    real,
                }
            })
            .collect();
        Self { roots }
    }

    /// Whether the file at `path` (absolute) may reach a model, and where it sits.
    ///
    /// With no workspace folder at all (an editor started on a single file) the file itself is
    /// admitted unless it is a secret file; nothing else can be, since nothing else is read.
    pub fn admit(&self, path: &Path) -> Result<Admitted, Refusal> {
        let lexical = normalize(path);
        if crate::secrets::is_secret_path(&lexical) {
            return Err(Refusal::SecretFile(lexical));
        }
        let real = real_path(&lexical);
        if crate::secrets::is_secret_path(&real) {
            // A harmless name linking to a secret file is judged by what it is.
            return Err(Refusal::SecretFile(lexical));
        }
        if self.roots.is_empty() {
            let name = lexical.file_name().map(PathBuf::from).unwrap_or_default();
            return Ok(Admitted {
                absolute: real,
                relative: name,
                root: None,
            });
        }
        let Some((root, relative)) = self.roots.iter().find_map(|root| {
            let relative = real.strip_prefix(&root.real).ok()?;
            Some((root, relative.to_path_buf()))
        }) else {
            return Err(Refusal::OutsideWorkspace(lexical));
        };
        if crate::secrets::is_secret_path(&relative) {
            return Err(Refusal::SecretFile(lexical));
        }
        if let Some(rules) = &root.ignore {
            // Matched relative to the root: the matcher never sees a path outside it.
            if rules
                .matched_path_or_any_parents(&relative, false)
                .is_ignore()
            {
                return Err(Refusal::Ignored(lexical));
            }
        }
        Ok(Admitted {
            absolute: real,
            relative,
            root: Some(root.given.clone()),
        })
    }

    /// The gate's word on an open document: its file (when it has one) as [`Self::admit`]
    /// judges it, and its text as the editor holds it: `KEY=value` lines or a PEM block make
    /// it a secret file whatever its name.
    pub fn admit_document(&self, path: Option<&Path>, text: &str) -> Result<(), Refusal> {
        if let Some(path) = path {
            self.admit(path)?;
        }
        if crate::secrets::is_secret_text(text) {
            let name = path.map_or_else(|| PathBuf::from("this document"), normalize);
            return Err(Refusal::SecretFile(name));
        }
        Ok(())
    }

    /// Redacts every known secret in `request`, in place; returns how many were replaced.
    /// A fill-in-the-middle prompt is redacted as one text, so a secret the cursor splits is
    /// still found.
    pub fn redact(&self, request: &mut LlmRequest) -> usize {
        match &mut request.prompt {
            Prompt::Chat { system, messages } => {
                let mut count = 0;
                for text in system
                    .iter_mut()
                    .chain(messages.iter_mut().map(|m| &mut m.content))
                {
                    let redacted = crate::secrets::redact(text);
                    count += redacted.spans.len();
                    *text = redacted.text;
                }
                count
            }
            Prompt::Fim {
                prefix,
                suffix,
                repository,
            } => {
                let whole = format!("{prefix}{suffix}");
                let (before, after, mut count) = redact_split(&whole, prefix.len());
                *prefix = before;
                *suffix = after;
                // Every other text that goes out with it: the pieces, their labels and paths.
                if let Some(repository) = repository {
                    let texts = repository
                        .pieces
                        .iter_mut()
                        .flat_map(|piece| [&mut piece.text, &mut piece.reason, &mut piece.path])
                        .chain([&mut repository.name, &mut repository.path]);
                    count += redact_together(texts.collect());
                }
                count
            }
        }
    }
}

/// Redacts `texts` in one scan of them joined by newlines (one pass of the detector for the
/// dozens of pieces of a prompt); a secret that runs from one text into the next is replaced
/// in both. Returns the number of secrets replaced.
fn redact_together(texts: Vec<&mut String>) -> usize {
    let joined = texts
        .iter()
        .map(|text| text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let spans = crate::secrets::find_secrets(&joined);
    if spans.is_empty() {
        return 0;
    }
    let mut start = 0;
    for text in texts {
        let end = start + text.len();
        let mut redacted = String::with_capacity(text.len());
        let mut from = start;
        // Sorted and without overlaps: each span inside this text, clipped to it.
        for span in spans.iter().filter(|s| s.start < end && s.end > start) {
            redacted.push_str(&joined[from..span.start.max(start)]);
            redacted.push_str(&format!("<redacted:{}>", span.kind.id()));
            from = span.end.min(end);
        }
        redacted.push_str(&joined[from..end]);
        *text = redacted;
        start = end + 1;
    }
    spans.len()
}

/// Redacts `text` as a whole and splits it at `at`; a secret spanning `at` goes, as its
/// placeholder, before it. Returns the two halves and the number of secrets replaced.
pub(crate) fn redact_split(text: &str, at: usize) -> (String, String, usize) {
    let spans = crate::secrets::find_secrets(text);
    let mut before = String::with_capacity(at);
    let mut after = String::with_capacity(text.len() - at);
    let mut from = 0;
    for span in &spans {
        let placeholder = format!("<redacted:{}>", span.kind.id());
        if span.start >= at {
            if from < at {
                before.push_str(&text[from..at]);
                from = at;
            }
            after.push_str(&text[from..span.start]);
            after.push_str(&placeholder);
        } else {
            before.push_str(&text[from..span.start]);
            before.push_str(&placeholder);
        }
        from = span.end;
    }
    if from < at {
        before.push_str(&text[from..at]);
        from = at;
    }
    after.push_str(&text[from..]);
    (before, after, spans.len())
}

/// The real path of `path`: symlinks resolved; for a file that does not exist (yet), its
/// folder resolved and its name kept.
fn real_path(path: &Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => real_path(parent).join(name),
        _ => path.to_path_buf(),
    }
}

/// The `.aiexignore` rules of a root, if it has a readable one.
fn read_ignore(root: &Path) -> Option<Gitignore> {
    let file = root.join(crate::walk::AIEX_IGNORE);
    if !file.is_file() {
        return None;
    }
    let mut builder = GitignoreBuilder::new(root);
    if let Some(error) = builder.add(&file) {
        tracing::warn!("{}: {error}; its rules may apply in part", file.display());
    }
    match builder.build() {
        Ok(rules) => Some(rules),
        Err(error) => {
            tracing::warn!("{}: {error}; ignoring the file", file.display());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("lib/private")).expect("mkdir");
        std::fs::write(
            dir.path().join(".aiexignore"),
            "lib/private/\n*.secret.ex\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("lib/app.ex"), "defmodule App do\nend\n").expect("write");
        std::fs::write(dir.path().join(".env"), "DB_PASSWORD=hunter2hunter2\n").expect("write");
        dir
    }

    #[test]
    fn a_workspace_file_is_admitted_with_its_relative_path() {
        let dir = workspace();
        let gate = PrivacyGate::new(&[dir.path().to_path_buf()]);
        let admitted = gate
            .admit(&dir.path().join("lib/app.ex"))
            .expect("admitted");
        assert_eq!(admitted.relative, Path::new("lib/app.ex"));
        assert_eq!(admitted.root.as_deref(), Some(dir.path()));
    }

    #[test]
    fn ignored_secret_and_outside_files_are_refused() {
        let dir = workspace();
        let gate = PrivacyGate::new(&[dir.path().to_path_buf()]);
        let root = dir.path();
        assert!(matches!(
            gate.admit(&root.join("lib/private/keys.ex")),
            Err(Refusal::Ignored(_))
        ));
        assert!(matches!(
            gate.admit(&root.join("lib/db.secret.ex")),
            Err(Refusal::Ignored(_))
        ));
        assert!(matches!(
            gate.admit(&root.join(".env")),
            Err(Refusal::SecretFile(_))
        ));
        assert!(matches!(
            gate.admit(Path::new("/etc/hosts.ex")),
            Err(Refusal::OutsideWorkspace(_))
        ));
        assert!(matches!(
            gate.admit(&root.join("lib/../../elsewhere.ex")),
            Err(Refusal::OutsideWorkspace(_))
        ));
    }

    #[test]
    fn doubled_separators_neither_panic_nor_slip_past_the_ignore_rules() {
        let dir = workspace();
        let gate = PrivacyGate::new(&[dir.path().to_path_buf()]);
        let spelled = format!("{}//lib/private/keys.ex", dir.path().display());
        assert!(matches!(
            gate.admit(Path::new(&spelled)),
            Err(Refusal::Ignored(_))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_judged_by_its_target() {
        let dir = workspace();
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("notes.ex"), "x = 1\n").expect("write");
        let root = dir.path();
        std::os::unix::fs::symlink(outside.path().join("notes.ex"), root.join("lib/notes.ex"))
            .expect("symlink");
        std::os::unix::fs::symlink(root.join(".env"), root.join("lib/config_values.ex"))
            .expect("symlink");
        let gate = PrivacyGate::new(&[root.to_path_buf()]);
        assert!(matches!(
            gate.admit(&root.join("lib/notes.ex")),
            Err(Refusal::OutsideWorkspace(_))
        ));
        assert!(matches!(
            gate.admit(&root.join("lib/config_values.ex")),
            Err(Refusal::SecretFile(_))
        ));
    }

    #[test]
    fn a_document_holding_dotenv_lines_is_a_secret_whatever_its_name() {
        let dir = workspace();
        let gate = PrivacyGate::new(&[dir.path().to_path_buf()]);
        let path = dir.path().join("lib/settings.ex");
        assert!(gate
            .admit_document(Some(&path), "defmodule Settings do\nend\n")
            .is_ok());
        let dotenv = "DATABASE_PASSWORD=hunter2hunter2\nSECRET_KEY_BASE=abcdefabcdef\n";
        assert!(matches!(
            gate.admit_document(Some(&path), dotenv),
            Err(Refusal::SecretFile(_))
        ));
    }

    #[test]
    fn with_no_workspace_only_secret_files_are_refused() {
        let gate = PrivacyGate::new(&[]);
        assert!(gate.admit(Path::new("/tmp/scratch/pricing.ex")).is_ok());
        assert!(gate.admit(Path::new("/tmp/scratch/.env.local")).is_err());
    }

    #[test]
    fn a_key_split_by_the_cursor_is_redacted_whole() {
        let key = "AKIAIOSFODNN7ABCDEFG";
        let text = format!("key = \"{key}\"\n");
        let cursor = text.find("FODNN").expect("inside the key");
        let mut request = LlmRequest::fim(&text[..cursor], &text[cursor..]);
        let gate = PrivacyGate::default();
        assert_eq!(gate.redact(&mut request), 1);
        let sent = request.prompt_text();
        assert!(!sent.contains("AKIA") && !sent.contains("FODNN"), "{sent}");
    }

    #[test]
    fn every_message_of_a_chat_is_redacted() {
        let mut request = LlmRequest::chat(
            Some("system ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
            "user AKIAIOSFODNN7ABCDEFG",
        );
        assert_eq!(PrivacyGate::default().redact(&mut request), 2);
        assert!(!request.prompt_text().contains("ghp_abc"));
    }

    #[test]
    fn the_repository_around_a_hole_is_redacted_too() {
        use crate::llm::types::{Prompt, Repository, RepositoryPiece};
        let piece = |path: &str, reason: &str, text: &str| RepositoryPiece {
            path: path.to_owned(),
            reason: reason.to_owned(),
            text: text.to_owned(),
        };
        let mut request = LlmRequest::fim_in_repository(
            "def run, do: ",
            "\nend\n",
            Repository {
                name: "shop".to_owned(),
                path: "lib/shop.ex".to_owned(),
                comment: "#".to_owned(),
                pieces: vec![
                    piece(
                        "config/runtime.exs",
                        "configuration",
                        "config :shop, api_key: \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"",
                    ),
                    piece(
                        "lib/shop/repo.ex",
                        "called: Shop.Repo.url/0 (ghp_abcdefghijklmnopqrstuvwxyz0123456789)",
                        "def url, do: \"postgres://shop:s3cr3t-pw@db/shop\"",
                    ),
                ],
            },
        );
        assert_eq!(PrivacyGate::default().redact(&mut request), 3);
        let Prompt::Fim { repository, .. } = &request.prompt else {
            panic!("a fill-in-the-middle prompt")
        };
        let shown = format!("{repository:?}");
        for secret in ["sk_live_4eC39", "ghp_abc", "s3cr3t-pw"] {
            assert!(!shown.contains(secret), "{secret} left in {shown}");
        }
    }
}
