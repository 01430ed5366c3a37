"""Evaluation tasks as lists of scored items: the Table 8 templates (through `brd_data.tasks`) read
from local JSONL/Parquet or a Hugging Face dataset, and BIG-bench tasks (see `bigbench.py`)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brd_data.contracts.identity import file_sha256
from brd_data.contracts.schemas.task import TaskError, TaskSpec, load_task_spec, read_records


@dataclass(frozen=True)
class EvalItem:
    example_id: str
    prompt: str
    candidates: tuple[str, ...]
    answer_prefix: str
    gold: str | None
    # credit for predicting each candidate: 1/0 for a label, BIG-bench's (possibly fractional)
    # target_scores; None when the example has no label
    target_scores: tuple[float, ...] | None
    where: str = ""
    # examples sharing a group (a template task's first field, e.g. the premise) are near-duplicates
    # for a probe, and stay in one cross-validation fold
    group: str | None = None

    @property
    def continuations(self) -> tuple[str, ...]:
        return tuple(self.answer_prefix + c for c in self.candidates)


@dataclass
class EvalTask:
    name: str  # xnli, bigbench:anachronisms, bigbench:parent:subtask
    kind: str  # template | bigbench | bigbench_subtask
    metric: str  # accuracy | multiple_choice_grade
    source: str
    source_sha256: str | None
    template_hash: str
    items: list[EvalItem]
    n_skipped: int = 0  # examples of the file left out, counted by reason below
    skip_reasons: dict[str, int] = field(default_factory=dict)
    parent: str | None = None  # BIG-bench subtasks: the task they average into
    notes: list[str] = field(default_factory=list)  # how an irregular field was read
    extra: dict[str, Any] = field(default_factory=dict)


def items_from_records(
    spec: TaskSpec, records: Iterable[tuple[str, dict[str, Any]]], limit: int | None = None
) -> list[EvalItem]:
    """Render records through a task template; errors name the file, row and field."""
    out = []
    for i, (where, rec) in enumerate(records):
        if limit is not None and len(out) >= limit:
            break
        gold = spec.gold(rec, where)
        credit = None if gold is None else tuple(1.0 if c == gold else 0.0 for c in spec.candidates)
        out.append(
            EvalItem(
                example_id=str(rec.get("idx", rec.get("id", i))),
                prompt=spec.render(rec, where),
                candidates=spec.candidates,
                answer_prefix=spec.answer_prefix,
                gold=gold,
                target_scores=credit,
                where=where,
                group=str(rec.get(spec.fields[0])),
            )
        )
    return out


def parse_hub_ref(ref: str) -> dict[str, str | None]:
    """`hf:DATASET[:CONFIG][@SPLIT]` -> load_dataset arguments."""
    body = ref[3:]
    body, _, split = body.partition("@")
    path, _, name = body.partition(":")
    if not path:
        raise TaskError(f"{ref!r}: expected hf:DATASET[:CONFIG][@SPLIT]")
    return {"path": path, "name": name or None, "split": split or None}


def _hub_records(args: dict[str, Any], label: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        raise TaskError(f"task {label}: the hub is offline (HF_HUB_OFFLINE=1); pass a local file as {label}=PATH")
    import datasets

    split = args.get("split") or "validation"
    try:
        ds = datasets.load_dataset(args["path"], args.get("name"), split=split)
    except Exception as exc:  # network, unknown id, unknown split: one line for the user
        raise TaskError(f"task {label}: cannot load hub dataset {args['path']} ({str(exc).splitlines()[0]})") from None
    where = f"hf:{args['path']}{':' + args['name'] if args.get('name') else ''}@{split}"
    for i, rec in enumerate(ds):
        yield f"{where} row {i}", dict(rec)


def load_template_task(name: str, source: str | None, limit: int | None = None) -> EvalTask:
    """A Table 8 task (or a user's task YAML) over a local file, a hub reference, or the hub
    dataset its manifest names when `source` is None."""
    spec = load_task_spec(name)
    if source is None or source.startswith("hf:"):
        if source is None:
            if not spec.hf_dataset:
                raise TaskError(
                    f"task {spec.name}: no data file given and its manifest names no hf_dataset; use {name}=PATH"
                )
            args = dict(spec.hf_dataset)
        else:
            args = parse_hub_ref(source)
        ref = f"hf:{args['path']}{':' + args['name'] if args.get('name') else ''}@{args.get('split') or 'validation'}"
        items = items_from_records(spec, _hub_records(args, spec.name), limit)
        digest = None
    else:
        path = Path(source)
        items = items_from_records(spec, read_records(path), limit)
        ref, digest = str(path.resolve()), file_sha256(path)
    if not items:
        raise TaskError(f"{ref}: no examples")
    return EvalTask(
        name=spec.name,
        kind="template",
        metric="accuracy",
        source=ref,
        source_sha256=digest,
        template_hash=spec.template_hash,
        items=items,
    )


def parse_task_arg(arg: str) -> tuple[str, str | None]:
    """`NAME=PATH`, `NAME=hf:ID[:CONFIG][@SPLIT]` or `NAME` (the manifest's hub dataset)."""
    name, sep, source = arg.partition("=")
    name = name.strip()
    if not name:
        raise TaskError(f"--task {arg!r}: expected NAME=PATH (tasks: a manifests/tasks name or a task YAML)")
    if sep and not source:
        raise TaskError(f"--task {arg!r}: empty PATH after '='")
    return name, (source if sep else None)
