defmodule Mix.Tasks.Aiex.Context do
  @shortdoc "Shows what a prompt at file:line:col would hold"

  @moduledoc """
  Prints the context Aiex would send to a model for a request at a place, piece by piece
  with token counts: the window around the cursor, the enclosing function, the callees'
  definitions, relevant code from the workspace. Nothing is sent.

      mix aiex.context lib/my_app/accounts.ex:12:5
      mix aiex.context lib/my_app/accounts.ex:12:5 --format json

  Lines and columns count from 1.
  """

  use Mix.Task

  @impl Mix.Task
  def run([location | rest]), do: Aiex.Runner.passthrough!(["context", location | rest])
  def run([]), do: Mix.raise("usage: mix aiex.context FILE:LINE:COL")
end
