//! Fill-in-the-middle: the prompt template of each code model family, chosen from the model
//! name or the configuration, and the "fill the hole" chat prompt for chat models.

use std::borrow::Cow;

use super::adapters::ProviderKind;
use super::config::ProviderConfig;
use super::types::Repository;

/// A FIM prompt format: `{prefix}` and `{suffix}` placeholders, and the stop sequences that
/// end the middle (the family's special tokens).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FimTemplate {
    /// The family name, or `custom`.
    pub family: &'static str,
    /// The format, with `{prefix}` and `{suffix}` placeholders.
    pub format: String,
    /// Stop sequences added to the request's own.
    pub stop: Vec<String>,
    /// The tokens the family was trained to see a repository with, if it has them.
    pub repository: Option<RepositoryTokens>,
}

/// How a family lays out a repository before the hole: the repository's name after `name`,
/// then each file's path after `file`, its code on the next lines, and last the path of the
/// file with the hole, followed by the usual fill-in-the-middle prompt.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepositoryTokens {
    /// Starts the repository's name (`<|repo_name|>`).
    pub name: &'static str,
    /// Starts each file (`<|file_sep|>`).
    pub file: &'static str,
}

/// How one provider and model do fill-in-the-middle.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FimPlan {
    /// The provider's own FIM endpoint or field (OpenAI `suffix`, Codestral, Ollama `suffix`).
    Native,
    /// A raw completion with the model family's template.
    Template(FimTemplate),
    /// A chat model asked to fill a hole.
    Chat,
}

/// The family names accepted by `fim_template`.
pub const FAMILIES: &[&str] = &[
    "qwen",
    "codestral",
    "deepseek",
    "starcoder",
    "codellama",
    "codegemma",
    "granite",
];

/// The template of a named family.
pub fn family_template(family: &str) -> Option<FimTemplate> {
    // Qwen2.5-Coder was trained on whole repositories in this layout (its technical report,
    // section 3.1); other families' layouts are not verified against a real model yet, so
    // their context goes as comments.
    let repository = (family == "qwen").then_some(RepositoryTokens {
        name: "<|repo_name|>",
        file: "<|file_sep|>",
    });
    let (family, format, stop): (&'static str, &str, &[&str]) = match family {
        "qwen" => (
            "qwen",
            "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>",
            &[
                "<|endoftext|>",
                "<|fim_prefix|>",
                "<|fim_suffix|>",
                "<|fim_middle|>",
                "<|file_sep|>",
                "<|repo_name|>",
            ],
        ),
        "codestral" => (
            "codestral",
            "[SUFFIX]{suffix}[PREFIX]{prefix}",
            &["[PREFIX]", "[SUFFIX]", "</s>"],
        ),
        "deepseek" => (
            "deepseek",
            "<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>",
            &[
                "<｜fim▁begin｜>",
                "<｜fim▁hole｜>",
                "<｜fim▁end｜>",
                "<｜end▁of▁sentence｜>",
                "<|EOT|>",
            ],
        ),
        "starcoder" => (
            "starcoder",
            "<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>",
            &[
                "<|endoftext|>",
                "<fim_prefix>",
                "<fim_suffix>",
                "<fim_middle>",
                "<file_sep>",
            ],
        ),
        "codellama" => (
            "codellama",
            "<PRE> {prefix} <SUF>{suffix} <MID>",
            &["<PRE>", "<SUF>", "<MID>", "<EOT>"],
        ),
        "codegemma" => (
            "codegemma",
            "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>",
            &[
                "<|file_separator|>",
                "<|fim_prefix|>",
                "<|fim_suffix|>",
                "<|fim_middle|>",
                "<end_of_turn>",
                "<eos>",
            ],
        ),
        "granite" => (
            "granite",
            "<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>",
            &[
                "<|endoftext|>",
                "<fim_prefix>",
                "<fim_suffix>",
                "<fim_middle>",
                "<file_sep>",
            ],
        ),
        _ => return None,
    };
    Some(FimTemplate {
        family,
        format: format.to_owned(),
        stop: stop.iter().map(|s| (*s).to_owned()).collect(),
        repository,
    })
}

/// The family a model name belongs to (`qwen2.5-coder:1.5b` is `qwen`), if Aiex knows it.
pub fn family_of(model: &str) -> Option<&'static str> {
    let model = model.to_ascii_lowercase();
    // Order matters: `codegemma` before any `gemma`, `codellama` before `llama`.
    let rules: &[(&str, &'static str)] = &[
        ("qwen2.5-coder", "qwen"),
        ("qwen2.5coder", "qwen"),
        ("qwen3-coder", "qwen"),
        ("codestral", "codestral"),
        ("deepseek-coder", "deepseek"),
        ("starcoder", "starcoder"),
        ("codellama", "codellama"),
        ("code-llama", "codellama"),
        ("codegemma", "codegemma"),
        ("granite", "granite"),
    ];
    rules
        .iter()
        .find(|(needle, _)| model.contains(needle))
        .map(|(_, family)| *family)
}

