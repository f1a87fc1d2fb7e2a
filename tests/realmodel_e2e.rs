//! Every AI feature once against a real model: the real `aiex` binary (command line and LSP
//! server) on a copy of `fixtures/sample_app`, asking Qwen2.5-Coder behind llama.cpp's server
//! (`tests/support/realmodel.rs`). A fake provider proves the protocol; only a real model shows
//! that prompts, deadlines, parse checks and answer cleaning hold for what a model really says.
//!
//! The model is small and its answers vary, so the assertions are what must hold for any
//! useful answer: something is offered, it parses in place, it is about the code asked about.
//! One request at a time (the model server serves one): `cargo test --test realmodel_e2e --
//! --test-threads=1`.

#[path = "support/lsp_client.rs"]
mod lsp_client;
mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use lsp_client::LspClient;
use serde_json::json;
use support::realmodel::{RealModel, REQUEST_DEADLINE};

/// `lib/sample_app/accounts.ex`, 1-based line 27: `    Mailer.deliver_welcome(user)`, held
/// out (its indentation kept) so that the model has a statement to write.
const HELD_OUT_LINE: usize = 27;
/// The first line of the same function's body (`    user = User.new(attrs)`): a block starts
/// there, and blocks are where completions get several candidates.
const BODY_START_LINE: usize = 25;
const ACCOUNTS: &str = "lib/sample_app/accounts.ex";

/// A copy of the sample project with the line held out, and a user configuration (its own
/// `XDG_CONFIG_HOME`) whose one provider is the real model.
struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
    user_config: PathBuf,
    /// The 1-based line held out.
    held_out: usize,
}

impl Project {
    fn new(model: &RealModel) -> Self {
        Self::holding_out(model, HELD_OUT_LINE, "Mailer.deliver_welcome(user)")
    }

