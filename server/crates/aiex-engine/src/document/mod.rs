//! Open documents: the editor's text in a rope, its version, and its syntax tree kept in step.
//!
//! A [`Document`] applies edits at once (the keystroke path is a rope splice and a tree edit,
//! both logarithmic) and defers reparsing until someone asks for the tree.

pub mod key;
pub mod position;
pub mod store;

use ropey::Rope;
use tree_sitter::{InputEdit, Tree};

use crate::syntax;
pub use key::DocumentKey;
pub use position::{Position, PositionEncoding};

/// The language of a document, which decides whether it gets a syntax tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Elixir source (`.ex`, `.exs`).
    Elixir,
    /// Anything else the client opened with us (HEEx templates, EEx): kept as text.
    Other,
}

impl Language {
    /// The language of a document from the client's language id and the document's path.
    pub fn detect(language_id: &str, path: &str) -> Self {
        let by_extension = path.ends_with(".ex") || path.ends_with(".exs");
        if language_id == "elixir" || by_extension {
            Language::Elixir
        } else {
            Language::Other
        }
    }
}

/// A range of positions, as the client sends it with a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositionRange {
    /// Start of the range.
    pub start: Position,
    /// End of the range (exclusive).
    pub end: Position,
}

/// One content change: a replacement of `range`, or of the whole text when `range` is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextChange {
    /// What to replace; `None` replaces the whole document.
    pub range: Option<PositionRange>,
    /// The new text.
    pub text: String,
}

/// Why a change was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeRejected {
    /// The version did not grow: the change is old or repeated.
    #[error("change to version {got} ignored: the document is already at version {current}")]
    StaleVersion {
        /// The document's version.
        current: i32,
        /// The version the change claimed.
        got: i32,
    },
}

/// What applying a batch of changes did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeReport {
    /// Changes whose range lay (partly) outside the document and was clamped.
    pub clamped: usize,
    /// Where the last change ended, in bytes of the new text (for "recently edited" context).
    pub last_edit: Option<usize>,
}

/// An open document.
#[derive(Debug, Clone)]
pub struct Document {
    rope: Rope,
    version: i32,
    language: Language,
    syntax: SyntaxState,
    /// Whether the document was past a limit for syntax features (its size, its nesting) when
    /// last looked at (opened, or parsed): the user is told when it goes past one, once per
    /// crossing, not at every parse while it stays there.
    past_limit: bool,
}

/// The tree of a document and how it relates to the current text.
#[derive(Debug, Clone, Default)]
struct SyntaxState {
    /// The last parse, edited so that its byte ranges line up with the current rope.
    tree: Option<Tree>,
    /// The version whose text the tree was parsed from.
    parsed_version: Option<i32>,
    /// Edits made since the last parse snapshot, to replay on the tree that parse returns.
    edits_since_snapshot: Vec<InputEdit>,
    /// True between [`Document::parse_snapshot`] and [`Document::install_tree`].
    parse_in_flight: bool,
    /// Whether the current text is known to pass the whole-text checks before a parse (no NUL
    /// byte, nesting within the limit): a parse found it so, and every edit since kept the
    /// nesting as it was ([`syntax::edit_keeps_depth`]). Saves a scan of the whole text at
    /// each reparse while the user types.
    known_parseable: bool,
    /// Whether every edit since the last parse snapshot kept the nesting, so that a parse of
    /// the snapshot that passed the checks tells the current text passes them too.
    edits_kept_depth: bool,
    /// Bumped when the whole text is replaced, so that a parse of the old text is discarded.
    generation: u64,
}

/// A consistent view of a document's text for parsing off the document lock.
#[derive(Debug, Clone)]
pub struct ParseSnapshot {
    /// The text to parse.
    pub rope: Rope,
    /// The version of that text.
    pub version: i32,
    /// The previous tree, edited to match `rope`, for an incremental parse.
    pub old_tree: Option<Tree>,
    /// Whether `rope` is known to pass the whole-text checks before a parse.
    known_parseable: bool,
    /// The text generation the snapshot belongs to.
    generation: u64,
}

