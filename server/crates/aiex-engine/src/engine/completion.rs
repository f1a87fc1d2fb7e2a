//! AI completions with their latency machinery: adaptive debounce, supersession (a newer
//! request for a document answers the older one at once and drops its provider call), reuse of
//! suggestions the user types into, and early stop of the stream once the suggestion is
//! decided. The same call serves the editor's completion items, its ghost text, and
//! `aiex complete`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use futures::StreamExt;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tracing::{debug, warn};

use crate::ai::completion::{self, Mode, Site};
use crate::ai::rhythm::TypingRhythm;
use crate::ai::suggestions::SuggestionCache;
use crate::context::{ContextPiece, ContextRequest, RecentEdit, Task};
use crate::document::DocumentKey;
use crate::llm::{SpeedEstimate, StreamEvent};

use super::gateway::Outbound;
use super::{AiError, Cursor, Engine};

/// The wait before the first keystrokes of a document give a rhythm.
const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(75);

/// The most of a model's answer read for one suggestion: far more than any suggestion shown
/// (a block of 256 tokens is a few KiB), little enough that a provider sending without end
/// costs nothing (the answer is rescanned at each piece to decide where it ends).
const MAX_SUGGESTION_BYTES: usize = 64 * 1024;

/// How long past the provider's deadline a completion may still be finishing the provider's
/// own timeout (which says why, and shows the once-per-outage notice) before it is answered
/// empty. The provider's deadline is [`super::REPLY_MARGIN`] before the request's, so the grace
/// and the answer's writing both fall before the request's deadline.
const DEADLINE_GRACE: Duration = Duration::from_millis(50);

/// How a completion is asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompletionOptions {
    /// Asked for explicitly (a key press, the command line): no debounce.
    pub explicit: bool,
    /// How long the provider may take, instead of `features.completion.timeout_ms`.
    pub timeout: Option<Duration>,
    /// When the request came in (the protocol handler's start): its deadline counts from
    /// there, whatever came before the engine. `None`: from the call.
    pub arrived: Option<tokio::time::Instant>,
}

/// A suggestion for a cursor, in bytes of the text it was computed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The text to insert at the cursor.
    pub text: String,
    /// Other suggestions for the same place, best first (`features.completion.candidates`).
    pub alternatives: Vec<String>,
    /// The cursor.
    pub cursor: usize,
    /// The start of the word being typed before the cursor (for completion items' ranges).
    pub word_start: usize,
    /// The version of the document it was computed for.
    pub version: i32,
    /// The text it was computed on, for position conversion.
    pub rope: ropey::Rope,
}

/// What a completion request gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompletionOutcome {
    /// The suggestion, when there is a useful one.
    pub suggestion: Option<Suggestion>,
    /// Something to tell the user once (no provider answers).
    pub notice: Option<String>,
    /// Why there is no suggestion, for logs and the command line.
    pub nothing_because: Option<String>,
}

impl CompletionOutcome {
    fn nothing(because: &str) -> Self {
        Self {
            nothing_because: Some(because.to_owned()),
            ..Self::default()
        }
    }
}

/// The per-document completion state.
#[derive(Debug, Default)]
struct DocumentCompletions {
    generation: AtomicU64,
    superseded: Notify,
    rhythm: Mutex<TypingRhythm>,
    suggestions: Mutex<Option<SuggestionCache>>,
    /// The alternatives of the last suggestion, with the place they were made for (a hash of
    /// the text and the cursor): asked again at that very place, they are offered again.
    alternatives: Mutex<Option<(u64, Vec<String>)>>,
    /// What the last prompt for this document was built from, kept while the cursor stays in
    /// the same function so the next prompt starts the same way (see `keeping_pieces_of`).
    anchor: Mutex<Option<PromptAnchor>>,
}

/// The stable start of a document's prompts.
#[derive(Debug, Clone)]
struct PromptAnchor {
    /// The function the cursor was in (`Shop.Cart.total/1`).
    function: String,
    /// The provider asked (another provider has another cache).
    provider: String,
    /// The token budget the prompt was sized to.
    budget: usize,
    /// The workspace pieces it carried, in order.
    pieces: Vec<ContextPiece>,
}

