"""Table 8 templates and task files."""

from __future__ import annotations

import json

import pytest

from brd_data.tasks import TaskError, available_tasks, load_examples, load_task_spec

PAPER_TASKS = ["boolq", "cb", "pawsx", "rte", "sst2", "xnli"]


def test_the_six_paper_tasks_load():
    assert set(PAPER_TASKS) <= set(available_tasks())
    cands = {t: load_task_spec(t).candidates for t in PAPER_TASKS}
    assert cands["xnli"] == cands["rte"] == cands["cb"] == ("Yes", "No", "Maybe")
    assert cands["pawsx"] == cands["boolq"] == ("Yes", "No")
    assert cands["sst2"] == ("positive", "negative")


def test_render_and_gold(tmp_path):
    f = tmp_path / "cb.jsonl"
    f.write_text(json.dumps({"premise": "It rained.", "hypothesis": "The ground is wet.", "label": 2}) + "\n")
    (ex,) = load_examples(load_task_spec("cb"), f)
    assert ex.prompt == 'Question: Can we infer that "The ground is wet." ? It rained. Answer:'
    assert ex.gold == "Maybe"


def test_boolq_reads_boolean_answers(tmp_path):
    f = tmp_path / "b.jsonl"
    f.write_text(json.dumps({"passage": "P.", "question": "q", "answer": True}) + "\n")
    assert load_examples(load_task_spec("boolq"), f)[0].gold == "Yes"


def test_missing_placeholder_field_names_file_row_and_field(tmp_path):
    f = tmp_path / "rte.jsonl"
    f.write_text(
        json.dumps({"premise": "A.", "hypothesis": "B.", "label": 0})
        + "\n"
        + json.dumps({"premise": "A.", "label": 0})
        + "\n"
    )
    with pytest.raises(TaskError, match=r"rte.jsonl line 2: field 'hypothesis' is missing"):
        load_examples(load_task_spec("rte"), f)


def test_label_outside_the_label_set(tmp_path):
    f = tmp_path / "sst2.jsonl"
    f.write_text(json.dumps({"sentence": "Great.", "label": 7}) + "\n")
    with pytest.raises(TaskError, match=r"sst2.jsonl line 1: field 'label' = 7 is not a label of sst2"):
        load_examples(load_task_spec("sst2"), f)


def test_empty_candidate_and_unknown_task(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntemplate: '{x} Answer:'\ncandidates: ['Yes', '']\nfields: [x]\n")
    with pytest.raises(TaskError, match="candidate 1 is empty"):
        load_task_spec(str(bad))
    with pytest.raises(TaskError, match="unknown task 'nope'; valid: .*sst2"):
        load_task_spec("nope")
