"""The evaluation results in a brd student folder's model card (contracts.cards): `brd eval` of
`OUT/model` rewrites the card brd wrote there with the scores it has just stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from brd_data.contracts.cards import is_brd_card, render_model_card, write_model_card
from brd_data.contracts.schemas.lineage import read_checkpoint_lineage


def add_results_to_card(model: str | Path, rows: list[dict[str, Any]]) -> bool:
    """True when the folder holds a card brd wrote, now with `rows` (template and BIG-bench tasks)."""
    folder = Path(model)
    if not folder.is_dir() or not is_brd_card(folder):
        return False
    lineage = read_checkpoint_lineage(folder) or {}
    try:
        manifest = json.loads((Path(lineage.get("mixture_dir") or "") / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = None
    shown = [r for r in rows if r.get("task_kind") in ("template", "bigbench")]
    return write_model_card(folder, render_model_card(lineage, manifest, shown))
