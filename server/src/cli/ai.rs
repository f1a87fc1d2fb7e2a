//! `aiex complete FILE:LINE:COL` and `aiex explain FILE:LINE`: the engine's completion and
//! explanation from a terminal, for scripts and for trying a model without an editor. The
//! workspace is set up as the server sets up an editor's, so the prompt for a place is the
//! editor's prompt for that place.

use std::time::Duration;

use anyhow::{bail, Context};

use super::context::{byte_offset, parse_position};
use super::workspace::{self, FileWorkspace};
use super::{out, outln};
use crate::engine::{
    ActionKind, ActionOutcome, ActionRequest, AiError, CompletionOptions, Cursor, GeneratedTests,
    IndexCacheUse, RunProjectCode,
};

/// The least time a one-shot completion waits for a model: nobody is typing on, and a model on
/// a laptop CPU reads a prompt for seconds.
const CLI_COMPLETION_TIMEOUT: Duration = Duration::from_secs(30);

/// Arguments of `aiex complete`.
#[derive(Debug, clap::Args)]
pub struct CompleteArgs {
    /// Where to complete: `FILE:LINE:COL` (1-based; the column counts characters).
    pub location: String,
}

/// Arguments of `aiex explain`.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The function: `FILE:LINE` (any line of its definition, from 1), `FILE` with
    /// `--function`, or `Module.fun/arity` (found in the workspace of the current directory).
    pub target: String,
    /// The function of FILE to explain, as `name/arity`.
    #[arg(long, value_name = "NAME/ARITY")]
    pub function: Option<String>,
    /// Output format: text (the Markdown) or json (`{"title", "markdown"}`).
    #[arg(long, default_value = "text")]
    pub format: OutputFormat,
}

/// Arguments of `aiex docs`.
#[derive(Debug, clap::Args)]
pub struct DocsArgs {
    /// The function, as for `aiex explain`.
    pub target: String,
    /// The function of FILE, as `name/arity`.
    #[arg(long, value_name = "NAME/ARITY")]
    pub function: Option<String>,
    /// Output format: text (the `@doc`/`@spec` to add) or json (`{"file", "line", "text"}`).
    #[arg(long, default_value = "text")]
    pub format: OutputFormat,
}

/// Arguments of `aiex tests`.
#[derive(Debug, clap::Args)]
pub struct TestsArgs {
    /// The function, as for `aiex explain`; a FILE alone means its first public function.
    pub target: String,
    /// The function of FILE, as `name/arity`.
    #[arg(long, value_name = "NAME/ARITY")]
    pub function: Option<String>,
    /// Run the generated tests with `mix test` and keep only those that pass. This runs your
    /// project's code and the model's tests; without it, they run only in a workspace you
    /// trusted with `aiex trust`.
    #[arg(long)]
    pub run: bool,
    /// Output format: text (a summary) or json (`{"path", "created", "kept", "dropped",
    /// "not_run", "summary"}`).
    #[arg(long, default_value = "text")]
    pub format: OutputFormat,
}

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Text,
    /// One JSON object, for tools (the Mix tasks read it).
    Json,
}

/// Runs `aiex complete`: prints the suggestion for the cursor.
pub fn complete(args: CompleteArgs) -> anyhow::Result<()> {
    let (path, line, column) = parse_position(&args.location)?;
    let opened = workspace::open(&path, None, IndexCacheUse::ReadWrite)?;
    let text = opened.text()?;
    let FileWorkspace {
        engine, key, file, ..
    } = opened;
    let cursor = byte_offset(&text, line, column)
        .with_context(|| format!("{}:{line}:{column} is outside the file", file.display()))?;
    let settings = engine.config().config.features.completion.clone();
    let options = CompletionOptions {
        explicit: true,
        timeout: Some(Duration::from_millis(settings.timeout_ms).max(CLI_COMPLETION_TIMEOUT)),
    };
    let runtime = workspace::runtime()?;
    if let Some(notice) = runtime.block_on(engine.probe_implicit_provider()) {
        bail!("{}", notice.trim_start_matches("Aiex: "));
    }
    let outcome = runtime.block_on(engine.complete(&key, Cursor::Byte(cursor), options))?;
    match outcome.suggestion {
        Some(suggestion) => {
            outln!("{}", suggestion.text)?;
            Ok(())
        }
        // The reason, not the editor's notice: the command line says it once, plainly.
        None => bail!(
            "no suggestion: {}",
            outcome
                .nothing_because
                .unwrap_or_else(|| "nothing useful at this place".to_owned())
        ),
    }
}

