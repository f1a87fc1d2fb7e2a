// Activation smoke test: loads the real extension module against a stub of
// the `vscode` API (VS Code itself cannot run here) and checks what a user
// sees when the aiex binary is missing: an error naming the fix, a warning in
// the status bar, and every palette command registered.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import Module from "node:module";
import { join } from "node:path";
import { describe, it } from "node:test";

interface Recorded {
  errors: string[];
  commands: string[];
  statusText: string;
}

/** A minimal `vscode` stub: what activation touches on the missing-binary path. */
function stubVscode(settings: Record<string, unknown>, rec: Recorded) {
  const disposable = { dispose() {} };
  const log = { info() {}, warn() {}, error() {}, show() {}, dispose() {} };
  return {
    StatusBarAlignment: { Left: 1, Right: 2 },
    ProgressLocation: { Notification: 15 },
    ThemeColor: class {
      constructor(public id: string) {}
    },
    window: {
      createOutputChannel: () => log,
      createStatusBarItem: () => {
        const item = {
          name: "",
          command: "",
          tooltip: "",
          backgroundColor: undefined,
          show() {},
          dispose() {},
          set text(t: string) {
            rec.statusText = t;
          },
          get text() {
            return rec.statusText;
          },
        };
        return item;
      },
      showErrorMessage: (message: string) => {
        rec.errors.push(message);
        return Promise.resolve(undefined);
      },
      showWarningMessage: () => Promise.resolve(undefined),
      showInformationMessage: () => Promise.resolve(undefined),
      activeTextEditor: undefined,
      onDidChangeActiveTextEditor: () => disposable,
    },
    commands: {
      registerCommand: (id: string) => {
        rec.commands.push(id);
        return disposable;
      },
      executeCommand: () => Promise.resolve(undefined),
    },
    workspace: {
      getConfiguration: () => ({ get: (key: string, fallback?: unknown) => settings[key] ?? fallback }),
      onDidChangeConfiguration: () => disposable,
    },
  };
}

async function activateWith(settings: Record<string, unknown>): Promise<Recorded> {
  const rec: Recorded = { errors: [], commands: [], statusText: "" };
  await activateStub(stubVscode(settings, rec));
  return rec;
}

/** Loads the extension afresh with `stub` as its `vscode` module, activates and deactivates it. */
async function activateStub(stub: ReturnType<typeof stubVscode>): Promise<void> {
  // vscode-languageclient subclasses a few vscode classes when it loads:
  // any other top-level name is an empty class.
  const target: Record<string | symbol, unknown> = stub;
  const vscode = new Proxy(target, {
    get: (t, name) => (name in t ? t[name] : class {}),
  });
  const mod = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const original = mod._load;
  mod._load = (request: string, ...rest: unknown[]) => (request === "vscode" ? vscode : original(request, ...rest));
  const path = require.resolve("../src/extension");
  delete require.cache[path];
  try {
    // A fresh load after the hook is installed: an import would be hoisted above it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ext = require(path) as { activate: (ctx: unknown) => Promise<void>; deactivate: () => Promise<void> };
    const context = { subscriptions: [] as { dispose(): void }[] };
    await ext.activate(context);
    for (const d of context.subscriptions) d.dispose();
    await ext.deactivate();
  } finally {
    mod._load = original;
  }
}

describe("activate", () => {
  it("reports a wrong aiex.serverPath with the fix, and warns in the status bar", async () => {
    const rec = await activateWith({ serverPath: "/nonexistent/aiex" });
    assert.equal(rec.errors.length, 1);
    assert.match(rec.errors[0], /aiex\.serverPath is set to "\/nonexistent\/aiex"/);
    assert.match(rec.statusText, /^\$\(warning\) Aiex/);
  });

  it("does not wait for the user to dismiss the error before activating", async () => {
    const rec: Recorded = { errors: [], commands: [], statusText: "" };
    const never = new Promise<undefined>(() => {});
    const stub = stubVscode({ serverPath: "/nonexistent/aiex" }, rec);
    stub.window.showErrorMessage = (message: string) => {
      rec.errors.push(message);
      return never;
    };
    const settled = await Promise.race([
      activateStub(stub).then(() => "activated"),
      new Promise((resolve) => setTimeout(() => resolve("still waiting"), 1000)),
    ]);
    assert.equal(settled, "activated");
    assert.equal(rec.errors.length, 1);
  });

  it("reports a binary missing from PATH", async () => {
    const saved = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      const rec = await activateWith({});
      assert.deepEqual(rec.errors, [
        "aiex binary not found: set aiex.serverPath or put aiex on PATH (build it with `cargo build --release`).",
      ]);
    } finally {
      process.env.PATH = saved;
    }
  });

  it("registers every contributed command", async () => {
    const rec = await activateWith({ serverPath: "/nonexistent/aiex" });
    const manifest = JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8")) as {
      contributes: { commands: { command: string }[] };
    };
    for (const { command } of manifest.contributes.commands) {
      assert.ok(rec.commands.includes(command), `${command} not registered at activation`);
    }
  });
});
