"""The real BIG-bench tasks, offline after one download: the `bigbench==1.0.0` sdist from PyPI,
of which only `bigbench/benchmark_tasks/` is kept, in a cache folder outside any repository.

    brd bigbench fetch                # -> ~/.cache/brd/bigbench-1.0.0/benchmark_tasks
    BRD_BIGBENCH_DIR=/data/bb brd bigbench fetch

pip is the client. Recent pips (25.x and later) refuse to download this sdist, because its
metadata names a dependency by direct URL (`bleurt @ file://...`), and `--no-deps` does not
help: they read the metadata first. pip 24.3.1, itself fetched from PyPI as a wheel and run from
that wheel, downloads it. The sdist is deleted once its task folders are unpacked; the folder's
`brd-bigbench.json` records its SHA-256, and a second call returns at once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

from ..contracts.errors import UserError
from ..contracts.paths import BIGBENCH_VERSION as VERSION
from ..contracts.paths import bigbench_home

SDIST = f"bigbench-{VERSION}.tar.gz"
MEMBER_PREFIX = f"bigbench-{VERSION}/bigbench/benchmark_tasks/"
PIP_WHEEL = "pip==24.3.1"  # the last pip line that downloads sdists declaring direct-URL dependencies
MARK = "brd-bigbench.json"


class FetchError(UserError):
    """The sdist could not be fetched or unpacked; one line for the user."""


def tasks_dir(home: Path | None = None) -> Path:
    return (home or bigbench_home()) / "benchmark_tasks"


def fetched(home: Path | None = None) -> dict | None:
    """The record of a complete earlier fetch, or None."""
    home = home or bigbench_home()
    mark = home / MARK
    if not mark.is_file() or not tasks_dir(home).is_dir():
        return None
    try:
        return json.loads(mark.read_text(encoding="utf-8"))
    except ValueError:
        return None


def _pip(args: list[str], cwd: Path, pip: list[str]) -> None:
    proc = subprocess.run([*pip, *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [
            line for line in (proc.stderr or proc.stdout).splitlines() if line.strip() and "is ignored" not in line
        ]
        raise FetchError(f"pip {' '.join(args[:3])} failed: {lines[-1] if lines else f'exit {proc.returncode}'}")


def _download(work: Path, echo: Callable[[str], None]) -> Path:
    pip = [sys.executable, "-m", "pip"]
    _pip(["download", "--no-deps", "-q", PIP_WHEEL, "-d", str(work / "pip")], work, pip)
    wheels = sorted((work / "pip").glob("pip-*.whl"))
    if not wheels:
        raise FetchError(f"pip download {PIP_WHEEL} left no wheel in {work / 'pip'}")
    echo(f"bigbench: downloading {SDIST} from PyPI (358 MB) with {wheels[0].name}")
    _pip(
        ["download", "--no-deps", "--no-cache-dir", "-q", f"bigbench=={VERSION}", "-d", str(work)],
        work,
        [sys.executable, f"{wheels[0]}/pip"],
    )
    sdist = work / SDIST
    if not sdist.is_file():
        raise FetchError(f"pip download bigbench=={VERSION} left no {SDIST} in {work}")
    return sdist


def _unpack(sdist: Path, dest: Path) -> int:
    """Extract benchmark_tasks/ only; returns the number of files written."""
    n = 0
    with tarfile.open(sdist, "r:gz") as tar:
        for member in tar:
            if not member.name.startswith(MEMBER_PREFIX) or not (member.isfile() or member.isdir()):
                continue
            rel = member.name[len(MEMBER_PREFIX) :]
            if not rel or rel.startswith("/") or ".." in Path(rel).parts:
                continue
            target = dest / rel
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(member)
            if src is None:
                continue
            with src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            n += 1
    return n


def fetch(home: Path | None = None, echo: Callable[[str], None] = print, sdist: Path | None = None) -> Path:
    """Make `home/benchmark_tasks` hold the sdist's task folders; idempotent. `sdist`: use a
    downloaded `bigbench-1.0.0.tar.gz` instead of asking PyPI. Returns the benchmark_tasks folder."""
    from ..contracts.identity import file_sha256 as sha256_file

    home = home or bigbench_home()
    if fetched(home):
        return tasks_dir(home)
    foreign = [p.name for p in home.iterdir() if p.name != ".partial"] if home.is_dir() else []
    if foreign and not (home / MARK).exists():
        raise FetchError(f"{home}: exists and is not a brd BIG-bench folder; set BRD_BIGBENCH_DIR to another folder")
    home.mkdir(parents=True, exist_ok=True)
    work = home / ".partial"
    shutil.rmtree(work, ignore_errors=True)  # an interrupted earlier fetch
    work.mkdir()
    started = time.monotonic()
    try:
        source = sdist or _download(work, echo)
        downloaded = time.monotonic() - started
        digest = sha256_file(source)
        echo(f"bigbench: unpacking benchmark_tasks/ (about 1.8 GB) into {home}")
        staged = work / "benchmark_tasks"
        n_files = _unpack(source, staged)
        if n_files == 0:
            raise FetchError(f"{source}: holds no {MEMBER_PREFIX} files")
        record = {
            "version": VERSION,
            "sdist": SDIST,
            "sdist_sha256": digest,
            "files": n_files,
            "download_s": round(downloaded, 1),
            "unpack_s": round(time.monotonic() - started - downloaded, 1),
            "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        # the mark first: a crash before the rename leaves a folder the next call may replace
        (home / MARK).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        shutil.rmtree(tasks_dir(home), ignore_errors=True)
        os.replace(staged, tasks_dir(home))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tasks_dir(home)
