"""Study manifests (`manifests/studies/*.yaml`): the corpus, teacher, behaviours, mixtures, student,
training budget and evaluation tasks of one experiment grid. Names of mixtures and tasks are
checked against the catalogue (manifests/), so a typo fails before hours of annotation.

Two shapes. The simple one (demo.yaml) trains one `student` on each mixture of `rows` and fills
one table. The paper's (paper.yaml) names its `models` (released ones, and trained ones, each
`from` another model on a mixture, so chains such as BRD then BRD² then SFT are one line each) and
its `tables` (each table or figure of the paper, with the models of each part and the setting it
is evaluated in); every stage of its plan is named after the table or figure it feeds. What the
paper leaves unsaid is stated in `assumptions`."""

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
    passages: int | None = Field(default=None, ge=1)  # the corpus budget (§4: 1M passages); None: all
    seed: int = Field(default=0, ge=0)  # of the passage selection the budget makes (sql/macros/passage_key.sql)
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
    task_behaviour: str = "task"  # the prompt that answers task examples (task distillation)
    # For the plan: the generation rate of one engine (tp x dp GPUs), output tokens/s. None: from
    # the measured throughput table (manifests/costs/throughput.yaml) for `gpu` and `params`.
    tokens_per_s: float | None = Field(default=2000.0, gt=0)
    gpu: str | None = None  # the GPU type the cost plan prices (e.g. H100)
    params: float | None = Field(default=None, gt=0)  # parameters, for the throughput table
    mean_completion_tokens: dict[str, float] = Field(default_factory=lambda: {"ner": 45.0, "qra": 35.0})


class Student(_Section):
    model: str | None = None  # None: the embedded teacher's weights (the demo's small student)
    label: str = "student"
    gpus: int = Field(default=1, ge=1)
    # For the plan: training throughput of `gpus` GPUs, tokens/s (None: the throughput table's)
    tokens_per_s: float | None = Field(default=50_000.0, gt=0)
    gpu: str | None = None  # the GPU type the cost plan prices training on (e.g. A100)
    # brd's transformers/TRL trainer against the table's hand-written one (llm.c): an assumption
    train_efficiency: float = Field(default=0.5, gt=0, le=1)


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


class Model(Schema):
    """A model a table shows: one released (`model`: a hub id or folder), or trained `from` another
    model of the study on `mixture` (its evaluated checkpoint is the trained one's)."""

    model: str | None = None
    from_: str | None = Field(default=None, alias="from")
    mixture: str | None = None
    data: Literal["corpus", "tasks"] = "corpus"  # the passages of an lm mixture: the corpus', or the task inputs'
    passages: int | None = Field(default=None, ge=1)  # the corpus passages it trains on (default corpus.passages)
    tokenizer: str | None = None  # default: the model's own (trained ones: their base's)
    max_steps: int | None = Field(default=None, ge=1)  # overrides training.max_steps (FURTHER: 18,000)
    max_length: int | None = Field(default=None, ge=16)  # overrides training.max_length (GPT-2: 1,024 positions)
    checkpoint: Literal["last", "best"] = "last"  # the evaluated checkpoint: the last, or the best on tuning
    params: float | None = Field(default=None, gt=0)  # parameters, for the cost plan
    gpus: int | None = Field(default=None, ge=1)  # training GPUs (default student.gpus)
    note: str = ""

    model_config = {**Schema.model_config, "populate_by_name": True}

    @model_validator(mode="after")
    def _one_origin(self) -> Model:
        if (self.model is None) == (self.from_ is None):
            raise ValueError("give `model` (a released model) or `from` (trained from another model), not both")
        if self.from_ is not None and self.mixture is None:
            raise ValueError("a trained model needs a `mixture`")
        if self.from_ is None and (self.mixture or self.max_steps or self.checkpoint != "last"):
            raise ValueError("`mixture`, `max_steps` and `checkpoint` apply to trained models (`from`)")
        return self

    @property
    def trained(self) -> bool:
        return self.from_ is not None


class TableRow(Schema):
    label: str = Field(min_length=1)
    model: str  # a name of `models`
    approach: str = ""  # Table 4's second column

    @model_validator(mode="before")
    @classmethod
    def _name_alone(cls, data: Any) -> Any:
        return {"label": data, "model": data} if isinstance(data, str) else data


