"""Running a study: each stage is the `brd` command of its plan, run in a child process, skipped when
the store already holds its result. Ends with the results table and a Markdown report."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from brd_data.contracts.schemas.lineage import FINAL_DIR
from brd_data.contracts.schemas.study import Study, StudyError
from brd_data.store import Store, query

from .distinct import Checks, check_rows, identical_scores
from .plan import Stage, build_stages
from .results import ResultsTable, results_table, write_markdown

Echo = Callable[[str], None]


@dataclass
class StudyOutcome:
    table: ResultsTable | None  # a simple study's one table
    timings: list[tuple[str, float, str]] = field(default_factory=list)
    report: Path | None = None
    tables: list = field(default_factory=list)  # a paper-shaped study's tables and figures (tables.Rendered)
    checks: Checks = field(default_factory=Checks)


def _final_checkpoint(stage: Stage) -> Path:
    return Path(stage.outputs["out"]) / FINAL_DIR  # written when the run reaches its last step


def _resolved(model: str) -> str | None:
    """A model argument, a `brd checkpoints choose` file resolved; None while nothing is chosen yet."""
    from brd_data.contracts.schemas.lineage import LineageError, resolve_choice

    try:
        return resolve_choice(model)
    except LineageError:
        return None


def _model_arg(stage: Stage, flag: str = "--model") -> str | None:
    return _resolved(stage.argv[stage.argv.index(flag) + 1])


def _fingerprint(model: str) -> str:
    from brd_data.contracts.models import model_fingerprint

    return model_fingerprint(model)


def _local_or_hub(model: str | None) -> bool:
    return model is not None and (Path(model).exists() or not model.startswith((".", "/")))


def done_reason(stage: Stage, store: Store) -> str | None:
    """Why a stage can be skipped, or None to run it. Ingest, annotate, tasks load and mix build skip
    their own finished work; training, checkpoint choices, evaluation and the analyses are checked
    here against the store and the output folders."""
    if stage.kind == "train":
        ckpt = _final_checkpoint(stage)
        lineage = ckpt / "brd_lineage.json"
        manifest = Path(stage.argv[stage.argv.index("--mix") + 1]) / "manifest.json"
        if not lineage.is_file() or not manifest.is_file():
            return None
        trained_on = json.loads(lineage.read_text()).get("mixture_hash")
        current = json.loads(manifest.read_text()).get("mixture_hash")
        if trained_on != current:
            raise StudyError(
                f"{ckpt} was trained on mixture {trained_on}, but {manifest} is now {current}; "
                "remove the student folder or use another store"
            )
        return f"{ckpt} exists for mixture {current}"
    if stage.kind == "choose":
        from brd_data.contracts.schemas.lineage import CHOICE_FILE, read_run_state

        out = Path(stage.outputs["out"])
        choice = out / CHOICE_FILE
        if not choice.is_file():
            return None
        chosen = json.loads(choice.read_text())
        run = read_run_state(out) or {}
        if chosen.get("train_run_id") == run.get("train_run_id") and (out / str(chosen.get("checkpoint"))).is_dir():
            return f"{choice.name} chose {chosen.get('checkpoint')} of run {chosen.get('train_run_id')}"
        return None
    if not store.exists() or stage.kind not in ("eval", "analysis"):
        return None
    if stage.kind == "eval":
        model = _model_arg(stage)
        if not _local_or_hub(model):
            return None
        tasks = [a.split("=", 1)[0] for i, a in enumerate(stage.argv) if i and stage.argv[i - 1] == "--task"]
        with store.reader() as con:
            selection = stage.argv[stage.argv.index("--select") + 1] if "--select" in stage.argv else "word"
            params = {"model_fingerprint": _fingerprint(model), "selection": selection}
            rows = con.execute(query("study/evaluated_tasks"), params).fetchall()
        have = {r[0] for r in rows}
        wanted_bigbench = "--bigbench" in stage.argv
        if set(tasks) <= have and (not wanted_bigbench or any(t.startswith("bigbench:") for t in have)):
            name = Path(model).parent.name if Path(model).name == FINAL_DIR else Path(model).name  # students/X/model
            return f"the store holds results of {name} on these tasks"
        return None
    if stage.argv[:2] == ["analyze", "cross-entropy"]:
        teacher = stage.argv[stage.argv.index("--teacher") + 1]
        students = [_resolved(stage.argv[i + 1]) for i, a in enumerate(stage.argv) if a == "--student"]
        if not all(_local_or_hub(m) for m in [teacher, *students]):
            return None
        with store.reader() as con:
            rows = con.execute(query("study/cross_entropy_models"), {"teacher_fingerprint": _fingerprint(teacher)})
            have = {r[0] for r in rows.fetchall()}
        if {_fingerprint(m) for m in students} <= have:
            return "the store holds cross entropies of every student against this teacher"
        return None
    if stage.argv[:2] == ["analyze", "probe"]:
        model = _model_arg(stage)
        if not _local_or_hub(model):
            return None
        tasks = [a.split("=", 1)[0] for i, a in enumerate(stage.argv) if i and stage.argv[i - 1] == "--task"]
        with store.reader() as con:
            have = {
                r[0]
                for r in con.execute(query("study/probed_tasks"), {"model_fingerprint": _fingerprint(model)}).fetchall()
            }
        if set(tasks) <= have:
            return f"the store holds probes of {Path(model).name} on these tasks"
    return None


def run_subprocess(stage: Stage, stream: bool) -> tuple[int, str]:
    """Run a stage as the `brd` command of its plan, in a child process: (exit code, output tail)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        stage.process_argv(),
        env=env,
        stdout=None if stream else subprocess.PIPE,
        stderr=None if stream else subprocess.STDOUT,
        text=True,
    )
    tail = "" if stream else "\n" + "\n".join((proc.stdout or "").splitlines()[-20:])
    return proc.returncode, tail


