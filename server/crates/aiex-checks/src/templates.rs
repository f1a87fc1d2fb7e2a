//! XSS in templates: `raw/1` on unescaped values in `.heex`/`.eex` files and in `~H`/`~E`
//! sigils. Template text is not Elixir, so the `raw(...)` calls inside EEx tags (`<%= ... %>`)
//! and HEEx expressions (`{...}`) are found by a small scanner; in templates, `@name` is an
//! assign (dynamic data), not a module attribute.

use tree_sitter::Node;

use super::syntax;
use super::{finish, CheckId, ChecksConfig, Ctx, FileContext, Finding};

/// Whether a path is an EEx or HEEx template checked by [`check_template`].
pub fn is_template(path: &std::path::Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("heex" | "eex" | "leex" | "sface")
    )
}

/// Checks a template file (`.heex`, `.eex`): `security/xss-raw` on its `raw/1` calls, and the
/// suppression comments `<%# aiex:disable-next-line ... %>` are not supported (use the
/// configuration to disable the check for a file's family instead).
pub fn check_template(source: &str, file: &FileContext, config: &ChecksConfig) -> Vec<Finding> {
    let mut ctx = Ctx::new(source, file, config);
    if ctx.path.in_generator_templates {
        return vec![];
    }
    for (start, end) in unsafe_raw_calls(source) {
        emit(&mut ctx, start, end);
    }
    let findings = std::mem::take(&mut ctx.findings);
    finish(source, findings, &[])
}

/// `~H"""..."""` and `~E"..."` in Elixir code.
pub(crate) fn sigil<'a>(ctx: &mut Ctx<'a>, node: Node<'a>) {
    if !ctx.on(CheckId::XssRaw) || ctx.path.in_generator_templates {
        return;
    }
    let k = ctx.k;
    let children = syntax::named_children(node, k);
    let is_template = children
        .iter()
        .find(|c| c.kind_id() == k.sigil_name)
        .is_some_and(|n| matches!(ctx.text(*n), "H" | "E" | "L"));
    if !is_template {
        return;
    }
    for content in children.iter().filter(|c| c.kind_id() == k.quoted_content) {
        let base = content.start_byte();
        for (start, end) in unsafe_raw_calls(ctx.text(*content)) {
            emit(ctx, base + start, base + end);
        }
    }
}

fn emit(ctx: &mut Ctx, start: usize, end: usize) {
    let msg = "raw/1 on unescaped dynamic data in a template disables HTML escaping (XSS)";
    ctx.emit_range(CheckId::XssRaw, start, end, msg, vec![]);
}

/// The byte ranges of `raw(...)` calls inside template expressions whose argument is neither a
/// plain string literal nor escaped.
fn unsafe_raw_calls(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("raw").map(|i| from + i) {
        from = at + 3;
        // `raw` must be a name of its own: not `draw(`, not `my_raw(`; `Phoenix.HTML.raw(` is.
        let before = at.checked_sub(1).map(|i| bytes[i]);
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':') {
            continue;
        }
        let after = bytes.get(at + 3).copied();
        if !matches!(after, Some(b'(' | b' ')) || !in_expression(text, at) {
            continue;
        }
        let start = if text[..at].ends_with("Phoenix.HTML.") {
            at - "Phoenix.HTML.".len()
        } else if text[..at].ends_with("HTML.") {
            at - "HTML.".len()
        } else {
            at
        };
        let (argument, end) = if after == Some(b'(') {
            let Some(close) = matching_paren(text, at + 3) else {
                continue;
            };
            (&text[at + 4..close], close + 1)
        } else {
            // `raw @note %>`: the argument runs to the end of the tag or expression.
            let rest = &text[at + 4..];
            let len = rest.find(['%', '}', '\n']).unwrap_or(rest.len());
            let argument = rest[..len].trim_end();
            (argument, at + 4 + argument.len())
        };
        let argument = argument.trim();
        if !argument.is_empty() && !safe_argument(argument) {
            found.push((start, end));
        }
        from = end.max(from);
    }
    found
}

