"""The SFT baseline: gold labels -> d_sft -> `brd mix build sft` -> `brd train` with the loss on the
completion only."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from .conftest import TASKS, rows, train

pytestmark = pytest.mark.slow


def test_gold_labels_train_with_the_prompt_masked(brd, tmp_path, tiny_student):
    store, mix, out = tmp_path / "store", tmp_path / "mix", tmp_path / "out"
    brd("tasks", "load", f"rte={TASKS / 'rte.jsonl'}", f"sst2={TASKS / 'sst2.jsonl'}", "--limit", "8", "--store", store)
    brd("mix", "build", "sft", "--store", store, "--out", mix, "--quiet")
    manifest = json.loads((mix / "manifest.json").read_text())
    assert manifest["kind"] == "sft" and manifest["rows"] == 16
    table = pq.read_table(sorted((mix / "data").glob("train-*.parquet"))).to_pylist()
    gold = {
        f"{t}/{e}": (p, g) for t, e, p, g in rows(store, "select task, example_id, prompt, gold from task_examples")
    }
    assert {r["passage_id"]: (r["prompt"], r["completion"]) for r in table} == {
        k: (p, f" {g}") for k, (p, g) in gold.items()
    }

    # the loss covers the completion only: labels are -100 over every prompt token
    from transformers import AutoTokenizer

    from brd_train.train import TrainConfig, prepare
    from brd_train.train.runner import build_trainer, load_student_model

    tok = AutoTokenizer.from_pretrained(tiny_student)
    prep = prepare(
        TrainConfig(
            mix=mix,
            student=str(tiny_student),
            out=tmp_path / "probe",
            max_length=128,
            packing=False,
            max_steps=1,
            allow_tokenizer_mismatch=True,
        )
    )
    ds = build_trainer(prep, load_student_model(prep)).train_dataset
    assert len(ds) == len(table)
    for ex, r in zip(ds, table):  # the trainer keeps the mixture's row order
        n_prompt = len(tok(r["prompt"])["input_ids"])
        assert ex["labels"][:n_prompt] == [-100] * n_prompt
        assert (
            tok.decode([t for t, lb in zip(ex["input_ids"], ex["labels"]) if lb != -100])
            == r["completion"] + tok.eos_token
        )

    train(
        "--mix", mix, "--student", tiny_student, "--out", out, "--store", store, "--max-steps", "2", "--save-steps", "2"
    )
    lin = json.loads((out / "checkpoint-2" / "brd_lineage.json").read_text())
    assert lin["mixture_hash"] == manifest["mixture_hash"] and lin["mixture_kind"] == "sft"
    assert lin["config"]["derived"]["loss"] == "completion only"
    assert rows(store, "select mixture_name, mixture_kind, status, last_step from train_runs") == [
        ("sft", "sft", "succeeded", 2)
    ]
