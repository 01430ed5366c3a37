"""`brd`: the command line. This module only assembles command groups and is the error boundary:
a user error becomes one line on stderr and a non-zero exit code (set BRD_DEBUG=1 for its
traceback); any other exception is a bug and prints its traceback."""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import signal
import sys
import traceback
from importlib.metadata import entry_points

import click
import typer

from ..contracts.errors import Terminated, UserError, environment_error
from ..contracts.secrets import redact
from ..contracts.terminal import quiet_libraries
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


@app.callback()
def _root(
    verbose: bool = typer.Option(
        False,
        "--verbose",
        help="Show the libraries' own progress bars and logs (datasets, transformers, vLLM) too. Also BRD_VERBOSE=1.",
    ),
) -> None:
    quiet_libraries(verbose)


_plugged: list[str] = []


def plug_in() -> typer.Typer:
    """Add the command groups of other packages (brd_train), which plug in through the
    `brd.commands` entry point so that brd_data never imports them. Done once, when `brd` runs,
    not when this package is imported: their modules import brd_data.cli.options."""
    if not _plugged:
        for ep in entry_points(group="brd.commands"):
            ep.load()(app)
            _plugged.append(ep.name)
    return app


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


def _on_sigterm(signum, frame) -> None:
    raise Terminated("SIGTERM")


def main() -> None:
    """Run `brd`. User errors (UserError and its subclasses, and OS errors a user fixes: a full
    disk, a read-only folder) print one line; anything else is a bug and prints its traceback."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    # `kill -USR1 PID` prints every thread's stack to stderr: what a run that seems stuck is doing.
    # The process's own stderr: sys.stderr may be a stream without a file descriptor (a caller's redirect).
    with contextlib.suppress(AttributeError, OSError, ValueError):  # no stderr file at all: no dump
        faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)
    try:
        rc = plug_in()(prog_name="brd", standalone_mode=False)
    except _EXIT as exc:
        rc = getattr(exc, "exit_code", 0)
    except _CLICK_ERROR as exc:
        exc.show()
        rc = exc.exit_code
    except _ABORT:
        typer.echo("aborted", err=True)
        rc = 130
    except (KeyboardInterrupt, Terminated) as exc:
        typer.echo("terminated" if isinstance(exc, Terminated) else "interrupted", err=True)
        rc = 143 if isinstance(exc, Terminated) else 130
    except UserError as exc:
        if os.environ.get("BRD_DEBUG"):
            raise
        # A stage that stopped on this error may leave asyncio tasks (datatrove's requests) whose
        # exception nobody retrieved; asyncio logs each with a traceback when it is collected.
        logging.getLogger("asyncio").disabled = True
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        typer.echo(f"error: {redact(message)}", err=True)
        rc = 1
    except Exception as exc:
        message = environment_error(exc)
        if message is None or os.environ.get("BRD_DEBUG"):
            sys.stderr.write(redact(traceback.format_exc()))
            typer.echo(
                f"error: this is a bug in brd ({type(exc).__name__}); please report it with the traceback above",
                err=True,
            )
            rc = 70  # EX_SOFTWARE
        else:
            typer.echo(f"error: {redact(message)}", err=True)
            rc = 1
    sys.exit(rc if isinstance(rc, int) else 0)
