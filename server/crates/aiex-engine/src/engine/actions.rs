//! AI code actions on the function under the cursor: Explain, Add `@doc`/`@spec`, Refactor,
//! Generate tests, Fix. The engine gathers what the model may see (through the privacy gate),
//! asks through the gateway, and turns the answer into an outcome the entry point shows or
//! applies: an explanation, or an edit as a byte range of a known version of a file. Edits
//! never touch text outside the target function (or the test file), and must parse.

use std::path::{Path, PathBuf};

use crate::ai::actions::{self as prompts, Target};
use crate::chunks::{ByteRange, FileChunks};
use crate::context::{ContextRequest, Task};
use crate::document::{DocumentKey, SyntaxSnapshot};

use super::gateway::Outbound;
use super::mix_runner::{self, RunProjectCode, TestsVerdict};
use super::{AiError, Cursor, Engine};

/// The tokens of workspace context an action's prompt may carry.
const ACTION_CONTEXT_TOKENS: usize = 2_048;

/// The AI code actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// Explain the function.
    Explain,
    /// Add `@doc` and `@spec` above it.
    AddDocs,
    /// Rewrite it (for clarity, or as the instruction says).
    Refactor,
    /// Write ExUnit tests for it into its test file.
    GenerateTests,
    /// Fix the problem the instruction describes (a diagnostic), inside the function.
    Fix,
}

impl ActionKind {
    /// The name the audit log and messages use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Explain => "explain",
            Self::AddDocs => "docs",
            Self::Refactor => "refactor",
            Self::GenerateTests => "tests",
            Self::Fix => "fix",
        }
    }

    fn task(self) -> Task {
        match self {
            Self::Explain => Task::Explain,
            Self::AddDocs => Task::Docs,
            Self::GenerateTests => Task::Tests,
            Self::Refactor | Self::Fix => Task::Refactor,
        }
    }
}

/// An action asked for at a place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRequest {
    /// The document.
    pub key: DocumentKey,
    /// Where the cursor is: the function holding it is the target.
    pub cursor: Cursor,
    /// Which action.
    pub kind: ActionKind,
    /// What the user wants (refactor), or the problem to fix (fix).
    pub instruction: Option<String>,
    /// Whether generated tests may be run with `mix test` (which runs the project's code).
    pub run_project_code: RunProjectCode,
    /// Whether generated tests that ran and failed go back to the model once, with ExUnit's
    /// report, and the repaired ones that pass are kept (`features.actions.repair_tests`
    /// asks for it too).
    pub repair_tests: bool,
}

/// An edit of one file, as a byte range of a known text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdit {
    /// The file edited.
    pub key: DocumentKey,
    /// The open document's version the edit applies to (`None`: the file as on disk).
    pub version: Option<i32>,
    /// The text `range` refers to.
    pub base: ropey::Rope,
    /// What is replaced.
    pub range: ByteRange,
    /// The new text.
    pub new_text: String,
    /// Written by a model to replace the user's code: the user should review it first.
    pub needs_review: bool,
    /// What the edit does, for an undo entry or a confirmation.
    pub label: String,
}

/// What an action produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOutcome {
    /// An explanation to show.
    Explanation {
        /// What it explains (`MyApp.Accounts.register/1`).
        title: String,
        /// The explanation, as Markdown with the title as its heading.
        markdown: String,
    },
    /// An edit of an existing file (the document, or its test file).
    Edit(FileEdit),
    /// A file to create (a test file that does not exist yet).
    CreateFile {
        /// Where.
        path: PathBuf,
        /// Its content.
        text: String,
        /// What it is, and what running it found.
        label: String,
    },
}

/// Tests written by the model, and what running them found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedTests {
    /// The test file to create or the edit of the existing one, holding the kept tests.
    pub outcome: ActionOutcome,
    /// How many were kept and dropped, or why they were not run.
    pub verdict: TestsVerdict,
}

/// The test file of a document, as the gate lets the engine see it.
struct TestFile {
    path: PathBuf,
    /// The workspace root holding it (the Mix project `mix test` runs in).
    root: PathBuf,
    /// Its text (the editor's when it is open) and the open version.
    existing: Option<(String, Option<i32>)>,
    /// Another test file of the project, to copy its style, when this one does not exist.
    example: Option<String>,
}

impl Engine {
    /// Runs an AI code action. The model is asked only for a document the privacy gate
    /// admits; every file the prompt draws on passes the gate too.
    /// An edit of a document the user changed while the model was writing is refused
    /// ([`AiError::DocumentChanged`]): it was made against text that is gone.
    pub async fn action(&self, request: ActionRequest) -> Result<ActionOutcome, AiError> {
        self.action_streamed(request, &mut |_| {}).await
    }

