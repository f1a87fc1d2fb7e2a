#!/usr/bin/env python3
"""Tests of the fake provider itself: the answer chosen for each kind of
request, and one streamed round trip per wire format over real HTTP."""
import json
import os
import subprocess
import sys
import unittest
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_provider as fp  # noqa: E402

HOLE_SYSTEM = "You complete code. The user sends a file with one <|HOLE|> marker."


class Routing(unittest.TestCase):
    def test_fill_in_the_middle_gets_a_completion_whatever_the_file_says(self):
        chat = {"messages": [{"role": "system", "content": HOLE_SYSTEM},
                             {"role": "user", "content": "@doc \"x\"\n@spec f() :: :ok\n# refactor, explain\n<|HOLE|>"}]}
        self.assertEqual(fp.answer_for(chat), fp.COMPLETION)
        self.assertEqual(fp.answer_for({"prompt": "def a", "suffix": "end"}), fp.COMPLETION)
        self.assertEqual(fp.answer_for({"prompt": "<fim_prefix>def a<fim_suffix>end<fim_middle>"}), fp.COMPLETION)

    def test_actions_are_told_apart_by_their_instructions(self):
        def ask(system):
            return fp.answer_for({"messages": [{"role": "system", "content": system},
                                               {"role": "user", "content": "defp format_name(name), do: name"}]})
        self.assertEqual(ask("Write the @doc and @spec of this function."), fp.DOCS)
        self.assertEqual(ask("Generate ExUnit tests for this function."), fp.TESTS)
        self.assertEqual(ask("Refactor this function."), fp.REFACTOR)
        self.assertEqual(ask("Explain what this function does."), fp.EXPLANATION)
        self.assertEqual(fp.answer_for({"system": "Explain this.", "messages": [{"role": "user", "content": "x"}]}),
                         fp.EXPLANATION)

    def test_a_chat_gets_an_answer_and_a_farewell_question_a_whole_file_edit(self):
        system = ("You are Aiex, an assistant for Elixir developers, answering questions about the user's code. "
                  "Be brief and precise.")
        def ask(question, context="The current file, lib/greeter.ex:\n```elixir\ndefmodule Greeter do\nend\n```"):
            return fp.answer_for({"messages": [{"role": "system", "content": system},
                                               {"role": "user", "content": context + "\n\n" + question}]})
        self.assertEqual(ask("What does this module do?"), fp.CHAT)
        self.assertEqual(ask("Add a farewell function"), fp.CHAT_EDIT)
        # The file's own words do not make an edit of a plain question.
        self.assertEqual(ask("What is this?", context="# farewell\n\ndef farewell"), fp.CHAT)
        self.assertIn("```elixir path=lib/greeter.ex\ndefmodule Greeter do", fp.CHAT_EDIT)

    def test_only_the_stop_checks_question_is_answered_after_a_pause(self):
        system = "You are Aiex, an assistant for Elixir developers, answering questions about the user's code."
        def body(question):
            return {"messages": [{"role": "system", "content": system},
                                 {"role": "user", "content": "The current file:\n\n" + question}]}
        self.assertTrue(fp.is_slow(body("Tell me more")))
        self.assertFalse(fp.is_slow(body("What does this module do?")))
        self.assertFalse(fp.is_slow({"prompt": "Tell me more", "suffix": ""}))
        self.assertTrue(fp.CHAT_EDIT.rstrip().endswith("end\n```"))


class OverHttp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen([sys.executable, fp.__file__, "--lifetime", "60"], stdout=subprocess.PIPE, text=True)
        cls.base = f"http://127.0.0.1:{cls.proc.stdout.readline().strip()}"

    @classmethod
    def tearDownClass(cls):
        cls.proc.kill()
        cls.proc.wait()

    def post(self, path, body):
        req = urllib.request.Request(self.base + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.headers.get("Content-Type"), resp.read().decode()

    def test_openai_chat_stream(self):
        ctype, body = self.post("/v1/chat/completions", {"stream": True, "messages": [{"role": "user", "content": "<|HOLE|>"}]})
        self.assertEqual(ctype, "text/event-stream")
        events = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]
        text = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
        self.assertEqual(text, fp.COMPLETION)
        self.assertTrue(body.rstrip().endswith("data: [DONE]"))

    def test_ollama_generate_stream(self):
        _, body = self.post("/api/generate", {"stream": True, "prompt": "def a", "suffix": "end"})
        frames = [json.loads(line) for line in body.splitlines()]
        self.assertEqual("".join(f["response"] for f in frames), fp.COMPLETION)
        self.assertTrue(frames[-1]["done"])

    def test_anthropic_messages_stream(self):
        _, body = self.post("/v1/messages", {"stream": True, "system": "Explain this.", "messages": [{"role": "user", "content": "x"}]})
        deltas = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
        text = "".join(d["delta"]["text"] for d in deltas if d["type"] == "content_block_delta")
        self.assertEqual(text, fp.EXPLANATION)


    def test_openai_chat_stream_of_a_chat_answer_comes_in_pieces(self):
        system = "You are Aiex, an assistant for Elixir developers, answering questions about the user's code."
        _, body = self.post("/v1/chat/completions", {"stream": True, "messages": [
            {"role": "system", "content": system}, {"role": "user", "content": "What does Greeter do?"}]})
        events = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]
        pieces = [e["choices"][0]["delta"].get("content", "") for e in events]
        self.assertGreater(len([p for p in pieces if p]), 1)
        self.assertEqual("".join(pieces), fp.CHAT)


if __name__ == "__main__":
    unittest.main()
