"""The ingest stage: reader -> segmenter -> passage builder -> stage writer, then one commit."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from pathlib import Path

from datatrove.pipeline.base import PipelineStep

from ..contracts.choices import check_choice
from ..contracts.errors import ConfigError
from ..contracts.executors import ExecutorConfig, build_executor, quiet_datatrove
from ..contracts.runs import StageRun
from ..contracts.scaleout import Launch, Stage, submit_slurm
from ..store import Store, query
from .commit import CommitResult, StoreCommit, commit_ingest
from .inputs import InputFile
from .passages import PassageBuilder
from .read_cc100 import Cc100Reader
from .read_records import RecordReader
from .segment import Segmenter, SentenceSegmenter
from .stage_writer import StageWriter


@dataclass
class IngestConfig:
    files: list[InputFile]
    passage_sentences: int = 3
    text_fields: list[str] = field(default_factory=lambda: ["text"])
    limit_docs: int = -1
    segmenter: str = "sentencex"
    max_sentence_chars: int = 1000
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    progress: bool = True

    def __post_init__(self) -> None:
        if self.passage_sentences < 1:
            raise ConfigError(f"--passage-sentences must be at least 1, got {self.passage_sentences}")
        self.segmenter = check_choice(Segmenter, self.segmenter, "--segmenter")
        if self.max_sentence_chars < 16:
            raise ConfigError(f"--max-sentence-chars must be at least 16, got {self.max_sentence_chars}")
        if not all(self.text_fields):
            raise ConfigError("--text-field names must not be empty")

    def lineage(self) -> dict:
        d = asdict(self)
        d.pop("files")
        d.pop("progress")
        return d


def build_ingest_pipeline(cfg: IngestConfig, stage_root: Path, run_id: str) -> list[PipelineStep]:
    steps: list[PipelineStep] = []
    if any(f.format == "cc100" for f in cfg.files):
        steps.append(Cc100Reader(cfg.files, limit_docs=cfg.limit_docs, progress=cfg.progress))
    if any(f.format in ("jsonl", "parquet") for f in cfg.files):
        steps.append(RecordReader(cfg.files, cfg.text_fields, limit_docs=cfg.limit_docs, progress=cfg.progress))
    steps += [
        SentenceSegmenter(cfg.segmenter, cfg.max_sentence_chars),
        PassageBuilder(cfg.passage_sentences),
        StageWriter(str(stage_root), run_id, cfg.files),
    ]
    return steps


@dataclass
class IngestOutcome:
    run_id: str | None
    skipped: list[tuple[InputFile, str, int]]  # (file, run that holds it, documents)
    result: CommitResult | None
    submitted: bool = False  # Slurm/Ray: the jobs were launched and commit later
    launch: Launch | None = None  # Slurm/Ray: what scaleout.complete() runs or follows


def already_ingested(store: Store, files: list[InputFile]) -> dict[str, tuple[str, int]]:
    if not store.exists():
        return {}
    with store.reader() as con:
        rows = con.execute(query("ingest/ingested_sources"), {"source_ids": [f.source_id for f in files]}).fetchall()
    return {sid: (run_id, n) for sid, _path, n, run_id in rows}


def run_ingest(store: Store, cfg: IngestConfig, command: str = "ingest", verbose: bool = False) -> IngestOutcome:
    """Ingest the inputs the store does not hold yet. Needs the writer lock (Store.writer)."""
    done = already_ingested(store, cfg.files)
    skipped = [(f, *done[f.source_id]) for f in cfg.files if f.source_id in done]
    todo = [f for f in cfg.files if f.source_id not in done]
    if not todo:
        return IngestOutcome(None, skipped, None)
    local = cfg.executor.kind == "local"
    if not local:  # tasks run elsewhere: absolute paths, no progress bars in their logs
        todo = [dataclasses.replace(f, path=str(Path(f.path).resolve())) for f in todo]
    cfg = IngestConfig(**{**cfg.__dict__, "files": todo, "progress": cfg.progress and local})
    cfg.executor.check_available()
    with StageRun(store, command, cfg.lineage(), [f.lineage() for f in todo]) as run:
        stage = store.staging_dir.resolve() / run.run_id
        logs = store.root.resolve() / "logs" / run.run_id
        pipeline = build_ingest_pipeline(cfg, stage, run.run_id)
        if not local:
            with quiet_datatrove(logs / "datatrove.log", verbose):
                launch = _scale_out(store, cfg, run.run_id, command, pipeline, logs)
            # submitted (Slurm) or ready to run once the lock is released (Ray): the commit ends it
            run.hand_off("cluster" if cfg.executor.kind == "slurm" else "pid")
            return IngestOutcome(run.run_id, skipped, None, submitted=True, launch=launch)
        executor = build_executor(pipeline, cfg.executor, str(logs / "workers"), f"brd-ingest-{run.run_id}")
        with quiet_datatrove(logs / "datatrove.log", verbose):
            executor.run()
        result = commit_ingest(store, run)
    return IngestOutcome(run.run_id, skipped, result)


def _scale_out(store: Store, cfg: IngestConfig, run_id: str, command: str, pipeline: list, logs: Path) -> Launch:
    """Slurm/Ray: the tasks, then a commit that runs however they ended (scaleout.py). Slurm jobs
    are submitted here; a Ray launch runs once the caller has released the writer lock."""
    ex = cfg.executor
    stage = Stage("tasks", str(logs / "workers"), ex.tasks)
    commit = StoreCommit(str(store.root.resolve()), run_id, [stage], command)
    launch = Launch(ex.kind, str(store.root.resolve()), run_id, [stage], commit, wait=ex.wait)
    workers = build_executor(pipeline, ex, stage.logging_dir, f"brd-ingest-{run_id}")
    if ex.kind == "ray":
        launch.executors = [workers]
        return launch
    committer = build_executor(
        [commit], ex.single(), str(logs / "commit"), f"brd-commit-{run_id}", depends=workers, after_failure=True
    )
    submit_slurm(launch, [workers], committer)
    return launch
