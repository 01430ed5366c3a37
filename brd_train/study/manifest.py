"""Study manifests (`manifests/studies/*.yaml`): the corpus, teacher, behaviours, mixtures, student,
training budget and evaluation tasks of one experiment grid, parsed into checked dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from brd_data.resources import manifests_dir, samples_dir


class StudyError(ValueError):
    """A study manifest that cannot be used; the message names the file and key."""


def _build(cls, raw: Any, where: str):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise StudyError(f"{where}: expected a mapping, got {type(raw).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise StudyError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    try:
        return cls(**raw)
    except (TypeError, ValueError) as exc:
        raise StudyError(f"{where}: {exc}") from None


@dataclass
class Corpus:
    paths: list[str] = field(default_factory=lambda: ["sample"])  # "sample": the embedded corpus
    lang: str | None = None
    passage_sentences: int = 3
    passages: int | None = None  # the paper's 1M passages; None: all of the corpus
    text_field: str = "text"
    # For the plan only, when the corpus is not ingested yet: mean characters per sentence
    mean_sentence_chars: float = 120.0

    def __post_init__(self) -> None:
        if not self.paths:
            raise ValueError("corpus.paths is empty")
        if self.passage_sentences < 1:
            raise ValueError("corpus.passage_sentences must be at least 1")
        if self.passages is not None and self.passages < 1:
            raise ValueError("corpus.passages must be positive")

    def resolved_paths(self, base: Path) -> list[str]:
        if self.paths == ["sample"]:
            return []  # `brd ingest` with no path ingests the sample corpus
        return [p if Path(p).is_absolute() else str((base / p).resolve()) for p in self.paths]


@dataclass
class Teacher:
    model: str | None = None  # None: the embedded SmolLM2 teacher
    behaviours: list[str] = field(default_factory=lambda: ["ner", "qra"])
    limit: int | None = None  # sentences per behaviour (the demo's time budget)
    tp: int = 1
    dp: int = 1
    extra_args: list[str] = field(default_factory=list)
    # For the plan: assumed generation rate of one engine (tp x dp GPUs), output tokens/s
    tokens_per_s: float = 2000.0
    mean_completion_tokens: dict[str, float] = field(default_factory=lambda: {"ner": 45.0, "qra": 35.0})

    def __post_init__(self) -> None:
        if not self.behaviours:
            raise ValueError("teacher.behaviours is empty")
        if self.tp < 1 or self.dp < 1:
            raise ValueError("teacher.tp and teacher.dp must be at least 1")
        if self.tokens_per_s <= 0:
            raise ValueError("teacher.tokens_per_s must be positive")


@dataclass
class Student:
    model: str | None = None  # None: the embedded teacher's weights (the demo's small student)
    label: str = "student"
    gpus: int = 1
    # For the plan: training throughput of `gpus` GPUs, tokens/s
    tokens_per_s: float = 50_000.0

    def __post_init__(self) -> None:
        if self.gpus < 1:
            raise ValueError("student.gpus must be at least 1")


@dataclass
class Training:
    max_steps: int = 40_000
    batch_size: int = 8
    learning_rate: float = 3e-4
    max_length: int = 2048
    save_steps: int = 1_000
    extra_args: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("max_steps", "batch_size", "max_length", "save_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"training.{name} must be at least 1")


@dataclass
class Row:
    """One row of the results table: the untrained student, or a student trained on a mixture."""

    label: str
    mixture: str | None = None  # None: the student as released (no training)
    max_steps: int | None = None  # overrides training.max_steps (the paper's FURTHER: 18,000)

    def __post_init__(self) -> None:
        if not self.label:
            raise ValueError("a row needs a label")


@dataclass
class Evaluation:
    tasks: dict[str, str] = field(default_factory=dict)  # name -> file, "sample", or hf:DATASET:CONFIG@SPLIT
    bigbench: list[str] = field(default_factory=list)  # task folders or a folder of tasks; "sample"
    limit: int | None = None
    # which normalisation of the candidates' log-probabilities picks the predictions (brd eval --select):
    # word (§3.3 as written), mean (per token), char, sum; the results table says which it used
    selection: str = "word"
    # the row the others are tested against (paired tests, "ns" marks); default: the first row
    baseline: str | None = None
    bigbench_set: str | None = None  # a task set of manifests/bigbench (brd eval --bigbench-set)
    extra_args: list[str] = field(default_factory=list)
    # For the plan: examples per task (e.g. XNLI's 5,010 test examples) and mean tokens per example
    # (prompt + every candidate)
    examples: dict[str, int] = field(default_factory=dict)
    mean_example_tokens: float = 128.0

    def __post_init__(self) -> None:
        if self.selection not in ("word", "mean", "char", "sum"):
            raise ValueError(f"evaluation.selection {self.selection!r}; valid: word, mean, char, sum")

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


@dataclass
class Executor:
    """Where ingest and annotation run (datatrove's executors); training uses student.gpus."""

    kind: str = "local"
    tasks: int = 1  # ingest shards
    workers: int = 1  # ingest shards running at once
    partition: str | None = None  # Slurm partition for ingest (CPU)
    annotate_tasks: int = 1  # annotation slices: each starts its own vLLM server
    gpu_partition: str | None = None  # Slurm partition for annotation
    gpus_per_task: int = 0  # GPUs per annotation task (teacher.tp x teacher.dp)

    def __post_init__(self) -> None:
        if self.kind not in ("local", "slurm", "ray"):
            raise ValueError(f"executor.kind must be local, slurm or ray, got {self.kind!r}")
        if self.tasks < 1 or self.workers < 1 or self.annotate_tasks < 1:
            raise ValueError("executor.tasks, executor.workers and executor.annotate_tasks must be at least 1")


@dataclass
class Study:
    name: str
    description: str
    corpus: Corpus
    teacher: Teacher
    student: Student
    training: Training
    rows: list[Row]
    evaluation: Evaluation
    executor: Executor
    data_size_curve: list[str] = field(default_factory=list)  # mixtures of the Figure 2 curve
    source: Path = Path(".")

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
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise StudyError(f"{path}: invalid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise StudyError(f"{path}: expected a mapping at the top")
    known = {
        "name",
        "description",
        "corpus",
        "teacher",
        "student",
        "training",
        "rows",
        "evaluation",
        "executor",
        "data_size_curve",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise StudyError(f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    if not raw.get("rows"):
        raise StudyError(f"{path}: `rows` is empty: a study needs at least one row of results")
    rows = [_build(Row, r, f"{path}: rows[{i}]") for i, r in enumerate(raw["rows"])]
    labels = [r.label for r in rows]
    if len(set(labels)) != len(labels):
        raise StudyError(f"{path}: row labels repeat: {labels}")
    study = Study(
        name=raw.get("name") or path.stem,
        description=raw.get("description", ""),
        corpus=_build(Corpus, raw.get("corpus"), f"{path}: corpus"),
        teacher=_build(Teacher, raw.get("teacher"), f"{path}: teacher"),
        student=_build(Student, raw.get("student"), f"{path}: student"),
        training=_build(Training, raw.get("training"), f"{path}: training"),
        rows=rows,
        evaluation=_build(Evaluation, raw.get("evaluation"), f"{path}: evaluation"),
        executor=_build(Executor, raw.get("executor"), f"{path}: executor"),
        data_size_curve=list(raw.get("data_size_curve") or []),
        source=path.resolve(),
    )
    if not study.evaluation.tasks and not study.evaluation.bigbench:
        raise StudyError(f"{path}: evaluation names no tasks and no BIG-bench folder")
    if study.evaluation.baseline is not None and study.evaluation.baseline not in labels:
        raise StudyError(
            f"{path}: evaluation.baseline {study.evaluation.baseline!r} is not a row label; rows: {', '.join(labels)}"
        )
    _check_names(study, path)
    return study


def _check_names(study: Study, path: Path) -> None:
    """Mixture and task names must exist in the catalogue (manifests/), so a typo fails before
    hours of annotation rather than at the mix or eval stage."""
    from brd_data.mix.manifest import available_mixtures
    from brd_data.tasks.spec import available_tasks

    mixtures, tasks = available_mixtures(), available_tasks()
    for where, name in [("rows", r.mixture) for r in study.rows] + [
        ("data_size_curve", m) for m in study.data_size_curve
    ]:
        if name is not None and name not in mixtures and not Path(name).suffix:
            raise StudyError(f"{path}: {where}: unknown mixture {name!r}; valid: {', '.join(mixtures)}")
    if study.evaluation.bigbench_set:
        from brd_data.tasks.bigbench import BigBenchError, load_taskset

        try:
            load_taskset(study.evaluation.bigbench_set)
        except BigBenchError as exc:
            raise StudyError(f"{path}: evaluation.bigbench_set: {exc}") from None
    for name in study.evaluation.tasks:
        if name.startswith("bigbench:"):
            continue  # a split file of `brd bigbench split`, checked when it is read
        if name not in tasks:
            raise StudyError(f"{path}: evaluation.tasks: unknown task {name!r}; valid: {', '.join(tasks)}")
