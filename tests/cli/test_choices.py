"""Options with a fixed set of values, and paths, are checked by typer while it parses: a bad one is
a usage error (exit 2) that names the choices, before any work or any store is touched."""

from __future__ import annotations

import contextlib
import io
import sys

import pytest

from brd_data.contracts.choices import check_choice
from brd_data.contracts.errors import UserError
from brd_data.contracts.executors import ExecutorKind


def brd_parse_error(*args: str, code: int = 2) -> str:
    """stderr of the real `brd` entry point, in this process, for a command that typer must refuse
    (`code` 1: one that brd refuses with a one-line error)."""
    from brd_data.cli import main

    err = io.StringIO()
    argv, sys.argv = sys.argv, ["brd", *map(str, args)]
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        assert exc.code == code, (args, exc.code, err.getvalue())
    else:
        raise AssertionError(f"brd {' '.join(args)} was not refused")
    finally:
        sys.argv = argv
    return err.getvalue()


# One bad value per command group and set of choices: (command line, the option, its choices)
BAD_CHOICES = [
    (["sql", "-f", "xml", "select 1"], "--format", ["table", "json", "csv", "parquet"]),
    (["ingest", "--format", "csv"], "--format", ["auto", "cc100", "jsonl", "parquet"]),
    (["ingest", "--segmenter", "spacy"], "--segmenter", ["sentencex", "blingfire"]),
    (["ingest", "--executor", "k8s"], "--executor", ["local", "slurm", "ray"]),
    (["annotate", "--mode", "instruct"], "--mode", ["completion", "chat"]),
    (["annotate", "--dtype", "int4"], "--dtype", ["auto", "bfloat16", "float16", "float32"]),
    (["annotate", "--executor", "k8s"], "--executor", ["local", "slurm", "ray"]),
    (["eval", "--model", "m", "--scoring", "fast"], "--scoring", ["packed", "naive"]),
    (["eval", "--model", "m", "--select", "max"], "--select", ["word", "mean", "char", "sum"]),
    (["analyze", "probe", "--model", "m", "--dtype", "int8"], "--dtype", ["auto", "bfloat16", "float16", "float32"]),
    (["train", "--out", "o", "--precision", "fp8"], "--precision", ["auto", "bf16", "fp16", "fp32"]),
    (["train", "--out", "o", "--packing-strategy", "greedy"], "--packing-strategy", ["bfd", "bfd_split", "wrapped"]),
    (
        ["train", "--out", "o", "--lr-scheduler", "exp"],
        "--lr-scheduler",
        ["linear", "cosine", "constant", "constant_with_warmup"],
    ),
]


@pytest.mark.parametrize(("args", "option", "choices"), BAD_CHOICES, ids=[" ".join(a[:2]) for a, _, _ in BAD_CHOICES])
def test_a_bad_choice_is_refused_while_parsing_naming_the_choices(tmp_path, args, option, choices):
    store = tmp_path / "store"
    err = brd_parse_error(*args, "--store", store)
    assert f"Invalid value for '{option}'" in err and "Traceback" not in err, err
    assert ", ".join(f"'{c}'" for c in choices) in err, err
    assert not store.exists()


def test_help_lists_the_choices(brd):
    out = brd("ingest", "--help", env={"COLUMNS": "200"}).stdout
    assert "sentencex|blingfire" in out and "local|slurm|ray" in out and "auto|cc100|jsonl|parquet" in out


def test_paths_that_must_exist_are_checked_by_typer(tmp_path):
    err = brd_parse_error("annotate", "--server-script", tmp_path / "nope.py")
    assert "Invalid value for '--server-script'" in err and "does not exist" in err
    err = brd_parse_error("annotate", "--prompt-dir", tmp_path / "no-prompts")
    assert "Invalid value for '--prompt-dir'" in err and "does not exist" in err
    # --bigbench also takes `sample`, the shipped tasks: brd checks the folder, in one line
    err = brd_parse_error("eval", "--model", "m", "--bigbench", tmp_path / "no-bigbench", code=1)
    assert err == f"error: {tmp_path / 'no-bigbench'}: not a folder\n", err
    err = brd_parse_error("publish", tmp_path / "no-mixtures", "--repo-id", "org/x")
    assert "does not exist" in err
    # an output that must be a folder
    (tmp_path / "file").write_text("x")
    err = brd_parse_error("report", "--out", tmp_path / "file")
    assert "Invalid value for '--out'" in err and "is a file" in err


def test_configs_check_the_same_enum_and_keep_plain_strings():
    from brd_data.contracts.executors import ExecutorConfig

    cfg = ExecutorConfig(kind=ExecutorKind.RAY)
    assert cfg.kind == "ray" and type(cfg.kind) is str  # lineage and store rows hold the string
    with pytest.raises(UserError, match="executor 'k8s' is not one of local, slurm, ray"):
        ExecutorConfig(kind="k8s")
    assert check_choice(ExecutorKind, "slurm", "executor") == "slurm"
