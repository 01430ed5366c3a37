"""The store on a real DuckDB file: migrations, the writer lock, transactions, identifiers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap

import duckdb
import pyarrow as pa
import pytest

from brd_data.contracts.runs import StageRun
from brd_data.store import Store, StoreError, StoreLockedError
from brd_data.store.migrations import latest_version
from brd_data.store.sqlfiles import migrations

CORE_TABLES = {"runs", "sources", "documents", "sentences", "passages", "quarantine"}


def test_writer_creates_schema_and_views(store_dir):
    st = Store(store_dir)
    with st.writer("test"):
        pass
    with st.reader() as con:
        tables = st.catalogue(con, kinds=("table",))
        versions = [r[0] for r in con.execute("select version from schema_migrations order by 1").fetchall()]
    assert CORE_TABLES <= tables
    assert versions == [m.version for m in migrations()]


def test_reopening_applies_nothing_twice(store_dir):
    st = Store(store_dir)
    with st.writer("a"):
        pass
    with st.writer("b"):
        pass
    with st.reader() as con:
        n = con.execute("select count(*) from schema_migrations").fetchall()[0][0]
    assert n == len(migrations())


def test_reader_on_missing_store_says_so(tmp_path):
    with pytest.raises(StoreError, match="no store at"):
        with Store(tmp_path / "nothing").reader():
            pass


def test_newer_store_is_refused(store_dir):
    st = Store(store_dir)
    with st.writer("test"):
        pass
    con = duckdb.connect(str(st.db_path))
    con.execute("insert into schema_migrations values (999, 'future', 'x', current_timestamp)")
    con.close()
    with pytest.raises(StoreError, match=r"schema version 999, newer than this brd knows"):
        with st.reader():
            pass


def test_edited_migration_is_refused(store_dir):
    st = Store(store_dir)
    with st.writer("test"):
        pass
    con = duckdb.connect(str(st.db_path))
    con.execute("update schema_migrations set checksum = 'changed' where version = 1")
    con.close()
    with pytest.raises(StoreError, match="differs from the one applied"):
        with st.writer("again"):
            pass


def test_old_store_needs_migration_for_readers(store_dir):
    st = Store(store_dir)
    with st.writer("test"):
        pass
    con = duckdb.connect(str(st.db_path))
    con.execute("delete from schema_migrations where version = ?", [latest_version()])
    con.close()
    with pytest.raises(StoreError, match="brd migrate"):
        with st.reader():
            pass


def test_second_writer_gets_locked_error_naming_pid(store_dir):
    st = Store(store_dir)
    with st.writer("ingest"):
        code = textwrap.dedent(f"""
            import sys
            from brd_data.store import Store, StoreLockedError
            try:
                with Store({str(store_dir)!r}).writer("other"):
                    pass
            except StoreLockedError as exc:
                print(exc)
                sys.exit(3)
        """)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    import os

    assert proc.returncode == 3, proc.stderr
    assert f"locked by pid {os.getpid()}" in proc.stdout
    assert "ingest" in proc.stdout


def test_lock_is_free_after_holder_is_killed(store_dir):
    st = Store(store_dir)
    with st.writer("init"):
        pass
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import time
        from brd_data.store import Store
        with Store({str(store_dir)!r}).writer("sleeper"):
            print("held", flush=True)
            time.sleep(60)
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(StoreLockedError):
        with st.writer("blocked"):
            pass
    holder.kill()
    holder.wait()
    with st.writer("after kill -9"):
        pass


def test_a_forked_child_does_not_keep_the_lock_after_kill_9_of_the_holder(store_dir):
    """datatrove's LocalPipelineExecutor forks a multiprocess.Manager while brd holds the lock; that
    child outlives a `kill -9` of brd alone (as after the OOM killer) and must not keep the store."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import time
        import multiprocess
        from brd_data.store import Store
        with Store({str(store_dir)!r}).writer("forks a manager"):
            manager = multiprocess.Manager()
            print(manager._process.pid, flush=True)
            time.sleep(60)
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    child = int(holder.stdout.readline())
    try:
        with pytest.raises(StoreLockedError):
            with Store(store_dir).writer("blocked"):
                pass
        holder.kill()
        holder.wait()
        os.kill(child, 0)  # the forked manager is still there
        with Store(store_dir).writer("after kill -9 of the holder alone"):
            pass
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def test_transaction_rolls_back_as_one_unit(store_dir):
    st = Store(store_dir)
    rows = pa.table({"quarantine_id": ["q1"], "run_id": ["r"], "stage": ["read"], "reason": ["x"]})
    with st.writer("test"):
        with pytest.raises(RuntimeError):
            with st.transaction() as con:
                st.insert(con, "quarantine", rows)
                raise RuntimeError("boom")
        with st.reader() as con:
            assert con.execute("select count(*) from quarantine").fetchall()[0][0] == 0


def test_insert_ignores_rows_already_present(store_dir):
    st = Store(store_dir)
    rows = pa.table({"quarantine_id": ["q1", "q2"], "run_id": ["r", "r"], "stage": ["read"] * 2, "reason": ["x"] * 2})
    with st.writer("test"):
        with st.transaction() as con:
            assert st.insert(con, "quarantine", rows) == 2
        with st.transaction() as con:
            assert st.insert(con, "quarantine", rows) == 0


@pytest.mark.parametrize("name", ["sentences; drop table runs", "nope", "", 'Sentences"'])
def test_identifiers_are_checked_against_the_catalogue(store_dir, name):
    st = Store(store_dir)
    with st.writer("test"):
        with st.connect() as con:
            with pytest.raises(StoreError, match="valid: .*sentences"):
                st.check_identifier(con, name)
            assert con.execute("select count(*) from runs").fetchall()[0][0] == 0


def test_run_records_lineage_and_failure(store_dir):
    st = Store(store_dir)
    with st.writer("test"):
        with StageRun(st, "ok-step", {"a": 1}, [{"path": "x", "size": 1, "sha256": "ab"}]) as run:
            run.add_counts(rows=3)
        with pytest.raises(ValueError):
            with StageRun(st, "bad-step", {}):
                raise ValueError("bad input")
    with st.reader() as con:
        rows = con.execute(
            "select command, status, config->>'a', inputs->0->>'sha256', row_counts->>'rows', error, code_version "
            "from runs order by started_at, command"
        ).fetchall()
    ok = [r for r in rows if r[0] == "ok-step"][0]
    bad = [r for r in rows if r[0] == "bad-step"][0]
    assert ok[1:5] == ("succeeded", "1", "ab", "3")
    assert ok[6]
    assert bad[1] == "failed" and "bad input" in bad[5]


def test_readers_do_not_block_on_a_committing_writer(store_dir):
    """A reader waits for the writer's short commit window instead of failing."""
    st = Store(store_dir)
    with st.writer("init"):
        pass
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import time
        from brd_data.store import Store
        st = Store({str(store_dir)!r})
        with st.writer("slow commit"):
            with st.connect() as con:
                print("open", flush=True)
                time.sleep(2)
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout.readline().strip() == "open"
    with Store(store_dir, busy_timeout=30).reader() as con:
        assert con.execute("select count(*) from runs").fetchall()[0][0] == 0
    writer.wait(timeout=30)
