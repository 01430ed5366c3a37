"""The brd cache folder: prepared teacher models and other derived artefacts."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$BRD_CACHE, else $XDG_CACHE_HOME/brd, else ~/.cache/brd."""
    if os.environ.get("BRD_CACHE"):
        return Path(os.environ["BRD_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "brd"
