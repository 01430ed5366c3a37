"""Output folders brd owns: it replaces or deletes a folder only when it made and marked it.

Every folder brd creates as output (a mixture, a publish staging or --dry-run folder, a training
output, a reports folder, a prepared model) carries a marker file, `.brd-output.json`, holding
brd's output format version and the folder's kind:

    {"brd_output": "mixture", "format_version": 1, "created_by": "0.1.0+g...", "created_at": "..."}

The rules, for every command:
- an absent or empty folder is created and marked;
- a folder marked with the same kind is brd's: it may be replaced (or, for a training output,
  continued);
- anything else (a non-empty folder without the marker, a folder marked as another kind, a
  file, a symbolic link) is refused with one line naming it, and nothing in it is touched.

A replacement is written beside the folder (`.NAME.KIND-PID`, marked) and renamed into place;
the older folder is renamed aside first and removed only once the new one is in place, so a
kill at any moment leaves either the old folder or the new one at the path, never a mix.

Folders that brd made before markers existed are recognised by their content where that is
unambiguous (`legacy`): a mixture folder holding only its manifest.json and the shards it
lists, for instance. Such a folder is marked when brd takes it over.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path

from ..store.runs import pid_alive
from .errors import UserError

MARKER = ".brd-output.json"
OUTPUT_FORMAT_VERSION = 1

Legacy = Callable[[Path], bool]


class OutputKind(StrEnum):
    """What an output folder holds (the marker's `brd_output`)."""

    MIXTURE = "mixture"
    PUBLISH = "publish staging"
    TRAINING = "training output"
    REPORTS = "reports"
    MODEL = "model"


class OwnershipError(UserError):
    """An output folder that brd did not make: it is left as it is."""


def marker(folder: Path) -> dict | None:
    """The marker of `folder`, or None when it has none (or an unreadable one)."""
    path = Path(folder) / MARKER
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("format_version"), int) or "brd_output" not in data:
        return None
    return data


def is_owned(folder: Path, kind: OutputKind | str | None = None) -> bool:
    """Whether brd marked `folder` as output (of `kind`, when given)."""
    found = marker(folder)
    return found is not None and (kind is None or found["brd_output"] == str(kind))


