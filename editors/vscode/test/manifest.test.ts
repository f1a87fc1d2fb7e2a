// The manifest (package.json) and the code must agree: a command contributed
// but never registered, or a setting read but never declared, fails silently
// in VS Code, which these tests cannot run.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ACTIONS } from "../src/actions";

const root = join(__dirname, "..", "..");
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  main: string;
  dependencies: Record<string, string>;
  activationEvents: string[];
  contributes: {
    languages: { id: string; extensions: string[]; configuration?: string; grammars?: unknown }[];
    commands: { command: string }[];
    menus: { "editor/context": { command: string; when: string }[] };
    configuration: { properties: Record<string, unknown> };
  };
};
const source = readFileSync(join(root, "src", "extension.ts"), "utf8");

describe("package.json", () => {
  it("registers the elixir language for .ex and .exs, and nothing an Elixir extension would set", () => {
    // VS Code has no built-in Elixir: without this, .ex files open as Plain Text and the client
    // never sees them. VS Code merges contributions of one language id, so with ElixirLS
    // installed its grammar and language configuration still apply.
    const elixir = manifest.contributes.languages.find((l) => l.id === "elixir");
    assert.deepEqual(elixir?.extensions, [".ex", ".exs"]);
    assert.equal(elixir?.configuration, undefined);
    assert.equal(elixir?.grammars, undefined);
    assert.ok(manifest.activationEvents.includes("onLanguage:elixir"));
  });

  it("registers every contributed command in the code", () => {
    const registered = new Set([
      ...Object.keys(ACTIONS).map((name) => `aiex.${name}Here`), // registered in a loop
      ...[...source.matchAll(/registerCommand\("([^"]+)"/g)].map((m) => m[1]),
    ]);
    for (const { command } of manifest.contributes.commands) {
      assert.ok(registered.has(command), `${command} is contributed but never registered`);
    }
  });

  it("never contributes a command the server registers itself (aiex.explain, aiex.status...)", () => {
    // vscode-languageclient registers the server's executeCommand commands;
    // contributing the same id would make one of the registrations fail.
    const serverCommands = new Set<string>([...Object.values(ACTIONS).map((a) => a.command), "aiex.status", "aiex.usage",
      "aiex.undoLastAiEdit", "aiex.restoreCheckpoint"]);
    for (const { command } of manifest.contributes.commands) {
      assert.ok(!serverCommands.has(command), `${command} collides with the server's command`);
    }
  });

  it("declares every setting the code reads", () => {
    const read = [...source.matchAll(/\.get(?:<[^>]+>)?\("([^"]+)"/g)].map((m) => `aiex.${m[1]}`);
    assert.ok(read.length >= 8, `expected the settings reads to be found, got ${read.length}`);
    for (const key of read) {
      assert.ok(key in manifest.contributes.configuration.properties, `${key} is read but not declared`);
    }
  });

  it("activates for every language of the document selector", () => {
    const languages = /export const LANGUAGES = \[([^\]]+)\]/.exec(source)?.[1].match(/"[^"]+"/g) ?? [];
    assert.ok(languages.length >= 3);
    for (const quoted of languages) {
      const id = quoted.slice(1, -1);
      assert.ok(manifest.activationEvents.includes(`onLanguage:${id}`), `no activation event for ${id}`);
      for (const entry of manifest.contributes.menus["editor/context"]) {
        assert.ok(entry.when.split(" || ").includes(`editorLangId == ${id}`), `${entry.command}'s menu misses ${id}`);
      }
    }
  });

  it("uses a language client with standard inline completion (LSP 3.18, client 10+)", () => {
    // Before 10.x, textDocument/inlineCompletion was a proposed feature: ghost
    // text would silently disappear on a downgrade.
    const major = Number(/\d+/.exec(manifest.dependencies["vscode-languageclient"])?.[0]);
    assert.ok(major >= 10, `vscode-languageclient ${manifest.dependencies["vscode-languageclient"]}`);
    const installed = JSON.parse(
      readFileSync(join(root, "node_modules", "vscode-languageclient", "package.json"), "utf8"),
    ) as { version: string };
    assert.ok(Number(installed.version.split(".")[0]) >= 10, `installed ${installed.version}`);
  });

  it("points main at the compiled extension", () => {
    assert.equal(manifest.main, "./out/src/extension.js");
  });
});
