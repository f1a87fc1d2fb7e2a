//! Token estimates for providers that report no usage, and for the tokens-per-minute limiter.

/// Counts the tokens of `text` with the cl100k BPE (a close enough proxy for every provider's
/// own tokenizer). The tokenizer is built once, on first use.
pub fn estimate_tokens(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    tiktoken_rs::cl100k_base_singleton()
        .encode_ordinary(text)
        .len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_real_tokens_not_characters() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("hello world"), 2);
        let elixir = "defmodule Foo do\n  def bar(x), do: x + 1\nend\n";
        let tokens = estimate_tokens(elixir);
        assert!((10..30).contains(&tokens), "{tokens}");
    }
}
