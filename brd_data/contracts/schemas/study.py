"""Study manifests (`manifests/studies/*.yaml`): the corpus, teacher, behaviours, mixtures, student,
training budget and evaluation tasks of one experiment grid. Names of mixtures and tasks are
checked against the catalogue (manifests/), so a typo fails before hours of annotation."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from .. import paper
from ..choices import Selection
from ..errors import UserError
from ..executors import ExecutorKind
from ..paths import manifests_dir, samples_dir
from .base import Schema, read_yaml, validate


class StudyError(UserError):
    """A study manifest that cannot be used; the message names the file and key."""


class _Section(Schema):
    @model_validator(mode="before")
    @classmethod
    def _lists(cls, data: Any) -> Any:
        # YAML lists arrive as lists; the sections keep them as lists (strict mode checks the items)
        return {} if data is None else data


class Corpus(_Section):
    paths: list[str] = Field(default_factory=lambda: ["sample"], min_length=1)  # "sample": the embedded corpus
    lang: str | None = None
    passage_sentences: int = Field(default=3, ge=1)
    passages: int | None = Field(default=None, ge=1)  # the paper's 1M passages; None: all of the corpus
    text_field: str = "text"
    # For the plan only, when the corpus is not ingested yet: mean characters per sentence
    mean_sentence_chars: float = 120.0

    def resolved_paths(self, base: Path) -> list[str]:
        if self.paths == ["sample"]:
            return []  # `brd ingest` with no path ingests the sample corpus
        return [p if Path(p).is_absolute() else str((base / p).resolve()) for p in self.paths]


class Teacher(_Section):
    model: str | None = None  # None: the embedded SmolLM2 teacher
    behaviours: list[str] = Field(default_factory=lambda: ["ner", "qra"], min_length=1)
    limit: int | None = None  # sentences per behaviour (the demo's time budget)
    tp: int = Field(default=1, ge=1)
    dp: int = Field(default=1, ge=1)
    extra_args: list[str] = Field(default_factory=list)
    # For the plan: assumed generation rate of one engine (tp x dp GPUs), output tokens/s
    tokens_per_s: float = Field(default=2000.0, gt=0)
    mean_completion_tokens: dict[str, float] = Field(default_factory=lambda: {"ner": 45.0, "qra": 35.0})


class Student(_Section):
    model: str | None = None  # None: the embedded teacher's weights (the demo's small student)
    label: str = "student"
    gpus: int = Field(default=1, ge=1)
    # For the plan: training throughput of `gpus` GPUs, tokens/s
    tokens_per_s: float = Field(default=50_000.0, gt=0)


class Training(_Section):
    """The `brd train` options every row of the study uses; the defaults are `brd train`'s, the
    paper's (contracts/paper.py)."""

    max_steps: int = Field(default=paper.MAX_STEPS, ge=1)
    batch_size: int = Field(default=paper.BATCH_SIZE, ge=1)
    learning_rate: float = Field(default=paper.LEARNING_RATE, gt=0)
    max_length: int = Field(default=paper.MAX_LENGTH, ge=1)
    save_steps: int = Field(default=paper.SAVE_STEPS, ge=1)
    extra_args: list[str] = Field(default_factory=list)  # any other `brd train` options

    OPTIONS: ClassVar[tuple[str, ...]] = ("max_steps", "batch_size", "learning_rate", "max_length", "save_steps")


class Row(Schema):
    """One row of the results table: the untrained student, or a student trained on a mixture."""

    label: str = Field(min_length=1)
    mixture: str | None = None  # None: the student as released (no training)
    max_steps: int | None = Field(default=None, ge=1)  # overrides training.max_steps (FURTHER: 18,000)


class Evaluation(_Section):
    tasks: dict[str, str] = Field(default_factory=dict)  # name -> file, "sample", or hf:DATASET:CONFIG@SPLIT
    bigbench: list[str] = Field(default_factory=list)  # task folders or a folder of tasks; "sample"
    limit: int | None = Field(default=None, ge=1)
    # which normalisation of the candidates' log-probabilities picks the predictions (brd eval --select):
    # word (§3.3 as written), mean (per token), char, sum; the results table says which it used
    selection: Literal[tuple(s.value for s in Selection)] = Selection.WORD.value
    # the row the others are tested against (paired tests, "ns" marks); default: the first row
    baseline: str | None = None
    bigbench_set: str | None = None  # a task set of manifests/bigbench (brd eval --bigbench-set)
    extra_args: list[str] = Field(default_factory=list)
    # For the plan: examples per task (e.g. XNLI's 5,010 test examples) and mean tokens per example
    # (prompt + every candidate)
    examples: dict[str, int] = Field(default_factory=dict)
    mean_example_tokens: float = 128.0

    def resolved_tasks(self, base: Path) -> dict[str, str]:
        out = {}
        for name, src in self.tasks.items():
            if src == "sample":
                out[name] = str(samples_dir() / "tasks" / f"{name}.jsonl")
            elif src.startswith("hf:") or Path(src).is_absolute():
                out[name] = src
            else:
                out[name] = str((base / src).resolve())
        return out

    def resolved_bigbench(self, base: Path) -> list[str]:
        out = []
        for src in self.bigbench:
            if src == "sample":
                out.append(str(samples_dir() / "bigbench"))
            else:
                out.append(src if Path(src).is_absolute() else str((base / src).resolve()))
        return out