/// Reads `fim_template`: a family name or a custom format with `{prefix}` and `{suffix}`.
pub fn template_from_config(value: &str) -> Result<FimTemplate, String> {
    if let Some(template) = family_template(value) {
        return Ok(template);
    }
    if value.contains("{prefix}") && value.contains("{suffix}") {
        return Ok(FimTemplate {
            family: "custom",
            format: value.to_owned(),
            stop: Vec::new(),
            repository: None,
        });
    }
    Err(format!(
        "`fim_template` must be one of {} or a format containing {{prefix}} and {{suffix}}",
        FAMILIES.join(", ")
    ))
}

/// Decides how `model` on a provider of `kind` fills the middle.
pub fn plan(kind: ProviderKind, model: &str, config: &ProviderConfig) -> Result<FimPlan, String> {
    let template = match &config.fim_template {
        Some(value) => Some(template_from_config(value)?),
        None => family_of(model).and_then(family_template),
    };
    let native_available = match kind {
        ProviderKind::OpenAi | ProviderKind::OpenAiCompatible | ProviderKind::Ollama => true,
        ProviderKind::Mistral => model.to_ascii_lowercase().contains("codestral"),
        ProviderKind::Anthropic | ProviderKind::Gemini => false,
    };
    let template_available = matches!(kind, ProviderKind::OpenAiCompatible | ProviderKind::Ollama);
    match config.fim.as_deref().unwrap_or("auto") {
        "chat" => Ok(FimPlan::Chat),
        "native" if native_available => Ok(FimPlan::Native),
        "native" => Err(format!(
            "`fim = \"native\"`: {} has no fill-in-the-middle endpoint for {model}",
            kind.name()
        )),
        "template" if template_available => template.map(FimPlan::Template).ok_or_else(|| {
            format!("`fim = \"template\"`: no template known for {model}; set `fim_template`")
        }),
        "template" => Err(format!(
            "`fim = \"template\"`: {} cannot send a raw prompt",
            kind.name()
        )),
        "auto" => Ok(match kind {
            ProviderKind::Anthropic | ProviderKind::Gemini => FimPlan::Chat,
            ProviderKind::Mistral if native_available => FimPlan::Native,
            ProviderKind::Mistral => FimPlan::Chat,
            // OpenAI's only models with `suffix` are the instruct/legacy completion ones.
            ProviderKind::OpenAi if model.contains("instruct") || model.contains("davinci") => {
                FimPlan::Native
            }
            ProviderKind::OpenAi => FimPlan::Chat,
            ProviderKind::OpenAiCompatible => {
                template.map(FimPlan::Template).unwrap_or(FimPlan::Chat)
            }
            // Ollama applies the model's own template to `suffix`; an explicit template is
            // sent raw instead.
            ProviderKind::Ollama if config.fim_template.is_some() => {
                template.map(FimPlan::Template).unwrap_or(FimPlan::Chat)
            }
            ProviderKind::Ollama if template.is_some() => FimPlan::Native,
            ProviderKind::Ollama => FimPlan::Chat,
        }),
        other => Err(format!(
            "`fim` must be auto, native, template or chat, not {other:?}"
        )),
    }
}

/// The whole prompt of a template plan: the repository in the family's layout when it has
/// one, else the repository as comments before the prefix.
pub fn render_prompt(
    template: &FimTemplate,
    prefix: &str,
    suffix: &str,
    repository: Option<&Repository>,
) -> String {
    let (Some(repository), Some(tokens)) = (repository, &template.repository) else {
        return render(template, &prefix_with_comments(prefix, repository), suffix);
    };
    let mut out = format!("{}{}\n", tokens.name, repository.name);
    let mut previous: Option<&str> = None;
    for piece in &repository.pieces {
        // Pieces of one file, one after the other, are shown as one file.
        if previous == Some(piece.path.as_str()) {
            out.push('\n');
        } else {
            out.push_str(tokens.file);
            out.push_str(&piece.path);
            out.push('\n');
        }
        out.push_str(piece.text.trim_end_matches('\n'));
        out.push('\n');
        previous = Some(&piece.path);
    }
    out.push_str(tokens.file);
    out.push_str(&repository.path);
    out.push('\n');
    out.push_str(&render(template, prefix, suffix));
    out
}

