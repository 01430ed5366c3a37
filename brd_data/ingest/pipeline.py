"""The ingest stage: reader -> segmenter -> passage builder -> stage writer, then one commit."""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from datatrove.pipeline.base import PipelineStep

from ..contracts.choices import check_choice
from ..contracts.errors import ConfigError, UserError
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

    def settings(self, f: InputFile) -> dict:
        """What shapes the rows of `f` besides its bytes: with its content, an input's identity."""
        out = {
            "format": f.format,
            "lang": f.lang,
            "segmenter": str(self.segmenter),
            "passage_sentences": self.passage_sentences,
            "max_sentence_chars": self.max_sentence_chars,
        }
        if f.format != "cc100":  # CC-100 text has no fields
            out["text_fields"] = list(self.text_fields)
        return out


# how each setting is given on the command line, for messages
_OPTION = {
    "format": "--format",
    "lang": "--lang",
    "segmenter": "--segmenter",
    "passage_sentences": "--passage-sentences",
    "max_sentence_chars": "--max-sentence-chars",
    "text_fields": "--text-field",
}


class IngestError(UserError):
    """Inputs that cannot be ingested as asked; one line naming the file and what differs."""


def _shown(key: str, value) -> str:
    return f"{_OPTION[key]} {','.join(value) if isinstance(value, list) else value}"


def settings_difference(before: dict, now: dict) -> str:
    """`--text-field text (now body), --lang en (now de)`: the settings that differ."""
    keys = [k for k in _OPTION if k in before and before.get(k) != now.get(k)]
    return ", ".join(f"{_shown(k, before[k])} (now {_shown(k, now[k]).split(' ', 1)[1]})" for k in keys)


def build_ingest_pipeline(cfg: IngestConfig, stage_root: Path, run_id: str) -> list[PipelineStep]:
    settings = {f.source_id: json.dumps(cfg.settings(f), sort_keys=True) for f in cfg.files}
    steps: list[PipelineStep] = []
    if any(f.format == "cc100" for f in cfg.files):
        steps.append(Cc100Reader(cfg.files, limit_docs=cfg.limit_docs, progress=cfg.progress))
    if any(f.format in ("jsonl", "parquet") for f in cfg.files):
        steps.append(RecordReader(cfg.files, cfg.text_fields, limit_docs=cfg.limit_docs, progress=cfg.progress))
    steps += [
        SentenceSegmenter(cfg.segmenter, cfg.max_sentence_chars),
        PassageBuilder(cfg.passage_sentences),
        StageWriter(str(stage_root), run_id, cfg.files, settings=settings),
    ]
    return steps


@dataclass
class IngestOutcome:
    run_id: str | None
    skipped: list[tuple[InputFile, str, int]]  # (file, run that holds it, documents)
    result: CommitResult | None
    submitted: bool = False  # Slurm/Ray: the jobs were launched and commit later
    launch: Launch | None = None  # Slurm/Ray: what scaleout.complete() runs or follows
    replaced: list[InputFile] = field(default_factory=list)  # held already: their rows were replaced


@dataclass(frozen=True)
class Ingested:
    """An input the store holds in full."""

    run_id: str
    n_documents: int
    lang: str | None
    settings: dict | None  # None: ingested before migration 060 (only its language is known)


def already_ingested(store: Store, files: list[InputFile]) -> dict[str, Ingested]:
    if not store.exists():
        return {}
    with store.reader() as con:
        rows = con.execute(query("ingest/ingested_sources"), {"source_ids": [f.source_id for f in files]}).fetchall()
    return {
        sid: Ingested(run_id, n, lang, json.loads(settings) if settings else None)
        for sid, _path, n, run_id, lang, settings in rows
    }


