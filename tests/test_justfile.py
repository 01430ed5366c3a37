"""The justfile's recipes work from any folder: paths are the caller's, outputs land where the
caller is, and no option is passed twice (`--no-deps`: the shared .venv is set up already)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, run_brd


def just() -> str:
    found = shutil.which("just") or str(REPO / ".venv" / "bin" / "just")
    if not Path(found).exists():
        pytest.skip("just is not installed (pip install rust-just)")
    return found


def run_just(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # the recipes run this checkout's brd
    return subprocess.run(
        [just(), "--justfile", str(REPO / "justfile"), "--no-deps", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_recipes_resolve_paths_against_the_callers_folder(tmp_path):
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    run_brd("ingest", "--store", elsewhere / "store", "--limit-docs", "4")
    (elsewhere / "ori.yaml").write_text("name: ori\nsources: [d_ori]\n", encoding="utf-8")
    before = set((REPO / "mixtures").glob("*")) if (REPO / "mixtures").exists() else set()

    out = run_just(elsewhere, "build-mix", "ori.yaml", "--store", "store", "-q")
    assert out.returncode == 0, out.stderr
    assert (elsewhere / "mixtures" / "ori" / "manifest.json").is_file()
    after = set((REPO / "mixtures").glob("*")) if (REPO / "mixtures").exists() else set()
    assert after == before  # nothing written into the clone

    out = run_just(elsewhere, "build-mix", "ori.yaml", "--store", "store", "--out", "custom/ori", "-q")
    assert out.returncode == 0, out.stderr
    assert (elsewhere / "custom" / "ori" / "manifest.json").is_file()
    echoed = [line for line in out.stderr.splitlines() if "mix build" in line]
    assert echoed and all(line.count("--out") <= 1 for line in echoed)

    out = run_just(elsewhere, "brd", "sql", "--store", "store", "-f", "json", "select count(*) as n from documents")
    assert out.returncode == 0 and '"n": 4' in out.stdout, out.stderr
