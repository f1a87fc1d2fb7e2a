//! The other versions of an AI edit asked in several versions (`features.actions.candidates`):
//! the best is applied, the others stay reachable as code actions on the edited function until
//! the document no longer holds the version applied.
//!
//! Invariant: an alternative is offered, and its edit built, only while the document holds the
//! applied version byte for byte where it was put; any other state means the alternatives no
//! longer fit, and nothing is guessed.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::ai::actions::Target;
use crate::chunks::ByteRange;
use crate::document::DocumentKey;

use super::actions::FileEdit;

/// The alternatives of each document's last multi-version edit.
#[derive(Debug, Default)]
pub(super) struct EditAlternatives {
    by_document: Mutex<HashMap<DocumentKey, Record>>,
}

#[derive(Debug, Clone)]
struct Record {
    /// Where the applied version starts in the edited document.
    start: usize,
    /// The applied version.
    applied: String,
    /// The rest of the line after it, as it was: text typed right after the applied version
    /// changes the code too.
    line_after: String,
    /// How far the edited function runs past the applied text (Add docs inserts above it):
    /// the alternatives are offered there too.
    tail: usize,
    /// What the edit does (`Aiex: refactor Shop.Cart.total/1`).
    label: String,
    /// The other versions, best first.
    others: Vec<String>,
}

impl Record {
    fn end(&self) -> usize {
        self.start + self.applied.len()
    }

    fn held_by(&self, rope: &ropey::Rope) -> bool {
        let after = self.end()..self.end() + self.line_after.len();
        rope.get_byte_slice(self.start..self.end())
            .is_some_and(|slice| slice == self.applied.as_str())
            && rope
                .get_byte_slice(after)
                .is_some_and(|slice| slice == self.line_after.as_str())
    }
}

impl EditAlternatives {
    /// Keeps `others` for the edit `best` of `target`'s function (forgets the document's
    /// earlier alternatives when there are none).
    pub(super) fn remember(&self, best: &FileEdit, target: &Target<'_>, others: Vec<String>) {
        let mut by_document = self.by_document.lock();
        if others.is_empty() {
            by_document.remove(&best.key);
            return;
        }
        let rest = best.base.byte_slice(best.range.end..).to_string();
        let line_after = rest
            .split_inclusive('\n')
            .next()
            .unwrap_or_default()
            .to_owned();
        let record = Record {
            start: best.range.start,
            applied: best.new_text.clone(),
            line_after,
            tail: target.function.range.end.saturating_sub(best.range.end),
            label: best.label.clone(),
            others,
        };
        by_document.insert(best.key.clone(), record);
    }

    /// The alternatives offered at `offset` of the document's current text, as (index, title).
    pub(super) fn offered(
        &self,
        key: &DocumentKey,
        rope: &ropey::Rope,
        offset: usize,
    ) -> Vec<(usize, String)> {
        let by_document = self.by_document.lock();
        let Some(record) = by_document.get(key) else {
            return Vec::new();
        };
        if !(record.start..=record.end() + record.tail).contains(&offset) || !record.held_by(rope) {
            return Vec::new();
        }
        let versions = record.others.len() + 1;
        (0..record.others.len())
            .map(|index| {
                let title = format!("{} (version {} of {versions})", record.label, index + 2);
                (index, title)
            })
            .collect()
    }

    /// The edit putting alternative `index` where the applied version is, in the document
    /// `rope` at `version`; the applied version takes its place among the alternatives.
    pub(super) fn take(
        &self,
        key: &DocumentKey,
        rope: &ropey::Rope,
        version: i32,
        index: usize,
    ) -> Result<FileEdit, String> {
        let mut by_document = self.by_document.lock();
        let record = by_document
            .get_mut(key)
            .ok_or("this document has no other version of an AI edit")?;
        if !record.held_by(rope) {
            return Err(
                "the code changed since the AI edit: its other versions no longer fit".to_owned(),
            );
        }
        let chosen = record
            .others
            .get_mut(index)
            .ok_or_else(|| format!("there is no version {} of this edit", index + 2))?;
        let new_text = std::mem::replace(chosen, record.applied.clone());
        Ok(FileEdit {
            key: key.clone(),
            version: Some(version),
            base: rope.clone(),
            range: ByteRange {
                start: record.start,
                end: record.end(),
            },
            new_text,
            needs_review: true,
            label: record.label.clone(),
        })
    }

