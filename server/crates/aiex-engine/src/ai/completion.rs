//! Fill-in-the-middle completion at a cursor: single line or block, decided from the syntax
//! tree; the model's answer cleaned, trimmed to what fits, and checked to parse in place.

use ropey::Rope;
use tree_sitter::{InputEdit, Node, Tree};

use crate::syntax;

/// How much the model may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The rest of the current line (inside an argument list, or text follows the cursor).
    Line,
    /// A block: the body of an empty function, the lines after `do` or `->`.
    Block,
}

/// The text around the cursor, as the completion sees it.
#[derive(Debug, Clone)]
pub struct Site<'a> {
    /// The whole document.
    pub text: &'a str,
    /// Byte offset of the cursor.
    pub cursor: usize,
}

impl<'a> Site<'a> {
    /// The current line before the cursor.
    pub fn line_prefix(&self) -> &'a str {
        let start = self.text[..self.cursor].rfind('\n').map_or(0, |i| i + 1);
        &self.text[start..self.cursor]
    }

    /// The current line after the cursor (without its line break).
    pub fn line_suffix(&self) -> &'a str {
        let rest = &self.text[self.cursor..];
        let end = rest.find('\n').unwrap_or(rest.len());
        rest[..end].trim_end_matches('\r')
    }

    /// The indentation of the current line.
    pub fn indentation(&self) -> &'a str {
        let prefix = self.line_prefix();
        &prefix[..prefix.len() - prefix.trim_start().len()]
    }
}

/// Decides how much to complete at the cursor.
///
/// A block only where one starts: right after `do`/`->`/`fn`, or on an empty line whose
/// previous line opens a block (the first line of a body). Everywhere else one line: inside
/// brackets, with code after the cursor, and on an empty line between statements, where the
/// next statement is what the user writes next. A block costs its writing time (a 0.5B model
/// on two CPU cores writes ~22 tokens a second, so 32 tokens are 1.5 s), which a line the user
/// reads and accepts at once does not.
pub fn decide_mode(tree: &Tree, site: &Site<'_>) -> Mode {
    if !site.line_suffix().trim().is_empty() {
        return Mode::Line;
    }
    if inside_brackets(tree, site.cursor) {
        return Mode::Line;
    }
    let before = site.line_prefix().trim_end();
    let opens_block = |line: &str| {
        line.ends_with(" do") || line == "do" || line.ends_with("->") || line.ends_with("fn")
    };
    let starts_a_body = before.is_empty()
        && site.text[..site.cursor - site.line_prefix().len()]
            .lines()
            .rev()
            .map(str::trim_end)
            .find(|line| !line.trim().is_empty())
            .is_some_and(|line| opens_block(line.trim_start()));
    if opens_block(before) || starts_a_body {
        Mode::Block
    } else {
        Mode::Line
    }
}

fn inside_brackets(tree: &Tree, cursor: usize) -> bool {
    let Some(mut node) = tree.root_node().descendant_for_byte_range(cursor, cursor) else {
        return false;
    };
    loop {
        let bracketed = matches!(
            node.kind(),
            "arguments" | "list" | "tuple" | "map" | "bitstring"
        ) && node.start_byte() < cursor
            && cursor < node.end_byte();
        // `def f(x) do` has `arguments` without brackets around the cursor after `do`.
        if bracketed && opens_with_bracket(node) {
            return true;
        }
        match node.parent() {
            Some(parent) => node = parent,
            None => return false,
        }
    }
}

fn opens_with_bracket(node: Node<'_>) -> bool {
    node.child(0)
        .is_some_and(|first| matches!(first.kind(), "(" | "[" | "{" | "%" | "<<"))
}

/// Bytes of Elixir per token, roughly (cl100k and Qwen's tokenizer alike), to turn a token
/// budget into a window when there is no context engine to count.
const BYTES_PER_TOKEN: usize = 3;

/// What a completion prompt and its answer may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizing {
    /// Tokens of context (the text around the cursor and the workspace pieces).
    pub context_tokens: usize,
    /// Tokens the answer may have.
    pub answer_tokens: u32,
}

/// The fewest context tokens a prompt gets however slow the model: the cursor's line and a
/// few around it.
const MIN_CONTEXT_TOKENS: usize = 96;
/// Tokens a one-line answer typically has, to plan the time of its writing.
const LINE_ANSWER_TOKENS: usize = 16;

