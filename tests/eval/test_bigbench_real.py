"""The real BIG-bench folder (the bigbench==1.0.0 sdist from PyPI, cached outside the repository):
a directory run scores every multiple-choice task and lists every skip, the paper's task-set rule
gives the shipped list, and the reduced set splits 80/10/10 reproducibly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from brd_data.contracts.bigbench import BigBenchError, fixed_answer_tasks, load_taskset, read_task_file
from brd_data.contracts.bigbench_split import read_split_file, write_splits
from brd_data.contracts.paths import manifests_dir

from ..conftest import run_brd
from .test_eval_store import rows

pytestmark = pytest.mark.slow

# The six that stopped brd's reader at main 91437d8, one subtask among them
ONCE_ABORTING = {
    "bigbench:contextual_parametric_knowledge_conflicts",
    "bigbench:cryobiology_spanish",
    "bigbench:identify_odd_metaphor",
    "bigbench:logic_grid_puzzle",
    "bigbench:parsinlu_qa",
    "bigbench:real_or_fake_text:easy",
}


def multiple_choice_units(root: Path) -> tuple[set[str], set[str]]:
    """Without brd's reader, from the bytes: (task folders, task units) whose task.json mentions
    target_scores (BIG-bench's multiple-choice field); a parent task (no "examples") has its
    subtask folders as units."""
    folders, units = set(), set()
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        top = folder / "task.json"
        if not top.is_file():
            continue
        data = top.read_bytes()
        files = [top] if re.search(rb'"examples"\s*:', data) else sorted(folder.glob("*/task.json"))
        for f in files:
            if re.search(rb'"target_scores"\s*:', data if f == top else f.read_bytes()):
                folders.add(folder.name)
                units.add(str(f.relative_to(root)))
    return folders, units


def test_the_full_folder_scores_every_multiple_choice_task_and_lists_every_skip(tmp_path, bigbench_tasks, tiny_dir):
    store = tmp_path / "store"
    proc = run_brd(
        "eval",
        "--model",
        tiny_dir,
        "--bigbench",
        bigbench_tasks,
        "--limit",
        2,
        "--threads",
        1,
        "--store",
        store,
        timeout=1800,
    )
    folders, units = multiple_choice_units(bigbench_tasks)
    got = rows(store, "select task, task_kind, parent_task, source, n, n_skipped, skip_reasons from eval_results")
    parents = {r["parent_task"] for r in got if r["parent_task"]}
    scored_units = {str(Path(r["source"]).relative_to(bigbench_tasks)) for r in got if r["task"] not in parents}
    top = {r["task"].split(":")[1] for r in got if r["task_kind"] == "bigbench"}
    print(
        f"\nfolders {len(list(p for p in bigbench_tasks.iterdir() if p.is_dir()))}, multiple-choice folders "
        f"{len(folders)}, units {len(units)}; scored: {len(top)} tasks, {len(scored_units)} units"
    )
    assert top == folders  # every task folder with a multiple-choice example is scored
    assert scored_units == units  # and every such subtask
    assert ONCE_ABORTING <= {r["task"] for r in got}
    assert all(r["n"] == 2 or r["parent_task"] is None and r["task_kind"] == "bigbench" for r in got)
    # every folder not scored is listed with its reason, and so is every task that left examples out
    skipped_lines = [line for line in proc.stderr.splitlines() if line.startswith("  skip ")]
    listed = {line.split(":")[0].removeprefix("  skip ") for line in skipped_lines}
    every = {p.name for p in bigbench_tasks.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    assert every - folders <= listed
    cryo = next(r for r in got if r["task"] == "bigbench:cryobiology_spanish")
    assert json.loads(cryo["skip_reasons"]) == {
        "an empty candidate (BIG-bench would score it log p = 0, so it would always win)": 1
    }
    assert "bigbench:cryobiology_spanish: 1 an empty candidate" in proc.stderr
    assert "note bigbench:identify_odd_metaphor: append_choices_to_input is 'false'" in proc.stderr
    assert "BIG-bench-Avg" in proc.stdout and f"mean of {len(folders)} tasks" in proc.stdout


def test_the_fixed_answer_rule_gives_the_shipped_list(bigbench_tasks):
    verdicts = fixed_answer_tasks(bigbench_tasks)
    chosen = [v.task for v in verdicts if v.fixed_answer]
    shipped = yaml.safe_load((manifests_dir() / "bigbench" / "fixed-answer.yaml").read_text())
    print(f"\nfixed-answer rule: {len(chosen)} of {len(verdicts)} task folders (the paper reports 73)")
    assert chosen == shipped["tasks"] and shipped["count"] == len(chosen) == 107
    assert set(load_taskset("reduced").tasks) <= set(chosen)  # Table 9's tasks are among them
    reasons = {v.task: v.reason for v in verdicts}
    assert reasons["checkmate_in_one"] == "preferred score is 'exact_str_match', not multiple_choice_grade"
    assert reasons["strategyqa"] == "also scored on generated text (bleu, rouge)"
    assert reasons["boolean_expressions"] == "no task.json (a programmatic task)"


def test_the_reduced_set_splits_80_10_10_reproducibly(tmp_path, bigbench_tasks):
    ts = load_taskset("reduced")
    assert ts.split == {"train": 0.8, "tuning": 0.1, "test": 0.1}
    out = tmp_path / "splits"
    first = write_splits(bigbench_tasks, ts, out, echo=lambda m: None)
    assert first.status == "written" and sorted(first.tasks) == sorted(ts.tasks)
    for name in ts.tasks:
        entry = first.tasks[name]
        n = entry["usable"]
        sizes = {s: entry["splits"][s]["rows"] for s in ("train", "tuning", "test")}
        assert sizes == {"train": n - 2 * round(n / 10), "tuning": round(n / 10), "test": round(n / 10)}, name
    for name in ("winowhy", "play_dialog_same_or_different"):  # read back in full: disjoint and complete
        task = read_task_file(bigbench_tasks / name)
        parts = {s: list(read_split_file(out / name / f"{s}.jsonl", task=name)) for s in ("train", "tuning", "test")}
        keys = [r.position for v in parts.values() for r in v]
        assert sorted(keys) == sorted(ex.position for ex in task.examples)
        by_pos = {ex.position: ex for ex in task.examples}
        r = parts["test"][0]
        assert r.prompt == by_pos[r.position].prompt and r.gold == by_pos[r.position].gold
    again = write_splits(bigbench_tasks, ts, out, echo=lambda m: None)
    assert again.status == "unchanged"
    other = write_splits(bigbench_tasks, ts, tmp_path / "seed1", seed=1, echo=lambda m: None)
    assert other.tasks["winowhy"]["splits"]["test"]["sha256"] != first.tasks["winowhy"]["splits"]["test"]["sha256"]
    # a folder brd did not write is never replaced
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(BigBenchError, match="not a brd BIG-bench split folder"):
        write_splits(bigbench_tasks, ts, foreign, echo=lambda m: None)
    assert (foreign / "notes.txt").read_text() == "keep me"