/// Completion state across documents.
#[derive(Debug, Default)]
pub(super) struct Completions {
    documents: DashMap<DocumentKey, Arc<DocumentCompletions>>,
    recent_edits: Mutex<VecDeque<RecentEdit>>,
    said_unavailable: AtomicBool,
}

impl Completions {
    fn document(&self, key: &DocumentKey) -> Arc<DocumentCompletions> {
        Arc::clone(&self.documents.entry(key.clone()).or_default())
    }

    /// Notes a keystroke, for the typing rhythm and the "recently edited" context.
    pub fn record_edit(&self, key: &DocumentKey, at: Option<RecentEdit>) {
        self.document(key).rhythm.lock().record(Instant::now());
        let Some(edit) = at else { return };
        let mut recent = self.recent_edits.lock();
        // One entry per file: the latest place edited there.
        recent.retain(|e| e.path != edit.path);
        recent.push_front(edit);
        recent.truncate(8);
    }

    pub fn recent_edits(&self) -> Vec<RecentEdit> {
        self.recent_edits.lock().iter().cloned().collect()
    }

    /// Forgets a closed document, answering its pending completion.
    pub fn forget(&self, key: &DocumentKey) {
        if let Some((_, state)) = self.documents.remove(key) {
            state.generation.fetch_add(1, Ordering::SeqCst);
            state.superseded.notify_waiters();
        }
        self.recent_edits
            .lock()
            .retain(|e| key.path().is_none_or(|p| !p.ends_with(&e.path)));
    }

    pub fn reset_notice(&self) {
        self.said_unavailable.store(false, Ordering::Relaxed);
    }

    pub fn mark_notice_given(&self) {
        self.said_unavailable.store(true, Ordering::Relaxed);
    }

    /// The "no provider" notice, the first time only (until a provider answers again).
    fn unavailable_once(&self, names: &[String], error: &str) -> Option<String> {
        if self.said_unavailable.swap(true, Ordering::Relaxed) {
            return None;
        }
        Some(format!(
            "Aiex: AI completions need a model provider, and none answered (tried {}: {error}). \
             Symbols, hover docs and checks keep working offline; `aiex doctor` shows the setup.",
            names.join(", ")
        ))
    }
}

impl Engine {
    /// The suggestion at `cursor` of the document `key`. A newer request for the same
    /// document answers this one with nothing at once; dropping the future drops the provider
    /// call. Nothing is sent for a document the privacy gate refuses.
    pub async fn complete(
        &self,
        key: &DocumentKey,
        cursor: Cursor,
        options: CompletionOptions,
    ) -> Result<CompletionOutcome, AiError> {
        if self.documents.get(key).is_none() {
            return Err(AiError::UnknownDocument(key.clone()));
        }
        let config = self.config();
        if !config.config.features.completion.enabled {
            return Ok(CompletionOutcome::nothing(
                "completions are turned off (features.completion.enabled)",
            ));
        }
        if let Err(refusal) = self.may_send(key) {
            debug!("no completion: {refusal}");
            return Ok(CompletionOutcome::nothing(&refusal.to_string()));
        }
        // One deadline from the request's arrival: the debounce, the parse, the context and the
        // provider (its retries and failover included) all fit in it.
        let timeout = options.timeout.unwrap_or(Duration::from_millis(
            config.config.features.completion.timeout_ms,
        ));
        let now = tokio::time::Instant::now();
        let deadline = options.arrived.unwrap_or(now).min(now) + timeout;
        // The wait for the provider ends a margin before the deadline, so that the answer,
        // empty or not, is written by it on a loaded machine too.
        let provider_deadline = deadline
            .checked_sub(super::REPLY_MARGIN)
            .unwrap_or(deadline)
            .max(now);
        let state = self.completions.document(key);
        // Supersede the previous request for this document: it answers empty at once.
        let generation = state.generation.fetch_add(1, Ordering::SeqCst) + 1;
        state.superseded.notify_waiters();
        let superseded = async {
            loop {
                let notified = state.superseded.notified();
                if state.generation.load(Ordering::SeqCst) != generation {
                    return;
                }
                notified.await;
            }
        };
        tokio::select! {
            biased;
            () = superseded => Ok(CompletionOutcome::nothing("a newer request replaced it")),
            outcome = tokio::time::timeout_at(
                provider_deadline + DEADLINE_GRACE,
                self.complete_now(key, cursor, options, &state, provider_deadline),
            ) => Ok(outcome.unwrap_or_else(|_| {
                CompletionOutcome::nothing(&format!(
                    "no answer within {} ms (features.completion.timeout_ms)",
                    timeout.as_millis()
                ))
            })),
        }
    }

