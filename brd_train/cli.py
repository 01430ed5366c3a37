"""Commands brd_train adds to `brd` (through the `brd.commands` entry point)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add brd_train's command groups to the `brd` app."""
    from .eval.cli import register as register_eval
    from .study.cli import register as register_study
    from .train.cli import register as register_train

    register_train(app)
    register_eval(app)
    register_study(app)
