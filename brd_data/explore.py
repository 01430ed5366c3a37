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


_NESTED = ("list", "array", "struct", "map", "union")


def _is_json(duck_type) -> bool:
    return str(duck_type) == "JSON"


def _nested_as_json(rel):
    """The relation with its list, array, struct and map columns as JSON text (for CSV); JSON
    columns are JSON text already."""
    from duckdb import ColumnExpression, FunctionExpression

    if not any(t.id in _NESTED for t in rel.types):
        return rel
    return rel.select(
        *(
            FunctionExpression("to_json", ColumnExpression(c)).alias(c) if t.id in _NESTED else ColumnExpression(c)
            for c, t in zip(rel.columns, rel.types)
        )
    )


def write_result(rel, fmt: str, out: Path | None, types: list | None = None) -> None:
    """Write a DuckDB relation as a table, a JSON array of row objects, CSV or Parquet. JSON nests
    JSON, list and struct columns as JSON values; CSV writes them as JSON text. `types`: the column
    types of the query the rows come from (a relation rebuilt from Arrow has lost DuckDB's JSON type)."""
    fmt = check_choice(Format, fmt, "--format")
    if fmt == Format.TABLE:
        if out:
            raise ConfigError("--format table prints to the terminal; use json, csv or parquet with --out")
        width = shutil.get_terminal_size((160, 40)).columns
        rel.show(max_width=width, max_rows=200)
        return
    if fmt == Format.JSON:
        cols = rel.columns
        parse = [_is_json(t) for t in (types or rel.types)]
        rows = [
            {c: json.loads(v) if p and isinstance(v, str) else v for c, v, p in zip(cols, r, parse)}
            for r in rel.fetchall()
        ]
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
    rel = _nested_as_json(rel)
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
            first = _duckdb_message(exc)
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
                    write_result(plain.from_arrow(rel.to_arrow_reader()), fmt, out, types=rel.types)
            else:
                write_result(rel, fmt, out)
        except duckdb.Error as exc:  # raised while the result is computed or written (a view's error())
            _damaged(store, exc)
            raise ConfigError(f"query failed: {_duckdb_message(exc)}") from None
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
    views = Store.catalogue(con, kinds=("view",))
    grains = view_grains()
    sections.append(("Views (sql/views)", ["view", "grain"], [(v, grains.get(v, "")) for v in sorted(views)]))
    for path in sorted(sql_path("queries", "status").glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        title = text.splitlines()[0].lstrip("- ").strip() if text.startswith("--") else path.stem
        rel = con.sql(text)
        sections.append((title, rel.columns, rel.fetchall()))
    return sections


def view_grains() -> dict[str, str]:
    """Each sql/views file's stated grain and key (its `-- grain:` comment), by view name."""
    from .store.sqlfiles import sql_path

    out = {}
    for path in sorted(sql_path("views").glob("*.sql")):
        header, found = [], False
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.startswith("--"):
                break
            text = line.lstrip("-").strip()
            if text.startswith("grain:"):
                found, text = True, text[len("grain:") :].strip()
            if found:
                header.append(text)
        out[path.stem] = " ".join(header)
    return out


def store_status(store) -> list[tuple[str, list[str], list[tuple]]]:
    """`brd status`'s sections, read from the store."""
    with store.reader() as con:
        return status_sections(con)


# -- the Python API (`import brd_data as brd`) -------------------------------------------------------


class Result:
    """The rows of one query, read into Arrow: `.pl()` (polars), `.arrow()`, `.df()` (pandas),
    `.rows()` (tuples). The store's connection is closed already: a result outlives it."""

    def __init__(self, table):
        self._table = table

    @property
    def columns(self) -> list[str]:
        return list(self._table.column_names)

    def __len__(self) -> int:
        return self._table.num_rows

    def arrow(self):
        """A `pyarrow.Table`."""
        return self._table

    def pl(self):
        """A `polars.DataFrame` (list and struct columns stay nested)."""
        import polars as pl

        return pl.from_arrow(self._table)

    def df(self):
        """A `pandas.DataFrame`."""
        return self._table.to_pandas()

    def rows(self) -> list[tuple]:
        """Every row as a tuple, in column order."""
        cols = [c.to_pylist() for c in self._table.columns]
        return list(zip(*cols))

    def __repr__(self) -> str:
        return repr(self.pl())


class ReadOnlyStore:
    """A store opened for reading (`brd.open(path)`). Each call opens a read-only connection and
    closes it before it returns, so a notebook never holds the store against a running writer
    (ingest, annotate, train wait for no reader)."""

    def __init__(self, path: str | Path | None = None):
        from .store import Store

        self._store = Store(path).require()
        with self._store.reader():  # fails now, with one line, on a store this brd cannot read
            pass

    @property
    def root(self) -> Path:
        return self._store.root

    def __repr__(self) -> str:
        return f"brd.open({str(self.root)!r})"

    def sql(self, query: str, **params: Any) -> Result:
        """Run one read-only query; `$name` placeholders take `params` (`store.sql("... where task
        = $task", task="cb")`). A bad query is a one-line `QueryError`."""
        import duckdb

        with self._store.reader() as con:
            try:
                rel = con.sql(query, params=params or None)
                if rel is None:  # a statement without a result
                    raise QueryError("the statement returns no rows (the store is opened read-only)")
                table = rel.to_arrow_table()
            except duckdb.Error as exc:
                raise QueryError(f"query failed: {_duckdb_message(exc)}") from None
        return Result(table)

    def tables(self) -> Result:
        """The tables and views, with their kind."""
        return self.sql(
            "select table_name as name, case when table_type = 'VIEW' then 'view' else 'table' end as kind "
            "from information_schema.tables where table_schema = 'main' order by kind, name"
        )

    def status(self) -> dict[str, Result]:
        """`brd status`'s sections, each a Result."""
        import pyarrow as pa

        out = {}
        for title, cols, rows in store_status(self._store):
            out[title] = Result(pa.table({c: [r[i] for r in rows] for i, c in enumerate(cols)}))
        return out

    def mixture_dir(self, name: str) -> Path:
        """The folder of the latest build of mixture `name` recorded in this store."""
        found = self.sql(
            "select out_dir from mixtures where name = $name order by created_at desc limit 1", name=name
        ).rows()
        if not found:
            names = sorted({r[0] for r in self.sql("select distinct name from mixtures").rows()})
            raise QueryError(
                f"no mixture {name!r} built from {self.root}"
                + (f"; built: {', '.join(names)}" if names else "; build one with `brd mix build`")
            )
        return Path(found[0][0])

    def mixture(self, name: str, columns: list[str] | None = None):
        """The latest build of mixture `name` as a `datasets.Dataset` (see `load_mixture`)."""
        return load_mixture(self.mixture_dir(name), columns=columns)


class QueryError(ConfigError):
    """A query or a name the store cannot answer; one line."""


def _duckdb_message(exc: Exception) -> str:
    """DuckDB's message without its class prefix ("Binder Error: ...")."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first


def open_store(path: str | Path | None = None) -> ReadOnlyStore:
    """`brd.open(path)`: the store at `path` (default: $BRD_STORE, else ./brd-store), read-only."""
    return ReadOnlyStore(path)


def load_mixture(path: str | Path, columns: list[str] | None = None, cache_dir: str | Path | None = None):
    """A built mixture folder (manifest.json + data/train-*.parquet) as a `datasets.Dataset`, rows
    in the builder's order, every column of the shards (or `columns`). In memory by default;
    `cache_dir` memory-maps it through datasets' Arrow cache instead (for large mixtures)."""
    import pyarrow.parquet as pq

    from .contracts.schemas.mixture import ManifestError, read_mixture_manifest

    root = Path(path)
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise ManifestError(f"{root}: not a built mixture folder (no manifest.json; build one with `brd mix build`)")
    checked, _raw = read_mixture_manifest(manifest_path)
    files = [root / s.file for s in checked.shards] or sorted((root / "data").glob("train-*.parquet"))
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ManifestError(f"{root}: shard {missing[0]} is missing")
    from datasets import Dataset

    if cache_dir is not None:
        ds = Dataset.from_parquet([str(f) for f in files], cache_dir=str(cache_dir))
        return ds.select_columns(columns) if columns else ds
    import pyarrow as pa

    table = pa.concat_tables([pq.read_table(f, columns=columns) for f in files])
    if table.num_rows != checked.rows:
        raise ManifestError(f"{root}: the manifest says {checked.rows} rows but the shards hold {table.num_rows}")
    return Dataset(table)
