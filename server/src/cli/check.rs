//! `aiex check`: the built-in checks from the command line, for CI.
//!
//! Walks the given paths (same ignore rules as the index), checks the Elixir files and the
//! `.heex`/`.eex` templates on all cores, prints findings as text, JSON or SARIF on stdout, a
//! summary on stderr, and exits 1 when a finding is at or above `--fail-on`, 0 otherwise, 2 on
//! usage errors. The configuration is read as the server reads it (`~/.config/aiex/config.toml`
//! and `./.aiex.toml` through the shared loader): a bad key is reported and the rest applies.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context as _};

use super::{out, outln};
use crate::checks::{self, report, CheckId, ChecksConfig, FileContext, Finding, Severity};
use crate::config::{user_config_path, ConfigLayers};
use crate::walk::{self, WalkOptions};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// `file:line:col: severity ID message`, one finding per line.
    Text,
    /// One JSON document.
    Json,
    /// SARIF 2.1.0, for code scanning services.
    Sarif,
}

/// The severity that makes `aiex check` fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Errors only.
    Error,
    /// Warnings and errors (the default: every warning is worth failing a build).
    Warning,
    /// Info, warnings and errors.
    Info,
    /// Any finding, hints included.
    Hint,
    /// Never fail because of findings.
    Never,
}

impl FailOn {
    fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Info => Some(Severity::Info),
            FailOn::Hint => Some(Severity::Hint),
            FailOn::Never => None,
        }
    }
}

/// Arguments of `aiex check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Files or directories to check (the current directory when none).
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Exit with 1 when a finding of this severity or above exists.
    #[arg(long, value_enum, value_name = "SEVERITY", default_value_t = FailOn::Warning)]
    pub fail_on: FailOn,
    /// Print the explanation of a check and exit.
    #[arg(long, value_name = "ID")]
    pub explain: Option<String>,
    /// List the checks and exit.
    #[arg(long)]
    pub list: bool,
    /// A TOML configuration file read instead of `~/.config/aiex/config.toml` and
    /// `./.aiex.toml` (its `[checks]` table applies; other keys are validated as the server does).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Disable a check or a family (repeatable).
    #[arg(long, value_name = "ID")]
    pub disable: Vec<String>,
    /// Enable a check that is off by default, or a family (repeatable).
    #[arg(long, value_name = "ID")]
    pub enable: Vec<String>,
    /// Skip files larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
    pub max_file_size: u64,
    /// Worker threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
}

/// Runs `aiex check` and returns its exit code.
pub fn run(args: CheckArgs) -> ExitCode {
    if let Some(id) = &args.explain {
        return explain(id);
    }
    if args.list {
        list();
        return ExitCode::SUCCESS;
    }
    let config = match load_config(&args) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("aiex check: {err:#}");
            return ExitCode::from(2);
        }
    };
    let include_templates = config.is_enabled(CheckId::XssRaw);
    let roots = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let options = WalkOptions {
        include_heex: include_templates,
        max_file_size: args.max_file_size,
        threads: args.jobs.unwrap_or(0),
    };
    let files = match walk::elixir_files(&roots, &options) {
        Ok(files) => files,
        Err(err) => {
            eprintln!("aiex check: {err}");
            return ExitCode::from(2);
        }
    };
    let started = std::time::Instant::now();
    let results = check_files(&files, &config, &options, args.jobs);
    let mut failed_reads = 0;
    let mut checked = Vec::new();
    for result in results {
        match result {
            Ok(Some(file)) => checked.push(file),
            Ok(None) => {}
            Err(err) => {
                failed_reads += 1;
                eprintln!("aiex check: {err:#}");
            }
        }
    }
    let reports: Vec<report::FileReport> = checked
        .iter()
        .map(|c| report::FileReport {
            path: &c.display,
            source: &c.source,
            findings: &c.findings,
        })
        .collect();
    let out = match args.format {
        OutputFormat::Text => report::text(&reports),
        OutputFormat::Json => report::json(&reports) + "\n",
        OutputFormat::Sarif => report::sarif(&reports) + "\n",
    };
    if let Err(err) = out!("{out}") {
        eprintln!("aiex check: cannot write the findings: {err}");
        return ExitCode::from(2);
    }
    let all: Vec<&Finding> = checked.iter().flat_map(|c| &c.findings).collect();
    eprintln!(
        "aiex check: {} finding(s) in {} file(s) checked in {} ms",
        all.len(),
        checked.len(),
        started.elapsed().as_millis()
    );
    if failed_reads > 0 {
        return ExitCode::from(2);
    }
    let failing = args
        .fail_on
        .threshold()
        .is_some_and(|t| all.iter().any(|f| f.severity <= t));
    if failing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// A checked file.
struct Checked {
    display: PathBuf,
    source: String,
    findings: Vec<Finding>,
}

