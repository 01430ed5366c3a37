"""Run lineage: every command that writes the store records one `runs` row.

The lifecycle that opens and closes these rows is `brd_data.contracts.runs.StageRun`; this module
is the row itself."""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .sqlfiles import query, run_sql

if TYPE_CHECKING:
    import duckdb

    from .store import Store

STATUSES = ("running", "succeeded", "failed", "interrupted")


def new_run_id(command: str) -> str:
    """Sortable and readable: `ingest-20261129T180501-3f2a9c`."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    slug = "".join(c if c.isalnum() else "-" for c in command.split()[0].lower())[:24]
    return f"{slug}-{stamp}-{secrets.token_hex(3)}"


def pid_alive(pid: int | None) -> bool:
    """Whether a process of this host still runs under `pid` (a zombie counts as gone)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclass
class Run:
    store: Store
    run_id: str
    command: str
    counts: dict[str, Any] = field(default_factory=dict)
    finished: bool = False
    handed_off: bool = False

    def stage_dir(self, table: str):
        """Where this run's workers write Parquet parts for `table` before the commit."""
        path = self.store.staging_dir / self.run_id / table
        path.mkdir(parents=True, exist_ok=True)
        return path

    def add_counts(self, **counts: Any) -> None:
        for k, v in counts.items():
            if isinstance(v, (int, float)) and isinstance(self.counts.get(k), (int, float)):
                self.counts[k] += v
            else:
                self.counts[k] = v

    def _counts_json(self) -> str:
        return json.dumps(self.counts, sort_keys=True, default=str)

    def finish(self, status: str, error: str | None = None, con: duckdb.DuckDBPyConnection | None = None) -> None:
        """Mark the run ended. Pass `con` to make it part of the commit transaction."""
        if status not in STATUSES[1:]:
            raise ValueError(f"a run ends succeeded, failed or interrupted, not {status!r}")
        params = {"status": status, "row_counts": self._counts_json(), "error": error, "run_id": self.run_id}
        if con is not None:
            run_sql(con, query("store/finish_run"), params).fetchall()
        else:
            with self.store.connect() as c:
                run_sql(c, query("store/finish_run"), params).fetchall()
        self.finished = True

    def hand_off(self, lease: str = "cluster") -> None:
        """The run's work was submitted to a cluster: its commit job (`cluster`), or this process
        once it has released the writer lock (`pid`, a Ray driver), ends it."""
        params = {"run_id": self.run_id, "row_counts": self._counts_json(), "lease": lease}
        with self.store.connect() as c:
            run_sql(c, query("store/hand_off_run"), params)
        self.handed_off = True