    async fn complete_now(
        &self,
        key: &DocumentKey,
        cursor: Cursor,
        options: CompletionOptions,
        state: &DocumentCompletions,
        deadline: tokio::time::Instant,
    ) -> CompletionOutcome {
        let config = self.config();
        let settings = &config.config.features.completion;
        let Some(handle) = self.documents.get(key) else {
            return CompletionOutcome::nothing("the document was closed");
        };
        let (rope, version) = handle.with_document(|d| (d.rope().clone(), d.version()));
        let cursor = cursor.offset_in(&rope);
        // Usually prepared by the background reparse that followed the keystroke.
        let text = self.documents.prepared_text(key, version, &rope);
        let site = Site {
            text: &text,
            cursor,
        };
        let word_start = word_start(&text, cursor);
        let suggestion = |text: String| Suggestion {
            text,
            alternatives: Vec::new(),
            cursor,
            word_start,
            version,
            rope: rope.clone(),
        };

        // A suggestion the user is typing into, or asked for again: no provider call.
        let reused = {
            let mut cache = state.suggestions.lock();
            let cache =
                cache.get_or_insert_with(|| SuggestionCache::new(100, Duration::from_secs(300)));
            cache.lookup(&text[..cursor], &text[cursor..])
        };
        if let Some(text_left) = reused {
            debug!(document = %key, "completion served from earlier suggestion");
            let mut reused = suggestion(text_left);
            if let Some((at, alternatives)) = &*state.alternatives.lock() {
                // Hashed only when there are alternatives (candidates > 1): a long file costs.
                if *at == place_hash(&text, cursor) {
                    reused.alternatives = alternatives.clone();
                }
            }
            return CompletionOutcome {
                suggestion: Some(reused),
                ..CompletionOutcome::default()
            };
        }

        let wait = if options.explicit {
            Duration::ZERO
        } else {
            state.rhythm.lock().debounce(
                Duration::from_millis(settings.debounce_min_ms),
                Duration::from_millis(settings.debounce_max_ms.max(settings.debounce_min_ms)),
                DEFAULT_DEBOUNCE,
            )
        };
        // The wait apart from the server's own time (benchmark `typing_burst`).
        debug!(
            target: crate::llm::types::SERVER_TIME_LOG,
            debounce_us = wait.as_micros() as u64,
            "completion debounce chosen"
        );
        // Parse while waiting: when the wait ends, the tree is ready.
        let started = Instant::now();
        // No wait, no timer: tokio rounds a deadline up to its next 1 ms tick, so even a zero
        // sleep would cost up to a millisecond of an explicit request's time.
        let syntax = if wait.is_zero() {
            self.documents.syntax(key).await
        } else {
            tokio::join!(tokio::time::sleep(wait), self.documents.syntax(key)).1
        };
        let parsed = started.elapsed();
        let Some(syntax) = syntax else {
            return CompletionOutcome::nothing("the document was closed");
        };
        if syntax.version != version {
            // The user typed on: a newer request is coming.
            return CompletionOutcome::nothing("the document changed");
        }
        let Ok(tree) = &syntax.tree else {
            return CompletionOutcome::nothing(
                "the file has no syntax tree (not Elixir, or too large)",
            );
        };
        let mut mode = completion::decide_mode(tree, &site);
        if !settings.multiline {
            mode = Mode::Line;
        }
        let (chain, names) = match self.chain(&settings.providers, "completions", "completion") {
            Ok(found) => found,
            Err(error) => return CompletionOutcome::nothing(&error.to_string()),
        };
        let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
        // Sized to the provider's speed: the first suggestion at a new place should arrive
        // within the latency target, whatever the model reads per second.
        let first = chain.providers().first();
        let speed = first.map_or_else(|| SpeedEstimate::assumed(false), |p| p.speed());
        let provider = first.map(|p| p.name().to_owned()).unwrap_or_default();
        let target = Duration::from_millis(settings.latency_target_ms);
        let sized = completion::sized_to(speed, target, mode, settings.context_tokens);
        let (request, outbound) = match self.workspace_location(key) {
            Some((workspace, path)) => {
                // The context engine: the enclosing function, the module header, the callees'
                // definitions and specs from the whole workspace, within the token budget.
                let chunks = self
                    .documents
                    .chunks_around(key, version, &text, tree, cursor);
                let open = self.open_documents_for_context(key);
                let recent = self.recent_edits();
                let tokens = self.tokens();
                // Still in the function of the last prompt: the same budget and pieces, so
                // the server's prompt cache holds everything before the cursor.
                let function = crate::ai::actions::target_at(&chunks, cursor).map(|t| t.label());
                let anchor = state.anchor.lock().clone().filter(|anchor| {
                    Some(&anchor.function) == function.as_ref() && anchor.provider == provider
                });
                let budget = anchor.as_ref().map_or(sized.context_tokens, |a| a.budget);
                let context_request = ContextRequest {
                    task: Task::Completion,
                    path: &path,
                    text: &text,
                    tree,
                    chunks: &chunks,
                    cursor,
                    budget_tokens: budget,
                    recent_edits: &recent,
                    tokens: &tokens,
                };
                let mut context = crate::context::assemble(&context_request, &self.index, &open);
                if let Some(anchor) = &anchor {
                    context = context.keeping_pieces_of(&anchor.pieces, budget);
                }
                *state.anchor.lock() = function.map(|function| PromptAnchor {
                    function,
                    provider: provider.clone(),
                    budget,
                    pieces: context.pieces.clone(),
                });
                let outbound = Outbound {
                    feature: "completion",
                    files: context.files(&path),
                    redactions: context.redactions,
                };
                let request = completion::fim_request_with_context(
                    &context, &workspace, &path, mode, timeout,
                )
                .with_max_tokens(sized.answer_tokens);
                (request, outbound)
            }
            None => {
                // A file with no workspace folder: its own text only.
                let files = key
                    .path()
                    .and_then(|p| p.file_name())
                    .map(PathBuf::from)
                    .into_iter()
                    .collect();
                let outbound = Outbound {
                    feature: "completion",
                    files,
                    redactions: 0,
                };
                let request = completion::fim_request(&site, mode, timeout, sized.context_tokens)
                    .with_max_tokens(sized.answer_tokens);
                (request, outbound)
            }
        };
        // The request's own deadline is the completion's, whatever the context took; its server
        // time counts from the user's request.
        let request = crate::llm::LlmRequest {
            deadline: Some(deadline),
            asked_at: options.arrived,
            ..request
        };
        let assembled = started.elapsed();
        debug!(
            document = %key,
            parse_us = parsed.as_micros() as u64,
            context_us = (assembled - parsed).as_micros() as u64,
            "completion prompt ready"
        );
        // More than one candidate for a block: the same prompt again, sampled (a local server
        // reuses its prompt cache for them), never from the response cache.
        let extra = if mode == Mode::Block {
            settings.candidates.saturating_sub(1)
        } else {
            0
        };
        let samples: Vec<_> = (0..extra)
            .map(|_| {
                let sampled = request.clone().without_cache().with_temperature(0.8);
                self.read_suggestion(key, &chain, sampled, outbound.clone(), &site, mode)
            })
            .collect();
        let (first, samples) = tokio::join!(
            self.read_suggestion(key, &chain, request, outbound, &site, mode),
            futures::future::join_all(samples)
        );
        let raw = match first {
            Ok(raw) => raw,
            Err(error) => {
                warn!(document = %key, "completion failed: {error}");
                return CompletionOutcome {
                    notice: self
                        .completions
                        .unavailable_once(&names, &error.to_string()),
                    ..CompletionOutcome::nothing(&format!("the model did not answer: {error}"))
                };
            }
        };
        self.completions.reset_notice();
        let raws: Vec<String> = std::iter::once(raw)
            .chain(samples.into_iter().filter_map(Result::ok))
            .collect();
        let cleaned: Vec<String> = raws
            .iter()
            .filter_map(|raw| completion::clean(raw, &site, mode))
            .collect();
        if cleaned.is_empty() {
            // What the model wrote, to tell a rule's drop from an empty answer (debug only: it
            // is the model's text about the user's code).
            debug!(document = %key, answers = ?raws.iter().map(|raw| raw.chars().take(160).collect::<String>()).collect::<Vec<_>>(), "completion dropped once cleaned");
            return CompletionOutcome::nothing("the model's answer was empty once cleaned");
        }
        // Each candidate reparsed incrementally with it in place, and the survivors ranked by
        // the built-in checks: on the blocking pool, never on the message loop.
        let (parsed_rope, tree_copy) = (syntax.rope.clone(), tree.clone());
        // Only several candidates need the ranking, and with it a copy of the text.
        let ranking = (cleaned.len() > 1).then(|| (self.ranker(key), text.clone()));
        let ranked = tokio::task::spawn_blocking(move || {
            let fitted = cleaned.iter().filter_map(|candidate| {
                completion::fit_to_syntax(&parsed_rope, &tree_copy, cursor, candidate, mode)
            });
            match ranking {
                Some((ranker, text)) => ranker.rank(fitted, String::clone, |candidate| {
                    format!("{}{candidate}{}", &text[..cursor], &text[cursor..])
                }),
                None => fitted.collect(),
            }
        })
        .await
        .unwrap_or_default();
        let mut ranked = ranked.into_iter();
        let Some(best) = ranked.next() else {
            debug!(document = %key, "completion dropped: it does not parse in place");
            return CompletionOutcome::nothing("the model's answer does not parse at this place");
        };
        if let Some(cache) = state.suggestions.lock().as_mut() {
            cache.insert(&text[..cursor], &text[cursor..], &best);
        }
        let mut offered = suggestion(best);
        offered.alternatives = ranked.collect();
        *state.alternatives.lock() = (!offered.alternatives.is_empty())
            .then(|| (place_hash(&text, cursor), offered.alternatives.clone()));
        CompletionOutcome {
            suggestion: Some(offered),
            ..CompletionOutcome::default()
        }
    }