/// A function named on the command line: an engine over its workspace, its file open, and the
/// cursor on its definition.
struct TargetFunction {
    workspace: FileWorkspace,
    cursor: usize,
}

/// Resolves `FILE:LINE`, `FILE` (with `--function name/arity`, or its first public function)
/// or `Module.fun/arity`.
fn target_function(target: &str, function: Option<&str>) -> anyhow::Result<TargetFunction> {
    if let Some((module, name, arity)) = parse_mfa(target) {
        let (workspace, cursor) = workspace::open_function(&module, &name, arity)?;
        return Ok(TargetFunction { workspace, cursor });
    }
    let is_module = !target.contains(['/', ':'])
        && target
            .split('.')
            .all(|part| part.starts_with(|c: char| c.is_ascii_uppercase()));
    if is_module {
        bail!(
            "`{target}` is a module: name one of its functions, as `{target}.fun/arity` \
             (explaining a whole module is not supported)"
        );
    }
    let (path, line) = match target.rsplit_once(':') {
        Some((file, line)) if line.parse::<usize>().is_ok_and(|l| l > 0) => {
            (std::path::PathBuf::from(file), line.parse::<usize>().ok())
        }
        _ => (std::path::PathBuf::from(target), None),
    };
    let opened = workspace::open(&path, None, IndexCacheUse::ReadWrite)?;
    let text = opened.text()?;
    let cursor = match (line, function) {
        (Some(line), _) => {
            let line_start = byte_offset(&text, line, 1)
                .with_context(|| format!("{} has no line {line}", opened.file.display()))?;
            let indent = text[line_start..]
                .chars()
                .take_while(|c| c.is_whitespace() && *c != '\n')
                .map(char::len_utf8)
                .sum::<usize>();
            line_start + indent
        }
        (None, function) => {
            let chunks = crate::chunks::extract(
                &crate::syntax::parse_str(&text)
                    .map_err(|e| anyhow::anyhow!("cannot parse {}: {e}", path.display()))?,
                &text,
            );
            let functions = chunks
                .all_modules()
                .into_iter()
                .flat_map(|m| m.functions.iter());
            let found = match function {
                Some(wanted) => {
                    let (name, arity) = wanted
                        .rsplit_once('/')
                        .and_then(|(n, a)| Some((n, a.parse::<usize>().ok()?)))
                        .with_context(|| format!("`{wanted}` is not name/arity"))?;
                    functions
                        .into_iter()
                        .find(|f| f.name == name && f.arity == arity)
                        .with_context(|| format!("{} has no {wanted}", path.display()))?
                }
                None => functions
                    .into_iter()
                    .find(|f| f.kind == crate::chunks::FunctionKind::Def)
                    .with_context(|| format!("{} has no public function", path.display()))?,
            };
            found.range.start
        }
    };
    Ok(TargetFunction {
        workspace: opened,
        cursor,
    })
}

/// `Module.fun/arity` (a module is capitalised; a path would not be).
fn parse_mfa(target: &str) -> Option<(String, String, usize)> {
    let (qualified, arity) = target.rsplit_once('/')?;
    let arity = arity.parse().ok()?;
    let (module, name) = qualified.rsplit_once('.')?;
    let is_module = module
        .split('.')
        .all(|part| part.starts_with(|c: char| c.is_ascii_uppercase()));
    (is_module && !name.is_empty()).then(|| (module.to_owned(), name.to_owned(), arity))
}

/// Runs an action on a target function, after checking a model is there.
fn run_action(
    target: &str,
    function: Option<&str>,
    kind: ActionKind,
    run_project_code: RunProjectCode,
) -> anyhow::Result<(std::sync::Arc<crate::engine::Engine>, ActionRequest)> {
    let TargetFunction { workspace, cursor } = target_function(target, function)?;
    let request = ActionRequest {
        key: workspace.key,
        cursor: Cursor::Byte(cursor),
        kind,
        instruction: None,
        run_project_code,
    };
    Ok((workspace.engine, request))
}

