"""The writer lock: one writing `brd` process per store.

An advisory `flock` on `brd.lock`. The kernel drops it when the holder exits, even on `kill -9`,
so a stale file never blocks the next writer; the pid written into the file names the holder.

A forked child (datatrove's `multiprocess.Manager`, a local worker pool) would share the lock
through its copy of the descriptor and keep the store locked after `kill -9` of brd; the child
closes its copy at once (`os.register_at_fork`), which leaves the parent's lock in place. Child
processes that exec (sbatch, ray, vLLM) never get it: the descriptor is not inheritable.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

from .errors import StoreLockedError

_HELD: set[int] = set()  # lock descriptors this process holds


def _close_in_child() -> None:
    for fd in list(_HELD):
        try:
            os.close(fd)  # flock locks belong to the open file: the parent's stays held
        except OSError:
            pass
    _HELD.clear()


os.register_at_fork(after_in_child=_close_in_child)


class WriterLock:
    def __init__(self, path: Path, command: str):
        self.path = path
        self.command = command
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._read_holder(fd)
            os.close(fd)
            pid = holder.get("pid", "?")
            what = holder.get("command", "another brd command")
            since = holder.get("since", "?")
            raise StoreLockedError(
                f"store {self.path.parent} is locked by pid {pid} ({what}, since {since}); "
                "wait for it to finish or stop it"
            ) from None
        os.ftruncate(fd, 0)
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": self.command,
            "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        _HELD.add(fd)

    @staticmethod
    def _read_holder(fd: int) -> dict:
        try:
            raw = os.pread(fd, 4096, 0)
            return json.loads(raw.decode() or "{}")
        except (OSError, ValueError):
            return {}

    def release(self) -> None:
        if self._fd is None:
            return
        _HELD.discard(self._fd)
        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
