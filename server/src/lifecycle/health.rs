//! Whether this binary works on this machine: the `aiex health` command and the `aiex/health`
//! request share one report. Fast and offline (no provider is contacted; `aiex doctor` does
//! that), so an installer or an editor package can run it right after unpacking.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::version;
use crate::checks::{self, ChecksConfig, FileContext};

/// One self-check.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HealthCheck {
    /// What was checked: `parser`, `checks`, `cache directory`, `data directory`.
    pub name: &'static str,
    /// Whether it works.
    pub ok: bool,
    /// What was found, or what went wrong.
    pub detail: String,
}

/// The report: what this binary is and what works.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    /// `ok` when every check passed, else `degraded`.
    pub status: &'static str,
    /// The crate version.
    pub version: &'static str,
    /// The commit built.
    pub commit: &'static str,
    /// The build date.
    pub build_date: &'static str,
    /// The target triple.
    pub target: &'static str,
    /// The self-checks, in order.
    pub checks: Vec<HealthCheck>,
}

impl HealthReport {
    /// Runs every self-check; the directories are where the index cache and audit log
    /// (`cache`) and the usage ledger and trust decisions (`data`) are written.
    pub fn run(cache_dir: Option<&Path>, data_dir: Option<&Path>) -> Self {
        let checks = vec![
            parser_check(),
            checks_check(),
            directory_check("cache directory", cache_dir),
            directory_check("data directory", data_dir),
        ];
        Self {
            status: if checks.iter().all(|check| check.ok) {
                "ok"
            } else {
                "degraded"
            },
            version: version::VERSION,
            commit: version::COMMIT,
            build_date: version::BUILD_DATE,
            target: version::TARGET,
            checks,
        }
    }

    /// Runs the checks against the directories this process would use.
    pub fn for_this_process() -> Self {
        Self::run(
            crate::index::default_cache_dir().as_deref(),
            data_dir().as_deref(),
        )
    }

    /// True when every check passed.
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }

    /// The report as lines for a terminal.
    pub fn to_text(&self) -> String {
        let mut text = format!("aiex {}: {}\n", version::LONG, self.status);
        for check in &self.checks {
            let mark = if check.ok { "ok" } else { "FAILED" };
            text.push_str(&format!(
                "  {:<16} {mark:<6} {}\n",
                check.name, check.detail
            ));
        }
        text
    }
}

/// The data directory (usage ledger, provider speeds, trust decisions, sessions).
fn data_dir() -> Option<PathBuf> {
    crate::llm::cost::data_dir()
}

const SAMPLE: &str = "defmodule Health.Sample do\n  def run(x) do\n    IO.inspect(x)\n  end\nend\n";

/// The Elixir grammar loads and parses (a binary built for the wrong machine fails here).
fn parser_check() -> HealthCheck {
    let result = crate::syntax::parse_str(SAMPLE)
        .map_err(|error| format!("cannot parse Elixir: {error:?}"))
        .and_then(|tree| {
            let root = tree.root_node();
            if root.has_error() {
                Err("the Elixir grammar parsed a valid sample with errors".to_owned())
            } else {
                Ok(format!(
                    "tree-sitter-elixir, {} nodes in a sample",
                    root.descendant_count()
                ))
            }
        });
    outcome("parser", result)
}

/// The built-in checks run and find the leftover `IO.inspect` in the sample.
fn checks_check() -> HealthCheck {
    let result = crate::syntax::parse_str(SAMPLE)
        .map_err(|error| format!("cannot parse Elixir: {error:?}"))
        .and_then(|tree| {
            let findings = checks::run_checks(
                SAMPLE,
                &tree,
                &FileContext::for_path("lib/health/sample.ex"),
                &ChecksConfig::default(),
            );
            if findings.is_empty() {
                Err("the built-in checks missed a leftover IO.inspect".to_owned())
            } else {
                Ok(format!("{} built-in checks", checks::registry().len()))
            }
        });
    outcome("checks", result)
}

/// The directory exists or can be created, and a file can be written in it.
fn directory_check(name: &'static str, dir: Option<&Path>) -> HealthCheck {
    let Some(dir) = dir else {
        return outcome(
            name,
            Err("none: set AIEX_CACHE_DIR and AIEX_DATA_DIR, or HOME".to_owned()),
        );
    };
    let probe = dir.join(format!(".aiex-health-{}", std::process::id()));
    let result = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&probe, b"ok"))
        .and_then(|()| std::fs::remove_file(&probe))
        .map(|()| format!("{} (writable)", dir.display()))
        .map_err(|error| format!("{} is not writable: {error}", dir.display()));
    outcome(name, result)
}

fn outcome(name: &'static str, result: Result<String, String>) -> HealthCheck {
    match result {
        Ok(detail) => HealthCheck {
            name,
            ok: true,
            detail,
        },
        Err(detail) => HealthCheck {
            name,
            ok: false,
            detail,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writable_machine_is_healthy() {
        let dir = tempfile::tempdir().unwrap();
        let report = HealthReport::run(Some(&dir.path().join("cache")), Some(dir.path()));
        assert!(report.is_ok(), "{}", report.to_text());
        assert_eq!(report.checks.len(), 4);
        assert!(dir.path().join("cache").is_dir());
        // The probe files are gone.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_unwritable_directory_degrades_the_report_and_says_which() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        let report = HealthReport::run(Some(&file.join("cache")), None);
        assert_eq!(report.status, "degraded");
        let text = report.to_text();
        assert!(text.contains("cache directory  FAILED"), "{text}");
        assert!(text.contains("data directory   FAILED"), "{text}");
        assert!(text.contains("parser           ok"), "{text}");
    }
}
