defmodule Aiex.Explain do
  @moduledoc false
  # What `mix aiex.explain` and `ai_explain/1` share: the explanation printed as the model
  # writes it, for a function or module of the workspace (the binary finds it) or for a
  # function the workspace does not define (Elixir's, a dependency's), which this VM has
  # loaded: its docs and signatures (`Code.fetch_docs/1`) and its source file's path go to
  # the binary as a description (`--external`), and the binary decides what the privacy gate
  # lets through.

  @doc false
  # Prints the explanation of `target` (`"Mod.fun/arity"`, `"Mod"`, `"FILE:LINE"`...) as it
  # streams; `extra` are more arguments for the binary (`--function`).
  @spec run!(String.t(), [String.t()]) :: :ok
  def run!(target, extra \\ []) do
    case external(target) do
      nil ->
        print!(["explain", target, "--format", "json-lines" | extra])

      description ->
        path =
          Path.join(
            System.tmp_dir!(),
            "aiex_external_#{System.unique_integer([:positive])}.json"
          )

        File.write!(path, Aiex.JSON.encode!(description))

        try do
          print!(["explain", target, "--external", path, "--format", "json-lines" | extra])
        after
          File.rm(path)
        end
    end
  end

  defp print!(args) do
    {result, streamed} = Aiex.Runner.streamed!(args, &IO.write/1)

    cond do
      streamed == "" -> IO.write(result["markdown"])
      String.ends_with?(streamed, "\n") -> :ok
      true -> IO.write("\n")
    end
  end

  @doc """
  The description of `Mod.fun/arity` when this VM has the module loaded from outside the
  workspace (the current directory, its `deps/` and `_build/` excepted); `nil` for anything
  else (the binary finds workspace code itself, and says when it cannot).

  ## Examples

      iex> %{module: "Enum", name: "map", arity: 2, doc: doc} = Aiex.Explain.external("Enum.map/2")
      iex> doc =~ "Returns a list where each element is the result of invoking"
      true
      iex> Aiex.Explain.external("Aiex.Explain.external/1")
      nil

  """
  @spec external(String.t()) :: map | nil
  def external(target) do
    with [_, module_name, name, arity] <-
           Regex.run(~r/^([A-Z][\w.]*)\.([^.\/]+)\/(\d+)$/, target),
         {:ok, module} <- existing_module(module_name),
         {:module, ^module} <- Code.ensure_loaded(module),
         source = source_of(module),
         false <- in_workspace?(source) do
      name = String.to_atom(name)
      arity = String.to_integer(arity)
      {signatures, doc} = docs(module, name, arity)

      unless signatures != [] or function_exported?(module, name, arity) or
               macro_exported?(module, name, arity) do
        Mix.raise(
          "#{target} is not defined: #{module_name} is loaded and has no #{name}/#{arity}"
        )
      end

      %{
        module: module_name,
        name: Atom.to_string(name),
        arity: arity,
        signatures: signatures,
        doc: doc,
        source: if(source && File.regular?(source), do: source)
      }
    else
      _ -> nil
    end
  end

  defp existing_module(name) do
    {:ok, String.to_existing_atom("Elixir." <> name)}
  rescue
    ArgumentError -> :error
  end

  defp source_of(module) do
    case module.module_info(:compile)[:source] do
      nil -> nil
      source -> List.to_string(source)
    end
  end

  # The project's own code (not its dependencies, not what was built from them).
  defp in_workspace?(nil), do: false

  defp in_workspace?(source) do
    cwd = File.cwd!()
    relative = Path.relative_to(source, cwd)

    relative != source and not String.starts_with?(relative, ["deps/", "_build/"])
  end

  defp docs(module, name, arity) do
    entry =
      case Code.fetch_docs(module) do
        {:docs_v1, _, _, _, _, _, docs} ->
          Enum.find(docs, fn {{kind, n, a}, _, _, _, _} ->
            kind in [:function, :macro] and n == name and a == arity
          end)

        _ ->
          nil
      end

    case entry do
      {_, _, signatures, %{"en" => doc}, _} -> {signatures, doc}
      {_, _, signatures, _, _} -> {signatures, nil}
      nil -> {[], nil}
    end
  end
end
