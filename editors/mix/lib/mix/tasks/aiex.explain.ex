defmodule Mix.Tasks.Aiex.Explain do
  @shortdoc "Explains a function with the configured model"

  @moduledoc """
  Asks the configured model to explain a function or a module and prints the answer as
  Markdown, as the model writes it.

      mix aiex.explain MyApp.Accounts.register/1
      mix aiex.explain MyApp.Accounts
      mix aiex.explain lib/my_app/accounts.ex:12
      mix aiex.explain lib/my_app/accounts.ex --function register/1
      mix aiex.explain Enum.map/2

  Functions and modules are found in the project's own code (the workspace of the current
  directory). A module is explained from its `@moduledoc`, its public functions with their
  specs and docs, and the places of the project calling it. A function of Elixir or of a
  dependency is explained from what the loaded module says of it: its documentation and
  signatures, and its source when Aiex's privacy gate admits the file.

  The request goes through Aiex's privacy gate and is recorded in its audit log, as in the
  editor. `mix aiex.doctor` shows which model answers.
  """

  use Mix.Task

  @switches [function: :string]

  @impl Mix.Task
  def run(args) do
    case OptionParser.parse(args, strict: @switches) do
      {opts, [target], []} ->
        function = if f = opts[:function], do: ["--function", f], else: []
        # A dependency's modules, to describe its functions (nothing is compiled).
        load_dependencies()
        Aiex.Explain.run!(target, function)

      _ ->
        Mix.raise(
          "usage: mix aiex.explain Mod.fun/arity | Mod | FILE:LINE | FILE --function name/arity"
        )
    end
  end

  defp load_dependencies do
    Mix.Task.run("loadpaths", ["--no-deps-check", "--no-elixir-version-check"])
  rescue
    # A project whose dependencies are not there still has its own code explained.
    _ -> :ok
  end
end
