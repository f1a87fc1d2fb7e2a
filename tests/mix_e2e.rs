//! The Mix package (`editors/mix`) end to end: its tasks and IEx helpers, run by the real
//! `mix` in a copy of `fixtures/sample_app` that depends on the package by path, driving the
//! real `aiex` binary against a fake provider that answers like Ollama.
//!
//! Without Elixir (`apt-get install elixir`) the tests fail when `AIEX_REQUIRE_ELIXIR` is set,
//! as CI does; otherwise they pass saying what they skipped on the real stderr.

#[path = "support/lsp_client.rs"]
mod lsp_client;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::elixir::installed as elixir_installed;
use support::fake_provider::{BlockingFake as Fake, Reply};
use support::ollama::chat as ollama_chat;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repository root")
}

/// A copy of `fixtures/sample_app` depending on the Mix package, and a user configuration
/// (its own `XDG_CONFIG_HOME`) whose model is the fake at `url`.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(url: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("sample_app");
        support::files::copy_dir(&repo().join("fixtures/sample_app"), &root);
        let mix_exs = std::fs::read_to_string(root.join("mix.exs")).expect("mix.exs");
        let package = repo().join("editors/mix");
        let with_package = mix_exs.replace(
            "defp deps, do: []",
            &format!("defp deps, do: [{{:aiex, path: {:?}}}]", package.display()),
        );
        assert_ne!(mix_exs, with_package, "the fixture's deps/0 changed shape");
        std::fs::write(root.join("mix.exs"), with_package).expect("write mix.exs");
        let config = dir.path().join("config/aiex");
        std::fs::create_dir_all(&config).expect("mkdir");
        std::fs::write(
            config.join("config.toml"),
            format!("[providers.local]\nkind = \"ollama\"\nbase_url = \"{url}\"\nmodel = \"qwen2.5-coder:1.5b\"\n"),
        )
        .expect("write config");
        Self { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("sample_app")
    }

    /// Runs `mix ARGS` in the project with `aiex` as the binary.
    fn mix(&self, args: &[&str]) -> Output {
        self.mix_with(args, env!("CARGO_BIN_EXE_aiex"))
    }

    fn mix_with(&self, args: &[&str], binary: &str) -> Output {
        let mut command = self.mix_command(args);
        command.env("AIEX_BIN", binary);
        command.output().expect("run mix")
    }

    /// `aiex ARGS` in the project, not started yet.
    fn aiex_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_aiex"));
        command
            .args(args)
            .current_dir(self.root())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("AIEX_DATA_DIR", self.dir.path().join("data"))
            .env("AIEX_CACHE_DIR", self.dir.path().join("cache"));
        command
    }

    /// `mix ARGS` in the project, not started yet.
    fn mix_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("mix");
        command
            .args(args)
            .current_dir(self.root())
            .env("AIEX_BIN", env!("CARGO_BIN_EXE_aiex"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("AIEX_DATA_DIR", self.dir.path().join("data"))
            .env("AIEX_CACHE_DIR", self.dir.path().join("cache"))
            .env("MIX_ENV", "test")
            .env_remove("AIEX_LOG");
        command
    }
}

/// Tests of `register/1` as a model writes them: the first passes, the second fails.
const ONE_PASSING_ONE_FAILING: &str = "```elixir\ndescribe \"register/1 with bad attrs\" do\n  test \"rejects attrs without an email\" do\n    assert {:error, :invalid_email} = SampleApp.Accounts.register(%{name: \"Ann\"})\n  end\n\n  test \"accepts anything\" do\n    assert SampleApp.Accounts.register(%{}) == :ok\n  end\nend\n```\n";

/// A test of `SampleApp.Repo.insert/1` that passes.
const PASSING_INSERT_TEST: &str = "```elixir\ndescribe \"insert/1\" do\n  test \"returns the record\" do\n    assert {:ok, %{a: 1}} = SampleApp.Repo.insert(%{a: 1})\n  end\nend\n```\n";

