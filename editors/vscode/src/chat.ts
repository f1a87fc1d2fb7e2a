// The pure parts of `Aiex: Chat`: the `aiex/chat` params (the same shapes as the Neovim
// client, editors/neovim/lua/aiex/chat.lua), the results read back, and the webview's HTML
// (a Content Security Policy with a nonce, no remote resource, every model text escaped).
// The VS Code glue is chatPanel.ts.

/** An LSP position and range, as sent (0-based, the client's position encoding). */
export interface Position { line: number; character: number }
export interface Range { start: Position; end: Position }

/** `aiex/chat` params: { sessionId?, message, textDocument?, range?, token }. */
export interface ChatParams {
  sessionId?: number;
  message: string;
  textDocument?: { uri: string };
  range?: Range;
  token: string;
}

/** The `aiex/chat` params; absent parts are left out (the server reads them as missing). */
export function chatParams(message: string, sessionId: number | undefined, uri: string | undefined,
  range: Range | undefined, token: string): ChatParams {
  const params: ChatParams = { message, token };
  if (sessionId !== undefined) params.sessionId = sessionId;
  if (uri !== undefined) params.textDocument = { uri };
  if (range !== undefined) params.range = range;
  return params;
}

/** `aiex/applyChatEdit` params. */
export function applyParams(sessionId: number, proposal: number, reject = false): { sessionId: number; proposal: number; reject?: boolean } {
  return reject ? { sessionId, proposal, reject: true } : { sessionId, proposal };
}

/** A proposed edit of an answer. */
export interface Proposal { proposal: number; label: string }

/** The parts of an `aiex/chat` answer the panel uses; anything malformed is dropped. */
export interface ChatResult { sessionId?: number; text: string; proposals: Proposal[] }

export function readChatResult(raw: unknown): ChatResult {
  const r = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  const proposals: Proposal[] = [];
  if (Array.isArray(r.proposals)) {
    for (const p of r.proposals as unknown[]) {
      const o = (p && typeof p === "object" ? p : {}) as Record<string, unknown>;
      if (typeof o.proposal === "number") proposals.push({ proposal: o.proposal, label: typeof o.label === "string" ? o.label : "" });
    }
  }
  return {
    sessionId: typeof r.sessionId === "number" ? r.sessionId : undefined,
    text: typeof r.text === "string" ? r.text : "",
    proposals,
  };
}

/** `aiex/chatDelta` { token, text }: the text when it belongs to the turn with `token`. */
export function deltaText(params: unknown, token: string | undefined): string | undefined {
  if (!token || !params || typeof params !== "object") return undefined;
  const p = params as Record<string, unknown>;
  return p.token === token && typeof p.text === "string" ? p.text : undefined;
}

