#!/usr/bin/env python3
"""A fake model provider for the editor tests: an HTTP server on 127.0.0.1
that answers the OpenAI-compatible (chat and completions), Ollama and
Anthropic wire formats, streaming or not, with canned Elixir text.

    python3 fake_provider.py [--lifetime SECONDS] [--log FILE]

Prints the port on its first line of stdout, then serves until the lifetime
ends (default 600 s), so it never outlives a test run. Configure aiex with
    {"providers": {"fake": {"kind": "openai-compatible",
                            "base_url": "http://127.0.0.1:PORT/v1", "model": "fake"}}}
The answer depends on what the prompt asks for (tests, docs, a refactor, an
explanation, a chat answer or a chat-proposed edit, else a completion), so each editor check gets Elixir that parses.
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMPLETION = 'def farewell(name), do: "Goodbye, " <> name'
DOCS = '@doc "Trims and capitalizes a name."\n@spec format_name(String.t()) :: String.t()'
TESTS = (
    "defmodule GreeterTest do\n  use ExUnit.Case\n\n  describe \"greet/1\" do\n"
    "    test \"greets by name\" do\n      assert Greeter.greet(\"ada\") == \"Hello, Ada!\"\n"
    "    end\n  end\nend"
)
REFACTOR = (
    "defp format_name(name) do\n  name\n  |> String.trim()\n  |> String.capitalize()\nend"
)
EXPLANATION = "`greet/1` returns a greeting for a trimmed, capitalized name. It has no side effects."
# Chat (aiex/chat): an answer, or, when the question asks for a farewell, the whole of
# lib/greeter.ex again with farewell/1 added, in the fenced block the server turns into an edit.
CHAT = "Greeter greets people by name: `greet/1` trims and capitalizes the name, then says hello."
CHAT_EDIT = (
    "Here is `farewell/1`:\n\n```elixir path=lib/greeter.ex\n"
    "defmodule Greeter do\n  @moduledoc \"\"\"\n  Greets people by name.\n  \"\"\"\n\n"
    "  @doc \"Returns a greeting for `name`.\"\n  @spec greet(String.t()) :: String.t()\n"
    "  def greet(name), do: \"Hello, \" <> format_name(name) <> \"!\"\n\n"
    "  @doc \"Says goodbye to `name`.\"\n  @spec farewell(String.t()) :: String.t()\n"
    "  def farewell(name), do: \"Goodbye, \" <> format_name(name) <> \"!\"\n\n"
    "  defp format_name(name), do: name |> String.trim() |> String.capitalize()\nend\n```\n"
)


# The chat question the editors' Stop checks ask: its answer starts only after this pause, so
# Stop always lands while the turn is in flight (answered at once, a loaded machine let the
# answer win the race). A Stop that fails shows the late answer.
SLOW_QUESTION = "tell me more"
SLOW_ANSWER_DELAY_S = 6.0


def is_slow(body: dict) -> bool:
    """Whether the request is the chat question answered only after a pause."""
    text = (prompt_of(body, system_only=True) or prompt_of(body, system_only=False)).lower()
    if "answering questions about the user's code" not in text:
        return False
    return last_user_message(body).rsplit("\n\n", 1)[-1].strip().lower() == SLOW_QUESTION


FIM_MARKERS = ("<|HOLE|>", "<fim_", "<|fim", "fim▁", "<PRE>", "[SUFFIX]")


def answer_for(body: dict) -> str:
    """Completion for a fill-in-the-middle request (native `suffix`, a FIM
    template, or the hole-filler chat prompt); otherwise the task named by the
    instructions (system prompt), which the file's own text cannot sway."""
    everything = prompt_of(body, system_only=False)
    if "suffix" in body or any(m in everything for m in FIM_MARKERS):
        return COMPLETION
    text = (prompt_of(body, system_only=True) or everything).lower()
    if "answering questions about the user's code" in text:
        # The question comes last, after the context the server attached.
        question = last_user_message(body).rsplit("\n\n", 1)[-1].lower()
        return CHAT_EDIT if "farewell" in question else CHAT
    if "exunit" in text or "generate tests" in text or "test file" in text:
        return TESTS
    if "@doc" in text and "@spec" in text:
        return DOCS
    if "refactor" in text:
        return REFACTOR
    if "explain" in text:
        return EXPLANATION
    return COMPLETION


def last_user_message(body: dict) -> str:
    """The text of the last user message (the chat question), or ''."""
    for m in reversed(body.get("messages", []) or []):
        if m.get("role") == "user":
            content = m.get("content", "")
            if isinstance(content, list):
                content = " ".join(c.get("text", "") for c in content if isinstance(c, dict))
            return content if isinstance(content, str) else ""
    return ""


