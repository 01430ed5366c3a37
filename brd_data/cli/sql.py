"""`brd sql`: query the store."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from ..contracts.errors import ConfigError
from .options import DEFAULT_STORE_PATH, StoreOpt

FORMATS = ("table", "json", "csv", "parquet")


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_result(rel, fmt: str, out: Path | None) -> None:
    """Write a DuckDB relation as a table, a JSON array of row objects, CSV or Parquet."""
    if fmt == "table":
        if out:
            raise ConfigError("--format table prints to the terminal; use json, csv or parquet with --out")
        width = shutil.get_terminal_size((160, 40)).columns
        rel.show(max_width=width, max_rows=200)
        return
    if fmt == "json":
        cols = rel.columns
        rows = [dict(zip(cols, r)) for r in rel.fetchall()]
        text = json.dumps(rows, default=_jsonable, ensure_ascii=False, indent=1)
        if out:
            out.write_text(text + "\n", encoding="utf-8")
        else:
            sys.stdout.write(text + "\n")
        return
    if fmt == "parquet":
        if not out:
            raise ConfigError("--format parquet needs --out FILE")
        rel.write_parquet(str(out))
        return
    if out:
        rel.write_csv(str(out), header=True)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.csv"
        rel.write_csv(str(path), header=True)
        sys.stdout.write(path.read_text(encoding="utf-8"))


def sql(
    query: Annotated[str, typer.Argument(help="SQL to run. Tables and views: see `brd status`.")],
    store: StoreOpt = DEFAULT_STORE_PATH,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="table, json (an array of row objects), csv or parquet.")
    ] = "table",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file instead of the terminal.", dir_okay=False)
    ] = None,
    write: Annotated[
        bool, typer.Option("--write", help="Open the store for writing (takes the writer lock; recorded as a run).")
    ] = False,
) -> None:
    """Run SQL on the store. The store is opened read-only unless --write is given."""
    import duckdb

    from ..contracts.runs import StageRun
    from ..store import Store

    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    st = Store(store)

    def run(con) -> None:
        try:
            rel = con.sql(query)
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            hint = " (the store is opened read-only; pass --write to change it)" if "read-only" in first else ""
            raise ConfigError(f"query failed: {first}{hint}") from None
        if rel is None:  # a statement with no result (only with --write)
            typer.echo("ok", err=True)
            return
        write_result(rel, fmt, out)

    if write:
        with st.writer("sql --write"), StageRun(st, "sql", {"query": query}):
            with st.connect() as con:
                run(con)
        return
    with st.reader() as con:
        run(con)


def register(app: typer.Typer) -> None:
    app.command("sql")(sql)
