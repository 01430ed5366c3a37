"""`brd teacher check`: a teacher's answers to the paper's worked example, beside the paper's.

The Belmont Estate sentence of Tables 1 and 2 is sent through each chosen prompt (greedy, the
prompt's own stop strings and max_tokens), to the server brd starts for the teacher (vLLM, as
`brd annotate` starts it) or to `--endpoint`. The answers are judged by the prompts' parsers and
printed beside the teacher's responses the paper lists at the bottom of the tables. Nothing is
written: it is a look at a teacher or a prompt before a long run, not a measurement of quality.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..contracts.errors import ConfigError, UserError
from ..contracts.schemas.prompt import Prompt, Reference
from .engine import EngineConfig
from .parsers import judge


class CheckError(UserError):
    """The teacher could not be asked (server did not start, or answered with an error)."""


@dataclass(frozen=True)
class CheckAnswer:
    prompt: Prompt
    paper: str | None  # the paper's teacher's response for this behaviour (None: the paper has none)
    answer: str
    finish_reason: str | None
    status: str  # ok | unparsed | truncated, as annotate would store it
    reason: str | None
    seconds: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(engine: EngineConfig, port: int) -> list[str]:
    """The command datatrove's CustomServer runs for this engine (the same flags, the same script)."""
    flags = engine.server_flags()
    cmd = [sys.executable, flags.pop("server_script"), "--port", str(port)]
    for key, value in flags.items():
        if value is True:
            cmd.append(f"--{key}")
        elif value is False:
            cmd.append(f"--no-{key}")
        else:
            cmd.append(f"--{key}={value}")
    return cmd


@contextlib.contextmanager
def managed_server(engine: EngineConfig, startup_timeout_s: float) -> Iterator[str]:
    """Start the teacher's server, yield its URL once /v1/models answers, stop it afterwards."""
    import httpx

    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="brd-teacher-check-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        server_command(engine, port),
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **engine.server_env()},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if proc.poll() is not None:
                tail = Path(log.name).read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
                raise CheckError(
                    f"the teacher's server exited ({proc.returncode}) before it answered: {tail[0]} (log: {log.name})"
                )
            try:
                if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise CheckError(
                    f"the teacher's server did not answer within {startup_timeout_s:.0f}s (log: {log.name})"
                )
            time.sleep(0.5)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # serve.py stops its whole process group
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        if proc.returncode in (0, -signal.SIGTERM, 128 + signal.SIGTERM):
            Path(log.name).unlink(missing_ok=True)


def ask(url: str, engine: EngineConfig, prompt: Prompt, sentence: str, timeout_s: float) -> tuple[str, str | None]:
    """One greedy request; (text, finish_reason)."""
    import httpx

    body = {"model": engine.model_name, **prompt.payload(sentence, {"temperature": 0.0})}
    route = "/v1/completions" if prompt.mode == "completion" else "/v1/chat/completions"
    headers = {}
    key = os.environ.get(engine.api_key_env) if engine.endpoint else None
    if key:
        headers["Authorization"] = f"Bearer {key}"  # read from the environment, never printed
    root = url.rstrip("/").removesuffix("/v1")
    try:
        r = httpx.post(root + route, json=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise CheckError(f"{root}{route}: {type(exc).__name__}: {exc}") from None
    if r.status_code != 200:
        raise CheckError(f"{root}{route}: HTTP {r.status_code}: {r.text.strip()[:200]}")
    try:
        choice = r.json()["choices"][0]
        text = choice["text"] if prompt.mode == "completion" else choice["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise CheckError(f"{root}{route}: not an OpenAI completion response: {r.text.strip()[:200]}") from None
    return text or "", choice.get("finish_reason")


def check_teacher(
    engine: EngineConfig,
    prompts: list[Prompt],
    reference: Reference,
    *,
    startup_timeout_s: float = 1800.0,
    request_timeout_s: float = 300.0,
) -> list[CheckAnswer]:
    """The teacher's answer to the reference sentence for each prompt."""
    unread = [p.name for p in prompts if p.input != "sentence"]
    if unread:
        raise ConfigError(f"prompt {unread[0]} reads task examples, not sentences; check ner and qra prompts")
    server = contextlib.nullcontext(engine.endpoint) if engine.endpoint else managed_server(engine, startup_timeout_s)
    out = []
    with server as url:
        for prompt in prompts:
            started = time.monotonic()
            text, finish = ask(url, engine, prompt, reference.sentence, request_timeout_s)
            verdict = judge(text, finish, prompt.parser, prompt.max_tokens)
            out.append(
                CheckAnswer(
                    prompt=prompt,
                    paper=reference.responses.get(prompt.behaviour),
                    answer=text.strip(),
                    finish_reason=finish,
                    status=verdict.status,
                    reason=verdict.reason,
                    seconds=time.monotonic() - started,
                )
            )
    return out
