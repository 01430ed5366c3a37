"""Real clusters for the scale-out tests: a one-node Slurm (scripts/slurm-cluster.sh) and a local
Ray head (`ray start --head`), each started here and stopped at the end; the scripted OpenAI
server as teacher; and the rows a local run gives, to compare against."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from brd_data.ingest import sample_corpus
from tests.annotate.openai_fake import FakeOpenAI
from tests.conftest import REPO, run_brd

SLURM_SCRIPT = REPO / "scripts" / "slurm-cluster.sh"
PARTITION = "brd"
ANNOTATE_LIMIT = 40  # unique English sentences per behaviour (80 requests)


# -- the clusters --------------------------------------------------------------------------------
def _slurm_up() -> bool:
    return subprocess.run(["bash", str(SLURM_SCRIPT), "status"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def slurm():
    """A one-node Slurm cluster with partition `brd`. The script installs slurm-wlm and munge when
    missing (CI runs as root on a fresh machine); a cluster that was already up is left up."""
    if os.geteuid() != 0 and shutil.which("slurmctld") is None:
        pytest.skip("Slurm is not installed and installing it needs root")
    was_up = shutil.which("sinfo") is not None and _slurm_up()
    up = subprocess.run(["bash", str(SLURM_SCRIPT), "up"], capture_output=True, text=True, timeout=600)
    assert up.returncode == 0, up.stdout + up.stderr
    yield PARTITION
    if not was_up:
        subprocess.run(["bash", str(SLURM_SCRIPT), "down"], capture_output=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RayHead:
    env: dict[str, str]  # what a brd process needs to use this cluster
    sid: int  # the head's session: its daemons and its workers (these in groups of their own)

    def workers(self, title: str) -> list[int]:
        """Pids of this cluster's Ray workers whose process title is `title`."""
        found = subprocess.run(["pgrep", "-s", str(self.sid), "-f", title], capture_output=True, text=True)
        return [int(p) for p in found.stdout.split()]


@pytest.fixture(scope="session")
def ray_head():
    """`ray start --head --block` in its own process group on free ports; brd reaches it through
    RAY_ADDRESS. Stopped by interrupting that group (never `ray stop`, which stops every Ray here)."""
    ray = Path(sys.executable).with_name("ray")
    if not ray.is_file():
        pytest.fail("ray is not installed: `pip install -e '.[ray]'` (scripts/setup.sh installs it)")
    temp = Path(tempfile.mkdtemp(prefix="brd-ray-", dir="/tmp"))  # short: Ray's socket paths are bounded
    port = _free_port()
    log = temp / "head.log"
    sink = open(log, "w")
    proc = subprocess.Popen(
        [
            str(ray),
            "start",
            "--head",
            "--block",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={temp}",
            f"--ray-client-server-port={_free_port()}",
            f"--dashboard-agent-listen-port={_free_port()}",
        ],
        stdout=sink,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
    )
    deadline = time.monotonic() + 120
    while "Ray runtime started" not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.25)
    if proc.poll() is not None or "Ray runtime started" not in log.read_text():
        os.killpg(proc.pid, signal.SIGKILL)
        sink.close()
        pytest.fail(f"ray start --head did not come up:\n{log.read_text()[-2000:]}")
    yield RayHead({"RAY_ADDRESS": f"127.0.0.1:{port}", "RAY_USAGE_STATS_ENABLED": "0"}, proc.pid)
    os.killpg(proc.pid, signal.SIGINT)  # `ray start --block` then stops its processes at once
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    sink.close()
    shutil.rmtree(temp, ignore_errors=True)


# -- the teacher and the reference rows -----------------------------------------------------------
@pytest.fixture(scope="session")
def teacher():
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


def sample_paths() -> list[str]:
    return [str(p.resolve()) for p in sample_corpus()]


INGEST_ROWS = {
    "sources": "select source_id, size_bytes, format, lang, n_documents, complete from sources",
    "documents": "select doc_id, source_id, source_file, position, line_number, lang, n_sentences from documents",
    "sentences": "select sentence_id, doc_id, position, text_hash, lang, n_chars, split_reason from sentences",
    "passages": "select passage_id, doc_id, position, sentence_ids, n_sentences from passages",
    "quarantine": "select quarantine_id, stage, location, reason from quarantine",
}
ANNOTATION_ROWS = (
    "select text_hash, behaviour, prompt_hash, teacher_fingerprint, raw_text, parsed, status, reason, attempts, "
    "finish_reason from annotations"
)


def rows(store: Path, sql: str) -> list[tuple]:
    from brd_data.store import Store

    with Store(store).reader() as con:
        return sorted(con.execute(sql).fetchall(), key=repr)


def ingest_rows(store: Path) -> dict[str, list[tuple]]:
    return {table: rows(store, sql) for table, sql in INGEST_ROWS.items()}


def annotation_rows(store: Path) -> list[tuple]:
    return rows(store, ANNOTATION_ROWS)


def runs(store: Path) -> list[tuple]:
    from brd_data.store import Store

    with Store(store).reader() as con:
        return con.execute("select run_id, command, status, error from runs order by started_at").fetchall()


def clone(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("logs", "staging", "brd.lock"))
    return dst


@pytest.fixture(scope="session")
def local_ingested(tmp_path_factory) -> Path:
    """The sample corpus ingested by one local task: the rows every executor must give."""
    store = tmp_path_factory.mktemp("local") / "store"
    run_brd("ingest", *sample_paths(), "--store", store)
    return store


@pytest.fixture(scope="session")
def local_annotated(local_ingested, teacher, tmp_path_factory) -> Path:
    from tests.annotate.conftest import annotate_args

    store = clone(local_ingested, tmp_path_factory.mktemp("local-annotated") / "store")
    run_brd(*annotate_args(store, teacher.url, "--limit", str(ANNOTATE_LIMIT), "--lang", "en"))
    return store


def submitted_run(stdout: str) -> str:
    m = re.search(r"submitted run (\S+):", stdout)
    assert m, stdout
    return m.group(1)


def slurm_jobs(store: Path, run_id: str) -> dict:
    return json.loads((store / "logs" / run_id / "jobs.json").read_text())


def wait_until(predicate, timeout: float = 120, what: str = "the condition", every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def lock_is_free(store: Path) -> bool:
    """Nobody (no brd process, no Slurm job, no forked child) holds the store's writer lock."""
    from brd_data.store.lock import WriterLock

    lock = WriterLock(store / "brd.lock", "test probe")
    try:
        lock.acquire()
    except Exception:
        return False
    lock.release()
    return True
