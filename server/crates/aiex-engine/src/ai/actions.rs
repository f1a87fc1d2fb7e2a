//! Code actions with a model: what to ask for a function (explain, add `@doc`/`@spec`,
//! refactor, tests) and how to turn the answer into an edit that touches nothing but its
//! target and still parses.

use crate::chunks::{ByteRange, Doc, FileChunks, FunctionChunk, ModuleChunk};
use crate::llm::LlmRequest;

/// The function under a cursor, with its module.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The module defining it (`None` for a script's top-level function).
    pub module: Option<&'a ModuleChunk>,
    /// The function.
    pub function: &'a FunctionChunk,
}

impl Target<'_> {
    /// `Module.name/arity`.
    pub fn label(&self) -> String {
        match self.module {
            Some(module) => format!("{}.{}", module.name, self.function.label()),
            None => self.function.label(),
        }
    }

    /// The bytes of every clause, from the first to the last (leading attributes excluded).
    pub fn clauses_range(&self) -> ByteRange {
        let start = self
            .function
            .clauses
            .first()
            .map_or(self.function.range.start, |c| c.range.start);
        ByteRange {
            start,
            end: self.function.range.end,
        }
    }
}

/// The function whose definition contains `offset`, innermost module first.
pub fn target_at(chunks: &FileChunks, offset: usize) -> Option<Target<'_>> {
    let module = chunks.module_at(offset);
    let functions = module.map_or(&chunks.functions, |m| &m.functions);
    let function = functions.iter().find(|f| f.range.contains(offset))?;
    Some(Target { module, function })
}

const SYSTEM: &str = "You are an expert Elixir developer helping inside an editor. Answer with \
                      idiomatic, compiling Elixir that follows the surrounding code's style.";

/// The system prompt for a task: who the model is and what it must do. The code goes in the
/// user message, so that nothing in a file can rewrite the task.
fn system(task: &str) -> String {
    format!("{SYSTEM}\n\nTask: {task}")
}

/// The module header a prompt shows: its name, moduledoc summary and directives.
fn module_header(target: &Target<'_>) -> String {
    let Some(module) = target.module else {
        return String::new();
    };
    let mut out = format!("defmodule {} do\n", module.name);
    if let Some(Doc::Text(text)) = &module.moduledoc {
        let summary = text.split("\n\n").next().unwrap_or("").trim();
        out.push_str(&format!("  @moduledoc \"{}\"\n", summary.replace('"', "'")));
    }
    for line in module.directive_lines() {
        out.push_str(&format!("  {line}\n"));
    }
    out
}

/// The request for an explanation of a function, as Markdown.
pub fn explain_request(target: &Target<'_>, source: &str, context: &str) -> LlmRequest {
    let task = "Explain what the function does for a developer reading it: its purpose, its \
                inputs and outputs, side effects (processes, messages, I/O, database), and edge \
                cases or failure modes. Be concise: a short paragraph, then bullet points. \
                Markdown, no preamble.";
    let code = &source[target.function.range.start..target.function.range.end];
    let user = format!(
        "{}\n\nFunction `{}`:\n```elixir\n{code}\n```",
        module_and_context(target, context),
        target.label()
    );
    LlmRequest::chat(Some(&system(task)), user)
        .with_max_tokens(600)
        .with_temperature(0.2)
}

