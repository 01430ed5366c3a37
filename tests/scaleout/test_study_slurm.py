"""`brd study` with `executor: {kind: slurm}`: ingest and annotation go through sbatch (each stage
waits for its commit job), then mixing, training and evaluation run here, on a demo-sized study
(the scripted teacher, a tiny random student)."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import run_brd

pytestmark = pytest.mark.slow


def test_a_study_runs_its_ingest_and_annotation_on_slurm(slurm, teacher, tmp_path):
    from brd_data.annotate.teacher import prepare
    from brd_train.train.tiny import make_tiny_student

    student = make_tiny_student(tmp_path / "tiny", prepare(), context=256)
    study = {
        "name": "slurm-mini",
        "description": "the demo's chain, ingest and annotation on Slurm",
        "corpus": {"paths": ["sample"], "passage_sentences": 3},
        "teacher": {
            "behaviours": ["ner", "qra"],
            "limit": 16,
            "extra_args": ["--endpoint", teacher.url, "--lang", "en", "--no-progress"],
        },
        "student": {"model": str(student), "label": "Tiny"},
        "training": {
            "max_steps": 2,
            "batch_size": 2,
            "max_length": 128,
            "save_steps": 2,
            "extra_args": ["--no-gradient-checkpointing", "--logging-steps", "1"],
        },
        "rows": [{"label": "Tiny-BRD", "mixture": "brd"}],
        "evaluation": {"tasks": {"rte": "sample"}, "bigbench": ["sample"], "limit": 4},
        "executor": {
            "kind": "slurm",
            "partition": slurm,
            "tasks": 4,
            "workers": 2,
            "annotate_tasks": 2,
            "gpu_partition": slurm,
            "sbatch_args": {"comment": "brd-study"},
        },
    }
    manifest = tmp_path / "slurm-mini.yaml"
    manifest.write_text(yaml.safe_dump(study), encoding="utf-8")
    store = tmp_path / "store"
    env = {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    before = len(teacher.requests)
    out = run_brd("study", str(manifest), "--store", str(store), env=env, timeout=1500).stdout
    assert "--executor slurm --tasks 4 --workers 2 --wait --sbatch-arg comment=brd-study --partition brd" in out
    assert "(ingest, slurm) succeeded" in out and "(annotate, slurm) succeeded" in out
    assert "Time per stage" in out and "report:" in out
    assert len(teacher.requests) - before == 32  # 16 English sentences x 2 behaviours, through Slurm
    runs = json.loads(
        run_brd("sql", "--store", str(store), "--format", "json", "select command, status, config from runs").stdout
    )
    scaled = [r for r in runs if r["command"] in ("ingest", "annotate")]
    assert {r["status"] for r in scaled} == {"succeeded"} and len(scaled) == 2
    assert all(r["config"]["executor"]["kind"] == "slurm" for r in scaled)  # brd sql -f json nests JSON
    report = (store / "report" / "README.md").read_text()
    assert "| Tiny-BRD |" in report
