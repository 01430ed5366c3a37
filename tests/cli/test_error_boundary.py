"""The CLI's error boundary: a user error is one line and exit 1; a bug prints its traceback, says
it is a bug, and exits 70; a full disk is the user's to fix, so it is one line too."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO

# A real `brd` process with one extra command that raises what the test names.
PROGRAM = """
    import sys
    from brd_data import cli
    @cli.app.command("boom")
    def boom() -> None:
        {raise_}
    sys.argv = ["brd", "boom"]
    cli.main()
"""


def run_boom(raise_: str) -> subprocess.CompletedProcess:
    code = textwrap.dedent(PROGRAM.format(raise_=raise_))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)


@pytest.mark.parametrize(
    "raise_, message",
    [
        (
            "from brd_data.contracts.errors import ConfigError; raise ConfigError('--limit must be positive')",
            "error: --limit must be positive",
        ),
        (
            "import errno, os; raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), '/data/out.parquet')",
            "error: No space left on device: /data/out.parquet",
        ),
        (
            "import errno, os; raise OSError(errno.EROFS, os.strerror(errno.EROFS), '/mnt/ro')",
            "error: Read-only file system: /mnt/ro",
        ),
    ],
)
def test_user_errors_are_one_line(raise_, message):
    out = run_boom(raise_)
    assert out.returncode == 1 and out.stderr.strip() == message, out.stderr


@pytest.mark.parametrize(
    "raise_, kind",
    [
        ("import pyarrow as pa; raise pa.ArrowInvalid('bad column')", "ArrowInvalid"),
        ("import json; json.loads('{')", "JSONDecodeError"),
        ("raise ValueError('an internal check')", "ValueError"),
        ("raise FileNotFoundError('internal.json')", "FileNotFoundError"),
    ],
)
def test_anything_else_is_a_bug_with_its_traceback(raise_, kind):
    out = run_boom(raise_)
    assert out.returncode == 70, out.stderr
    assert "Traceback (most recent call last)" in out.stderr and f"this is a bug in brd ({kind})" in out.stderr


def test_store_errors_from_a_real_command_are_one_line(brd, tmp_path):
    out = brd("sql", "--store", tmp_path / "none", "select 1", check=False)
    assert out.returncode == 1 and out.stderr.strip().startswith(f"error: no store at {tmp_path / 'none'}")
