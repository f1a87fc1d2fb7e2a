//! Explanations shown on hover: asked once per function text, cached, and never making a hover
//! wait longer than `features.explain.hover_timeout_ms` (the model keeps writing in the
//! background so the next hover has it). And explanations asked for by name, streamed as the
//! model writes them: a whole module of the workspace ([`Engine::explain_module`]), or a
//! function the workspace does not define, described by the VM that has it loaded
//! ([`Engine::explain_external`]: IEx, the Mix tasks). Functions of the workspace are the
//! Explain code action's (`super::actions`), which streams through [`Engine::explanation`] too.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tracing::warn;

use crate::ai::actions::{self as prompts, explain_request, Target};
use crate::chunks::FileChunks;
use crate::document::DocumentKey;
use crate::features::hover::HoverDoc;

use super::actions::ActionOutcome;
use super::gateway::Outbound;
use super::{AiError, Engine};

/// The most of an external function's documentation, and of its source, a prompt carries.
const MAX_EXTERNAL_TEXT: usize = 8 * 1024;

/// A function the workspace does not define (a dependency's, or Elixir's own), described by
/// the entry point that has it loaded: IEx and the Mix tasks run in the project's VM, where
/// `Code.fetch_docs/1` and the module's compile info have what the index cannot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalFunction {
    /// Its module (`Enum`).
    pub module: String,
    /// Its name (`map`).
    pub name: String,
    /// Its arity.
    pub arity: usize,
    /// Its heads as the documentation gives them (`map(enumerable, fun)`).
    #[serde(default)]
    pub signatures: Vec<String>,
    /// Its documentation (Markdown), if it has some.
    #[serde(default)]
    pub doc: Option<String>,
    /// The module's source file, when the VM knows it: read only if the privacy gate admits
    /// it (a file outside the workspace is not sent).
    #[serde(default)]
    pub source: Option<PathBuf>,
}

impl ExternalFunction {
    /// `Module.name/arity`.
    pub fn label(&self) -> String {
        format!("{}.{}/{}", self.module, self.name, self.arity)
    }
}

/// A hover explanation: ready, or still being written (ready for the next hover).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoverExplanation {
    /// The explanation.
    Ready(String),
    /// The model has not answered yet; it keeps going in the background.
    Pending,
}

/// Explanations by a hash of what they explain, and the ones being written.
#[derive(Debug, Default)]
pub(super) struct Explanations {
    done: Mutex<Option<lru::LruCache<String, String>>>,
    pending: DashMap<String, Arc<Notify>>,
}

impl Explanations {
    fn get(&self, key: &str) -> Option<String> {
        self.done
            .lock()
            .as_mut()
            .and_then(|cache| cache.get(key).cloned())
    }

    fn put(&self, key: String, text: String) {
        let mut done = self.done.lock();
        let capacity = std::num::NonZeroUsize::new(256).unwrap_or(std::num::NonZeroUsize::MIN);
        done.get_or_insert_with(|| lru::LruCache::new(capacity))
            .put(key, text);
    }
}

