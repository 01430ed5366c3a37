"""Loading the SQL that lives in sql/: schema migrations, views and named queries."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import StoreError

_MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_VIEW_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


_PKG = Path(__file__).resolve().parent.parent


@functools.cache
def sql_dir() -> Path:
    """sql/ at the top of a checkout, or inside the installed package (a wheel carries it)."""
    for candidate in (_PKG.parent / "sql", _PKG / "_resources" / "sql"):
        if candidate.is_dir():
            return candidate
    raise StoreError(f"brd's sql/ folder is missing (looked in {_PKG.parent} and {_PKG / '_resources'})")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


@functools.cache
def migrations() -> tuple[Migration, ...]:
    """All migrations under sql/schema, ordered by version (`NNN_name.sql`)."""
    found = []
    for path in sorted((sql_dir() / "schema").glob("*.sql")):
        m = _MIGRATION_NAME.match(path.name)
        if not m:
            raise StoreError(f"{path}: migration files are named NNN_name.sql")
        found.append(Migration(int(m.group(1)), m.group(2), path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise StoreError(f"duplicate migration versions in {sql_dir() / 'schema'}: {versions}")
    return tuple(found)


@functools.cache
def views() -> dict[str, str]:
    """View name -> its `create or replace view` statement, one file per view in sql/views."""
    out = {}
    for path in sorted((sql_dir() / "views").glob("*.sql")):
        name = path.stem
        if not _VIEW_NAME.match(name):
            raise StoreError(f"{path}: view file names are lowercase snake_case")
        out[name] = path.read_text(encoding="utf-8")
    return out


@functools.cache
def macros() -> dict[str, str]:
    """Macro name -> its `create or replace macro` statement, one file per macro in sql/macros.
    Views call them (a behaviour's block is one macro, instantiated per behaviour)."""
    out = {}
    for path in sorted((sql_dir() / "macros").glob("*.sql")):
        if not _VIEW_NAME.match(path.stem):
            raise StoreError(f"{path}: macro file names are lowercase snake_case")
        out[path.stem] = path.read_text(encoding="utf-8")
    return out


@functools.cache
def query(name: str) -> str:
    """A named query from sql/queries/NAME.sql."""
    path = sql_dir() / "queries" / f"{name}.sql"
    if not path.is_file():
        raise StoreError(f"no query {name!r} in {path.parent}")
    return path.read_text(encoding="utf-8")


def sql_path(*parts: str) -> Path:
    return sql_dir().joinpath(*parts)


_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def statements(text: str) -> list[str]:
    """Split a .sql file into statements at semicolons that end a line."""
    parts = re.split(r";\s*(?:\n|$)", text)
    return [
        p.strip()
        for p in parts
        if p.strip() and not all(line.strip().startswith("--") or not line.strip() for line in p.strip().splitlines())
    ]


def run_sql(con, text: str, params: dict | None = None):
    """Run every statement of `text`, each with the `$named` parameters it uses; returns the last result."""
    params = params or {}
    result = None
    for stmt in statements(text):
        used = {k: params[k] for k in set(_PARAM.findall(stmt)) if k in params}
        if result is not None:
            result.fetchall()  # finish the previous statement's result (DuckDB 2.0)
        result = con.execute(stmt, used) if used else con.execute(stmt)
    return result
