"""Commands brd_train adds to `brd` (through the `brd.commands` entry point)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add brd_train's command groups to the `brd` app."""
    from .train import cli as train_cli

    train_cli.register(app)
