// `Aiex: Chat`: a webview panel talking to the server's chat (aiex/chat streaming
// aiex/chatDelta, $/cancelRequest to stop, aiex/applyChatEdit, aiex.undoLastAiEdit). One
// conversation per window, continued by each question until "New session". The pure parts
// (params, results, HTML) are in chat.ts.

import * as vscode from "vscode";
import { ExecuteCommandRequest, type LanguageClient } from "vscode-languageclient/node";
import {
  applyParams, chatParams, contextLabel, deltaText, type Entry, makeNonce, panelHtml, type Proposal, readChatResult,
} from "./chat";

/** What the webview posts. */
type FromWebview =
  | { type: "ask"; text: string }
  | { type: "stop" }
  | { type: "new" }
  | { type: "apply"; proposal: number }
  | { type: "undo" };

export class ChatPanel {
  private panel: vscode.WebviewPanel | undefined;
  private sessionId: number | undefined;
  private entries: Entry[] = [];
  private proposals: Proposal[] = [];
  private turn: { token: string; cancel: vscode.CancellationTokenSource; text: string } | undefined;
  private tokens = 0;
  /** The last Elixir file the user was in: the context of the next question. */
  private source: vscode.TextEditor | undefined;

  constructor(
    private readonly getClient: () => LanguageClient | undefined,
    private readonly isElixir: (document: vscode.TextDocument) => boolean,
  ) {}

  /** Follows the active editor, so that the panel (which takes the focus) knows the file. */
  noteEditor(editor: vscode.TextEditor | undefined): void {
    if (editor && this.isElixir(editor.document)) this.source = editor;
  }

  /** `aiex/chatDelta`, registered on the language client. */
  onDelta(params: unknown): void {
    const turn = this.turn;
    const text = deltaText(params, turn?.token);
    if (!turn || text === undefined) return;
    turn.text += text;
    void this.post({ type: "delta", text });
  }