def check_settings(cfg: IngestConfig, files: list[InputFile], done: dict[str, Ingested]) -> None:
    """The same bytes with other row-shaping settings are refused, naming the difference: reading
    them again would give other rows under the same keys."""
    for f in files:
        held = done.get(f.source_id)
        if held is None:
            continue
        now = cfg.settings(f)
        before = held.settings if held.settings is not None else {"lang": held.lang}
        diff = settings_difference(before, now)
        if diff:
            raise IngestError(
                f"{f.path}: already ingested by run {held.run_id} with other settings: {diff}; "
                "pass --replace to replace its rows with ones read with the new settings"
            )


def clear_stale_staging(store: Store) -> None:
    """Remove the staging folders of ingest runs that ended without removing them (killed runs,
    which the writer that holds the lock now has closed as interrupted)."""
    if not store.staging_dir.is_dir():
        return
    found = [p.name for p in store.staging_dir.iterdir() if p.is_dir()]
    if not found:
        return
    with store.reader() as con:
        stale = [r[0] for r in con.execute(query("ingest/stale_staging"), {"run_ids": found}).fetchall()]
    for run_id in stale:
        shutil.rmtree(store.staging_dir / run_id, ignore_errors=True)


def run_ingest(
    store: Store, cfg: IngestConfig, command: str = "ingest", verbose: bool = False, replace: bool = False
) -> IngestOutcome:
    """Ingest the inputs the store does not hold yet (with `replace`, those it holds too: their
    rows are replaced in the commit's transaction). Needs the writer lock (Store.writer)."""
    clear_stale_staging(store)
    done = already_ingested(store, cfg.files)
    replaced: list[InputFile] = []
    if replace:
        replaced = [f for f in cfg.files if f.source_id in done]
        done = {}
    check_settings(cfg, cfg.files, done)
    skipped = [(f, done[f.source_id].run_id, done[f.source_id].n_documents) for f in cfg.files if f.source_id in done]
    todo = [f for f in cfg.files if f.source_id not in done]
    if not todo:
        return IngestOutcome(None, skipped, None)
    local = cfg.executor.kind == "local"
    if not local:  # tasks run elsewhere: absolute paths, no progress bars in their logs
        todo = [dataclasses.replace(f, path=str(Path(f.path).resolve())) for f in todo]
    cfg = IngestConfig(**{**cfg.__dict__, "files": todo, "progress": cfg.progress and local})
    cfg.executor.check_available()
    config = {**cfg.lineage(), "replace": [f.source_id for f in replaced]}
    with StageRun(store, command, config, [f.lineage() for f in todo]) as run:
        stage = store.staging_dir.resolve() / run.run_id
        logs = store.root.resolve() / "logs" / run.run_id
        pipeline = build_ingest_pipeline(cfg, stage, run.run_id)
        if not local:
            with quiet_datatrove(logs / "datatrove.log", verbose):
                launch = _scale_out(store, cfg, run.run_id, command, pipeline, logs, config["replace"])
            # submitted (Slurm) or ready to run once the lock is released (Ray): the commit ends it
            run.hand_off("cluster" if cfg.executor.kind == "slurm" else "pid")
            return IngestOutcome(run.run_id, skipped, None, submitted=True, launch=launch, replaced=replaced)
        executor = build_executor(pipeline, cfg.executor, str(logs / "workers"), f"brd-ingest-{run.run_id}")
        try:
            with quiet_datatrove(logs / "datatrove.log", verbose):
                executor.run()
            result = commit_ingest(store, run, replace=config["replace"])
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)  # a failed run leaves no staging files behind
            raise
    return IngestOutcome(run.run_id, skipped, result, replaced=replaced)


def _scale_out(
    store: Store, cfg: IngestConfig, run_id: str, command: str, pipeline: list, logs: Path, replace: list[str]
) -> Launch:
    """Slurm/Ray: the tasks, then a commit that runs however they ended (scaleout.py). Slurm jobs
    are submitted here; a Ray launch runs once the caller has released the writer lock."""
    ex = cfg.executor
    stage = Stage("tasks", str(logs / "workers"), ex.tasks)
    commit = StoreCommit(str(store.root.resolve()), run_id, [stage], command, replace)
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
