defmodule Aiex.IEx do
  @moduledoc """
  Aiex in IEx: explain a function, write its tests, or propose its `@doc` and `@spec`,
  without leaving the shell.

      import Aiex.IEx
      ai_explain(MyApp.Accounts.register/1)
      ai_test(MyApp.Accounts.register/1)
      ai_doc(MyApp.Accounts.register/1)

  Functions are named as you would capture them (`Mod.fun/arity`, aliases resolved) and
  found in the project's own code, in the workspace IEx was started in (`iex -S mix`).
  Requests go through the same privacy gate and audit log as the editor's.
  """

  @doc """
  Prints the model's explanation of `Mod.fun/arity`.

  ## Examples

      ai_explain(MyApp.Accounts.register/1)
      # MyApp.Accounts.register/1
      #
      # Validates the params and inserts the user...

  """
  defmacro ai_explain(function) do
    target = target!(function, __CALLER__)

    quote do
      %{"markdown" => markdown} =
        Aiex.Runner.json!(["explain", unquote(target), "--format", "json"])

      IO.write(markdown)
    end
  end

  @doc """
  Writes ExUnit tests for `Mod.fun/arity` into its test file, runs them with `mix test`
  and keeps the passing ones (this runs the project's code); prints how many were kept.

  ## Examples

      ai_test(MyApp.Accounts.register/1)
      # created test/my_app/accounts_test.exs: ran the generated tests with mix test: 2 kept, 1 dropped (failed or did not compile)

  """
  defmacro ai_test(function) do
    target = target!(function, __CALLER__)

    quote do
      result = Aiex.Runner.json!(["tests", unquote(target), "--run", "--format", "json"])
      verb = if result["created"], do: "created", else: "updated"
      IO.puts("#{verb} #{Path.relative_to_cwd(result["path"])}: #{result["summary"]}")
    end
  end

  @doc """
  Prints the `@doc` and `@spec` the model proposes for `Mod.fun/arity` (the file is not
  changed).

  ## Examples

      ai_doc(MyApp.Accounts.register/1)
      # @doc "Registers a user from params."
      # @spec register(map()) :: {:ok, User.t()} | {:error, term()}

  """
  defmacro ai_doc(function) do
    target = target!(function, __CALLER__)

    quote do
      %{"text" => text} = Aiex.Runner.json!(["docs", unquote(target), "--format", "json"])
      IO.write(text)
    end
  end

  @doc """
  The command-line name of a function written as a capture (`Mod.fun/arity`), with the
  caller's aliases expanded. A module alone is kept as its name (the binary says to name a
  function).

  ## Examples

      iex> Aiex.IEx.target!(quote(do: Enum.map/2), __ENV__)
      "Enum.map/2"
      iex> Aiex.IEx.target!(quote(do: Enum), __ENV__)
      "Enum"

  """
  @spec target!(Macro.t(), Macro.Env.t()) :: String.t()
  def target!({:/, _, [{{:., _, [module, name]}, _, []}, arity]}, env)
      when is_atom(name) and is_integer(arity) do
    "#{module_name(module, env)}.#{name}/#{arity}"
  end

  def target!({:__aliases__, _, _} = module, env), do: module_name(module, env)

  def target!(other, _env) do
    raise ArgumentError,
          "expected a function as Mod.fun/arity (or a module), got: #{Macro.to_string(other)}"
  end

  defp module_name(module, env) do
    case Macro.expand(module, env) do
      atom when is_atom(atom) -> atom |> Atom.to_string() |> String.trim_leading("Elixir.")
      other -> raise ArgumentError, "not a module: #{Macro.to_string(other)}"
    end
  end
end
