"""Test settings: offline, no ~/.cache, and helpers that run the real `brd` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Model caches live in the project, never under ~/.cache; tests never reach a hub.
TEST_CACHE = REPO / ".cache" / "test"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HOME", str(TEST_CACHE / "hf"))
os.environ.setdefault("BRD_CACHE", str(TEST_CACHE / "brd"))
os.environ.pop("BRD_STORE", None)


def brd_cmd() -> list[str]:
    return [sys.executable, "-m", "brd_data"]


def run_brd(
    *args: str, check: bool = True, env: dict | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run `brd ARGS` in a fresh process, as a user would."""
    proc = subprocess.run(
        [*brd_cmd(), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"brd {' '.join(map(str, args))} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def brd():
    return run_brd


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"
