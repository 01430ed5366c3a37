"""BIG-bench JSON tasks, read natively from `task.json` (the format of the `bigbench` package's
`benchmark_tasks/<task>/task.json`).

A prompt is built the way BIG-bench's JSON tasks build a zero-shot query:
`task_prefix + example_input_prefix + input [+ choice_prefix + choices] + example_output_prefix`,
with BIG-bench's defaults (`"\\nQ: "`, `"\\nA: "`, `"\\n  choice: "`, choices appended unless
`append_choices_to_input` is false; appended choices are sorted and then shuffled by a
`RandomState(42)` advanced in file order). Each candidate (a `target_scores` key) follows the
output prefix directly. `multiple_choice_grade` credits the `target_scores` value of the predicted
candidate, so fractional scores count as they are. A task folder whose `task.json` has no
`examples` but subfolders with their own `task.json` is a task with subtasks: each subtask is
scored, and the task's grade is the mean over its subtasks.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brd_data.contracts.errors import UserError
from brd_data.contracts.identity import file_sha256

from .tasks import EvalItem, EvalTask

DEFAULTS = {
    "task_prefix": "",
    "example_input_prefix": "\nQ: ",
    "example_output_prefix": "\nA: ",
    "choice_prefix": "\n  choice: ",
}
SEED = 42


class BigBenchError(UserError):
    """A task.json that cannot be used; the message names the file and the field."""


class NotMultipleChoice(BigBenchError):
    """A task with no multiple-choice example (generative or programmatic)."""


@dataclass(frozen=True)
class Skipped:
    name: str
    path: str
    reason: str


def _load_json(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BigBenchError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise BigBenchError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise BigBenchError(f"{path}: cannot read ({exc.strerror})") from None
    if not isinstance(raw, dict):
        raise BigBenchError(f"{path}: expected a JSON object at the top level, found {type(raw).__name__}")
    return raw


def _settings(path: Path, raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, default in DEFAULTS.items():
        value = raw.get(key, default)
        if not isinstance(value, str):
            raise BigBenchError(f"{path}: field {key!r} must be a string, found {type(value).__name__}")
        out[key] = value
    append = raw.get("append_choices_to_input", True)
    if not isinstance(append, bool):
        raise BigBenchError(f"{path}: field 'append_choices_to_input' must be true or false")
    out["append_choices_to_input"] = append
    return out


def _target_scores(path: Path, i: int, value: Any) -> dict[str, float]:
    where = f"{path}: examples[{i}].target_scores"
    if not isinstance(value, dict) or not value:
        raise BigBenchError(f"{where} must be a non-empty object of candidate -> score")
    out = {}
    for j, (cand, score) in enumerate(value.items()):
        if not cand.strip():
            raise BigBenchError(f"{where}: candidate {j} is empty")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise BigBenchError(f"{where}[{cand!r}] must be a number, found {score!r}")
        out[cand] = float(score)
    return out


def load_task(task_json: str | Path, limit: int | None = None, name: str | None = None) -> EvalTask:
    """One BIG-bench task file. Raises NotMultipleChoice when no example has `target_scores`."""
    import numpy as np

    path = Path(task_json)
    if path.is_dir():
        path = path / "task.json"
    if not path.is_file():
        raise BigBenchError(f"{path}: no such file")
    raw = _load_json(path)
    task_name = name or f"bigbench:{raw.get('name') or path.parent.name}"
    if "examples" not in raw:
        raise BigBenchError(f"{path}: missing field 'examples'")
    examples = raw["examples"]
    if not isinstance(examples, list):
        raise BigBenchError(f"{path}: field 'examples' must be a list, found {type(examples).__name__}")
    cfg = _settings(path, raw)
    rng = np.random.RandomState(SEED)
    items: list[EvalItem] = []
    skipped = 0
    for i, ex in enumerate(examples):
        if not isinstance(ex, dict):
            raise BigBenchError(f"{path}: examples[{i}] must be an object")
        if not isinstance(ex.get("input"), str):
            raise BigBenchError(f"{path}: examples[{i}].input is missing or not a string")
        if "target_scores" not in ex:
            skipped += 1  # a generative example (only `target`): not multiple choice
            continue
        scores = _target_scores(path, i, ex["target_scores"])
        text = ex["input"]
        if cfg["append_choices_to_input"]:
            # advance the generator for every multiple-choice example, as BIG-bench does
            shown = rng.permutation(sorted(scores))
            text = text + cfg["choice_prefix"] + cfg["choice_prefix"].join(shown)
        if limit is not None and len(items) >= limit:
            continue
        prompt = cfg["task_prefix"] + cfg["example_input_prefix"] + text + cfg["example_output_prefix"]
        cands = tuple(scores)
        best = max(scores.values())
        gold = next(c for c in cands if scores[c] == best)
        items.append(
            EvalItem(
                example_id=str(ex.get("idx", i)),
                prompt=prompt,
                candidates=cands,
                answer_prefix="",
                gold=gold,
                target_scores=tuple(scores[c] for c in cands),
                where=f"{path} examples[{i}]",
            )
        )
    if not items:
        what = "has no examples" if not examples else "has no multiple-choice examples (none has target_scores)"
        raise NotMultipleChoice(f"{path}: {what}")
    template = json.dumps([cfg[k] for k in sorted(cfg)], ensure_ascii=False)
    return EvalTask(
        name=task_name,
        kind="bigbench",
        metric="multiple_choice_grade",
        source=str(path.resolve()),
        source_sha256=file_sha256(path),
        template_hash=hashlib.sha256(template.encode()).hexdigest()[:16],
        items=items,
        n_skipped=skipped,
        skip_reason="no target_scores (generative example)" if skipped else None,
        extra={"n_examples_in_file": len(examples)},
    )


def _subtask_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*/task.json") if p.is_file())


def load_task_folder(folder: str | Path, limit: int | None = None) -> list[EvalTask]:
    """A task folder (or its task.json): one task, or its subtasks when it has some."""
    folder = Path(folder)
    task_json = folder if folder.name == "task.json" else folder / "task.json"
    folder = task_json.parent
    if not task_json.is_file():
        raise BigBenchError(f"{folder}: no task.json (a programmatic task, or not a BIG-bench task folder)")
    raw = _load_json(task_json)
    subtasks = _subtask_files(folder)
    if "examples" in raw or not subtasks:
        return [load_task(task_json, limit)]
    parent = f"bigbench:{raw.get('name') or folder.name}"
    out, reasons = [], []
    for sub in subtasks:
        try:
            task = load_task(sub, limit, name=f"{parent}:{sub.parent.name}")
        except NotMultipleChoice as exc:
            reasons.append(str(exc))
            continue
        task.kind, task.parent = "bigbench_subtask", parent
        out.append(task)
    if not out:
        raise NotMultipleChoice(f"{task_json}: none of its {len(subtasks)} subtasks is multiple choice")
    return out


def discover(root: str | Path, limit: int | None = None) -> tuple[list[EvalTask], list[Skipped]]:
    """Every multiple-choice task under `root` (a folder of task folders, like the bigbench
    package's `benchmark_tasks`, or one task folder). Non-multiple-choice tasks and folders
    without task.json (programmatic tasks) are skipped and returned with their reason; a
    malformed task.json is an error."""
    root = Path(root)
    if not root.is_dir():
        raise BigBenchError(f"{root}: not a folder")
    if (root / "task.json").is_file():
        return load_task_folder(root, limit), []
    tasks: list[EvalTask] = []
    skipped: list[Skipped] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        if not (folder / "task.json").is_file():
            skipped.append(Skipped(folder.name, str(folder), "no task.json (programmatic task)"))
            continue
        try:
            tasks.extend(load_task_folder(folder, limit))
        except NotMultipleChoice as exc:
            skipped.append(Skipped(folder.name, str(folder / "task.json"), str(exc).split(": ", 1)[-1]))
    if not tasks:
        raise NotMultipleChoice(f"{root}: no multiple-choice BIG-bench task found ({len(skipped)} skipped)")
    return tasks, skipped
