//! Rendering findings for people and machines: `file:line:col: severity ID message` lines, JSON,
//! and SARIF 2.1.0 (read by code scanning services). Lines and columns are 1-based; columns count
//! Unicode scalar values. Pure functions: the caller prints.

use std::path::Path;

use serde_json::{json, Value};

use super::syntax::LineIndex;
use super::{registry, Finding, Severity};

/// The findings of one file, with the source they were computed on.
#[derive(Debug, Clone, Copy)]
pub struct FileReport<'a> {
    /// The path to show (relative to the current directory when possible).
    pub path: &'a Path,
    /// The checked source.
    pub source: &'a str,
    /// Its findings, sorted by position.
    pub findings: &'a [Finding],
}

/// A 1-based line/column range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Region {
    start_line: usize,
    start_column: usize,
    end_line: usize,
    end_column: usize,
}

fn region(lines: &LineIndex, source: &str, start: usize, end: usize) -> Region {
    let (start_line, start_column) = lines.position(source, start);
    let (end_line, end_column) = lines.position(source, end);
    Region {
        start_line,
        start_column,
        end_line,
        end_column,
    }
}

/// Forward slashes, whatever the platform.
fn display_path(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// One line per finding: `lib/a.ex:3:5: warning debug/io-inspect Leftover IO.inspect`.
pub fn text(files: &[FileReport]) -> String {
    let mut out = String::new();
    for file in files {
        let lines = LineIndex::new(file.source);
        let path = display_path(file.path);
        for f in file.findings {
            let (line, col) = lines.position(file.source, f.start_byte);
            out.push_str(&format!(
                "{path}:{line}:{col}: {} {} {}\n",
                f.severity.as_str(),
                f.check.as_str(),
                f.message
            ));
        }
    }
    out
}

/// A JSON document: `{"version": 1, "findings": [...], "summary": {...}}`.
pub fn json(files: &[FileReport]) -> String {
    let mut findings = Vec::new();
    for file in files {
        let lines = LineIndex::new(file.source);
        let path = display_path(file.path);
        for f in file.findings {
            let r = region(&lines, file.source, f.start_byte, f.end_byte);
            let fixes: Vec<Value> = f
                .fixes
                .iter()
                .map(|fix| {
                    let edits: Vec<Value> = fix
                        .edits
                        .iter()
                        .map(|e| {
                            let er = region(&lines, file.source, e.start_byte, e.end_byte);
                            json!({
                                "start_line": er.start_line, "start_column": er.start_column,
                                "end_line": er.end_line, "end_column": er.end_column,
                                "start_byte": e.start_byte, "end_byte": e.end_byte,
                                "replacement": e.replacement,
                            })
                        })
                        .collect();
                    json!({ "title": fix.title, "edits": edits })
                })
                .collect();
            findings.push(json!({
                "path": path,
                "line": r.start_line, "column": r.start_column,
                "end_line": r.end_line, "end_column": r.end_column,
                "start_byte": f.start_byte, "end_byte": f.end_byte,
                "severity": f.severity.as_str(),
                "check": f.check.as_str(),
                "message": f.message,
                "fixes": fixes,
            }));
        }
    }
    let count = |s: Severity| {
        files
            .iter()
            .flat_map(|f| f.findings)
            .filter(|f| f.severity == s)
            .count()
    };
    let doc = json!({
        "version": 1,
        "findings": findings,
        "summary": {
            "files": files.len(),
            "findings": findings.len(),
            "error": count(Severity::Error),
            "warning": count(Severity::Warning),
            "info": count(Severity::Info),
            "hint": count(Severity::Hint),
        },
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info | Severity::Hint => "note",
    }
}

/// Percent-encodes what a relative URI reference cannot hold as is.
fn uri(path: &Path) -> String {
    let mut out = String::new();
    for b in display_path(path).bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A SARIF 2.1.0 log with one run: every check as a rule, every finding as a result, fixes as
/// SARIF fixes.
pub fn sarif(files: &[FileReport]) -> String {
    let rules: Vec<Value> = registry()
        .iter()
        .map(|info| {
            let mut rule = json!({
                "id": info.name,
                "name": info.name.replace(['/', '-'], "_"),
                "shortDescription": { "text": info.title },
                "fullDescription": { "text": info.explanation },
                "help": { "text": info.explanation, "markdown": info.explanation },
                "defaultConfiguration": {
                    "level": sarif_level(info.default_severity),
                    "enabled": info.enabled_by_default,
                },
                "properties": { "tags": [info.family()] },
            });
            // Code scanning services link the rule to its page.
            if let Some(url) = super::doc_url(info.id) {
                rule["helpUri"] = Value::String(url);
            }
            rule
        })
        .collect();
    let mut results = Vec::new();
    for file in files {
        let lines = LineIndex::new(file.source);
        let artifact = json!({ "uri": uri(file.path) });
        for f in file.findings {
            let r = region(&lines, file.source, f.start_byte, f.end_byte);
            let fixes: Vec<Value> = f
                .fixes
                .iter()
                .map(|fix| {
                    let replacements: Vec<Value> = fix
                        .edits
                        .iter()
                        .map(|e| {
                            let er = region(&lines, file.source, e.start_byte, e.end_byte);
                            json!({
                                "deletedRegion": {
                                    "startLine": er.start_line, "startColumn": er.start_column,
                                    "endLine": er.end_line, "endColumn": er.end_column,
                                },
                                "insertedContent": { "text": e.replacement },
                            })
                        })
                        .collect();
                    json!({
                        "description": { "text": fix.title },
                        "artifactChanges": [{ "artifactLocation": artifact, "replacements": replacements }],
                    })
                })
                .collect();
            let mut result = json!({
                "ruleId": f.check.as_str(),
                "ruleIndex": f.check as usize,
                "level": sarif_level(f.severity),
                "message": { "text": f.message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": artifact,
                        "region": {
                            "startLine": r.start_line, "startColumn": r.start_column,
                            "endLine": r.end_line, "endColumn": r.end_column,
                        },
                    },
                }],
            });
            if !fixes.is_empty() {
                result["fixes"] = Value::Array(fixes);
            }
            results.push(result);
        }
    }
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "aiex",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                },
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::parse;
    use super::super::{run_checks, ChecksConfig, FileContext};
    use super::*;

    fn report<T>(source: &str, f: impl Fn(&[FileReport]) -> T) -> T {
        let tree = parse(source);
        let findings = run_checks(
            source,
            &tree,
            &FileContext::for_path("lib/a b.ex"),
            &ChecksConfig::default(),
        );
        f(&[FileReport {
            path: Path::new("lib/a b.ex"),
            source,
            findings: &findings,
        }])
    }

    const SRC: &str = "# é\ndef f(x), do: IO.inspect(x)\n";

    #[test]
    fn text_lines() {
        assert_eq!(
            report(SRC, text),
            "lib/a b.ex:2:15: warning debug/io-inspect Leftover IO.inspect\n"
        );
    }

    #[test]
    fn json_document() {
        let doc: Value = serde_json::from_str(&report(SRC, json)).unwrap();
        let f = &doc["findings"][0];
        assert_eq!(f["check"], "debug/io-inspect");
        assert_eq!(
            (f["line"].as_u64(), f["column"].as_u64()),
            (Some(2), Some(15))
        );
        assert_eq!(f["end_column"], 28);
        assert_eq!(f["fixes"][0]["edits"][0]["replacement"], "x");
        assert_eq!(doc["summary"]["warning"], 1);
    }

    #[test]
    fn sarif_log() {
        let doc: Value = serde_json::from_str(&report(SRC, sarif)).unwrap();
        assert_eq!(doc["version"], "2.1.0");
        let run = &doc["runs"][0];
        assert_eq!(
            run["tool"]["driver"]["rules"].as_array().map(Vec::len),
            Some(registry().len())
        );
        let result = &run["results"][0];
        assert_eq!(result["ruleId"], "debug/io-inspect");
        assert_eq!(
            run["tool"]["driver"]["rules"][result["ruleIndex"].as_u64().unwrap() as usize]["id"],
            "debug/io-inspect"
        );
        assert_eq!(result["level"], "warning");
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], "lib/a%20b.ex");
        assert_eq!(location["region"]["startLine"], 2);
        assert_eq!(location["region"]["startColumn"], 15);
        assert_eq!(
            result["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"],
            "x"
        );
    }
}
