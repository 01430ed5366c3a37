"""Slurm and Ray runs: the tasks, then a commit that always runs and records how they ended.

Locally one brd process runs the tasks and commits while it holds the writer lock. On Slurm and
Ray the tasks run elsewhere, so:
- the submitting process holds the lock only to record the run and submit it; the commit (a
  dependent one-task Slurm job, or the Ray driver once its tasks are done) takes the lock only to
  commit, and waits for it while another brd command holds it;
- the commit runs however the tasks ended (Slurm `afterany`; every other dependent job carries
  `--kill-on-invalid-dep=yes`, so no job pends forever);
- a task without datatrove's completion marker failed: its error (the exception in its datatrove
  log, or what Slurm wrote in its output) becomes the run's `error`, what the finished tasks wrote
  is committed, and the same command, run again, does the rest;
- `--wait` follows a Slurm run until its commit has recorded it (Ray always runs in the foreground).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from ..store import Store, query
from .errors import UserError
from .executors import quiet_datatrove
from .runs import StageRun

# How long a commit waits for the writer lock while another brd command holds it.
LOCK_WAIT_S = float(os.environ.get("BRD_COMMIT_LOCK_WAIT_S", "3600"))
OUTCOME = "outcome.json"  # logs/RUN/outcome.json: written by the commit once the run is recorded
JOBS = "jobs.json"  # logs/RUN/jobs.json: the Slurm job ids of a run
_ACTIVE = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "RESIZING", "SUSPENDED"}

Echo = Callable[[str], None]


@dataclass
class Stage:
    """One datatrove executor of a run: `tasks` tasks logging under `logging_dir`."""

    label: str
    logging_dir: str
    tasks: int

    def unfinished(self) -> list[int]:
        done = Path(self.logging_dir) / "completions"
        have = {p.name for p in done.iterdir()} if done.is_dir() else set()
        return [r for r in range(self.tasks) if f"{r:05d}" not in have]

    def done(self) -> int:
        return self.tasks - len(self.unfinished())


# -- what a failed task left ---------------------------------------------------------------------
_EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Interrupt|Exit)\b(?::.*)?$")
_SRUN_PREFIX = re.compile(r"^\d+: ")
_GENERIC = ("asyncio.exceptions.CancelledError", "CancelledError", "KeyboardInterrupt", "SystemExit")


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [_SRUN_PREFIX.sub("", line).strip() for line in text.splitlines()]


def _slurm_output(stage: Stage, rank: int) -> Path | None:
    """The Slurm output file of the array task that ran `rank` (datatrove: %A_%a.out)."""
    folder = Path(stage.logging_dir) / "slurm_logs"
    try:
        ranks = json.loads((Path(stage.logging_dir) / "ranks_to_run.json").read_text())
        index = ranks.index(rank)
    except (OSError, ValueError):
        return None
    outs = sorted(folder.glob(f"*_{index}.out"), key=lambda p: p.stat().st_mtime)
    return outs[-1] if outs else None


def task_error(stage: Stage, rank: int) -> str:
    """One line saying why task `rank` did not finish."""
    log = _lines(Path(stage.logging_dir) / "logs" / f"task_{rank:05d}.log")
    out_path = _slurm_output(stage, rank)
    out = _lines(out_path) if out_path else []
    raised = [line for line in log + out if _EXCEPTION.match(line)]
    # the cause, not what its handling raised (asyncio cancels the rest of a task on its way out)
    specific = [line for line in raised if not line.startswith(_GENERIC)]
    if raised:
        return (specific or raised)[-1][:300]
    for needle in ("CANCELLED", "execve", "error:", "Killed"):
        hit = next((line for line in reversed(out) if needle in line), None)
        if hit:
            return hit[:300]
    if not log and not out:
        return "it left no log (it never started, or was killed at once)"
    return f"it stopped without an error in its log ({(out or log)[-1][:200]})"


def describe_failures(stages: list[Stage]) -> str | None:
    """None when every task finished, else one line naming the failed tasks and the first error."""
    failed = [(s, r) for s in stages for r in s.unfinished()]
    if not failed:
        return None
    s, r = failed[0]
    where = f" of the {s.label}" if len(stages) > 1 else ""
    total = sum(x.tasks for x in stages)
    head = f"task {r}{where} did not finish" if len(failed) == 1 else f"{len(failed)} of {total} tasks did not finish"
    return f"{head} (task {r}: {task_error(s, r)}; logs: {s.logging_dir})"


# -- the commit step -----------------------------------------------------------------------------
class CommitStep(PipelineStep):
    """The commit as a one-task pipeline (a Slurm job after the tasks), or called by the Ray driver."""

    type = "💽 - WRITER"

    def __init__(self, store_root: str, run_id: str, command: str, stages: list[Stage]):
        super().__init__()
        self.store_root = str(store_root)
        self.run_id = run_id
        self.command = command
        self.stages = list(stages)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        self.commit_now()

    def commit_now(self, stopped: str | None = None) -> dict:
        """Commit what the tasks left and record the run: failed (with the first task's error, or
        `stopped`) when a task did not finish. Returns the recorded outcome."""
        error = "; ".join(e for e in (stopped, describe_failures(self.stages)) if e) or None
        store = Store(self.store_root)
        with store.writer(f"{self.command} commit", wait_s=LOCK_WAIT_S):
            counts = self.commit(store, error)
        outcome = {"status": "failed" if error else "succeeded", "error": error, "counts": counts}
        logs = store.root / "logs" / self.run_id
        logs.mkdir(parents=True, exist_ok=True)
        (logs / OUTCOME).write_text(json.dumps(outcome, default=str))
        return outcome

    def commit(self, store: Store, error: str | None) -> dict:
        """Load what the finished tasks wrote and finish the run (failed with `error` if given)."""
        raise NotImplementedError


# -- a run after its submission ------------------------------------------------------------------
@dataclass
class Launch:
    """A Slurm or Ray run that brd has recorded: its stages, its commit, and (Slurm) its jobs."""

    kind: str
    store_root: str
    run_id: str
    stages: list[Stage]
    commit: CommitStep
    executors: list[Any] = field(default_factory=list)  # Ray: run in order by run_ray()
    jobs: dict[str, Any] = field(default_factory=dict)
    wait: bool = False  # Slurm: follow the run until the commit has recorded it

    @property
    def logs(self) -> Path:
        return Path(self.store_root) / "logs" / self.run_id

    def summary(self) -> str:
        if self.kind == "slurm" and self.jobs:
            tasks = ", ".join(str(j) for j in self.jobs["stages"])
            return f"Slurm job(s) {tasks}, commit job {self.jobs['commit']}"
        return f"{sum(s.tasks for s in self.stages)} Ray task(s)"


@dataclass
class RunEnd:
    status: str
    error: str | None
    counts: dict


def submit_slurm(launch: Launch, stage_executors: list, commit_executor) -> None:
    """sbatch every stage and the commit (datatrove launches the dependencies first). A failed
    submission cancels the jobs already submitted."""
    try:
        commit_executor.run()
    except BaseException:
        ids = [str(e.job_id) for e in [*stage_executors, commit_executor] if e.job_id not in (None, -1)]
        if ids:
            subprocess.run(["scancel", *ids], check=False, capture_output=True)
        raise
    launch.jobs = {"stages": [e.job_id for e in stage_executors], "commit": commit_executor.job_id}
    launch.logs.mkdir(parents=True, exist_ok=True)
    (launch.logs / JOBS).write_text(json.dumps(launch.jobs))


def read_run(store: Store, run_id: str) -> RunEnd:
    with store.reader() as con:
        rows = con.execute(query("scaleout/run_end"), {"run_id": run_id}).fetchall()
    if not rows:
        raise UserError(f"run {run_id} is not in {store.root}")
    status, error, counts = rows[0]
    return RunEnd(status, error, json.loads(counts) if counts else {})


def _mark_failed(store: Store, run_id: str, command: str, error: str) -> None:
    with store.writer(f"{command} --wait", wait_s=LOCK_WAIT_S):
        if read_run(store, run_id).status == "running":
            StageRun.attach(store, run_id, command).finish("failed", error=error)


def _slurm_states(job_id: Any) -> set[str]:
    try:
        out = subprocess.run(
            ["squeue", "-h", "-j", str(job_id), "--states=all", "-o", "%T"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    return {line.strip() for line in out.splitlines() if line.strip()}


def follow_slurm(store: Store, launch: Launch, echo: Echo, poll_s: float = 1.0, note_every_s: float = 30.0) -> RunEnd:
    """Wait until the commit job has recorded the run. A commit job that ends without doing so
    (cancelled, killed) leaves the run marked failed here, with what its output says."""
    outcome = launch.logs / OUTCOME
    commit_job = launch.jobs["commit"]
    total = sum(s.tasks for s in launch.stages)
    echo(f"waiting for {launch.summary()} (Ctrl-C stops waiting; the jobs go on)")
    last_note = time.monotonic()
    while not outcome.is_file():
        states = _slurm_states(commit_job)
        if not states & _ACTIVE:
            time.sleep(2 * poll_s)  # the commit may have written its outcome just now
            if outcome.is_file():
                break
            end = read_run(store, launch.run_id)
            if end.status == "running":
                commit = Stage("commit", str(launch.logs / "commit"), 1)
                why = task_error(commit, 0)
                state = ", ".join(sorted(states)) or "gone from the queue"
                _mark_failed(
                    store,
                    launch.run_id,
                    launch.commit.command,
                    f"the commit job {commit_job} ended ({state}) without recording the run: {why}",
                )
            break
        if time.monotonic() - last_note >= note_every_s:
            done = sum(s.done() for s in launch.stages)
            echo(f"  {done} of {total} task(s) done; commit job {commit_job} {', '.join(sorted(states))}")
            last_note = time.monotonic()
        time.sleep(poll_s)
    return read_run(store, launch.run_id)


def run_ray(launch: Launch, verbose: bool = False) -> RunEnd:
    """Run the stages on the Ray cluster (RAY_ADDRESS, else the one `ray start` left on this
    machine, else a new local one), one after the other, then commit from this process."""
    import ray

    started_here = not ray.is_initialized()
    stopped = None
    try:
        with quiet_datatrove(launch.logs / "datatrove.log", verbose):
            if started_here:
                ray.init(log_to_driver=verbose, logging_level="WARNING", configure_logging=not verbose)
            for stage, executor in zip(launch.stages, launch.executors):
                executor.run()
                if stage.unfinished():
                    break  # later stages follow this one (Slurm: afterok)
    except BaseException as exc:
        stopped = f"the Ray driver stopped: {type(exc).__name__}: {exc}".splitlines()[0]
        raise
    finally:
        if started_here and ray.is_initialized():
            ray.shutdown()
        out = launch.commit.commit_now(stopped=stopped)
    return RunEnd(out["status"], out["error"], out["counts"])


def complete(store: Store, launch: Launch, verbose: bool = False, echo: Echo | None = None) -> RunEnd | None:
    """After the writer lock is released: run a Ray launch, or follow a Slurm one with --wait."""
    echo = echo or (lambda msg: print(msg, file=sys.stderr, flush=True))
    if launch.kind == "ray":
        return run_ray(launch, verbose)
    if launch.kind == "slurm" and launch.wait:
        return follow_slurm(store, launch, echo)
    return None
