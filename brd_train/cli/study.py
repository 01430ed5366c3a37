"""`brd study` and `brd demo`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from brd_data.cli.options import DEFAULT_STORE_PATH, StoreOpt
from brd_data.contracts.terminal import quiet_libraries

VerboseLibrariesOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show the libraries' own progress bars and logs in every stage.")
]

DEMO_STORE = Path("brd-demo")


def _print_plan(study, store: Path) -> None:
    from rich.console import Console

    from brd_train.study.estimate import estimated_plan, gpu_hours_by_kind

    console = Console()
    stages = estimated_plan(study, store)
    console.print(f"[bold]study {study.name}[/bold]: {study.description}")
    console.print(f"manifest {study.source}; store {store}; {len(stages)} stages\n")
    for i, stage in enumerate(stages, 1):
        console.print(f"[bold]{i:>2}. {stage.key}[/bold]", highlight=False)
        console.print(f"    $ {stage.command}", highlight=False, soft_wrap=True)
        for line in stage.estimate.splitlines():
            console.print(f"    {line}", highlight=False)
    gpu = sum(s.gpu_hours for s in stages)
    by_kind = gpu_hours_by_kind(stages)
    parts = ", ".join(f"{k} {v:,.1f}" for k, v in by_kind.items() if v)
    console.print(f"\n[bold]total: {gpu:,.1f} GPU-hours[/bold] ({parts}); throughputs are the manifest's assumptions")


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
        bool, typer.Option("--dry-run", help="Print every stage's command and estimated cost; run nothing.")
    ] = False,
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
    outcome = run_study(s, store, echo=typer.echo)
    _print_outcome(outcome, started)


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
