defmodule Aiex do
  @moduledoc """
  Aiex where Elixir developers already work: Mix tasks and IEx helpers over the `aiex`
  binary (the same engine the editors use, with the same privacy gate and audit log).

  The binary is found through the `AIEX_BIN` environment variable, else on `PATH`. Each call
  runs it over a Port, in the current directory, and reads its JSON output.

  ## Tasks

    * `mix aiex.check` - the built-in Credo- and Sobelow-style checks
    * `mix aiex.explain Mod.fun/arity` - explain a function with the configured model
    * `mix aiex.context file:line:col` - what a prompt at that place would hold
    * `mix aiex.gen.test lib/path.ex` - ExUnit tests, run with `mix test`, passing ones kept
    * `mix aiex.doctor` - what Aiex found and what each feature will use

  In IEx, `import Aiex.IEx` gives `ai_explain/1`, `ai_test/1` and `ai_doc/1`.
  """

  @install """
  the aiex binary was not found: set AIEX_BIN to its path, or install it on PATH with
  `cargo install --locked --path server` in a checkout of the Aiex repository
  """

  @doc """
  The path of the `aiex` binary: `AIEX_BIN` when set, else `aiex` on `PATH`.

  ## Examples

      iex> System.put_env("AIEX_BIN", "/nonexistent/aiex")
      iex> Aiex.binary()
      {:error, :not_found}
      iex> System.delete_env("AIEX_BIN")
      :ok

  """
  @spec binary() :: {:ok, Path.t()} | {:error, :not_found}
  def binary do
    case System.get_env("AIEX_BIN") do
      nil -> System.find_executable("aiex") |> found()
      path -> if File.regular?(path), do: {:ok, path}, else: {:error, :not_found}
    end
  end

  defp found(nil), do: {:error, :not_found}
  defp found(path), do: {:ok, path}

  @doc """
  The message shown when the binary is missing, with the command that installs it.

  ## Examples

      iex> Aiex.missing_binary_message() =~ "cargo install"
      true

  """
  @spec missing_binary_message() :: String.t()
  def missing_binary_message, do: String.trim(@install)

  @doc """
  Runs `aiex` with `args`, passing each piece of its standard output to `on_output` as it
  arrives (its standard error goes to the terminal). Returns the exit status, or
  `{:error, :not_found}` when there is no binary.

  ## Examples

      Aiex.stream(["doctor"], &IO.write/1)
      #=> 0

  """
  @spec stream([String.t()], (binary -> any)) :: non_neg_integer | {:error, :not_found}
  def stream(args, on_output) when is_list(args) and is_function(on_output, 1) do
    with {:ok, path} <- binary() do
      path |> open_port(args, []) |> receive_output(on_output)
    end
  end

  defp receive_output(port, on_output) do
    receive do
      {^port, {:data, data}} ->
        on_output.(data)
        receive_output(port, on_output)

      {^port, {:exit_status, status}} ->
        status
    end
  end

  @doc """
  Runs `aiex` with `args` (which ask for `--format json-lines`) and passes each event it
  prints to `on_event` as it arrives, decoded (`%{"event" => "delta", "text" => ...}` while
  the model writes, then `%{"event" => "result", ...}`). Returns what `stream/2` returns.

  ## Examples

      Aiex.events(["explain", "MyApp.Accounts", "--format", "json-lines"], &IO.inspect/1)
      #=> 0

  """
  @spec events([String.t()], (map -> any)) :: non_neg_integer | {:error, :not_found}
  def events(args, on_event) when is_list(args) and is_function(on_event, 1) do
    with {:ok, path} <- binary() do
      path |> open_port(args, [{:line, 65_536}]) |> receive_lines(on_event, [])
    end
  end

  # The binary in the current directory, its standard output read through the port.
  defp open_port(path, args, options) do
    Port.open(
      {:spawn_executable, path},
      [:binary, :exit_status, :use_stdio | options] ++ [args: args, cd: File.cwd!()]
    )
  end

  defp receive_lines(port, on_event, partial) do
    receive do
      {^port, {:data, {:noeol, piece}}} ->
        receive_lines(port, on_event, [partial | piece])

      {^port, {:data, {:eol, piece}}} ->
        line = IO.iodata_to_binary([partial | piece])
        if String.trim(line) != "", do: on_event.(Aiex.JSON.decode!(line))
        receive_lines(port, on_event, [])

      {^port, {:exit_status, status}} ->
        status
    end
  end

  @doc """
  Runs `aiex` with `args` (which ask for `--format json`) and decodes its output.

  Returns `{:ok, term}`, `{:error, {:exit, status}}` when the command failed (it has said
  why on standard error), or `{:error, :not_found}`.
  """
  @spec json([String.t()]) :: {:ok, term} | {:error, :not_found | {:exit, pos_integer}}
  def json(args) do
    parent = self()
    ref = make_ref()

    case stream(args, fn data -> send(parent, {ref, data}) end) do
      0 -> {:ok, ref |> collect([]) |> Aiex.JSON.decode!()}
      {:error, _} = error -> error
      status -> {:error, {:exit, status}}
    end
  end

  defp collect(ref, acc) do
    receive do
      {^ref, data} -> collect(ref, [acc | data])
    after
      0 -> IO.iodata_to_binary(acc)
    end
  end
end