/// What an explanation of a whole module is told: what the module says of itself, its public
/// functions (head, specs, first paragraph of their docs), and who calls it in the workspace.
/// Bounded: a large module shows its first functions.
pub fn module_explain_request(
    module: &ModuleChunk,
    callers: &[(String, Vec<String>)],
) -> LlmRequest {
    const MAX_FUNCTIONS: usize = 60;
    const MAX_CALLERS: usize = 30;
    let task = "Explain what the module is for, for a developer meeting it: its responsibility, \
                its main functions and how they fit together, its side effects (processes, \
                messages, I/O, database), and how the rest of the project uses it. Be concise: \
                a short paragraph, then bullet points. Markdown, no preamble.";
    let mut user = format!("Module `{}`", module.name);
    match &module.moduledoc {
        Some(Doc::Text(text)) => user.push_str(&format!(", its @moduledoc:\n\n{}\n", text.trim())),
        Some(Doc::Hidden) => user.push_str(" (@moduledoc false: internal).\n"),
        None => user.push_str(" (no @moduledoc).\n"),
    }
    let public: Vec<&FunctionChunk> = module
        .functions
        .iter()
        .filter(|f| !f.kind.is_private() && f.doc != Some(Doc::Hidden))
        .collect();
    user.push_str("\nPublic functions:\n```elixir\n");
    for function in public.iter().take(MAX_FUNCTIONS) {
        if let Some(Doc::Text(doc)) = &function.doc {
            let summary = doc.split("\n\n").next().unwrap_or("").trim();
            user.push_str(&format!("@doc \"{}\"\n", summary.replace('"', "'")));
        }
        for spec in &function.specs {
            user.push_str(&format!("@spec {spec}\n"));
        }
        let head = function
            .clauses
            .first()
            .map_or_else(|| function.label(), |c| c.signature.clone());
        user.push_str(&format!("{} {head}\n\n", function.kind.keyword()));
    }
    if public.len() > MAX_FUNCTIONS {
        user.push_str(&format!(
            "# ... and {} more\n",
            public.len() - MAX_FUNCTIONS
        ));
    }
    user.push_str("```\n");
    if callers.is_empty() {
        user.push_str("\nNothing else in the workspace calls it.\n");
    } else {
        user.push_str("\nCalled from (file: functions called):\n");
        for (file, functions) in callers.iter().take(MAX_CALLERS) {
            user.push_str(&format!("- {file}: {}\n", functions.join(", ")));
        }
    }
    LlmRequest::chat(Some(&system(task)), user)
        .with_max_tokens(800)
        .with_temperature(0.2)
}

/// What an explanation of a function outside the workspace is told (a dependency's, or
/// Elixir's own, described by the VM that has it loaded): its signatures, its documentation
/// and, when the privacy gate let its source through, its code.
pub fn external_explain_request(
    label: &str,
    signatures: &[String],
    doc: Option<&str>,
    code: Option<&str>,
) -> LlmRequest {
    let task = "Explain what the function does for a developer calling it: its purpose, its \
                inputs and outputs, side effects, and edge cases or failure modes, with a short \
                example call. Be concise: a short paragraph, then bullet points. Markdown, no \
                preamble.";
    let mut user = format!("Function `{label}`");
    if !signatures.is_empty() {
        user.push_str(&format!(
            ", called as:\n```elixir\n{}\n```",
            signatures.join("\n")
        ));
    }
    match doc {
        Some(doc) => user.push_str(&format!("\n\nIts documentation:\n\n{}\n", doc.trim())),
        None => user.push_str("\n\nIt has no documentation.\n"),
    }
    if let Some(code) = code {
        user.push_str(&format!(
            "\nIts source:\n```elixir\n{}\n```\n",
            code.trim_end()
        ));
    }
    LlmRequest::chat(Some(&system(task)), user)
        .with_max_tokens(600)
        .with_temperature(0.2)
}

/// The request for `@doc` and `@spec` of a function.
pub fn docs_request(target: &Target<'_>, source: &str, context: &str) -> LlmRequest {
    let task = "Write the @doc and the @spec for the function, matching the module's style. \
                Answer with only the attribute lines (`@doc` then `@spec`), no function body, \
                no explanation.";
    let code = &source[target.clauses_range().start..target.clauses_range().end];
    // The function named last, after the context: a small model otherwise documents whichever
    // function of the context caught its attention.
    let user = format!(
        "{}\n\nFunction:\n```elixir\n{code}\n```\n\nThe @doc and @spec for {} only.",
        module_and_context(target, context),
        target.function.label()
    );
    LlmRequest::chat(Some(&system(task)), user)
        .with_max_tokens(400)
        .with_temperature(0.2)
}

