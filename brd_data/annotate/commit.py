"""Committing annotation parts: short transactions while the run goes on, so a kill loses little.

Each closed Parquet part (see writer.py) is loaded in one transaction: its annotations, the
quarantine rows of its bad outputs and the run's counters. The part is deleted after the commit;
loading it twice adds nothing (the key is (text_hash, behaviour, teacher_fingerprint,
prompt_hash), kept unique by sql/queries/annotate/load_annotations.sql), so a crash between the
commit and the delete is harmless. A `failed` row (the server never answered) is replaced when a
later run gets an answer; answers are never overwritten.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..contracts.runs import StageRun
from ..contracts.scaleout import CommitStep, Stage
from ..store import Store, query
from ..store.runs import pid_alive
from ..store.sqlfiles import run_sql
from .writer import PART_SUFFIX

STATUSES = ("ok", "unparsed", "truncated", "failed")


def parts_dir(store: Store, run_id: str) -> Path:
    return store.staging_dir / run_id / "annotations"


def closed_parts(folder: Path) -> list[Path]:
    """Parts whose writer has closed them (open ones end in .parquet.part)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*" + PART_SUFFIX) if p.is_file())


@dataclass
class CommitCounts:
    parts: int = 0
    rows: int = 0
    added: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    completion_tokens: int = 0

    def add(self, other: CommitCounts) -> None:
        self.parts += other.parts
        self.rows += other.rows
        self.added += other.added
        self.completion_tokens += other.completion_tokens
        for k, v in other.by_status.items():
            self.by_status[k] = self.by_status.get(k, 0) + v

    def as_run_counts(self) -> dict[str, int]:
        return {
            "annotations_added": self.added,
            "completion_tokens": self.completion_tokens,
            **{s: self.by_status.get(s, 0) for s in STATUSES},
        }


def commit_parts(store: Store, run_id: str, parts: list[Path], counts: CommitCounts | None = None) -> CommitCounts:
    """Load `parts` in one transaction and delete them. Needs the writer lock."""
    got = CommitCounts(parts=len(parts))
    if not parts:
        return got
    files = [str(p) for p in parts]
    total = counts or CommitCounts()
    with store.transaction() as con:
        for status, n, tokens in con.execute(query("annotate/part_counts"), {"files": files}).fetchall():
            got.by_status[status] = n
            got.rows += n
            got.completion_tokens += int(tokens or 0)
        before = store.count_rows(con, "annotations")
        run_sql(con, query("annotate/load_annotations"), {"files": files}).fetchall()
        con.execute(query("annotate/load_quarantine"), {"files": files})
        got.added = store.count_rows(con, "annotations") - before
        total.add(got)
        con.execute(
            query("annotate/set_run_counts"),
            {"run_id": run_id, "counts": json.dumps(total.as_run_counts(), sort_keys=True)},
        )
    for p in parts:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    return got


class PartCommitter:
    """Commits closed parts every `interval_s` seconds from a thread of the process that holds the
    writer lock (local runs); the pipeline keeps running in the main thread."""

    def __init__(self, store: Store, run_id: str, interval_s: float = 5.0):
        self.store = store
        self.run_id = run_id
        self.interval_s = interval_s
        self.counts = CommitCounts()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="brd-annotate-commit", daemon=True)

    def __enter__(self) -> PartCommitter:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.commit_now()
            except BaseException as exc:
                self._error = exc
                return

    def commit_now(self) -> CommitCounts:
        """Commit whatever is closed now (also the final commit after the pipeline ends)."""
        if self._error is not None:
            raise self._error
        with self._lock:
            return commit_parts(self.store, self.run_id, closed_parts(parts_dir(self.store, self.run_id)), self.counts)


def recover_interrupted(store: Store) -> list[tuple[str, int]]:
    """Commit the closed parts that interrupted annotate runs left in staging. Returns (run_id, rows
    added) per run. Needs the writer lock, whose holder has closed the local runs of dead processes
    as interrupted already (`Store.writer`); a Ray run, which its own brd process drives after
    handing it off, is closed here once that process is gone."""
    if not store.staging_dir.is_dir():
        return []
    with store.reader() as con:
        rows = con.execute(query("annotate/unfinished_runs")).fetchall()
    recovered = []
    for run_id, status, kind, pid, host in rows:
        stage = store.staging_dir / run_id
        ray_driver_alive = kind == "ray" and status == "running" and (host != socket.gethostname() or pid_alive(pid))
        if not stage.is_dir() or ray_driver_alive:
            continue
        with store.reader() as con:
            prev = run_sql(con, query("annotate/run_counts"), {"run_id": run_id}).fetchall()
        counts = CommitCounts()
        if prev and prev[0][0]:
            old = json.loads(prev[0][0])
            counts.added = old.get("annotations_added", 0)
            counts.completion_tokens = old.get("completion_tokens", 0)
            counts.by_status = {s: old.get(s, 0) for s in STATUSES}
        got = commit_parts(store, run_id, closed_parts(stage / "annotations"), counts)
        if status == "running":  # a Ray run whose driver is gone
            StageRun.attach(store, run_id, "annotate").finish(
                "interrupted", error=f"interrupted: the Ray driver (process {pid}) ended; what it committed is kept"
            )
        shutil.rmtree(stage, ignore_errors=True)
        recovered.append((run_id, got.added))
    return recovered


class AnnotateCommit(CommitStep):
    """The annotation commit for Slurm and Ray, after the passes (see contracts/scaleout.py).
    Whatever the tasks closed is committed even when one failed; the same command, run again, asks
    for the rest."""

    name = "🗄️ annotation commit"

    def __init__(self, store_root: str, run_id: str, stages: list[Stage]):
        super().__init__(store_root, run_id, "annotate", stages)

    def commit(self, store: Store, error: str | None) -> dict:
        run = StageRun.attach(store, self.run_id, "annotate")
        got = commit_parts(store, self.run_id, closed_parts(parts_dir(store, self.run_id)))
        run.add_counts(**got.as_run_counts())
        run.finish("failed" if error else "succeeded", error=error)
        shutil.rmtree(store.staging_dir / self.run_id, ignore_errors=True)
        return run.counts
