defmodule Aiex.JSON do
  @moduledoc """
  A small JSON decoder for the `aiex` binary's output, and an encoder for what the package
  hands it (a function's description), so the package needs no dependency.

  Objects become maps with string keys; `null`, `true` and `false` become `nil`, `true`
  and `false`.
  """

  @doc """
  Decodes one JSON value (surrounding whitespace allowed); raises `ArgumentError` on
  anything else.

  ## Examples

      iex> Aiex.JSON.decode!(~s({"kept": 1, "not_run": null, "names": ["a\\\\u00e9", 2.5]}))
      %{"kept" => 1, "not_run" => nil, "names" => ["aé", 2.5]}

  """
  @spec decode!(binary) :: term
  def decode!(text) when is_binary(text) do
    case value(skip(text)) do
      {value, rest} ->
        if skip(rest) == "", do: value, else: invalid(rest)
    end
  end

  defp value("{" <> rest), do: object(skip(rest), %{})
  defp value("[" <> rest), do: array(skip(rest), [])
  defp value("\"" <> rest), do: string(rest, [])
  defp value("true" <> rest), do: {true, rest}
  defp value("false" <> rest), do: {false, rest}
  defp value("null" <> rest), do: {nil, rest}
  defp value(<<c, _::binary>> = text) when c in ~c"-0123456789", do: number(text)
  defp value(text), do: invalid(text)

  defp object("}" <> rest, acc), do: {acc, rest}

  defp object("\"" <> rest, acc) do
    {key, rest} = string(rest, [])

    case skip(rest) do
      ":" <> rest ->
        {value, rest} = value(skip(rest))
        acc = Map.put(acc, key, value)

        case skip(rest) do
          "," <> rest -> object(skip(rest), acc)
          "}" <> rest -> {acc, rest}
          other -> invalid(other)
        end

      other ->
        invalid(other)
    end
  end

  defp object(text, _acc), do: invalid(text)

  defp array("]" <> rest, acc), do: {Enum.reverse(acc), rest}

  defp array(text, acc) do
    {value, rest} = value(text)

    case skip(rest) do
      "," <> rest -> array(skip(rest), [value | acc])
      "]" <> rest -> {Enum.reverse([value | acc]), rest}
      other -> invalid(other)
    end
  end

  defp string("\"" <> rest, acc), do: {IO.iodata_to_binary(Enum.reverse(acc)), rest}
  defp string("\\\"" <> rest, acc), do: string(rest, ["\"" | acc])
  defp string("\\\\" <> rest, acc), do: string(rest, ["\\" | acc])
  defp string("\\/" <> rest, acc), do: string(rest, ["/" | acc])
  defp string("\\n" <> rest, acc), do: string(rest, ["\n" | acc])
  defp string("\\t" <> rest, acc), do: string(rest, ["\t" | acc])
  defp string("\\r" <> rest, acc), do: string(rest, ["\r" | acc])
  defp string("\\b" <> rest, acc), do: string(rest, ["\b" | acc])
  defp string("\\f" <> rest, acc), do: string(rest, ["\f" | acc])

  defp string("\\u" <> <<hex::binary-size(4), rest::binary>>, acc) do
    case {String.to_integer(hex, 16), rest} do
      # A UTF-16 surrogate pair: one character.
      {high, "\\u" <> <<low::binary-size(4), rest::binary>>} when high in 0xD800..0xDBFF ->
        low = String.to_integer(low, 16)
        code = 0x10000 + (high - 0xD800) * 0x400 + (low - 0xDC00)
        string(rest, [<<code::utf8>> | acc])

      {code, rest} ->
        string(rest, [<<code::utf8>> | acc])
    end
  end

  defp string(<<c::utf8, rest::binary>>, acc), do: string(rest, [<<c::utf8>> | acc])
  defp string(text, _acc), do: invalid(text)

  defp number(text) do
    {digits, rest} = take_number(text, [])

    case Integer.parse(digits) do
      {int, ""} -> {int, rest}
      _ -> {digits |> Float.parse() |> elem(0), rest}
    end
  end

  defp take_number(<<c, rest::binary>>, acc) when c in ~c"-+0123456789.eE",
    do: take_number(rest, [c | acc])

  defp take_number(rest, acc), do: {acc |> Enum.reverse() |> List.to_string(), rest}

  defp skip(<<c, rest::binary>>) when c in ~c" \t\r\n", do: skip(rest)
  defp skip(text), do: text

  defp invalid(text),
    do: raise(ArgumentError, "invalid JSON from aiex near: #{inspect(String.slice(text, 0, 20))}")

  @doc """
  Encodes maps (atom or string keys), lists, strings, integers, floats, booleans and `nil`.

  ## Examples

      iex> Aiex.JSON.encode!(%{name: "map", arity: 2, doc: nil, signatures: ["map(a, \\"f\\")\\n"]})
      ~S'{"arity":2,"doc":null,"name":"map","signatures":["map(a, \\"f\\")\\n"]}'

  """
  @spec encode!(term) :: String.t()
  def encode!(value), do: value |> encode() |> IO.iodata_to_binary()

  defp encode(nil), do: "null"
  defp encode(true), do: "true"
  defp encode(false), do: "false"
  defp encode(n) when is_integer(n), do: Integer.to_string(n)
  defp encode(n) when is_float(n), do: Float.to_string(n)
  defp encode(atom) when is_atom(atom), do: encode(Atom.to_string(atom))
  defp encode(text) when is_binary(text), do: [?", escape(text, []), ?"]

  defp encode(list) when is_list(list),
    do: [?[, list |> Enum.map(&encode/1) |> Enum.intersperse(?,), ?]]

  defp encode(map) when is_map(map) do
    pairs =
      map
      |> Enum.map(fn {key, value} -> {to_string(key), value} end)
      |> Enum.sort()
      |> Enum.map(fn {key, value} -> [encode(key), ?:, encode(value)] end)

    [?{, Enum.intersperse(pairs, ?,), ?}]
  end

  defp escape(<<>>, acc), do: Enum.reverse(acc)
  defp escape(<<?", rest::binary>>, acc), do: escape(rest, ["\\\"" | acc])
  defp escape(<<?\\, rest::binary>>, acc), do: escape(rest, ["\\\\" | acc])
  defp escape(<<?\n, rest::binary>>, acc), do: escape(rest, ["\\n" | acc])
  defp escape(<<?\r, rest::binary>>, acc), do: escape(rest, ["\\r" | acc])
  defp escape(<<?\t, rest::binary>>, acc), do: escape(rest, ["\\t" | acc])

  defp escape(<<c, rest::binary>>, acc) when c < 0x20,
    do: escape(rest, [:io_lib.format("\\u~4.16.0b", [c]) | acc])

  defp escape(<<c::utf8, rest::binary>>, acc), do: escape(rest, [<<c::utf8>> | acc])
  # A byte that is not UTF-8: the replacement character, so the JSON stays valid.
  defp escape(<<_, rest::binary>>, acc), do: escape(rest, ["\\ufffd" | acc])
end
