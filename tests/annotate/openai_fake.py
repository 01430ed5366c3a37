"""A real HTTP server speaking the OpenAI API (completions, chat completions, models), with
scripted answers, standing in for the teacher in tests.

What it answers depends on markers in the input sentence:
    (nothing)            a well-formed NER or QRA answer, depending on the prompt
    [malformed]          prose no parser can read
    [malformed-greedy]   malformed at temperature 0, well-formed when sampled
    [truncated]          text cut by max_tokens (finish_reason "length")
    [empty]              an empty answer
    [http500:N]          HTTP 500 for the first N requests about this sentence (per prompt kind)
    [http400]            HTTP 400 (as vLLM answers a prompt longer than the context)
    [slow:S]             waits S seconds before answering
    [answer:X]           a task prompt (one ending in "Answer:") answered " X"; without it " Yes",
                         or " positive" when the prompt asks for a sentiment

Used in-process (`FakeOpenAI(...).start()`), or as a script that datatrove's CustomServer starts
(`python openai_fake.py --port N --model M [--die-after K --state-dir D] [other flags ignored]`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_INPUT = re.compile(r"(?:Enter a sentence:|The sentence:)\s*(?P<s>[^\n]*)\s*(?:Output:)?\s*$")


class FakeOpenAI:
    def __init__(
        self,
        model: str = "fake-teacher",
        port: int = 0,
        delay: float = 0.0,
        die_after: int | None = None,
        api_key: str | None = None,
        root: str | None = None,
        max_model_len: int = 2048,
    ):
        self.model = model
        self.delay = delay
        self.die_after = die_after
        # with api_key, every route answers 401 unless the request carries `Authorization: Bearer KEY`,
        # `Authorization: Basic base64(user:KEY)` (credentials in the URL) or `?token=KEY`, as vLLM
        # started with --api-key (or a proxy in front of it) does
        self.api_key = api_key
        self.auth_seen: list[str] = []  # how each request authenticated: bearer, basic, query, none
        self.root = root or f"/models/{model}"  # what vLLM reports as the model it loaded
        self.max_model_len = max_model_len
        self.requests: list[dict] = []
        self.counts: dict[tuple[str, str], int] = {}  # requests per (sentence, prompt kind)
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeOpenAI:
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- answers --------------------------------------------------------------------------------
    def answer(self, body: dict, chat: bool) -> tuple[int, dict]:
        prompt = body["messages"][-1]["content"] if chat else body.get("prompt", "")
        if body.get("model") != self.model:
            return 404, {"error": {"message": f"The model `{body.get('model')}` does not exist."}}
        m = _INPUT.search(prompt.rstrip())
        sentence = m["s"].strip() if m else prompt.strip().splitlines()[-1]
        kind = (
            "ner"
            if "Enter a sentence" in prompt
            else "task"
            if prompt.rstrip().endswith("Answer:") and "The sentence:" not in prompt
            else "qra"
        )
        with self.lock:
            self.requests.append({**body, "_sentence": sentence, "_chat": chat, "_at": time.time()})
            n = self.counts[(sentence, kind)] = self.counts.get((sentence, kind), 0) + 1
            served = len(self.requests)
        if self.die_after is not None and served > self.die_after:
            os._exit(3)  # a crashed server: no answer, connection dropped
        if self.delay:
            time.sleep(self.delay)
        if s := re.search(r"\[slow:([\d.]+)\]", sentence):
            time.sleep(float(s[1]))
        if e := re.search(r"\[http500:(\d+)\]", sentence):
            if n <= int(e[1]):
                return 500, {"error": {"message": "scripted internal error"}}
        if "[http400]" in sentence:
            return 400, {"error": {"message": "This model's maximum context length is 2048 tokens."}}
        max_tokens = int(body.get("max_tokens") or 16)
        finish = "stop"
        ner = kind == "ner"
        word = next(
            (w.strip(".,[]") for w in sentence.split() if w[:1].isupper()), sentence.split()[0] if sentence else "x"
        )
        good = (
            f' In this sentence, "{word}" is a test name entity.'
            if ner
            else f"Question: What does the sentence say? Answer: {sentence}"
        )
        if kind == "task":
            scripted = re.search(r"\[answer:([^\]]+)\]", sentence)
            good = " " + (scripted[1] if scripted else "positive" if "sentiment" in prompt else "Yes")
        text = good
        greedy = float(body.get("temperature") or 0) == 0
        if "[malformed]" in sentence or ("[malformed-greedy]" in sentence and greedy):
            text = "I like turtles and the weather today."
        elif "[truncated]" in sentence:
            text, finish = " ".join(["very"] * max_tokens), "length"
        elif "[empty]" in sentence:
            text = ""
        usage = {
            "prompt_tokens": len(prompt.split()),
            "completion_tokens": len(text.split()),
            "total_tokens": len(prompt.split()) + len(text.split()),
        }
        choice = (
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
            if chat
            else {"index": 0, "text": text, "finish_reason": finish}
        )
        return 200, {
            "id": f"cmpl-{served}",
            "object": "chat.completion" if chat else "text_completion",
            "model": self.model,
            "choices": [choice],
            "usage": usage,
        }

    def authorised(self, headers, path: str) -> bool:
        import base64
        from urllib.parse import parse_qs, urlsplit

        auth = headers.get("Authorization") or ""
        offered = {}  # how -> the key given that way
        if auth.startswith("Bearer "):
            offered["bearer"] = auth[7:]
        elif auth.startswith("Basic "):
            offered["basic"] = base64.b64decode(auth[6:]).decode().partition(":")[2]
        token = parse_qs(urlsplit(path).query).get("token", [None])[0]
        if token is not None:
            offered["query"] = token
        good = [how for how, given in offered.items() if given == self.api_key]
        with self.lock:
            self.auth_seen.append(good[0] if good else "+".join(offered) or "none")
        return self.api_key is None or bool(good)

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def parse_request(self) -> bool:
                ok = super().parse_request()
                if ok:  # the query string (?token=...) is not part of the route
                    self.full_path, self.path = self.path, self.path.split("?", 1)[0]
                    if not fake.authorised(self.headers, self.full_path):
                        self._send(401, {"error": {"message": "Unauthorized"}})
                        return False
                return ok

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    model = {
                        "id": fake.model,
                        "object": "model",
                        "owned_by": "vllm",
                        "root": fake.root,
                        "max_model_len": fake.max_model_len,
                    }
                    self._send(200, {"object": "list", "data": [model]})
                elif self.path == "/_log":
                    with fake.lock:
                        self._send(200, {"requests": fake.requests})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._send(400, {"error": {"message": "invalid JSON"}})
                    return
                if self.path == "/v1/completions":
                    self._send(*fake.answer(body, chat=False))
                elif self.path == "/v1/chat/completions":
                    self._send(*fake.answer(body, chat=True))
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

        return Handler


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--model", default="fake-teacher")
    ap.add_argument("--served-model-name", default=None)
    ap.add_argument("--die-after", type=int, default=None, help="crash after this many requests (first launch only)")
    ap.add_argument("--state-dir", default=None, help="remembers launches, so only the first one crashes")
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--api-key", default=None, help="answer 401 to requests without this key")
    args, _unknown = ap.parse_known_args()  # every vLLM flag brd passes is accepted and ignored
    die_after = args.die_after
    if args.state_dir:
        launches = Path(args.state_dir) / "launches"
        n = int(launches.read_text()) if launches.is_file() else 0
        launches.write_text(str(n + 1))
        if n > 0:
            die_after = None
    fake = FakeOpenAI(
        model=args.served_model_name or args.model,
        port=args.port,
        delay=args.delay,
        die_after=die_after,
        api_key=args.api_key,
    )
    print("Application startup complete", flush=True)
    fake.server.serve_forever()


if __name__ == "__main__":
    main()
