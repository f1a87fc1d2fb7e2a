defmodule Mix.Tasks.Aiex.Explain do
  @shortdoc "Explains a function with the configured model"

  @moduledoc """
  Asks the configured model to explain a function of the project and prints the answer as
  Markdown.

      mix aiex.explain MyApp.Accounts.register/1
      mix aiex.explain lib/my_app/accounts.ex:12
      mix aiex.explain lib/my_app/accounts.ex --function register/1

  The function is found in the project's own code (the workspace of the current directory);
  the request goes through Aiex's privacy gate and is recorded in its audit log, as in the
  editor. `mix aiex.doctor` shows which model answers.
  """

  use Mix.Task

  @switches [function: :string]

  @impl Mix.Task
  def run(args) do
    case OptionParser.parse(args, strict: @switches) do
      {opts, [target], []} ->
        function = if f = opts[:function], do: ["--function", f], else: []

        %{"markdown" => markdown} =
          Aiex.Runner.json!(["explain", target, "--format", "json" | function])

        IO.write(markdown)

      _ ->
        Mix.raise(
          "usage: mix aiex.explain Mod.fun/arity | FILE:LINE | FILE --function name/arity"
        )
    end
  end
end