class TablePart(Schema):
    title: str = ""
    setting: Literal["blind", "relaxed", "supervised"] = "blind"  # §4.3's test settings
    bigbench: Literal["all", "reduced", "none"] = "none"  # the BIG-bench column: 73 tasks, the reduced set, none
    columns: Literal["tasks", "bigbench"] = "tasks"  # the six tasks (+ BIG-bench-Avg), or one per BIG-bench task
    rows: list[TableRow] = Field(min_length=1)


class Table(Schema):
    """One table or figure of the paper and what fills it."""

    title: str
    kind: Literal["accuracy", "cross-entropy", "probe", "curve", "per-task"] = "accuracy"
    parts: list[TablePart] = Field(default_factory=list)
    teacher: str | None = None  # cross-entropy: the model p (a name of `models`)
    curve: list[int] = Field(default_factory=list)  # curve: the data sizes, in passages
    curve_model: str | None = None  # curve: the trained model whose mixture is cut to each size

    @model_validator(mode="after")
    def _filled(self) -> Table:
        if self.kind == "curve":
            if not self.curve or self.curve_model is None:
                raise ValueError("a curve needs `curve` (sizes in passages) and `curve_model`")
        elif not self.parts:
            raise ValueError("`parts` is empty")
        if self.kind == "cross-entropy" and self.teacher is None:
            raise ValueError("a cross-entropy table needs `teacher`")
        return self

    @property
    def models(self) -> list[str]:
        return [r.model for p in self.parts for r in p.rows]


class TaskData(_Section):
    """The downstream tasks' training data (the relaxed and supervised settings): the six tasks'
    training files (inputs for task distillation and BRD², gold labels for SFT), the BIG-bench set
    that is split train/tuning/test, and, for probing (A.4), how many training examples to probe."""

    tasks: dict[str, str] = Field(default_factory=dict)  # name -> training file ("sample": the embedded one)
    bigbench_set: str | None = None  # a set of manifests/bigbench split 80/10/10 (`brd bigbench split`)
    bigbench_tasks: list[str] = Field(default_factory=list)  # its tasks, as the paper names them (A.3)
    probe_examples: int | None = Field(default=None, ge=1)
    tuning: dict[str, str] = Field(default_factory=dict)  # name -> tuning file, for checkpoint: best
    examples: dict[str, int] = Field(default_factory=dict)  # training examples per task, for the plan

    def resolved(self, base: Path, which: dict[str, str] | None = None) -> dict[str, str]:
        return _resolve_task_files(self.tasks if which is None else which, base)


class Evaluation(_Section):
    tasks: dict[str, str] = Field(default_factory=dict)  # name -> file, "sample", or hf:DATASET:CONFIG@SPLIT
    bigbench: list[str] = Field(default_factory=list)  # task folders or a folder of tasks; "sample"
    limit: int | None = Field(default=None, ge=1)
    # which normalisation of the candidates' log-probabilities picks the predictions (brd eval --select):
    # word (§3.3 as written), mean (per token), char, sum; the results table says which it used
    selection: Literal[tuple(s.value for s in Selection)] = Selection.WORD.value
    # the row the others are tested against (paired tests, "ns" marks); default: the first row
    baseline: str | None = None
    # a task set of manifests/bigbench (brd eval --bigbench-set): blind, score only this set of the
    # folder (the paper's 73 tasks)
    bigbench_set: str | None = None
    extra_args: list[str] = Field(default_factory=list)
    # For the plan: examples per task (e.g. XNLI's 5,010 test examples) and mean tokens per example
    # (prompt + every candidate)
    examples: dict[str, int] = Field(default_factory=dict)
    mean_example_tokens: float = 128.0

    # the reduced set's test, when the study splits no BIG-bench set (task_data.bigbench_set):
    # these folders scored whole (the rehearsal's substitution)
    reduced_bigbench: list[str] = Field(default_factory=list)
    cross_entropy_texts: int = Field(default=1000, ge=1)  # §5.2: 1K instances per task

    def resolved_tasks(self, base: Path) -> dict[str, str]:
        return _resolve_task_files(self.tasks, base)

    def resolved_bigbench(self, base: Path) -> list[str]:
        out = []
        for src in self.bigbench:
            if src == "sample":
                out.append(str(samples_dir() / "bigbench"))
            else:
                out.append(src if Path(src).is_absolute() else str((base / src).resolve()))
        return out


