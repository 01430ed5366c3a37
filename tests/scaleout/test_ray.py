"""`brd ingest` and `brd annotate` on a real local Ray cluster (`ray start --head`): the rows equal
a local run's, a failed task fails the run with its error instead of hanging the driver, and a
Ray worker killed mid-way is run again by datatrove without losing or doubling rows."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.annotate.conftest import annotate_args
from tests.annotate.openai_fake import FakeOpenAI
from tests.conftest import REPO, brd_cmd, run_brd

from .conftest import ANNOTATE_LIMIT, annotation_rows, clone, ingest_rows, lock_is_free, runs, sample_paths, wait_until

pytestmark = pytest.mark.slow


def test_ingest_on_ray_gives_the_rows_of_a_local_run(ray_head, local_ingested, tmp_path):
    store = tmp_path / "store"
    out = run_brd(
        "ingest",
        *sample_paths(),
        "--store",
        store,
        "--executor",
        "ray",
        "--tasks",
        "4",
        "--workers",
        "2",
        env=ray_head.env,
    )
    assert "(ingest, ray) succeeded" in out.stdout, out.stdout + out.stderr
    assert ingest_rows(store) == ingest_rows(local_ingested)
    ((_, _, status, error),) = runs(store)
    assert status == "succeeded" and error is None and lock_is_free(store)


def test_annotate_on_ray_gives_the_rows_of_a_local_run(ray_head, local_ingested, local_annotated, teacher, tmp_path):
    store = clone(local_ingested, tmp_path / "store")
    args = annotate_args(store, teacher.url, "--limit", str(ANNOTATE_LIMIT), "--lang", "en")
    out = run_brd(*args, "--executor", "ray", "--tasks", "2", "--workers", "2", env=ray_head.env)
    assert "(annotate, ray) succeeded" in out.stdout, out.stdout + out.stderr
    assert annotation_rows(store) == annotation_rows(local_annotated)
    assert not list((store / "staging").glob("*")) and lock_is_free(store)


def test_a_failed_ray_task_fails_the_run_with_its_error(ray_head, local_ingested, tmp_path):
    store = clone(local_ingested, tmp_path / "store")
    args = annotate_args(
        store,
        "http://127.0.0.1:9",
        "--served-model-name",
        "fake-teacher",
        "--teacher-fingerprint",  # both pinned: brd asks nothing of the endpoint before the tasks run
        "0123456789abcdef",
        "--limit",
        "10",
        "--dead-after",
        "2",
    )
    started = time.monotonic()
    out = run_brd(
        *args, "--executor", "ray", "--tasks", "2", "--workers", "2", env=ray_head.env, check=False, timeout=180
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "2 of 2 tasks did not finish" in out.stderr and "has not answered" in out.stderr, out.stderr
    ((_, _, status, error),) = [r for r in runs(store) if r[1] == "annotate"]
    assert status == "failed" and "ServerError" in error
    assert time.monotonic() - started < 150  # datatrove's pool used to wait forever here


def test_a_killed_ray_worker_is_rerun_without_losing_or_doubling_rows(ray_head, local_ingested, tmp_path):
    slow = FakeOpenAI(delay=0.05).start()
    try:
        reference = clone(local_ingested, tmp_path / "reference")
        store = clone(local_ingested, tmp_path / "store")
        extra = ["--limit", "60", "--lang", "en", "--chunk-size", "5", "--max-concurrency", "2"]
        run_brd(*annotate_args(reference, slow.url, *extra))
        cmd = [*brd_cmd(), *map(str, annotate_args(store, slow.url, *extra)), "--executor", "ray", "--tasks", "2"]
        proc = subprocess.Popen(
            cmd, cwd=REPO, env={**os.environ, **ray_head.env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            # kill -9 the process running a task once it has answered a few items (its parts stay)
            parts = store / "staging"
            wait_until(lambda: list(parts.glob("*/annotations/completion-00000-*.parquet")), what="task 0's first part")
            # an actor and the pool process it forked for its rank: what a lost node takes down
            actors = sorted(ray_head.workers("ray::RankWorker.run_for_rank"))
            assert actors, "no Ray worker is running a task"
            for pid in actors[:2]:
                os.kill(pid, signal.SIGKILL)
            out, err = proc.communicate(timeout=300)
        finally:
            proc.kill()
        assert proc.returncode == 0, out + err
        (log,) = store.glob("logs/annotate-*/datatrove.log")
        assert "RayActorError" in log.read_text() or "retriable" in log.read_text()  # datatrove ran it again
        assert annotation_rows(store) == annotation_rows(reference)
    finally:
        slow.stop()