/// Whether a position is inside an EEx tag (`<%= ... %>`) or a HEEx expression (`{...}`).
fn in_expression(text: &str, at: usize) -> bool {
    let before = &text[..at];
    let open = before.rfind("<%");
    let close = before.rfind("%>");
    if open.is_some_and(|o| close.is_none_or(|c| c < o)) {
        return true;
    }
    // HEEx: `{raw(@x)}` or `attr={raw(@x)}`; the innermost unclosed brace on the line.
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    let mut depth = 0i32;
    for c in line.chars().rev() {
        match c {
            '}' => depth += 1,
            '{' if depth == 0 => return true,
            '{' => depth -= 1,
            _ => {}
        }
    }
    false
}

/// The `)` closing the `(` at `open`, skipping strings; `None` when unbalanced within 4 KiB.
fn matching_paren(text: &str, open: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut in_string = false;
    let end = (open + 4096).min(bytes.len());
    let mut i = open;
    while i < end {
        let b = bytes[i];
        if in_string {
            if b == b'\\' {
                i += 1;
            } else if b == b'"' {
                in_string = false;
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// A plain string literal, or a value escaped on the spot.
fn safe_argument(argument: &str) -> bool {
    let literal = argument.starts_with('"')
        && argument.ends_with('"')
        && !argument.contains("#{")
        && argument[1..argument.len().saturating_sub(1)]
            .chars()
            .all(|c| c != '"');
    literal
        || [
            "html_escape(",
            "Phoenix.HTML.html_escape(",
            "safe_to_string(",
            "Phoenix.HTML.safe_to_string(",
        ]
        .iter()
        .any(|p| argument.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{CheckId, ChecksConfig, FileContext};
    use super::*;

    fn template(src: &str) -> Vec<String> {
        check_template(
            src,
            &FileContext::for_path("lib/app_web/templates/page/show.html.heex"),
            &ChecksConfig::default(),
        )
        .iter()
        .map(|f| src[f.start_byte..f.end_byte].to_owned())
        .collect()
    }

    #[test]
    fn raw_on_assigns_in_heex_and_eex_templates_is_reported() {
        let src = r#"<div>{raw(@bio)}</div>
<p><%= raw @note %></p>
<p><%= Phoenix.HTML.raw(@post.body) %></p>
<span title={raw(@title)}></span>
"#;
        assert_eq!(
            template(src),
            [
                "raw(@bio)",
                "raw @note",
                "Phoenix.HTML.raw(@post.body)",
                "raw(@title)"
            ]
        );
    }

    #[test]
    fn safe_raw_calls_and_text_outside_expressions_are_not_reported() {
        let src = r#"<p>Use raw(x) carefully</p>
<%= raw("<br/>") %>
{raw(html_escape(@bio))}
<%= draw(@x) %>
<%= my_raw(@x) %>
<%= raw(Phoenix.HTML.safe_to_string(html_escape(@x))) %>
"#;
        assert_eq!(template(src), Vec::<String>::new());
        let generator = check_template(
            "<%= raw(@x) %>",
            &FileContext::for_path("priv/templates/phx.gen.html/show.html.heex"),
            &ChecksConfig::default(),
        );
        assert!(generator.is_empty());
    }

    #[test]
    fn raw_in_h_and_e_sigils_is_reported() {
        let src = r#"defmodule AppWeb.Bio do
  use Phoenix.Component
  def bio(assigns) do
    ~H"""
    <div>{raw(@bio)}</div>
    <div>{raw("<hr/>")}</div>
    """
  end
  def old(assigns), do: ~E"<%= raw @html %>"
  def text, do: ~S"raw(@bio)"
end
"#;
        expect_test::expect![[r#"
            5:11 warning security/xss-raw: raw/1 on unescaped dynamic data in a template disables HTML escaping (XSS) `raw(@bio)`
            9:32 warning security/xss-raw: raw/1 on unescaped dynamic data in a template disables HTML escaping (XSS) `raw @html`
        "#]]
        .assert_eq(&render_only(src, "lib/app_web/bio.ex", CheckId::XssRaw));
    }
}
