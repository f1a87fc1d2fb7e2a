//! Generated Elixir source of a chosen size, realistic enough for benchmarks: modules with
//! docs, specs, aliases, multi-clause functions, pipes and case expressions.

#![allow(dead_code)]

/// One module of about 70 lines, numbered `index`.
pub fn module(index: usize) -> String {
    let mut out = format!(
        "defmodule Bench.Module{index} do\n  @moduledoc \"\"\"\n  Generated module number {index}.\n  \"\"\"\n\n  alias Bench.Module{next}\n  import Enum, only: [map: 2]\n\n",
        next = index + 1
    );
    for f in 0..6 {
        out.push_str(&format!(
            "  @doc \"Handles case {f} of module {index}.\"\n  @spec handle_{f}(map(), keyword()) :: {{:ok, term()}} | {{:error, atom()}}\n  def handle_{f}(%{{id: id}} = params, opts \\\\ []) when is_integer(id) do\n    params\n    |> Map.put(:step, {f})\n    |> validate_{f}(opts)\n    |> case do\n      {{:ok, value}} -> {{:ok, Module{next}.handle_{f}(value, opts)}}\n      {{:error, _}} = error -> error\n    end\n  end\n\n  defp validate_{f}(params, _opts), do: {{:ok, params}}\n\n",
            next = index + 1
        ));
    }
    out.push_str("end\n\n");
    out
}

/// A file of at least `lines` lines made of generated modules.
pub fn file_of_lines(lines: usize) -> String {
    let mut out = String::new();
    let mut index = 0;
    while out.lines().count() < lines {
        out.push_str(&module(index));
        index += 1;
    }
    out
}