/// The prefix with the repository's pieces before it as line comments, each labelled with its
/// path and why it is there: the layout for a bare prefix (native endpoints, chat models,
/// families without a repository layout).
pub fn prefix_with_comments<'a>(prefix: &'a str, repository: Option<&Repository>) -> Cow<'a, str> {
    match repository {
        Some(repository) if !repository.pieces.is_empty() => {
            Cow::Owned(format!("{}{prefix}", pieces_as_comments(repository)))
        }
        _ => Cow::Borrowed(prefix),
    }
}

/// The repository's pieces as line comments (`# ` for Elixir), each labelled with its path and
/// why it is there, a blank line after each.
pub fn pieces_as_comments(repository: &Repository) -> String {
    let comment = repository.comment.as_str();
    let mut out = String::new();
    for piece in &repository.pieces {
        out.push_str(&format!("{comment} {} ({})\n", piece.path, piece.reason));
        for line in piece.text.lines() {
            out.push_str(comment);
            if !line.is_empty() {
                out.push(' ');
                out.push_str(line);
            }
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// Renders a template in one pass, so a prefix that happens to contain `{suffix}` stays as is.
pub fn render(template: &FimTemplate, prefix: &str, suffix: &str) -> String {
    let mut out = String::with_capacity(template.format.len() + prefix.len() + suffix.len());
    let mut rest = template.format.as_str();
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        if let Some(after) = tail.strip_prefix("{prefix}") {
            out.push_str(prefix);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{suffix}") {
            out.push_str(suffix);
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The marker a chat model is asked to replace.
pub const HOLE: &str = "<|HOLE|>";

/// The system prompt and user message asking a chat model to fill the hole.
pub fn hole_filler_prompt(prefix: &str, suffix: &str) -> (String, String) {
    let system = format!(
        "You complete code. The user sends a file with one {HOLE} marker. Reply with exactly the text \
         that replaces {HOLE}: no explanation, no Markdown fence, no repetition of the surrounding code. \
         Keep the indentation and close every block the text opens (Elixir `do ... end`)."
    );
    (system, format!("{prefix}{HOLE}{suffix}"))
}

/// Cleans a chat model's fill: removes a Markdown fence around it (models add one despite the
/// instructions) and any echo of the hole marker. Native and template fills need no cleaning.
pub fn clean_chat_fill(text: &str) -> String {
    let trimmed = text.trim_matches('\n');
    let unfenced = match trimmed.strip_prefix("```") {
        Some(rest) => {
            // Drop the info string (```elixir) with the fence line.
            let body = rest.split_once('\n').map_or("", |(_, body)| body);
            body.trim_end()
                .strip_suffix("```")
                .unwrap_or(body)
                .trim_end_matches('\n')
        }
        None => text,
    };
    unfenced.replace(HOLE, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository() -> Repository {
        let piece = |path: &str, reason: &str, text: &str| crate::types::RepositoryPiece {
            path: path.to_owned(),
            reason: reason.to_owned(),
            text: text.to_owned(),
        };
        Repository {
            name: "shop".to_owned(),
            path: "lib/shop/orders.ex".to_owned(),
            comment: "#".to_owned(),
            pieces: vec![
                piece(
                    "lib/shop/repo.ex",
                    "called: Shop.Repo.insert/1",
                    "@spec insert(map()) :: {:ok, map()}\n\ndef insert(record)\n",
                ),
                piece("lib/shop/repo.ex", "called: Shop.Repo.get/1", "def get(id)"),
                piece(
                    "lib/shop/order.ex",
                    "alias: Shop.Order",
                    "defmodule Shop.Order do\n  defstruct [:id]\nend\n",
                ),
            ],
        }
    }

    #[test]
    fn qwen_sees_the_repository_in_its_trained_layout() {
        let qwen = family_template("qwen").expect("qwen");
        let prompt = render_prompt(
            &qwen,
            "  def place(o), do: ",
            "\nend\n",
            Some(&repository()),
        );
        assert_eq!(
            prompt,
            "<|repo_name|>shop\n\
             <|file_sep|>lib/shop/repo.ex\n\
             @spec insert(map()) :: {:ok, map()}\n\ndef insert(record)\n\ndef get(id)\n\
             <|file_sep|>lib/shop/order.ex\n\
             defmodule Shop.Order do\n  defstruct [:id]\nend\n\
             <|file_sep|>lib/shop/orders.ex\n\
             <|fim_prefix|>  def place(o), do: <|fim_suffix|>\nend\n<|fim_middle|>"
        );
        assert_eq!(
            render_prompt(&qwen, "a", "b", None),
            render(&qwen, "a", "b"),
            "no repository, no layout"
        );
    }

    #[test]
    fn families_without_a_layout_see_the_pieces_as_labelled_comments() {
        let starcoder = family_template("starcoder").expect("starcoder");
        let prompt = render_prompt(&starcoder, "  x = ", "\n", Some(&repository()));
        assert!(
            prompt.starts_with(
                "<fim_prefix># lib/shop/repo.ex (called: Shop.Repo.insert/1)\n\
             # @spec insert(map()) :: {:ok, map()}\n#\n# def insert(record)\n\n\
             # lib/shop/repo.ex (called: Shop.Repo.get/1)\n# def get(id)\n\n"
            ),
            "{prompt}"
        );
        assert!(
            prompt.ends_with("#   defstruct [:id]\n# end\n\n  x = <fim_suffix>\n<fim_middle>"),
            "{prompt}"
        );
        assert_eq!(prefix_with_comments("p", None), "p");
    }

    #[test]
    fn chat_fills_lose_their_fence_and_hole_marker() {
        assert_eq!(clean_chat_fill("```elixir\n  a + b\n```\n"), "  a + b");
        assert_eq!(clean_chat_fill("```\nx\n```"), "x");
        assert_eq!(clean_chat_fill("  a + b<|HOLE|>"), "  a + b");
        assert_eq!(
            clean_chat_fill("a ``` b"),
            "a ``` b",
            "a fence inside the code stays"
        );
    }

    fn config(fim: Option<&str>, template: Option<&str>) -> ProviderConfig {
        ProviderConfig {
            fim: fim.map(str::to_owned),
            fim_template: template.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn model_names_pick_their_family() {
        let cases = [
            ("qwen2.5-coder:1.5b", Some("qwen")),
            ("Qwen/Qwen2.5-Coder-7B-Instruct", Some("qwen")),
            ("codestral-latest", Some("codestral")),
            ("deepseek-coder-v2:16b", Some("deepseek")),
            ("starcoder2:3b", Some("starcoder")),
            ("bigcode/starcoder", Some("starcoder")),
            ("codellama:7b-code", Some("codellama")),
            ("codegemma:2b", Some("codegemma")),
            ("granite-code:3b", Some("granite")),
            ("llama3.1:8b", None),
            ("gemma3:1b", None),
        ];
        for (model, family) in cases {
            assert_eq!(family_of(model), family, "{model}");
        }
    }

    #[test]
    fn each_family_renders_its_tokens_around_the_hole() {
        let rendered: Vec<String> = FAMILIES
            .iter()
            .map(|f| render(&family_template(f).unwrap(), "def a do", "end"))
            .collect();
        assert_eq!(
            rendered,
            vec![
                "<|fim_prefix|>def a do<|fim_suffix|>end<|fim_middle|>",
                "[SUFFIX]end[PREFIX]def a do",
                "<｜fim▁begin｜>def a do<｜fim▁hole｜>end<｜fim▁end｜>",
                "<fim_prefix>def a do<fim_suffix>end<fim_middle>",
                "<PRE> def a do <SUF>end <MID>",
                "<|fim_prefix|>def a do<|fim_suffix|>end<|fim_middle|>",
                "<fim_prefix>def a do<fim_suffix>end<fim_middle>",
            ]
        );
    }

    #[test]
    fn placeholders_inside_the_code_are_not_expanded() {
        let template = template_from_config("A{prefix}B{suffix}C").unwrap();
        assert_eq!(
            render(&template, "x{suffix}", "{prefix}y"),
            "Ax{suffix}B{prefix}yC"
        );
    }

    #[test]
    fn plans_follow_provider_and_model() {
        use ProviderKind::*;
        let auto = config(None, None);
        assert_eq!(
            plan(Mistral, "codestral-latest", &auto),
            Ok(FimPlan::Native)
        );
        assert_eq!(
            plan(Mistral, "mistral-small-latest", &auto),
            Ok(FimPlan::Chat)
        );
        assert_eq!(
            plan(Anthropic, "claude-haiku-4-5", &auto),
            Ok(FimPlan::Chat)
        );
        assert_eq!(
            plan(OpenAi, "gpt-3.5-turbo-instruct", &auto),
            Ok(FimPlan::Native)
        );
        assert_eq!(plan(OpenAi, "gpt-4o-mini", &auto), Ok(FimPlan::Chat));
        assert_eq!(
            plan(Ollama, "qwen2.5-coder:1.5b", &auto),
            Ok(FimPlan::Native)
        );
        assert_eq!(plan(Ollama, "llama3.1", &auto), Ok(FimPlan::Chat));
        assert!(
            matches!(plan(OpenAiCompatible, "starcoder2-3b", &auto), Ok(FimPlan::Template(t)) if t.family == "starcoder")
        );
        let forced = config(None, Some("deepseek"));
        assert!(
            matches!(plan(Ollama, "my-model", &forced), Ok(FimPlan::Template(t)) if t.family == "deepseek")
        );
        assert!(plan(Gemini, "gemini-2.5-flash", &config(Some("native"), None)).is_err());
        assert!(plan(Ollama, "x", &config(Some("sometimes"), None)).is_err());
    }
}