impl Engine {
    /// The AI explanation of the function a hover resolved to (`doc`), when explanations on
    /// hover are on and the function's file passes the privacy gate. `chunks` and `source`
    /// are the hovered document's. `None`: nothing to show (off, refused, no model).
    ///
    /// The hover's deadline (`features.explain.hover_timeout_ms`) counts from `arrived`, when
    /// the hover request came in: the wait for the model ends [`super::REPLY_MARGIN`] before it,
    /// whatever the outline, the checks and the index took first, so the answer is written
    /// by the deadline on a loaded machine too.
    pub async fn hover_explanation(
        self: &Arc<Self>,
        key: &DocumentKey,
        doc: &HoverDoc,
        chunks: &FileChunks,
        source: &str,
        arrived: tokio::time::Instant,
    ) -> Option<HoverExplanation> {
        let (module_name, function) = doc.function.as_ref()?;
        let config = self.config();
        let settings = &config.config.features.explain;
        if !settings.enabled || !settings.hover {
            return None;
        }
        // The function's own text and file: this document, or the index's copy of another.
        let in_this_file = chunks.all_modules().iter().any(|m| &m.name == module_name);
        let indexed = self.index.module_file(module_name);
        let mut indexed_text = None;
        let mut indexed_chunks = None;
        let (module_source, module_chunks, file): (&str, &FileChunks, PathBuf) = if in_this_file {
            self.may_send(key).ok()?;
            let file = self
                .workspace_path(key)
                .or_else(|| key.path()?.file_name().map(PathBuf::from))
                .unwrap_or_default();
            (source, chunks, file)
        } else {
            let indexed = indexed.as_ref()?;
            let admitted = self.gate().admit(&indexed.path).ok()?;
            let text = indexed_text.insert(indexed.text()?);
            self.gate().admit_document(Some(&indexed.path), text).ok()?;
            let indexed_chunks = &**indexed_chunks.insert(indexed.chunks());
            (&**text, indexed_chunks, admitted.relative)
        };
        let module = module_chunks
            .all_modules()
            .into_iter()
            .find(|m| &m.name == module_name)?;
        let target = Target {
            module: Some(module),
            function,
        };
        let code = module_source.get(function.range.start..function.range.end)?;
        let subject = crate::index::content_hash(&format!("{module_name}\n{code}"));
        if let Some(text) = self.explanations.get(&subject) {
            return Some(HoverExplanation::Ready(text));
        }
        let (chain, _) = self
            .chain(&settings.providers, "explanations", "explain")
            .ok()?;
        let request = crate::llm::LlmRequest {
            asked_at: Some(arrived),
            ..explain_request(&target, module_source, "")
        };
        let give_up_at = arrived + Duration::from_millis(settings.hover_timeout_ms);
        let give_up_at = give_up_at
            .checked_sub(super::REPLY_MARGIN)
            .unwrap_or(give_up_at)
            .max(arrived);
        let notify = match self.explanations.pending.entry(subject.clone()) {
            dashmap::mapref::entry::Entry::Occupied(entry) => Arc::clone(entry.get()),
            dashmap::mapref::entry::Entry::Vacant(entry) => {
                let notify = Arc::new(Notify::new());
                entry.insert(Arc::clone(&notify));
                let engine = Arc::clone(self);
                let (task_subject, task_notify) = (subject.clone(), Arc::clone(&notify));
                let outbound = Outbound {
                    feature: "hover",
                    files: vec![file],
                    redactions: 0,
                };
                tokio::spawn(async move {
                    match engine.ask(&chain, request, outbound).await {
                        Ok(response) => engine
                            .explanations
                            .put(task_subject.clone(), response.text.trim().to_owned()),
                        Err(error) => warn!("hover explanation failed: {error}"),
                    }
                    engine.explanations.pending.remove(&task_subject);
                    task_notify.notify_waiters();
                });
                notify
            }
        };
        let finished = notify.notified();
        if let Some(text) = self.explanations.get(&subject) {
            return Some(HoverExplanation::Ready(text));
        }
        if tokio::time::timeout_at(give_up_at, finished).await.is_err() {
            return Some(HoverExplanation::Pending);
        }
        self.explanations.get(&subject).map(HoverExplanation::Ready)
    }
}