    /// [`Engine::action`], with the model's answer passed to `on_delta` as it streams (an
    /// explanation: its Markdown, heading first; an edit: the model's answer it is made from).
    pub async fn action_streamed(
        &self,
        request: ActionRequest,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<ActionOutcome, AiError> {
        let outcome = self.run_action(request, on_delta).await?.0;
        if let ActionOutcome::Edit(edit) = &outcome {
            self.still_current(edit)?;
        }
        Ok(outcome)
    }

    /// Fails with [`AiError::DocumentChanged`] when `edit` was made against a version of an
    /// open document that is no longer the current one.
    fn still_current(&self, edit: &FileEdit) -> Result<(), AiError> {
        let (Some(version), Some(handle)) = (edit.version, self.documents.get(&edit.key)) else {
            return Ok(());
        };
        if handle.with_document(|document| document.version()) == version {
            Ok(())
        } else {
            Err(AiError::DocumentChanged)
        }
    }

    /// "Generate ExUnit tests" with what running the tests found: the kept tests and their
    /// count, or why they were not run.
    pub async fn generate_tests(&self, request: ActionRequest) -> Result<GeneratedTests, AiError> {
        self.generate_tests_streamed(request, &mut |_| {}).await
    }

    /// [`Engine::generate_tests`], with the model's tests passed to `on_delta` as they stream
    /// (before they are run).
    pub async fn generate_tests_streamed(
        &self,
        request: ActionRequest,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<GeneratedTests, AiError> {
        debug_assert_eq!(request.kind, ActionKind::GenerateTests);
        let (outcome, verdict) = self.run_action(request, on_delta).await?;
        let verdict = verdict
            .ok_or_else(|| AiError::NotApplicable("only Generate tests writes tests".to_owned()))?;
        Ok(GeneratedTests { outcome, verdict })
    }

    async fn run_action(
        &self,
        request: ActionRequest,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(ActionOutcome, Option<TestsVerdict>), AiError> {
        let ActionRequest {
            key,
            cursor,
            kind,
            instruction,
            run_project_code,
            repair_tests,
        } = request;
        // The action's deadline counts from here (see `timeout` below).
        let started = tokio::time::Instant::now();
        self.may_send(&key)?;
        let (snapshot, chunks) = self
            .documents
            .chunks(&key)
            .await
            .ok_or_else(|| AiError::UnknownDocument(key.clone()))?;
        let offset = cursor.offset_in(&snapshot.rope);
        let source = snapshot.rope.to_string();
        let target = prompts::target_at(&chunks, offset).ok_or_else(|| {
            AiError::NotApplicable(
                "put the cursor inside a function (def, defp, defmacro...)".to_owned(),
            )
        })?;
        let config = self.config();
        let features = &config.config.features;
        let (enabled, listed, section) = match kind {
            ActionKind::Explain => (
                features.explain.enabled,
                &features.explain.providers,
                "explain",
            ),
            _ => (
                features.actions.enabled,
                &features.actions.providers,
                "actions",
            ),
        };
        if !enabled {
            return Err(AiError::Disabled {
                feature: kind.name(),
                section,
            });
        }
        let (chain, _) = self.chain(listed, kind.name(), section)?;
        // One deadline over the whole action (`features.actions.timeout_ms`, else the first
        // provider's request timeout): every ask, its retries and failover, and a second ask
        // all end by it.
        let timeout = features
            .actions
            .timeout_ms
            .map(std::time::Duration::from_millis)
            .or_else(|| chain.providers().first().map(|p| p.request_timeout()))
            .unwrap_or(std::time::Duration::from_secs(60));
        // The model's part ends a little earlier, so the answer is written by the deadline.
        let deadline = started + timeout.saturating_sub(super::REPLY_MARGIN);
        let failed = |error| action_failure(error, timeout);
        let tests = match kind {
            ActionKind::GenerateTests => Some(self.test_file(&key)?),
            _ => None,
        };
        let own_path = self
            .workspace_path(&key)
            .or_else(|| key.path()?.file_name().map(PathBuf::from));
        let (context, mut files, redactions) =
            self.action_context(&key, kind, &snapshot, &source, &chunks, offset);
        files.extend(own_path);
        let prompt = match (kind, &tests) {
            (ActionKind::Explain, _) => prompts::explain_request(&target, &source, &context),
            (ActionKind::AddDocs, _) => prompts::docs_request(&target, &source, &context),
            (ActionKind::GenerateTests, Some(tests)) => {
                if let Some(relative) = self.relative_to_root(&tests.path) {
                    files.push(relative);
                }
                let function = &source[target.function.range.start..target.function.range.end];
                prompts::tests_request(
                    &target,
                    &source,
                    tests.existing.as_ref().map(|(text, _)| text.as_str()),
                    tests.example.as_deref(),
                    &test_style_hint(&tests.root, function, target.function.doc.is_some()),
                )
            }
            _ => prompts::refactor_request(&target, &source, instruction.as_deref(), &context),
        };
        let prompt = crate::llm::LlmRequest {
            deadline: Some(deadline),
            ..prompt
        };
        files.dedup();
        let outbound = Outbound {
            feature: kind.name(),
            files,
            redactions,
        };
        // Several versions of an edit of the function (`features.actions.candidates`).
        let versions = match kind {
            ActionKind::AddDocs | ActionKind::Refactor | ActionKind::Fix => {
                features.actions.candidates.max(1)
            }
            ActionKind::Explain | ActionKind::GenerateTests => 1,
        };
        if versions > 1 {
            let answers = self
                .ask_versions(&chain, prompt, outbound, versions)
                .await
                .map_err(failed)?;
            let edits: Vec<Result<ActionOutcome, AiError>> = answers
                .iter()
                .map(|answer| match kind {
                    ActionKind::AddDocs => add_docs(&key, &snapshot, &source, &target, answer),
                    _ => refactor(&key, &snapshot, &source, &target, answer),
                })
                .collect();
            let (best, others) = self.best_edit(&key, &source, edits).await?;
            let best = if self.may_run_project_code(run_project_code).is_ok() {
                self.formatted(best).await
            } else {
                best
            };
            self.edit_alternatives.remember(&best, &target, others);
            return Ok((ActionOutcome::Edit(best), None));
        }
        if kind == ActionKind::Explain {
            let outcome = self
                .explanation(&chain, prompt, outbound, &target.label(), on_delta)
                .await
                .map_err(|error| match error {
                    AiError::Provider(error) => failed(error),
                    other => other,
                })?;
            return Ok((outcome, None));
        }
        let again = matches!(kind, ActionKind::AddDocs | ActionKind::GenerateTests).then(|| {
            (
                prompt.clone().without_cache().with_temperature(0.6),
                outbound.clone(),
            )
        });
        let repair = (repair_tests || features.actions.repair_tests)
            .then(|| (chain.clone(), outbound.clone()));
        let answer = self
            .ask_streamed(&chain, prompt, outbound, on_delta)
            .await
            .map_err(failed)?;
        let outcome = match (kind, tests) {
            (ActionKind::AddDocs, _) => {
                // Docs of a neighbouring function, or none: a small model does that now and
                // then (Qwen2.5-Coder 0.5B, about one answer in three on a held-out body);
                // asked once more, sampled, it usually documents the right one.
                match (add_docs(&key, &snapshot, &source, &target, &answer), again) {
                    (Err(AiError::UnusableAnswer(why)), Some((again, outbound))) => {
                        tracing::info!("Add docs: asking once more ({why})");
                        let answer = self
                            .ask(&chain, again, outbound)
                            .await
                            .map_err(failed)?
                            .text;
                        add_docs(&key, &snapshot, &source, &target, &answer)?
                    }
                    (first, _) => first?,
                }
            }
            (ActionKind::GenerateTests, Some(tests)) => {
                let module = target.module.map_or("Script", |m| m.name.as_str());
                let may_run = self.may_run_project_code(run_project_code);
                // A test file that does not parse: a small model writes one now and then
                // (Qwen2.5-Coder 0.5B, a `test` block left open); asked once more, sampled.
                let existing = tests.existing.as_ref().map(|(text, _)| text.as_str());
                let answer = match again {
                    Some((again, outbound))
                        if prompts::tests_file(&answer, existing, module).is_none() =>
                    {
                        tracing::info!(
                            "Generate tests: asking once more (the answer does not parse)"
                        );
                        self.ask(&chain, again, outbound)
                            .await
                            .map_err(failed)?
                            .text
                    }
                    _ => answer,
                };
                let repair = repair.map(|(chain, outbound)| Repair {
                    chain,
                    outbound,
                    target: &target,
                    source: &source,
                });
                let (outcome, verdict) = self
                    .written_tests(tests, module, &answer, may_run, repair)
                    .await?;
                return Ok((outcome, Some(verdict)));
            }
            _ => refactor(&key, &snapshot, &source, &target, &answer)?,
        };
        Ok((
            self.formatted_if_allowed(outcome, run_project_code).await,
            None,
        ))
    }

    /// An edit through the project's `mix format` when the project's code may run.
    async fn formatted_if_allowed(
        &self,
        outcome: ActionOutcome,
        run_project_code: RunProjectCode,
    ) -> ActionOutcome {
        match outcome {
            ActionOutcome::Edit(edit) if self.may_run_project_code(run_project_code).is_ok() => {
                ActionOutcome::Edit(self.formatted(edit).await)
            }
            other => other,
        }
    }

    /// `versions` answers to one prompt, asked at once: the prompt as it is, then sampled
    /// again (never from the response cache). Fails only when every request failed.
    async fn ask_versions(
        &self,
        chain: &crate::llm::ProviderChain,
        prompt: crate::llm::LlmRequest,
        outbound: Outbound,
        versions: usize,
    ) -> Result<Vec<String>, crate::llm::LlmError> {
        let asks = (0..versions).map(|version| {
            let prompt = if version == 0 {
                prompt.clone()
            } else {
                prompt.clone().without_cache().with_temperature(0.8)
            };
            self.ask(chain, prompt, outbound.clone())
        });
        let mut answers = Vec::new();
        let mut first_error = None;
        for result in futures::future::join_all(asks).await {
            match result {
                Ok(response) => answers.push(response.text),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) if answers.is_empty() => Err(error),
            _ => Ok(answers),
        }
    }

    /// Of the versions that passed the action's checks, the one adding fewest findings of the
    /// built-in checks, and the others (distinct, best first). The first refusal is the error
    /// when none passed.
    async fn best_edit(
        &self,
        key: &DocumentKey,
        source: &str,
        edits: Vec<Result<ActionOutcome, AiError>>,
    ) -> Result<(FileEdit, Vec<String>), AiError> {
        let mut passed = Vec::new();
        let mut first_error = None;
        for edit in edits {
            match edit {
                Ok(ActionOutcome::Edit(edit)) => passed.push(edit),
                Ok(_) => {}
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        if passed.is_empty() {
            return Err(first_error.unwrap_or_else(|| {
                AiError::UnusableAnswer(
                    "no version of the edit could be used; nothing was changed".to_owned(),
                )
            }));
        }
        let ranker = self.ranker(key);
        let source = source.to_owned();
        // Parsing and checking whole files: on the blocking pool.
        let ranked = tokio::task::spawn_blocking(move || {
            ranker.rank(
                passed,
                |edit| edit.new_text.clone(),
                |edit| {
                    format!(
                        "{}{}{}",
                        &source[..edit.range.start],
                        edit.new_text,
                        &source[edit.range.end..]
                    )
                },
            )
        })
        .await
        .map_err(|error| AiError::Io(format!("ranking the versions failed: {error}")))?;
        let mut ranked = ranked.into_iter();
        let best = ranked.next().expect("at least one version passed");
        Ok((best, ranked.map(|edit| edit.new_text).collect()))
    }

    /// The other versions of the last multi-version AI edit of `key`, as (index, title),
    /// while the document still holds the version applied and `offset` is on it.
    pub fn edit_alternatives(&self, key: &DocumentKey, offset: usize) -> Vec<(usize, String)> {
        let Some(handle) = self.documents.get(key) else {
            return Vec::new();
        };
        let rope = handle.with_document(|d| d.rope().clone());
        self.edit_alternatives.offered(key, &rope, offset)
    }

    /// The edit that puts version `index` of the alternatives in place of the one applied
    /// (which becomes an alternative in turn).
    pub async fn use_alternative(
        &self,
        key: &DocumentKey,
        index: usize,
        run_project_code: RunProjectCode,
    ) -> Result<FileEdit, AiError> {
        let handle = self
            .documents
            .get(key)
            .ok_or_else(|| AiError::UnknownDocument(key.clone()))?;
        let (rope, version) = handle.with_document(|d| (d.rope().clone(), d.version()));
        let edit = self
            .edit_alternatives
            .take(key, &rope, version, index)
            .map_err(AiError::NotApplicable)?;
        let applied = if self.may_run_project_code(run_project_code).is_ok() {
            self.formatted(edit).await
        } else {
            edit
        };
        self.edit_alternatives.applied(key, &applied);
        Ok(applied)
    }

    /// An edit as the project's `mix format` writes it (its `.formatter.exs`), when the
    /// project is a Mix project and `mix` is there; as the model wrote it when mix refuses it
    /// (the edit parsed already) or is missing.
    pub(super) async fn formatted(&self, mut edit: FileEdit) -> FileEdit {
        let Some(root) = edit
            .key
            .path()
            .and_then(|path| self.gate().admit(path).ok()?.root)
        else {
            return edit;
        };
        let text = edit.new_text.clone();
        let indent: String = text
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        let formatted = tokio::task::spawn_blocking(move || {
            mix_runner::format(&root, &text, &indent, mix_runner::FORMAT_DEADLINE)
        })
        .await;
        match formatted {
            Ok(Ok(text)) => edit.new_text = text,
            Ok(Err(why)) => tracing::info!("the edit is offered unformatted: {why}"),
            Err(error) => tracing::warn!("mix format did not finish: {error}"),
        }
        edit
    }

    /// Whether generated tests may be run here: `Ok` to run, or why not. Running `mix test`
    /// runs the project's code, so a workspace the user has not trusted (`aiex trust`) never
    /// gets it run by the editor; the command line runs it when the user asks.
    pub(super) fn may_run_project_code(
        &self,
        run_project_code: RunProjectCode,
    ) -> Result<(), String> {
        match run_project_code {
            RunProjectCode::Never => Err("running them was not asked for".to_owned()),
            RunProjectCode::Allowed => Ok(()),
            RunProjectCode::IfTrusted if self.config().trust.is_trusted() => Ok(()),
            RunProjectCode::IfTrusted => Err(
                "running them runs this project's code, which Aiex does only in a workspace you \
                 trusted (`aiex trust`) or when you ask (`aiex tests --run`, `mix aiex.gen.test`)"
                    .to_owned(),
            ),
        }
    }

    /// What the context engine finds for an action, rendered for a chat prompt, with the files
    /// it draws on and the secrets it redacted.
    fn action_context(
        &self,
        key: &DocumentKey,
        kind: ActionKind,
        snapshot: &SyntaxSnapshot,
        source: &str,
        chunks: &FileChunks,
        offset: usize,
    ) -> (String, Vec<PathBuf>, usize) {
        let (Ok(tree), Some(path)) = (&snapshot.tree, self.workspace_path(key)) else {
            return (String::new(), Vec::new(), 0);
        };
        if kind == ActionKind::GenerateTests {
            // The test file and an example test are the context of a test prompt.
            return (String::new(), Vec::new(), 0);
        }
        let tokens = self.tokens();
        let request = ContextRequest {
            task: kind.task(),
            path: &path,
            text: source,
            tree,
            chunks,
            cursor: offset,
            budget_tokens: ACTION_CONTEXT_TOKENS,
            recent_edits: &[],
            tokens: &tokens,
        };
        let open = self.open_documents_for_context(key);
        let assembled = crate::context::assemble(&request, &self.index, &open);
        if assembled.pieces.is_empty() {
            return (String::new(), Vec::new(), assembled.redactions);
        }
        let files = assembled
            .files(&path)
            .into_iter()
            .filter(|f| f != &path)
            .collect();
        let rendered = format!(
            "Related code from the workspace:\n```elixir\n{}```",
            assembled.snippets_as_comments()
        );
        (rendered, files, assembled.redactions)
    }

    /// A path relative to the workspace root holding it.
    fn relative_to_root(&self, path: &Path) -> Option<PathBuf> {
        self.gate()
            .admit(path)
            .ok()
            .map(|admitted| admitted.relative)
    }

    /// The test file of a document, read only through the privacy gate: the document must sit
    /// in a workspace folder (there is no guessing a project from the file's ancestors), and
    /// the test file, when it exists, must be one the gate admits.
    fn test_file(&self, key: &DocumentKey) -> Result<TestFile, AiError> {
        let no_root = || {
            AiError::NotApplicable(
                "the file is not inside a workspace folder, so there is no test/ to write to"
                    .to_owned(),
            )
        };
        let path = key.path().ok_or_else(no_root)?;
        let admitted = self.gate().admit(path)?;
        let root = admitted.root.ok_or_else(no_root)?;
        let test_path = root.join(prompts::test_path_for(&admitted.relative));
        // Refused (ignored, secret) whether or not it exists: its text is never read, and the
        // user's exclusion is not written into either.
        self.gate().admit(&test_path)?;
        let test_key = DocumentKey::file(&test_path);
        let existing = match self.documents.get(&test_key) {
            Some(handle) => {
                Some(handle.with_document(|d| (d.rope().to_string(), Some(d.version()))))
            }
            None => std::fs::read_to_string(&test_path)
                .ok()
                .map(|text| (text, None)),
        };
        if let Some((text, _)) = &existing {
            self.gate().admit_document(Some(&test_path), text)?;
        }
        let example = match existing {
            Some(_) => None,
            None => self.sibling_test(&root.join("test")),
        };
        Ok(TestFile {
            path: test_path,
            root,
            existing,
            example,
        })
    }

    /// Some test file of the project the gate admits (its first 4 KB), to show the model the
    /// house style. Links are not followed.
    fn sibling_test(&self, dir: &Path) -> Option<String> {
        let gate = self.gate();
        let mut pending = vec![dir.to_path_buf()];
        let mut visited = 0;
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).ok()?.flatten() {
                visited += 1;
                if visited > 10_000 {
                    return None;
                }
                let path = entry.path();
                let Ok(file_type) = entry.file_type() else {
                    continue;
                };
                if file_type.is_dir() {
                    pending.push(path);
                } else if file_type.is_file()
                    && path.to_string_lossy().ends_with("_test.exs")
                    && gate.admit(&path).is_ok()
                {
                    let text = std::fs::read_to_string(&path).ok()?;
                    if gate.admit_document(Some(&path), &text).is_err() {
                        continue;
                    }
                    let mut end = text.len().min(4096);
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    return Some(text[..end].to_owned());
                }
            }
        }
        None
    }

    /// Creates a file the model wrote (a new test file) for an entry point whose client cannot
    /// create files itself. Only inside the workspace, never over an existing file.
    pub fn create_file(&self, path: &Path, text: &str) -> Result<(), AiError> {
        let admitted = self.gate().admit(path)?;
        if admitted.root.is_none() {
            return Err(AiError::Refused(super::Refusal::OutsideWorkspace(
                path.to_path_buf(),
            )));
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| AiError::Io(format!("cannot create {}: {e}", parent.display())))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| AiError::Io(format!("cannot create {}: {e}", path.display())))?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .map_err(|e| AiError::Io(format!("cannot write {}: {e}", path.display())))
    }
}

impl Engine {
    /// Writes an edit of a file that is not open in an editor (the command line's edits):
    /// only inside the workspace, and only if the file on disk is still the text the edit was
    /// made against.
    pub fn write_edit(&self, edit: &FileEdit) -> Result<(), AiError> {
        let path = edit
            .key
            .path()
            .ok_or_else(|| AiError::Io(format!("{} is not a file on disk", edit.key)))?;
        let admitted = self.gate().admit(path)?;
        if admitted.root.is_none() {
            return Err(AiError::Refused(super::Refusal::OutsideWorkspace(
                path.to_path_buf(),
            )));
        }
        let base = edit.base.to_string();
        let on_disk = std::fs::read_to_string(path)
            .map_err(|e| AiError::Io(format!("cannot read {}: {e}", path.display())))?;
        if on_disk != base || edit.range.end > base.len() {
            return Err(AiError::DocumentChanged);
        }
        let mut text = base;
        text.replace_range(edit.range.start..edit.range.end, &edit.new_text);
        std::fs::write(path, text)
            .map_err(|e| AiError::Io(format!("cannot write {}: {e}", path.display())))
    }
}

fn add_docs(
    key: &DocumentKey,
    snapshot: &SyntaxSnapshot,
    source: &str,
    target: &Target<'_>,
    answer: &str,
) -> Result<ActionOutcome, AiError> {
    let clauses = target.clauses_range();
    let (line_start, indent) = line_start_and_indent(source, clauses.start);
    let insertion =
        prompts::docs_insertion(answer, target, &indent).map_err(AiError::UnusableAnswer)?;
    let function = &source[line_start..clauses.end];
    if !prompts::parses_as_module_body(&format!("{insertion}{function}")) {
        return Err(AiError::UnusableAnswer(
            "the model's @doc/@spec does not parse; nothing was changed".to_owned(),
        ));
    }
    Ok(ActionOutcome::Edit(FileEdit {
        key: key.clone(),
        version: Some(snapshot.version),
        base: snapshot.rope.clone(),
        range: ByteRange {
            start: line_start,
            end: line_start,
        },
        new_text: insertion,
        needs_review: false,
        label: format!("Aiex: add @doc/@spec to {}", target.label()),
    }))
}

fn refactor(
    key: &DocumentKey,
    snapshot: &SyntaxSnapshot,
    source: &str,
    target: &Target<'_>,
    answer: &str,
) -> Result<ActionOutcome, AiError> {
    let range = target.function.range;
    let (line_start, indent) = line_start_and_indent(source, range.start);
    let code = prompts::code_of(answer);
    let replacement = prompts::reindent(&code, &indent);
    if !prompts::parses_as_module_body(&replacement) {
        return Err(AiError::UnusableAnswer(
            "the refactored function does not parse; nothing was changed".to_owned(),
        ));
    }
    let wrapped = format!("defmodule AiexCheck do\n{replacement}\nend\n");
    let defines_same = crate::syntax::parse_str(&wrapped).is_ok_and(|tree| {
        let chunks = crate::chunks::extract(&tree, &wrapped);
        chunks.modules.first().is_some_and(|m| {
            m.function(&target.function.name, target.function.arity)
                .is_some()
        })
    });
    if !defines_same {
        return Err(AiError::UnusableAnswer(format!(
            "the refactored code does not define {}; nothing was changed",
            target.function.label()
        )));
    }
    // Replace whole lines, from the first attribute's line to the end of the last clause.
    Ok(ActionOutcome::Edit(FileEdit {
        key: key.clone(),
        version: Some(snapshot.version),
        base: snapshot.rope.clone(),
        range: ByteRange {
            start: line_start,
            end: range.end,
        },
        new_text: replacement,
        needs_review: true,
        label: format!("Aiex: refactor {}", target.label()),
    }))
}

/// What kinds of test suit the project, for the tests prompt: StreamData properties when
/// the project already depends on `stream_data`, a doctest when the function's `@doc` has
/// `iex>` examples. Only these fixed sentences reach the prompt, never `mix.exs` itself.
fn test_style_hint(root: &Path, function: &str, documented: bool) -> String {
    let mut hints = Vec::new();
    let uses_stream_data = std::fs::read_to_string(root.join("mix.exs"))
        .is_ok_and(|mix_exs| mix_exs.contains(":stream_data"));
    if uses_stream_data {
        hints.push(
            "The project uses StreamData: where a property fits, add `property` tests \
             (`use ExUnitProperties`, `check all`).",
        );
    }
    if documented && function.contains("iex>") {
        hints.push("The function's @doc has iex> examples: run them with `doctest`.");
    }
    hints.join(" ")
}

/// What a repair of failing generated tests needs: where to ask, and what the tests test.
struct Repair<'a> {
    chain: crate::llm::ProviderChain,
    outbound: Outbound,
    target: &'a Target<'a>,
    source: &'a str,
}

impl Engine {
    /// `verdict` after one repair of its failing tests: the repaired tests that pass are added
    /// to the kept ones. Unchanged when nothing failed, or when the repair could not be asked
    /// for or run (said in the log: the passing tests are worth keeping anyway).
    async fn repaired(
        &self,
        verdict: TestsVerdict,
        root: PathBuf,
        module: &str,
        repair: Option<Repair<'_>>,
    ) -> TestsVerdict {
        let (Some(repair), Some(failed)) = (repair, verdict.failed.clone()) else {
            return verdict;
        };
        let request = prompts::repair_tests_request(
            repair.target,
            repair.source,
            &failed.code,
            &failed.report,
        );
        let answer = match self.ask(&repair.chain, request, repair.outbound).await {
            Ok(response) => response.text,
            Err(error) => {
                tracing::warn!("Generate tests: the repair request failed: {error}");
                return verdict;
            }
        };
        let Some(text) = prompts::tests_file(&answer, Some(&verdict.text), module) else {
            tracing::info!("Generate tests: the repaired tests do not parse; not kept");
            return verdict;
        };
        let kept = verdict.text.clone();
        let second = tokio::task::spawn_blocking(move || {
            mix_runner::keep_passing_tests(
                &root,
                &text,
                Some(&kept),
                mix_runner::DEFAULT_TEST_DEADLINE,
            )
        })
        .await;
        match second {
            Ok(second) if second.not_run.is_none() && second.run_failed.is_none() => TestsVerdict {
                text: second.text,
                kept: verdict.kept + second.kept,
                dropped: verdict.dropped.saturating_sub(second.kept),
                repaired: second.kept,
                failed: second.failed,
                ..verdict
            },
            Ok(second) => {
                tracing::info!(
                    "Generate tests: the repaired tests did not run: {}",
                    second.summary()
                );
                verdict
            }
            Err(error) => {
                tracing::warn!("Generate tests: the repaired tests' run failed: {error}");
                verdict
            }
        }
    }