/// The engine's "not a function here" in the command line's words.
fn at_target(target: &str) -> impl Fn(AiError) -> anyhow::Error + '_ {
    move |error| match error {
        AiError::NotApplicable(_) => {
            anyhow::anyhow!("no function at {target}: give a line of a function's definition")
        }
        other => other.into(),
    }
}

/// Runs `aiex explain`: prints the explanation of a function.
pub fn explain(args: ExplainArgs) -> anyhow::Result<()> {
    let (engine, request) = run_action(
        &args.target,
        args.function.as_deref(),
        ActionKind::Explain,
        RunProjectCode::Never,
    )?;
    let runtime = workspace::runtime()?;
    if let Some(notice) = runtime.block_on(engine.probe_implicit_provider()) {
        bail!("{}", notice.trim_start_matches("Aiex: "));
    }
    let outcome = runtime
        .block_on(engine.action(request))
        .map_err(at_target(&args.target))?;
    match outcome {
        ActionOutcome::Explanation { title, markdown } => match args.format {
            OutputFormat::Text => out!("{markdown}"),
            OutputFormat::Json => outln!(
                "{}",
                serde_json::json!({ "title": title, "markdown": markdown })
            ),
        }
        .map_err(Into::into),
        other => bail!("the explanation came back as an edit: {other:?}"),
    }
}

/// Runs `aiex docs`: prints the `@doc`/`@spec` the model proposes for a function (nothing is
/// written).
pub fn docs(args: DocsArgs) -> anyhow::Result<()> {
    let (engine, request) = run_action(
        &args.target,
        args.function.as_deref(),
        ActionKind::AddDocs,
        RunProjectCode::Never,
    )?;
    let runtime = workspace::runtime()?;
    if let Some(notice) = runtime.block_on(engine.probe_implicit_provider()) {
        bail!("{}", notice.trim_start_matches("Aiex: "));
    }
    let outcome = runtime
        .block_on(engine.action(request))
        .map_err(at_target(&args.target))?;
    let ActionOutcome::Edit(edit) = outcome else {
        bail!("the docs came back as something else: {outcome:?}");
    };
    let line = edit.base.byte_to_line(edit.range.start) + 1;
    let file = edit.key.path().map(|p| p.display().to_string());
    match args.format {
        OutputFormat::Text => out!("{}", edit.new_text)?,
        OutputFormat::Json => outln!(
            "{}",
            serde_json::json!({ "file": file, "line": line, "text": edit.new_text })
        )?,
    }
    Ok(())
}

/// Runs `aiex tests`: writes tests for a function into its test file (created, or extended),
/// run with `mix test` when allowed so only the passing ones are kept.
pub fn tests(args: TestsArgs) -> anyhow::Result<()> {
    let run_project_code = if args.run {
        RunProjectCode::Allowed
    } else {
        RunProjectCode::IfTrusted
    };
    let (engine, request) = run_action(
        &args.target,
        args.function.as_deref(),
        ActionKind::GenerateTests,
        run_project_code,
    )?;
    let runtime = workspace::runtime()?;
    if let Some(notice) = runtime.block_on(engine.probe_implicit_provider()) {
        bail!("{}", notice.trim_start_matches("Aiex: "));
    }
    let GeneratedTests { outcome, verdict } = runtime
        .block_on(engine.generate_tests(request))
        .map_err(at_target(&args.target))?;
    let (path, created) = match &outcome {
        ActionOutcome::CreateFile { path, text, .. } => {
            engine.create_file(path, text)?;
            (path.clone(), true)
        }
        ActionOutcome::Edit(edit) => {
            engine.write_edit(edit)?;
            let path = edit.key.path().context("the test file has no path")?;
            (path.to_path_buf(), false)
        }
        other => bail!("the tests came back as an explanation: {other:?}"),
    };
    let summary = verdict.summary();
    match args.format {
        OutputFormat::Text => outln!(
            "{} {}; {summary}",
            if created { "created" } else { "updated" },
            path.display()
        )?,
        OutputFormat::Json => outln!(
            "{}",
            serde_json::json!({
                "path": path,
                "created": created,
                "kept": verdict.kept,
                "dropped": verdict.dropped,
                "not_run": verdict.not_run,
                "summary": summary,
            })
        )?,
    }
    Ok(())
}