impl Engine {
    /// Asks `chain` for an explanation titled `title` and streams it to `on_delta` as Markdown,
    /// heading first: every explanation asked for by name goes through here.
    pub(super) async fn explanation(
        &self,
        chain: &crate::llm::ProviderChain,
        prompt: crate::llm::LlmRequest,
        outbound: Outbound,
        title: &str,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<ActionOutcome, AiError> {
        let heading = format!("# {title}\n\n");
        on_delta(&heading);
        // The answer's leading blank lines are not shown (the Markdown trims them too).
        let mut started = false;
        let mut shown = |delta: &str| {
            let delta = if started { delta } else { delta.trim_start() };
            if !delta.is_empty() {
                started = true;
                on_delta(delta);
            }
        };
        let answer = self
            .ask_streamed(chain, prompt, outbound, &mut shown)
            .await
            .map_err(AiError::Provider)?;
        Ok(ActionOutcome::Explanation {
            title: title.to_owned(),
            markdown: format!("{heading}{}\n", answer.trim()),
        })
    }

    /// The explanation of the workspace module `name`: its moduledoc, its public functions
    /// with their specs and docs, and the files of the workspace calling it. Only a module
    /// whose file the privacy gate admits; callers are named only from admitted files.
    pub async fn explain_module(
        &self,
        name: &str,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<ActionOutcome, AiError> {
        let chain = self.explain_chain()?;
        let file = self.index.module_file(name).ok_or_else(|| {
            AiError::NotApplicable(format!(
                "{name} is not defined in the workspace: Aiex explains your project's own modules"
            ))
        })?;
        let admitted = self.gate().admit(&file.path)?;
        let text = file.text().ok_or_else(|| {
            AiError::NotApplicable(format!(
                "{} changed since it was indexed; try again once it is reindexed",
                file.relative.display()
            ))
        })?;
        self.gate().admit_document(Some(&file.path), &text)?;
        let chunks = file.chunks();
        let module = chunks
            .all_modules()
            .into_iter()
            .find(|m| m.name == name)
            .ok_or_else(|| {
                AiError::NotApplicable(format!("{name} is not a module of the index"))
            })?;
        let mut callers: Vec<(String, Vec<String>)> = Vec::new();
        for caller in self.index.files() {
            if caller.path == file.path || self.gate().admit(&caller.path).is_err() {
                continue;
            }
            let mut called: Vec<String> = caller
                .remote_calls
                .iter()
                .filter(|(module, _, _)| &**module == name)
                .map(|(_, function, _)| function.to_string())
                .collect();
            called.sort();
            called.dedup();
            if !called.is_empty() {
                callers.push((caller.relative.display().to_string(), called));
            }
        }
        callers.sort();
        let prompt = prompts::module_explain_request(module, &callers);
        let outbound = Outbound {
            feature: "explain",
            files: vec![admitted.relative],
            redactions: 0,
        };
        self.explanation(&chain, prompt, outbound, name, on_delta)
            .await
    }

    /// The explanation of a function the workspace does not define, from what the VM that
    /// has it loaded says of it. Its source goes with it only when the privacy gate admits the
    /// file (a dependency inside the workspace that no ignore rule excludes), and the whole
    /// request is redacted and audited like any other.
    pub async fn explain_external(
        &self,
        function: &ExternalFunction,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<ActionOutcome, AiError> {
        let chain = self.explain_chain()?;
        let mut files = Vec::new();
        let code = function.source.as_deref().and_then(|path| {
            let admitted = match self.gate().admit(path) {
                Ok(admitted) => admitted,
                Err(refusal) => {
                    tracing::info!(
                        "explain: the source of {} is not sent: {refusal}",
                        function.label()
                    );
                    return None;
                }
            };
            let text = std::fs::read_to_string(path).ok()?;
            self.gate().admit_document(Some(path), &text).ok()?;
            let tree = crate::syntax::parse_str(&text).ok()?;
            let chunks = crate::chunks::extract(&tree, &text);
            let defined = chunks
                .all_modules()
                .into_iter()
                .find(|m| m.name == function.module)?
                .function(&function.name, function.arity)?
                .range;
            files.push(admitted.relative);
            Some(bounded(&text[defined.start..defined.end]).to_owned())
        });
        let signatures: Vec<String> = function
            .signatures
            .iter()
            .take(8)
            .map(|s| bounded(s).to_owned())
            .collect();
        let prompt = prompts::external_explain_request(
            &function.label(),
            &signatures,
            function.doc.as_deref().map(bounded),
            code.as_deref(),
        );
        let outbound = Outbound {
            feature: "explain",
            files,
            redactions: 0,
        };
        self.explanation(&chain, prompt, outbound, &function.label(), on_delta)
            .await
    }

    /// The providers of explanations, when explanations are on.
    fn explain_chain(&self) -> Result<crate::llm::ProviderChain, AiError> {
        let config = self.config();
        let settings = &config.config.features.explain;
        if !settings.enabled {
            return Err(AiError::Disabled {
                feature: "explain",
                section: "explain",
            });
        }
        Ok(self.chain(&settings.providers, "explain", "explain")?.0)
    }
}

/// `text` cut to [`MAX_EXTERNAL_TEXT`] bytes, on a character boundary.
fn bounded(text: &str) -> &str {
    let mut end = text.len().min(MAX_EXTERNAL_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
