"""Options shared by every command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..contracts.executors import ExecutorKind

StoreOpt = Annotated[
    Path,
    typer.Option(
        "--store",
        envvar="BRD_STORE",
        help="Store directory (brd.duckdb + Parquet). Also $BRD_STORE.",
        show_default=True,
        file_okay=False,
    ),
]
DEFAULT_STORE_PATH = Path("brd-store")


def existing_store(path: Path):
    """The store at `path`, for commands that need one with data in it (a user error otherwise)."""
    from ..store import Store

    return Store(path).require()


ExecutorOpt = Annotated[ExecutorKind, typer.Option("--executor", help="datatrove executor.")]
TasksOpt = Annotated[
    int, typer.Option("--tasks", min=1, help="How many shards (datatrove tasks) to split the work into.")
]
WorkersOpt = Annotated[int, typer.Option("--workers", help="Tasks run at once (-1: all).")]
PartitionOpt = Annotated[str | None, typer.Option("--partition", help="Slurm partition (with --executor slurm).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show datatrove's own logs on the terminal.")]
WaitOpt = Annotated[
    bool,
    typer.Option(
        "--wait/--no-wait",
        help="--executor slurm: stay until the commit job has loaded the run, then print how it ended "
        "(exit 1 if it failed). Ray and local runs always run in the foreground.",
    ),
]
SbatchArgOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--sbatch-arg",
        help="--executor slurm: an extra #SBATCH line KEY=VALUE (or KEY), repeatable, e.g. account=proj, "
        "qos=high, time=48:00:00, constraint=a100.",
    ),
]
