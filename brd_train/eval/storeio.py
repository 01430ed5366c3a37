"""Writing evaluation results without holding the store for hours.

Scoring a model can take far longer than writing its rows, so evaluation commands take the writer
lock only for short windows: to record the run, to commit each finished task, and to close the
run. Between windows other commands (another `brd eval` on another GPU, an ingest) can write;
a window waits for the lock instead of failing, for up to `wait_s` seconds.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from brd_data.store import Store, StoreLockedError


@contextlib.contextmanager
def writer_when_free(
    store: Store, command: str, wait_s: float = 3600.0, on_wait: Callable[[str], None] | None = None
) -> Iterator[Store]:
    deadline = time.monotonic() + wait_s
    delay = 0.2
    told = False
    with contextlib.ExitStack() as stack:
        while True:
            try:
                stack.enter_context(store.writer(command))
                break
            except StoreLockedError as exc:
                if time.monotonic() > deadline:
                    raise
                if on_wait and not told:
                    on_wait(f"waiting: {exc}")
                    told = True
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        yield store


class ShortLockRun:
    """A `runs` row whose rows are committed in short writer-lock windows.

    `with ShortLockRun(...) as r:` records the run as running; `r.commit(fn)` runs `fn(con)` in
    one transaction; leaving the block marks the run succeeded (or failed, with the error).
    """

    def __init__(
        self,
        store: Store,
        command: str,
        config: Mapping[str, Any],
        inputs: Sequence[Mapping[str, Any]] = (),
        wait_s: float = 3600.0,
        on_wait: Callable[[str], None] | None = None,
    ):
        self.store, self.command, self.config, self.inputs = store, command, config, inputs
        self.wait_s, self.on_wait = wait_s, on_wait
        self.run: Any = None

    @property
    def run_id(self) -> str:
        return self.run.run_id

    def add_counts(self, **counts: Any) -> None:
        self.run.add_counts(**counts)

    def _window(self):
        return writer_when_free(self.store, self.command, self.wait_s, self.on_wait)

    def __enter__(self) -> ShortLockRun:
        with self._window():
            self.run = self.store.begin_run(self.command, self.config, self.inputs)
        return self

    def commit(self, fn: Callable[[Any], None], finish: bool = False) -> None:
        """Run `fn(con)` in one transaction; with `finish`, the run is marked succeeded in it too."""
        with self._window(), self.store.transaction() as con:
            fn(con)
            if finish:
                self.run.finish("succeeded", con=con)

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.run.finished:
            return
        if exc is None:
            with self._window():
                self.run.finish("succeeded")
            return
        reason = f"{exc_type.__name__}: {exc}".splitlines()[0] if str(exc) else exc_type.__name__
        with contextlib.suppress(Exception), self._window():
            self.run.finish("failed", error=reason)