/// Sizes a completion so that a model of `speed` answers within `target`: the time to write
/// the answer first (a line is short, capped at what half the target writes, 24 to 64 tokens;
/// a block gets what half the target writes, between 16 and 256 tokens), then the prompt gets
/// the tokens the model reads in the rest, at most `max_context`. A remote service reads
/// thousands of tokens a second and gets `max_context`; a 0.5B model on two CPU cores
/// (~80 tokens/s) gets a couple of hundred.
pub fn sized_to(
    speed: crate::llm::SpeedEstimate,
    target: std::time::Duration,
    mode: Mode,
    max_context: usize,
) -> Sizing {
    // The server's own costs (the request, tokenizing, the first sampling step).
    let overhead = std::time::Duration::from_millis(150);
    let available = target.saturating_sub(overhead);
    // A line ends at its line break (the stop sequence), usually within 16 tokens; the cap
    // only bounds a model that runs on (a 0.5B model wrote 64-token lines of map literals,
    // 3 s at 22 tokens/s): what it writes in half the target, at least a long line's 24.
    let answer_tokens = match mode {
        Mode::Line => speed.generated_tokens_in(available / 2).clamp(24, 64) as u32,
        // A slow model's block is a line or two: 32 tokens were 2.6 s of writing at load 2
        // on two cores, the p90 of first suggestions.
        Mode::Block => speed.generated_tokens_in(available / 2).clamp(16, 256) as u32,
    };
    let planned_answer = match mode {
        Mode::Line => LINE_ANSWER_TOKENS,
        Mode::Block => answer_tokens as usize,
    };
    let reading = available.saturating_sub(speed.time_for(0, planned_answer));
    let context_tokens = speed
        .prompt_tokens_in(reading)
        .clamp(MIN_CONTEXT_TOKENS.min(max_context), max_context);
    Sizing {
        context_tokens,
        answer_tokens,
    }
}

/// The fill-in-the-middle request for a cursor: the text around it (cut at line boundaries,
/// about `budget_tokens` in all, 70 % before the cursor), a token budget and stop sequences
/// fitting the mode. Not redacted here: the engine's gateway redacts every request as a whole
/// before it leaves.
pub fn fim_request(
    site: &Site<'_>,
    mode: Mode,
    timeout: std::time::Duration,
    budget_tokens: usize,
) -> crate::llm::LlmRequest {
    let bytes = budget_tokens * BYTES_PER_TOKEN;
    fim_request_from(
        prompt_prefix(site.text, site.cursor, bytes * 7 / 10),
        prompt_suffix(site.text, site.cursor, bytes * 3 / 10),
        mode,
        timeout,
    )
}

/// The fill-in-the-middle request for an assembled context at `path` in the workspace folder
/// `workspace`: the prefix and suffix, and the workspace pieces it chose as the repository
/// around them (laid out for the model's family by the provider layer).
pub fn fim_request_with_context(
    context: &crate::context::AssembledContext,
    workspace: &str,
    path: &std::path::Path,
    mode: Mode,
    timeout: std::time::Duration,
) -> crate::llm::LlmRequest {
    let request = crate::llm::LlmRequest::fim_in_repository(
        healed(context.prefix.clone()),
        context.suffix.clone(),
        context.repository(workspace, path),
    );
    with_completion_settings(request, mode, timeout)
}

fn fim_request_from(
    prefix: String,
    suffix: String,
    mode: Mode,
    timeout: std::time::Duration,
) -> crate::llm::LlmRequest {
    with_completion_settings(
        crate::llm::LlmRequest::fim(healed(prefix), suffix),
        mode,
        timeout,
    )
}

/// A prompt's text before the cursor, ending where the model's tokenizer would end it. BPE
/// tokenizers (Qwen's and most code models') give a run of spaces' last space to the word
/// after it (`"   "`, `" |>"`), so a prefix ending in a line's whole indentation asks for a
/// token sequence the model rarely saw: Qwen2.5-Coder 0.5B then wrote `| String.replace(..)`
/// for `|> String.replace(..)` and `{v0: ..}` for `%{v0: ..}`. On a line holding only
/// indentation, the last space is left to the model; [`clean`] drops the answer's leading
/// spaces, which the line already has.
fn healed(mut prefix: String) -> String {
    let line = &prefix[prefix.rfind('\n').map_or(0, |at| at + 1)..];
    if !line.is_empty() && line.bytes().all(|b| b == b' ') {
        prefix.pop();
    }
    prefix
}

