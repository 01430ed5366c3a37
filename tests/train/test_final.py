"""OUT/model, the finished student, is written like every brd output: beside the folder, marked,
and swapped in; what a killed `brd train` left next to it is cleared or put back; a folder brd did
not write is never replaced. (Files only: no training; tests/train/test_train.py trains.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from brd_data.contracts.errors import UserError
from brd_data.contracts.outputs import OutputKind, is_owned, mark
from brd_train.train.final import write_final_student
from brd_train.train.lineage import LINEAGE_FILE


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _checkpoint(out, step: int, weights: bytes):
    ckpt = out / f"checkpoint-{step}"
    ckpt.mkdir(parents=True)
    (ckpt / "config.json").write_text('{"model_type": "llama"}')
    (ckpt / "model.safetensors").write_bytes(weights)
    (ckpt / "optimizer.pt").write_bytes(b"resume only")
    (ckpt / LINEAGE_FILE).write_text(json.dumps({"train_run_id": "train-x", "step": step}))
    return ckpt


def test_the_final_student_replaces_an_earlier_one_and_clears_a_killed_runs_leftovers(tmp_path):
    out = tmp_path / "run"
    first = write_final_student(out, _checkpoint(out, 2, b"w2"))
    assert first == out / "model" and is_owned(first, OutputKind.MODEL)
    assert (first / "model.safetensors").read_bytes() == b"w2" and not (first / "optimizer.pt").exists()
    # a `brd train` killed while writing its final folder left a marked half-written one
    half = out / f".model.writing-{_dead_pid()}"
    half.mkdir()
    mark(half, OutputKind.MODEL)
    second = write_final_student(out, _checkpoint(out, 4, b"w4"))
    assert (second / "model.safetensors").read_bytes() == b"w4"
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-2", "checkpoint-4", "model"]


def test_a_final_folder_from_before_markers_is_taken_over(tmp_path):
    out = tmp_path / "run"
    legacy = out / "model"
    legacy.mkdir(parents=True)
    (legacy / LINEAGE_FILE).write_text("{}")  # what brd wrote there before output markers
    (legacy / "model.safetensors").write_bytes(b"old")
    write_final_student(out, _checkpoint(out, 2, b"new"))
    assert (legacy / "model.safetensors").read_bytes() == b"new" and is_owned(legacy, OutputKind.MODEL)


def test_a_model_folder_brd_did_not_write_is_refused_and_left_alone(tmp_path):
    out = tmp_path / "run"
    mine = out / "model"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("the user's")
    ckpt = _checkpoint(out, 2, b"w")
    with pytest.raises(UserError, match="model"):
        write_final_student(out, ckpt)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-2", "model"]  # no staging folder left