    /// A copy whose 1-based `line`, reading `expected`, is held out.
    fn holding_out(model: &RealModel, line: usize, expected: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("sample_app");
        support::files::copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sample_app"),
            &root,
        );
        let path = root.join(ACCOUNTS);
        let text = std::fs::read_to_string(&path).expect("accounts.ex");
        let mut lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[line - 1].trim(), expected);
        lines[line - 1] = "    ";
        std::fs::write(&path, lines.join("\n") + "\n").expect("write");
        let user_config = dir.path().join("user-config");
        std::fs::create_dir_all(user_config.join("aiex")).expect("mkdir");
        let deadline = REQUEST_DEADLINE.as_millis();
        // An action's deadline covers all its requests: generated tests are asked for, then
        // repaired once, and the 0.5B model can run to the 1,500-token cap on each (100 s at
        // 15 tokens per second in CI, where the default 180 s ran out once).
        let action_deadline = 2 * deadline;
        std::fs::write(
            user_config.join("aiex/config.toml"),
            format!(
                "{}\n[features.completion]\ntimeout_ms = {deadline}\n\n\
                 [features.actions]\ntimeout_ms = {action_deadline}\n",
                model.user_config()
            ),
        )
        .expect("write the user configuration");
        Self {
            _dir: dir,
            root,
            user_config,
            held_out: line,
        }
    }

    fn text(&self) -> String {
        std::fs::read_to_string(self.root.join(ACCOUNTS)).expect("accounts.ex")
    }

    fn cli(&self, args: &[&str]) -> Output {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_aiex"))
            .args(args)
            .current_dir(&self.root)
            .env("XDG_CONFIG_HOME", &self.user_config)
            .env("AIEX_DATA_DIR", self.root.join("../data"))
            .env("AIEX_CACHE_DIR", self.root.join("../cache"))
            .output()
            .expect("run aiex");
        eprintln!(
            "aiex {}: {}\n--- stdout\n{}\n--- stderr\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// An LSP server on the project, configured through `initializationOptions` (a user's
    /// editor settings), every feature on the real model.
    fn server(&self, model: &RealModel, candidates: usize) -> LspClient {
        let deadline = REQUEST_DEADLINE.as_millis() as u64;
        let mut client = LspClient::spawn(Some(&self.root));
        client.initialize(
            json!({
                "workspace": { "workspaceEdit": { "documentChanges": true, "changeAnnotationSupport": { "groupsOnLabel": false } } },
                "window": { "showDocument": { "support": true } }
            }),
            json!({
                "providers": { "local": model.provider() },
                "features": {
                    "completion": { "providers": ["local"], "debounce_min_ms": 0, "debounce_max_ms": 0, "timeout_ms": deadline, "candidates": candidates },
                    "explain": { "providers": ["local"], "hover": false },
                    "actions": { "providers": ["local"], "candidates": candidates }
                }
            }),
            Some(&self.root),
        );
        client.open(&self.uri(), &self.text());
        client
    }

    fn uri(&self) -> String {
        lsp_client::file_uri(&self.root.join(ACCOUNTS))
    }
}

fn parses(text: &str) -> bool {
    aiex_engine::syntax::parse_str(text).is_ok_and(|tree| !tree.root_node().has_error())
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_command_line_completes_a_held_out_line_with_code_that_parses_in_place() {
    let Some(model) = RealModel::for_test("realmodel_e2e::complete") else {
        return;
    };
    let project = Project::new(&model);
    let output = project.cli(&["complete", &format!("{ACCOUNTS}:{HELD_OUT_LINE}:5")]);
    assert!(output.status.success());
    let completion = stdout(&output);
    assert!(!completion.trim().is_empty(), "no completion");
    let mut completed: Vec<String> = project.text().lines().map(str::to_owned).collect();
    completed[HELD_OUT_LINE - 1].push_str(completion.trim_end_matches('\n'));
    assert!(
        parses(&completed.join("\n")),
        "the completion does not parse in place: {completion:?}"
    );
}

/// `aiex tests --run`: whatever a small model writes, the test file left behind passes under
/// `mix test` (only the tests that compiled and passed were kept), or nothing is written and
/// the command says why.
#[test]
fn generated_tests_are_run_and_only_passing_ones_are_kept() {
    let Some(model) = RealModel::for_test("realmodel_e2e::tests") else {
        return;
    };
    if !support::elixir::installed("realmodel_e2e::tests") {
        return;
    }
    let project = Project::new(&model);
    let test_file = project.root.join("test/sample_app/accounts_test.exs");
    let before = std::fs::read_to_string(&test_file).ok();
    let output = project.cli(&["tests", ACCOUNTS, "--function", "fetch/2", "--run"]);
    let said = format!(
        "{}{}",
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    let after = std::fs::read_to_string(&test_file).ok();
    if after == before {
        assert!(
            said.contains("none was kept") || said.contains("nothing was changed"),
            "the file is unchanged and nothing says why: {said}"
        );
        return;
    }
    assert!(output.status.success(), "{said}");
    assert!(said.contains(" kept, "), "no count of kept tests: {said}");
    let run = std::process::Command::new("mix")
        .args(["test", "test/sample_app/accounts_test.exs"])
        .current_dir(&project.root)
        .env("MIX_ENV", "test")
        .output()
        .expect("mix test");
    assert!(
        run.status.success(),
        "the kept tests fail:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        after.unwrap_or_default()
    );
}

#[test]
fn the_command_line_explains_a_function_in_prose_under_its_name() {
    let Some(model) = RealModel::for_test("realmodel_e2e::explain") else {
        return;
    };
    let project = Project::new(&model);
    // `def fetch(id, attempts) do` (line 38): a recursive retry over Repo.get.
    let output = project.cli(&["explain", &format!("{ACCOUNTS}:39")]);
    assert!(output.status.success());
    let text = stdout(&output);
    let (heading, body) = text.split_once('\n').expect("a heading and a body");
    assert_eq!(heading, "# SampleApp.Accounts.fetch/2");
    assert!(
        body.split_whitespace().count() >= 8,
        "too short to be an explanation: {body:?}"
    );
}

#[test]
fn an_editor_gets_an_inline_completion_that_parses_in_place() {
    let Some(model) = RealModel::for_test("realmodel_e2e::inline") else {
        return;
    };
    let project = Project::new(&model);
    let mut client = project.server(&model, 1);
    let offered = inline_completions_at_the_held_out_line(&project, &mut client);
    assert!(!offered.is_empty(), "no inline completion");
    assert!(client.shutdown().success());
}

#[test]
fn several_candidates_from_a_real_model_each_parse_in_place_and_refactors_alternate() {
    let Some(model) = RealModel::for_test("realmodel_e2e::candidates") else {
        return;
    };
    let project = Project::holding_out(&model, BODY_START_LINE, "user = User.new(attrs)");
    let mut client = project.server(&model, 3);
    let offered = inline_completions_at_the_held_out_line(&project, &mut client);
    assert!(!offered.is_empty(), "no inline completion");
    eprintln!("{} distinct candidates: {offered:?}", offered.len());

    // Refactor `fetch/2` in two versions: the applied one parses; the other, when the model
    // gave a distinct one that passed, is offered on it and parses too.
    let refactor = client.code_action(&project.uri(), 38, 6, "aiex.refactor");
    let id = client.send_request("workspace/executeCommand", refactor["command"].clone());
    // A 0.5B model sometimes renames the function in every version: a clear refusal then.
    let Some(edit) = applied_edit_or_refusal(&mut client, id) else {
        assert!(client.shutdown().success());
        return;
    };
    assert!(client.response_within(id, REQUEST_DEADLINE)["error"].is_null());
    let edited = lsp_client::apply_workspace_edit(&project.text(), &edit["params"]["edit"]);
    assert!(
        parses(&edited),
        "the refactored file does not parse:\n{edited}"
    );
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": project.uri(), "version": 2 }, "contentChanges": [{ "text": edited }] }),
    );
    let position = json!({ "line": 38, "character": 6 });
    let actions = client.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": project.uri() }, "range": { "start": position, "end": position }, "context": { "diagnostics": [] } }),
    );
    let other = actions["result"]
        .as_array()
        .expect("actions")
        .iter()
        .find(|a| a["command"]["command"] == "aiex.useAlternative")
        .cloned();
    match other {
        Some(other) => {
            let id = client.send_request("workspace/executeCommand", other["command"].clone());
            let edit =
                client.answer_server_request("workspace/applyEdit", json!({ "applied": true }));
            assert!(client.response(id)["error"].is_null());
            let swapped = lsp_client::apply_workspace_edit(&edited, &edit["params"]["edit"]);
            assert!(
                parses(&swapped),
                "the other version does not parse:\n{swapped}"
            );
        }
        None => eprintln!("the model gave one usable version only: no alternative offered"),
    }
    assert!(client.shutdown().success());
}

/// The `workspace/applyEdit` the command `id` sends (answered as applied), or `None` when the
/// command failed instead with a clear refusal ("nothing was changed"): what a small model's
/// unusable answers must give.
fn applied_edit_or_refusal(client: &mut LspClient, id: i64) -> Option<serde_json::Value> {
    let first = client.wait_for_within(
        |m| m["method"] == "workspace/applyEdit" || m["id"] == json!(id),
        REQUEST_DEADLINE,
    );
    eprintln!("{first:#}");
    if first["method"] != "workspace/applyEdit" {
        let message = first["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("nothing was changed"),
            "neither an edit nor a clear refusal: {first}"
        );
        return None;
    }
    client.send(&json!({ "jsonrpc": "2.0", "id": first["id"], "result": { "applied": true } }));
    Some(first)
}

/// The inline completions offered at the held-out line, each checked to parse in place.
fn inline_completions_at_the_held_out_line(
    project: &Project,
    client: &mut LspClient,
) -> Vec<String> {
    let id = client.send_request(
        "textDocument/inlineCompletion",
        json!({ "textDocument": { "uri": project.uri() },
                "position": { "line": project.held_out - 1, "character": 4 },
                "context": { "triggerKind": 1 } }),
    );
    let response = client.response_within(id, REQUEST_DEADLINE);
    eprintln!("inlineCompletion: {response:#}");
    let items = response["result"]["items"]
        .as_array()
        .expect("items")
        .clone();
    let mut offered = Vec::new();
    for item in &items {
        let insert = item["insertText"].as_str().expect("an inline completion");
        assert!(!insert.trim().is_empty());
        let text = project.text();
        let (start, end) = match item["range"].as_object() {
            Some(_) => (
                lsp_client::byte_offset(&text, &item["range"]["start"]),
                lsp_client::byte_offset(&text, &item["range"]["end"]),
            ),
            None => {
                let at = lsp_client::byte_offset(
                    &text,
                    &json!({ "line": project.held_out - 1, "character": 4 }),
                );
                (at, at)
            }
        };
        let mut completed = text.clone();
        completed.replace_range(start..end, insert);
        assert!(
            parses(&completed),
            "the suggestion does not parse in place: {insert:?}"
        );
        offered.push(insert.to_owned());
    }
    offered
}

#[test]
fn the_explain_action_shows_a_markdown_document_about_the_function() {
    let Some(model) = RealModel::for_test("realmodel_e2e::explain_action") else {
        return;
    };
    let project = Project::new(&model);
    let mut client = project.server(&model, 1);
    let explain = client.code_action(&project.uri(), 38, 6, "aiex.explain");
    let id = client.send_request("workspace/executeCommand", explain["command"].clone());
    let shown = client.wait_for_within(
        |m| m["method"] == "window/showDocument" && m.get("id").is_some(),
        REQUEST_DEADLINE,
    );
    client.send(&json!({ "jsonrpc": "2.0", "id": shown["id"], "result": { "success": true } }));
    let response = client.response(id);
    eprintln!("explain: {response:#}");
    let markdown = response["result"]["markdown"]
        .as_str()
        .unwrap_or_else(|| panic!("no markdown in {response}"));
    let body = markdown
        .strip_prefix("# SampleApp.Accounts.fetch/2\n\n")
        .unwrap_or_else(|| panic!("not headed by the function: {markdown:?}"));
    assert!(body.split_whitespace().count() >= 8, "{body:?}");
    assert!(client.shutdown().success());
}

#[test]
fn add_docs_inserts_a_doc_above_the_function_and_the_file_still_parses() {
    let Some(model) = RealModel::for_test("realmodel_e2e::add_docs") else {
        return;
    };
    let project = Project::new(&model);
    let mut client = project.server(&model, 1);
    // `defp normalize(email)` (line 48) has no @doc.
    let add_docs = client.code_action(&project.uri(), 47, 8, "aiex.addDocs");
    let id = client.send_request("workspace/executeCommand", add_docs["command"].clone());
    // The model may document another function twice: a clear refusal then.
    let Some(edit) = applied_edit_or_refusal(&mut client, id) else {
        assert!(client.shutdown().success());
        return;
    };
    let response = client.response_within(id, REQUEST_DEADLINE);
    assert!(response["error"].is_null(), "{response}");
    let text = project.text();
    let edited = lsp_client::apply_workspace_edit(&text, &edit["params"]["edit"]);
    assert!(parses(&edited), "the edited file does not parse:\n{edited}");
    let before = edited
        .split("defp normalize")
        .next()
        .expect("the function is still there");
    // A private function's doc is a comment (Elixir discards @doc on defp, with a warning);
    // a spec, if any, is about this function.
    let added: Vec<&str> = before
        .trim_end()
        .lines()
        .rev()
        .take_while(|l| l.trim_start().starts_with('#') || l.trim_start().starts_with("@spec"))
        .collect();
    assert!(
        !added.is_empty(),
        "nothing added above the function:\n{edited}"
    );
    assert!(
        added
            .iter()
            .all(|l| !l.contains("@spec") || l.contains("@spec normalize(")),
        "a spec about another function:\n{edited}"
    );
    assert_eq!(
        edited.matches("@doc").count(),
        text.matches("@doc").count(),
        "@doc on a private function:\n{edited}"
    );
    assert!(client.shutdown().success());
}

#[test]
fn a_chat_turn_answers_about_the_file_and_is_kept_as_a_session() {
    let Some(model) = RealModel::for_test("realmodel_e2e::chat") else {
        return;
    };
    let project = Project::new(&model);
    let output = project.cli(&[
        "chat",
        "--file",
        ACCOUNTS,
        "--message",
        "In one sentence: what does fetch/2 do when Repo.get returns nil?",
    ]);
    assert!(output.status.success());
    assert!(stdout(&output).split_whitespace().count() >= 5);
    let sessions = project.cli(&["sessions", "list"]);
    assert!(sessions.status.success());
    assert!(
        stdout(&sessions).lines().count() >= 1,
        "the turn was not kept as a session"
    );
}