def mark(folder: Path, kind: OutputKind | str) -> None:
    """Write the marker into `folder` (through a temporary file, so it is whole or absent)."""
    from .identity import code_version

    folder = Path(folder)
    data = {
        "brd_output": str(kind),
        "format_version": OUTPUT_FORMAT_VERSION,
        "created_by": code_version(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    tmp = folder / f".{MARKER}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, folder / MARKER)


def _is_empty(folder: Path) -> bool:
    with os.scandir(folder) as it:
        return next(it, None) is None


def check_replaceable(folder: Path, kind: OutputKind | str, legacy: Legacy | None = None, what: str = "") -> bool:
    """Refuse (one line naming it) unless `folder` is absent, empty, or brd's output of `kind`.
    Returns True when the folder exists and holds brd's output (to replace or continue)."""
    folder = Path(folder)
    label = f"{what} {folder}" if what else str(folder)
    if folder.is_symlink():
        raise OwnershipError(f"{label}: is a symbolic link; name the folder itself")
    if not folder.exists():
        return False
    if not folder.is_dir():
        raise OwnershipError(f"{label}: exists and is not a folder; choose another path")
    found = marker(folder)
    if found is not None:
        if found["brd_output"] != str(kind):
            raise OwnershipError(f"{label}: holds a brd {found['brd_output']}, not a {kind}; choose another folder")
        return True
    if _is_empty(folder):
        return False
    if legacy is not None and legacy(folder):
        return True
    raise OwnershipError(
        f"{label}: exists, is not empty and was not made by brd (no {MARKER}); "
        "choose another folder, or empty it first; nothing in it was touched"
    )


def claim(folder: Path, kind: OutputKind | str, legacy: Legacy | None = None, what: str = "") -> bool:
    """Make `folder` an output folder of `kind` that brd writes into: created and marked when absent
    or empty, kept when it is brd's already (marked now if it was a legacy one), refused
    otherwise. Returns True when this call created the folder."""
    folder = Path(folder)
    existed = folder.exists()
    check_replaceable(folder, kind, legacy, what)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not is_owned(folder, kind):
            mark(folder, kind)
    except OSError as exc:
        raise OwnershipError(
            f"{what + ' ' if what else ''}{folder}: cannot be written ({exc.strerror or exc})"
        ) from None
    return not existed


def sibling(out: Path, purpose: str) -> Path:
    """A fresh hidden folder next to `out` for writing its replacement (`.NAME.PURPOSE-PID`).

    What killed processes left beside `out` is cleared first: their half-written folders are
    removed, and an older folder renamed aside just before the kill is put back when `out` is
    missing."""
    out = Path(out)
    clear_leftovers(out)
    tmp = out.with_name(f".{out.name}.{purpose}-{os.getpid()}")
    with contextlib.suppress(OwnershipError):
        remove(tmp)  # this pid's own earlier attempt (pids are reused)
    return tmp


def clear_leftovers(out: Path) -> None:
    """Remove the marked `.NAME.*-PID` folders of dead processes next to `out`; restore `out` from
    a dead process's `.NAME.old-PID` if `out` is missing."""
    out = Path(out)
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.([a-z]+)-(\d+)$")
    if not out.parent.is_dir():
        return
    for p in sorted(out.parent.iterdir()):
        m = pattern.match(p.name)
        if m is None or not p.is_dir() or p.is_symlink() or pid_alive(int(m.group(2))) or not is_owned(p):
            continue
        if m.group(1) == "old" and not out.exists():
            p.rename(out)
        else:
            shutil.rmtree(p, ignore_errors=True)


def remove(folder: Path) -> None:
    """Delete `folder` if brd marked it; a folder without the marker is never deleted."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return
    if not is_owned(folder):
        raise OwnershipError(f"{folder}: not removed, it was not made by brd (no {MARKER})")
    shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def staged(out: Path, kind: OutputKind | str, legacy: Legacy | None = None, what: str = "") -> Iterator[Path]:
    """Write a replacement for `out` beside it; on success it takes `out`'s place atomically.

        with staged(out, OutputKind.MIXTURE) as tmp:
            ...  # write into tmp
        # out now holds what was written; an older brd folder there is gone

    `out` is checked before anything is written and again before the swap. On an error the
    staging folder is removed and `out` is left as it was."""
    out = Path(out)
    check_replaceable(out, kind, legacy, what)
    tmp = sibling(out, "writing")
    try:
        tmp.mkdir(parents=True)
        mark(tmp, kind)
        yield tmp
        swap(tmp, out, kind, legacy, what)
    finally:
        with contextlib.suppress(OwnershipError):
            remove(tmp)


def swap(tmp: Path, out: Path, kind: OutputKind | str, legacy: Legacy | None = None, what: str = "") -> None:
    """Put the finished folder `tmp` at `out`; an older brd folder there is renamed aside first and
    removed only after the new one is in place."""
    out = Path(out)
    holds_brd_output = check_replaceable(out, kind, legacy, what)
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        if holds_brd_output and not is_owned(out):
            mark(out, kind)  # a legacy folder: marked, so that it can be removed below
        if not holds_brd_output:  # an empty folder
            out.rmdir()
        else:
            out.rename(old)
    try:
        tmp.rename(out)
    except BaseException:
        if old.exists() and not out.exists():
            old.rename(out)
        raise
    with contextlib.suppress(OwnershipError):
        remove(old)


def inside_store(path: Path) -> Path | None:
    """The store folder that `path` lies in (a folder holding brd.duckdb), or None."""
    path = Path(os.path.abspath(path))
    for folder in (path, *path.parents):
        if (folder / "brd.duckdb").is_file():
            return folder
    return None


__all__ = [
    "MARKER",
    "OUTPUT_FORMAT_VERSION",
    "OutputKind",
    "OwnershipError",
    "check_replaceable",
    "claim",
    "inside_store",
    "is_owned",
    "mark",
    "marker",
    "remove",
    "staged",
    "swap",
]
