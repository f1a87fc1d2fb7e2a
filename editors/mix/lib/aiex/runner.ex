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
  # Runs a streaming command (`--format json-lines`): each delta goes to `on_delta` as the
  # model writes it. Returns the result event and the text streamed.
  @spec streamed!([String.t()], (String.t() -> any)) :: {map, String.t()}
  def streamed!(args, on_delta) do
    parent = self()
    ref = make_ref()

    on_event = fn
      %{"event" => "delta", "text" => text} ->
        on_delta.(text)
        send(parent, {ref, :delta, text})

      %{"event" => "result"} = result ->
        send(parent, {ref, :result, result})

      _other ->
        :ok
    end

    case Aiex.events(args, on_event) do
      0 ->
        streamed = ref |> collect_deltas([]) |> IO.iodata_to_binary()

        receive do
          {^ref, :result, result} -> {result, streamed}
        after
          0 -> Mix.raise("the aiex binary ended without a result")
        end

      {:error, :not_found} ->
        missing!()

      status ->
        exit({:shutdown, status})
    end
  end

  defp collect_deltas(ref, acc) do
    receive do
      {^ref, :delta, text} -> collect_deltas(ref, [acc | text])
    after
      0 -> acc
    end
  end

  @doc false
  @spec missing!() :: no_return
  def missing!, do: Mix.raise(Aiex.missing_binary_message())
end
