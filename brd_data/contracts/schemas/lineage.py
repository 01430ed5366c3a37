"""What a training run leaves next to its weights (contract 3), read by train, eval and study.

- `OUT/brd_train.json`: the run as a whole: its id, mixture, student origin, resolved config,
  status and checkpoints. `brd train --resume` reads it back.
- `OUT/model/`: the finished student, with the last checkpoint's `brd_lineage.json`.
- `OUT/checkpoint-N/brd_lineage.json`: one per checkpoint, so a checkpoint copied anywhere still
  says which data and which model made it. Evaluation reads it to fill `train_run_id`, and
  `brd train --student CHECKPOINT` (BRD², BRD then SFT) to record the parent run.

brd writes both; a newer brd may add keys, which these models ignore.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UserError
from .base import LineageSchema, read_json, validate

LINEAGE_FILE = "brd_lineage.json"
RUN_FILE = "brd_train.json"
# OUT/model/: the finished student (weights, tokenizer, brd_lineage.json and brd's model card),
# written when a run reaches its last step; checkpoint-N/ folders also hold the trainer's state.
FINAL_DIR = "model"


class LineageError(UserError):
    """A lineage file next to a model that cannot be read; the message names the file and field."""


class CheckpointLineage(LineageSchema):
    """brd writes every key; a hand-made file for a model trained elsewhere needs only the run and step."""

    train_run_id: str
    step: int
    mixture_hash: str | None = None
    mixture_dir: str | None = None
    student_origin: dict[str, Any] | str | None = None
    config: dict[str, Any] | None = None
    code_version: str | None = None
    run_id: str | None = None
    mixture_name: str | None = None
    mixture_kind: str | None = None
    loss: float | None = None
    tokens: int | None = None


class TrainRunState(LineageSchema):
    train_run_id: str | None
    mixture_hash: str
    mixture_dir: str
    student: str
    config: dict[str, Any]
    max_steps: int
    run_ids: list[str] = []
    status: str | None = None
    last_step: int | None = None


def _read(path: Path, model: type[LineageSchema]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    raw = read_json(path, LineageError)
    if not isinstance(raw, dict):
        raise LineageError(f"{path}: expected a JSON object")
    validate(model, raw, str(path), LineageError)
    return raw


def read_checkpoint_lineage(folder: str | Path) -> dict[str, Any] | None:
    """A checkpoint's brd_lineage.json (checked), or None when the folder has none."""
    return _read(Path(folder) / LINEAGE_FILE, CheckpointLineage)


def read_run_state(out: str | Path) -> dict[str, Any] | None:
    """An output folder's brd_train.json (checked), or None when there is none."""
    return _read(Path(out) / RUN_FILE, TrainRunState)


# -- which checkpoint of a run is evaluated ---------------------------------------------------------

CHOICE_FILE = "brd_choice.json"


class CheckpointChoice(LineageSchema):
    """`OUT/brd_choice.json`, written by `brd checkpoints choose`: the checkpoint of a training run
    that is evaluated and trained on, by a stated rule (`last`, or `best` mean accuracy on the
    tuning tasks), with the scores it compared. `brd train --student` and `brd eval --model`
    accept this file's path and use the chosen checkpoint."""

    rule: str
    checkpoint: str  # the chosen folder, relative to the output folder (checkpoint-N)
    step: int
    train_run_id: str | None = None
    tuning: list[dict[str, Any]] = []  # the tuning tasks: name, source, sha256
    scores: dict[str, dict[str, Any]] = {}  # checkpoint-N -> {task: accuracy, mean: ...}
    run_id: str | None = None


def resolve_choice(model: str) -> str:
    """A model reference as given, or, for a `brd_choice.json` path, the checkpoint it chose."""
    path = Path(model)
    if path.name != CHOICE_FILE:
        return model
    raw = _read(path, CheckpointChoice)
    if raw is None:
        raise LineageError(f"{path}: no such file (run `brd checkpoints choose {path.parent}` first)")
    chosen = path.parent / raw["checkpoint"]
    if not chosen.is_dir():
        raise LineageError(f"{path}: the chosen {raw['checkpoint']} is not in {path.parent} any more")
    return str(chosen)
