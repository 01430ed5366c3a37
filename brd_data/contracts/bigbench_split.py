"""A named BIG-bench task set split into train, tuning and test files, as the paper splits its
reduced set (appendix A.3: ten percent test, ten percent tuning, the rest training), with a seed.

    brd bigbench split reduced --out bigbench-splits
    # -> bigbench-splits/<task>/{train,tuning,test}.jsonl and bigbench-splits/split.json

Each line is one example with its BIG-bench zero-shot prompt, so the three settings read the same
files through commands that exist already:
- task distillation and SFT: `brd tasks load bigbench:TASK=DIR/TASK/train.jsonl --split train`
  (task_examples; then `brd annotate --behaviours task` or `brd mix build sft`);
- BRD²: `brd ingest DIR/TASK/train.jsonl --text-field input` (the task inputs as a corpus);
- evaluation on the held-out part: `brd eval --task bigbench:TASK=DIR/TASK/test.jsonl`.

The folder is brd's: `split.json` marks it, and only a folder carrying it is replaced. Splitting
again with the same task files, seed and fractions changes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bigbench import SPLITS, BigBenchError, TaskSet, read_task_folder, split_examples
from .identity import file_sha256 as sha256_file

FORMAT = "brd-bigbench-split/1"
MARK = "split.json"


@dataclass
class SplitOutcome:
    out: Path
    status: str  # written | unchanged
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)


def _inputs(root: Path, taskset: TaskSet, seed: int, fractions: dict[str, float]) -> dict[str, Any]:
    tasks = {}
    for name in taskset.tasks:
        path = root / name / "task.json"
        if not path.is_file():
            raise BigBenchError(f"task set {taskset.name}: {path}: no such file (is {root} a benchmark_tasks folder?)")
        tasks[name] = {"source": str(path.resolve()), "sha256": sha256_file(path)}
    return {"taskset": taskset.name, "seed": seed, "fractions": fractions, "tasks": tasks}


def write_splits(
    root: str | Path,
    taskset: TaskSet,
    out: str | Path,
    seed: int | None = None,
    echo: Callable[[str], None] = print,
) -> SplitOutcome:
    """Split every task of `taskset` under `root` into `out`; idempotent."""
    root, out = Path(root), Path(out)
    if not taskset.split:
        raise BigBenchError(f"task set {taskset.name} ({taskset.source}) gives no `split` fractions")
    seed = taskset.seed if seed is None else seed
    inputs = _inputs(root, taskset, seed, taskset.split)
    mark = out / MARK
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not mark.is_file()):
            raise BigBenchError(f"--out {out}: exists and is not a brd BIG-bench split folder; choose another folder")
        if mark.is_file():
            old = json.loads(mark.read_text(encoding="utf-8"))
            if old.get("format") == FORMAT and old.get("inputs") == inputs:
                return SplitOutcome(out, "unchanged", old["tasks"])
    tmp = out.with_name(f".{out.name}.splitting-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    record: dict[str, dict[str, Any]] = {}
    try:
        for name in taskset.tasks:
            files, _ = read_task_folder(root / name)
            if len(files) != 1 or files[0].parent:
                raise BigBenchError(f"{root / name}: a task with subtasks; list its subtask folders (TASK/SUB) instead")
            task = files[0]
            parts = split_examples(task.examples, taskset.split, seed)
            (tmp / name).mkdir(parents=True)
            entry: dict[str, Any] = {
                "source": str(task.path.resolve()),
                "sha256": task.sha256,
                "template_hash": task.template_hash,
                "examples_in_file": task.n_in_file,
                "usable": len(task.examples),
                "skipped": dict(task.skipped.most_common()),
                "notes": task.notes,
                "splits": {},
            }
            for split in SPLITS:
                path = tmp / name / f"{split}.jsonl"
                with open(path, "w", encoding="utf-8") as f:
                    for ex in parts[split]:
                        line = {
                            "task": name,
                            "split": split,
                            "idx": ex.example_id,
                            "position": ex.position,
                            "input": ex.input,
                            "target_scores": dict(zip(ex.candidates, ex.target_scores)),
                            "prompt": ex.prompt,
                            "template_hash": task.template_hash,
                        }
                        f.write(json.dumps(line, ensure_ascii=False) + "\n")
                entry["splits"][split] = {
                    "file": f"{name}/{split}.jsonl",
                    "rows": len(parts[split]),
                    "sha256": sha256_file(path),
                }
            record[name] = entry
            sizes = ", ".join(f"{s} {entry['splits'][s]['rows']}" for s in SPLITS)
            echo(f"{name}: {len(task.examples)} examples -> {sizes}")
        body = {"format": FORMAT, "inputs": inputs, "bigbench_root": str(root.resolve()), "tasks": record}
        (tmp / MARK).write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)  # carries split.json (checked above): a folder brd wrote
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return SplitOutcome(out, "written", record)


# -- reading a split file back --------------------------------------------------------------------


@dataclass(frozen=True)
class SplitRecord:
    task: str
    split: str
    example_id: str
    position: int
    input: str
    prompt: str
    candidates: tuple[str, ...]
    target_scores: tuple[float, ...]
    template_hash: str
    where: str

    @property
    def gold(self) -> str:
        best = max(self.target_scores)
        return next(c for c, s in zip(self.candidates, self.target_scores) if s == best)


_FIELDS = {"task": str, "split": str, "idx": str, "position": int, "input": str, "prompt": str, "template_hash": str}


def read_split_file(path: str | Path, task: str | None = None) -> Iterator[SplitRecord]:
    """The records of one split file written by `write_splits`; `task` (the folder name), when
    given, must be the task of every line. Errors name the file, line and field."""
    path = Path(path)
    if not path.is_file():
        raise BigBenchError(f"{path}: no such file")
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path} line {lineno}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BigBenchError(f"{where}: invalid JSON ({exc.msg})") from None
            if not isinstance(rec, dict):
                raise BigBenchError(f"{where}: expected a JSON object")
            for key, kind in _FIELDS.items():
                if not isinstance(rec.get(key), kind) or isinstance(rec.get(key), bool):
                    raise BigBenchError(
                        f"{where}: field {key!r} is missing or not a {kind.__name__} (not a `brd bigbench split` file?)"
                    )
            scores = rec.get("target_scores")
            if (
                not isinstance(scores, dict)
                or len(scores) < 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in scores.values())
            ):
                raise BigBenchError(f"{where}: field 'target_scores' must map two or more candidates to numbers")
            if task is not None and rec["task"] != task:
                raise BigBenchError(f"{where}: an example of task {rec['task']!r}, not {task!r}")
            yield SplitRecord(
                task=rec["task"],
                split=rec["split"],
                example_id=rec["idx"],
                position=rec["position"],
                input=rec["input"],
                prompt=rec["prompt"],
                candidates=tuple(scores),
                target_scores=tuple(float(v) for v in scores.values()),
                template_hash=rec["template_hash"],
                where=where,
            )