fn with_completion_settings(
    request: crate::llm::LlmRequest,
    mode: Mode,
    timeout: std::time::Duration,
) -> crate::llm::LlmRequest {
    request
        .with_max_tokens(match mode {
            Mode::Line => 64,
            Mode::Block => 256,
        })
        // Greedy: the suggestion shown is the model's most likely text, the same every time
        // at the same place (a suggestion that changes when asked again reads as noise, and a
        // quality comparison needs it). Extra candidates are sampled on top of it.
        .with_temperature(0.0)
        .with_stop(stop_sequences(mode))
        .with_timeout(timeout)
}

/// The prompt's text before the cursor: at most `max_bytes`, starting at a line start.
fn prompt_prefix(text: &str, cursor: usize, max_bytes: usize) -> String {
    let mut start = cursor.saturating_sub(max_bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    if start > 0 {
        start = text[start..cursor]
            .find('\n')
            .map_or(start, |at| start + at + 1);
    }
    text[start..cursor].to_owned()
}

/// The prompt's text after the cursor: at most `max_bytes`, ending at a line end.
fn prompt_suffix(text: &str, cursor: usize, max_bytes: usize) -> String {
    let mut end = (cursor + max_bytes).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if end < text.len() {
        end = text[cursor..end]
            .rfind('\n')
            .map_or(end, |at| cursor + at + 1);
    }
    text[cursor..end].to_owned()
}

/// Stop sequences for a mode: a line ends at a line break; a block at a blank line run.
pub fn stop_sequences(mode: Mode) -> Vec<String> {
    match mode {
        Mode::Line => vec!["\n".to_owned()],
        Mode::Block => vec!["\n\n\n".to_owned()],
    }
}

/// True once enough text has streamed in to decide the completion, so reading can stop.
pub fn is_decided(partial: &str, site: &Site<'_>, mode: Mode) -> bool {
    match mode {
        Mode::Line => partial.trim_start_matches('\n').contains('\n'),
        Mode::Block => block_end(partial, site.indentation()).is_some(),
    }
}

/// Where the enclosing block ends inside `completion`: the first line that is indented less
/// than the cursor's line (the `end` of an outer block, or the next definition).
fn block_end(completion: &str, base_indent: &str) -> Option<usize> {
    let mut offset = 0;
    for (index, line) in completion.split_inclusive('\n').enumerate() {
        let content = line.trim_end_matches(['\n', '\r']);
        let indent = content.len() - content.trim_start().len();
        // The first line continues the cursor's line: its indentation is what the user typed.
        if index > 0 && !content.trim().is_empty() && indent < base_indent.len() {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

/// Cleans a model's answer for the cursor: removes fences and echoes of the typed line, keeps
/// one line or the rest of the block, removes what duplicates the suffix, drops degenerate
/// repetition. `None` when nothing useful is left.
pub fn clean(raw: &str, site: &Site<'_>, mode: Mode) -> Option<String> {
    let mut text = crate::llm::fim::clean_chat_fill(raw);
    // Chat models sometimes repeat the line the user is typing.
    let typed = site.line_prefix().trim_start();
    if !typed.is_empty() {
        if let Some(rest) = text.trim_start().strip_prefix(typed) {
            text = rest.to_owned();
        }
    }
    // On a line of indentation only, the prompt left the last space to the model (`healed`):
    // the answer starts at the line's indentation, which the line already has.
    let line_prefix = site.line_prefix();
    if !line_prefix.is_empty() && line_prefix.bytes().all(|b| b == b' ') {
        text = text.trim_start_matches(' ').to_owned();
    }
    match mode {
        Mode::Line => {
            let first = text.trim_start_matches('\n');
            let end = first.find('\n').unwrap_or(first.len());
            text = first[..end].trim_end().to_owned();
        }
        Mode::Block => {
            if let Some(end) = block_end(&text, site.indentation()) {
                text.truncate(end);
            }
            text = drop_repetition(&text);
            text = text.trim_end().to_owned();
        }
    }
    text = remove_suffix_overlap(&text, site);
    if text.trim().is_empty() || repeats_the_line_below(&text, site) {
        return None;
    }
    Some(text)
}

/// True when a statement written on a line of its own is the line below the cursor again: a
/// small model fills the hole with what the suffix shows next (`|> Repo.update()` above
/// `|> Repo.update()`, `conn` above `conn`; 7 of 40 held-out lines for Qwen2.5-Coder 0.5B with
/// the context, 6 with the file only, `end`s included). Nobody wants that line twice.
fn repeats_the_line_below(completion: &str, site: &Site<'_>) -> bool {
    if !site.line_prefix().trim().is_empty() || !site.line_suffix().trim().is_empty() {
        return false;
    }
    let first = completion.lines().next().unwrap_or_default().trim();
    let below = site.text[site.cursor..]
        .lines()
        .skip(1)
        .map(str::trim)
        .find(|line| !line.is_empty());
    // An `end` above an `end` closes a block the user left open; a stray one is caught by
    // the parse check (`keywords_read_as_variables`).
    !first.is_empty() && first != "end" && below == Some(first)
}

/// Removes the end of `completion` that the text after the cursor already has (a closing
/// bracket the editor auto-inserted, the rest of a line).
fn remove_suffix_overlap(completion: &str, site: &Site<'_>) -> String {
    let suffix = site.line_suffix();
    if suffix.trim().is_empty() {
        return completion.to_owned();
    }
    if completion.trim_end() == suffix.trim_end() {
        return String::new();
    }
    let mut overlap = 0;
    for (end, _) in suffix
        .char_indices()
        .skip(1)
        .chain(std::iter::once((suffix.len(), ' ')))
    {
        if completion.ends_with(&suffix[..end]) {
            overlap = end;
        }
    }
    let overlapping = &suffix[..overlap];
    if !overlapping
        .chars()
        .all(|c| matches!(c, ')' | ']' | '}' | ' '))
    {
        return completion[..completion.len() - overlap].to_owned();
    }
    // Only brackets overlap: they are the suffix's as far as the completion closes more than
    // it opens; the rest close the completion's own calls (`map(& &1.x)` before a `)`).
    let mut excess = excess_closers(completion);
    let mut end = completion.len();
    for (at, c) in completion.char_indices().rev() {
        if excess <= 0 || end - at > overlap {
            break;
        }
        if c != ' ' {
            excess -= 1;
        }
        end = at;
    }
    completion[..end].to_owned()
}

/// Closing brackets minus opening ones, outside string literals.
fn excess_closers(text: &str) -> i64 {
    let mut balance = 0i64;
    let mut in_string = false;
    let mut previous = '\0';
    for c in text.chars() {
        match c {
            '"' if previous != '\\' => in_string = !in_string,
            '(' | '[' | '{' if !in_string => balance -= 1,
            ')' | ']' | '}' if !in_string => balance += 1,
            _ => {}
        }
        previous = c;
    }
    balance
}

/// Cuts a block where the model starts looping: the same non-blank line three times in a row.
fn drop_repetition(text: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for line in text.split_inclusive('\n') {
        let n = kept.len();
        if n >= 2
            && !line.trim().is_empty()
            && kept[n - 1].trim() == line.trim()
            && kept[n - 2].trim() == line.trim()
        {
            kept.truncate(n - 2);
            break;
        }
        kept.push(line);
    }
    kept.concat()
}

/// Checks that `completion` inserted at the cursor parses, and repairs it by trimming if not:
/// whole lines from the end for a block, trailing tokens for a line. `None` when nothing that
/// parses is left, or when a line only parses because a block opener (`do`, `fn`, `->`) was
/// cut: `valid = if user` parses and cannot compile.
///
/// "Parses" means every syntax error left in the document was there before, away from the
/// cursor's line, at the same place: errors on the line being typed must be gone, and an error
/// that moves (tree-sitter blaming the next line for an unclosed form) is new. Comparing counts
/// was not enough: the half-typed line's error made room for one the completion caused
/// elsewhere. Unrelated errors elsewhere in the file do not block suggestions. A new block
/// keyword read as a variable counts as an error: an `end` that closes the function early
/// leaves the module's last `end` a variable to tree-sitter, and the compiler refuses it.
///
/// Reparses incrementally from the document's tree, so this costs milliseconds.
pub fn fit_to_syntax(
    rope: &Rope,
    tree: &Tree,
    cursor: usize,
    completion: &str,
    mode: Mode,
) -> Option<String> {
    let tolerated = unrelated_errors(rope, tree, cursor);
    // Counted once: each shortening below reparses, the document before it is the same.
    let form = top_level_form_at(tree, cursor);
    let keywords_before = keywords_read_as_variables(tree.root_node(), rope, form.clone()).len();
    let mut candidate = completion.to_owned();
    for _ in 0..12 {
        if candidate.trim().is_empty() {
            return None;
        }
        let fits = !ends_dangling(&candidate)
            && parses_in_place(
                rope,
                tree,
                cursor,
                &candidate,
                (form.clone(), keywords_before),
            )
            .is_some_and(|errors| {
                let inserted = cursor..cursor + candidate.len();
                errors
                    .iter()
                    .all(|error| is_tolerated(error, &tolerated, &inserted))
            });
        if fits {
            return Some(candidate);
        }
        let shorter = shorten(&candidate, mode)?;
        if mode == Mode::Line && cuts_block_opener(&candidate[shorter.len()..]) {
            return None;
        }
        candidate = shorter;
    }
    None
}

/// The document's syntax errors that do not touch the cursor's line: the completion is not
/// asked to fix them, only not to move them.
fn unrelated_errors(rope: &Rope, tree: &Tree, cursor: usize) -> Vec<std::ops::Range<usize>> {
    let line = rope.try_byte_to_line(cursor).unwrap_or(0);
    let line_start = rope.line_to_byte(line);
    let line_end = rope.line_to_byte((line + 1).min(rope.len_lines()));
    error_nodes(tree.root_node())
        .into_iter()
        .filter(|e| e.end.max(e.start + 1) <= line_start || line_end <= e.start)
        .collect()
}

/// True when `error`, in the text with `inserted` in it, lies inside an error the text had
/// before (moved by the insertion) and not in the inserted text.
fn is_tolerated(
    error: &std::ops::Range<usize>,
    before: &[std::ops::Range<usize>],
    inserted: &std::ops::Range<usize>,
) -> bool {
    if error.start < inserted.end && inserted.start < error.end.max(error.start + 1) {
        return false;
    }
    let shift = |at: usize| {
        if at >= inserted.start {
            at + inserted.len()
        } else {
            at
        }
    };
    before
        .iter()
        .any(|old| shift(old.start) <= error.start && error.end <= shift(old.end))
}

/// The syntax errors of the document with `completion` inserted at `cursor`; the document
/// had `keywords_before.1` block keywords read as variables in the top-level form
/// `keywords_before.0` around the cursor.
fn parses_in_place(
    rope: &Rope,
    tree: &Tree,
    cursor: usize,
    completion: &str,
    keywords_before: (std::ops::Range<usize>, usize),
) -> Option<Vec<std::ops::Range<usize>>> {
    let (form, keywords_before) = keywords_before;
    let mut edited_rope = rope.clone();
    let char_index = edited_rope.try_byte_to_char(cursor).ok()?;
    edited_rope.insert(char_index, completion);
    let mut edited_tree = tree.clone();
    let edit: InputEdit = syntax::input_edit(rope, &edited_rope, cursor, cursor, completion.len());
    edited_tree.edit(&edit);
    let reparsed = syntax::parse(&edited_rope, Some(&edited_tree)).ok()?;
    let mut errors = error_nodes(reparsed.root_node());
    // Elixir refuses a block's keyword read as a variable: an error the tree does not show.
    // Only new ones count: the document may have its own.
    let form_after = form.start..form.end + completion.len();
    let after = keywords_read_as_variables(reparsed.root_node(), &edited_rope, form_after);
    if after.len() > keywords_before {
        errors.extend(after);
    }
    Some(errors)
}

/// The top-level form (a module, most often) holding `cursor`, as a byte range; an empty
/// range at the cursor between forms.
fn top_level_form_at(tree: &Tree, cursor: usize) -> std::ops::Range<usize> {
    let root = tree.root_node();
    let mut walk = root.walk();
    let form = root
        .children(&mut walk)
        .find(|node| node.start_byte() <= cursor && cursor <= node.end_byte());
    form.map_or(cursor..cursor, |node| node.byte_range())
}

/// The reserved words of blocks (`end`, `else`, `do`...) that the tree reads as variables
/// within `window`: tree-sitter accepts an `end` that closes the function early, reading the
/// module's last `end` as a variable; the compiler does not. The window is the top-level form
/// around the cursor (with the completion in it): an `end` a completion strays is one of that
/// form's, and walking the whole tree of a long file at each check cost milliseconds.
fn keywords_read_as_variables(
    root: Node<'_>,
    rope: &Rope,
    window: std::ops::Range<usize>,
) -> Vec<std::ops::Range<usize>> {
    const RESERVED: [&str; 6] = ["end", "else", "do", "after", "catch", "rescue"];
    let mut found = Vec::new();
    let mut walk = root.walk();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if node.end_byte() < window.start || window.end < node.start_byte() {
            continue;
        }
        if node.kind() == "identifier" && node.byte_range().len() <= 6 {
            let text = rope.get_byte_slice(node.start_byte()..node.end_byte());
            if text.is_some_and(|text| RESERVED.iter().any(|word| text == *word)) {
                found.push(node.byte_range());
            }
            continue;
        }
        stack.extend(node.children(&mut walk));
    }
    found
}

/// True when text cut from the end of a line opens a block (`if user do`, `fn x ->`): what is
/// left parses only because the block it started is gone.
fn cuts_block_opener(cut: &str) -> bool {
    cut.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '>'))
        .any(|word| matches!(word, "do" | "fn" | "->"))
}

/// True when the text stops where an expression must go on (an operator, an open bracket, a
/// comma): tree-sitter often blames the next line for it, outside the inserted text.
fn ends_dangling(candidate: &str) -> bool {
    let trimmed = candidate.trim_end();
    trimmed.ends_with([
        '+', '-', '*', '/', '=', '<', '>', '|', '&', ',', '(', '[', '{', '.', '\\',
    ]) || trimmed.ends_with(" do:")
        || trimmed.ends_with(" when")
}

fn shorten(candidate: &str, mode: Mode) -> Option<String> {
    let trimmed = candidate.trim_end();
    let cut = match mode {
        Mode::Block => trimmed.rfind('\n')?,
        Mode::Line => trimmed
            .rfind([' ', ',', '(', '[', '{', '|'])
            .filter(|&at| at > 0)?,
    };
    Some(trimmed[..cut].to_owned())
}

/// The byte ranges of the ERROR and MISSING nodes in a tree.
fn error_nodes(root: Node<'_>) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    if !root.has_error() {
        return found;
    }
    let mut cursor = root.walk();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if node.is_error() || node.is_missing() {
            found.push(node.byte_range());
            continue;
        }
        if node.has_error() {
            stack.extend(node.children(&mut cursor));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse_str;

    /// Splits a fixture at `┃`, the cursor.
    fn site(fixture: &str) -> (String, usize) {
        let cursor = fixture.find('┃').expect("cursor marker");
        (fixture.replacen('┃', "", 1), cursor)
    }

    fn mode_at(fixture: &str) -> Mode {
        let (text, cursor) = site(fixture);
        decide_mode(
            &parse_str(&text).expect("parse"),
            &Site {
                text: &text,
                cursor,
            },
        )
    }

    fn cleaned(fixture: &str, raw: &str) -> Option<String> {
        let (text, cursor) = site(fixture);
        let tree = parse_str(&text).expect("parse");
        let site = Site {
            text: &text,
            cursor,
        };
        let mode = decide_mode(&tree, &site);
        let cleaned = clean(raw, &site, mode)?;
        fit_to_syntax(&Rope::from_str(&text), &tree, cursor, &cleaned, mode)
    }

    #[test]
    fn a_line_of_indentation_only_leaves_its_last_space_to_the_model() {
        let fixture = "def f(x) do\n  x\n  ┃\n  |> g()\nend\n";
        let (text, cursor) = site(fixture);
        let request = fim_request(
            &Site {
                text: &text,
                cursor,
            },
            Mode::Line,
            std::time::Duration::from_secs(1),
            1_000,
        );
        let crate::llm::types::Prompt::Fim { prefix, .. } = &request.prompt else {
            panic!("a fill-in-the-middle prompt");
        };
        assert_eq!(prefix, "def f(x) do\n  x\n ");
        // The answer, in the tokens the model writes after ` `, goes in after the indentation.
        assert_eq!(cleaned(fixture, " |> h()").as_deref(), Some("|> h()"));
        // A line with code before the cursor keeps its prefix whole.
        assert_eq!(healed("  x = ".to_owned()), "  x = ");
        assert_eq!(healed("end\n".to_owned()), "end\n");
    }

    #[test]
    fn prompt_windows_cut_at_line_boundaries() {
        let text = format!("{}\nlast line before ", "x".repeat(7_000));
        let prefix = prompt_prefix(&text, text.len(), 6_000);
        assert_eq!(prefix, "last line before ");
        let text = format!("after\n{}", "y".repeat(3_000));
        assert_eq!(prompt_suffix(&text, 0, 2_000), "after\n");
    }

    #[test]
    fn a_slow_model_gets_a_prompt_it_reads_within_the_target() {
        let cpu = crate::llm::SpeedEstimate {
            prompt_tokens_per_s: 80.0,
            generated_tokens_per_s: 20.0,
            samples: 5,
        };
        let target = std::time::Duration::from_millis(2_500);
        let line = sized_to(cpu, target, Mode::Line, 1_536);
        assert!(
            (120..=200).contains(&line.context_tokens),
            "{line:?}: 2.35 s minus 0.8 s of writing, at 80 tokens/s"
        );
        let total = cpu.time_for(line.context_tokens, LINE_ANSWER_TOKENS);
        assert!(total <= target, "{total:?}");
        assert_eq!(
            line.answer_tokens, 24,
            "a long line's worth, not 64 tokens (3 s) at 20/s"
        );
        let block = sized_to(cpu, target, Mode::Block, 1_536);
        assert_eq!(
            block.answer_tokens, 23,
            "what half the target writes, not 256 tokens at 20/s"
        );
        let loaded = crate::llm::SpeedEstimate {
            generated_tokens_per_s: 10.0,
            ..cpu
        };
        assert_eq!(
            sized_to(loaded, target, Mode::Block, 1_536).answer_tokens,
            16,
            "a line or two on a busy machine"
        );
        assert_eq!(
            block.context_tokens, MIN_CONTEXT_TOKENS,
            "the floor, at least"
        );
        let remote = crate::llm::SpeedEstimate::assumed(false);
        assert_eq!(
            sized_to(remote, target, Mode::Line, 1_536).context_tokens,
            1_536
        );
        assert_eq!(
            sized_to(remote, target, Mode::Block, 1_536).answer_tokens,
            70
        );
    }

    #[test]
    fn argument_lists_get_a_line_and_empty_bodies_a_block() {
        assert_eq!(mode_at("def f(x) do\n  Enum.map(x, ┃)\nend\n"), Mode::Line);
        assert_eq!(mode_at("def f(x) do\n  Enum.map(x, ┃\nend\n"), Mode::Line);
        assert_eq!(mode_at("def f(x) do\n  ┃\nend\n"), Mode::Block);
        assert_eq!(mode_at("def f(x) do\n\n  ┃\nend\n"), Mode::Block);
        assert_eq!(mode_at("def f(x) do┃\nend\n"), Mode::Block);
        assert_eq!(mode_at("def f(x) do\n  y = x + ┃\nend\n"), Mode::Line);
        assert_eq!(mode_at("case x do\n  :ok ->┃\nend\n"), Mode::Block);
    }

    #[test]
    fn an_empty_line_between_statements_gets_one_line_and_the_first_line_of_a_body_a_block() {
        assert_eq!(mode_at("def f(x) do\n  y = x\n  ┃\nend\n"), Mode::Line);
        assert_eq!(mode_at("def f(x) do\n  y = x\n  ┃\n  y\nend\n"), Mode::Line);
        assert_eq!(mode_at("case x do\n  :ok ->\n    ┃\nend\n"), Mode::Block);
    }

    #[test]
    fn a_line_completion_stops_at_the_line_end_and_drops_what_the_suffix_has() {
        let fixture = "def f(x) do\n  Enum.map(x, ┃)\nend\n";
        assert_eq!(
            cleaned(fixture, "&(&1 * 2))\n  |> Enum.sum()"),
            Some("&(&1 * 2)".to_owned())
        );
        assert_eq!(cleaned(fixture, ")"), None, "only what is already there");
        let call = "def f(x) do\n  Enum.sum(x┃)\nend\n";
        assert_eq!(
            cleaned(call, " |> Enum.map(& &1.price)"),
            Some(" |> Enum.map(& &1.price)".to_owned()),
            "its own bracket"
        );
        assert_eq!(
            cleaned(call, ", 0))"),
            Some(", 0".to_owned()),
            "one bracket is the suffix's, one too many"
        );
    }

    #[test]
    fn a_block_completion_stops_at_the_end_of_the_enclosing_block() {
        let fixture = "defmodule M do\n  def f(x) do\n    ┃\n  end\nend\n";
        let raw = "y = x * 2\n    y + 1\n  end\n\n  def g, do: 1\n";
        assert_eq!(
            cleaned(fixture, raw),
            Some("y = x * 2\n    y + 1".to_owned())
        );
    }

    #[test]
    fn echoes_fences_and_loops_are_removed() {
        let fixture = "def f(x) do\n  total = ┃\nend\n";
        assert_eq!(
            cleaned(fixture, "```elixir\ntotal = x + 1\n```"),
            Some("x + 1".to_owned())
        );
        let block = "defmodule M do\n  def f(x) do\n    ┃\n  end\nend\n";
        let looping = "x = 1\n    IO.puts(x)\n    IO.puts(x)\n    IO.puts(x)\n    IO.puts(x)\n";
        assert_eq!(cleaned(block, looping), Some("x = 1".to_owned()));
    }

    #[test]
    fn completions_that_break_the_syntax_are_repaired_or_dropped() {
        let block = "defmodule M do\n  def f(x) do\n    ┃\n  end\nend\n";
        // The last line opens a block it never closes: trimmed away.
        assert_eq!(
            cleaned(block, "y = x + 1\n    case y do"),
            Some("y = x + 1".to_owned())
        );
        // Nothing that parses is left.
        assert_eq!(cleaned(block, "case do do do"), None);
        let line = "def f(x) do\n  y = ┃\nend\n";
        assert_eq!(cleaned(line, "x + (1 *"), Some("x".to_owned()));
    }

    #[test]
    fn a_line_that_parses_only_without_its_block_opener_is_dropped() {
        let fixture = "def check(user) do\n  valid_user = ┃\n  valid_user\nend\n";
        assert_eq!(cleaned(fixture, "if user do"), None);
        assert_eq!(cleaned(fixture, "Enum.map(users, fn u ->"), None);
        assert_eq!(
            cleaned(fixture, "user && user.active"),
            Some("user && user.active".to_owned())
        );
    }

    #[test]
    fn an_error_the_completion_moves_below_the_cursor_is_caught() {
        // Before: one error, the half-typed `y = `. After `[1, 2`: one error, blamed on a later
        // line. Equal counts passed; the error is new.
        let fixture = "defmodule M do\n  def f(x) do\n    y = ┃\n    y\n  end\nend\n";
        assert_eq!(cleaned(fixture, "[1, 2"), None);
        assert_eq!(cleaned(fixture, "[1, 2]"), Some("[1, 2]".to_owned()));
    }

    #[test]
    fn a_statement_that_repeats_the_line_below_is_dropped() {
        let fixture = "def f(user) do\n  user\n  ┃\n  |> Repo.update()\nend\n";
        assert_eq!(cleaned(fixture, "|> Repo.update()"), None);
        assert_eq!(
            cleaned(fixture, "|> User.confirm_changeset()"),
            Some("|> User.confirm_changeset()".to_owned())
        );
        // Typed on the line: the same text as below is what the user is writing.
        let typed = "def f(user) do\n  user\n  |> Repo.┃\n  |> Repo.update()\nend\n";
        assert_eq!(cleaned(typed, "update()"), Some("update()".to_owned()));
    }

    #[test]
    fn a_keyword_that_only_parses_as_a_variable_is_dropped() {
        // `end` alone on a statement line, where no block is open: tree-sitter reads it as a
        // variable and the file still "parses"; Elixir refuses it. The 0.5B model wrote it at
        // 4 of 40 held-out lines with the context, 1 with the file only (`completion_quality`).
        // (An `else` there reads as the function's `else` block: syntax Elixir has, for `if`.)
        let statement =
            "defmodule M do\n  def f(conn) do\n    conn\n    |> g()\n    ┃\n  end\nend\n";
        assert_eq!(cleaned(statement, "end"), None);
        assert_eq!(cleaned(statement, "|> h()"), Some("|> h()".to_owned()));
        // Closing a block the user left open is an `end` that belongs there.
        let open = "defmodule M do\n  def f(x) do\n    x\n  ┃\nend\n";
        assert_eq!(cleaned(open, "end"), Some("end".to_owned()));
        // Only the form around the cursor is walked: modules before and after it do not hide
        // the stray `end`, nor does one the document already had in another module.
        let among = "defmodule A do\n  def a, do: 1\nend\n\ndefmodule M do\n  def f(conn) do\n    conn\n    ┃\n  end\nend\n\ndefmodule Z do\n  def z(end), do: 2\nend\n";
        assert_eq!(cleaned(among, "end"), None);
        assert_eq!(cleaned(among, "|> h()"), Some("|> h()".to_owned()));
    }

    #[test]
    fn an_unrelated_syntax_error_elsewhere_does_not_block_suggestions() {
        let fixture = "defmodule M do\n  def f(x) do\n    y = ┃\n  end\n\n  def broken(a do\n    a\n  end\nend\n";
        assert_eq!(cleaned(fixture, "x + 1"), Some("x + 1".to_owned()));
    }
}
