"""Table 9's settings on the real BIG-bench: a task of the reduced set split 80/10/10, its train
split loaded as task examples, the SFT chain trained on it, the student scored on the held-out
test split; the same split file is the task-distillation input and BRD²'s corpus."""

from __future__ import annotations

import json

import pytest

from brd_data.contracts.bigbench import load_taskset
from brd_data.contracts.bigbench_split import read_split_file
from tests.eval.conftest import bigbench_tasks  # noqa: F401  (the real folder, fetched once)

from .conftest import rows, train

pytestmark = pytest.mark.slow


def test_sft_on_a_reduced_set_split_scored_on_its_test_split(brd, tmp_path, bigbench_tasks, tiny_student):  # noqa: F811
    store, splits = tmp_path / "store", tmp_path / "splits"
    proc = brd("bigbench", "split", "reduced", "--out", splits, "--bigbench", bigbench_tasks)
    assert "winowhy: 2862 examples -> train 2290, tuning 286, test 286" in proc.stdout
    assert set(json.loads((splits / "split.json").read_text())["tasks"]) == set(load_taskset("reduced").tasks)
    train_file, test_file = splits / "winowhy" / "train.jsonl", splits / "winowhy" / "test.jsonl"

    # the train split as task examples (SFT's gold labels; task distillation's prompts)
    out = brd("tasks", "load", f"bigbench:winowhy={train_file}", "--limit", "8", "--store", store)
    assert "bigbench:winowhy (train) <- " in out.stdout and "8 examples loaded" in out.stdout
    loaded = rows(store, "select task, split, example_id, prompt, candidates, gold, answer_prefix from task_examples")
    records = {r.example_id: r for r in read_split_file(train_file)}
    assert len(loaded) == 8
    for task, split, ex_id, prompt, cands, gold, prefix in loaded:
        rec = records[ex_id]
        assert (task, split, prefix) == ("bigbench:winowhy", "train", "")
        assert prompt == rec.prompt and cands == list(rec.candidates) and gold == rec.gold
    # a test split is never loaded as training data by mistake
    wrong = brd("tasks", "load", f"bigbench:winowhy={test_file}", "--store", store, check=False)
    assert wrong.returncode == 1 and "an example of the test split; load this file with --split test" in wrong.stderr
    # ... and the rows the task-distillation annotator would ask the teacher about are these prompts
    units = rows(store, "select count(distinct text_hash) from task_examples where split = 'train'")
    assert units == [(8,)]

    # SFT: gold labels -> mixture -> two training steps
    mix, student = tmp_path / "mix", tmp_path / "student"
    brd("mix", "build", "sft", "--store", store, "--out", mix, "--quiet")
    manifest = json.loads((mix / "manifest.json").read_text())
    assert manifest["kind"] == "sft" and manifest["rows"] == 8
    train(
        "--mix",
        mix,
        "--student",
        tiny_student,
        "--out",
        student,
        "--store",
        store,
        "--max-steps",
        "2",
        "--save-steps",
        "2",
    )

    # the student on the held-out test split: task bigbench:winowhy@test, with its interval
    ev = brd(
        "eval",
        "--model",
        student / "checkpoint-2",
        "--task",
        f"bigbench:winowhy={test_file}",
        "--limit",
        "8",
        "--store",
        store,
        "--threads",
        "1",
    )
    assert "bigbench:winowhy@test" in ev.stdout
    (res,) = rows(store, "select task, task_kind, n, accuracy, ci_low, ci_high, mixture_kind from eval_results")
    assert res[:3] == ("bigbench:winowhy@test", "bigbench", 8) and res[4] <= res[3] <= res[5]
    assert res[6] == "sft"

    # BRD²: the same train split is a corpus (its inputs), ingested like any JSONL
    brd("ingest", train_file, "--text-field", "input", "--lang", "en", "--store", store)
    (n_docs,) = rows(store, "select count(*) from documents")[0]
    assert n_docs == 2290
