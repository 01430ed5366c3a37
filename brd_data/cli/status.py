"""`brd status`: what the store holds, per table, view, run and stage."""

from __future__ import annotations

import json
import shutil
import textwrap
from typing import Annotated

import typer

from .options import DEFAULT_STORE_PATH, StoreOpt

# Below this many columns, a row's last fields go on their own indented line instead of a column.
_MIN_WRAPPED_COLUMN = 36


def _cell(value) -> str:
    return "" if value is None else str(value)


def render_section(title: str, cols: list[str], rows: list[tuple], width: int = 80) -> list[str]:
    """One section as lines of at most `width` characters. The leading columns that fit side by
    side form the table; the last of them wraps at word boundaries when wide enough, and the
    columns that do not fit follow each row on an indented `name value` line."""
    cells = [[_cell(v) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    numeric = [
        bool(cells) and all(r[i].replace(".", "", 1).lstrip("-").isdigit() or not r[i] for r in cells)
        for i in range(len(cols))
    ]
    shown, used = 0, 0
    for w in widths:
        need = w + (2 if shown else 1)
        if shown and used + need > width:
            break
        shown, used = shown + 1, used + need
    last_wrap = None
    if shown < len(cols) and width - used - 2 >= _MIN_WRAPPED_COLUMN:
        last_wrap, shown = width - used - 2, shown + 1  # the next column wraps in the room left
    widths = [min(w, width - 1) for w in widths[:shown]]
    if last_wrap is not None:
        widths[-1] = min(widths[-1], last_wrap)

    def line(values: list[str]) -> list[str]:
        parts = [textwrap.wrap(v, w, break_on_hyphens=False) or [""] for v, w in zip(values, widths)]
        height = max(len(p) for p in parts)
        out = []
        for k in range(height):
            fields = []
            for i, (p, w) in enumerate(zip(parts, widths)):
                text = p[k] if k < len(p) else ""
                fields.append(text.rjust(w) if numeric[i] else text.ljust(w))
            out.append((" " + "  ".join(fields)).rstrip())
        return out

    lines = [title]
    lines += line(cols[:shown])
    lines.append(" " + "  ".join("─" * w for w in widths))
    if not cells:
        lines.append(" (none)")
    for r in cells:
        lines += line(r[:shown])
        extra = ", ".join(f"{c}: {v}" for c, v in zip(cols[shown:], r[shown:]) if v)
        if extra:
            lines += textwrap.wrap(extra, width, initial_indent="     ", subsequent_indent="     ")
    return lines


def status(
    store: StoreOpt = DEFAULT_STORE_PATH,
    as_json: Annotated[bool, typer.Option("--json", help="Print the sections as JSON.")] = False,
) -> None:
    """Summarise the store: rows per table, the views and their grain, recent runs, corpus,
    annotation, quarantine and training counts. Fits the terminal (80 columns and up)."""
    from ..explore import store_status
    from ..store import Store

    st = Store(store)
    sections = store_status(st)
    if as_json:
        out = {title: [dict(zip(cols, r)) for r in rows] for title, cols, rows in sections}
        typer.echo(json.dumps(out, default=str, indent=1, ensure_ascii=False))
        return
    width = max(shutil.get_terminal_size((80, 24)).columns, 40)
    lines = [f"store {st.root}"]
    for title, cols, rows in sections:
        lines += ["", *render_section(title, cols, rows, width)]
    typer.echo("\n".join(lines))


def register(app: typer.Typer) -> None:
    app.command("status")(status)
