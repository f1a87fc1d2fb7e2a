//! Choosing among several versions of a model's answer (`candidates`): each is put in place in
//! the file, and the versions are ordered by how many findings of the built-in checks the file
//! then has (fewest first; equal ones keep the provider's order), duplicates dropped. One rule
//! for completions and code actions.

use std::collections::HashSet;

use crate::checks::{ChecksConfig, FileContext};
use crate::document::DocumentKey;

use super::Engine;

/// The checks a document is judged by.
pub(super) struct Ranker {
    file: FileContext,
    checks: ChecksConfig,
}

impl Ranker {
    /// How many findings `text` (a whole file) has; a file that does not parse ranks last.
    fn findings(&self, text: &str) -> usize {
        match crate::syntax::parse_str(text) {
            Ok(tree) if !tree.root_node().has_error() => {
                crate::checks::run_checks(text, &tree, &self.file, &self.checks).len()
            }
            _ => usize::MAX,
        }
    }

    /// `versions`, distinct by `identity`, fewest findings in `whole_file(version)` first.
    /// Parses every version: call it on the blocking pool.
    pub(super) fn rank<T>(
        &self,
        versions: impl IntoIterator<Item = T>,
        identity: impl Fn(&T) -> String,
        whole_file: impl Fn(&T) -> String,
    ) -> Vec<T> {
        let mut seen = HashSet::new();
        let mut scored: Vec<(usize, T)> = versions
            .into_iter()
            .filter(|version| seen.insert(identity(version)))
            .map(|version| (self.findings(&whole_file(&version)), version))
            .collect();
        scored.sort_by_key(|(findings, _)| *findings);
        scored.into_iter().map(|(_, version)| version).collect()
    }
}

impl Engine {
    /// The checks `key` is judged by: its path in the workspace (test files and scripts have
    /// rules of their own) and the configured checks.
    pub(super) fn ranker(&self, key: &DocumentKey) -> Ranker {
        let file = key
            .path()
            .and_then(|path| self.gate().admit(path).ok())
            .map_or_else(
                || FileContext::for_path("lib/untitled.ex"),
                |admitted| FileContext::for_path(admitted.relative),
            );
        Ranker {
            file,
            checks: self.config().config.checks.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_adding_findings_come_last_and_duplicates_go() {
        let text = "defmodule M do\n  def f(x) do\n    \n  end\nend\n";
        let cursor = text.find("    \n").expect("the empty line") + 4;
        let ranker = Ranker {
            file: FileContext::for_path("lib/m.ex"),
            checks: ChecksConfig::default(),
        };
        let ranked = ranker.rank(
            ["IO.inspect(x)", "x + 1", "x + 1", "dbg(x)", "x +"],
            |v| (*v).to_owned(),
            |v| format!("{}{v}{}", &text[..cursor], &text[cursor..]),
        );
        assert_eq!(ranked, ["x + 1", "IO.inspect(x)", "dbg(x)", "x +"]);
    }
}
