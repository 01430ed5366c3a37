"""What `brd ingest` and `brd annotate` print about a Slurm or Ray run after submitting it."""

from __future__ import annotations

import typer


def report(st, launch, verbose: bool, command: str) -> None:
    """A Slurm/Ray run once the writer lock is released: run it (Ray) or follow it (Slurm --wait),
    and say how it ended; exit 1 if it failed."""
    from ..contracts.scaleout import complete

    if launch.kind == "slurm":
        typer.echo(f"submitted run {launch.run_id}: {launch.summary()}; logs in {launch.logs}")
    end = complete(st, launch, verbose=verbose)
    if end is None:
        typer.echo(f"its commit job loads it into {st.root}; `brd status --store {st.root}` shows how it ended")
        return
    counts = ", ".join(f"{k.removesuffix('_added')} {v}" for k, v in sorted(end.counts.items()) if v)
    typer.echo(f"run {launch.run_id} ({command}, {launch.kind}) {end.status}: {counts or 'nothing added'}")
    if end.status != "succeeded":
        typer.echo(f"error: run {launch.run_id}: {end.error}", err=True)
        raise typer.Exit(1)