Execute = Callable[[Stage, bool], tuple[int, str]]


def run_study(
    study: Study,
    store_root: Path,
    echo: Echo = print,
    stream: bool = True,
    execute: Execute = run_subprocess,
    title: str | None = None,
    preamble: list[str] = (),
) -> StudyOutcome:
    """Run every stage (skipping what is done), then write the results. `execute` runs one stage
    (default: its `brd` command in a child process; the rehearsal runs them in this process)."""
    store = Store(store_root)
    stages = build_stages(study, store.root)
    timings: list[tuple[str, float, str]] = []
    for i, stage in enumerate(stages, 1):
        why = done_reason(stage, store)
        if why:
            echo(f"[{i}/{len(stages)}] skip {stage.key}: {why}")
            timings.append((stage.key, 0.0, "skipped"))
            continue
        echo(f"[{i}/{len(stages)}] {stage.command}")
        started = time.monotonic()
        rc, tail = execute(stage, stream)
        seconds = time.monotonic() - started
        if rc != 0:
            raise StudyError(f"stage {stage.key} failed (exit {rc}) after {seconds:.0f}s: {stage.command}{tail}")
        timings.append((stage.key, seconds, ""))
    if study.tables:
        return _paper_outcome(study, store, stages, timings, title, preamble)
    from brd_data.contracts.report import read_figures

    table = labelled_results(study, store, stages)
    checks = row_checks(store, stages)
    checks.notes += identical_scores([(label, [c.value for c in cells]) for label, cells in table.rows])
    figures = read_figures(store.root / "report")
    report = write_markdown(
        store.root / "report" / "README.md",
        f"Study {study.name}: {study.description}",
        table,
        timings,
        figures,
        checks=checks.markdown(),
    )
    return StudyOutcome(table, timings, report, checks=checks)


def row_checks(store: Store, stages: list[Stage]) -> Checks:
    """Whether each evaluated row differs from the others in its model and its data (distinct.py)."""
    from brd_data.contracts.models import model_fingerprint as fingerprint

    mixture_of = {s.outputs["label"]: s.argv[s.argv.index("--mix") + 1] for s in stages if s.kind == "train"}
    rows = []
    for stage in stages:
        if stage.kind != "eval":
            continue
        label = stage.outputs["label"]
        model = stage.argv[stage.argv.index("--model") + 1]
        fp = fingerprint(model) if Path(model).exists() or not model.startswith((".", "/")) else None
        folder = mixture_of.get(label)
        rows.append((label, Path(folder).name if folder else None, Path(folder) if folder else None, fp))
    return check_rows(store, rows)


def _paper_outcome(study, store, stages, timings, title, preamble) -> StudyOutcome:
    from .graph import Graph
    from .tables import Tables, write_tables

    graph = Graph(study, store.root)
    rendered = Tables(study, store.root, graph.checkpoint_ref).render()
    lines = [*preamble, "", "## Time per stage", "", "| stage | seconds | |", "|---|---:|---|"]
    lines += [f"| {k} | {s:.1f} | {note} |" for k, s, note in timings]
    lines.append(f"| **total** | **{sum(s for _, s, _ in timings):.1f}** | |")
    report = write_tables(
        store.root / "report" / "README.md", title or f"Study {study.name}: {study.description}", rendered, lines
    )
    return StudyOutcome(None, timings, report, tables=rendered)


def labelled_results(study: Study, store: Store, stages: list[Stage]) -> ResultsTable:
    labelled = []
    for stage in stages:
        if stage.kind == "eval":
            model = stage.argv[stage.argv.index("--model") + 1]
            if Path(model).exists() or not model.startswith((".", "/")):
                labelled.append((stage.outputs["label"], _fingerprint(model)))
    return results_table(store, labelled, baseline=study.evaluation.baseline)
