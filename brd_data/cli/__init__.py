"""`brd`: the command line. This module only assembles command groups and turns user errors into
one line on stderr and a non-zero exit code, never a traceback (set BRD_DEBUG=1 for one)."""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points

import click
import typer

from . import annotate, bigbench, ingest, migrate, mix, publish, sql, status, tasks, teacher

app = typer.Typer(
    name="brd",
    help="Basic Reading Distillation: ingest a corpus, annotate it with a teacher LLM, build "
    "training mixtures with SQL, train and evaluate a student.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for module in (ingest, tasks, bigbench, annotate, mix, publish, sql, status, migrate, teacher):
    module.register(app)

# Command groups from other packages (brd_train) plug in through entry points, so brd_data
# never imports them.
for ep in entry_points(group="brd.commands"):
    ep.load()(app)


def user_errors() -> tuple[type[BaseException], ...]:
    from ..annotate.teacher import TeacherError  # noqa: F401  (a ValueError)
    from ..ingest.inputs import InputError
    from ..store import StoreError

    return (StoreError, InputError, ValueError, FileNotFoundError, PermissionError, IsADirectoryError)


def _click_classes(name: str) -> tuple[type[BaseException], ...]:
    """`name` from click and from typer, which vendors its own click since 0.29 (typer.Exit,
    typer.Abort, typer._click.exceptions.ClickException are not click's classes there)."""
    found = [getattr(click.exceptions, name, None), getattr(typer, name, None)]
    try:
        from typer._click import exceptions as vendored

        found.append(getattr(vendored, name, None))
    except ImportError:
        pass
    return tuple({c for c in found if isinstance(c, type) and issubclass(c, BaseException)})


_EXIT, _CLICK_ERROR, _ABORT = (_click_classes(n) for n in ("Exit", "ClickException", "Abort"))


def main() -> None:
    try:
        rc = app(prog_name="brd", standalone_mode=False)
    except _EXIT as exc:
        rc = getattr(exc, "exit_code", 0)
    except _CLICK_ERROR as exc:
        exc.show()
        rc = exc.exit_code
    except _ABORT:
        typer.echo("aborted", err=True)
        rc = 130
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        rc = 130
    except user_errors() as exc:
        if os.environ.get("BRD_DEBUG"):
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        typer.echo(f"error: {message}", err=True)
        rc = 1
    sys.exit(rc if isinstance(rc, int) else 0)
