"""The index a report folder holds (`report.json`, written by `brd report`): which figures it drew,
or why it drew none. The study runner reads it for its README."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

REPORT_FILE = "report.json"


@dataclass
class Figure:
    figure: str  # "Figure 3"
    file: str | None  # the PNG's name in the report folder, None when there is no chart
    text: str  # one line: what it shows, or why nothing is drawn


def read_figures(out: Path) -> list[Figure]:
    """The figures a report in `out` wrote (for the study's README)."""
    try:
        old = json.loads((Path(out) / REPORT_FILE).read_text(encoding="utf-8"))
        return [Figure(**f) for f in old.get("figures", [])]
    except (OSError, ValueError, TypeError):
        return []
