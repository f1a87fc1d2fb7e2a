defmodule Mix.Tasks.Aiex.Check do
  @shortdoc "Runs Aiex's built-in Credo- and Sobelow-style checks"

  @moduledoc """
  Runs the built-in checks (the ones the editor shows as diagnostics) over the project, or
  over the files and directories given.

      mix aiex.check
      mix aiex.check lib/my_app/accounts.ex
      mix aiex.check --format json
      mix aiex.check --format sarif > aiex.sarif

  Exits with status 1 when there are findings, so it can gate CI. Every option of
  `aiex check` is accepted (`aiex check --help` lists them); nothing is sent to a model.
  """

  use Mix.Task

  @impl Mix.Task
  def run(args), do: Aiex.Runner.passthrough!(["check" | args])
end
