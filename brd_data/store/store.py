"""The store: a directory holding `brd.duckdb`, the writer lock and Parquet staging areas.

This is the only module that opens DuckDB on a store. Writers hold the lock for the whole command
but keep the database open only while they write, so readers can query between commits. Each
commit is one transaction: readers see a run's rows all at once or not at all.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from .errors import StoreError, StoreLockedError
from .lock import WriterLock
from .migrations import check_compatible, migrate
from .runs import Run, new_run_id, pid_alive
from .sqlfiles import query, run_sql

DEFAULT_STORE = "brd-store"
DB_NAME = "brd.duckdb"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# DuckDB lets one process write, or many read; a reader retries while a writer commits.
_BUSY_MARKERS = ("Could not set lock", "Conflicting lock")


# how DuckDB reports a database file whose bytes changed under it (a block checksum mismatch)
_DAMAGED = ("Corrupt database file", "does not match stored checksum", "not a valid DuckDB database file")


def is_damaged(exc: BaseException) -> bool:
    return any(m in str(exc) for m in _DAMAGED)


def damaged_message(path: Path | str, exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"the store file {path} is damaged ({first}); brd wrote nothing to it: restore it from a backup"


def resolve_store_path(value: str | os.PathLike | None = None) -> Path:
    """--store, else $BRD_STORE, else ./brd-store."""
    return Path(value or os.environ.get("BRD_STORE") or DEFAULT_STORE)


class Store:
    def __init__(self, root: str | os.PathLike | None = None, busy_timeout: float = 60.0):
        self.root = resolve_store_path(root)
        self.db_path = self.root / DB_NAME
        self.lock_path = self.root / "brd.lock"
        self.staging_dir = self.root / "staging"
        self.busy_timeout = busy_timeout
        self._lock: WriterLock | None = None

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # -- opening ---------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.db_path.is_file()

    def require(self) -> Store:
        """This store, or a one-line error when there is none at its path."""
        if not self.exists():
            raise StoreError(f"no store at {self.root} (create one with `brd ingest --store {self.root}`)")
        return self

    @staticmethod
    def _config() -> dict[str, str]:
        # DuckDB caches up to 80% of RAM by default; a bound keeps a long ingest's memory flat
        # (it spills to disk beyond it). $BRD_DUCKDB_MEMORY_LIMIT overrides, e.g. "8GB".
        # Insertion order is not part of any table's contract (views and exports order by keys),
        # and keeping it makes bulk inserts buffer far more.
        return {"memory_limit": os.environ.get("BRD_DUCKDB_MEMORY_LIMIT", "1GB"), "preserve_insertion_order": False}

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.05
        while True:
            try:
                return duckdb.connect(str(self.db_path), read_only=read_only, config=self._config())
            except duckdb.IOException as exc:
                msg = str(exc)
                if not any(m in msg for m in _BUSY_MARKERS) or time.monotonic() > deadline:
                    first = msg.splitlines()[0]
                    raise StoreError(f"cannot open {self.db_path}: {first}") from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
            except duckdb.Error as exc:
                if is_damaged(exc):
                    raise StoreError(damaged_message(self.db_path, exc)) from None
                raise

    @contextlib.contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection; fails clearly on a missing store or a schema mismatch."""
        if self._lock is not None and self._lock.held:
            # The writing process reads through its own read-write connection (DuckDB forbids
            # one process opening the same file in two modes).
            with self.connect() as con:
                yield con
            return
        self.require()
        con = self._open(read_only=True)
        try:
            pending = check_compatible(con, str(self.root))
            if pending:
                raise StoreError(
                    f"store {self.root} needs schema migrations up to "
                    f"{pending[-1].version:03d}_{pending[-1].name}; run `brd migrate --store {self.root}`"
                )
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived read-write connection. Only for the process holding the writer lock."""
        if self._lock is None or not self._lock.held:
            raise StoreError(f"store {self.root}: writing needs the writer lock (use Store.writer())")
        con = self._open(read_only=False)
        try:
            yield con
        finally:
            con.close()

    @property
    def writing(self) -> bool:
        """Whether this Store object holds the writer lock now."""
        return self._lock is not None and self._lock.held

    @contextlib.contextmanager
    def writer(
        self, command: str, wait_s: float = 0.0, on_wait: Callable[[str], None] | None = None
    ) -> Iterator[Store]:
        """Take the writer lock, create or migrate the store, and hold the lock until exit.

        Waits up to `wait_s` seconds for another writer to finish (`on_wait` is told once). Inside
        a block that holds the lock already, it just yields: commands nest stages freely. On
        taking the lock it closes, as `interrupted`, the runs whose process died without ending them.
        """
        if self.writing:
            yield self
            return
        self.root.mkdir(parents=True, exist_ok=True)
        lock = WriterLock(self.lock_path, command)
        deadline = time.monotonic() + wait_s
        delay, told = 0.2, False
        while True:
            try:
                lock.acquire()
                break
            except StoreLockedError as exc:
                if time.monotonic() >= deadline:
                    raise
                if on_wait is not None and not told:
                    on_wait(f"waiting: {exc}")
                    told = True
                time.sleep(min(delay, max(deadline - time.monotonic(), 0.05)))
                delay = min(delay * 2, 5.0)
        self._lock = lock
        try:
            with self.connect() as con:
                migrate(con, str(self.root))
                self._close_dead_runs(con)
            yield self
        finally:
            lock.release()
            self._lock = None

    @staticmethod
    def _close_dead_runs(con: duckdb.DuckDBPyConnection) -> None:
        host, me = socket.gethostname(), os.getpid()
        for run_id, command, pid, run_host, lease in con.execute(query("store/running_runs")).fetchall():
            if lease == "cluster" or run_host != host or pid == me:
                continue
            if lease == "lock" or not pid_alive(pid):
                why = f"interrupted: process {pid} ({command}) ended without closing the run; what it committed is kept"
                run_sql(con, query("store/close_dead_run"), {"run_id": run_id, "error": why}).fetchall()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.connect() as con:
            con.execute("begin transaction")
            try:
                yield con
            except BaseException:
                con.execute("rollback")
                raise
            con.execute("commit")

    # -- runs -------------------------------------------------------------------------------
    def begin_run(
        self,
        command: str,
        config: Mapping[str, Any],
        inputs: Sequence[Mapping[str, Any]] = (),
        *,
        code_version: str,
        lease: str = "lock",
    ) -> Run:
        """Record a run as `running` and return it. Rows the run writes carry its run_id.

        Called by the run lifecycle (`brd_data.contracts.runs.StageRun`), not by stages."""
        run = Run(store=self, run_id=new_run_id(command), command=command)
        params = {
            "run_id": run.run_id,
            "command": command,
            "config": json.dumps(config, default=str, sort_keys=True),
            "code_version": code_version,
            "inputs": json.dumps(list(inputs), default=str),
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "lease": lease,
        }
        with self.connect() as con:
            run_sql(con, query("store/begin_run"), params).fetchall()
        return run

    # -- loading ----------------------------------------------------------------------------
    @classmethod
    def check_identifier(
        cls, con: duckdb.DuckDBPyConnection, name: str, kinds: Sequence[str] = ("table", "view")
    ) -> str:
        """Return `name` if it is a table or view in the catalogue, else a one-line error listing them."""
        names = cls.catalogue(con, kinds)
        if not _IDENT.match(name or "") or name not in names:
            raise StoreError(f"unknown {'/'.join(kinds)} {name!r}; valid: {', '.join(sorted(names))}")
        return name

    @staticmethod
    def catalogue(con: duckdb.DuckDBPyConnection, kinds: Sequence[str] = ("table", "view")) -> set[str]:
        names: set[str] = set()
        for kind in kinds:
            names |= {r[0] for r in con.execute(query(f"store/{kind}s")).fetchall()}
        return names

    @classmethod
    def count_rows(cls, con: duckdb.DuckDBPyConnection, table: str) -> int:
        """Rows in a table of the catalogue."""
        cls.check_identifier(con, table, kinds=("table",))
        return con.execute(query("store/count_rows"), {"table": table}).fetchall()[0][0]

    def insert(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        rows: pa.Table | Sequence[str | os.PathLike],
        *,
        ignore_duplicates: bool = True,
    ) -> int:
        """Insert an Arrow table or Parquet files into `table` by column name; returns rows added.

        With `ignore_duplicates`, rows whose primary key exists already are skipped: re-running a
        step adds nothing.
        """
        before = self.count_rows(con, table)
        verb = "insert or ignore" if ignore_duplicates else "insert"
        if isinstance(rows, pa.Table):
            if rows.num_rows == 0:
                return 0
            con.register("_brd_rows", rows)
            try:
                con.execute(f'{verb} into "{table}" by name select * from _brd_rows')
            finally:
                con.unregister("_brd_rows")
        else:
            files = [str(p) for p in rows]
            if not files:
                return 0
            con.execute(f'{verb} into "{table}" by name select * from read_parquet(?, union_by_name = true)', [files])
        return self.count_rows(con, table) - before
