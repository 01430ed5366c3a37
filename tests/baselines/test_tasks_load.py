"""`brd tasks load`: task files rendered with their Table 8 template into `task_examples`."""

from __future__ import annotations

import json

from brd_data.contracts.identity import text_hash
from brd_data.tasks import load_task_spec

from .conftest import TASKS, rows, write_jsonl


def one_line_error(proc, *needles: str) -> None:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


def test_bad_input_is_one_line(brd, tmp_path):
    store = tmp_path / "store"
    one_line_error(brd("tasks", "load", "rte", "--store", store, check=False), "expected NAME=PATH")
    one_line_error(
        brd("tasks", "load", f"nope={TASKS / 'rte.jsonl'}", "--store", store, check=False),
        "unknown task 'nope'",
        "valid: boolq, cb",
    )
    one_line_error(
        brd("tasks", "load", f"rte={tmp_path / 'missing.jsonl'}", "--store", store, check=False),
        "missing.jsonl: no such file",
    )
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"premise": "a", "hypothesis": "b", "label": 0}\n{"premise": \n', encoding="utf-8")
    one_line_error(
        brd("tasks", "load", f"rte={broken}", "--store", store, check=False), "broken.jsonl line 2: invalid JSON"
    )
    unusable = write_jsonl(tmp_path / "unusable.jsonl", [{"premise": "only a premise", "label": 0}])
    one_line_error(
        brd("tasks", "load", f"rte={unusable}", "--store", store, check=False),
        "no usable rte examples",
        "line 1",
        "field 'hypothesis' is missing",
    )
    rte = str(TASKS / "rte.jsonl")
    one_line_error(
        brd("tasks", "load", f"rte={rte}", f"rte={rte}", "--store", store, check=False), "task 'rte' is given twice"
    )
    one_line_error(brd("tasks", "load", f"rte={rte}", "--split", "Train!", "--store", store, check=False), "--split")
    # nothing was written by any of these
    assert not (store / "brd.duckdb").exists() or rows(store, "select count(*) from task_examples") == [(0,)]


def test_load_renders_quarantines_and_reloads_idempotently(brd, tmp_path):
    store = tmp_path / "store"
    spec = load_task_spec("rte")
    records = [
        {
            "premise": "The museum opens at nine.",
            "hypothesis": "The museum opens in the morning.",
            "idx": 10,
            "label": 0,
        },
        {"premise": "No hypothesis here.", "idx": 11, "label": 1},  # missing field
        {"premise": "A cat sat.", "hypothesis": "A dog sat.", "idx": 12, "label": 7},  # not a label of rte
        {"premise": "Rain fell all day.", "hypothesis": "It was dry.", "idx": 10, "label": 1},  # id seen before
        {"premise": "Bread is baked.", "hypothesis": "Bread is cooked.", "idx": 13, "label": -1},  # unlabelled
        {"premise": "Snow is cold.", "hypothesis": "Snow is warm.", "idx": 14, "label": "not_entailment"},
    ]
    path = write_jsonl(tmp_path / "rte-train.jsonl", records)
    proc = brd("tasks", "load", f"rte={path}", "--store", store)
    assert "rte (train) <- " in proc.stdout and "3 examples loaded; 3 quarantined" in proc.stdout

    got = rows(
        store,
        "select example_id, position, prompt, text_hash, candidates, answer_prefix, gold, template_hash, "
        "split, source_file from task_examples order by position",
    )
    assert [(r[0], r[1], r[6]) for r in got] == [("10", 0, "Yes"), ("13", 4, None), ("14", 5, "No")]
    for r, rec in zip(got, (records[0], records[4], records[5])):
        assert r[2] == spec.render(rec) and r[3] == text_hash(r[2])
        assert r[4] == ["Yes", "No", "Maybe"] and r[5] == " " and r[7] == spec.template_hash
        assert r[8] == "train" and r[9] == str(path)
    quarantined = rows(store, "select stage, location, reason, raw from quarantine order by location")
    assert [(q[0], q[1]) for q in quarantined] == [("task", "line 2"), ("task", "line 3"), ("task", "line 4")]
    assert "field 'hypothesis' is missing" in quarantined[0][2]
    assert "'label' = 7 is not a label of rte" in quarantined[1][2]
    assert "example id '10' appears twice" in quarantined[2][2]
    assert json.loads(quarantined[1][3])["label"] == 7  # the record as read

    # the same file again: nothing changes, no run is recorded
    n_runs = rows(store, "select count(*) from runs")
    again = brd("tasks", "load", f"rte={path}", "--store", store)
    assert "3 examples unchanged" in again.stdout
    assert rows(store, "select count(*) from runs") == n_runs
    assert rows(store, "select count(*) from quarantine") == [(3,)]

    # a changed file replaces the task's split; another split sits next to it; --limit
    write_jsonl(path, [records[0], records[5]])
    brd("tasks", "load", f"rte={path}", "--store", store)
    brd(
        "tasks",
        "load",
        f"rte={TASKS / 'rte.jsonl'}",
        f"sst2={TASKS / 'sst2.jsonl'}",
        "--split",
        "validation",
        "--limit",
        "4",
        "--store",
        store,
    )
    assert rows(store, "select task, split, count(*) from task_examples group by all order by all") == [
        ("rte", "train", 2),
        ("rte", "validation", 4),
        ("sst2", "validation", 4),
    ]
    assert "Task examples by task and split" in brd("status", "--store", store).stdout