/// A document's text and tree at one version, consistent with each other.
#[derive(Debug, Clone)]
pub struct SyntaxSnapshot {
    /// The text the tree was parsed from.
    pub rope: Rope,
    /// The version of that text.
    pub version: i32,
    /// The tree, or why there is none.
    pub tree: Result<Tree, syntax::SyntaxUnavailable>,
}

impl Document {
    /// A document opened with `text` at `version`.
    pub fn new(text: &str, version: i32, language: Language) -> Self {
        Self {
            rope: Rope::from_str(text),
            version,
            language,
            syntax: SyntaxState::default(),
            past_limit: false,
        }
    }

    /// A document opened with `text` at `version`, and what to tell the user when its text is
    /// past a limit for syntax features ([`syntax::syntax_notice`]; Elixir only).
    pub fn opened(text: &str, version: i32, language: Language) -> (Self, Option<String>) {
        let mut document = Self::new(text, version, language);
        let notice = if language == Language::Elixir {
            syntax::syntax_notice(text)
        } else {
            None
        };
        document.past_limit = notice.is_some();
        (document, notice)
    }

    /// The current text.
    pub fn rope(&self) -> &Rope {
        &self.rope
    }

    /// The current version.
    pub fn version(&self) -> i32 {
        self.version
    }

    /// The document's language.
    pub fn language(&self) -> Language {
        self.language
    }

    /// Applies `changes` in order and moves to `version`.
    ///
    /// Runs on every keystroke: a rope splice and a tree edit per change, no parsing.
    pub fn apply_changes(
        &mut self,
        version: i32,
        changes: &[TextChange],
        encoding: PositionEncoding,
    ) -> Result<ChangeReport, ChangeRejected> {
        if version <= self.version {
            return Err(ChangeRejected::StaleVersion {
                current: self.version,
                got: version,
            });
        }
        let mut report = ChangeReport::default();
        for change in changes {
            let (clamped, at) = self.apply_change(change, encoding);
            if clamped {
                report.clamped += 1;
            }
            report.last_edit = Some(at);
        }
        self.version = version;
        Ok(report)
    }

    /// Applies one change; returns whether its range had to be clamped, and where it ends.
    fn apply_change(&mut self, change: &TextChange, encoding: PositionEncoding) -> (bool, usize) {
        let Some(range) = change.range else {
            self.rope = Rope::from_str(&change.text);
            // A full replacement invalidates the tree: the next parse starts afresh, and a
            // parse of the old text still in flight is discarded when it lands.
            let generation = self.syntax.generation + 1;
            self.syntax = SyntaxState {
                generation,
                ..SyntaxState::default()
            };
            return (false, 0);
        };
        let start = position::offset_of(&self.rope, range.start, encoding);
        let end = position::offset_of(&self.rope, range.end, encoding);
        // A reversed range is treated as empty at its start rather than rejected.
        let (start_byte, end_byte) = (start.byte, end.byte.max(start.byte));
        if self.syntax.known_parseable || self.syntax.parse_in_flight {
            let kept = syntax::edit_keeps_depth(&self.rope, start_byte, end_byte, &change.text);
            self.syntax.known_parseable &= kept;
            self.syntax.edits_kept_depth &= kept;
        }
        let before = self.rope.clone();
        let start_char = self.rope.byte_to_char(start_byte);
        let end_char = self.rope.byte_to_char(end_byte);
        self.rope.remove(start_char..end_char);
        self.rope.insert(start_char, &change.text);
        if self.syntax.tree.is_some() || self.syntax.parse_in_flight {
            let edit =
                syntax::input_edit(&before, &self.rope, start_byte, end_byte, change.text.len());
            if let Some(tree) = self.syntax.tree.as_mut() {
                tree.edit(&edit);
            }
            if self.syntax.parse_in_flight {
                self.syntax.edits_since_snapshot.push(edit);
            }
        }
        (start.clamped || end.clamped, start_byte + change.text.len())
    }

    /// True when the document has a tree (edited to match the text, perhaps not reparsed).
    pub fn has_tree(&self) -> bool {
        self.syntax.tree.is_some()
    }

