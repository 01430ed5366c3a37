"""Task readers: the six fixtures through the Table 8 templates, BIG-bench task.json read natively,
and every bad input named by file and field."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from brd_data.contracts.errors import UserError
from brd_data.tasks import TaskError, load_task_spec
from brd_train.eval.bigbench import BigBenchError, NotMultipleChoice, discover, load_task, load_task_folder
from brd_train.eval.evaluate import TaskResult, collect_tasks, parent_rows
from brd_train.eval.scoring import CandidateScore
from brd_train.eval.tasks import load_template_task, parse_hub_ref, parse_task_arg

from .conftest import BIGBENCH_DIR, PAPER_TASKS, TASKS_DIR


def write_task(folder, payload) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    text = payload if isinstance(payload, str) else json.dumps(payload)
    (folder / "task.json").write_text(text, encoding="utf-8")
    return str(folder / "task.json")


MC = {"name": "toy", "examples": [{"input": "2 + 2 =", "target_scores": {"4": 1, "5": 0}}]}


@pytest.mark.parametrize("name", PAPER_TASKS)
def test_fixtures_render_through_the_table8_templates(name):
    task = load_template_task(name, str(TASKS_DIR / f"{name}.jsonl"))
    spec = load_task_spec(name)
    assert 24 <= len(task.items) <= 40
    assert task.template_hash == spec.template_hash and task.metric == "accuracy"
    golds = [it.gold for it in task.items]
    assert set(golds) == set(spec.labels.values())  # every label is represented
    first = task.items[0]
    assert first.prompt.endswith("Answer:") and first.continuations == tuple(" " + c for c in spec.candidates)
    assert first.target_scores == tuple(1.0 if c == first.gold else 0.0 for c in spec.candidates)


def test_the_three_real_bigbench_tasks_parse():
    tasks, skipped = discover(BIGBENCH_DIR)
    assert skipped == []
    by = {t.name: t for t in tasks}
    assert {n: len(t.items) for n, t in by.items()} == {
        "bigbench:anachronisms": 230,
        "bigbench:analytic_entailment": 70,
        "bigbench:emoji_movie": 100,
    }
    ae = by["bigbench:analytic_entailment"].items[0]
    assert ae.prompt.startswith(
        "Determine whether the following pairs of sentences embody an entailment relation or not.\n\nSentences: "
    )
    assert ae.prompt.endswith("\nRelation: ") and ae.candidates == ("entailment", "no-entailment")
    assert ae.gold == "no-entailment" and ae.answer_prefix == ""
    an = by["bigbench:anachronisms"].items[0]
    assert an.prompt == (
        "\nDuring the Allied bombardment of the beaches of Iwo Jima, Ralph spoke loudly into his radio."
        "\nDoes the preceding sentence contain non-contemporaneous (anachronistic) elements?\n"
    )
    em = by["bigbench:emoji_movie"].items[0]  # defaults, with the choices appended
    assert em.prompt.startswith("\nQ: What movie does this emoji describe?") and em.prompt.endswith("\nA: ")
    assert em.prompt.count("\n  choice: ") == 5 and "finding nemo" in em.prompt
    assert all(t.metric == "multiple_choice_grade" and t.source_sha256 for t in tasks)


def test_fractional_target_scores_are_kept_and_the_gold_is_the_best(tmp_path):
    path = write_task(
        tmp_path / "frac", {"examples": [{"input": "Pick.", "target_scores": {"good": 0.5, "best": 1.0, "bad": 0}}]}
    )
    (item,) = load_task(path).items
    assert item.target_scores == (0.5, 1.0, 0.0) and item.gold == "best"
    assert (
        item.prompt
        == "\nQ: Pick.\n  choice: "
        + "\n  choice: ".join(np.random.RandomState(42).permutation(["bad", "best", "good"]))
        + "\nA: "
    )


def test_choices_are_permuted_by_a_fresh_generator_for_every_example(tmp_path):
    """BIG-bench's format function seeds RandomState(42) inside, per example: every example with n
    choices shows them in the same permuted order (not a generator advanced through the file)."""
    cands = ["w", "x", "y", "z"]
    examples = [{"input": f"q{i}", "target_scores": {c: float(c == "x") for c in cands}} for i in range(3)]
    task = load_task(write_task(tmp_path / "perm", {"examples": examples}))
    shown = "\n  choice: ".join(np.random.RandomState(42).permutation(cands))
    assert [it.prompt for it in task.items] == [f"\nQ: q{i}\n  choice: {shown}\nA: " for i in range(3)]
    advanced = np.random.RandomState(42)
    orders = ["\n  choice: ".join(advanced.permutation(cands)) for _ in range(3)]
    assert len(set(orders)) > 1  # the old, advanced generator would have differed


def test_fields_read_as_bigbench_reads_them(tmp_path):
    # "false" as a string: BIG-bench tests it for truth, so choices ARE appended (as it published)
    task = load_task(write_task(tmp_path / "strbool", {**MC, "append_choices_to_input": "false", "task_prefix": 7}))
    (item,) = task.items
    assert item.prompt.startswith("7\nQ: 2 + 2 =\n  choice: ") and item.prompt.endswith("\nA: ")
    assert task.notes == ["append_choices_to_input is 'false' (str); read as True like BIG-bench's reader does"]
    # a real false, and custom prefixes
    task = load_task(
        write_task(
            tmp_path / "prefixes",
            {**MC, "append_choices_to_input": False, "example_input_prefix": "Q) ", "example_output_prefix": " =>"},
        )
    )
    assert task.items[0].prompt == "Q) 2 + 2 = =>" and task.notes == []


def test_irregular_examples_are_skipped_one_by_one_with_their_reason(tmp_path):
    good = MC["examples"][0]
    examples = [
        good,
        good,  # an exact duplicate: BIG-bench drops it
        {"input": "Say hi", "target": "hi"},  # generative
        {"input": "q", "target_scores": {"a": "yes", "b": 0}},  # not a number
        {"input": "q", "target_scores": {"a": 0, "b": 0}},  # no correct choice
        {"input": "q", "target_scores": {"a": 1}},  # one candidate
        {"input": "q", "target_scores": {"a": 1, "": 0}},  # an empty candidate
        {"target_scores": {"a": 1, "b": 0}},  # no input
        {"input": "3 + 3 =", "target_scores": {"6": 1, " ": 0}},  # a space is a candidate like any other
    ]
    task = load_task(write_task(tmp_path / "irregular", {"examples": examples}))
    assert [it.example_id for it in task.items] == ["0", "8"] and task.n_skipped == 7
    assert task.skip_reasons == {
        "duplicate of an earlier example (BIG-bench drops it)": 1,
        "no target_scores (a generative example)": 1,
        "a target score is not a number": 1,
        "no correct choice (every candidate scores the same; BIG-bench stops on it)": 1,
        "one candidate only: nothing to choose": 1,
        "an empty candidate (BIG-bench would score it log p = 0, so it would always win)": 1,
        "input is missing or not a string": 1,
    }
    # --limit keeps the first usable examples and still counts every skip in the file
    limited = load_task(write_task(tmp_path / "irregular2", {"examples": examples}), limit=1)
    assert len(limited.items) == 1 and limited.n_skipped == 7


def test_generative_examples_are_skipped_and_counted(tmp_path):
    path = write_task(tmp_path / "mixed", {"examples": [MC["examples"][0], {"input": "Say hi", "target": "hi"}]})
    task = load_task(path)
    assert len(task.items) == 1 and task.n_skipped == 1


def test_subtasks_are_scored_and_averaged_into_their_task(tmp_path):
    root = tmp_path / "parent"
    write_task(root, {"name": "parent", "description": "has subtasks"})
    write_task(root / "a", {**MC, "name": "first"})  # BIG-bench names a subtask by its own `name`
    write_task(root / "b", {**MC, "name": "second", "examples": [MC["examples"][0], {**MC["examples"][0], "x": 1}]})
    write_task(root / "c", {**MC, "name": "second"})  # a duplicate name stays apart, by its folder
    subs = load_task_folder(root)
    assert [t.name for t in subs] == ["bigbench:parent:first", "bigbench:parent:second", "bigbench:parent:second@c"]
    assert all(t.kind == "bigbench_subtask" and t.parent == "bigbench:parent" for t in subs)
    results = [
        TaskResult(subs[0], [[CandidateScore(1, 1, -1.0)] * 2], [0], [1.0], 1.0, 1),
        TaskResult(subs[1], [[CandidateScore(1, 1, -1.0)] * 2] * 2, [0, 1], [1.0, 0.0], 0.5, 2),
    ]
    (row,) = parent_rows({}, results)
    assert row["task"] == "bigbench:parent" and row["accuracy"] == 0.75 and row["n"] == 3
    assert row["ci_method"] == "wilson-stratified" and 0 < row["ci_low"] < 0.75 < row["ci_high"] <= 1


# -- bad input: each error names the file and the field -------------------------------------------


def test_malformed_task_json(tmp_path):
    path = write_task(tmp_path / "broken", '{"examples": [{"input": "a", "target_scores": {"x": 1,}}]}')
    with pytest.raises(BigBenchError, match=r"broken/task.json: invalid JSON at line 1 column \d+"):
        load_task(path)
    path = write_task(tmp_path / "noexamples", {"name": "x"})
    with pytest.raises(BigBenchError, match=r"noexamples/task.json: missing field 'examples'"):
        load_task(path)
    with pytest.raises(BigBenchError, match=r"noexamples/task.json: has neither examples nor subtask folders"):
        load_task_folder(tmp_path / "noexamples")
    path = write_task(tmp_path / "badprefix", {**MC, "example_output_prefix": 3})
    with pytest.raises(BigBenchError, match=r"badprefix/task.json: field 'example_output_prefix' must be a string"):
        load_task(path)
    path = write_task(tmp_path / "unusable", {"examples": [{"input": "q", "target_scores": {"a": 1}}]})
    with pytest.raises(NotMultipleChoice, match=r"unusable/task.json: no example can be scored \(1 one candidate"):
        load_task(path)


def test_a_directory_run_skips_every_unusable_task_with_its_reason(tmp_path):
    shutil.copytree(BIGBENCH_DIR / "emoji_movie", tmp_path / "emoji_movie")
    write_task(tmp_path / "zz_broken", "[1, 2")
    write_task(tmp_path / "badprefix", {**MC, "choice_prefix": None})
    write_task(tmp_path / "generative", {"examples": [{"input": "Say hi", "target": "hi"}]})
    write_task(tmp_path / "parent", {"name": "parent"})
    write_task(tmp_path / "parent" / "ok", {**MC, "name": "ok"})
    write_task(tmp_path / "parent" / "gen", {"name": "gen", "examples": [{"input": "Say hi", "target": "hi"}]})
    (tmp_path / "programmatic").mkdir()
    (tmp_path / "programmatic" / "task.py").write_text("# a programmatic task\n")
    tasks, skipped = discover(tmp_path)
    assert [t.name for t in tasks] == ["bigbench:emoji_movie", "bigbench:parent:ok"]
    reasons = {s.name: s.reason for s in skipped}
    assert sorted(reasons) == ["badprefix", "generative", "parent/gen", "programmatic", "zz_broken"]
    assert reasons["zz_broken"].startswith("invalid JSON at line 1")
    assert reasons["badprefix"] == "field 'choice_prefix' must be a string, found NoneType"
    assert "no multiple-choice examples" in reasons["generative"] and "no multiple-choice" in reasons["parent/gen"]
    assert reasons["programmatic"] == "no task.json (a programmatic task)"
    # one task folder given alone raises its error
    with pytest.raises(NotMultipleChoice, match=r"generative/task.json: has no multiple-choice examples"):
        discover(tmp_path / "generative")
    with pytest.raises(BigBenchError, match=r"zz_broken/task.json: invalid JSON"):
        discover(tmp_path / "zz_broken")


def test_a_task_set_selects_folders(tmp_path):
    shutil.copytree(BIGBENCH_DIR, tmp_path / "bb")
    tasks, skipped = discover(tmp_path / "bb", only=["emoji_movie", "anachronisms"])
    assert [t.name for t in tasks] == ["bigbench:emoji_movie", "bigbench:anachronisms"] and skipped == []
    with pytest.raises(BigBenchError, match=r"no task folder 'winowhy'"):
        discover(tmp_path / "bb", only=["winowhy"])


def test_an_empty_template_candidate(tmp_path):
    spec = tmp_path / "mine.yaml"
    spec.write_text("name: mine\ntemplate: '{sentence} Answer:'\ncandidates: ['good', '']\nfields: [sentence]\n")
    with pytest.raises(TaskError, match=r"mine.yaml: candidates: candidate 1 is empty"):
        load_template_task(str(spec), str(TASKS_DIR / "sst2.jsonl"))


def test_a_label_outside_the_label_set(tmp_path):
    f = tmp_path / "sst2.jsonl"
    f.write_text(
        json.dumps({"sentence": "fine .", "label": 1}) + "\n" + json.dumps({"sentence": "odd .", "label": 5}) + "\n"
    )
    with pytest.raises(TaskError, match=r"sst2.jsonl line 2: field 'label' = 5 is not a label of sst2"):
        load_template_task("sst2", str(f))


def test_a_template_placeholder_missing_from_the_data(tmp_path):
    f = tmp_path / "pawsx.jsonl"
    f.write_text(json.dumps({"sentence1": "A.", "label": 1}) + "\n")
    with pytest.raises(TaskError, match=r"pawsx.jsonl line 1: field 'sentence2' is missing"):
        load_template_task("pawsx", str(f))


def test_task_arguments():
    assert parse_task_arg("xnli=data/x.jsonl") == ("xnli", "data/x.jsonl")
    assert parse_task_arg("boolq") == ("boolq", None)
    assert parse_hub_ref("hf:super_glue:rte@validation") == {"path": "super_glue", "name": "rte", "split": "validation"}
    assert parse_hub_ref("hf:google/boolq") == {"path": "google/boolq", "name": None, "split": None}
    with pytest.raises(TaskError, match="empty PATH"):
        parse_task_arg("xnli=")
    with pytest.raises(TaskError, match=r"task xnli: the hub is offline"):
        load_template_task("xnli", None)  # tests run with HF_HUB_OFFLINE=1
    with pytest.raises(UserError, match="task sst2 is given twice"):
        collect_tasks([f"sst2={TASKS_DIR / 'sst2.jsonl'}"] * 2, [], None)


def test_parquet_with_hugging_face_fields_reads_like_jsonl(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = [json.loads(line) for line in (TASKS_DIR / "boolq.jsonl").read_text().splitlines()]
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "boolq.parquet")
    from_parquet = load_template_task("boolq", str(tmp_path / "boolq.parquet"))
    from_jsonl = load_template_task("boolq", str(TASKS_DIR / "boolq.jsonl"))
    assert [(i.prompt, i.gold, i.example_id) for i in from_parquet.items] == [
        (i.prompt, i.gold, i.example_id) for i in from_jsonl.items
    ]
    assert from_parquet.source_sha256 != from_jsonl.source_sha256
