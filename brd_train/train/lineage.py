"""Writing what a training run leaves next to its weights (contract 3; the files' schemas and
readers are `brd_data.contracts.schemas.lineage`)."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from brd_data.contracts.schemas.lineage import LINEAGE_FILE, RUN_FILE, read_checkpoint_lineage, read_run_state

__all__ = [
    "LINEAGE_FILE",
    "RUN_FILE",
    "checkpoints",
    "complete_checkpoints",
    "is_complete",
    "read_checkpoint_lineage",
    "read_run_state",
    "write_json",
]
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write through a temporary file and rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def checkpoints(out: Path) -> list[tuple[int, Path]]:
    """(step, folder) of every checkpoint-N under `out`, by step."""
    found = []
    if Path(out).is_dir():
        for p in Path(out).iterdir():
            m = _CHECKPOINT.match(p.name)
            if m and p.is_dir():
                found.append((int(m.group(1)), p))
    return sorted(found)


def is_complete(folder: Path) -> bool:
    """Whether a checkpoint was saved to the end: the trainer writes trainer_state.json after the
    weights and optimiser state, and brd writes brd_lineage.json after that (on_save). A kill in
    the middle of a save leaves a folder without them."""
    return (Path(folder) / "trainer_state.json").is_file() and (Path(folder) / LINEAGE_FILE).is_file()


def complete_checkpoints(out: Path) -> list[tuple[int, Path]]:
    """The checkpoints of `out` that were saved to the end, by step."""
    return [(step, p) for step, p in checkpoints(out) if is_complete(p)]


def checkpoint_lineage(
    run: dict[str, Any], step: int, *, loss: float | None, tokens: int | None, run_id: str
) -> dict[str, Any]:
    """The brd_lineage.json of one checkpoint: contract 3's keys, then extras."""
    return {
        # contract 3
        "train_run_id": run["train_run_id"],
        "mixture_hash": run["mixture_hash"],
        "mixture_dir": run["mixture_dir"],
        "student_origin": run["student_origin"],
        "config": run["config"],
        "code_version": run["code_version"],
        "step": step,
        # extras
        "run_id": run_id,
        "mixture_name": run["mixture_name"],
        "mixture_kind": run["mixture_kind"],
        "manifest_sha256": run["manifest_sha256"],
        "tokenizer": run["tokenizer"],
        "loss": loss,
        "tokens": tokens,
        "versions": run["versions"],
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def write_checkpoint_lineage(folder: Path, lineage: dict[str, Any]) -> None:
    write_json(Path(folder) / LINEAGE_FILE, lineage)


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("torch", "transformers", "trl", "accelerate", "datasets"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out
