"""BIG-bench tasks as evaluation tasks. Reading `task.json` the way BIG-bench's own reader does
(prefixes, string booleans, the choice permutation, duplicates, subtasks, and the examples
skipped with their reason) lives in `brd_data.contracts.bigbench`, shared with `brd tasks load`;
this module turns what it reads into scored items.

Also read here: the split files of `brd bigbench split` (`--task bigbench:TASK=DIR/TASK/test.jsonl`),
scored as the task `bigbench:TASK@SPLIT`.
"""

from __future__ import annotations

from pathlib import Path

from brd_data.contracts.bigbench import (
    BigBenchError,
    NotMultipleChoice,
    Skipped,
    TaskFile,
    read_task_file,
    read_task_folder,
)
from brd_data.contracts.bigbench import discover as discover_files
from brd_data.contracts.bigbench_split import read_split_file
from brd_data.contracts.identity import file_sha256

from .tasks import EvalItem, EvalTask

__all__ = [
    "BigBenchError",
    "NotMultipleChoice",
    "Skipped",
    "discover",
    "load_split_task",
    "load_task",
    "load_task_folder",
]


def to_eval_task(tf: TaskFile) -> EvalTask:
    items = [
        EvalItem(
            example_id=ex.example_id,
            prompt=ex.prompt,
            candidates=ex.candidates,
            answer_prefix="",  # candidates follow example_output_prefix directly
            gold=ex.gold,
            target_scores=ex.target_scores,
            where=ex.where,
        )
        for ex in tf.examples
    ]
    return EvalTask(
        name=tf.name,
        kind="bigbench_subtask" if tf.parent else "bigbench",
        metric="multiple_choice_grade",
        source=str(tf.path.resolve()),
        source_sha256=tf.sha256,
        template_hash=tf.template_hash,
        items=items,
        n_skipped=tf.n_skipped,
        skip_reasons=dict(tf.skipped.most_common()),
        parent=tf.parent,
        notes=list(tf.notes),
        extra={"n_examples_in_file": tf.n_in_file},
    )


def load_task(task_json: str | Path, limit: int | None = None, name: str | None = None) -> EvalTask:
    """One BIG-bench task file. Raises NotMultipleChoice when no example can be scored."""
    return to_eval_task(read_task_file(task_json, limit, name=name))


def load_task_folder(folder: str | Path, limit: int | None = None) -> list[EvalTask]:
    """A task folder (or its task.json): one task, or its subtasks when it has some."""
    files, _ = read_task_folder(folder, limit)
    return [to_eval_task(f) for f in files]


def discover(
    root: str | Path, limit: int | None = None, only: list[str] | None = None
) -> tuple[list[EvalTask], list[Skipped]]:
    """Every multiple-choice task under `root` (or the task folders `only` names) and every task or
    subtask skipped, with its reason."""
    files, skipped = discover_files(root, limit, only)
    return [to_eval_task(f) for f in files], skipped


def load_split_task(name: str, source: str, limit: int | None = None) -> EvalTask:
    """`bigbench:TASK=FILE`: one split file of `brd bigbench split`, scored as `bigbench:TASK@SPLIT`."""
    path = Path(source)
    folder = name.removeprefix("bigbench:")
    records = list(read_split_file(path, task=folder))
    if not records:
        raise BigBenchError(f"{path}: no examples")
    splits = sorted({r.split for r in records})
    hashes = sorted({r.template_hash for r in records})
    if len(splits) > 1 or len(hashes) > 1:
        raise BigBenchError(f"{path}: lines of several splits or prompt settings; split the task again")
    items = [
        EvalItem(
            example_id=r.example_id,
            prompt=r.prompt,
            candidates=r.candidates,
            answer_prefix="",
            gold=r.gold,
            target_scores=r.target_scores,
            where=r.where,
        )
        for r in records[:limit]
    ]
    return EvalTask(
        name=f"bigbench:{folder}@{splits[0]}",
        kind="bigbench",
        metric="multiple_choice_grade",
        source=str(path.resolve()),
        source_sha256=file_sha256(path),
        template_hash=hashes[0],
        items=items,
        extra={"split": splits[0]},
    )
