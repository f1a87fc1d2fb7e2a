defmodule Aiex.Runner do
  @moduledoc false
  # What every Mix task and IEx helper does with the binary: run it, stop with the install
  # command when it is missing, and turn a failure into the task's exit status.

  @doc false
  @spec passthrough!([String.t()]) :: :ok
  def passthrough!(args) do
    case Aiex.stream(args, &IO.write/1) do
      0 -> :ok
      {:error, :not_found} -> missing!()
      status -> exit({:shutdown, status})
    end
  end

  @doc false
  @spec json!([String.t()]) :: term
  def json!(args) do
    case Aiex.json(args) do
      {:ok, value} -> value
      {:error, :not_found} -> missing!()
      {:error, {:exit, status}} -> exit({:shutdown, status})
    end
  end

  @doc false
  @spec missing!() :: no_return
  def missing!, do: Mix.raise(Aiex.missing_binary_message())
end