/** Where the question was asked from, shown above it: "lib/greeter.ex, lines 3-7". */
export function contextLabel(file: string | undefined, range: Range | undefined): string {
  if (!file) return "";
  if (!range) return file;
  // An end at column 0 of a later line does not include that line.
  const last = range.end.character === 0 && range.end.line > range.start.line ? range.end.line : range.end.line + 1;
  const first = range.start.line + 1;
  return first === last ? `${file}, line ${first}` : `${file}, lines ${first}-${last}`;
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** One entry of the conversation as the panel shows it. */
export interface Entry { role: "user" | "assistant" | "note"; text: string; where?: string }

/** An entry as HTML (the transcript when the panel is opened again): text only, escaped. */
export function entryHtml(entry: Entry): string {
  const who = entry.role === "user" ? "You" : entry.role === "assistant" ? "Aiex" : "";
  const where = entry.where ? ` <span class="where">(${escapeHtml(entry.where)})</span>` : "";
  const head = who ? `<div class="who">${who}${where}</div>` : "";
  return `<div class="entry ${entry.role}">${head}<div class="text">${escapeHtml(entry.text)}</div></div>`;
}

/** A nonce for the Content Security Policy: 32 characters from [A-Za-z0-9]. */
export function makeNonce(random: () => number = Math.random): string {
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  let out = "";
  for (let i = 0; i < 32; i++) out += chars[Math.floor(random() * chars.length)];
  return out;
}

/**
 * The webview's page. Nothing is loaded from anywhere (default-src 'none'); the one style and
 * the one script carry the nonce. The script shows model text with textContent only.
 */
export function panelHtml(nonce: string, entries: Entry[], sessionId?: number): string {
  const transcript = entries.map(entryHtml).join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Aiex Chat</title>
<style nonce="${nonce}">
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 0 12px 12px; }
#log { margin-bottom: 8px; }
#session { opacity: 0.7; margin-top: 8px; }
.entry { margin: 10px 0; }
.who { font-weight: bold; margin-bottom: 2px; }
.where { font-weight: normal; opacity: 0.7; }
.text { white-space: pre-wrap; word-wrap: break-word; font-family: var(--vscode-editor-font-family); }
.note .text { opacity: 0.8; font-style: italic; }
.proposal { margin: 4px 0; }
.proposal button { margin-left: 8px; }
#bar { display: flex; gap: 6px; margin-top: 6px; flex-wrap: wrap; }
#input { width: 100%; box-sizing: border-box; min-height: 3em; color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, transparent); }
button { color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: none; padding: 4px 10px; cursor: pointer; }
button:disabled { opacity: 0.5; cursor: default; }
</style>
</head>
<body id="aiex-chat">
<div id="session">${sessionId === undefined ? "" : `Session ${sessionId}`}</div>
<div id="log" aria-live="polite">${transcript}</div>
<textarea id="input" placeholder="Ask Aiex about the current file (Enter sends, Shift+Enter for a new line)"></textarea>
<div id="bar">
<button id="send">Send</button>
<button id="stop" disabled>Stop</button>
<button id="new">New session</button>
<button id="undo">Undo last AI edit</button>
</div>
<script nonce="${nonce}">
(function () {
  const vscode = acquireVsCodeApi();
  const log = document.getElementById("log");
  const input = document.getElementById("input");
  const send = document.getElementById("send");
  const stop = document.getElementById("stop");
  const session = document.getElementById("session");
  let answer = null;
  function entry(role, text, where) {
    const div = document.createElement("div");
    div.className = "entry " + role;
    const who = role === "user" ? "You" : role === "assistant" ? "Aiex" : "";
    if (who) {
      const head = document.createElement("div");
      head.className = "who";
      head.textContent = who;
      if (where) {
        const span = document.createElement("span");
        span.className = "where";
        span.textContent = " (" + where + ")";
        head.appendChild(span);
      }
      div.appendChild(head);
    }
    const body = document.createElement("div");
    body.className = "text";
    body.textContent = text;
    div.appendChild(body);
    log.appendChild(div);
    div.scrollIntoView({ block: "end" });
    return body;
  }
  function busy(on) { send.disabled = on; stop.disabled = !on; }
  function ask() {
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    vscode.postMessage({ type: "ask", text: text });
  }
  send.addEventListener("click", ask);
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); ask(); }
  });
  stop.addEventListener("click", function () { vscode.postMessage({ type: "stop" }); });
  document.getElementById("new").addEventListener("click", function () { vscode.postMessage({ type: "new" }); });
  document.getElementById("undo").addEventListener("click", function () { vscode.postMessage({ type: "undo" }); });
  window.addEventListener("message", function (event) {
    const m = event.data || {};
    if (m.type === "turn") {
      entry("user", String(m.text), m.where ? String(m.where) : "");
      answer = entry("assistant", "");
      answer.dataset.deltas = "0";
      busy(true);
    } else if (m.type === "delta" && answer) {
      answer.textContent += String(m.text);
      answer.dataset.deltas = String(Number(answer.dataset.deltas || 0) + 1);
      answer.scrollIntoView({ block: "end" });
    } else if (m.type === "answer") {
      if (answer) answer.textContent = String(m.text);
      if (typeof m.sessionId === "number") session.textContent = "Session " + m.sessionId;
      answer = null;
      busy(false);
      (m.proposals || []).forEach(function (p) {
        const row = document.createElement("div");
        row.className = "proposal";
        row.textContent = "Proposed edit " + Number(p.proposal) + ": " + String(p.label || "");
        const apply = document.createElement("button");
        apply.textContent = "Apply";
        apply.className = "apply";
        apply.addEventListener("click", function () {
          apply.disabled = true;
          vscode.postMessage({ type: "apply", proposal: Number(p.proposal) });
        });
        row.appendChild(apply);
        log.appendChild(row);
        row.scrollIntoView({ block: "end" });
      });
    } else if (m.type === "failed") {
      if (answer) answer.textContent += String(m.text);
      answer = null;
      busy(false);
    } else if (m.type === "note") {
      entry("note", String(m.text));
    } else if (m.type === "clear") {
      log.textContent = "";
      session.textContent = "";
      answer = null;
      busy(false);
    }
  });
  input.focus();
})();
</script>
</body>
</html>`;
}
