"""Faults give one line and leave the store intact: a full disk (a real tmpfs with a size limit),
a read-only file system (the same tmpfs remounted read-only), a checksum-corrupt store file; a
failed run removes its staging files. Real `brd` processes on real DuckDB files."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from brd_data.store import Store
from tests.conftest import REPO, run_brd

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau".split()


def corpus(path: Path, docs: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(docs):
            sentences = (" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "." for _ in range(5))
            f.write(" ".join(sentences) + "\n\n")
    return path


def one_line(proc, needle: str) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # progress lines ("annotate: N requests through ...") may come first; the error is one line
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert needle.lower() in lines[0].lower(), lines[0]
    return lines[0]


def rows(store: Path, sql: str) -> list[tuple]:
    with Store(store).reader() as con:
        return con.execute(sql).fetchall()


def content(store: Path) -> list[tuple]:
    """What a store holds, independent of run ids: every sentence and passage key with its text."""
    return rows(store, "select sentence_id, text_hash, text from sentences order by 1") + rows(
        store, "select passage_id, sentence_ids::varchar, n_sentences from passages order by 1"
    )


class Disk:
    """A real small file system: a tmpfs mounted with a size limit."""

    def __init__(self, path: Path, size: str):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {proc.stderr.decode().strip()}")

    def fill(self, leave: int) -> None:
        """Fill the disk up to `leave` free bytes."""
        filler = self.path / "filler"
        filler.unlink(missing_ok=True)
        free = shutil.disk_usage(self.path).free
        with open(filler, "wb") as f:
            f.truncate(0)
            remaining = max(free - leave, 0)
            block = b"\0" * (1 << 20)
            while remaining > 0:
                f.write(block[: min(len(block), remaining)])
                remaining -= min(len(block), remaining)

    def free(self) -> None:
        (self.path / "filler").unlink(missing_ok=True)

    def read_only(self, on: bool = True) -> None:
        subprocess.run(["mount", "-o", f"remount,{'ro' if on else 'rw'}", str(self.path)], check=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)


@pytest.fixture
def disk(tmp_path):
    d = Disk(tmp_path / "disk", "48m")
    yield d
    d.unmount()


def test_a_full_disk_during_ingest_is_one_line_and_the_rerun_completes(disk, tmp_path):
    store = disk.path / "store"
    big = corpus(tmp_path / "big.txt", 3000)
    run_brd("ingest", "--store", store)
    before = content(store)
    disk.fill(leave=600_000)
    out = run_brd("ingest", big, "--lang", "en", "--store", store, check=False)
    one_line(out, "no space left on device")
    # intact: what was committed reads back, nothing of the failed run is there, no staging is left
    assert content(store) == before
    assert not [p for p in (store / "staging").iterdir()]
    disk.free()
    run_brd("ingest", big, "--lang", "en", "--store", store)
    clean = tmp_path / "clean"
    run_brd("ingest", "--store", clean)
    run_brd("ingest", big, "--lang", "en", "--store", clean)
    assert content(store) == content(clean)
    assert rows(store, "select count(*) from runs where status = 'running'") == [(0,)]
    assert [s for (s,) in rows(store, "select status from runs order by started_at")][-1] == "succeeded"


def test_a_full_disk_under_a_mixture_or_a_query_result(disk, tmp_path):
    store = tmp_path / "store"
    run_brd("ingest", "--store", store)
    spec = tmp_path / "ori.yaml"
    spec.write_text("name: ori\nsources: [d_ori]\nshard_rows: 50\n")
    disk.fill(leave=40_000)
    before = content(store)
    out = run_brd("mix", "build", spec, "--store", store, "--out", disk.path / "ori", "-q", check=False)
    one_line(out, "no space left on device")
    assert sorted(p.name for p in disk.path.iterdir()) == ["filler"]  # no half-written mixture, no staging
    query = "select s.*, p.* from sentences as s, passages as p limit 200000"
    out = run_brd("sql", "--store", store, "-f", "csv", "--out", disk.path / "x.csv", query, check=False)
    one_line(out, "No space left on device")
    assert sorted(p.name for p in disk.path.iterdir()) == ["filler"]  # a result cut short is not left behind
    assert content(store) == before
    assert rows(store, "select status from runs where command = 'mix build'") == [("failed",)]
    disk.free()
    run_brd("mix", "build", spec, "--store", store, "--out", disk.path / "ori", "-q")
    assert (disk.path / "ori" / "manifest.json").is_file()


def test_a_read_only_file_system(disk, tmp_path):
    store = disk.path / "store"
    run_brd("ingest", "--store", store)
    before = content(store)
    spec = tmp_path / "ori.yaml"
    spec.write_text("name: ori\nsources: [d_ori]\n")
    disk.read_only()
    try:
        one_line(
            run_brd("ingest", corpus(tmp_path / "c.txt", 5), "--lang", "en", "--store", store, check=False),
            "Read-only file system",
        )
        other = tmp_path / "store2"
        run_brd("ingest", "--store", other, "--limit-docs", "3")
        one_line(
            run_brd("mix", "build", spec, "--store", other, "--out", disk.path / "m", "-q", check=False),
            "Read-only file system",
        )
        one_line(
            run_brd("sql", "--store", other, "-f", "csv", "-o", disk.path / "x.csv", "select 1", check=False),
            "Read-only file system",
        )
        # reading a store on a read-only file system works
        assert "418" in run_brd("sql", "--store", store, "select count(*) from sentences").stdout
        run_brd("status", "--store", store)
    finally:
        disk.read_only(False)
    assert content(store) == before


def test_a_checksum_corrupt_store_file_is_one_line_and_never_written(tmp_path):
    store = tmp_path / "store"
    run_brd("ingest", "--store", store)
    db = store / "brd.duckdb"
    data = bytearray(db.read_bytes())
    block, first = 262_144, 12_288  # DuckDB: three 4 KiB headers, then 256 KiB blocks, each checksummed
    for off in range(first, len(data) - block + 1, block):
        for i in range(off + 100, off + 164):
            data[i] ^= 0xFF
    db.write_bytes(bytes(data))
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    for args in (
        ["status", "--store", store],
        ["sql", "--store", store, "select count(*) from sentences"],
        ["ingest", corpus(tmp_path / "c.txt", 5), "--lang", "en", "--store", store],
        ["mix", "build", "brd", "--store", store, "--out", tmp_path / "m", "-q"],
    ):
        one_line(run_brd(*args, check=False), "is damaged (Corrupt database file")
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest
    assert not (tmp_path / "m").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_failed_annotate_run_removes_its_staging(tmp_path):
    from tests.annotate.conftest import FAKE_SCRIPT, annotate_args, make_store

    store = make_store(tmp_path / "s", [f"Sentence number {i} is here." for i in range(40)])
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, str(FAKE_SCRIPT), "--port", str(port), "--die-after", "10", "--delay", "0.05"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.0)
        args = annotate_args(store, f"http://127.0.0.1:{port}", "--dead-after", "2", "--chunk-size", "2")
        out = run_brd(*args, check=False)
        one_line(out, "the teacher server failed")
    finally:
        server.kill()
        server.wait()
    assert rows(store, "select status from runs where command = 'annotate'") == [("failed",)]
    assert os.listdir(store / "staging") == []
    assert rows(store, "select count(*) from annotations")[0][0] >= 1  # what closed was committed
