"""Fixtures for the paper's baselines (task distillation, SFT, BRD²): the scripted OpenAI server
of the annotate tests, the tiny student of the train tests, and stores holding task examples."""

from __future__ import annotations

import json
from pathlib import Path

from brd_data.contracts.paths import samples_dir
from tests.annotate.conftest import annotate_args, fake_teacher, rows  # noqa: F401  (fixtures and helpers)
from tests.train.conftest import ENV, SMALL, teacher_dir, tiny_student, train  # noqa: F401

TASKS = samples_dir() / "tasks"


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def sample_records(task: str, n: int | None = None) -> list[dict]:
    lines = (TASKS / f"{task}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:n] if line.strip()]
