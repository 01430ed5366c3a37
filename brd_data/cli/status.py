"""`brd status`: what the store holds, per table, per run, and per stage."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from .options import DEFAULT_STORE_PATH, StoreOpt


def status(
    store: StoreOpt = DEFAULT_STORE_PATH,
    as_json: Annotated[bool, typer.Option("--json", help="Print the sections as JSON.")] = False,
) -> None:
    """Summarise the store: rows per table, recent runs, corpus, annotation and quarantine counts."""
    from rich.console import Console
    from rich.table import Table

    from ..explore import store_status
    from ..store import Store

    st = Store(store)
    sections = store_status(st)
    if as_json:
        out = {title: [dict(zip(cols, r)) for r in rows] for title, cols, rows in sections}
        typer.echo(json.dumps(out, default=str, indent=1, ensure_ascii=False))
        return
    console = Console()
    console.print(f"[bold]store[/bold] {st.root}")
    for title, cols, rows in sections:
        table = Table(title=title, title_justify="left", show_edge=False)
        for c in cols:
            table.add_column(c, overflow="fold")
        for r in rows:
            table.add_row(*("" if v is None else str(v) for v in r))
        if not rows:
            table.add_row(*(["(none)"] + [""] * (len(cols) - 1)))
        console.print(table)


def register(app: typer.Typer) -> None:
    app.command("status")(status)
