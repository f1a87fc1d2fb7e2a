//! The Mix package (`editors/mix`) end to end: its tasks and IEx helpers, run by the real
//! `mix` in a copy of `fixtures/sample_app` that depends on the package by path, driving the
//! real `aiex` binary against a fake provider that answers like Ollama.
//!
//! Without Elixir (`apt-get install elixir`) the tests fail when `AIEX_REQUIRE_ELIXIR` is set,
//! as CI does; otherwise they pass saying what they skipped on the real stderr.

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
        Command::new("mix")
            .args(args)
            .current_dir(self.root())
            .env("AIEX_BIN", binary)
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("AIEX_DATA_DIR", self.dir.path().join("data"))
            .env("AIEX_CACHE_DIR", self.dir.path().join("cache"))
            .env("MIX_ENV", "test")
            .env_remove("AIEX_LOG")
            .output()
            .expect("run mix")
    }
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

    let not_ours = project.mix(&["aiex.explain", "Enum.map/2"]);
    let (_, stderr) = text(&not_ours);
    assert_eq!(not_ours.status.code(), Some(1));
    assert!(
        stderr.contains("Enum.map/2 is not defined in the workspace"),
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
    let answer = "```elixir\ndescribe \"register/1 with bad attrs\" do\n  test \"rejects attrs without an email\" do\n    assert {:error, :invalid_email} = SampleApp.Accounts.register(%{name: \"Ann\"})\n  end\n\n  test \"accepts anything\" do\n    assert SampleApp.Accounts.register(%{}) == :ok\n  end\nend\n```\n";
    fake.server
        .on("/api/chat", vec![Reply::Recorded(ollama_chat(answer))]);
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
    // A module alone is not a function: said plainly.
    let output = project.mix(&[
        "run",
        "-e",
        "import Aiex.IEx; ai_explain(SampleApp.Accounts)",
    ]);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("is a module: name one of its functions"),
        "{stderr}"
    );
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
    let answer = "```elixir\ndescribe \"insert/1\" do\n  test \"returns the record\" do\n    assert {:ok, %{a: 1}} = SampleApp.Repo.insert(%{a: 1})\n  end\nend\n```\n";
    fake.server
        .on("/api/chat", vec![Reply::Recorded(ollama_chat(answer))]);
    let project = Project::new(&fake.server.url());
    let aiex = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_aiex"))
            .args(args)
            .current_dir(project.root())
            .env("XDG_CONFIG_HOME", project.dir.path().join("config"))
            .env("AIEX_DATA_DIR", project.dir.path().join("data"))
            .env("AIEX_CACHE_DIR", project.dir.path().join("cache"))
            .output()
            .expect("run aiex")
    };
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