    /// The test file with the model's tests, run (when allowed) so only the passing ones are
    /// kept; with `repair`, the failing ones are sent back to the model once with ExUnit's
    /// report, and the repaired tests that then pass are kept too.
    async fn written_tests(
        &self,
        tests: TestFile,
        module: &str,
        answer: &str,
        may_run: Result<(), String>,
        repair: Option<Repair<'_>>,
    ) -> Result<(ActionOutcome, TestsVerdict), AiError> {
        let existing_text = tests.existing.as_ref().map(|(text, _)| text.clone());
        let content =
            prompts::tests_file(answer, existing_text.as_deref(), module).ok_or_else(|| {
                AiError::UnusableAnswer(
                    "the generated tests do not parse; nothing was changed".to_owned(),
                )
            })?;
        if existing_text.is_none() {
            only_the_test_module(&content, &format!("{module}Test"))?;
        }
        let verdict = match may_run {
            Err(reason) => TestsVerdict::not_run(content, reason),
            Ok(()) => {
                let root = tests.root.clone();
                // `mix test` blocks for seconds: off the async workers.
                let verdict = tokio::task::spawn_blocking(move || {
                    mix_runner::keep_passing_tests(
                        &root,
                        &content,
                        existing_text.as_deref(),
                        mix_runner::DEFAULT_TEST_DEADLINE,
                    )
                })
                .await
                .map_err(|e| AiError::Io(format!("the mix test run failed: {e}")))?;
                self.repaired(verdict, tests.root.clone(), module, repair)
                    .await
            }
        };
        if let Some(failure) = &verdict.run_failed {
            return Err(AiError::UnusableAnswer(format!(
                "mix test could not run the generated tests; nothing was changed:\n{failure}"
            )));
        }
        if verdict.not_run.is_none() && verdict.kept == 0 {
            return Err(AiError::UnusableAnswer(format!(
                "none of the generated tests passed under mix test ({} failed); nothing was changed",
                verdict.dropped
            )));
        }
        let mut content = verdict.text.clone();
        if verdict.not_run.is_none() {
            // Allowed to run the project's mix: the kept tests as the project formats them.
            let (root, text) = (tests.root.clone(), content.clone());
            let formatted = tokio::task::spawn_blocking(move || {
                mix_runner::format(&root, &text, "", mix_runner::FORMAT_DEADLINE)
            })
            .await;
            if let Ok(Ok(formatted)) = formatted {
                content = formatted;
            }
        }
        let label = format!("Aiex: tests for {module} ({})", verdict.summary());
        let outcome = match tests.existing {
            Some((existing, version)) => ActionOutcome::Edit(FileEdit {
                key: DocumentKey::file(&tests.path),
                version,
                range: ByteRange {
                    start: 0,
                    end: existing.len(),
                },
                base: ropey::Rope::from_str(&existing),
                new_text: content,
                needs_review: false,
                label,
            }),
            None => ActionOutcome::CreateFile {
                path: tests.path,
                text: content,
                label,
            },
        };
        Ok((outcome, verdict))
    }
}

/// A new test file must define its test module and nothing else: a small model copies the
/// example test module or redefines the module under test, which passes on its own and breaks
/// the project's suite (a module defined twice) or replaces its code while the tests run.
fn only_the_test_module(content: &str, expected: &str) -> Result<(), AiError> {
    let Ok(tree) = crate::syntax::parse_str(content) else {
        return Ok(());
    };
    let chunks = crate::chunks::extract(&tree, content);
    let defined: Vec<&str> = chunks.modules.iter().map(|m| m.name.as_str()).collect();
    if defined == [expected] {
        return Ok(());
    }
    Err(AiError::UnusableAnswer(format!(
        "the generated tests define {} instead of {expected} alone; nothing was changed",
        defined.join(", ")
    )))
}

/// The start of the line holding `byte`, and that line's indentation.
fn line_start_and_indent(source: &str, byte: usize) -> (usize, String) {
    let line_start = source[..byte].rfind('\n').map_or(0, |i| i + 1);
    let indent = source[line_start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    (line_start, indent)
}

/// A provider failure as an action's error: the action's own deadline running out names the
/// setting to raise.
fn action_failure(error: crate::llm::LlmError, timeout: std::time::Duration) -> AiError {
    match error {
        crate::llm::LlmError::Timeout {
            phase: crate::llm::TimeoutPhase::Deadline,
            ..
        } => AiError::OutOfTime {
            setting: "features.actions.timeout_ms",
            after: timeout,
            source: error,
        },
        other => AiError::Provider(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tests_prompt_asks_for_properties_only_with_stream_data_and_doctests_only_with_iex_examples(
    ) {
        let project = tempfile::tempdir().expect("tempdir");
        let documented = "@doc \"\"\"\n    iex> Cart.total([1])\n    1\n\"\"\"\ndef total(items), do: Enum.sum(items)";
        std::fs::write(project.path().join("mix.exs"), "defp deps, do: []").expect("write");
        assert_eq!(test_style_hint(project.path(), documented, false), "");
        let doctest = test_style_hint(project.path(), documented, true);
        assert!(doctest.contains("`doctest`"), "{doctest}");
        assert!(!doctest.contains("StreamData"), "{doctest}");
        assert_eq!(
            test_style_hint(
                project.path(),
                "def total(items), do: Enum.sum(items)",
                true
            ),
            "",
            "a @doc without examples has no doctest"
        );
        std::fs::write(
            project.path().join("mix.exs"),
            "defp deps, do: [{:stream_data, \"~> 1.0\", only: :test}]",
        )
        .expect("write");
        let both = test_style_hint(project.path(), documented, true);
        assert!(
            both.contains("`property`") && both.contains("`doctest`"),
            "{both}"
        );
    }

    #[test]
    fn a_new_test_file_defines_its_test_module_alone() {
        let own = "defmodule CartTest do\n  use ExUnit.Case\nend\n";
        assert!(only_the_test_module(own, "CartTest").is_ok());
        // What Qwen 0.5B wrote for SampleApp.Repo: the module under test, then the example.
        let copied = "defmodule SampleApp.Repo do\nend\n\ndefmodule SampleApp.AccountsTest do\n  use ExUnit.Case\nend\n";
        let refused = only_the_test_module(copied, "SampleApp.RepoTest").unwrap_err();
        assert!(
            refused.to_string().contains(
                "define SampleApp.Repo, SampleApp.AccountsTest instead of SampleApp.RepoTest"
            ),
            "{refused}"
        );
    }
}