/// The prompt of the last request the fake received, as JSON text.
fn last_prompt(fake: &Fake) -> String {
    fake.server
        .requests()
        .last()
        .expect("a request")
        .json()
        .to_string()
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn each_task_drives_the_binary() {
    if !elixir_installed("each_task_drives_the_binary") {
        return;
    }
    let fake = Fake::start();
    fake.server.on(
        "/api/chat",
        vec![Reply::Recorded(ollama_chat(
            "Registers a user when the email is valid.\n",
        ))],
    );
    let project = Project::new(&fake.server.url());

    let clean = project.mix(&["aiex.check"]);
    assert_eq!(clean.status.code(), Some(0), "{:?}", text(&clean));
    std::fs::write(
        project.root().join("lib/sample_app/debugging.ex"),
        "defmodule SampleApp.Debugging do\n  def show(x), do: IO.inspect(x)\nend\n",
    )
    .expect("write");
    let check = project.mix(&["aiex.check", "--format", "json"]);
    let (stdout, stderr) = text(&check);
    assert_eq!(check.status.code(), Some(1), "findings fail: {stderr}");
    // After what mix says while compiling the new file, the binary's JSON.
    let json_start = stdout.find(['{', '[']).expect("JSON in the output");
    let findings: serde_json::Value =
        serde_json::from_str(&stdout[json_start..]).expect("check's JSON");
    assert!(findings.to_string().contains("debugging.ex"), "{stdout}");

    let explain = project.mix(&["aiex.explain", "SampleApp.Accounts.register/1"]);
    let (stdout, stderr) = text(&explain);
    assert!(explain.status.success(), "{stderr}");
    assert!(
        stdout.ends_with(
            "# SampleApp.Accounts.register/1\n\nRegisters a user when the email is valid.\n"
        ),
        "{stdout}"
    );
    let prompt = fake.server.requests()[0].json().to_string();
    assert!(prompt.contains("def register(%{email: email}"), "{prompt}");

    // Not the workspace's: described from the loaded module, its documentation in the prompt.
    let elixirs = project.mix(&["aiex.explain", "Enum.map/2"]);
    let (stdout, stderr) = text(&elixirs);
    assert!(elixirs.status.success(), "{stderr}");
    assert!(stdout.contains("# Enum.map/2\n\n"), "{stdout}");
    let prompt = last_prompt(&fake);
    assert!(
        prompt.contains("Returns a list where each element is the result of invoking"),
        "{prompt}"
    );
    assert!(
        prompt.contains("map(enumerable, fun)"),
        "the signature: {prompt}"
    );
    // The command line alone cannot see Elixir's modules: it says where to ask.
    let alone = project
        .aiex_command(&["explain", "Enum.map/2"])
        .output()
        .expect("run aiex");
    let (_, stderr) = text(&alone);
    assert_eq!(alone.status.code(), Some(1));
    assert!(
        stderr.contains("Enum.map/2 is not defined in the workspace")
            && stderr.contains("mix aiex.explain"),
        "{stderr}"
    );

    let context = project.mix(&["aiex.context", "lib/sample_app/accounts.ex:25:5"]);
    let (stdout, stderr) = text(&context);
    assert!(context.status.success(), "{stderr}");
    assert!(stdout.contains("register"), "{stdout}");

    let doctor = project.mix(&["aiex.doctor"]);
    let (stdout, stderr) = text(&doctor);
    assert!(doctor.status.success(), "{stderr}");
    assert!(
        stdout.contains("local"),
        "the configured provider: {stdout}"
    );

    let help = project.mix(&["help", "aiex.explain"]);
    let (stdout, _) = text(&help);
    assert!(
        stdout.contains("mix aiex.explain MyApp.Accounts.register/1"),
        "{stdout}"
    );
}

/// The model writes one test that passes and one that fails: the file keeps the passing one,
/// and `mix test` on the project passes.
#[test]
fn gen_test_keeps_the_passing_test_only() {
    if !elixir_installed("gen_test_keeps_the_passing_test_only") {
        return;
    }
    let fake = Fake::start();
    fake.server.on(
        "/api/chat",
        vec![Reply::Recorded(ollama_chat(ONE_PASSING_ONE_FAILING))],
    );
    let project = Project::new(&fake.server.url());
    let output = project.mix(&[
        "aiex.gen.test",
        "lib/sample_app/accounts.ex",
        "--function",
        "register/1",
    ]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("updated test/sample_app/accounts_test.exs: ran the generated tests with mix test: 1 kept, 1 dropped (failed or did not compile)"),
        "{stdout}"
    );
    let written = std::fs::read_to_string(project.root().join("test/sample_app/accounts_test.exs"))
        .expect("the test file");
    assert!(
        written.contains("rejects attrs without an email"),
        "{written}"
    );
    assert!(!written.contains("accepts anything"), "{written}");
    let leftovers: Vec<_> = std::fs::read_dir(project.root().join("test"))
        .expect("test dir")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("aiex_generated_")
        })
        .collect();
    assert!(leftovers.is_empty(), "the temporary test file is removed");
    let mix_test = project.mix(&["test"]);
    assert!(mix_test.status.success(), "{:?}", text(&mix_test));

    assert!(
        written.contains("rejects a map without an email"),
        "the user's test stays"
    );
    // --no-run writes them as the model wrote them, and says they were not run.
    let output = project.mix(&[
        "aiex.gen.test",
        "lib/sample_app/accounts.ex",
        "--function",
        "register/1",
        "--no-run",
    ]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("the generated tests were not run"),
        "{stdout}"
    );
}

