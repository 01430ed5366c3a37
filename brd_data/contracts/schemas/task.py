"""Downstream task templates (the paper's Table 8) and task example files.

A task is a YAML file under manifests/tasks/: the prompt template with `{field}` placeholders,
the candidate answers, and how gold labels map onto candidates. Evaluation (brd_train), the SFT
baseline and task distillation (the `task` behaviour) all render prompts through this module, so
one template serves all three. Users add a task by adding a file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from ..errors import UserError
from ..paths import manifests_dir
from .base import Schema, read_yaml, validate


class TaskError(UserError):
    """A task template or task file that cannot be used; the message names file, row and field."""


@dataclass(frozen=True)
class Example:
    example_id: str
    fields: dict[str, Any]
    prompt: str
    gold: str | None  # a candidate, or None when the file has no label


class TaskSpec(Schema):
    name: str
    template: str
    candidates: tuple[str, ...]
    fields: tuple[str, ...]
    label_field: tuple[str, ...] = ("label",)
    labels: dict[int | str, str] = Field(default_factory=dict)
    answer_prefix: str = " "
    hf_dataset: dict[str, Any] | None = None
    source: str = ""

    @model_validator(mode="before")
    @classmethod
    def _yaml_lists(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("candidates", "fields", "label_field"):
                value = data.get(key)
                if isinstance(value, str) and key == "label_field":
                    data[key] = (value,)
                elif isinstance(value, list):
                    data[key] = tuple(value)
            if data.get("labels") is None:
                data.pop("labels", None)
        return data

    @field_validator("candidates")
    @classmethod
    def _candidates(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("is empty")
        for i, c in enumerate(v):
            if not c.strip():
                raise ValueError(f"candidate {i} is empty")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> TaskSpec:
        placeholders = {f for _, f, _, _ in string.Formatter().parse(self.template) if f}
        undeclared = placeholders - set(self.fields)
        if undeclared:
            raise ValueError(f"template uses {sorted(undeclared)} not listed in `fields`")
        for raw, label in self.labels.items():
            if label not in self.candidates:
                raise ValueError(f"label {raw!r} maps to {label!r}, not a candidate {list(self.candidates)}")
        return self

    @property
    def template_hash(self) -> str:
        """Hash of everything that changes a prompt or its scoring."""
        payload = json.dumps([self.template, list(self.candidates), self.answer_prefix], ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def render(self, record: dict[str, Any], where: str = "") -> str:
        for f in self.fields:
            if f not in record or record[f] is None:
                raise TaskError(
                    f"{where}: field {f!r} is missing (template {self.name} needs {', '.join(self.fields)})"
                )
        return self.template.format(**{f: str(record[f]) for f in self.fields})

    def gold(self, record: dict[str, Any], where: str = "") -> str | None:
        """The gold candidate of a record, None if it has no label (-1 also means unlabelled)."""
        for name in self.label_field:
            if name in record and record[name] is not None:
                raw = record[name]
                if raw == -1:
                    return None
                if isinstance(raw, str) and raw in self.candidates:
                    return raw
                key = raw.strip() if isinstance(raw, str) else raw
                if key in self.labels:
                    return self.labels[key]
                if isinstance(key, str) and key.lstrip("-").isdigit() and int(key) in self.labels:
                    return self.labels[int(key)]
                valid = sorted({str(k) for k in self.labels} | set(self.candidates))
                raise TaskError(
                    f"{where}: field {name!r} = {raw!r} is not a label of {self.name} (valid: {', '.join(valid)})"
                )
        return None


def tasks_dir() -> Path:
    return manifests_dir() / "tasks"


def available_tasks() -> list[str]:
    return sorted(p.stem for p in tasks_dir().glob("*.yaml"))


@functools.cache
def load_task_spec(name_or_path: str) -> TaskSpec:
    """A task by name (manifests/tasks/NAME.yaml) or by the path of a YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = tasks_dir() / f"{name_or_path}.yaml"
        if not path.is_file():
            raise TaskError(f"unknown task {name_or_path!r}; valid: {', '.join(available_tasks())}")
    raw = read_yaml(path, TaskError)
    return validate(TaskSpec, {**raw, "source": str(path)}, str(path), TaskError)


def read_records(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(location, record) from a local JSONL or Parquet file."""
    path = Path(path)
    if not path.is_file():
        raise TaskError(f"{path}: no such file")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow's errors for a damaged file
            raise TaskError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
        for i, rec in enumerate(table.to_pylist()):
            yield f"{path} row {i}", rec
        return
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TaskError(f"{path} line {lineno}: invalid JSON ({exc.msg})") from None
            if not isinstance(rec, dict):
                raise TaskError(f"{path} line {lineno}: expected a JSON object")
            yield f"{path} line {lineno}", rec


def example_id(record: dict[str, Any], position: int) -> str:
    """A record's id: its `idx` (GLUE / SuperGLUE), else its `id`, else its position in the file."""
    return str(record.get("idx", record.get("id", position)))


def load_examples(spec: TaskSpec, path: str | Path, limit: int | None = None) -> list[Example]:
    """Render every record of a local task file; errors name the file, row and field."""
    out = []
    for i, (where, rec) in enumerate(read_records(path)):
        if limit is not None and len(out) >= limit:
            break
        ex_id = example_id(rec, i)
        out.append(Example(ex_id, {f: rec.get(f) for f in spec.fields}, spec.render(rec, where), spec.gold(rec, where)))
    if not out:
        raise TaskError(f"{path}: no examples")
    return out
