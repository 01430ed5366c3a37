"""Commit: load one run's staged Parquet parts into the store in a single transaction."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..contracts.runs import StageRun
from ..contracts.scaleout import CommitStep, Stage
from ..store import Store, query
from ..store.sqlfiles import run_sql

# sources first: a failed file's rows are filtered out of the tables after it.
TABLES = ("sources", "documents", "sentences", "passages", "quarantine")
# The commit only streams Parquet parts into tables (no sort, no large join), so DuckDB needs little
# memory for it; a small buffer pool keeps the peak RSS of an ingest flat however large the input
# (bench/segment.py: 373 MB at 20 MB of input, 404 MB at 200 MB). $BRD_INGEST_MEMORY_LIMIT overrides.
COMMIT_MEMORY_LIMIT = "128MB"


@dataclass
class CommitResult:
    added: dict[str, int] = field(default_factory=dict)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, error)


def _rank(part: Path) -> int:
    return int(part.name.split("-", 1)[0])  # parts are RANK-PART.parquet (stage_writer.py)


def commit_ingest(
    store: Store, run: StageRun, ranks: set[int] | None = None, failure: str | None = None
) -> CommitResult:
    """Load the run's parts in one transaction. Slurm/Ray: only those of the tasks in `ranks` (the
    ones that finished; a task reads whole files, so a file is in or out), and with `failure` the
    run ends failed with that error; the files of the other tasks are ingested by the next run."""
    stage = store.staging_dir / run.run_id
    parts = {
        t: sorted(str(p) for p in (stage / t).glob("*.parquet") if ranks is None or _rank(p) in ranks) for t in TABLES
    }
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
            partial = [r[0] for r in run_sql(con, query("ingest/partial_sources"), {"sources": staged}).fetchall()]
            if partial:
                run_sql(con, query("ingest/replace_partial"), {"sources": partial}).fetchall()
        for table in TABLES:
            if not parts[table]:
                result.added[table] = 0
                continue
            before = store.count_rows(con, table)
            params = {"files": parts[table], "failed": failed_ids, "run_id": run.run_id}
            run_sql(con, query(f"ingest/load_{table}"), params).fetchall()
            result.added[table] = store.count_rows(con, table) - before
        run.add_counts(**{f"{t}_added": n for t, n in result.added.items()}, files_failed=len(result.failed))
        error = None
        if result.failed:
            error = f"{len(result.failed)} input file(s) failed and were rolled back (see quarantine)"
        if failure:
            run.finish("failed", error=failure, con=con)
        else:
            run.finish("succeeded", error=error, con=con)
    shutil.rmtree(stage, ignore_errors=True)
    return result


class StoreCommit(CommitStep):
    """The ingest commit for Slurm and Ray, after the tasks (see scaleout.py)."""

    name = "🗄️ store commit"

    def __init__(self, store_root: str, run_id: str, stages: list[Stage], command: str = "ingest"):
        super().__init__(store_root, run_id, command, stages)

    def commit(self, store: Store, error: str | None) -> dict:
        (stage,) = self.stages
        done = None if error is None else set(range(stage.tasks)) - set(stage.unfinished())
        run = StageRun.attach(store, self.run_id, self.command)
        result = commit_ingest(store, run, ranks=done, failure=error)
        return {**run.counts, "files_failed": len(result.failed)}
