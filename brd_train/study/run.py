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
    table: ResultsTable
    timings: list[tuple[str, float, str]] = field(default_factory=list)
    report: Path | None = None
    checks: Checks = field(default_factory=Checks)


def _final_checkpoint(stage: Stage) -> Path:
    return Path(stage.outputs["out"]) / FINAL_DIR  # written when the run reaches its last step


def done_reason(stage: Stage, store: Store) -> str | None:
    """Why a stage can be skipped, or None to run it. Ingest, annotate and mix build skip their own
    finished work; training and evaluation are checked here against the store."""
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
    if stage.kind == "eval":
        from brd_data.contracts.models import model_fingerprint as fingerprint

        model = stage.argv[stage.argv.index("--model") + 1]
        if not Path(model).exists() or not store.exists():
            return None
        tasks = [a.split("=", 1)[0] for i, a in enumerate(stage.argv) if i and stage.argv[i - 1] == "--task"]
        fp = fingerprint(model)
        with store.reader() as con:
            selection = stage.argv[stage.argv.index("--select") + 1] if "--select" in stage.argv else "word"
            params = {"model_fingerprint": fp, "selection": selection}
            rows = con.execute(query("study/evaluated_tasks"), params).fetchall()
        have = {r[0] for r in rows}
        wanted_bigbench = "--bigbench" in stage.argv
        if set(tasks) <= have and (not wanted_bigbench or any(t.startswith("bigbench:") for t in have)):
            name = Path(model).parent.name if Path(model).name == FINAL_DIR else Path(model).name  # students/X/model
            return f"the store holds results of {name} on these tasks"
    return None


def run_study(study: Study, store_root: Path, echo: Echo = print, stream: bool = True) -> StudyOutcome:
    store = Store(store_root)
    stages = build_stages(study, store.root)
    timings: list[tuple[str, float, str]] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for i, stage in enumerate(stages, 1):
        why = done_reason(stage, store)
        if why:
            echo(f"[{i}/{len(stages)}] skip {stage.key}: {why}")
            timings.append((stage.key, 0.0, "skipped"))
            continue
        echo(f"[{i}/{len(stages)}] {stage.command}")
        started = time.monotonic()
        proc = subprocess.run(
            stage.process_argv(),
            env=env,
            stdout=None if stream else subprocess.PIPE,
            stderr=None if stream else subprocess.STDOUT,
            text=True,
        )
        seconds = time.monotonic() - started
        if proc.returncode != 0:
            tail = "" if stream else "\n" + "\n".join((proc.stdout or "").splitlines()[-20:])
            raise StudyError(
                f"stage {stage.key} failed (exit {proc.returncode}) after {seconds:.0f}s: {stage.command}{tail}"
            )
        timings.append((stage.key, seconds, ""))
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
    return StudyOutcome(table, timings, report, checks)


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


def labelled_results(study: Study, store: Store, stages: list[Stage]) -> ResultsTable:
    from brd_data.contracts.models import model_fingerprint as fingerprint

    labelled = []
    for stage in stages:
        if stage.kind == "eval":
            model = stage.argv[stage.argv.index("--model") + 1]
            if Path(model).exists() or not model.startswith((".", "/")):
                labelled.append((stage.outputs["label"], fingerprint(model)))
    return results_table(store, labelled, baseline=study.evaluation.baseline)