    /// Records that `edit` (from [`Self::take`], possibly reformatted) is the version now
    /// applied.
    pub(super) fn applied(&self, key: &DocumentKey, edit: &FileEdit) {
        if let Some(record) = self.by_document.lock().get_mut(key) {
            record.start = edit.range.start;
            record.applied = edit.new_text.clone();
        }
    }

    /// Forgets a closed document's alternatives.
    pub(super) fn forget(&self, key: &DocumentKey) {
        self.by_document.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::extract;
    use crate::syntax::parse_str;

    const SOURCE: &str = "defmodule M do\n  def f(x) do\n    x + 1\n  end\nend\n";

    fn remembered(alternatives: &EditAlternatives, key: &DocumentKey) -> (ropey::Rope, String) {
        let tree = parse_str(SOURCE).expect("parse");
        let chunks = extract(&tree, SOURCE);
        let at = SOURCE.find("x + 1").expect("body");
        let target = crate::ai::actions::target_at(&chunks, at).expect("target");
        let range = target.function.range;
        let best = FileEdit {
            key: key.clone(),
            version: Some(1),
            base: ropey::Rope::from_str(SOURCE),
            range: ByteRange {
                start: range.start,
                end: range.end,
            },
            new_text: "def f(x), do: x + 1".to_owned(),
            needs_review: true,
            label: "Aiex: refactor M.f/1".to_owned(),
        };
        alternatives.remember(&best, &target, vec!["def f(x), do: 1 + x".to_owned()]);
        let edited = format!(
            "{}{}{}",
            &SOURCE[..range.start],
            best.new_text,
            &SOURCE[range.end..]
        );
        (ropey::Rope::from_str(&edited), edited)
    }

    #[test]
    fn the_other_versions_are_offered_on_the_applied_one_and_cycle() {
        let alternatives = EditAlternatives::default();
        let key = DocumentKey::file(std::path::Path::new("/m.ex"));
        let (rope, edited) = remembered(&alternatives, &key);
        let on = edited.find("do: x").expect("applied");
        assert_eq!(
            alternatives.offered(&key, &rope, on),
            [(0, "Aiex: refactor M.f/1 (version 2 of 2)".to_owned())]
        );
        assert!(alternatives.offered(&key, &rope, 0).is_empty(), "outside");
        let edit = alternatives.take(&key, &rope, 2, 0).expect("an edit");
        assert_eq!(edit.new_text, "def f(x), do: 1 + x");
        assert_eq!(
            &edited[edit.range.start..edit.range.end],
            "def f(x), do: x + 1"
        );
        alternatives.applied(&key, &edit);
        let now = format!(
            "{}{}{}",
            &edited[..edit.range.start],
            edit.new_text,
            &edited[edit.range.end..]
        );
        let back = alternatives
            .take(&key, &ropey::Rope::from_str(&now), 3, 0)
            .expect("the first version again");
        assert_eq!(back.new_text, "def f(x), do: x + 1");
    }

    #[test]
    fn text_typed_right_after_the_applied_version_also_retires_them() {
        let alternatives = EditAlternatives::default();
        let key = DocumentKey::file(std::path::Path::new("/m.ex"));
        let (_, edited) = remembered(&alternatives, &key);
        let changed = edited.replace("do: x + 1", "do: x + 1 |> abs()");
        let rope = ropey::Rope::from_str(&changed);
        assert!(alternatives
            .offered(&key, &rope, changed.find("do: x").expect("applied"))
            .is_empty());
    }

    #[test]
    fn once_the_code_changed_the_alternatives_are_gone() {
        let alternatives = EditAlternatives::default();
        let key = DocumentKey::file(std::path::Path::new("/m.ex"));
        let (_, edited) = remembered(&alternatives, &key);
        let changed = edited.replace("x + 1", "x + 2");
        let rope = ropey::Rope::from_str(&changed);
        let on = changed.find("do: x").expect("applied");
        assert!(alternatives.offered(&key, &rope, on).is_empty());
        assert!(alternatives.take(&key, &rope, 2, 0).is_err());
    }
}
