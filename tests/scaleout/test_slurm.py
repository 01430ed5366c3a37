"""`brd ingest` and `brd annotate` through real sbatch on a one-node Slurm cluster: the tasks, the
commit job that depends on them, failures that end the run instead of hanging it, and `scancel`
of a task mid-way followed by a rerun that resumes."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.annotate.conftest import annotate_args
from tests.annotate.openai_fake import FakeOpenAI
from tests.conftest import REPO, brd_cmd, run_brd

from .conftest import (
    ANNOTATE_LIMIT,
    annotation_rows,
    clone,
    ingest_rows,
    lock_is_free,
    runs,
    sample_paths,
    slurm_jobs,
    submitted_run,
    wait_until,
)

pytestmark = pytest.mark.slow


def _queue(job_id) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-j", str(job_id), "-o", "%i %T"], capture_output=True, text=True)
    return out.stdout.split("\n") if out.stdout.strip() else []


def _run_status(store: Path, run_id: str) -> str:
    return next(r[2] for r in runs(store) if r[0] == run_id)


def test_ingest_on_slurm_gives_the_rows_of_a_local_run(slurm, local_ingested, tmp_path):
    store = tmp_path / "store"
    out = run_brd(
        "ingest", *sample_paths(), "--store", store, "--executor", "slurm", "--partition", slurm,
        "--tasks", "4", "--workers", "4", "--wait", "--sbatch-arg", "comment=brd-scaleout-test",
    )  # fmt: skip
    run_id = submitted_run(out.stdout)
    assert f"run {run_id} (ingest, slurm) succeeded" in out.stdout
    assert ingest_rows(store) == ingest_rows(local_ingested)
    assert all(len(v) for t, v in ingest_rows(store).items() if t != "quarantine")
    # four tasks and one commit job, all gone from the queue; nothing staged; nobody holds the lock
    jobs = slurm_jobs(store, run_id)
    assert _queue(jobs["stages"][0]) == [] and _queue(jobs["commit"]) == []
    assert len(list((store / "logs" / run_id / "workers" / "completions").iterdir())) == 4
    assert not (store / "staging" / run_id).exists() and lock_is_free(store)
    # the job found the virtualenv (the first failure on main: launch_pickled_pipeline not on PATH)
    script = (store / "logs" / run_id / "workers" / "launch_script.slurm").read_text()
    assert "kill-on-invalid-dep=yes" in script and "export PATH=" in script
    assert "#SBATCH --comment=brd-scaleout-test" in script  # --sbatch-arg


def test_an_unknown_partition_is_refused_before_a_run_starts(slurm, tmp_path):
    store = tmp_path / "store"
    out = run_brd(
        "ingest", *sample_paths(), "--store", store, "--executor", "slurm", "--partition", "nope", check=False
    )
    assert out.returncode == 1 and "no such partition (sinfo lists: brd" in out.stderr, out.stderr
    bad = ["--executor", "slurm", "--partition", slurm, "--sbatch-arg", "comment=x\nrm -rf /"]
    out = run_brd("ingest", *sample_paths(), "--store", store, *bad, check=False)
    assert out.returncode == 1 and "--sbatch-arg comment=" in out.stderr and "Traceback" not in out.stderr
    assert not (store / "brd.duckdb").exists() or runs(store) == []


def test_annotate_on_slurm_gives_the_rows_of_a_local_run(slurm, local_ingested, local_annotated, teacher, tmp_path):
    store = clone(local_ingested, tmp_path / "store")
    args = annotate_args(store, teacher.url, "--limit", str(ANNOTATE_LIMIT), "--lang", "en")
    out = run_brd(*args, "--executor", "slurm", "--partition", slurm, "--tasks", "2", "--workers", "2", "--wait")
    run_id = submitted_run(out.stdout)
    assert f"run {run_id} (annotate, slurm) succeeded" in out.stdout
    assert annotation_rows(store) == annotation_rows(local_annotated)
    assert len(annotation_rows(store)) == 2 * ANNOTATE_LIMIT
    assert not (store / "staging" / run_id).exists() and lock_is_free(store)
    # a second run has nothing to do
    again = run_brd(*args, "--executor", "slurm", "--partition", slurm, "--tasks", "2", "--wait")
    assert "nothing to do" in again.stdout


def test_a_failed_job_fails_the_run_with_its_error_and_nothing_waits_forever(slurm, local_ingested, tmp_path):
    store = clone(local_ingested, tmp_path / "store")
    dead = "http://127.0.0.1:9"  # nothing listens: every task's teacher is gone
    # the served name and the fingerprint pinned: brd asks nothing of the endpoint before the jobs run
    pinned = ("--served-model-name", "fake-teacher", "--teacher-fingerprint", "0123456789abcdef")
    args = annotate_args(store, dead, *pinned, "--limit", "10", "--dead-after", "2")
    started = time.monotonic()
    out = run_brd(
        *args, "--executor", "slurm", "--partition", slurm, "--tasks", "2", "--workers", "2", "--wait", check=False
    )
    run_id = submitted_run(out.stdout)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"error: run {run_id}: 2 of 2 tasks did not finish" in out.stderr
    assert "ServerError" in out.stderr and "has not answered" in out.stderr  # the job's own error
    ((_, _, status, error),) = [r for r in runs(store) if r[0] == run_id]
    assert status == "failed" and "has not answered" in error
    jobs = slurm_jobs(store, run_id)
    assert _queue(jobs["stages"][0]) == [] and _queue(jobs["commit"]) == []  # no DependencyNeverSatisfied
    assert time.monotonic() - started < 120


def test_a_cancelled_commit_job_fails_the_run_instead_of_leaving_it_running(slurm, tmp_path):
    store = tmp_path / "store"
    cmd = [*brd_cmd(), "ingest", sample_paths()[0], "--store", str(store), "--executor", "slurm", "--partition", slurm]
    waiting = subprocess.Popen([*cmd, "--wait"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        jobs_file = wait_until(lambda: next((store / "logs").glob("*/jobs.json"), None), what="the submission")
        run_id = jobs_file.parent.name
        jobs = slurm_jobs(store, run_id)
        subprocess.run(["scancel", str(jobs["commit"])], check=True)  # pending behind its task
        out, err = waiting.communicate(timeout=120)
    finally:
        waiting.kill()
    assert waiting.returncode == 1, out + err
    assert f"the commit job {jobs['commit']} ended" in err and "without recording the run" in err
    assert _run_status(store, run_id) == "failed" and lock_is_free(store)


def test_scancel_of_an_ingest_task_then_a_rerun_resumes(slurm, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    big = corpus / "en.txt"  # one task reads it for seconds, long enough to cancel it mid-way
    text = Path(next(p for p in sample_paths() if p.endswith("/en.txt"))).read_text(encoding="utf-8")
    big.write_text("".join(text.replace("Millbrook", f"Millbrook{i}") for i in range(240)), encoding="utf-8")
    small = []
    for p in sample_paths():
        if not p.endswith("/en.txt"):
            small.append(corpus / Path(p).name)
            small[-1].write_bytes(Path(p).read_bytes())
    paths = [str(big), *map(str, small)]  # the big file goes to task 0
    local = tmp_path / "local"
    run_brd("ingest", *paths, "--store", local)

    store = tmp_path / "store"
    slurm_args = ["--store", store, "--executor", "slurm", "--partition", slurm, "--tasks", "4", "--workers", "4"]
    run_id = submitted_run(run_brd("ingest", *paths, *slurm_args).stdout)
    jobs = slurm_jobs(store, run_id)
    task0 = f"{jobs['stages'][0]}_0"
    log0 = store / "logs" / run_id / "workers" / "logs" / "task_00000.log"
    wait_until(lambda: log0.is_file() and "Launching pipeline" in log0.read_text(), what="task 0 to start")
    subprocess.run(["scancel", task0], check=True)
    wait_until(lambda: (store / "logs" / run_id / "outcome.json").is_file(), what="the commit job")
    ((_, _, status, error),) = [r for r in runs(store) if r[0] == run_id]
    assert status == "failed" and error.startswith("task 0 did not finish") and "CANCELLED" in error, error
    # the three finished tasks' files are in; none of the cancelled task's rows are
    assert {r[0] for r in ingest_rows(store)["sources"]} == {r[0] for r in ingest_rows(local)["sources"]} - {
        r[0] for r in ingest_rows(local)["sources"] if r[3] == "en"
    }
    assert lock_is_free(store)

    again = run_brd("ingest", *paths, *slurm_args, "--wait")
    assert again.stdout.count("already ingested") == 3 and "succeeded" in again.stdout
    assert ingest_rows(store) == ingest_rows(local)


def test_scancel_of_an_annotate_task_then_a_rerun_resumes(slurm, local_ingested, tmp_path):
    slow = FakeOpenAI(delay=0.05).start()  # 2 requests in flight per task: about 40 answers/s per task
    try:
        store = clone(local_ingested, tmp_path / "store")
        reference = clone(local_ingested, tmp_path / "reference")
        limit = ["--limit", "80", "--lang", "en", "--chunk-size", "5", "--max-concurrency", "2"]
        run_brd(*annotate_args(reference, slow.url, *limit))
        expected = annotation_rows(reference)
        slow.requests.clear()

        slurm_args = ["--executor", "slurm", "--partition", slurm, "--tasks", "2", "--workers", "2"]
        run_id = submitted_run(run_brd(*annotate_args(store, slow.url, *limit), *slurm_args).stdout)
        assert lock_is_free(store)  # between the submission and the commit, nobody holds it
        jobs = slurm_jobs(store, run_id)
        parts = store / "staging" / run_id / "annotations"
        wait_until(lambda: parts.is_dir() and list(parts.glob("completion-00001-*.parquet")), what="a part of task 1")
        subprocess.run(["scancel", f"{jobs['stages'][0]}_1"], check=True)
        wait_until(lambda: (store / "logs" / run_id / "outcome.json").is_file(), what="the commit job")
        ((_, _, status, error),) = [r for r in runs(store) if r[0] == run_id]
        assert status == "failed" and error.startswith("task 1 did not finish") and "CANCELLED" in error, error
        committed = annotation_rows(store)
        assert 0 < len(committed) < len(expected) and set(committed) <= set(expected)
        asked_first = len(slow.requests)

        again = run_brd(*annotate_args(store, slow.url, *limit), *slurm_args, "--wait")
        assert "succeeded" in again.stdout
        assert annotation_rows(store) == expected  # nothing lost, nothing twice
        # the rerun asked only for what the store lacked
        assert len(slow.requests) - asked_first == len(expected) - len(committed)
    finally:
        slow.stop()
