import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  applyParams, chatParams, contextLabel, deltaText, entryHtml, escapeHtml, makeNonce, panelHtml, readChatResult,
} from "../src/chat";

const range = { start: { line: 2, character: 0 }, end: { line: 5, character: 0 } };

describe("chatParams", () => {
  it("has the Neovim client's shape: sessionId, message, textDocument, range, token", () => {
    assert.deepEqual(chatParams("Why?", 7, "file:///w/lib/g.ex", range, "vscode-chat-2"), {
      sessionId: 7, message: "Why?", textDocument: { uri: "file:///w/lib/g.ex" }, range, token: "vscode-chat-2",
    });
  });

  it("leaves out what is not known (first turn, no file, no selection)", () => {
    const params = chatParams("Hello", undefined, undefined, undefined, "vscode-chat-1");
    assert.deepEqual(params, { message: "Hello", token: "vscode-chat-1" });
    assert.ok(!("sessionId" in params) && !("range" in params) && !("textDocument" in params));
  });

  it("keeps session 0", () => {
    assert.equal(chatParams("x", 0, undefined, undefined, "t").sessionId, 0);
  });
});

describe("applyParams", () => {
  it("sends the session and the proposal, and reject only when rejecting", () => {
    assert.deepEqual(applyParams(3, 1), { sessionId: 3, proposal: 1 });
    assert.deepEqual(applyParams(3, 2, true), { sessionId: 3, proposal: 2, reject: true });
  });
});

describe("readChatResult", () => {
  it("reads the session, the text and the proposals", () => {
    const r = readChatResult({ sessionId: 4, turn: 2, text: "Hi", context: [], proposals: [{ proposal: 1, label: "Add farewell/1", edit: {} }] });
    assert.deepEqual(r, { sessionId: 4, text: "Hi", proposals: [{ proposal: 1, label: "Add farewell/1" }] });
  });

  it("drops what is malformed", () => {
    assert.deepEqual(readChatResult(null), { sessionId: undefined, text: "", proposals: [] });
    assert.deepEqual(readChatResult({ sessionId: "4", text: 3, proposals: [{ label: "x" }, 2, { proposal: 2 }] }),
      { sessionId: undefined, text: "", proposals: [{ proposal: 2, label: "" }] });
  });
});

describe("deltaText", () => {
  it("takes the text of the current turn's deltas only", () => {
    assert.equal(deltaText({ token: "vscode-chat-1", text: "Gree" }, "vscode-chat-1"), "Gree");
    assert.equal(deltaText({ token: "vscode-chat-0", text: "old" }, "vscode-chat-1"), undefined);
    assert.equal(deltaText({ token: "vscode-chat-1", text: "x" }, undefined), undefined);
    assert.equal(deltaText({ token: "vscode-chat-1" }, "vscode-chat-1"), undefined);
    assert.equal(deltaText(null, "vscode-chat-1"), undefined);
  });
});

describe("contextLabel", () => {
  it("names the file, and the selected lines (an end at column 0 excludes its line)", () => {
    assert.equal(contextLabel(undefined, undefined), "");
    assert.equal(contextLabel("lib/g.ex", undefined), "lib/g.ex");
    assert.equal(contextLabel("lib/g.ex", range), "lib/g.ex, lines 3-5");
    assert.equal(contextLabel("lib/g.ex", { start: { line: 2, character: 1 }, end: { line: 2, character: 9 } }), "lib/g.ex, line 3");
  });
});

describe("escapeHtml and entryHtml", () => {
  it("escapes every HTML special character", () => {
    assert.equal(escapeHtml(`<img src=x onerror="alert('x')">&amp;`),
      "&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;amp;");
  });

  it("renders model text as text, never as markup", () => {
    const html = entryHtml({ role: "assistant", text: "<script>alert(1)</script> **bold**" });
    assert.ok(!html.includes("<script>"));
    assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt; **bold**"));
    assert.ok(html.includes(`<div class="who">Aiex</div>`));
  });

  it("escapes the question and where it was asked from", () => {
    const html = entryHtml({ role: "user", text: "a < b?", where: `lib/"x".ex` });
    assert.ok(html.includes("a &lt; b?"));
    assert.ok(html.includes("(lib/&quot;x&quot;.ex)"));
  });
});

describe("panelHtml", () => {
  const nonce = makeNonce();
  const html = panelHtml(nonce, [{ role: "assistant", text: "</div><script>evil()</script>" }]);

  it("makes a 32-character alphanumeric nonce", () => {
    assert.match(nonce, /^[A-Za-z0-9]{32}$/);
    assert.notEqual(makeNonce(), makeNonce());
  });

  it("has a Content Security Policy allowing only its own nonced style and script", () => {
    assert.ok(html.includes(`content="default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}';"`));
    const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
    assert.deepEqual(scripts, [`<script nonce="${nonce}">`]);
    assert.deepEqual([...html.matchAll(/<style\b[^>]*>/g)].map((m) => m[0]), [`<style nonce="${nonce}">`]);
  });

  it("loads nothing remote", () => {
    assert.ok(!/https?:\/\//.test(html));
    assert.ok(!/\bsrc=/.test(html));
  });

  it("escapes the transcript it starts with", () => {
    assert.ok(html.includes("&lt;/div&gt;&lt;script&gt;evil()&lt;/script&gt;"));
  });

  it("shows streamed and final text with textContent only", () => {
    assert.ok(!/innerHTML|outerHTML|insertAdjacentHTML|document\.write/.test(html));
  });

  it("has the input, Send, Stop, New session and Undo last AI edit", () => {
    for (const id of ["input", "send", "stop", "new", "undo"]) assert.ok(html.includes(`id="${id}"`), id);
  });
});

describe("the chat glue", () => {
  const root = join(__dirname, "..", "..");
  const extension = readFileSync(join(root, "src", "extension.ts"), "utf8");
  const panel = readFileSync(join(root, "src", "chatPanel.ts"), "utf8");

  it("listens for aiex/chatDelta on the language client", () => {
    assert.match(extension, /client\.onNotification\("aiex\/chatDelta"/);
  });

  it("sends aiex/chat with a cancellation token (Stop sends $/cancelRequest), and aiex/applyChatEdit", () => {
    assert.match(panel, /sendRequest\("aiex\/chat", chatParams\([^)]*\), cancel\.token\)/);
    assert.match(panel, /sendRequest<[^>]*>\(\s*"aiex\/applyChatEdit", applyParams\(/);
    assert.match(panel, /command: "aiex\.undoLastAiEdit"/);
  });
});
