import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { snakeCase, toServerConfig } from "../src/settings";

describe("toServerConfig", () => {
  it("sends nothing when nothing is set, so every server default applies", () => {
    assert.deepEqual(toServerConfig(undefined), { config: {}, problems: [] });
    // What VS Code hands over for untouched settings: the package.json defaults.
    const untouched = toServerConfig({
      providers: {},
      features: {},
      checks: {},
      completion: { providers: [] },
      explain: { providers: [] },
      actions: { providers: [] },
    });
    assert.deepEqual(untouched, { config: {}, problems: [] });
  });

  it("maps the product brief's example onto the documented shape", () => {
    const { config, problems } = toServerConfig({
      providers: {
        local: { kind: "ollama", baseUrl: "http://127.0.0.1:11434", model: "qwen2.5-coder:1.5b" },
        hosted: { kind: "anthropic", model: "claude-haiku-4-5", apiKeyEnv: "ANTHROPIC_API_KEY" },
      },
      completion: { providers: ["local", "hosted"] },
      explain: { providers: ["hosted", "local"] },
      actions: { providers: ["hosted", "local"] },
    });
    assert.deepEqual(problems, []);
    assert.deepEqual(config, {
      providers: {
        local: { kind: "ollama", base_url: "http://127.0.0.1:11434", model: "qwen2.5-coder:1.5b" },
        hosted: { kind: "anthropic", model: "claude-haiku-4-5", api_key_env: "ANTHROPIC_API_KEY" },
      },
      features: {
        completion: { providers: ["local", "hosted"] },
        explain: { providers: ["hosted", "local"] },
        actions: { providers: ["hosted", "local"] },
      },
    });
  });

  it("accepts snake_case keys as written in .aiex.toml too", () => {
    const { config } = toServerConfig({ providers: { l: { kind: "ollama", base_url: "http://h:1" } } });
    assert.deepEqual(config.providers, { l: { kind: "ollama", base_url: "http://h:1" } });
  });

  it("never sends an API key written into settings, and says where it should go", () => {
    const { config, problems } = toServerConfig({
      providers: { hosted: { kind: "openai", model: "gpt-4o-mini", apiKey: "sk-secret" } },
    });
    assert.deepEqual(config.providers, { hosted: { kind: "openai", model: "gpt-4o-mini" } });
    assert.equal(JSON.stringify(config).includes("sk-secret"), false);
    assert.equal(problems.length, 1);
    assert.match(problems[0], /aiex\.providers\.hosted\.api_key was not sent/);
    assert.match(problems[0], /apiKeyEnv/);
  });

  it("merges aiex.features with the per-feature provider lists, the lists winning", () => {
    const { config } = toServerConfig({
      features: { completion: { providers: ["x"], debounceMs: 120 }, explain: { timeoutMs: 4000 } },
      completion: { providers: ["local"] },
    });
    assert.deepEqual(config.features, {
      completion: { providers: ["local"], debounce_ms: 120 },
      explain: { timeout_ms: 4000 },
    });
  });

  it("passes checks through with their names untouched", () => {
    const { config } = toServerConfig({ checks: { "Credo.Check.Warning.IoInspect": { enabled: false } } });
    assert.deepEqual(config.checks, { "Credo.Check.Warning.IoInspect": { enabled: false } });
  });

  it("drops values of the wrong type and names the setting", () => {
    const { config, problems } = toServerConfig({
      providers: "ollama",
      completion: { providers: "local" },
      explain: { providers: ["ok", 3] },
      checks: [],
      features: 7,
    });
    assert.deepEqual(config, {});
    assert.deepEqual(
      problems.map((p) => p.split(" ")[0]),
      ["aiex.providers", "aiex.features", "aiex.completion.providers", "aiex.explain.providers", "aiex.checks"],
    );
  });

  it("ignores a provider that is not an object but keeps the others", () => {
    const { config, problems } = toServerConfig({ providers: { bad: "ollama", good: { kind: "ollama" } } });
    assert.deepEqual(config.providers, { good: { kind: "ollama" } });
    assert.match(problems[0], /^aiex\.providers\.bad must be an object/);
  });

  it("does not modify the settings object it was given", () => {
    const raw = { providers: { l: { kind: "ollama", apiKey: "k" } }, completion: { providers: ["l"] } };
    const before = JSON.stringify(raw);
    const { config } = toServerConfig(raw);
    (config.features as { completion: { providers: string[] } }).completion.providers.push("mutated");
    assert.equal(JSON.stringify(raw), before);
  });
});

describe("snakeCase", () => {
  it("converts camelCase and leaves snake_case alone", () => {
    assert.equal(snakeCase("baseUrl"), "base_url");
    assert.equal(snakeCase("apiKeyEnv"), "api_key_env");
    assert.equal(snakeCase("max_tokens"), "max_tokens");
    assert.equal(snakeCase("kind"), "kind");
  });
});