    /// Frees the tree of a document larger than `keep_up_to` bytes, unless a parse is in
    /// flight; the next feature that needs it parses afresh. Returns whether a tree was freed.
    pub fn free_tree_if_larger_than(&mut self, keep_up_to: usize) -> bool {
        if self.rope.len_bytes() <= keep_up_to
            || self.syntax.parse_in_flight
            || self.syntax.tree.is_none()
        {
            return false;
        }
        self.syntax.tree = None;
        self.syntax.parsed_version = None;
        self.syntax.edits_since_snapshot = Vec::new();
        true
    }

    /// The tree if it reflects the current version.
    pub fn fresh_syntax(&self) -> Option<SyntaxSnapshot> {
        if self.syntax.parsed_version != Some(self.version) {
            return None;
        }
        let tree = self.syntax.tree.clone()?;
        Some(SyntaxSnapshot {
            rope: self.rope.clone(),
            version: self.version,
            tree: Ok(tree),
        })
    }

    /// Takes a snapshot to parse off the lock; edits from now on are recorded for replay.
    pub fn parse_snapshot(&mut self) -> ParseSnapshot {
        self.syntax.edits_since_snapshot.clear();
        self.syntax.parse_in_flight = true;
        self.syntax.edits_kept_depth = true;
        ParseSnapshot {
            rope: self.rope.clone(),
            version: self.version,
            old_tree: self.syntax.tree.clone(),
            known_parseable: self.syntax.known_parseable,
            generation: self.syntax.generation,
        }
    }

    /// Installs the result of parsing `snapshot`, replaying on the tree the edits made since.
    /// Returns what to tell the user when this parse found the document past a limit for
    /// syntax features (size, nesting) and the last look did not ([`syntax::limit_notice`]).
    ///
    /// Callers must not let two snapshots of one document be parsed at once (the store holds a
    /// per-document parse permit), or the replayed edits would be the wrong ones.
    pub fn install_tree(
        &mut self,
        snapshot: &ParseSnapshot,
        result: &Result<Tree, syntax::SyntaxUnavailable>,
    ) -> Option<String> {
        if snapshot.generation != self.syntax.generation {
            return None;
        }
        self.syntax.parse_in_flight = false;
        let edits = std::mem::take(&mut self.syntax.edits_since_snapshot);
        let limit = result.as_ref().err().and_then(syntax::limit_notice);
        let was_past = std::mem::replace(&mut self.past_limit, limit.is_some());
        let notice = limit.filter(|_| !was_past);
        let Ok(tree) = result else {
            self.syntax.tree = None;
            self.syntax.parsed_version = None;
            self.syntax.known_parseable = false;
            return notice;
        };
        self.syntax.known_parseable = self.syntax.edits_kept_depth;
        let mut tree = tree.clone();
        for edit in &edits {
            tree.edit(edit);
        }
        self.syntax.tree = Some(tree);
        self.syntax.parsed_version = Some(snapshot.version);
        notice
    }

    /// Parses the document in place (for the command line and tests, where nothing waits).
    pub fn parse_now(&mut self) -> SyntaxSnapshot {
        if let Some(fresh) = self.fresh_syntax() {
            return fresh;
        }
        let snapshot = self.parse_snapshot();
        let result = parse_snapshot(&snapshot, self.language);
        self.install_tree(&snapshot, &result);
        SyntaxSnapshot {
            rope: snapshot.rope,
            version: snapshot.version,
            tree: result,
        }
    }
}

/// Parses a snapshot of a document in `language`.
pub fn parse_snapshot(
    snapshot: &ParseSnapshot,
    language: Language,
) -> Result<Tree, syntax::SyntaxUnavailable> {
    if language != Language::Elixir {
        return Err(syntax::SyntaxUnavailable::NotElixir);
    }
    if snapshot.known_parseable {
        syntax::reparse_known_parseable(&snapshot.rope, snapshot.old_tree.as_ref())
    } else {
        syntax::parse(&snapshot.rope, snapshot.old_tree.as_ref())
    }
}

#[cfg(test)]
mod tests;
