"""Commands brd_train adds to `brd` (through the `brd.commands` entry point): one module per
command group, each parsing options and calling its stage."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add brd_train's command groups to the `brd` app."""
    from .eval import register as register_eval
    from .study import register as register_study
    from .train import register as register_train

    register_train(app)
    register_eval(app)
    register_study(app)
