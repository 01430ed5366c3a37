"""The run lifecycle: every command that writes the store is one `runs` row, opened `running` and
closed `succeeded`, `failed` (with its error) or `interrupted` (Ctrl-C, SIGTERM, or a kill the
next writer notices). Stages record runs only through `StageRun`.

Two ways to hold the store, chosen by the caller:
- inside `with store.writer(...)`, the run holds the writer lock from start to end (ingest,
  annotate, mix build, sql --write): its `lease` is `lock`;
- outside it, the run takes the lock only for short windows, waiting up to `wait_s` for each:
  to begin, for each `commit`, and to end (train and eval, which compute for hours): `pid`.
A run handed to Slurm or Ray (`hand_off`) is ended by its commit job: `cluster`.

    with StageRun(store, "eval", config, inputs, wait_s=3600) as run:
        scores = ...                      # no lock held
        run.commit(lambda con: ..., finish=True)   # rows and the run's end in one transaction
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..store import Run, Store, StoreLockedError
from .errors import Terminated, one_line
from .identity import code_version
from .secrets import redact, redact_obj

Warn = Callable[[str], None]
# Commands that compute for hours between short writes (eval, analyses) wait this long for each.
LOCK_WAIT_S = 3600.0


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class StageRun:
    def __init__(
        self,
        store: Store,
        command: str,
        config: Mapping[str, Any] | None = None,
        inputs: Sequence[Mapping[str, Any]] = (),
        *,
        wait_s: float = 0.0,
        on_wait: Warn | None = None,
    ):
        self.store, self.command = store, command
        # credentials in URLs and registered secrets never reach runs.config, runs.inputs or runs.error
        self.config, self.inputs = redact_obj(dict(config or {})), redact_obj(list(inputs))
        self.wait_s, self.on_wait = wait_s, on_wait
        self.run: Run | None = None

    @classmethod
    def attach(cls, store: Store, run_id: str, command: str) -> StageRun:
        """The handle of a run recorded by another process (a cluster's commit job ends it)."""
        handle = cls(store, command)
        handle.run = Run(store=store, run_id=run_id, command=command)
        return handle

    # -- the row ------------------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        assert self.run is not None, "the run has not begun"
        return self.run.run_id

    @property
    def counts(self) -> dict[str, Any]:
        return self.run.counts if self.run else {}

    @property
    def ended(self) -> bool:
        return self.run is not None and (self.run.finished or self.run.handed_off)

    def add_counts(self, **counts: Any) -> None:
        self.run.add_counts(**counts)

    def stage_dir(self, table: str):
        return self.run.stage_dir(table)

    # -- the lock -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def window(self, wait_s: float | None = None) -> Iterator[Store]:
        """The writer lock for one short write (a no-op inside a block that holds it), waiting up
        to `wait_s` (default: the run's) for another writer to finish."""
        wait = self.wait_s if wait_s is None else wait_s
        with self.store.writer(self.command, wait_s=wait, on_wait=self.on_wait):
            yield self.store

    def commit(self, fn: Callable[[Any], Any], finish: bool = False, wait_s: float | None = None) -> Any:
        """Run `fn(con)` in one transaction; with `finish`, the run ends `succeeded` in it too."""
        with self.window(wait_s), self.store.transaction() as con:
            out = fn(con)
            if finish:
                self.finish("succeeded", con=con)
        return out

    def finish(self, status: str = "succeeded", error: str | None = None, con=None) -> None:
        """End the run now (pass `con` to end it inside the caller's transaction)."""
        error = redact(error) if error else error
        if con is not None:
            self.run.finish(status, error=error, con=con)
            return
        with self.window():
            self.run.finish(status, error=error)

    def hand_off(self, lease: str = "cluster") -> None:
        """The work was submitted to a cluster: its commit job ends the run (`cluster`, Slurm), or
        this process does after releasing the writer lock (`pid`, a Ray driver)."""
        with self.window():
            self.run.hand_off(lease)

    # -- begin and end --------------------------------------------------------------------------
    def __enter__(self) -> StageRun:
        lease = "lock" if self.store.writing else "pid"
        from .filters import refresh_filters

        with self.window():
            self.run = self.store.begin_run(
                self.command, self.config, self.inputs, code_version=code_version(), lease=lease
            )
            refresh_filters(self.store, self.run.run_id)  # what views need from manifests/ (d_train_no_sent)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self.run is None or self.ended:
            return False
        if exc is None:
            status, error = "succeeded", None
        elif isinstance(exc, (KeyboardInterrupt, Terminated)):
            status, error = "interrupted", f"interrupted ({one_line(exc)}); what it committed is kept"
        else:
            status, error = "failed", one_line(exc)
        error = redact(error) if error else error
        try:
            with self.window():
                self.run.finish(status, error=error)
        except StoreLockedError as locked:
            # What it committed is in the store; the next writer closes the row as interrupted
            # once this process is gone.
            _stderr(f"warning: run {self.run_id} could not be recorded as {status}: {locked}")
        except Exception:
            if exc is None:
                raise
        return False