/// The request for a refactored version of a function.
pub fn refactor_request(
    target: &Target<'_>,
    source: &str,
    instruction: Option<&str>,
    context: &str,
) -> LlmRequest {
    let goal = instruction.filter(|i| !i.trim().is_empty()).map_or_else(
        || "for clarity and idiomatic Elixir, keeping its behaviour".to_owned(),
        |i| format!("as asked: {i}"),
    );
    let task = format!(
        "Refactor the function {goal}. Keep its name, arity and attributes. Answer with only \
         the complete new definition (attributes and every clause) in one ```elixir block."
    );
    let code = &source[target.function.range.start..target.function.range.end];
    let user = format!(
        "{}\n\nFunction:\n```elixir\n{code}\n```",
        module_and_context(target, context)
    );
    // Asking again means wanting another version: never served from the cache.
    LlmRequest::chat(Some(&system(&task)), user)
        .with_max_tokens(1200)
        .with_temperature(0.2)
        .without_cache()
}

/// The request for ExUnit tests of a function. `existing` is the test file when it exists
/// (the answer then adds `describe` blocks to it); `example` is another test file of the
/// project, to copy its style.
pub fn tests_request(
    target: &Target<'_>,
    source: &str,
    existing: Option<&str>,
    example: Option<&str>,
    context: &str,
) -> LlmRequest {
    let label = target.function.label();
    let task = match existing {
        Some(_) => format!(
            "Generate tests for {label} with ExUnit: one `describe \"{label}\"` block covering the \
             normal cases and the edge cases, to add to the existing test module shown. Answer \
             with only that describe block in one ```elixir block."
        ),
        None => format!(
            "Generate tests for {label} with ExUnit: a complete test module named after the \
             module with a `Test` suffix, `use ExUnit.Case, async: true`, and one \
             `describe \"{label}\"` block covering the normal cases and the edge cases. Answer \
             with only the module in one ```elixir block."
        ),
    };
    let code = &source[target.function.range.start..target.function.range.end];
    let mut user = format!(
        "{}\n\nFunction:\n```elixir\n{code}\n```",
        module_and_context(target, context)
    );
    if let Some(existing) = existing {
        user.push_str(&format!(
            "\n\nExisting test module:\n```elixir\n{existing}\n```"
        ));
    } else if let Some(example) = example {
        user.push_str(&format!(
            "\n\nAnother test file of this project, for its style:\n```elixir\n{example}\n```"
        ));
    }
    LlmRequest::chat(Some(&system(&task)), user)
        .with_max_tokens(tests_answer_tokens(code.len()))
        .with_temperature(0.2)
        .without_cache()
}

/// The most of the model's answer asked for in tests of `code_bytes` of code: a few tests per
/// line of the function, so the cap grows with it. A flat 1,500 tokens let Qwen2.5-Coder 0.5B
/// write the same test over and over to the cap, about 100 s on two CPU cores, for a
/// five-line function; a describe block of five tests of such a function is 300-500 tokens.
fn tests_answer_tokens(code_bytes: usize) -> u32 {
    // About 3 bytes of Elixir per token.
    let function_tokens = (code_bytes / 3) as u32;
    (300 + 4 * function_tokens).clamp(400, 1_500)
}

/// The request to repair generated tests that failed under `mix test`, once: the function,
/// the failing tests as written and ExUnit's report. The answer is `test` blocks only, added to
/// the test file that kept the passing ones.
pub fn repair_tests_request(
    target: &Target<'_>,
    source: &str,
    failing: &str,
    report: &str,
) -> LlmRequest {
    let label = target.function.label();
    let task = format!(
        "These ExUnit tests of {label} failed. The function is right: fix the tests so they \
         state what the function really does (or drop a test that cannot). Answer with only \
         the corrected `test` blocks, no `describe`, no module, in one ```elixir block."
    );
    let code = &source[target.function.range.start..target.function.range.end];
    let user = format!(
        "{}\n\nFunction:\n```elixir\n{code}\n```\n\nFailing tests:\n```elixir\n{}\n```\n\n\
         mix test said:\n```\n{}\n```",
        module_and_context(target, ""),
        failing.trim_end(),
        report.trim_end()
    );
    // The corrected tests are about as long as the failing ones.
    let failing_tokens = (failing.len() / 3) as u32;
    LlmRequest::chat(Some(&system(&task)), user)
        .with_max_tokens((200 + failing_tokens * 3 / 2).clamp(300, 1_500))
        .with_temperature(0.2)
        .without_cache()
}