class Executor(_Section):
    """Where ingest and annotation run (datatrove's executors); training uses student.gpus."""

    kind: Literal[tuple(k.value for k in ExecutorKind)] = "local"
    tasks: int = Field(default=1, ge=1)  # ingest shards
    workers: int = Field(default=1, ge=1)  # ingest shards running at once
    partition: str | None = None  # Slurm partition for ingest (CPU)
    annotate_tasks: int = Field(default=1, ge=1)  # annotation slices: each starts its own vLLM server
    gpu_partition: str | None = None  # Slurm partition for annotation
    gpus_per_task: int = Field(default=0, ge=0)  # GPUs per annotation task (teacher.tp x teacher.dp)
    sbatch_args: dict[str, str] = Field(default_factory=dict)  # Slurm: extra #SBATCH lines (account, qos, time)


class Study(Schema):
    name: str
    description: str = ""
    corpus: Corpus = Field(default_factory=Corpus)
    teacher: Teacher = Field(default_factory=Teacher)
    student: Student = Field(default_factory=Student)
    training: Training = Field(default_factory=Training)
    rows: list[Row]
    evaluation: Evaluation = Field(default_factory=Evaluation)
    executor: Executor = Field(default_factory=Executor)
    data_size_curve: list[str] = Field(default_factory=list)  # mixtures of the Figure 2 curve
    source: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if v is not None or k == "rows"}
        return data

    @field_validator("rows")
    @classmethod
    def _rows(cls, rows: list[Row]) -> list[Row]:
        if not rows:
            raise ValueError("`rows` is empty: a study needs at least one row of results")
        labels = [r.label for r in rows]
        if len(set(labels)) != len(labels):
            raise ValueError(f"row labels repeat: {labels}")
        return rows

    @model_validator(mode="after")
    def _evaluates(self) -> Study:
        ev = self.evaluation
        if not ev.tasks and not ev.bigbench and not ev.bigbench_set:
            raise ValueError("evaluation names no tasks and no BIG-bench folder")
        labels = [r.label for r in self.rows]
        if ev.baseline is not None and ev.baseline not in labels:
            raise ValueError(f"evaluation.baseline {ev.baseline!r} is not a row label; rows: {', '.join(labels)}")
        return self

    @property
    def mixtures(self) -> list[str]:
        """Every mixture a row or the data-size curve trains on, in order, once."""
        seen: list[str] = []
        for m in [r.mixture for r in self.rows if r.mixture] + self.data_size_curve:
            if m not in seen:
                seen.append(m)
        return seen

    @property
    def base(self) -> Path:
        return self.source.parent


def available_studies() -> list[str]:
    return sorted(p.stem for p in (manifests_dir() / "studies").glob("*.yaml"))


def load_study(name_or_path: str | Path) -> Study:
    """A study by name (manifests/studies/NAME.yaml) or by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = manifests_dir() / "studies" / f"{name_or_path}.yaml"
        if not path.is_file():
            raise StudyError(f"unknown study {str(name_or_path)!r}; valid: {', '.join(available_studies())}")
    if not path.is_file():
        raise StudyError(f"{path}: no such file")
    raw = read_yaml(path, StudyError)
    data = {"name": path.stem, **raw, "source": path.resolve()}
    if not data.get("name"):
        data["name"] = path.stem
    study = validate(Study, data, str(path), StudyError)
    _check_names(study, path)
    return study


def _check_names(study: Study, path: Path) -> None:
    """Mixture and task names must exist in the catalogue (manifests/)."""
    from .mixture import available_mixtures
    from .task import available_tasks

    mixtures, tasks = available_mixtures(), available_tasks()
    for where, name in [("rows", r.mixture) for r in study.rows] + [
        ("data_size_curve", m) for m in study.data_size_curve
    ]:
        if name is not None and name not in mixtures and not Path(name).suffix:
            raise StudyError(f"{path}: {where}: unknown mixture {name!r}; valid: {', '.join(mixtures)}")
    if study.evaluation.bigbench_set:
        from ..bigbench import BigBenchError, load_taskset

        try:
            load_taskset(study.evaluation.bigbench_set)
        except BigBenchError as exc:
            raise StudyError(f"{path}: evaluation.bigbench_set: {exc}") from None
    for name in study.evaluation.tasks:
        if name.startswith("bigbench:"):
            continue  # a split file of `brd bigbench split`, checked when it is read
        if name not in tasks:
            raise StudyError(f"{path}: evaluation.tasks: unknown task {name!r}; valid: {', '.join(tasks)}")
