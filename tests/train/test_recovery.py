"""`brd train` after a fault: a checkpoint cut short by a kill is skipped (`--resume` takes the
newest complete one and saves that step again), and --out is never a folder brd did not make."""

from __future__ import annotations

import json

import pytest

from brd_data.contracts.outputs import MARKER
from brd_data.store import Store

from .conftest import refuse, train

pytestmark = pytest.mark.slow


def test_resume_takes_the_newest_complete_checkpoint(tmp_path, tiny_student, lm_mix):
    out, store = tmp_path / "out", tmp_path / "store"
    common = ["--mix", lm_mix, "--student", tiny_student, "--out", out, "--store", store, "--max-steps", "6"]
    train(*common, "--save-steps", "2", "--stop-at-step", "4")
    # what a kill in the middle of saving step 4 leaves: weights cut short, no trainer state, no lineage
    half = out / "checkpoint-4"
    weights = half / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])
    (half / "trainer_state.json").unlink()
    (half / "brd_lineage.json").unlink()
    resumed = train("--resume", "--out", out, "--store", store)
    assert "note: checkpoint-4 was not saved to the end" in resumed.stdout + resumed.stderr
    assert "resuming run" in resumed.stdout + resumed.stderr and "succeeded" in resumed.stdout
    state = json.loads((out / "checkpoint-6" / "trainer_state.json").read_text())
    assert state["global_step"] == 6
    steps = [e["step"] for e in state["log_history"] if "loss" in e]
    assert steps == [1, 2, 3, 4, 5, 6]  # steps 3 and 4 were trained again from checkpoint-2
    assert (out / "checkpoint-4" / "brd_lineage.json").is_file()
    with Store(store).reader() as con:
        rows = con.execute("select step from train_checkpoints where removed_at is null order by step").fetchall()
        status = con.execute("select status, last_step from train_runs").fetchall()
    assert rows == [(2,), (4,), (6,)] and status == [("succeeded", 6)]


def test_resume_before_the_first_checkpoint_starts_again(tmp_path, tiny_student, lm_mix):
    out, store = tmp_path / "out", tmp_path / "store"
    common = ["--mix", lm_mix, "--student", tiny_student, "--out", out, "--store", store, "--max-steps", "2"]
    train(*common, "--save-steps", "2")
    (out / "checkpoint-2" / "brd_lineage.json").unlink()  # the only checkpoint, cut short
    resumed = train("--resume", "--out", out, "--store", store)
    assert "succeeded" in resumed.stdout and (out / "checkpoint-2" / "brd_lineage.json").is_file()


def test_out_must_be_brds_or_empty(tmp_path, tiny_student, lm_mix):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("months of work")
    proc = refuse("--mix", lm_mix, "--student", tiny_student, "--out", mine, "--store", tmp_path / "s")
    assert proc.returncode == 1 and f"--out {mine}: exists, is not empty and was not made by brd" in proc.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.tex"]
    # a refused run leaves no folder behind, marker included
    proc = refuse("--mix", lm_mix, "--student", tmp_path / "nope", "--out", tmp_path / "fresh")
    assert proc.returncode == 1 and not (tmp_path / "fresh").exists()
    other = tmp_path / "a-mixture"
    other.mkdir()
    (other / MARKER).write_text(json.dumps({"brd_output": "mixture", "format_version": 1}))
    (other / "x").write_text("x")
    proc = refuse("--mix", lm_mix, "--student", tiny_student, "--out", other, "--store", tmp_path / "s")
    assert proc.returncode == 1 and "holds a brd mixture, not a training output" in proc.stderr