  /** `Aiex: Chat`: shows the panel (with the active file as the context of the next question). */
  show(): void {
    this.noteEditor(vscode.window.activeTextEditor);
    if (this.panel) {
      this.panel.reveal(vscode.ViewColumn.Beside);
      return;
    }
    const panel = vscode.window.createWebviewPanel("aiex.chat", "Aiex Chat", vscode.ViewColumn.Beside, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [],
    });
    this.panel = panel;
    panel.webview.html = panelHtml(makeNonce(), this.entries, this.sessionId);
    panel.webview.onDidReceiveMessage((m: FromWebview) => this.receive(m));
    panel.onDidDispose(() => {
      this.panel = undefined;
      this.stop(false);
    });
  }

  private post(message: unknown): Thenable<boolean> | undefined {
    return this.panel?.webview.postMessage(message);
  }

  private note(text: string): void {
    this.entries.push({ role: "note", text });
    void this.post({ type: "note", text });
  }

  private receive(m: FromWebview): void {
    switch (m.type) {
      case "ask": void this.ask(String(m.text)); break;
      case "stop": this.stop(true); break;
      case "new": this.newSession(); break;
      case "apply": void this.apply(Number(m.proposal)); break;
      case "undo": void this.undo(); break;
    }
  }

  private running(): LanguageClient | undefined {
    const client = this.getClient();
    if (client?.isRunning()) return client;
    void vscode.window.showErrorMessage("Aiex: the server is not running. Run \"Aiex: Restart Server\" or see the \"Aiex\" output.");
    return undefined;
  }

  async ask(message: string): Promise<void> {
    if (!message.trim()) return;
    if (this.turn) {
      void vscode.window.showWarningMessage("Aiex is still answering: wait, or press Stop.");
      return;
    }
    const client = this.running();
    if (!client) return;
    // The file (and the selection, if any) the question is about; a closed one is dropped.
    let uri: string | undefined;
    let range;
    let where = "";
    const editor = this.source;
    if (editor && !editor.document.isClosed) {
      const c2p = client.code2ProtocolConverter;
      uri = c2p.asUri(editor.document.uri);
      if (!editor.selection.isEmpty) range = c2p.asRange(editor.selection);
      where = contextLabel(vscode.workspace.asRelativePath(editor.document.uri), range);
    }
    this.tokens += 1;
    const token = `vscode-chat-${this.tokens}`;
    const cancel = new vscode.CancellationTokenSource();
    const turn = { token, cancel, text: "" };
    this.turn = turn;
    this.proposals = [];
    this.entries.push({ role: "user", text: message, where });
    void this.post({ type: "turn", text: message, where });
    try {
      const raw: unknown = await client.sendRequest("aiex/chat", chatParams(message, this.sessionId, uri, range, token), cancel.token);
      if (this.turn !== turn) return; // stopped, or a new session
      const result = readChatResult(raw);
      if (result.sessionId !== undefined) this.sessionId = result.sessionId;
      this.proposals = result.proposals;
      this.entries.push({ role: "assistant", text: result.text });
      for (const p of result.proposals) this.entries.push({ role: "note", text: `Proposed edit ${p.proposal}: ${p.label}` });
      void this.post({ type: "answer", text: result.text, proposals: result.proposals, sessionId: this.sessionId });
    } catch (err) {
      if (this.turn !== turn) return;
      const text = `${turn.text ? "\n\n" : ""}(failed: ${err instanceof Error ? err.message : String(err)})`;
      this.entries.push({ role: "assistant", text: turn.text + text });
      void this.post({ type: "failed", text });
      void vscode.window.showErrorMessage(`Aiex: chat failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      if (this.turn === turn) this.turn = undefined;
      cancel.dispose();
    }
  }

  /** Stop: cancels the turn in progress (the language client sends `$/cancelRequest`). */
  stop(show: boolean): void {
    const turn = this.turn;
    if (!turn) return;
    this.turn = undefined;
    turn.cancel.cancel();
    this.entries.push({ role: "assistant", text: turn.text + "\n\n(stopped)" });
    if (show) void this.post({ type: "failed", text: "\n\n(stopped)" });
  }

  /** New session: the next question starts a new conversation. */
  newSession(): void {
    this.stop(false);
    this.sessionId = undefined;
    this.proposals = [];
    this.entries = [];
    void this.post({ type: "clear" });
  }

  /** Apply: the server checkpoints the files and sends the edit as `workspace/applyEdit`. */
  async apply(proposal: number): Promise<void> {
    const p = this.proposals.find((x) => x.proposal === proposal);
    if (!p || this.sessionId === undefined) {
      this.note(`Edit ${proposal} is not in the last answer.`);
      return;
    }
    const client = this.running();
    if (!client) return;
    try {
      const raw = await client.sendRequest<{ applied?: boolean; checkpoint?: number | null } | null>(
        "aiex/applyChatEdit", applyParams(this.sessionId, proposal));
      this.proposals = this.proposals.filter((x) => x !== p);
      const what = raw?.applied
        ? `applied${typeof raw.checkpoint === "number" ? ` (checkpoint ${raw.checkpoint}; "Undo last AI edit" restores)` : ""}`
        : "not applied";
      this.note(`Edit ${proposal} ${what}`);
    } catch (err) {
      this.note(`Edit ${proposal} failed: ${err instanceof Error ? err.message : String(err)}`);
      void vscode.window.showErrorMessage(`Aiex: applying the edit failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Undo last AI edit: `aiex.undoLastAiEdit` restores the files from before it. */
  async undo(): Promise<void> {
    const client = this.running();
    if (!client) return;
    try {
      const answer: unknown = await client.sendRequest(ExecuteCommandRequest.type, { command: "aiex.undoLastAiEdit", arguments: [] });
      const raw = answer as { files?: unknown } | null;
      const files = Array.isArray(raw?.files) ? raw.files.map(String).join(", ") : "";
      this.note(`Restored ${files || "the files"} from before the last AI edit`);
    } catch (err) {
      this.note(`Undo failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