/// The test file of a source file: `lib/a/b.ex` → `test/a/b_test.exs`; other paths keep
/// their directories under `test/`.
pub fn test_path_for(relative: &std::path::Path) -> std::path::PathBuf {
    let without_lib = relative.strip_prefix("lib").unwrap_or(relative);
    let stem = without_lib
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = without_lib
        .parent()
        .unwrap_or_else(|| std::path::Path::new(""));
    std::path::Path::new("test")
        .join(parent)
        .join(format!("{stem}_test.exs"))
}

/// The new content of a test file: the answer's module for a new file, or the existing
/// file with the answer's `describe` blocks added before its last `end`. `None` when the
/// result would not parse.
pub fn tests_file(answer: &str, existing: Option<&str>, module_name: &str) -> Option<String> {
    let code = code_of(answer);
    let result = match existing {
        None if code.trim_start().starts_with("defmodule") => format!("{}\n", code.trim_end()),
        None => format!(
            "defmodule {module_name}Test do\n  use ExUnit.Case, async: true\n\n{}\nend\n",
            reindent(&code, "  ")
        ),
        Some(existing) => {
            let blocks = if code.trim_start().starts_with("defmodule") {
                module_body(&code)?
            } else {
                code
            };
            let end = existing.trim_end().strip_suffix("end")?;
            format!(
                "{}\n{}\nend\n",
                end.trim_end(),
                format_args!("\n{}", reindent(&blocks, "  "))
            )
        }
    };
    let parses = crate::syntax::parse_str(&result).is_ok_and(|tree| !tree.root_node().has_error());
    parses.then_some(result)
}

/// The lines between a module's first line and its last `end`.
fn module_body(code: &str) -> Option<String> {
    let trimmed = code.trim();
    let (_, rest) = trimmed.split_once('\n')?;
    let body = rest.trim_end().strip_suffix("end")?;
    let lines: Vec<&str> = body
        .lines()
        .filter(|l| !l.trim_start().starts_with("use ExUnit.Case"))
        .collect();
    Some(lines.join("\n").trim_matches('\n').to_owned())
}

/// The module header and any extra context, for the user message.
fn module_and_context(target: &Target<'_>, context: &str) -> String {
    let header = module_header(target);
    let mut out = String::new();
    if !context.trim().is_empty() {
        out.push_str(context.trim_end());
        out.push_str("\n\n");
    }
    if !header.is_empty() {
        out.push_str(&format!("Module:\n```elixir\n{header}```"));
    }
    out
}

/// The code inside the first fenced block of an answer, or the whole answer.
pub fn code_of(answer: &str) -> String {
    let Some(start) = answer.find("```") else {
        return answer.trim().to_owned();
    };
    let after = &answer[start + 3..];
    let body = after.split_once('\n').map_or("", |(_, rest)| rest);
    let end = body.find("```").unwrap_or(body.len());
    body[..end].trim_end().to_owned()
}

