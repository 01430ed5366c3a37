"""`brd tasks load`: task example files into the store's `task_examples` table.

Each record is rendered with its task's Table 8 template (brd_data/tasks/spec.py), so the SFT
baseline (gold labels, view d_sft) and task distillation (the `task` annotation behaviour, view
d_task_distill) read the very prompts evaluation scores. The prompt's `text_hash` is computed as a
sentence's is, so teacher answers join back through `annotations.text_hash`.

A record that cannot be used (a field the template needs is missing, a label that maps to no
candidate, an id seen before in the file) goes to `quarantine` (stage `task`) with the reason;
the others load. A file that cannot be read at all, or an unknown task, is a one-line error.
Loading the same file, task and split again changes nothing; a changed file or template
replaces that (task, split).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..contracts.identity import file_sha256, quarantine_id, text_hash
from ..contracts.runs import StageRun
from ..contracts.schemas.task import TaskError, TaskSpec, example_id, load_task_spec, read_records
from ..store import Store, query

_SPLIT = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class TaskFile:
    """One NAME=PATH argument: a task (name or template .yaml) and a local JSONL/Parquet file."""

    task: str
    path: Path

    @staticmethod
    def parse(arg: str) -> TaskFile:
        name, sep, path = arg.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise TaskError(f"{arg!r}: expected NAME=PATH, e.g. rte=data/rte/train.jsonl")
        return TaskFile(name.strip(), Path(path.strip()))


@dataclass
class LoadConfig:
    files: list[TaskFile]
    split: str = "train"
    limit: int | None = None  # examples per file (the first N usable ones)

    def __post_init__(self) -> None:
        if not self.files:
            raise TaskError("no task files given (NAME=PATH ...)")
        if not _SPLIT.match(self.split):
            raise TaskError(f"--split {self.split!r}: use lowercase letters, digits, '.', '_' or '-'")
        if self.limit is not None and self.limit < 1:
            raise TaskError(f"--limit must be at least 1, got {self.limit}")
        names = [f.task if is_bigbench(f.task) else load_task_spec(f.task).name for f in self.files]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise TaskError(f"task {twice[0]!r} is given twice; load one file per task and split")


@dataclass
class FileOutcome:
    task: str
    path: str
    rows: int
    quarantined: int
    status: str  # loaded | unchanged
    first_problem: str | None = None


@dataclass
class LoadOutcome:
    run_id: str | None
    files: list[FileOutcome] = field(default_factory=list)


def read_task_file(
    spec: TaskSpec, path: Path, split: str, limit: int | None, sha256: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(task_examples rows without run_id, quarantine rows without run_id) of one file."""

    rows: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    seen: set[str] = set()
    for position, (where, rec) in enumerate(read_records(path)):
        if limit is not None and len(rows) >= limit:
            break
        ex_id = example_id(rec, position)
        try:
            if ex_id in seen:
                raise TaskError(f"{where}: example id {ex_id!r} appears twice in the file")
            prompt = spec.render(rec, where)
            gold = spec.gold(rec, where)
        except TaskError as exc:
            location = where.removeprefix(f"{path} ")
            reason = str(exc).removeprefix(f"{where}: ")
            bad.append(
                {
                    "quarantine_id": quarantine_id("task", sha256, location, reason),
                    "stage": "task",
                    "source_file": str(path),
                    "location": location,
                    "reason": f"{spec.name}: {reason}",
                    "raw": json.dumps(rec, ensure_ascii=False, default=str).encode(),
                }
            )
            continue
        seen.add(ex_id)
        rows.append(
            {
                "task": spec.name,
                "split": split,
                "example_id": ex_id,
                "position": position,
                "source_file": str(path),
                "source_sha256": sha256,
                "template_hash": spec.template_hash,
                "prompt": prompt,
                "text_hash": text_hash(prompt),
                "candidates": list(spec.candidates),
                "answer_prefix": spec.answer_prefix,
                "gold": gold,
                "fields": json.dumps({f: rec.get(f) for f in spec.fields}, ensure_ascii=False, default=str),
            }
        )
    return rows, bad


def is_bigbench(task: str) -> bool:
    """`bigbench:TASK`: a split file of `brd bigbench split` rather than a Table 8 task."""
    return task.startswith("bigbench:")


@dataclass(frozen=True)
class BigBenchSplitTask:
    """What load_tasks needs of a task, for a BIG-bench split file (prompts come rendered)."""

    name: str
    source: str
    template_hash: str


