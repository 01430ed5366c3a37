"""Reading the store by hand: `brd sql`'s queries and output formats, `brd status`'s sections.
`brd` imports this module at start-up (for `Format`): the store and DuckDB load when used."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import shutil
import sys
import tempfile
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Any

from .contracts.choices import check_choice
from .contracts.errors import ConfigError


class Format(StrEnum):
    """`brd sql --format`."""

    TABLE = "table"  # printed for the terminal
    JSON = "json"  # an array of row objects
    CSV = "csv"
    PARQUET = "parquet"


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
    fmt = check_choice(Format, fmt, "--format")
    if fmt == Format.TABLE:
        if out:
            raise ConfigError("--format table prints to the terminal; use json, csv or parquet with --out")
        width = shutil.get_terminal_size((160, 40)).columns
        rel.show(max_width=width, max_rows=200)
        return
    if fmt == Format.JSON:
        cols = rel.columns
        rows = [dict(zip(cols, r)) for r in rel.fetchall()]
        text = json.dumps(rows, default=_jsonable, ensure_ascii=False, indent=1)
        if out:
            out.write_text(text + "\n", encoding="utf-8")
        else:
            sys.stdout.write(text + "\n")
        return
    if fmt == Format.PARQUET:
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


def run_query(store, query: str, fmt: str = Format.TABLE, out: Path | None = None, write: bool = False) -> bool:
    """Run `query` on the store and write its result; False when the statement has none (only
    with `write`). The store is opened read-only unless `write`: then the query takes the writer
    lock and is recorded as a run."""
    import duckdb

    from .contracts.runs import StageRun

    def run(con) -> bool:
        try:
            rel = con.sql(query)
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            hint = " (the store is opened read-only; pass --write to change it)" if "read-only" in first else ""
            raise ConfigError(f"query failed: {first}{hint}") from None
        if rel is None:  # a statement with no result
            return False
        write_result(rel, fmt, out)
        return True

    if write:
        with store.writer("sql --write"), StageRun(store, "sql", {"query": query}):
            with store.connect() as con:
                return run(con)
    with store.reader() as con:
        return run(con)


def status_sections(con) -> list[tuple[str, list[str], list[tuple]]]:
    """(title, columns, rows) for the table counts and each sql/queries/status/*.sql section."""
    from .store import Store
    from .store.sqlfiles import sql_path

    sections = []
    tables = sorted(Store.catalogue(con, kinds=("table",)) - {"schema_migrations"})
    counts = [(t, Store.count_rows(con, t)) for t in tables]
    sections.append(("Tables", ["table", "rows"], counts))
    for path in sorted(sql_path("queries", "status").glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        title = text.splitlines()[0].lstrip("- ").strip() if text.startswith("--") else path.stem
        rel = con.sql(text)
        sections.append((title, rel.columns, rel.fetchall()))
    return sections


def store_status(store) -> list[tuple[str, list[str], list[tuple]]]:
    """`brd status`'s sections, read from the store."""
    with store.reader() as con:
        return status_sections(con)
