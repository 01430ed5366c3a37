"""Commit: load one run's staged Parquet parts into the store in a single transaction."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from ..contracts.runs import StageRun
from ..store import Store, query
from ..store.sqlfiles import run_sql

# sources first: a failed file's rows are filtered out of the tables after it.
TABLES = ("sources", "documents", "sentences", "passages", "quarantine")
# The commit only streams Parquet parts into tables (no sort, no large join), so DuckDB needs little
# memory for it; a small buffer pool keeps the peak RSS of an ingest flat however large the input
# (bench/segment.py: 373 MB at 20 MB of input, 404 MB at 200 MB). $BRD_INGEST_MEMORY_LIMIT overrides.
COMMIT_MEMORY_LIMIT = "128MB"
# A cluster's commit job may start while another command writes the store: it waits for the lock.
COMMIT_LOCK_WAIT_S = 3600.0


@dataclass
class CommitResult:
    added: dict[str, int] = field(default_factory=dict)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, error)
    empty: list[tuple[str, str]] = field(default_factory=list)  # (path, why): read, but no document


def commit_ingest(store: Store, run: StageRun, replace: list[str] = ()) -> CommitResult:
    """Load the run's staged parts in one transaction. `replace`: source ids whose earlier rows are
    removed in the same transaction (`--replace`), if this run read them without an error."""
    stage = store.staging_dir / run.run_id
    parts = {t: sorted(str(p) for p in (stage / t).glob("*.parquet")) for t in TABLES}
    result = CommitResult()
    failed_ids: list[str] = []
    with store.transaction() as con:
        limit = os.environ.get("BRD_INGEST_MEMORY_LIMIT", COMMIT_MEMORY_LIMIT)
        run_sql(con, query("ingest/commit_settings"), {"memory_limit": limit}).fetchall()
        if parts["sources"]:
            rows = run_sql(con, query("ingest/failed_sources"), {"files": parts["sources"]}).fetchall()
            result.failed = [(path, error) for _, path, error in rows]
            failed_ids = [r[0] for r in rows]
            staged = [
                r[0] for r in run_sql(con, query("ingest/staged_sources"), {"files": parts["sources"]}).fetchall()
            ]
            replaced = [sid for sid in staged if sid in set(replace)]
            if replaced:
                run_sql(con, query("ingest/remove_sources"), {"sources": replaced}).fetchall()
            partial = [r[0] for r in run_sql(con, query("ingest/partial_sources"), {"sources": staged}).fetchall()]
            if partial or replaced:
                run_sql(con, query("ingest/replace_partial"), {"sources": partial + replaced}).fetchall()
            if parts["quarantine"]:
                empty = run_sql(
                    con, query("ingest/empty_sources"), {"sources": parts["sources"], "quarantine": parts["quarantine"]}
                ).fetchall()
                result.empty = [(path, _why(n, first)) for path, n, first in empty]
        for table in TABLES:
            if not parts[table]:
                result.added[table] = 0
                continue
            before = store.count_rows(con, table)
            params = {"files": parts[table], "failed": failed_ids, "run_id": run.run_id}
            run_sql(con, query(f"ingest/load_{table}"), params).fetchall()
            result.added[table] = store.count_rows(con, table) - before
        run.add_counts(**{f"{t}_added": n for t, n in result.added.items()}, files_failed=len(result.failed))
        problems = []
        if result.failed:
            problems.append(f"{len(result.failed)} input file(s) failed and were rolled back")
        if result.empty:
            problems.append(f"{len(result.empty)} input file(s) gave no document")
        error = f"{'; '.join(problems)} (see quarantine)" if problems else None
        run.finish("succeeded", error=error, con=con)
    shutil.rmtree(stage, ignore_errors=True)
    return result


def _why(n_quarantined: int, first: str | None) -> str:
    if not n_quarantined:
        return "no documents"
    return f"no documents, {n_quarantined} row(s) quarantined (first: {first})"


class StoreCommit(PipelineStep):
    """The commit as a one-task pipeline, for Slurm and Ray, where it runs after the workers."""

    name = "🗄️ store commit"
    type = "💽 - WRITER"

    def __init__(self, store_root: str, run_id: str, command: str = "ingest", replace: list[str] = ()):
        super().__init__()
        self.store_root = store_root
        self.run_id = run_id
        self.command = command
        self.replace = list(replace)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        store = Store(self.store_root)
        with store.writer(f"{self.command} commit", wait_s=COMMIT_LOCK_WAIT_S):
            commit_ingest(store, StageRun.attach(store, self.run_id, self.command), self.replace)
