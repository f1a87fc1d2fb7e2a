defmodule Aiex.MixProject do
  use Mix.Project

  @version "0.1.0"
  # The repository's address as the other packages give it (editors/vscode/package.json),
  # until it is published.
  @source_url "https://example.invalid/aiex"

  def project do
    [
      app: :aiex,
      version: @version,
      elixir: "~> 1.14",
      start_permanent: false,
      deps: [],
      description: "Mix tasks and IEx helpers for Aiex, the AI assistant for Elixir",
      package: [
        licenses: ["MIT"],
        links: %{"Repository" => @source_url},
        files: ~w(lib mix.exs README.md LICENSE)
      ],
      source_url: @source_url,
      docs: [main: "Aiex"]
    ]
  end

  # No runtime dependencies: the tasks drive the `aiex` binary over a Port.
  def application, do: [extra_applications: [:logger]]
end
