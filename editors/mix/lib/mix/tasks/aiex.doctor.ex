defmodule Mix.Tasks.Aiex.Doctor do
  @shortdoc "Shows what Aiex found and what each feature will use"

  @moduledoc """
  Reports the `aiex` version, the configuration found (user file, `.aiex.toml`), whether the
  workspace is trusted, a live check of each model provider and the problems found, with
  secrets masked.

      mix aiex.doctor
  """

  use Mix.Task

  @impl Mix.Task
  def run(args), do: Aiex.Runner.passthrough!(["doctor" | args])
end
