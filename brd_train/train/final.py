"""The finished student: `OUT/model/`, a folder that holds just what loads and explains the model.

`checkpoint-N/` folders keep the trainer's optimizer, scheduler and RNG state so a run can resume
(AdamW's state is twice the fp32 weights). The final folder takes the last checkpoint's model and
tokenizer files (hard links when the file system allows, so it costs no extra space while the
checkpoint stays), its `brd_lineage.json`, and brd's model card in place of the trainer's.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from brd_data.contracts.cards import render_model_card, write_model_card
from brd_data.contracts.outputs import OutputKind, check_replaceable, staged
from brd_data.contracts.schemas.lineage import FINAL_DIR

from .lineage import LINEAGE_FILE, read_checkpoint_lineage

# What a checkpoint holds only to resume training.
TRAINER_STATE = ("optimizer.pt", "scheduler.pt", "trainer_state.json", "training_args.bin", "README.md")


def _resume_only(name: str) -> bool:
    return name in TRAINER_STATE or name.startswith(("rng_state", "optimizer", "scheduler", "."))


def final_dir(out: Path) -> Path:
    return Path(out) / FINAL_DIR


def _place(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _legacy_final(folder: Path) -> bool:
    """OUT/model as brd wrote it before output markers: it holds the checkpoint's lineage."""
    return (folder / LINEAGE_FILE).is_file()


def check_final_folder(out: Path) -> None:
    """Refuse, before training, an OUT/model that brd did not write (it would be refused at the end)."""
    check_replaceable(final_dir(out), OutputKind.MODEL, _legacy_final, what="final student")


def write_final_student(out: Path, checkpoint: Path) -> Path:
    """Write OUT/model from `checkpoint`, replacing a final folder an earlier command wrote (staged
    beside it and swapped in, as every brd output; a folder brd did not write is refused)."""
    out, checkpoint = Path(out), Path(checkpoint)
    target = final_dir(out)
    with staged(target, OutputKind.MODEL, _legacy_final, what="final student") as tmp:
        for f in sorted(checkpoint.iterdir()):
            if f.is_file() and not _resume_only(f.name):
                _place(f, tmp / f.name)
        lineage = read_checkpoint_lineage(checkpoint) or {}
        write_model_card(tmp, render_model_card(lineage, _manifest(lineage)))
    return target


def _manifest(lineage: dict[str, Any]) -> dict[str, Any] | None:
    path = Path(lineage.get("mixture_dir") or "") / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def folder_bytes(folder: Path) -> int:
    """Bytes the folder's files take (hard-linked files count once per folder)."""
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())
