"""Run lineage: every command that writes the store records one `runs` row."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from .store import Store


def new_run_id(command: str) -> str:
    """Sortable and readable: `ingest-20261129T180501-3f2a9c`."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    slug = "".join(c if c.isalnum() else "-" for c in command.split()[0].lower())[:24]
    return f"{slug}-{stamp}-{secrets.token_hex(3)}"


@dataclass
class Run:
    store: Store
    run_id: str
    command: str
    counts: dict[str, Any] = field(default_factory=dict)
    finished: bool = False

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

    def finish(self, status: str, error: str | None = None, con: duckdb.DuckDBPyConnection | None = None) -> None:
        """Mark the run ended. Pass `con` to make it part of the commit transaction."""
        sql = "update runs set status = ?, finished_at = current_timestamp, row_counts = ?, error = ? where run_id = ?"
        params = [status, json.dumps(self.counts, sort_keys=True, default=str), error, self.run_id]
        if con is not None:
            con.execute(sql, params)
        else:
            with self.store.connect() as c:
                c.execute(sql, params)
        self.finished = True
