defmodule Aiex.IEx do
  @moduledoc """
  Aiex in IEx: explain a function, write its tests, or propose its `@doc` and `@spec`,
  without leaving the shell.

      import Aiex.IEx
      ai_explain(MyApp.Accounts.register/1)
      ai_explain(MyApp.Accounts)
      ai_explain(Enum.map/2)
      ai_test(MyApp.Accounts.register/1)
      ai_doc(MyApp.Accounts.register/1)

  Functions are named as you would capture them (`Mod.fun/arity`, aliases resolved) and
  found in the project's own code, in the workspace IEx was started in (`iex -S mix`);
  `ai_explain/1` also explains a whole module of the project, and a function of Elixir or of
  a dependency from what the loaded module says of it (its docs, signatures and, when the
  privacy gate admits its file, its source). The answer is printed as the model writes it.
  Requests go through the same privacy gate and audit log as the editor's.
  """

  @doc """
  Prints the model's explanation of `Mod.fun/arity` or of a module, as it streams.

  ## Examples

      ai_explain(MyApp.Accounts.register/1)
      # MyApp.Accounts.register/1
      #
      # Validates the params and inserts the user...

      ai_explain(MyApp.Accounts)
      ai_explain(Enum.map/2)

  """
  defmacro ai_explain(function) do
    target = target!(function, __CALLER__)

    quote do
      Aiex.Explain.run!(unquote(target))
    end
  end

  @doc """
  Writes ExUnit tests for `Mod.fun/arity` into its test file, runs them with `mix test`
  and keeps the passing ones (this runs the project's code); prints the model's tests as it
  writes them, then how many were kept.

  ## Examples

      ai_test(MyApp.Accounts.register/1)
      # created test/my_app/accounts_test.exs: ran the generated tests with mix test: 2 kept, 1 dropped (failed or did not compile)

  """
  defmacro ai_test(function) do
    target = target!(function, __CALLER__)

    quote do
      {result, streamed} =
        Aiex.Runner.streamed!(
          ["tests", unquote(target), "--run", "--format", "json-lines"],
          &IO.write/1
        )

      if streamed != "" and not String.ends_with?(streamed, "\n"), do: IO.write("\n")
      verb = if result["created"], do: "created", else: "updated"
      IO.puts("#{verb} #{Path.relative_to_cwd(result["path"])}: #{result["summary"]}")
    end
  end

  @doc """
  Prints the model's answer as it streams, then the `@doc` and `@spec` it proposes for
  `Mod.fun/arity` and where they go (the file is not changed).

  ## Examples

      ai_doc(MyApp.Accounts.register/1)
      # @doc "Registers a user from params."
      # @spec register(map()) :: {:ok, User.t()} | {:error, term()}

  """
  defmacro ai_doc(function) do
    target = target!(function, __CALLER__)

    quote do
      {result, streamed} =
        Aiex.Runner.streamed!(
          ["docs", unquote(target), "--format", "json-lines"],
          &IO.write/1
        )

      if streamed != "" and not String.ends_with?(streamed, "\n"), do: IO.write("\n")
      IO.puts("# to add at #{Path.relative_to_cwd(result["file"])}:#{result["line"]}")
      IO.write(result["text"])
    end
  end

  @doc """
  The command-line name of a function written as a capture (`Mod.fun/arity`), with the
  caller's aliases expanded. A module alone is kept as its name (explained whole; the other
  helpers are told to name a function).

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
