"""Reading the store by hand: `brd sql`'s queries and output formats, `brd status`'s sections.
`brd` imports this module at start-up (for `Format`): the store and DuckDB load when used."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import os
import re
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


# What a read-only `brd sql` runs: queries, and the pragmas that only report. Everything else
# (ATTACH, DETACH, USE, COPY, EXPORT, INSTALL, LOAD, SET, CALL, DML, DDL, transactions) is refused
# before any statement runs; DuckDB then enforces the same on the connection itself (read-only,
# no external access, configuration locked), so a statement that slips past this list still fails.
_READ_STATEMENTS = frozenset({"SELECT", "EXPLAIN", "PRAGMA", "SET"})
_READ_PRAGMAS = frozenset(
    {
        "version",
        "platform",
        "database_list",
        "database_size",
        "show_databases",
        "show_tables",
        "show_tables_expanded",
        "table_info",
        "show",
        "storage_info",
        "metadata_info",
        "functions",
        "collations",
        "user_agent",
    }
)
_PRAGMA_NAME = re.compile(r"^\s*pragma\s+([A-Za-z_][A-Za-z0-9_]*)\s*(\(|;|$)", re.IGNORECASE)
_SET_VARIABLE = re.compile(r"^\s*(set|reset)\s+variable\s", re.IGNORECASE)
_EXPLAIN = re.compile(r"^\s*explain\s+(analyze\s+)?", re.IGNORECASE)
_PROTECT = ("set enable_external_access = false", "set lock_configuration = true")


def check_read_only(con, sql: str) -> None:
    """Refuse, with one line, any statement of `sql` that is not a read (see _READ_STATEMENTS)."""
    import duckdb

    try:
        statements = con.extract_statements(sql)
    except (duckdb.Error, ValueError) as exc:  # ValueError: a statement type this duckdb cannot name
        raise ConfigError(f"query failed: {str(exc).splitlines()[0]}") from None
    for st in statements:
        kind = st.type.name
        text = st.query.strip().rstrip(";")
        verb = text.split(None, 1)[0].upper() if text else kind
        if kind == "PRAGMA":
            m = _PRAGMA_NAME.match(text)
            if m and m.group(1).lower() in _READ_PRAGMAS:
                continue
        elif kind == "SET" and _SET_VARIABLE.match(text):
            continue  # a query variable (the views read some): it lives in this connection only
        elif kind == "EXPLAIN":
            inner = _EXPLAIN.sub("", text, count=1)
            check_read_only(con, inner)  # EXPLAIN ANALYZE runs its statement
            continue
        elif kind in _READ_STATEMENTS - {"PRAGMA", "SET", "EXPLAIN"}:
            continue
        raise ConfigError(
            f"brd sql is read-only: {verb} is refused ({text[:60]}{'...' if len(text) > 60 else ''}); "
            "pass --write to change the store"
        )


def check_out(out: Path | None) -> None:
    """`--out` is a file outside every store: a result never lands in (or over) a store's files."""
    from .contracts.outputs import inside_store

    if out is None:
        return
    store = inside_store(out)
    if store is not None:
        raise ConfigError(f"--out {out}: inside the store {store}; write results outside it")


def _damaged(store, exc: BaseException) -> None:
    from .store.store import damaged_message, is_damaged

    if is_damaged(exc):
        raise ConfigError(damaged_message(store.db_path, exc)) from None


def run_query(store, query: str, fmt: str = Format.TABLE, out: Path | None = None, write: bool = False) -> bool:
    """Run `query` on the store and write its result; False when the statement has none (only
    with `write`). The store is opened read-only unless `write`, and then only reads run (see
    check_read_only), on a connection without file access and with its configuration locked;
    with `write`, the query takes the writer lock and is recorded as a run."""
    import duckdb

    from .contracts.runs import StageRun

    check_out(out)

    def run(con, protect: bool) -> bool:
        try:
            if protect:
                check_read_only(con, query)
                for setting in _PROTECT:
                    con.execute(setting)
            rel = con.sql(query)
        except duckdb.Error as exc:
            _damaged(store, exc)
            first = str(exc).splitlines()[0]
            hint = " (the store is opened read-only; pass --write to change it)" if "read-only" in first else ""
            raise ConfigError(f"query failed: {first}{hint}") from None
        if rel is None:  # a statement with no result
            return False
        existed = out is not None and out.exists()
        try:
            if protect:
                # The user's SQL runs only in the locked connection; the result is written through
                # another one (in memory, no user SQL), which may write --out.
                with duckdb.connect() as plain:
                    write_result(plain.from_arrow(rel.to_arrow_reader()), fmt, out)
            else:
                write_result(rel, fmt, out)
        except duckdb.Error as exc:  # raised while the result is computed or written
            _damaged(store, exc)
            raise ConfigError(f"query failed: {str(exc).splitlines()[0]}") from None
        except BrokenPipeError:  # `brd sql ... | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        finally:
            if out is not None and not existed and sys.exc_info()[0] is not None:
                out.unlink(missing_ok=True)  # a result cut short (a full disk) is not left behind
        return True

    if write:
        with store.writer("sql --write"), StageRun(store, "sql", {"query": query}):
            with store.connect() as con:
                return run(con, protect=False)
    with store.reader() as con:
        return run(con, protect=True)


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
