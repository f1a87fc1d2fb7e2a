// VS Code glue: starts the aiex language server, keeps its configuration in
// sync with the settings, shows its status, and exposes the palette commands.
// Everything that can be decided without VS Code lives in the pure modules
// (settings, serverPath, status, actions) and is unit-tested there.

import * as fs from "node:fs";
import * as os from "node:os";
import * as readline from "node:readline";
import * as vscode from "vscode";
import {
  CodeActionRequest,
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  State,
  TransportKind,
  type WorkspaceEdit as LspWorkspaceEdit,
} from "vscode-languageclient/node";
import { ACTIONS, type ActionName, normaliseActions, pickAction, withInstruction } from "./actions";
import { ChatPanel } from "./chatPanel";
import { checkpointItem, comparisonText, isChangedSinceRefusal, readCheckpoints, readComparison, restoreArguments } from "./checkpoints";
import { resolveServerPath } from "./serverPath";
import { minimumVersionFeature } from "./serverVersion";
import { type RawSettings, toServerConfig } from "./settings";
import { createLogRouter } from "./serverLog";
import { formatStatus } from "./status";

/**
 * Language ids of Elixir files: ElixirLS's extension (elixir, eex, html-eex),
 * the Phoenix extension's (phoenix-heex), and the generic ones (eelixir, heex).
 */
export const LANGUAGES = ["elixir", "eex", "html-eex", "eelixir", "heex", "phoenix-heex"];
const STATUS_REFRESH_MS = 60_000;

let client: LanguageClient | undefined;
let statusItem: vscode.StatusBarItem;
let output: vscode.LogOutputChannel;
let statusTimer: NodeJS.Timeout | undefined;
let chat: ChatPanel | undefined;

function readSettings(): RawSettings {
  const c = vscode.workspace.getConfiguration("aiex");
  return {
    providers: c.get("providers"),
    features: c.get("features"),
    checks: c.get("checks"),
    completion: { providers: c.get("completion.providers") },
    explain: { providers: c.get("explain.providers") },
    actions: { providers: c.get("actions.providers") },
  };
}

/** The server configuration; problems are shown once, then sent anyway without the bad keys. */
function serverConfig(report: boolean): Record<string, unknown> {
  const { config, problems } = toServerConfig(readSettings());
  if (report) {
    for (const p of problems) {
      output.warn(p);
      void vscode.window.showWarningMessage(`Aiex: ${p}`);
    }
  }
  return config;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function inlineCompletionEnabled(): boolean {
  return vscode.workspace.getConfiguration("aiex").get<boolean>("inlineCompletion.enabled", true);
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  const settings = vscode.workspace.getConfiguration("aiex");
  const found = resolveServerPath({
    configured: settings.get<string>("serverPath", ""),
    envPath: process.env.PATH,
    platform: process.platform,
    home: os.homedir(),
    isExecutable,
    extensionPath: context.extensionPath,
  });
  if (!found.ok) {
    output.error(found.message);
    showStatus(formatStatus(undefined, undefined, found.message));
    // Not awaited: the promise settles only when the user dismisses the
    // message, and activation must not wait for that.
    void vscode.window.showErrorMessage(found.message, "Open Settings").then((choice) => {
      if (choice) void vscode.commands.executeCommand("workbench.action.openSettings", "aiex.serverPath");
    });
    return;
  }

  const serverOptions: ServerOptions = {
    command: found.path,
    args: settings.get<string[]>("serverArgs", []),
    transport: TransportKind.stdio,
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: LANGUAGES.flatMap((language) => [
      { scheme: "file", language },
      { scheme: "untitled", language },
    ]),
    initializationOptions: serverConfig(true),
    outputChannel: output,
    // The server logs to stderr at its own levels (info, warn...); the client's default
    // would show every line as an error.
    stdioOptions: {
      stdout: (input, channel) => {
        readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on("line", (l) => channel.info(l));
      },
      stderr: (input, channel) => {
        const route = createLogRouter();
        readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on("line", (raw) => {
          const line = route(raw);
          if (line) channel[line.level](line.text);
        });
      },
    },
    middleware: {
      // A server that pulls its configuration gets the mapped shape, not the
      // raw VS Code settings.
      workspace: {
        configuration: (params, token, next) => {
          if (params.items.every((i) => i.section !== "aiex")) return next(params, token);
          return params.items.map((i) => (i.section === "aiex" ? serverConfig(false) : null));
        },
      },
      provideInlineCompletionItems: (document, position, ctx, token, next) =>
        inlineCompletionEnabled() ? next(document, position, ctx, token) : null,
    },
  };

  client = new LanguageClient("aiex", "Aiex", serverOptions, clientOptions);
  const manifest = context.extension.packageJSON as { version?: string };
  client.registerFeature(minimumVersionFeature(manifest.version ?? "0.0.0"));
  // Inline completion (ghost text) is a standard LSP 3.18 feature of this
  // client version, registered by default; proposed features (none in 11.0)
  // are opted into so that a client upgrade brings them along.
  client.registerProposedFeatures();
  // The chat's streamed answer; the panel matches each piece to its turn by token.
  context.subscriptions.push(client.onNotification("aiex/chatDelta", (params: unknown) => chat?.onDelta(params)));
  context.subscriptions.push(
    client.onDidChangeState((e) => {
      if (e.newState === State.Running) void refreshStatus();
      if (e.newState === State.Stopped) showStatus(formatStatus(undefined, undefined, "the server stopped"));
    }),
  );
  try {
    await client.start();
  } catch (err) {
    const message = `the aiex server at ${found.path} failed to start: ${String(err)}. See the "Aiex" output.`;
    output.error(message);
    showStatus(formatStatus(undefined, undefined, message));
    void vscode.window.showErrorMessage(`Aiex: ${message}`);
  }
}

async function stopClient(): Promise<void> {
  const c = client;
  client = undefined;
  if (c?.isRunning()) await c.stop();
}

/** True when the running server advertises the given `workspace/executeCommand` command. */
function serverHasCommand(command: string): boolean {
  const commands = client?.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
  return commands.includes(command);
}

async function executeServerCommand(command: string, args: unknown[], token?: vscode.CancellationToken): Promise<unknown> {
  if (!client?.isRunning()) throw new Error("the aiex server is not running: see the \"Aiex\" output");
  const result: unknown = await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args }, token);
  return result;
}

