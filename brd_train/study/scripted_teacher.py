"""A scripted teacher for `brd study --rehearse`: a real HTTP server speaking the OpenAI API
(/v1/models, /v1/completions, /v1/chat/completions) in a thread of this process, answering every
prompt at once with a well-formed, deterministic answer computed from the input:

- NER (the input follows "Enter a sentence:"): its capitalised words as name entities;
- QRA (the input follows "The sentence:"): a question about its first long word, answered by the
  sentence itself;
- a task prompt (ends with "Answer:"): the first BIG-bench `choice:` when the prompt lists them,
  "positive" when it asks for a sentiment, else "Yes".

It stands in for Vicuna-13B so the rehearsal runs the paper's annotation stages (the same prompts
and options) in seconds on a CPU. The answers mean nothing: the rehearsal shows the machinery."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "scripted-teacher"
_MARKERS = ("Enter a sentence:", "The sentence:")


def _input(prompt: str) -> tuple[str, str]:
    """(kind, input sentence) of a prompt: the text after its last marker, to the end of that line."""
    at = {m: prompt.rfind(m) for m in _MARKERS}
    marker = max(at, key=at.get)
    if at[marker] < 0:
        return "task", prompt
    line = (
        prompt[at[marker] + len(marker) :].strip().splitlines()[0] if prompt[at[marker] + len(marker) :].strip() else ""
    )
    line = line.removesuffix("ASSISTANT:").strip()
    return ("ner" if marker == "Enter a sentence:" else "qra"), line


def answer(prompt: str) -> str:
    kind, sentence = _input(prompt)
    if kind == "task" or prompt.rstrip().endswith("Answer:") and "The sentence:" not in prompt:
        choices = re.findall(r"\n\s*choice:\s*(.+)", prompt)
        if choices:
            return " " + choices[0].strip()
        return " positive" if "sentiment" in prompt else " Yes"
    words = [w.strip(".,;:!?\"'()") for w in sentence.split()]
    if kind == "ner":
        names = [w for w in words if w[:1].isupper()][:2] or words[:1] or ["it"]
        return " In this sentence, " + ", and ".join(f'"{w}" is a name entity' for w in names) + "."
    topic = next((w for w in words if len(w) > 4), words[0] if words else "it")
    return f"Question: What does the sentence say about {topic}? Answer: {sentence}"


class ScriptedTeacher:
    def __init__(self, port: int = 0):
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.thread: threading.Thread | None = None
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> ScriptedTeacher:
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        teacher = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                chat = self.path == "/v1/chat/completions"
                if self.path not in ("/v1/completions", "/v1/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                prompt = body["messages"][-1]["content"] if chat else body.get("prompt", "")
                text = answer(prompt)
                teacher.requests += 1
                usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split())}
                usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
                choice = (
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                    if chat
                    else {"index": 0, "text": text, "finish_reason": "stop"}
                )
                self._send(200, {"id": f"cmpl-{teacher.requests}", "model": MODEL, "choices": [choice], "usage": usage})

        return Handler
