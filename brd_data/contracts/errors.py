"""The error boundary: `UserError` and its subclasses print one line; anything else is a bug and
prints its traceback. Stages subclass `UserError` for their own errors (PromptError, ...)."""

from __future__ import annotations

import errno
import os

from ..store.errors import StoreError, StoreLockedError, UserError
from ..store.store import damaged_message, is_damaged


class ConfigError(UserError):
    """An option or manifest value that cannot be used; the message names the option or field."""


class Terminated(BaseException):
    """SIGTERM (`kill PID`, `scancel`, a scheduler's time limit): the command stops as if
    interrupted, so its run is closed as `interrupted` and its committed rows are kept."""


def one_line(exc: BaseException) -> str:
    """`Type: first line of the message`, as stored in `runs.error`."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


# OS errors a user fixes by freeing space, changing permissions or choosing another folder, not by
# reporting a bug. brd's own code paths turn most of them into a UserError that names the file;
# these are the ones the CLI still recognises when a library (pyarrow, datasets, torch) raised them.
ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def environment_error(exc: BaseException) -> str | None:
    """A one-line message for an OSError the user can act on (full disk, read-only folder), else None."""
    if isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS:
        where = f": {exc.filename}" if exc.filename else ""
        if exc.strerror and exc.strerror != str(exc):
            return f"{exc.strerror}{where}"
        # pyarrow's OSError carries the errno but neither strerror nor the file: say what it is
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"{os.strerror(exc.errno)}{where}" + (f" ({first})" if first else "")
    text = str(exc)
    # DuckDB and pyarrow report a full disk in their own exception types
    if "No space left on device" in text:
        return "no space left on device: " + text.strip().splitlines()[0]
    if "Read-only file system" in text:
        return "read-only file system: " + text.strip().splitlines()[0]
    if is_damaged(exc):  # a checksum-corrupt store block found while a query ran
        return damaged_message("brd.duckdb", exc)
    return None


__all__ = [
    "ENVIRONMENT_ERRNOS",
    "ConfigError",
    "StoreError",
    "StoreLockedError",
    "Terminated",
    "UserError",
    "environment_error",
    "one_line",
]