/// Indents every non-empty line of `code` (written at column 0 or any indentation) to
/// `indent`, keeping relative indentation.
pub fn reindent(code: &str, indent: &str) -> String {
    let common = code
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    code.lines()
        .map(|line| {
            if line.trim().is_empty() {
                String::new()
            } else {
                format!("{indent}{}", &line[common.min(line.len())..])
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The attribute lines to insert above a function from a model's answer: `@doc` (a comment
/// for private functions, whose docs Elixir discards with a warning) and `@spec`, leaving out
/// what the function already has. An error says why nothing can be inserted: the answer has
/// neither, or it documents another function (a small model, shown the code around the
/// target, sometimes writes the docs of a neighbour; its `@spec` or `def` line gives it away).
pub fn docs_insertion(answer: &str, target: &Target<'_>, indent: &str) -> Result<String, String> {
    let code = code_of(answer);
    let mut doc: Vec<String> = Vec::new();
    let mut specs: Vec<String> = Vec::new();
    let mut in_doc_heredoc = false;
    for line in code.lines() {
        let trimmed = line.trim();
        if in_doc_heredoc {
            doc.push(line.to_owned());
            if trimmed == "\"\"\"" {
                in_doc_heredoc = false;
            }
            continue;
        }
        if trimmed.starts_with("@doc") {
            doc.push(line.to_owned());
            in_doc_heredoc = trimmed.ends_with("\"\"\"") && trimmed != "@doc \"\"\"\"\"\"";
        } else if trimmed.starts_with("@spec") {
            specs.push(line.to_owned());
        } else if trimmed.starts_with("def") {
            if let Some(other) = head_of(trimmed).filter(|head| !names_target(head, target)) {
                return Err(about_another_function(&other, target));
            }
            break;
        } else if let Some(last) = specs.last_mut() {
            // A spec continued on the next line.
            if !trimmed.is_empty() && !trimmed.starts_with('@') {
                last.push('\n');
                last.push_str(line);
            }
        }
    }
    if let Some(other) = specs
        .iter()
        .filter_map(|spec| head_of(spec.trim()))
        .find(|head| !names_target(head, target))
    {
        return Err(about_another_function(&other, target));
    }
    let private = target.function.kind.is_private();
    let mut lines = Vec::new();
    if target.function.doc.is_none() && !doc.is_empty() {
        if private {
            lines.extend(doc_as_comment(&doc.join("\n")));
        } else {
            lines.push(doc.join("\n"));
        }
    }
    if target.function.specs.is_empty() {
        lines.extend(specs);
    }
    if lines.is_empty() {
        return Err(
            "the model's answer had no @doc or @spec to add (or the function has both)".to_owned(),
        );
    }
    Ok(format!("{}\n", reindent(&lines.join("\n"), indent)))
}

/// The name and arity a `@spec` or `def`/`defp` line is about: `@spec fetch(id(), t) :: x`
/// gives `("fetch", 2)`. `None` when the line has no recognisable head.
fn head_of(line: &str) -> Option<(String, usize)> {
    let rest = ["@spec", "defp", "def"]
        .iter()
        .find_map(|keyword| line.strip_prefix(keyword))?;
    let rest = rest.strip_prefix(char::is_whitespace)?.trim_start();
    let name_end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '?' || c == '!'))
        .unwrap_or(rest.len());
    let (name, after) = rest.split_at(name_end);
    if name.is_empty() {
        return None;
    }
    let Some(arguments) = after.strip_prefix('(') else {
        // `@spec name :: t` and `def name, do: ...`: no parentheses, no arguments.
        return Some((name.to_owned(), 0));
    };
    // Count the top-level commas up to the matching parenthesis.
    let (mut depth, mut commas, mut any) = (0usize, 0usize, false);
    for c in arguments.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' if depth == 0 => return Some((name.to_owned(), if any { commas + 1 } else { 0 })),
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => commas += 1,
            c if !c.is_whitespace() => any = true,
            _ => {}
        }
    }
    // A head continued on the next line: the name alone is known.
    Some((name.to_owned(), usize::MAX))
}

/// Whether a head names the target function (at any arity its defaults give it).
fn names_target((name, arity): &(String, usize), target: &Target<'_>) -> bool {
    let function = target.function;
    *name == function.name
        && (*arity == usize::MAX
            || (function.arity - function.defaults..=function.arity).contains(arity))
}

