"""Which teacher annotates: the embedded SmolLM2 (prepared on first use), a local model folder, or a
hub id. Its identity in the store is its fingerprint (`brd_data.contracts.models`)."""

from __future__ import annotations

from pathlib import Path

from ..contracts.models import TeacherError, model_fingerprint, prepare

__all__ = ["TeacherError", "model_fingerprint", "resolve_teacher"]


def resolve_teacher(teacher: str | None) -> Path | str:
    """None: the embedded teacher (prepared on first use). A folder: itself. Else a hub id."""
    if teacher is None:
        return prepare()
    path = Path(teacher)
    if path.is_dir():
        return path
    if path.exists() or teacher.startswith((".", "/")):
        raise TeacherError(f"--teacher {teacher}: not a model folder")
    return teacher
