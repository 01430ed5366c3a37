"""A study as a list of stages, each one `brd` command, with what it costs.

The runner executes these exact commands (so a study is reproducible by hand), skipping those
whose results the store already holds; `--dry-run` prints them with their estimated cost.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from brd_data.contracts.models import default_teacher_dir
from brd_data.contracts.schemas.lineage import FINAL_DIR
from brd_data.contracts.schemas.study import Row, Study, Training


def training_argv(training: Training, max_steps: int | None = None, max_length: int | None = None) -> list[str]:
    """The study's training settings as `brd train` options (`max_steps`, `max_length`: a row's own)."""
    values = {n: getattr(training, n) for n in Training.OPTIONS}
    values["max_steps"] = max_steps or values["max_steps"]
    values["max_length"] = max_length or values["max_length"]
    return [a for n in Training.OPTIONS for a in (f"--{n.replace('_', '-')}", f"{values[n]:g}")] + list(
        training.extra_args
    )


@dataclass
class Stage:
    key: str  # unique, e.g. "train:brd"
    kind: str  # ingest | teacher | annotate | mix | train | eval | report
    argv: list[str]  # the brd command, without the leading `brd`
    estimate: str = ""  # the plan's cost line
    gpu_hours: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)
    launcher: list[str] = field(default_factory=list)  # e.g. accelerate launch ... for several GPUs
    feeds: list[str] = field(default_factory=list)  # the tables and figures its results reach
    model: str | None = None  # the study model it trains or evaluates

    @property
    def command(self) -> str:
        head = " ".join(self.launcher) + " -m brd_data" if self.launcher else "brd"
        return head + " " + " ".join(_quote(a) for a in self.argv)

    def process_argv(self) -> list[str]:
        """What the runner executes: this interpreter, so the study runs in the same environment."""
        if self.launcher:
            return [
                sys.executable,
                "-m",
                "accelerate.commands.launch",
                *self.launcher[2:],
                "-m",
                "brd_data",
                *self.argv,
            ]
        return [sys.executable, "-m", "brd_data", *self.argv]


def _quote(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "-_./=:,@" for c in arg) else repr(arg)


def student_dir(store: Path, row: Row) -> Path:
    return store / "students" / row.mixture


def mixture_dir(store: Path, name: str) -> Path:
    return store / "mixtures" / name


def _slurm(study: Study) -> list[str]:
    """Slurm: --wait, so the next stage starts once the commit job has loaded the run."""
    ex = study.executor
    if ex.kind != "slurm":
        return []
    return ["--wait", *(a for k, v in ex.sbatch_args.items() for a in ("--sbatch-arg", f"{k}={v}"))]


def ingest_argv(study: Study, store: Path) -> list[str]:
    """`brd ingest` of the study's corpus."""
    ingest = [
        "ingest",
        *study.corpus.resolved_paths(study.base),
        "--store",
        str(store),
        "--passage-sentences",
        str(study.corpus.passage_sentences),
    ]
    if study.corpus.lang:
        ingest += ["--lang", study.corpus.lang]
    if study.corpus.text_field != "text":
        ingest += ["--text-field", study.corpus.text_field]
    ex = study.executor
    if ex.kind != "local":
        ingest += ["--executor", ex.kind, "--tasks", str(ex.tasks), "--workers", str(ex.workers), *_slurm(study)]
        if ex.partition:
            ingest += ["--partition", ex.partition]
    return ingest


def annotate_argv(study: Study, store: Path, behaviours: list[str], *extra: str) -> list[str]:
    """`brd annotate` with the study's teacher, engine and executor; `extra`: its selection."""
    t, ex = study.teacher, study.executor
    annotate = ["annotate", "--store", str(store), "--behaviours", ",".join(behaviours), *extra]
    if t.model:
        annotate += ["--teacher", t.model]
    if t.limit:
        annotate += ["--limit", str(t.limit)]
    if t.tp > 1:
        annotate += ["--tp", str(t.tp)]
    if t.dp > 1:
        annotate += ["--dp", str(t.dp)]
    if ex.kind != "local":
        annotate += [
            "--executor",
            ex.kind,
            "--tasks",
            str(ex.annotate_tasks),
            "--workers",
            str(ex.annotate_tasks),
            *_slurm(study),
        ]
        if ex.gpu_partition:
            annotate += ["--partition", ex.gpu_partition]
        if ex.gpus_per_task:
            annotate += ["--gpus-per-task", str(ex.gpus_per_task)]
    return annotate + list(t.extra_args)


def ddp_launcher(gpus: int) -> list[str]:
    """One node, several GPUs: DDP through accelerate (docs: training)."""
    if gpus <= 1:
        return []
    config = Path(__file__).resolve().parent.parent / "train" / "accelerate" / "ddp.yaml"
    return ["accelerate", "launch", "--config_file", str(config), "--num_processes", str(gpus)]


def build_stages(study: Study, store: Path) -> list[Stage]:
    """Every stage of the study, in order."""
    if study.tables:
        from .graph import build_graph

        return build_graph(study, store)
    base = study.base
    s = str(store)
    stages: list[Stage] = [Stage("ingest", "ingest", ingest_argv(study, store))]
    if study.teacher.model is None:
        stages.append(Stage("teacher", "teacher", ["teacher", "prepare"]))
    stages.append(Stage("annotate", "annotate", annotate_argv(study, store, study.teacher.behaviours)))

    for name in study.mixtures:
        out = mixture_dir(store, name)
        stages.append(
            Stage(
                f"mix:{name}",
                "mix",
                ["mix", "build", name, "--store", s, "--out", str(out)],
                outputs={"mixture_dir": str(out)},
            )
        )

    # The demo's student is the embedded teacher's own weights (the only small pretrained model offline).
    student = study.student.model or str(default_teacher_dir())
    tr = study.training
    trained_rows = [r for r in study.rows if r.mixture] + [
        Row(label=f"data-size:{m}", mixture=m)
        for m in study.data_size_curve
        if m not in {r.mixture for r in study.rows}
    ]
    for row in trained_rows:
        out = student_dir(store, row)
        argv = [
            "train",
            "--mix",
            str(mixture_dir(store, row.mixture)),
            "--student",
            student,
            "--out",
            str(out),
            "--store",
            s,
            *training_argv(tr, row.max_steps),
        ]
        stages.append(
            Stage(
                f"train:{row.mixture}",
                "train",
                argv,
                outputs={"out": str(out), "label": row.label},
                launcher=ddp_launcher(study.student.gpus),
            )
        )

    ev = study.evaluation
    task_args: list[str] = []
    for name, path in ev.resolved_tasks(base).items():
        task_args += ["--task", f"{name}={path}"]
    for folder in ev.resolved_bigbench(base):
        task_args += ["--bigbench", folder]
    if ev.bigbench_set:
        task_args += ["--bigbench-set", ev.bigbench_set]
    if ev.limit:
        task_args += ["--limit", str(ev.limit)]
    task_args += ["--select", ev.selection]
    for row in study.rows + [r for r in trained_rows if r.label.startswith("data-size:")]:
        # `brd train` writes the finished student to OUT/model at its last step
        model = student if row.mixture is None else str(student_dir(store, row) / FINAL_DIR)
        stages.append(
            Stage(
                f"eval:{row.label}",
                "eval",
                ["eval", "--model", model, "--store", s, *task_args, *ev.extra_args],
                outputs={"label": row.label},
            )
        )
    stages.append(Stage("report", "report", ["report", "--store", s, "--out", str(store / "report")]))
    return stages
