//! `aiex complete FILE:LINE:COL` and `aiex explain FILE:LINE`: the engine's completion and
//! explanation from a terminal, for scripts and for trying a model without an editor. The
//! workspace is set up as the server sets up an editor's, so the prompt for a place is the
//! editor's prompt for that place.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};

use super::context::{byte_offset, parse_position};
use super::workspace::{self, FileWorkspace};
use super::{out, outln};
use crate::engine::{
    ActionKind, ActionOutcome, ActionRequest, AiError, CompletionOptions, Cursor, ExternalFunction,
    GeneratedTests, IndexCacheUse, RunProjectCode,
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
    /// What to explain: a function as `FILE:LINE` (any line of its definition, from 1), `FILE`
    /// with `--function`, or `Module.fun/arity`; or a whole module as `Module` (found in the
    /// workspace of the current directory).
    pub target: String,
    /// The function of FILE to explain, as `name/arity`.
    #[arg(long, value_name = "NAME/ARITY")]
    pub function: Option<String>,
    /// A function the workspace does not define, described in a JSON file (`-`: stdin):
    /// `{"module", "name", "arity", "signatures", "doc", "source"}`. The Mix task and the
    /// IEx helper write it from the loaded module; the source file is read only if the privacy
    /// gate admits it.
    #[arg(long, value_name = "FILE")]
    pub external: Option<PathBuf>,
    /// Output format: text (the Markdown, as it streams), json (`{"title", "markdown"}`) or
    /// json-lines (`{"event": "delta", "text"}` as it streams, then
    /// `{"event": "result", "title", "markdown"}`).
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
    /// Output format: text (the `@doc`/`@spec` to add), json (`{"file", "line", "text"}`) or
    /// json-lines (the model's answer as `{"event": "delta", "text"}` lines as it streams,
    /// then `{"event": "result", "file", "line", "text"}`).
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
    /// When tests ran and some failed: send the failing tests with `mix test`'s report back
    /// to the model once, and keep the repaired tests that then pass (one more request;
    /// `features.actions.repair_tests` turns it on for every run).
    #[arg(long)]
    pub repair: bool,
    /// Output format: text (a summary), json (`{"path", "created", "kept", "dropped",
    /// "repaired", "not_run", "summary"}`) or json-lines (the model's tests as
    /// `{"event": "delta", "text"}` lines as they stream, then `{"event": "result", ...}`).
    #[arg(long, default_value = "text")]
    pub format: OutputFormat,
}

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Text,
    /// One JSON object, for tools.
    Json,
    /// One JSON object a line: the model's answer as `delta` events while it streams, then
    /// the `result` event (the Mix tasks and IEx helpers read it).
    JsonLines,
}

/// Prints what a streaming command's format shows of the model's answer as it comes: each
/// piece as a `delta` line (json-lines), or the text itself when `text_streams` (an
/// explanation, whose text is the result).
struct Deltas {
    format: OutputFormat,
    text_streams: bool,
    /// Whether the text printed so far ends a line.
    at_line_start: bool,
}

impl Deltas {
    fn new(format: OutputFormat, text_streams: bool) -> Self {
        Self {
            format,
            text_streams,
            at_line_start: true,
        }
    }

    fn show(&mut self, delta: &str) {
        // A reader gone away is handled by `write_stdout`; another write error ends nothing.
        let _ = match self.format {
            OutputFormat::JsonLines => {
                outln!("{}", serde_json::json!({ "event": "delta", "text": delta }))
            }
            OutputFormat::Text if self.text_streams && !delta.is_empty() => {
                self.at_line_start = delta.ends_with('\n');
                out!("{delta}")
            }
            _ => Ok(()),
        };
    }

