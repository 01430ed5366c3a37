"""Where brd's data files live, in a checkout and in an installed wheel: manifests, samples, the
cache folder, the fetched BIG-bench folder. (sql/ belongs to the store: `brd_data.store.sqlfiles.sql_dir`.)"""

from __future__ import annotations

import os
from pathlib import Path

from ..store.sqlfiles import sql_dir

_PKG = Path(__file__).resolve().parent.parent
_CHECKOUT = _PKG.parent


def _resource(name: str) -> Path:
    # A checkout keeps manifests/ at the top; a wheel carries it in brd_data/_resources.
    for candidate in (_CHECKOUT / name, _PKG / "_resources" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"brd resource folder {name!r} not found (looked in {_CHECKOUT} and {_PKG / '_resources'})")


def manifests_dir() -> Path:
    return _resource("manifests")


def samples_dir() -> Path:
    return _PKG / "samples"


def cache_dir() -> Path:
    """$BRD_CACHE, else $XDG_CACHE_HOME/brd, else ~/.cache/brd: prepared models and other derived files."""
    if os.environ.get("BRD_CACHE"):
        return Path(os.environ["BRD_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "brd"


BIGBENCH_VERSION = "1.0.0"


def bigbench_home() -> Path:
    """Where `brd bigbench fetch` keeps the sdist's tasks: $BRD_BIGBENCH_DIR, else
    ~/.cache/brd/bigbench-1.0.0 ($XDG_CACHE_HOME honoured); its tasks are in benchmark_tasks/."""
    if os.environ.get("BRD_BIGBENCH_DIR"):
        return Path(os.environ["BRD_BIGBENCH_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "brd" / f"bigbench-{BIGBENCH_VERSION}"


__all__ = ["BIGBENCH_VERSION", "bigbench_home", "cache_dir", "manifests_dir", "samples_dir", "sql_dir"]