function showStatus(view: ReturnType<typeof formatStatus>): void {
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.backgroundColor = view.warning ? new vscode.ThemeColor("statusBarItem.warningBackground") : undefined;
  statusItem.show();
}

async function refreshStatus(): Promise<void> {
  if (!client?.isRunning()) return;
  if (!serverHasCommand("aiex.status")) {
    showStatus({ text: "$(sparkle) Aiex", tooltip: "Aiex is running (this server reports no status).", warning: false });
    return;
  }
  try {
    const status = await executeServerCommand("aiex.status", []);
    const usage = serverHasCommand("aiex.usage") ? await executeServerCommand("aiex.usage", []) : undefined;
    showStatus(formatStatus(status, usage));
  } catch (err) {
    showStatus(formatStatus(undefined, undefined, `status unavailable: ${String(err)}`));
  }
}

/** Palette command: find the server's code action at the cursor and run it. */
async function runAction(name: ActionName): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || !LANGUAGES.includes(editor.document.languageId)) {
    void vscode.window.showInformationMessage("Aiex: open an Elixir file and put the cursor inside a function.");
    return;
  }
  const running = runningClient();
  if (!running) return;
  const c2p = running.code2ProtocolConverter;
  const answer = await running.sendRequest(CodeActionRequest.type, {
    textDocument: c2p.asTextDocumentIdentifier(editor.document),
    range: c2p.asRange(editor.selection),
    context: { diagnostics: [], triggerKind: 1 /* Invoked */ },
  });
  const picked = pickAction(normaliseActions(answer), name);
  if (!picked.ok) {
    void vscode.window.showInformationMessage(picked.message);
    return;
  }
  const action = picked.action;
  let args = action.command?.arguments ?? [];
  if (name === "refactor") {
    const instruction = await vscode.window.showInputBox({
      title: "Aiex: Refactor",
      prompt: "How should the function change? (leave empty for a general clean-up)",
    });
    if (instruction === undefined) return; // cancelled
    args = withInstruction(args, instruction);
  }
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Aiex: ${action.title}`, cancellable: true },
    async (_progress, token) => {
      try {
        if (action.edit) {
          const edit = await running.protocol2CodeConverter.asWorkspaceEdit(action.edit as LspWorkspaceEdit);
          await vscode.workspace.applyEdit(edit);
        }
        // The server answers with `workspace/applyEdit` or `window/showDocument`,
        // which the language client carries out.
        if (action.command) await executeServerCommand(action.command.command, args, token);
      } catch (err) {
        if (!token.isCancellationRequested) void vscode.window.showErrorMessage(`Aiex: ${action.title} failed: ${String(err)}`);
      }
    },
  );
  void refreshStatus();
}

/** The running client, or undefined after saying the server is not running. */
function runningClient(): LanguageClient | undefined {
  if (client?.isRunning()) return client;
  void vscode.window.showErrorMessage("Aiex: the server is not running. Run \"Aiex: Restart Server\" or see the \"Aiex\" output.");
  return undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A checkpoint picked from the server's list (newest first), or undefined (none, or cancelled). */
async function pickCheckpoint(running: LanguageClient, title: string): Promise<number | undefined> {
  const checkpoints = readCheckpoints(await running.sendRequest("aiex/checkpoints", null));
  if (checkpoints.length === 0) {
    void vscode.window.showInformationMessage("Aiex: there is no AI edit to go back to.");
    return undefined;
  }
  const items = checkpoints.map((c) => checkpointItem(c, (path) => vscode.workspace.asRelativePath(path)));
  return (await vscode.window.showQuickPick(items, { title, placeHolder: "Checkpoints are taken before every AI edit, newest first" }))?.checkpoint;
}

/** "Aiex: Compare checkpoint": a picked checkpoint against the files now, as a unified diff. */
async function compareCheckpoint(): Promise<void> {
  const running = runningClient();
  if (!running) return;
  try {
    const checkpoint = await pickCheckpoint(running, "Aiex: compare which checkpoint with the files now?");
    if (checkpoint === undefined) return;
    const files = readComparison(await running.sendRequest("aiex/compareCheckpoint", { checkpoint }));
    const document = await vscode.workspace.openTextDocument({ content: comparisonText(files), language: "diff" });
    await vscode.window.showTextDocument(document, { preview: true, viewColumn: vscode.ViewColumn.Beside });
  } catch (err) {
    void vscode.window.showErrorMessage(`Aiex: comparing the checkpoint failed: ${errorText(err)}`);
  }
}

/**
 * "Aiex: Restore checkpoint": `aiex.restoreCheckpoint` on a picked checkpoint. When the server
 * refuses because a file changed since the AI edit, a modal offers to restore anyway (those
 * changes are lost). The command id is not the server's: the language client registers that.
 */
async function restoreCheckpoint(): Promise<void> {
  const running = runningClient();
  if (!running) return;
  let checkpoint: number | undefined;
  try {
    checkpoint = await pickCheckpoint(running, "Aiex: restore the files as which checkpoint recorded them?");
    if (checkpoint === undefined) return;
    await restore(running, checkpoint, false);
  } catch (err) {
    const message = errorText(err);
    if (checkpoint === undefined || !isChangedSinceRefusal(message)) {
      void vscode.window.showErrorMessage(`Aiex: restoring the checkpoint failed: ${message}`);
      return;
    }
    const choice = await vscode.window.showWarningMessage(`Aiex: ${message}`, { modal: true }, "Restore Anyway");
    if (choice !== "Restore Anyway") return;
    try {
      await restore(running, checkpoint, true);
    } catch (again) {
      void vscode.window.showErrorMessage(`Aiex: restoring the checkpoint failed: ${errorText(again)}`);
    }
  }
}

async function restore(running: LanguageClient, checkpoint: number, force: boolean): Promise<void> {
  const answer: unknown = await running.sendRequest(ExecuteCommandRequest.type,
    { command: "aiex.restoreCheckpoint", arguments: restoreArguments(checkpoint, force) });
  const raw = answer as { files?: unknown } | null;
  const files = Array.isArray(raw?.files) ? raw.files.map((f) => vscode.workspace.asRelativePath(String(f))).join(", ") : "";
  void vscode.window.showInformationMessage(`Aiex: restored ${files || "the files"} from checkpoint ${checkpoint}.`);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("Aiex", { log: true });
  statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  statusItem.name = "Aiex";
  statusItem.command = "aiex.showStatus";
  showStatus({ text: "$(sync~spin) Aiex", tooltip: "Aiex is starting", warning: false });
  context.subscriptions.push(output, statusItem);

  const panel = new ChatPanel(() => client, (d) => LANGUAGES.includes(d.languageId) && ["file", "untitled"].includes(d.uri.scheme));
  chat = panel;
  context.subscriptions.push(
    vscode.commands.registerCommand("aiex.chat", () => panel.show()),
    vscode.window.onDidChangeActiveTextEditor((e) => panel.noteEditor(e)),
  );
  panel.noteEditor(vscode.window.activeTextEditor);

  for (const name of Object.keys(ACTIONS) as ActionName[]) {
    context.subscriptions.push(vscode.commands.registerCommand(`aiex.${name}Here`, () => runAction(name)));
  }
  context.subscriptions.push(
    vscode.commands.registerCommand("aiex.pickCheckpoint", () => restoreCheckpoint()),
    vscode.commands.registerCommand("aiex.compareCheckpoint", () => compareCheckpoint()),
    vscode.commands.registerCommand("aiex.showStatus", async () => {
      await refreshStatus();
      output.show(true);
      const tooltip = typeof statusItem.tooltip === "string" ? statusItem.tooltip : (statusItem.tooltip?.value ?? "");
      output.info(`status: ${statusItem.text}\n${tooltip}`);
    }),
    vscode.commands.registerCommand("aiex.restartServer", async () => {
      await stopClient();
      await startClient(context);
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (!e.affectsConfiguration("aiex")) return;
      if (e.affectsConfiguration("aiex.serverPath") || e.affectsConfiguration("aiex.serverArgs")) {
        await stopClient();
        await startClient(context);
        return;
      }
      if (client?.isRunning()) {
        await client.sendNotification(DidChangeConfigurationNotification.type, { settings: { aiex: serverConfig(true) } });
        void refreshStatus();
      }
    }),
  );
  statusTimer = setInterval(() => void refreshStatus(), STATUS_REFRESH_MS);
  context.subscriptions.push({ dispose: () => statusTimer && clearInterval(statusTimer) });

  await startClient(context);
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