fn about_another_function((name, arity): &(String, usize), target: &Target<'_>) -> String {
    let other = if *arity == usize::MAX {
        name.clone()
    } else {
        format!("{name}/{arity}")
    };
    format!(
        "the model's answer documents {other}, not {}; nothing was changed",
        target.function.label()
    )
}

/// `@doc "text"` or a heredoc turned into `# text` comment lines.
fn doc_as_comment(doc: &str) -> Vec<String> {
    let body = doc.trim().trim_start_matches("@doc").trim();
    let text = body
        .trim_start_matches("\"\"\"")
        .trim_end_matches("\"\"\"")
        .trim_matches('"');
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("# {l}"))
        .collect()
}

/// True when `code` parses as the body of a module with no syntax error.
pub fn parses_as_module_body(code: &str) -> bool {
    let wrapped = format!("defmodule AiexCheck do\n{code}\nend\n");
    crate::syntax::parse_str(&wrapped).is_ok_and(|tree| !tree.root_node().has_error())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::extract;
    use crate::syntax::parse_str;

    const SOURCE: &str = "defmodule Greeter do\n  @doc \"Greets.\"\n  def greet(name), do: \"Hi \" <> format(name)\n\n  defp format(name) do\n    String.trim(name)\n  end\nend\n";

    fn with_target<R>(needle: &str, f: impl FnOnce(Target<'_>) -> R) -> R {
        let tree = parse_str(SOURCE).expect("parse");
        let chunks = extract(&tree, SOURCE);
        let target = target_at(&chunks, SOURCE.find(needle).expect("needle")).expect("target");
        f(target)
    }

    #[test]
    fn a_multi_alias_line_is_shown_once_in_the_prompt() {
        let source = "defmodule Shop.Cart do\n  alias Shop.{Repo, Item, Price, Tax}\n  def total(c), do: Repo.all(c)\nend\n";
        let tree = parse_str(source).expect("parse");
        let chunks = extract(&tree, source);
        let target = target_at(&chunks, source.find("Repo.all").expect("call")).expect("target");
        let LlmRequest { prompt, .. } = explain_request(&target, source, "");
        let text = format!("{prompt:?}");
        assert_eq!(
            text.matches("alias Shop.{Repo, Item, Price, Tax}").count(),
            1
        );
    }

    #[test]
    fn the_target_is_the_function_around_the_cursor() {
        with_target("String.trim", |t| assert_eq!(t.label(), "Greeter.format/1"));
        with_target("\"Hi", |t| assert_eq!(t.label(), "Greeter.greet/1"));
    }

    #[test]
    fn docs_for_a_private_function_become_a_comment_and_a_spec() {
        let answer =
            "```elixir\n@doc \"Trims a name.\"\n@spec format(String.t()) :: String.t()\n```";
        let inserted =
            with_target("String.trim", |t| docs_insertion(answer, &t, "  ")).expect("insertion");
        assert_eq!(
            inserted,
            "  # Trims a name.\n  @spec format(String.t()) :: String.t()\n"
        );
        assert!(parses_as_module_body(&format!(
            "{inserted}  defp format(name), do: name"
        )));
    }

    #[test]
    fn docs_already_present_are_not_written_twice() {
        let answer = "@doc \"\"\"\nGreets someone.\n\"\"\"\n@spec greet(String.t()) :: String.t()\ndef greet(name), do: name";
        let inserted =
            with_target("\"Hi", |t| docs_insertion(answer, &t, "  ")).expect("insertion");
        assert_eq!(
            inserted, "  @spec greet(String.t()) :: String.t()\n",
            "the @doc exists already"
        );
        assert!(with_target("\"Hi", |t| docs_insertion("Sure! Here it is.", &t, "  ")).is_err());
    }

    #[test]
    fn docs_written_for_another_function_are_refused() {
        // Seen with Qwen2.5-Coder 0.5B: asked about `format/1`, it documented a neighbour.
        let answer = "@doc \"Sends the welcome email.\"\n@spec deliver_welcome(map()) :: :ok";
        let refused = with_target("String.trim", |t| docs_insertion(answer, &t, "  "));
        assert_eq!(
            refused,
            Err(
                "the model's answer documents deliver_welcome/1, not format/1; nothing was changed"
                    .to_owned()
            )
        );
        let wrong_arity = "@spec format(String.t(), keyword()) :: String.t()";
        assert!(with_target("String.trim", |t| docs_insertion(wrong_arity, &t, "  ")).is_err());
        let other_def = "@doc \"Greets.\"\ndef welcome(name), do: name";
        assert!(with_target("String.trim", |t| docs_insertion(other_def, &t, "  ")).is_err());
        let multi_line = "@spec format(\n  String.t()\n) :: String.t()";
        assert!(with_target("String.trim", |t| docs_insertion(multi_line, &t, "  ")).is_ok());
    }

    #[test]
    fn the_tests_answer_is_capped_in_proportion_to_the_function() {
        with_target("def greet", |target| {
            let request = tests_request(&target, SOURCE, None, None, "");
            assert_eq!(
                request.max_tokens, 400,
                "the floor, for a one-line function"
            );
        });
        assert_eq!(tests_answer_tokens(150), 500, "a five-line function");
        assert_eq!(tests_answer_tokens(30_000), 1_500, "never past the old cap");
    }

    #[test]
    fn tests_go_to_the_mirrored_path_and_extend_an_existing_module() {
        assert_eq!(
            test_path_for(std::path::Path::new("lib/shop/cart.ex")),
            std::path::Path::new("test/shop/cart_test.exs")
        );
        assert_eq!(
            test_path_for(std::path::Path::new("scripts/x.exs")),
            std::path::Path::new("test/scripts/x_test.exs")
        );
        let existing = "defmodule CartTest do\n  use ExUnit.Case\n\n  test \"old\" do\n    assert true\n  end\nend\n";
        let answer = "```elixir\ndescribe \"total/1\" do\n  test \"sums\" do\n    assert Cart.total([1, 2]) == 3\n  end\nend\n```";
        let file = tests_file(answer, Some(existing), "Cart").expect("parses");
        assert!(
            file.starts_with("defmodule CartTest do\n  use ExUnit.Case\n\n  test \"old\""),
            "{file}"
        );
        assert!(file.ends_with("  describe \"total/1\" do\n    test \"sums\" do\n      assert Cart.total([1, 2]) == 3\n    end\n  end\nend\n"), "{file}");
        let fresh = tests_file(answer, None, "Cart").expect("parses");
        assert!(
            fresh
                .starts_with("defmodule CartTest do\n  use ExUnit.Case, async: true\n\n  describe"),
            "{fresh}"
        );
        assert_eq!(
            tests_file("```elixir\ndescribe \"x\" do\n```", None, "Cart"),
            None,
            "does not parse"
        );
    }

    #[test]
    fn secrets_in_the_code_never_leave_once_the_request_passes_the_gate() {
        let source = "defmodule Keys do\n  def client do\n    Aws.new(\"AKIAIOSFODNN7EXAMPLE\", \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\")\n  end\nend\n";
        let tree = parse_str(source).expect("parse");
        let chunks = extract(&tree, source);
        let target = target_at(&chunks, source.find("Aws").expect("needle")).expect("target");
        let mut request = explain_request(&target, source, "");
        assert!(crate::engine::PrivacyGate::default().redact(&mut request) >= 1);
        let prompt = request.prompt_text();
        assert!(!prompt.contains("AKIAIOSFODNN7EXAMPLE"), "{prompt}");
        assert!(prompt.contains("<redacted:"), "{prompt}");
    }

    #[test]
    fn code_comes_out_of_fences_and_is_reindented() {
        assert_eq!(
            code_of("Here:\n```elixir\ndef a, do: 1\n```\nDone."),
            "def a, do: 1"
        );
        assert_eq!(
            reindent("def a do\n  1\nend", "    "),
            "    def a do\n      1\n    end"
        );
    }
}
