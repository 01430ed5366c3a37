"""The run lifecycle on real DuckDB files and real processes: every run ends succeeded, failed or
interrupted, a killed writer's children never keep the store locked, and the next writer closes
the runs of dead processes as interrupted, keeping what they committed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pyarrow as pa
import pytest

from brd_data.contracts.runs import StageRun
from brd_data.store import Store, StoreLockedError


def runs(store_dir) -> dict[str, tuple]:
    with Store(store_dir).reader() as con:
        rows = con.execute("select command, status, error, lease from runs order by started_at").fetchall()
    return {r[0]: r[1:] for r in rows}


def quarantine_rows(store_dir) -> int:
    with Store(store_dir).reader() as con:
        return con.execute("select count(*) from quarantine").fetchall()[0][0]


def spawn(code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_line(proc: subprocess.Popen, want: str) -> None:
    line = proc.stdout.readline().strip()
    assert line == want, (line, proc.stderr.read() if proc.poll() is not None else "")


HOLDER = """
    import os, sys, time
    import pyarrow as pa
    from brd_data.contracts.runs import StageRun
    from brd_data.store import Store
    st = Store({store!r})
    with st.writer("holder"), StageRun(st, "holder", {{}}) as run:
        with st.transaction() as con:
            st.insert(con, "quarantine", pa.table({{"quarantine_id": ["q1"], "run_id": [run.run_id],
                                                   "stage": ["t"], "reason": ["x"]}}))
        {child}
        print("committed", flush=True)
        time.sleep(120)
"""


def test_kill_9_of_the_main_process_alone_frees_the_lock_and_the_run_is_closed_as_interrupted(store_dir):
    # The child is forked after the lock is taken, as datatrove's manager is; it outlives the kill.
    child = (
        "pid = os.fork()\n        if pid == 0:\n            time.sleep(120); os._exit(0)\n"
        "        print(pid, flush=True)"
    )
    proc = spawn(HOLDER.format(store=str(store_dir), child=child))
    child_pid = int(proc.stdout.readline())
    wait_line(proc, "committed")
    try:
        with pytest.raises(StoreLockedError, match=f"locked by pid {proc.pid} \\(holder"):
            with Store(store_dir).writer("blocked"):
                pass
        os.kill(proc.pid, signal.SIGKILL)  # the main process only: the child stays, as after the OOM killer
        proc.wait()
        os.kill(child_pid, 0)  # still alive
        with Store(store_dir).writer("next"):
            pass
    finally:
        os.kill(child_pid, signal.SIGKILL)
    status, error, lease = runs(store_dir)["holder"]
    assert (status, lease) == ("interrupted", "lock") and f"process {proc.pid}" in error
    assert quarantine_rows(store_dir) == 1  # what the killed run committed is kept


def test_sigterm_closes_the_run_as_interrupted(store_dir):
    code = HOLDER.format(store=str(store_dir), child="pass").replace(
        "st = Store(",
        "import signal\n    from brd_data.contracts.errors import Terminated\n"
        "    def _term(*_):\n        raise Terminated('SIGTERM')\n"
        "    signal.signal(signal.SIGTERM, _term)\n    st = Store(",
    )
    proc = spawn(code)
    wait_line(proc, "committed")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    status, error, _ = runs(store_dir)["holder"]
    assert status == "interrupted" and "Terminated: SIGTERM" in error


def test_short_window_runs_are_closed_only_when_their_process_is_gone(store_dir):
    # A `pid` run (train, eval) holds no lock between its writes: another writer must leave it be
    # while its process lives, and close it once the process is dead.
    code = f"""
        import time
        from brd_data.contracts.runs import StageRun
        from brd_data.store import Store
        run = StageRun(Store({str(store_dir)!r}), "long eval", {{}})
        run.__enter__()
        print("begun", flush=True)
        time.sleep(120)
    """
    proc = spawn(code)
    wait_line(proc, "begun")
    with Store(store_dir).writer("other"):
        pass
    assert runs(store_dir)["long eval"][0] == "running" and runs(store_dir)["long eval"][2] == "pid"
    proc.kill()
    proc.wait()
    with Store(store_dir).writer("other again"):
        pass
    assert runs(store_dir)["long eval"][0] == "interrupted"


def test_a_run_handed_to_a_cluster_is_left_to_its_commit_job(store_dir):
    st = Store(store_dir)
    with st.writer("submit"), StageRun(st, "ingest", {}) as run:
        run.hand_off()
    with st.writer("later"):
        pass
    assert runs(store_dir)["ingest"][0] == "running" and runs(store_dir)["ingest"][2] == "cluster"
    job = StageRun.attach(st, run.run_id, "ingest")
    with st.writer("commit job"):
        job.finish("succeeded")
    assert runs(store_dir)["ingest"][0] == "succeeded"


def test_failure_and_success_and_nesting(store_dir):
    st = Store(store_dir)
    with st.writer("outer"):
        with st.writer("nested"):  # nesting yields the held lock
            pass
        with StageRun(st, "ok", {"a": 1}) as run:
            run.add_counts(rows=3)
            run.add_counts(rows=2)
        with pytest.raises(KeyError):
            with StageRun(st, "bad", {}):
                raise KeyError("boom")
    got = runs(store_dir)
    assert got["ok"][0] == "succeeded" and got["bad"][0] == "failed" and "KeyError: 'boom'" in got["bad"][1]
    with st.reader() as con:
        counts = con.execute("select row_counts->>'rows' from runs where command = 'ok'").fetchall()[0][0]
    assert counts == "5"


def test_a_short_window_run_waits_for_the_lock(store_dir):
    st = Store(store_dir)
    code = f"""
        import time
        from brd_data.store import Store
        with Store({str(store_dir)!r}).writer("brief"):
            print("held", flush=True)
            time.sleep(2)
    """
    proc = spawn(code)
    wait_line(proc, "held")
    told = []
    started = time.monotonic()
    with StageRun(st, "patient", {}, wait_s=30, on_wait=told.append) as run:
        run.commit(
            lambda con: st.insert(
                con,
                "quarantine",
                pa.table({"quarantine_id": ["q"], "run_id": [run.run_id], "stage": ["t"], "reason": ["x"]}),
            )
        )
    proc.wait()
    assert time.monotonic() - started >= 1 and told and "locked by pid" in told[0]
    assert runs(store_dir)["patient"][0] == "succeeded"