    /// One provider request for a suggestion, read until the suggestion is decided (the
    /// connection is dropped then) and audited when it ends.
    async fn read_suggestion(
        &self,
        key: &DocumentKey,
        chain: &crate::llm::ProviderChain,
        request: crate::llm::LlmRequest,
        outbound: Outbound,
        site: &Site<'_>,
        mode: Mode,
    ) -> Result<String, crate::llm::LlmError> {
        let (mut stream, ticket) = self.stream(chain, request, outbound).await?;
        let mut raw = String::new();
        let mut failure = None;
        let mut response = None;
        while let Some(event) = stream.next().await {
            match event {
                Ok(StreamEvent::Delta(delta)) => {
                    raw.push_str(&delta);
                    if raw.len() > MAX_SUGGESTION_BYTES || completion::is_decided(&raw, site, mode)
                    {
                        break;
                    }
                }
                Ok(StreamEvent::Done(done)) => {
                    response = Some(done);
                    break;
                }
                Err(error) => {
                    warn!(document = %key, "completion stream failed: {error}");
                    failure = Some(error);
                    break;
                }
            }
        }
        if let Some(timings) = response.as_ref().and_then(|r| r.timings) {
            // Where a suggestion's time went: prompt tokens read (few when the server's prompt
            // cache covered the start), and tokens written.
            debug!(
                document = %key,
                prompt_tokens = timings.prompt_tokens,
                cached_tokens = timings.cached_tokens,
                prompt_ms = timings.prompt_ms as u64,
                generated_tokens = timings.generated_tokens,
                generation_ms = timings.generation_ms as u64,
                "completion timings"
            );
        }
        match &failure {
            Some(error) => ticket.fail(error),
            None => ticket.finish("ok", response.as_ref()),
        }
        Ok(raw)
    }
}

/// Identifies a place: the text and the cursor in it.
fn place_hash(text: &str, cursor: usize) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    cursor.hash(&mut hasher);
    hasher.finish()
}

/// The start of the identifier being typed before `cursor`.
fn word_start(text: &str, cursor: usize) -> usize {
    let before = &text[..cursor];
    before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == '?' || *c == '!')
        .last()
        .map_or(cursor, |(at, _)| at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_being_typed_is_found_across_unicode() {
        assert_eq!(word_start("x = grö", "x = grö".len()), 4);
        assert_eq!(word_start("x = ", 4), 4);
        assert_eq!(word_start("valid?", 6), 0);
    }
}