#[test]
fn iex_helpers_print_the_answers() {
    if !elixir_installed("iex_helpers_print_the_answers") {
        return;
    }
    let fake = Fake::start();
    fake.server.on(
        "/api/chat",
        vec![
            Reply::Recorded(ollama_chat("Registers a user.\n")),
            Reply::Recorded(ollama_chat(
                "```elixir\n@doc \"Sends `subject` to `to`.\"\n@spec deliver(String.t(), String.t()) :: :ok\n```\n",
            )),
            Reply::Recorded(ollama_chat(
                "```elixir\ndescribe \"fetch/2\" do\n  test \"gives up after no attempts\" do\n    assert SampleApp.Accounts.fetch(1, 0) == :error\n  end\nend\n```\n",
            )),
        ],
    );
    let project = Project::new(&fake.server.url());
    let output = project.mix(&[
        "run",
        "-e",
        "import Aiex.IEx; alias SampleApp.Accounts; ai_explain(Accounts.register/1); IO.puts(\"--\"); ai_doc(SampleApp.Mailer.deliver/2); IO.puts(\"--\"); ai_test(Accounts.fetch/2)",
    ]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let parts: Vec<&str> = stdout.split("--\n").collect();
    assert_eq!(parts.len(), 3, "{stdout}");
    assert!(
        parts[0].ends_with("# SampleApp.Accounts.register/1\n\nRegisters a user.\n"),
        "{stdout}"
    );
    assert!(
        parts[1].contains("@doc \"Sends `subject` to `to`.\""),
        "{stdout}"
    );
    assert!(
        parts[1].contains("@spec deliver(String.t(), String.t()) :: :ok"),
        "{stdout}"
    );
    assert!(parts[2].contains("1 kept, 0 dropped"), "{stdout}");
    // The tests streamed before the summary.
    assert!(
        parts[2].find("gives up after no attempts") < parts[2].find("1 kept"),
        "{stdout}"
    );
}

/// A whole module is explained from what it says of itself and who calls it; Elixir's own
/// functions from their documentation.
#[test]
fn ai_explain_explains_a_module_and_a_function_of_elixir() {
    if !elixir_installed("ai_explain_explains_a_module_and_a_function_of_elixir") {
        return;
    }
    let fake = Fake::start();
    fake.server.on(
        "/api/chat",
        vec![
            Reply::Recorded(ollama_chat("Stores records in memory.\n")),
            Reply::Recorded(ollama_chat("Maps a function over an enumerable.\n")),
        ],
    );
    let project = Project::new(&fake.server.url());
    let output = project.mix(&[
        "run",
        "-e",
        "import Aiex.IEx; ai_explain(SampleApp.Repo); IO.puts(\"--\"); ai_explain(Enum.map/2)",
    ]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("# SampleApp.Repo\n\nStores records in memory.\n--\n# Enum.map/2\n\nMaps a function over an enumerable.\n"),
        "{stdout}"
    );
    let requests = fake.server.requests();
    let module = requests[0].json().to_string();
    for expected in [
        "An in-memory stand-in for a database",
        "@spec insert(struct()) :: {:ok, struct()}",
        "def get(_schema, _id)",
        "lib/sample_app/accounts.ex: get, insert",
    ] {
        assert!(module.contains(expected), "{expected} in {module}");
    }
    let function = requests[1].json().to_string();
    assert!(
        function.contains("Returns a list where each element is the result of invoking"),
        "{function}"
    );
}

/// The explanation is printed as the model writes it: the model's first line is on the
/// terminal while the fake still holds the rest back.
#[test]
fn ai_explain_prints_the_answer_as_it_streams() {
    if !elixir_installed("ai_explain_prints_the_answer_as_it_streams") {
        return;
    }
    let fake = Fake::start();
    let recording = ollama_chat("First the email is checked.\nThen the user is stored.\n");
    let first = recording
        .body
        .iter()
        .position(|&b| b == b'\n')
        .expect("a line")
        + 1;
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    fake.server.on(
        "/api/chat",
        vec![Reply::Held {
            recording,
            first,
            release: std::sync::Arc::clone(&release),
        }],
    );
    let project = Project::new(&fake.server.url());
    let mut child = project
        .mix_command(&[
            "run",
            "-e",
            "import Aiex.IEx; ai_explain(SampleApp.Accounts.register/1)",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn mix");
    let mut stdout = child.stdout.take().expect("stdout");
    let (sender, pieces) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n @ 1..) = std::io::Read::read(&mut stdout, &mut buffer) {
            if sender.send(buffer[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    // Compiling the project copy comes first: a generous bound.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let mut seen = Vec::new();
    let mut first_arrived = false;
    while std::time::Instant::now() < until {
        match pieces.recv_timeout(std::time::Duration::from_millis(200)) {
            Ok(piece) => seen.extend(piece),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if String::from_utf8_lossy(&seen).contains("First the email is checked.") {
            first_arrived = true;
            break;
        }
    }
    // Whatever happened, let the answer finish and mix end.
    release.notify_one();
    let output = child.wait_with_output().expect("mix");
    while let Ok(piece) = pieces.recv_timeout(std::time::Duration::from_secs(5)) {
        seen.extend(piece);
    }
    let seen = String::from_utf8_lossy(&seen).into_owned();
    assert!(
        first_arrived,
        "the first line was not printed before the rest of the answer was sent: {seen}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{seen}");
    assert!(
        seen.ends_with("# SampleApp.Accounts.register/1\n\nFirst the email is checked.\nThen the user is stored.\n"),
        "{seen}"
    );
}

/// With `--repair`, the failing test goes back to the model once with ExUnit's report; the
/// repaired test passes and is kept with the one that passed at first.
#[test]
fn gen_test_repair_keeps_the_repaired_test_that_passes() {
    if !elixir_installed("gen_test_repair_keeps_the_repaired_test_that_passes") {
        return;
    }
    let fake = Fake::start();
    let repaired = "```elixir\ntest \"refuses an empty map\" do\n  assert SampleApp.Accounts.register(%{}) == {:error, :invalid_email}\nend\n```\n";
    fake.server.on(
        "/api/chat",
        vec![
            Reply::Recorded(ollama_chat(ONE_PASSING_ONE_FAILING)),
            Reply::Recorded(ollama_chat(repaired)),
        ],
    );
    let project = Project::new(&fake.server.url());
    let output = project.mix(&[
        "aiex.gen.test",
        "lib/sample_app/accounts.ex",
        "--function",
        "register/1",
        "--repair",
    ]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("2 kept (1 after a repair by the model), 0 dropped"),
        "{stdout}"
    );
    let requests = fake.server.requests();
    assert_eq!(requests.len(), 2, "one repair request");
    let repair = requests[1].json().to_string();
    assert!(
        repair.contains("accepts anything") && repair.contains("Assertion with == failed"),
        "the failing test and ExUnit's report: {repair}"
    );
    let written = std::fs::read_to_string(project.root().join("test/sample_app/accounts_test.exs"))
        .expect("the test file");
    assert!(
        written.contains("rejects attrs without an email"),
        "{written}"
    );
    assert!(written.contains("refuses an empty map"), "{written}");
    assert!(!written.contains("accepts anything"), "{written}");
    let mix_test = project.mix(&["test"]);
    assert!(mix_test.status.success(), "{:?}", text(&mix_test));
}

/// Without `mix` on PATH the tests are written as the model wrote them, and the command says
/// they were not run.
#[test]
fn tests_without_mix_on_path_say_they_were_not_run() {
    let fake = Fake::start();
    fake.server.on(
        "/api/chat",
        vec![Reply::Recorded(ollama_chat(PASSING_INSERT_TEST))],
    );
    let project = Project::new(&fake.server.url());
    std::fs::remove_file(project.root().join("test/sample_app/accounts_test.exs")).ok();
    let no_mix = project.dir.path().join("no-mix-bin");
    std::fs::create_dir_all(&no_mix).expect("mkdir");
    let output = project
        .aiex_command(&[
            "tests",
            "lib/sample_app/repo.ex",
            "--run",
            "--format",
            "json",
        ])
        .env("PATH", &no_mix)
        .output()
        .expect("run aiex");
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["not_run"], "mix is not on PATH", "{report}");
    assert!(
        report["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("the generated tests were not run")),
        "{report}"
    );
    let written = std::fs::read_to_string(project.root().join("test/sample_app/repo_test.exs"))
        .expect("the test file");
    assert!(written.contains("returns the record"), "{written}");
}

#[test]
fn a_missing_binary_says_how_to_install_it() {
    if !elixir_installed("a_missing_binary_says_how_to_install_it") {
        return;
    }
    let project = Project::new("http://127.0.0.1:9");
    for args in [
        &["aiex.explain", "SampleApp.Accounts.register/1"][..],
        &["aiex.check"][..],
    ] {
        let output = project.mix_with(args, "/nonexistent/aiex");
        let (_, stderr) = text(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("the aiex binary was not found")
                && stderr.contains("cargo install --locked --path server"),
            "{stderr}"
        );
    }
}

/// Without `--run`, generated tests run only in a workspace the user trusted: running them
/// runs the project's code.
#[test]
fn tests_run_without_asking_only_in_a_trusted_workspace() {
    if !elixir_installed("tests_run_without_asking_only_in_a_trusted_workspace") {
        return;
    }
    let fake = Fake::start();
    fake.server.on(
        "/api/chat",
        vec![Reply::Recorded(ollama_chat(PASSING_INSERT_TEST))],
    );
    let project = Project::new(&fake.server.url());
    let aiex = |args: &[&str]| project.aiex_command(args).output().expect("run aiex");
    let untrusted = aiex(&["tests", "lib/sample_app/repo.ex", "--format", "json"]);
    let (stdout, stderr) = text(&untrusted);
    assert!(untrusted.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert!(
        report["not_run"]
            .as_str()
            .is_some_and(|why| why.contains("aiex trust")),
        "{report}"
    );
    std::fs::remove_file(project.root().join("test/sample_app/repo_test.exs")).expect("rm");
    let trust = aiex(&["trust"]);
    assert!(trust.status.success(), "{:?}", text(&trust));
    let trusted = aiex(&["tests", "lib/sample_app/repo.ex", "--format", "json"]);
    let (stdout, stderr) = text(&trusted);
    assert!(trusted.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["not_run"], serde_json::Value::Null, "{report}");
    assert_eq!(
        (report["kept"].as_u64(), report["dropped"].as_u64()),
        (Some(1), Some(0))
    );
}

/// In a workspace the user trusted (`aiex trust`), the editor's "Generate ExUnit tests" runs
/// the model's tests with `mix test`, drops the failing one and says how many it kept; and an
/// AI edit comes formatted by `mix format` with the project's `.formatter.exs`.
#[test]
fn a_trusted_workspace_gets_generated_tests_run_and_ai_edits_formatted_by_the_project() {
    use lsp_client::{LspClient, SpawnOptions};
    if !elixir_installed(
        "a_trusted_workspace_gets_generated_tests_run_and_ai_edits_formatted_by_the_project",
    ) {
        return;
    }
    let fake = Fake::start();
    let long_line = "def register(attrs), do: SampleApp.Accounts.Registration.register_with_defaults(attrs, [:notify, :audit])";
    let refactor = format!("```elixir\n{long_line}\n```\n");
    fake.server.on(
        "/api/chat",
        vec![
            Reply::Recorded(ollama_chat(ONE_PASSING_ONE_FAILING)),
            Reply::Recorded(ollama_chat(&refactor)),
        ],
    );
    let project = Project::new(&fake.server.url());
    let root = project.root();
    std::fs::write(
        root.join(".formatter.exs"),
        "[inputs: [\"{lib,test}/**/*.{ex,exs}\"], line_length: 40]\n",
    )
    .expect("write .formatter.exs");
    let environment = [
        ("XDG_CONFIG_HOME", project.dir.path().join("config")),
        ("AIEX_DATA_DIR", project.dir.path().join("data")),
    ];
    let trust = Command::new(env!("CARGO_BIN_EXE_aiex"))
        .args(["trust", "--workspace"])
        .arg(&root)
        .envs(environment.iter().cloned())
        .output()
        .expect("aiex trust");
    assert!(trust.status.success(), "{:?}", text(&trust));

    let options = SpawnOptions {
        env: environment
            .iter()
            .map(|(k, v)| (k.to_string(), v.display().to_string()))
            .collect(),
        ..SpawnOptions::default()
    };
    let mut client = LspClient::spawn_with(Some(&root), &options);
    client.initialize(
        serde_json::json!({ "workspace": { "workspaceEdit": { "documentChanges": true, "changeAnnotationSupport": { "groupsOnLabel": false } } } }),
        serde_json::json!({}),
        Some(&root),
    );
    let accounts = root.join("lib/sample_app/accounts.ex");
    let accounts_text = std::fs::read_to_string(&accounts).expect("accounts.ex");
    let uri = lsp_client::file_uri(&accounts);
    client.open(&uri, &accounts_text);
    // `def register(%{email: email} = attrs)`, 0-based line 23.
    let offered = client.code_action(&uri, 23, 6, "aiex.generateTests");
    let id = client.send_request("workspace/executeCommand", offered["command"].clone());
    // Compiling the project and running mix test: a generous bound.
    let apply = client.wait_for_within(
        |m| m["method"] == "workspace/applyEdit" || m["id"] == serde_json::json!(id),
        std::time::Duration::from_secs(300),
    );
    assert_eq!(apply["method"], "workspace/applyEdit", "{apply}");
    client.send(
        &serde_json::json!({ "jsonrpc": "2.0", "id": apply["id"], "result": { "applied": true } }),
    );
    let response = client.response_within(id, std::time::Duration::from_secs(60));
    assert!(response["error"].is_null(), "{response}");
    let kept = "ran the generated tests with mix test: 1 kept, 1 dropped";
    assert!(
        response["result"]["label"]
            .as_str()
            .is_some_and(|label| label.contains(kept)),
        "the result says what was kept: {response}"
    );
    // The notice says it too (waited for: failing the test when it never comes).
    client.wait_for(|m| {
        m["method"] == "window/showMessage"
            && m["params"]["message"]
                .as_str()
                .is_some_and(|message| message.contains(kept))
    });
    let test_file = root.join("test/sample_app/accounts_test.exs");
    let before = std::fs::read_to_string(&test_file).expect("the test file");
    let after = lsp_client::apply_workspace_edit(&before, &apply["params"]["edit"]);
    assert!(after.contains("rejects attrs without an email"), "{after}");
    assert!(!after.contains("accepts anything"), "{after}");

    let offered = client.code_action(&uri, 23, 6, "aiex.refactor");
    let id = client.send_request("workspace/executeCommand", offered["command"].clone());
    let apply = client.wait_for_within(
        |m| m["method"] == "workspace/applyEdit" || m["id"] == serde_json::json!(id),
        std::time::Duration::from_secs(120),
    );
    assert_eq!(apply["method"], "workspace/applyEdit", "{apply}");
    client.send(
        &serde_json::json!({ "jsonrpc": "2.0", "id": apply["id"], "result": { "applied": true } }),
    );
    assert!(client.response(id)["error"].is_null());
    let edited = lsp_client::apply_workspace_edit(&accounts_text, &apply["params"]["edit"]);
    assert!(
        !edited.contains(long_line),
        "the model's line is formatted: {edited}"
    );
    assert!(
        edited.contains("register_with_defaults(") && edited.contains("[:notify, :audit]"),
        "{edited}"
    );
    // What `mix format` makes of it at 40 columns: the arguments each on a line of their own.
    assert!(
        edited.contains("  def register(attrs),\n    do:\n")
            && edited.contains("\n        [:notify, :audit]\n"),
        "formatted as the project's .formatter.exs says: {edited}"
    );
    assert!(client.shutdown().success());
}
