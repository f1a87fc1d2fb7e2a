//! Explanations shown on hover: asked once per function text, cached, and never making a hover
//! wait longer than `features.explain.hover_timeout_ms` (the model keeps writing in the
//! background so the next hover has it).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tracing::warn;

use crate::ai::actions::{explain_request, Target};
use crate::chunks::FileChunks;
use crate::document::DocumentKey;
use crate::features::hover::HoverDoc;

use super::gateway::Outbound;
use super::Engine;

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
    pub async fn hover_explanation(
        self: &Arc<Self>,
        key: &DocumentKey,
        doc: &HoverDoc,
        chunks: &FileChunks,
        source: &str,
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
            self.gate()
                .admit_document(Some(&indexed.path), &indexed.text)
                .ok()?;
            (&indexed.text, &indexed.chunks, admitted.relative)
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
        let request = explain_request(&target, module_source, "");
        let wait = Duration::from_millis(settings.hover_timeout_ms);
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
        if tokio::time::timeout(wait, finished).await.is_err() {
            return Some(HoverExplanation::Pending);
        }
        self.explanations.get(&subject).map(HoverExplanation::Ready)
    }
}