def _resolve_task_files(tasks: dict[str, str], base: Path) -> dict[str, str]:
    out = {}
    for name, src in tasks.items():
        if src == "sample":
            out[name] = str(samples_dir() / "tasks" / f"{name}.jsonl")
        elif src.startswith("hf:") or Path(src).is_absolute():
            out[name] = src
        else:
            out[name] = str((base / src).resolve())
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
    rows: list[Row] = Field(default_factory=list)
    evaluation: Evaluation = Field(default_factory=Evaluation)
    executor: Executor = Field(default_factory=Executor)
    data_size_curve: list[str] = Field(default_factory=list)  # mixtures of the Figure 2 curve
    # the paper's shape: named models, the tables and figures they fill, and what the paper leaves unsaid
    models: dict[str, Model] = Field(default_factory=dict)
    tables: dict[str, Table] = Field(default_factory=dict)
    task_data: TaskData = Field(default_factory=TaskData)
    assumptions: list[str] = Field(default_factory=list)
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
        labels = [r.label for r in rows]
        if len(set(labels)) != len(labels):
            raise ValueError(f"row labels repeat: {labels}")
        return rows

    @model_validator(mode="after")
    def _shape(self) -> Study:
        if not self.rows and not self.tables:
            raise ValueError("`rows` is empty: a study needs at least one row of results (or `tables`)")
        if self.rows and self.tables:
            raise ValueError("give `rows` (one student, one table) or `models` and `tables`, not both")
        if self.tables and not self.models:
            raise ValueError("`tables` name models: add `models`")
        for name, m in self.models.items():
            if m.from_ is not None and m.from_ not in self.models:
                raise ValueError(f"models.{name}.from: {m.from_!r} is not a model of this study")
        for name in self.models:  # no cycles: every chain ends at a released model
            seen, cur = [name], self.models[name]
            while cur.from_ is not None:
                if cur.from_ in seen:
                    raise ValueError(f"models.{name}: `from` makes a cycle ({' -> '.join([*seen, cur.from_])})")
                seen.append(cur.from_)
                cur = self.models[cur.from_]
        for tname, t in self.tables.items():
            refs = t.models + [m for m in (t.teacher, t.curve_model) if m]
            for ref in refs:
                if ref not in self.models:
                    raise ValueError(f"tables.{tname}: {ref!r} is not a model of this study")
            if t.curve_model and not self.models[t.curve_model].trained:
                raise ValueError(f"tables.{tname}.curve_model: {t.curve_model} is not trained (`from`)")
        return self

    def base_of(self, name: str) -> str:
        """The released model a chain of `from` starts at."""
        m = self.models[name]
        while m.from_ is not None:
            name, m = m.from_, self.models[m.from_]
        return name

    def tokenizer_of(self, name: str) -> str:
        """The tokenizer a model trains and is measured with: its own setting, else its base's, else
        the base model itself."""
        cur = name
        while True:
            m = self.models[cur]
            if m.tokenizer:
                return m.tokenizer
            if m.from_ is None:
                return m.model
            cur = m.from_

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
        """Every mixture a row, a model or the data-size curve trains on, in order, once."""
        seen: list[str] = []
        trained = [r.mixture for r in self.rows if r.mixture] + [m.mixture for m in self.models.values() if m.mixture]
        for m in trained + self.data_size_curve:
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
    for where, name in (
        [("rows", r.mixture) for r in study.rows]
        + [("data_size_curve", m) for m in study.data_size_curve]
        + [(f"models.{n}.mixture", m.mixture) for n, m in study.models.items()]
    ):
        if name is not None and name not in mixtures and not Path(name).suffix:
            raise StudyError(f"{path}: {where}: unknown mixture {name!r}; valid: {', '.join(mixtures)}")
    for where, taskset in (
        ("evaluation.bigbench_set", study.evaluation.bigbench_set),
        ("task_data.bigbench_set", study.task_data.bigbench_set),
    ):
        if taskset:
            from ..bigbench import BigBenchError, load_taskset

            try:
                load_taskset(taskset)
            except BigBenchError as exc:
                raise StudyError(f"{path}: {where}: {exc}") from None
    for where, names in (
        ("evaluation.tasks", study.evaluation.tasks),
        ("task_data.tasks", study.task_data.tasks),
        ("task_data.tuning", study.task_data.tuning),
    ):
        for name in names:
            if name.startswith("bigbench:"):
                continue  # a split file of `brd bigbench split`, checked when it is read
            if name not in tasks:
                raise StudyError(f"{path}: {where}: unknown task {name!r}; valid: {', '.join(tasks)}")
