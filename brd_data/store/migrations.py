"""Versioned schema migrations: a store opens at the schema this code knows, or fails clearly."""

from __future__ import annotations

import duckdb

from .errors import StoreError
from .sqlfiles import Migration, macros, migrations, query, views


def latest_version() -> int:
    ms = migrations()
    return ms[-1].version if ms else 0


def applied(con: duckdb.DuckDBPyConnection) -> dict[int, tuple[str, str]]:
    exists = con.execute(query("store/has_migrations_table")).fetchall()[0][0]
    if not exists:
        return {}
    rows = con.execute(query("store/applied_migrations")).fetchall()
    return {v: (n, c) for v, n, c in rows}


def check_compatible(con: duckdb.DuckDBPyConnection, where: str) -> list[Migration]:
    """Raise if the store is newer than this code or its history differs; return pending migrations."""
    done = applied(con)
    known = {m.version: m for m in migrations()}
    newer = sorted(v for v in done if v not in known)
    if newer:
        raise StoreError(
            f"store {where} has schema version {max(done)}, newer than this brd knows "
            f"({latest_version()}); upgrade brd to open it"
        )
    for v, (name, checksum) in sorted(done.items()):
        if known[v].checksum != checksum:
            raise StoreError(
                f"store {where}: migration {v:03d}_{name}.sql differs from the one applied "
                f"(checksum {checksum} vs {known[v].checksum}); migrations are append-only"
            )
    return [m for m in migrations() if m.version not in done]


def migrate(con: duckdb.DuckDBPyConnection, where: str) -> list[Migration]:
    """Apply pending migrations, each in its own transaction, then (re)create every view."""
    con.execute(query("store/migrations_table"))
    pending = check_compatible(con, where)
    for m in pending:
        con.execute("begin transaction")
        try:
            con.execute(m.sql)
            con.execute(query("store/record_migration"), {"version": m.version, "name": m.name, "checksum": m.checksum})
            con.execute("commit")
        except duckdb.Error as exc:
            con.execute("rollback")
            raise StoreError(f"migration {m.version:03d}_{m.name}.sql failed on {where}: {exc}") from exc
    create_views(con)
    return pending


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """Create every macro in sql/macros, then every view in sql/views. Views may read each other,
    so retry until a pass adds none."""
    for name, ddl in macros().items():
        try:
            con.execute(ddl)
        except duckdb.Error as exc:
            raise StoreError(f"sql/macros/{name}.sql: {str(exc).splitlines()[0]}") from exc
    todo = dict(views())
    last_error: dict[str, str] = {}
    while todo:
        progressed = False
        for name, ddl in list(todo.items()):
            try:
                con.execute(ddl)
            except duckdb.CatalogException as exc:  # a view it reads is not created yet
                last_error[name] = str(exc).splitlines()[0]
                continue
            except duckdb.Error as exc:
                raise StoreError(f"sql/views/{name}.sql: {str(exc).splitlines()[0]}") from exc
            del todo[name]
            progressed = True
        if not progressed:
            name = sorted(todo)[0]
            raise StoreError(f"sql/views/{name}.sql: {last_error[name]}")
    for name in views():
        found = con.execute(query("store/view_exists"), {"name": name}).fetchall()[0][0]
        if not found:
            raise StoreError(f"sql/views/{name}.sql does not create a view named {name}")