/// Checks files on `jobs` threads (default: all cores); results come back in the files' order.
fn check_files(
    files: &[walk::WalkedFile],
    config: &ChecksConfig,
    options: &WalkOptions,
    jobs: Option<usize>,
) -> Vec<anyhow::Result<Option<Checked>>> {
    let cwd = std::env::current_dir().ok();
    let contexts = context_paths(files, cwd.as_deref());
    let threads = jobs
        .filter(|&j| j > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<anyhow::Result<Option<Checked>>>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut parser = tree_sitter::Parser::new();
                let language_ok = parser
                    .set_language(&tree_sitter_elixir::LANGUAGE.into())
                    .is_ok();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(i) else { break };
                    let result = if language_ok {
                        let context = contexts.get(i).cloned().flatten();
                        check_one(
                            &mut parser,
                            &file.path,
                            context,
                            cwd.as_deref(),
                            config,
                            options,
                        )
                    } else {
                        Err(anyhow::anyhow!("the Elixir grammar failed to load"))
                    };
                    if let Ok(mut slots) = slots.lock() {
                        slots[i] = Some(result);
                    }
                }
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

fn check_one(
    parser: &mut tree_sitter::Parser,
    path: &Path,
    context: Option<PathBuf>,
    cwd: Option<&Path>,
    config: &ChecksConfig,
    options: &WalkOptions,
) -> anyhow::Result<Option<Checked>> {
    let Some(source) = walk::read_source(path, options.max_file_size)? else {
        tracing::debug!(path = %path.display(), "skipping binary or oversized file");
        return Ok(None);
    };
    let display = display_path(path, cwd);
    let file = FileContext {
        path: Some(context.unwrap_or_else(|| display.clone())),
    };
    let findings = if checks::is_template(path) {
        checks::check_template(&source, &file, config)
    } else {
        let tree = parser
            .parse(&source, None)
            .with_context(|| format!("cannot parse {}", path.display()))?;
        checks::run_checks(&source, &tree, &file, config)
    };
    Ok(Some(Checked {
        display,
        source,
        findings,
    }))
}

/// Each file's path relative to its Mix project (the nearest directory above it holding a
/// `mix.exs`), which the checks' `lib/`, `config/` and `test/` rules read. Files outside any
/// Mix project get `None` (their displayed path is used).
fn context_paths(files: &[walk::WalkedFile], cwd: Option<&Path>) -> Vec<Option<PathBuf>> {
    let mut is_project: std::collections::HashMap<PathBuf, bool> = std::collections::HashMap::new();
    files
        .iter()
        .map(|file| {
            let absolute = match cwd {
                Some(cwd) => cwd.join(&file.path),
                None => file.path.clone(),
            };
            let project = absolute.ancestors().skip(1).find(|dir| {
                *is_project
                    .entry(dir.to_path_buf())
                    .or_insert_with(|| dir.join("mix.exs").is_file())
            })?;
            let relative = absolute.strip_prefix(project).ok()?;
            Some(
                relative
                    .components()
                    .filter(|c| !matches!(c, std::path::Component::CurDir))
                    .collect(),
            )
        })
        .collect()
}

/// The path relative to the current directory when it is under it, without a leading `./`.
fn display_path(path: &Path, cwd: Option<&Path>) -> PathBuf {
    let relative = match cwd {
        Some(cwd) if path.is_absolute() => path.strip_prefix(cwd).unwrap_or(path),
        _ => path,
    };
    relative.strip_prefix(".").unwrap_or(relative).to_path_buf()
}

/// The configuration as the server reads it (the user's file and `./.aiex.toml`, or `--config`
/// alone), with `--disable`/`--enable` on top. Problems in the files are reported on stderr and
/// the rest applies, as in the editor; an unknown ID on the command line is a usage error.
fn load_config(args: &CheckArgs) -> anyhow::Result<ChecksConfig> {
    let layers = match &args.config {
        Some(path) => {
            if !path.is_file() {
                bail!("--config {}: no such file", path.display());
            }
            ConfigLayers::from_files(Some(path), None)
        }
        None => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            ConfigLayers::from_files(user_config_path().as_deref(), Some(&cwd))
        }
    };
    let loaded = layers.resolve();
    for issue in &loaded.issues {
        eprintln!("aiex check: {issue}");
    }
    let mut config = loaded.config.checks;
    let from_files = config.problems().len();
    config.disabled.extend(args.disable.iter().cloned());
    config.enabled.extend(args.enable.iter().cloned());
    let problems = config.problems();
    if problems.len() > from_files {
        bail!(
            "{}; run `aiex check --list` to see the checks",
            problems[from_files..].join("; ")
        );
    }
    Ok(config)
}

fn explain(id: &str) -> ExitCode {
    let Some(check) = CheckId::parse(id) else {
        eprintln!("aiex check: unknown check ID `{id}`; run `aiex check --list` to see the checks");
        return ExitCode::from(2);
    };
    let info = check.info();
    let text = format!(
        "# {}: {}\n\nDefault severity: {}. Enabled by default: {}.\n\n{}\n\nSilence one line with `# aiex:disable-next-line {}`, or the whole check with `disabled = [\"{}\"]` in the `[checks]` table of .aiex.toml. More: {}\n",
        info.name,
        info.title,
        info.default_severity.as_str(),
        if info.enabled_by_default { "yes" } else { "no" },
        info.explanation,
        info.name,
        info.name,
        checks::doc_path(check),
    );
    match outln!("{text}") {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("aiex check: {err}");
            ExitCode::from(2)
        }
    }
}

fn list() {
    for info in checks::registry() {
        let _ = outln!(
            "{:<44} {:<8} {}{}",
            info.name,
            info.default_severity.as_str(),
            info.title,
            if info.enabled_by_default {
                ""
            } else {
                " (off by default)"
            }
        );
    }
}
