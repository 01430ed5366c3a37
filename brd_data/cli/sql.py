"""`brd sql`: query the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..explore import Format
from .options import DEFAULT_STORE_PATH, StoreOpt


def sql(
    query: Annotated[
        str, typer.Argument(help="SQL to run. `brd status` lists the tables and the views, with each view's grain.")
    ],
    store: StoreOpt = DEFAULT_STORE_PATH,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="table, json (an array of row objects), csv or parquet.")
    ] = Format.TABLE,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file instead of the terminal.", dir_okay=False)
    ] = None,
    write: Annotated[
        bool, typer.Option("--write", help="Open the store for writing (takes the writer lock; recorded as a run).")
    ] = False,
) -> None:
    """Run SQL on the store. The store is opened read-only unless --write is given."""
    from ..explore import run_query
    from ..store import Store

    if not run_query(Store(store), query, fmt, out, write=write):  # a statement with no result
        typer.echo("ok", err=True)


def register(app: typer.Typer) -> None:
    app.command("sql")(sql)
