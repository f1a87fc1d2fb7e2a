defmodule Mix.Tasks.Aiex.Gen.Test do
  @shortdoc "Writes ExUnit tests for a function, keeping those that pass"

  @moduledoc """
  Asks the configured model for ExUnit tests of a function and writes them to the
  function's test file (`lib/my_app/accounts.ex` → `test/my_app/accounts_test.exs`),
  creating it or adding to it.

      mix aiex.gen.test lib/my_app/accounts.ex
      mix aiex.gen.test lib/my_app/accounts.ex --function register/1
      mix aiex.gen.test lib/my_app/accounts.ex --no-run
      mix aiex.gen.test lib/my_app/accounts.ex --repair

  Without `--function`, the file's first public function is the target.

  The tests are run before they are kept: they are written to a temporary file in `test/`,
  `mix test` runs it with a deadline, and only the tests that compile and pass are written;
  the task says how many were kept and dropped. This runs your project's code and the
  model's tests, as `mix test` would: pass `--no-run` to write the tests unrun (the editor's
  code action runs them only in a workspace trusted with `aiex trust`).

  With `--repair`, the tests that failed go back to the model once, with what `mix test`
  said about them, and the repaired tests that then pass are kept too (one more request).
  """

  use Mix.Task

  @switches [function: :string, run: :boolean, repair: :boolean]

  @impl Mix.Task
  def run(args) do
    case OptionParser.parse(args, strict: @switches) do
      {opts, [file], []} ->
        function = if f = opts[:function], do: ["--function", f], else: []
        run = if Keyword.get(opts, :run, true), do: ["--run"], else: []
        run = if opts[:repair], do: ["--repair" | run], else: run

        result = Aiex.Runner.json!(["tests", file, "--format", "json" | function ++ run])
        verb = if result["created"], do: "created", else: "updated"
        Mix.shell().info("#{verb} #{Path.relative_to_cwd(result["path"])}: #{result["summary"]}")

      _ ->
        Mix.raise(
          "usage: mix aiex.gen.test lib/path.ex [--function name/arity] [--no-run] [--repair]"
        )
    end
  end
end
