"""The annotate stage: work files -> InferenceRunner(rollout) -> Parquet parts -> store commits.

    ParquetReader(work/MODE/RANK.parquet) -> AnnotationRunner(annotate_rollout, AnnotationPartWriter)

One pass per request mode (datatrove's runner sends all its requests to one endpoint: completions
or chat completions). Locally a thread commits closed parts while the pass runs, so `kill -9`
loses at most the chunks in flight, and the next run commits what the killed one left and skips
everything already answered. On Slurm a dependent one-task job commits at the end, on Ray the
driver does, however the tasks ended (scaleout.py).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.inference.types import ServerError
from datatrove.pipeline.readers import ParquetReader

from ..contracts.errors import ConfigError, UserError
from ..contracts.executors import ExecutorConfig, build_executor, quiet_datatrove
from ..contracts.runs import StageRun
from ..contracts.scaleout import Launch, Stage, submit_slurm
from ..contracts.schemas.prompt import Prompt
from ..store import Store, query
from .commit import AnnotateCommit, CommitCounts, PartCommitter, recover_interrupted
from .engine import AnnotationRunner, EngineConfig
from .rollout import RetryPolicy, RolloutContext, SamplingConfig, annotate_rollout
from .work import Pending, plan, write_work
from .writer import AnnotationPartWriter


class AnnotateError(UserError):
    """The run could not finish (server failure, bad configuration); one line for the user."""


@dataclass
class AnnotateConfig:
    prompts: list[Prompt]
    engine: EngineConfig
    teacher_fingerprint: str
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    limit: int = -1
    langs: tuple[str, ...] = ()  # sentence languages to annotate (empty: all)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    chunk_size: int = 100  # items per Parquet part: what a kill -9 loses at most per worker
    commit_interval_s: float = 5.0
    server_restarts: int = 1
    progress: bool = True

    def __post_init__(self) -> None:
        if not self.prompts:
            raise ConfigError("no behaviours to annotate")
        if self.limit < -1:
            raise ConfigError(f"--limit must be -1 (all) or >= 0, got {self.limit}")
        if self.chunk_size < 1:
            raise ConfigError(f"--chunk-size must be at least 1, got {self.chunk_size}")
        if self.commit_interval_s <= 0:
            raise ConfigError(f"commit interval must be > 0, got {self.commit_interval_s}")
        if self.server_restarts < 0:
            raise ConfigError(f"--server-restarts must be >= 0, got {self.server_restarts}")
        if not self.teacher_fingerprint:
            raise ConfigError("the teacher has no fingerprint")

    def lineage(self) -> dict:
        return {
            "teacher": self.engine.teacher,
            "teacher_fingerprint": self.teacher_fingerprint,
            "prompts": [p.lineage() for p in self.prompts],
            "engine": self.engine.lineage(),
            "sampling": asdict(self.sampling),
            "policy": asdict(self.policy),
            "limit": self.limit,
            "langs": list(self.langs),
            "executor": asdict(self.executor),
            "chunk_size": self.chunk_size,
            "server_restarts": self.server_restarts,
        }


@dataclass
class PassTiming:
    mode: str
    items: int
    wall_s: float
    startup_s: float | None  # server start until it first answered /v1/models (managed servers)
    generate_s: float  # from the server being ready (or the pass start) to the last answer

    @staticmethod
    def read(stage: Path, mode: str, items: int, started: float, ended: float) -> PassTiming:
        ready = stage / f"ready-{mode}.json"
        ready_at = json.loads(ready.read_text())["ready_at"] if ready.is_file() else None
        last = [json.loads(p.read_text())["last_answer_at"] for p in (stage / "timing").glob(f"{mode}-*.json")]
        begin = ready_at if ready_at is not None else started
        return PassTiming(
            mode,
            items,
            ended - started,
            None if ready_at is None else max(0.0, ready_at - started),
            max(0.0, (max(last) if last else ended) - begin),
        )


@dataclass
class AnnotateOutcome:
    run_id: str | None
    pending: list[Pending]
    n_sentences: int
    n_unique: int
    recovered: list[tuple[str, int]]
    counts: CommitCounts = field(default_factory=CommitCounts)
    passes: list[PassTiming] = field(default_factory=list)
    wall_s: float = 0.0
    submitted: bool = False
    launch: Launch | None = None  # Slurm/Ray: what scaleout.complete() runs or follows

    @property
    def items(self) -> int:
        return sum(p.n_todo for p in self.pending)


def build_annotate_pipeline(cfg: AnnotateConfig, stage: Path, logs: Path, run_id: str, mode: str) -> list[PipelineStep]:
    """`stage`: work files, checkpoints and parts (removed after the run); `logs`: kept."""
    prompts = {p.prompt_hash: p for p in cfg.prompts if p.mode == mode}
    runner = AnnotationRunner(
        env=cfg.engine.server_env(),
        rollout_fn=annotate_rollout,
        config=cfg.engine.inference_config(
            use_chat=mode == "chat",
            request_timeout_s=cfg.policy.request_timeout_s,
            startup_timeout_s=cfg.policy.startup_timeout_s,
            server_log_folder=str(logs / f"server-{mode}"),
            ready_file=str(stage / f"ready-{mode}.json"),
        ),
        output_writer=AnnotationPartWriter(
            str(stage),
            run_id,
            cfg.engine.teacher,
            cfg.teacher_fingerprint,
            {h: p.name for h, p in prompts.items()},
            str(stage / "work" / mode),
            progress=cfg.progress,
            mode=mode,
        ),
        shared_context=RolloutContext(prompts, cfg.sampling, cfg.policy, cfg.engine.probe_url),
        records_per_chunk=cfg.chunk_size,
    )
    reader = ParquetReader(str(stage / "work" / mode), text_key="input", id_key="doc_id", glob_pattern="*.parquet")
    return [reader, runner]


def _register_prompts(store: Store, prompts: list[Prompt], run_id: str) -> None:
    with store.transaction() as con:
        for p in prompts:
            con.execute(
                query("annotate/register_prompt"),
                {
                    "prompt_hash": p.prompt_hash,
                    "behaviour": p.behaviour,
                    "name": p.name,
                    "mode": p.mode,
                    "parser": p.parser,
                    "input": p.input,
                    "template": p.text,
                    "source_file": p.source_file,
                    "run_id": run_id,
                },
            )


def _server_died(exc: BaseException) -> ServerError | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ServerError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _say(msg: str) -> None:
    print(msg, file=sys.__stderr__, flush=True)


def run_annotate(store: Store, cfg: AnnotateConfig, verbose: bool = False) -> AnnotateOutcome:
    """Annotate what the store still lacks for these prompts and this teacher. Needs the writer lock."""
    started = time.monotonic()
    cfg.executor.check_available()  # before a run is recorded
    recovered = recover_interrupted(store)
    with store.reader() as con:
        n_sentences, n_unique = con.execute(query("annotate/corpus_counts")).fetchall()[0]
        pending = plan(con, cfg.prompts, cfg.teacher_fingerprint, cfg.limit, cfg.langs)
    outcome = AnnotateOutcome(None, pending, n_sentences, n_unique, recovered)
    if outcome.items == 0:
        outcome.wall_s = time.monotonic() - started
        return outcome
    inputs = [{"path": p.source_file, "prompt_hash": p.prompt_hash} for p in cfg.prompts]
    local = cfg.executor.kind == "local"
    if not local:  # no progress bars in the logs of tasks that run elsewhere
        cfg = dataclasses.replace(cfg, progress=False)
    with StageRun(store, "annotate", cfg.lineage(), inputs) as run:
        outcome.run_id = run.run_id
        stage = store.staging_dir.resolve() / run.run_id
        modes = [m for m in ("completion", "chat") if any(p.prompt.mode == m and p.n_todo for p in pending)]
        _register_prompts(store, cfg.prompts, run.run_id)
        for mode in modes:
            write_work([p for p in pending if p.prompt.mode == mode], stage / "work" / mode, cfg.executor.tasks)
        if not local:
            with quiet_datatrove(store.root / "logs" / run.run_id / "datatrove.log", verbose):
                outcome.launch = _scale_out(store, cfg, stage, run.run_id, modes)
            # submitted (Slurm) or ready to run once the lock is released (Ray): the commit ends it
            run.hand_off("cluster" if cfg.executor.kind == "slurm" else "pid")
            outcome.submitted = True
            return outcome
        with PartCommitter(store, run.run_id, cfg.commit_interval_s) as committer:
            try:
                for mode in modes:
                    items = sum(p.n_todo for p in pending if p.prompt.mode == mode)
                    outcome.passes.append(_run_pass(store, cfg, stage, run.run_id, mode, items, verbose))
            finally:
                committer.commit_now()  # whatever closed, even when the pass failed
        outcome.counts = committer.counts
        run.add_counts(
            **committer.counts.as_run_counts(),
            n_items=outcome.items,
            n_sentences=n_sentences,
            n_unique_sentences=n_unique,
        )
    shutil.rmtree(stage, ignore_errors=True)
    outcome.wall_s = time.monotonic() - started
    return outcome


def _run_pass(
    store: Store, cfg: AnnotateConfig, stage: Path, run_id: str, mode: str, items: int, verbose: bool
) -> PassTiming:
    logs = store.root / "logs" / run_id
    where = cfg.engine.endpoint_root or f"a vLLM server for {cfg.engine.teacher}"
    _say(
        f"annotate: {items} {mode} request(s) through {where}"
        + ("" if cfg.engine.endpoint else " (starting it: this takes a while)")
    )
    started = time.time()
    for attempt in range(cfg.server_restarts + 1):
        pipeline = build_annotate_pipeline(cfg, stage, logs, run_id, mode)
        executor = build_executor(pipeline, cfg.executor, str(logs / f"workers-{mode}"), f"brd-annotate-{run_id}")
        try:
            with quiet_datatrove(logs / "datatrove.log", verbose):
                _run_local(executor, cfg.executor)
            break
        except Exception as exc:
            died = _server_died(exc)
            if died is None:
                raise
            what = f"the teacher server failed: {str(died).splitlines()[0]}"
            if cfg.engine.endpoint or attempt >= cfg.server_restarts:
                raise AnnotateError(
                    f"{what}. Committed annotations are kept; run the same command to resume (logs: {logs})"
                ) from None
            _say(f"annotate: {what}; restarting it ({attempt + 1}/{cfg.server_restarts})")
    return PassTiming.read(stage, mode, items, started, time.time())


def _run_local(executor, ex: ExecutorConfig) -> None:
    """Run a LocalPipelineExecutor. With one worker, its tasks run here, one after another, without
    the `multiprocess.Manager` that `run()` always forks: that forked process outlives a `kill -9`
    of brd and keeps the store's writer lock (an inherited flock) and brd's output pipes."""
    if ex.workers != 1:
        executor.run()
        return
    original = executor.pipeline
    executor.save_executor_as_json()
    for rank in range(ex.tasks):
        executor.pipeline = copy.deepcopy(original)
        executor._run_for_rank(rank)


def _scale_out(store: Store, cfg: AnnotateConfig, stage: Path, run_id: str, modes: list[str]) -> Launch:
    """Slurm/Ray: one stage per pass, each after the previous, then a commit that runs however they
    ended (scaleout.py). Slurm jobs are submitted here; a Ray launch runs once the caller has
    released the writer lock."""
    ex = cfg.executor
    root = str(store.root.resolve())
    logs = Path(root) / "logs" / run_id
    stages = [Stage(f"{mode} pass", str(logs / f"workers-{mode}"), ex.tasks) for mode in modes]
    launch = Launch(ex.kind, root, run_id, stages, AnnotateCommit(root, run_id, stages), wait=ex.wait)
    executors: list = []
    for mode, st in zip(modes, stages):
        executors.append(
            build_executor(
                build_annotate_pipeline(cfg, stage, logs, run_id, mode),
                ex,
                st.logging_dir,
                f"brd-annotate-{mode}-{run_id}",
                depends=executors[-1] if executors and ex.kind == "slurm" else None,
            )
        )
    if ex.kind == "ray":
        launch.executors = executors
        return launch
    committer = build_executor(
        [launch.commit],
        ex.single(),
        str(logs / "commit"),
        f"brd-annotate-commit-{run_id}",
        depends=executors[-1],
        after_failure=True,
    )
    submit_slurm(launch, executors, committer)
    return launch