def read_bigbench_split(
    task: str, path: Path, split: str, limit: int | None, sha256: str
) -> tuple[BigBenchSplitTask, list[dict[str, Any]]]:
    """task_examples rows of a split file; the file must hold `split` of `task` and nothing else,
    so a test split cannot be loaded as training data by mistake."""
    from ..contracts.bigbench_split import read_split_file

    folder = task.removeprefix("bigbench:")
    rows: list[dict[str, Any]] = []
    hashes = set()
    for position, rec in enumerate(read_split_file(path, task=folder)):
        if rec.split != split:
            raise TaskError(
                f"{rec.where}: an example of the {rec.split} split; load this file with --split {rec.split}"
            )
        if limit is not None and len(rows) >= limit:
            break
        hashes.add(rec.template_hash)
        rows.append(
            {
                "task": task,
                "split": split,
                "example_id": rec.example_id,
                "position": position,
                "source_file": str(path),
                "source_sha256": sha256,
                "template_hash": rec.template_hash,
                "prompt": rec.prompt,
                "text_hash": text_hash(rec.prompt),
                "candidates": list(rec.candidates),
                "answer_prefix": "",  # BIG-bench candidates follow the output prefix directly
                "gold": rec.gold,
                "fields": json.dumps(
                    {"input": rec.input, "target_scores": dict(zip(rec.candidates, rec.target_scores))},
                    ensure_ascii=False,
                ),
            }
        )
    if len(hashes) > 1:
        raise TaskError(f"{path}: lines with different BIG-bench prompt settings; split the task again")
    template = hashes.pop() if hashes else ""
    return BigBenchSplitTask(task, str(path), template), rows


_SCHEMA = pa.schema(
    [
        ("task", pa.string()),
        ("split", pa.string()),
        ("example_id", pa.string()),
        ("position", pa.int32()),
        ("source_file", pa.string()),
        ("source_sha256", pa.string()),
        ("template_hash", pa.string()),
        ("prompt", pa.string()),
        ("text_hash", pa.string()),
        ("candidates", pa.list_(pa.string())),
        ("answer_prefix", pa.string()),
        ("gold", pa.string()),
        ("fields", pa.string()),
        ("run_id", pa.string()),
    ]
)
_QUARANTINE = pa.schema(
    [
        ("quarantine_id", pa.string()),
        ("stage", pa.string()),
        ("source_file", pa.string()),
        ("location", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.binary()),
        ("run_id", pa.string()),
    ]
)


def _same(existing: list[tuple], rows: list[dict[str, Any]]) -> bool:
    new = sorted((r["example_id"], r["text_hash"], r["gold"], r["source_sha256"], r["template_hash"]) for r in rows)
    return sorted(tuple(e) for e in existing) == new


def load_tasks(st: Store, cfg: LoadConfig) -> LoadOutcome:
    """Load every file of `cfg` into `task_examples` in one run. Needs the writer lock."""

    prepared = []
    for f in cfg.files:
        if not f.path.is_file():
            raise TaskError(f"{f.path}: no such file (task {f.task})")
        sha = file_sha256(f.path)
        if is_bigbench(f.task):
            spec, rows = read_bigbench_split(f.task, f.path, cfg.split, cfg.limit, sha)
            bad: list[dict[str, Any]] = []
        else:
            spec = load_task_spec(f.task)
            rows, bad = read_task_file(spec, f.path, cfg.split, cfg.limit, sha)
        if not rows:
            first = f" (first: {bad[0]['location']}: {bad[0]['reason']})" if bad else ""
            raise TaskError(f"{f.path}: no usable {spec.name} examples{first}")
        prepared.append((spec, f, sha, rows, bad))

    outcome = LoadOutcome(run_id=None)
    with st.reader() as con:
        unchanged = [
            _same(con.execute(query("tasks/existing"), {"task": spec.name, "split": cfg.split}).fetchall(), rows)
            for spec, _, _, rows, _ in prepared
        ]
    if all(unchanged):
        outcome.files = [
            FileOutcome(spec.name, str(f.path), len(rows), len(bad), "unchanged") for spec, f, _, rows, bad in prepared
        ]
        return outcome
    config = {
        "split": cfg.split,
        "limit": cfg.limit,
        "tasks": {
            spec.name: {"file": str(f.path), "template": spec.source, "template_hash": spec.template_hash}
            for spec, f, _, _, _ in prepared
        },
    }
    inputs = [
        {"path": str(f.path), "size": f.path.stat().st_size, "sha256": sha, "task": spec.name}
        for spec, f, sha, _, _ in prepared
    ]
    with StageRun(st, "tasks load", config, inputs) as run:
        outcome.run_id = run.run_id
        with st.transaction() as con:
            for (spec, f, _, rows, bad), same in zip(prepared, unchanged):
                first = f"{bad[0]['location']}: {bad[0]['reason']}" if bad else None
                if same:
                    outcome.files.append(FileOutcome(spec.name, str(f.path), len(rows), len(bad), "unchanged", first))
                    continue
                con.execute(query("tasks/delete_split"), {"task": spec.name, "split": cfg.split})
                st.insert(
                    con,
                    "task_examples",
                    pa.Table.from_pylist([{**r, "run_id": run.run_id} for r in rows], schema=_SCHEMA),
                )
                if bad:
                    st.insert(
                        con,
                        "quarantine",
                        pa.Table.from_pylist([{**b, "run_id": run.run_id} for b in bad], schema=_QUARANTINE),
                    )
                outcome.files.append(FileOutcome(spec.name, str(f.path), len(rows), len(bad), "loaded", first))
            run.add_counts(
                task_examples=sum(o.rows for o in outcome.files if o.status == "loaded"),
                quarantine=sum(o.quarantined for o in outcome.files if o.status == "loaded"),
            )
    return outcome
