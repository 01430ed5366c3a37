"""The writer lock: one writing `brd` process per store.

A POSIX record lock (`lockf`) on `brd.lock`. The kernel drops it when the holding process exits,
even on `kill -9`. Unlike `flock`, a record lock belongs to the process, not to the open file: the
children a writer forks (datatrove's manager and workers, a vLLM server, DDP workers) never hold
it, so a killed writer's surviving children cannot keep the store locked. The descriptor is also
close-on-exec. A record lock does not exclude a second lock from the same process, and closing any
descriptor of the file drops it, so the process keeps a registry of the locks it holds and never
opens a lock file it holds again. The pid written into the file names the holder.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from pathlib import Path

from .errors import StoreLockedError

_held: dict[str, tuple[str, str]] = {}  # lock file -> (command, since), for the locks this process holds
_held_guard = threading.Lock()


class WriterLock:
    def __init__(self, path: Path, command: str):
        self.path = path
        self.command = command
        self._fd: int | None = None

    def _busy(self, fd: int) -> StoreLockedError:
        holder = self._read_holder(fd)
        pid = holder.get("pid", "?")
        what = holder.get("command", "another brd command")
        since = holder.get("since", "?")
        return StoreLockedError(
            f"store {self.path.parent} is locked by pid {pid} ({what}, since {since}); wait for it to finish or stop it"
        )

    def acquire(self) -> None:
        key = str(self.path.resolve())
        with _held_guard:
            if key in _held:
                command, since = _held[key]
                raise StoreLockedError(
                    f"store {self.path.parent} is locked by pid {os.getpid()} ({command}, since {since}); "
                    "wait for it to finish or stop it"
                )
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                err = self._busy(fd)
                os.close(fd)
                raise err from None
            since = time.strftime("%Y-%m-%dT%H:%M:%S")
            _held[key] = (self.command, since)
        self._key = key
        os.ftruncate(fd, 0)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command, "since": since}
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd

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
        try:
            os.ftruncate(self._fd, 0)
            fcntl.lockf(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None
            with _held_guard:
                _held.pop(self._key, None)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
