"""Fixtures for training tests: the embedded teacher's tokenizer, a tiny random Llama student and
hand-made mixture folders (contract 2)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import run_brd

from .helpers import lm_rows, sft_rows, write_mixture

# One thread: the numbers are then bit-for-bit reproducible (the resume test compares losses),
# and a 2-core machine shared with other work is not oversubscribed.
SMALL = [
    "--max-length",
    "128",
    "--batch-size",
    "4",
    "--logging-steps",
    "1",
    "--learning-rate",
    "1e-3",
    "--no-gradient-checkpointing",
]
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
for k, v in ENV.items():
    os.environ.setdefault(k, v)


@pytest.fixture(scope="session")
def teacher_dir() -> Path:
    from brd_data.contracts.models import prepare

    return prepare()


@pytest.fixture(scope="session")
def tiny_student(teacher_dir, tmp_path_factory) -> Path:
    from brd_train.train.tiny import make_tiny_student

    return make_tiny_student(tmp_path_factory.mktemp("student") / "tiny-llama", teacher_dir, context=512)


@pytest.fixture(scope="session")
def lm_mix(teacher_dir, tmp_path_factory) -> Path:
    # 12 passages pack into a few rows of 128 tokens: an epoch is ~3 steps, so a 6-step run
    # crosses epochs and a resume at step 4 starts inside the second one.
    return write_mixture(tmp_path_factory.mktemp("mix") / "lm", "lm", lm_rows(12), teacher_dir, name="tiny-lm")


@pytest.fixture(scope="session")
def sft_mix(teacher_dir, tmp_path_factory) -> Path:
    return write_mixture(tmp_path_factory.mktemp("mix") / "sft", "sft", sft_rows(16), teacher_dir, name="tiny-sft")


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def brd_in_process(*args: str) -> Result:
    """The real `brd` entry point (parsing, checks, one-line errors) without a new interpreter:
    the refusals happen before training, and importing transformers once saves a lot of time."""
    from brd_data.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["brd", *map(str, args)]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
        rc = 0
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
    return Result(rc, out.getvalue(), err.getvalue())


def refuse(*args):
    """`brd train` with the small settings, in this process, for input it must refuse."""
    return brd_in_process("train", *SMALL, *map(str, args))


def train(*args, check: bool = True):
    """`brd train` with small settings for a CPU (override any by passing it again)."""
    return run_brd("train", *SMALL, *map(str, args), check=check, env=ENV)