    /// Prints the result: `text` in the text format (unless it streamed: then the line is
    /// ended), else `json` (a `result` event in json-lines).
    fn finish(&self, text: &str, mut json: serde_json::Value) -> anyhow::Result<()> {
        match self.format {
            OutputFormat::Text if self.text_streams => {
                if !self.at_line_start {
                    outln!()?;
                }
            }
            OutputFormat::Text => out!("{text}")?,
            OutputFormat::Json => outln!("{json}")?,
            OutputFormat::JsonLines => {
                if let Some(object) = json.as_object_mut() {
                    object.insert("event".to_owned(), "result".into());
                }
                outln!("{json}")?;
            }
        }
        Ok(())
    }
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
        arrived: None,
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
    if is_module_name(target) {
        bail!(
            "`{target}` is a module: name one of its functions, as `{target}.fun/arity` \
             (`aiex explain {target}` explains the whole module)"
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

/// `Module` or `Module.Nested` (capitalised; a path would not be).
fn is_module_name(target: &str) -> bool {
    !target.contains(['/', ':'])
        && target
            .split('.')
            .all(|part| part.starts_with(|c: char| c.is_ascii_uppercase()))
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
        repair_tests: false,
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

/// Runs `aiex explain`: prints the explanation of a function or a module as it streams.
pub fn explain(args: ExplainArgs) -> anyhow::Result<()> {
    let runtime = workspace::runtime()?;
    let mut deltas = Deltas::new(args.format, true);
    let outcome = match &args.external {
        Some(description) => {
            let function = external_function(description, &args.target)?;
            let (engine, _) = workspace::current_engine()?;
            probe(&runtime, &engine)?;
            runtime.block_on(engine.explain_external(&function, &mut |d| deltas.show(d)))?
        }
        None if args.function.is_none() && is_module_name(&args.target) => {
            let (engine, _) = workspace::current_engine()?;
            probe(&runtime, &engine)?;
            runtime.block_on(engine.explain_module(&args.target, &mut |d| deltas.show(d)))?
        }
        None => {
            let (engine, request) = run_action(
                &args.target,
                args.function.as_deref(),
                ActionKind::Explain,
                RunProjectCode::Never,
            )?;
            probe(&runtime, &engine)?;
            runtime
                .block_on(engine.action_streamed(request, &mut |d| deltas.show(d)))
                .map_err(at_target(&args.target))?
        }
    };
    let ActionOutcome::Explanation { title, markdown } = outcome else {
        bail!("the explanation came back as an edit: {outcome:?}");
    };
    deltas.finish(
        &markdown,
        serde_json::json!({ "title": title, "markdown": markdown }),
    )
}

/// Stops before asking when no model is there (the implicit local Ollama not running).
fn probe(runtime: &tokio::runtime::Runtime, engine: &crate::engine::Engine) -> anyhow::Result<()> {
    match runtime.block_on(engine.probe_implicit_provider()) {
        Some(notice) => bail!("{}", notice.trim_start_matches("Aiex: ")),
        None => Ok(()),
    }
}

/// The `--external` description of a function (a file, or `-` for stdin), which must be the
/// function named as the target.
fn external_function(
    description: &std::path::Path,
    target: &str,
) -> anyhow::Result<ExternalFunction> {
    /// A description is a doc and a few signatures: anything larger is not one.
    const MAX_DESCRIPTION_BYTES: u64 = 1 << 20;
    let mut text = String::new();
    let read = if description == std::path::Path::new("-") {
        std::io::Read::read_to_string(
            &mut std::io::Read::take(std::io::stdin().lock(), MAX_DESCRIPTION_BYTES),
            &mut text,
        )
    } else {
        std::fs::File::open(description).and_then(|file| {
            std::io::Read::read_to_string(
                &mut std::io::Read::take(file, MAX_DESCRIPTION_BYTES),
                &mut text,
            )
        })
    };
    read.with_context(|| format!("cannot read {}", description.display()))?;
    let function: ExternalFunction = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a function's description", description.display()))?;
    if function.label() != target {
        bail!(
            "{} describes {}, not {target}",
            description.display(),
            function.label()
        );
    }
    Ok(function)
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
    probe(&runtime, &engine)?;
    let mut deltas = Deltas::new(args.format, false);
    let outcome = runtime
        .block_on(engine.action_streamed(request, &mut |d| deltas.show(d)))
        .map_err(at_target(&args.target))?;
    let ActionOutcome::Edit(edit) = outcome else {
        bail!("the docs came back as something else: {outcome:?}");
    };
    let line = edit.base.byte_to_line(edit.range.start) + 1;
    let file = edit.key.path().map(|p| p.display().to_string());
    deltas.finish(
        &edit.new_text,
        serde_json::json!({ "file": file, "line": line, "text": edit.new_text }),
    )
}

/// Runs `aiex tests`: writes tests for a function into its test file (created, or extended),
/// run with `mix test` when allowed so only the passing ones are kept.
pub fn tests(args: TestsArgs) -> anyhow::Result<()> {
    let run_project_code = if args.run {
        RunProjectCode::Allowed
    } else {
        RunProjectCode::IfTrusted
    };
    let (engine, mut request) = run_action(
        &args.target,
        args.function.as_deref(),
        ActionKind::GenerateTests,
        run_project_code,
    )?;
    request.repair_tests = args.repair;
    let runtime = workspace::runtime()?;
    probe(&runtime, &engine)?;
    let mut deltas = Deltas::new(args.format, false);
    let GeneratedTests { outcome, verdict } = runtime
        .block_on(engine.generate_tests_streamed(request, &mut |d| deltas.show(d)))
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
    deltas.finish(
        &format!(
            "{} {}; {summary}\n",
            if created { "created" } else { "updated" },
            path.display()
        ),
        serde_json::json!({
            "path": path,
            "created": created,
            "kept": verdict.kept,
            "dropped": verdict.dropped,
            "repaired": verdict.repaired,
            "not_run": verdict.not_run,
            "summary": summary,
        }),
    )
}
