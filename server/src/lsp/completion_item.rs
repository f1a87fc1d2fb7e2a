//! How one AI suggestion is shown to editors: as a completion item that every client keeps while
//! the user types (Helix, Emacs, older Neovim), and as an inline completion that VS Code shows
//! even while its suggest widget has an item selected.
//!
//! Pure functions over text and byte offsets; the handlers in `server.rs` convert positions.

use tower_lsp_server::ls_types as lsp;

/// The characters after which clients ask for completions on their own. Not `" "`: with it,
/// VS Code opened its suggest list after every space, and that list hides ghost text that does
/// not extend its selected item.
pub const TRIGGER_CHARACTERS: [&str; 2] = [".", "("];

/// The kind shown beside the item. A suggestion is a piece of code, often several lines: Helix
/// prints the kind's name in its menu, where `snippet` says that better than `text`.
pub const KIND: lsp::CompletionItemKind = lsp::CompletionItemKind::SNIPPET;

/// How long a label may be, in characters, before it is cut with "…".
const LABEL_CHARS: usize = 40;

/// The texts of the completion item for a suggestion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemText {
    /// What the menu shows: the typed word and the suggestion's first line, short. It starts
    /// with the typed word because Emacs and Neovim 0.7 filter by label prefix.
    pub label: String,
    /// What clients filter on: the whole inserted text, so the item stays while the user types
    /// more of it (Helix and VS Code read `filterText` before the label).
    pub filter_text: String,
    /// What the item inserts over the typed word.
    pub new_text: String,
    /// Shown beside the selected item; Helix shows neither `labelDetails` nor the
    /// description, but it shows this in the documentation popup.
    pub detail: String,
}

/// The item texts for `suggestion`, to be inserted after `typed` (the part of the word before
/// the cursor, which the item's edit replaces).
pub fn item_text(typed: &str, suggestion: &str) -> ItemText {
    let new_text = format!("{typed}{suggestion}");
    let mut lines = new_text.lines();
    let first = lines.next().unwrap_or("").trim();
    let more_lines = lines.any(|line| !line.trim().is_empty());
    let mut label: String = first.chars().take(LABEL_CHARS).collect();
    if more_lines || first.chars().count() > LABEL_CHARS {
        label.push('…');
    }
    ItemText {
        label,
        filter_text: new_text.clone(),
        new_text,
        detail: "✨ AI suggestion (aiex)".to_owned(),
    }
}

/// What the client's suggest widget has selected (`selectedCompletionInfo`), in byte offsets of
/// the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected<'a> {
    /// Start of the range the selected item would replace.
    pub start: usize,
    /// End of that range.
    pub end: usize,
    /// The text it would put there.
    pub text: &'a str,
}

/// An inline completion as a replacement of `start..end` by `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineEdit {
    /// Start of the replaced range (byte offset).
    pub start: usize,
    /// End of the replaced range (byte offset).
    pub end: usize,
    /// The replacement.
    pub text: String,
}

/// The inline completion for `suggestion` (made for `cursor` in `document`) while the client
/// has `selected` chosen in its suggest widget.
///
/// VS Code shows an inline item then only when it extends the selected one: same start, an end
/// at or after the selected end, and a text that starts with the selected text. The suggestion
/// is therefore restated over the selected range. `None` when it does not extend the selected
/// item (VS Code would hide it) or when the selected range does not contain the cursor.
pub fn extend_selected(
    document: &str,
    cursor: usize,
    suggestion: &str,
    selected: Selected<'_>,
) -> Option<InlineEdit> {
    let Selected { start, end, text } = selected;
    if !(start <= cursor && cursor <= end && end <= document.len()) {
        return None;
    }
    let before = document.get(start..cursor)?;
    let after = document.get(cursor..end)?;
    let replacement = format!("{before}{suggestion}{after}");
    // Equal texts still count: VS Code does not preview the selected item by default
    // (`editor.suggest.preview`), so the ghost text is what shows the AI item's code.
    replacement.starts_with(text).then_some(InlineEdit {
        start,
        end,
        text: replacement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_is_the_typed_word_and_the_first_line_cut_short() {
        let item = item_text("fare", "well(name) do\n  \"Bye, \" <> name\nend");
        assert_eq!(item.label, "farewell(name) do…");
        assert_eq!(item.new_text, "farewell(name) do\n  \"Bye, \" <> name\nend");
        assert_eq!(item.filter_text, item.new_text);
    }

    #[test]
    fn a_one_line_suggestion_has_no_ellipsis() {
        assert_eq!(item_text("", "sum * 2").label, "sum * 2");
        assert_eq!(item_text("x", "\n").label, "x");
    }

    #[test]
    fn long_first_lines_are_cut_at_forty_characters_on_char_boundaries() {
        let item = item_text("", &"é".repeat(50));
        assert_eq!(item.label.chars().count(), 41);
        assert!(item.label.ends_with('…'));
    }

    #[test]
    fn the_kind_is_snippet_and_no_space_triggers_completion() {
        assert_eq!(KIND, lsp::CompletionItemKind::SNIPPET);
        assert!(!TRIGGER_CHARACTERS.contains(&" "));
    }

    #[test]
    fn a_suggestion_extending_the_selected_word_is_restated_over_its_range() {
        // "def fare|", the widget selected "farewell" (replacing "fare" at 4..8).
        let document = "def fare\n";
        let selected = Selected {
            start: 4,
            end: 8,
            text: "farewell",
        };
        let edit = extend_selected(document, 8, "well(name), do: name", selected);
        assert_eq!(
            edit,
            Some(InlineEdit {
                start: 4,
                end: 8,
                text: "farewell(name), do: name".to_owned()
            })
        );
    }

    #[test]
    fn the_selected_ai_item_itself_is_shown_as_ghost_text() {
        let document = "def fare\n";
        let selected = Selected {
            start: 4,
            end: 8,
            text: "farewell(name)",
        };
        assert_eq!(
            extend_selected(document, 8, "well(name)", selected).map(|e| e.text),
            Some("farewell(name)".to_owned())
        );
    }

    #[test]
    fn a_suggestion_not_extending_the_selected_item_is_withheld() {
        let document = "def fare\n";
        let selected = Selected {
            start: 4,
            end: 8,
            text: "fare_total",
        };
        assert_eq!(extend_selected(document, 8, "well(name)", selected), None);
    }

    #[test]
    fn text_after_the_cursor_inside_the_selected_range_is_kept() {
        // "fa|re": the widget replaces the whole word with "farewell".
        let document = "fare";
        let selected = Selected {
            start: 0,
            end: 4,
            text: "farewell",
        };
        assert_eq!(
            extend_selected(document, 2, "rewell_", selected).map(|e| e.text),
            Some("farewell_re".to_owned())
        );
    }

    #[test]
    fn a_selected_range_that_misses_the_cursor_or_the_document_is_refused() {
        let document = "def fare";
        let outside = Selected {
            start: 0,
            end: 3,
            text: "def",
        };
        assert_eq!(extend_selected(document, 8, "well", outside), None);
        let beyond = Selected {
            start: 4,
            end: 80,
            text: "fare",
        };
        assert_eq!(extend_selected(document, 8, "well", beyond), None);
        // Inside a multi-byte character: no panic, no item.
        assert_eq!(
            extend_selected(
                "é",
                1,
                "x",
                Selected {
                    start: 1,
                    end: 1,
                    text: ""
                }
            ),
            None
        );
    }
}