def prompt_of(body: dict, system_only: bool) -> str:
    """The request's text: the system instructions only, or everything."""
    parts = [body.get("system", "")] if system_only else [body.get("prompt", ""), body.get("suffix", ""), body.get("system", "")]
    for m in body.get("messages", []) or []:
        if system_only and m.get("role") != "system":
            continue
        content = m.get("content", "")
        if isinstance(content, list):
            content = " ".join(c.get("text", "") for c in content if isinstance(c, dict))
        parts.append(content)
    return "\n".join(p for p in parts if isinstance(p, str))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log_file = None

    def log_message(self, fmt, *args):  # quiet; requests go to --log
        pass

    def _send(self, status, content_type, chunks):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        body = "".join(chunks).encode()
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server dropped a request it no longer needs (a stopped chat turn)

    def do_GET(self):
        if self.path.rstrip("/").endswith("/models") or self.path.startswith("/api/tags"):
            self._send(200, "application/json", [json.dumps({"data": [{"id": "fake"}], "models": [{"name": "fake"}]})])
        else:
            self._send(404, "application/json", ['{"error": "not found"}'])

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, "application/json", ['{"error": "bad json"}'])
            return
        text = answer_for(body)
        if is_slow(body):
            time.sleep(SLOW_ANSWER_DELAY_S)
        if Handler.log_file:
            with open(Handler.log_file, "a") as f:
                f.write(json.dumps({"path": self.path, "body": body, "answer": text}) + "\n")
        stream = bool(body.get("stream"))
        path = self.path.split("?")[0]
        if path.endswith("/chat/completions"):
            self._openai(text, stream, chat=True)
        elif path.endswith("/completions") or path.endswith("/fim/completions"):
            self._openai(text, stream, chat=False)
        elif path.endswith("/api/generate") or path.endswith("/api/chat"):
            self._ollama(text, stream, chat=path.endswith("/api/chat"))
        elif path.endswith("/messages"):
            self._anthropic(text, stream)
        else:
            self._send(404, "application/json", [json.dumps({"error": f"fake provider: no route for {path}"})])

    def _openai(self, text, stream, chat):
        usage = {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
        if not stream:
            choice = {"index": 0, "finish_reason": "stop"}
            choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
            obj = {"id": "fake-1", "object": "chat.completion" if chat else "text_completion",
                   "model": "fake", "choices": [choice], "usage": usage}
            self._send(200, "application/json", [json.dumps(obj)])
            return
        events = []
        for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
            delta = {"delta": {"content": piece}} if chat else {"text": piece}
            events.append({"id": "fake-1", "model": "fake", "choices": [dict(index=0, finish_reason=None, **delta)]})
        last = {"delta": {}} if chat else {"text": ""}
        events.append({"id": "fake-1", "model": "fake", "choices": [dict(index=0, finish_reason="stop", **last)], "usage": usage})
        self._send(200, "text/event-stream", [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"])

    def _ollama(self, text, stream, chat):
        def frame(piece, done):
            f = {"model": "fake", "done": done}
            if chat:
                f["message"] = {"role": "assistant", "content": piece}
            else:
                f["response"] = piece
            if done:
                f.update({"done_reason": "stop", "prompt_eval_count": 10, "eval_count": 10})
            return json.dumps(f) + "\n"
        if not stream:
            self._send(200, "application/json", [frame(text, True)])
        else:
            self._send(200, "application/x-ndjson", [frame(text, False), frame("", True)])

    def _anthropic(self, text, stream):
        if not stream:
            obj = {"id": "msg_fake", "type": "message", "role": "assistant", "model": "fake",
                   "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                   "usage": {"input_tokens": 10, "output_tokens": 10}}
            self._send(200, "application/json", [json.dumps(obj)])
            return
        events = [
            ("message_start", {"type": "message_start", "message": {"id": "msg_fake", "type": "message", "role": "assistant",
                                "model": "fake", "content": [], "usage": {"input_tokens": 10, "output_tokens": 0}}}),
            ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 10}}),
            ("message_stop", {"type": "message_stop"}),
        ]
        self._send(200, "text/event-stream", [f"event: {n}\ndata: {json.dumps(d)}\n\n" for n, d in events])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifetime", type=float, default=600.0)
    parser.add_argument("--log")
    args = parser.parse_args()
    Handler.log_file = args.log
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    threading.Timer(args.lifetime, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
