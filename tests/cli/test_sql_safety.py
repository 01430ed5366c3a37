"""`brd sql` with hostile input, on a real store: without --write nothing but reads runs, whatever
the statements try (attaching the store again read-write, copying it out, loading code, lifting
the protection); --out never lands inside a store; a read-only command leaves every byte of the
store as it was."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from brd_data.contracts.errors import ConfigError
from brd_data.explore import run_query
from brd_data.store import Store
from tests.conftest import run_brd


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "store"
    run_brd("ingest", "--store", root, "--limit-docs", "20")
    return root


def snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under `folder`: size, modification time and sha256."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def count(store: Path, table: str) -> int:
    with Store(store).reader() as con:
        return con.execute(f'select count(*) from "{table}"').fetchall()[0][0]


# Each probe, as a user (or a script fed untrusted text) might send it, and the statement refused.
REFUSED = [
    # the issue's sequence: leave the read-only database and attach the same file read-write
    (
        "attach ':memory:' as m; use m; detach brd; attach '{db}' as b (read_write); delete from b.sentences",
        "ATTACH",
    ),
    ("attach '{db}' as b (read_write)", "ATTACH"),
    ("detach brd", "DETACH"),
    ("use memory", "USE"),
    ("delete from sentences", "DELETE"),
    ("insert into sentences select * from sentences", "INSERT"),
    ("update sentences set text = ''", "UPDATE"),
    ("drop table sentences", "DROP"),
    ("create table t as select 1", "CREATE"),
    ("create temp table t as select 1", "CREATE"),
    ("alter table sentences add column x int", "ALTER"),
    ("copy sentences to '{out}/stolen.csv'", "COPY"),
    ("copy sentences from '{out}/in.csv'", "COPY"),
    ("export database '{out}/dump'", "EXPORT"),
    ("import database '{out}/dump'", "IMPORT"),
    ("install httpfs", "INSTALL"),
    ("load json", "LOAD"),
    ("checkpoint", "CHECKPOINT"),
    ("force checkpoint", "FORCE"),
    ("call checkpoint()", "CALL"),
    ("set enable_external_access = true", "SET"),
    ("reset lock_configuration", "RESET"),
    ("set allowed_directories = ['/']", "SET"),
    ("pragma enable_profiling", "PRAGMA"),
    ("pragma profiling_output = '{out}/p.txt'", "PRAGMA"),
    ("vacuum", "VACUUM"),
    ("begin transaction", "BEGIN"),
    ("prepare p as select 1", "PREPARE"),
    ("explain analyze delete from sentences", "DELETE"),
    ("select 1; delete from sentences", "DELETE"),
]
# Reads that pass the gate but that DuckDB itself refuses on the protected connection.
BLOCKED_BY_DUCKDB = [
    ("select * from read_csv('/etc/hostname')", "file system operations are disabled"),
    ("select * from read_parquet('{out}/../*.parquet')", "file system operations are disabled"),
    ("select * from glob('/etc/*')", "file system operations are disabled"),
]
ALLOWED = [
    "select count(*) as n from sentences",
    "with s as (select * from sentences) select count(*) from s",
    "from sentences limit 1",
    "describe sentences",
    "show tables",
    "summarize select n_chars from sentences",
    "explain select * from sentences",
    "explain analyze select count(*) from sentences",
    "pragma version",
    "pragma table_info('sentences')",
    "pragma database_size",
    "set variable brd_seed = 3; select getvariable('brd_seed') as s",
    "values (1), (2)",
]


def test_hostile_statements_are_refused_with_one_line_and_change_nothing(store, tmp_path):
    before = snapshot(store)
    sentences = count(store, "sentences")
    refused = 0
    for sql, verb in REFUSED:
        text = sql.format(db=store / "brd.duckdb", out=tmp_path)
        with pytest.raises(ConfigError) as err:
            run_query(Store(store), text, "json")
        message = str(err.value)
        assert "\n" not in message and f"read-only: {verb} is refused" in message, (text, message)
        refused += 1
    for sql, why in BLOCKED_BY_DUCKDB:
        with pytest.raises(ConfigError, match=why):
            run_query(Store(store), sql.format(db=store / "brd.duckdb", out=tmp_path), "json")
        refused += 1
    assert refused == len(REFUSED) + len(BLOCKED_BY_DUCKDB)
    assert snapshot(store) == before and count(store, "sentences") == sentences
    assert not list(tmp_path.iterdir())  # nothing was written outside either


def test_reads_still_work(store, capsys):
    for sql in ALLOWED:
        assert run_query(Store(store), sql, "json") is True, sql
        rows = json.loads(capsys.readouterr().out)
        assert isinstance(rows, list) and rows, sql
    # the mixture views read query variables (seed, pins): they work through the protection
    assert run_query(Store(store), "select count(*) as n from d_ori", "json")
    assert json.loads(capsys.readouterr().out)[0]["n"] > 0


def test_the_issue_sequence_through_the_command_line(store):
    before = snapshot(store)
    sql = REFUSED[0][0].format(db=store / "brd.duckdb", out="/tmp")
    out = run_brd("sql", "--store", store, sql, check=False)
    assert out.returncode == 1 and out.stderr.startswith("error: brd sql is read-only: ATTACH is refused")
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert snapshot(store) == before
    # no writer lock was taken and no run recorded
    assert count(store, "runs") == 1


def test_out_never_points_inside_a_store(store, tmp_path):
    before = snapshot(store)
    for target in (store / "brd.duckdb", store / "staging" / "x.json", store / "brd.lock", store / "x.parquet"):
        out = run_brd("sql", "--store", store, "-f", "json", "--out", target, "select 1 as x", check=False)
        assert out.returncode == 1 and f"inside the store {store.resolve()}" in out.stderr, out.stderr
    # another store is a store too
    other = tmp_path / "other"
    with Store(other).writer("create"):
        pass
    out = run_brd("sql", "--store", store, "-f", "csv", "--out", other / "brd.duckdb", "select 1 as x", check=False)
    assert out.returncode == 1 and "inside the store" in out.stderr
    assert snapshot(store) == before and (other / "brd.duckdb").stat().st_size > 100


def test_errors_while_printing_are_one_line(store):
    # the relation binds, then fails while its rows are computed for output
    for fmt in ("table", "json", "csv"):
        out = run_brd("sql", "--store", store, "-f", fmt, "select ('x' || n_chars)::int from sentences", check=False)
        assert out.returncode == 1 and out.stderr.startswith("error: query failed: Conversion Error"), out.stderr
        assert len(out.stderr.strip().splitlines()) == 1


def test_read_only_commands_never_write(store, tmp_path):
    before = snapshot(store)
    run_brd("sql", "--store", store, "select count(*) from passages")
    run_brd("sql", "--store", store, "-f", "parquet", "--out", tmp_path / "p.parquet", "select * from passages")
    run_brd("status", "--store", store)
    run_brd("sql", "--store", store, "pragma database_size")
    assert snapshot(store) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.parquet"]
