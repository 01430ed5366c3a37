"""`brd publish`: mixture folders as a Hugging Face Hub dataset repository."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .options import DEFAULT_STORE_PATH, StoreOpt


def publish(
    dirs: Annotated[
        list[Path],
        typer.Argument(
            help="Mixture folders (brd mix build --out), or folders holding them (e.g. mixtures/).",
            show_default=False,
            exists=True,
            file_okay=False,
        ),
    ],
    repo_id: Annotated[str, typer.Option("--repo-id", help="The dataset repository, ORG/NAME.", show_default=False)],
    private: Annotated[bool, typer.Option("--private", help="Create the repository as private.")] = False,
    dry_run: Annotated[
        Path | None,
        typer.Option(
            "--dry-run",
            help="Write the exact folder that would be pushed to OUTDIR, and push nothing.",
            file_okay=False,
            metavar="OUTDIR",
        ),
    ] = None,
    store: StoreOpt = DEFAULT_STORE_PATH,
    license: Annotated[
        str | None,
        typer.Option(
            "--license",
            help="The card's license id (cc-by-4.0, other, ...). Default: apache-2.0 for brd's sample corpus, "
            "else other.",
        ),
    ] = None,
    license_note: Annotated[
        str | None,
        typer.Option("--license-note", help="The source corpus's terms, in words, for the card's license line."),
    ] = None,
    retries: Annotated[
        int, typer.Option(min=1, help="Attempts per Hub call on transient failures (429, 5xx, network).")
    ] = 5,
    retry_wait: Annotated[float, typer.Option(min=0, help="Seconds before the first retry; doubled each time.")] = 2.0,
) -> None:
    """Publish mixture folders to the Hugging Face Hub as one dataset repository.

    One config per mixture, and a README.md dataset card: languages, license and source corpus,
    rows and tokens per config and how to load it, the row format, the teacher and its
    fingerprint, the prompts as the teacher received them, lineage and citation (read from the
    mixtures' manifest.json, else from the store). Pushes with huggingface_hub, retrying
    transient failures; the token is huggingface_hub's (HF_TOKEN or `hf auth login`) and is never
    printed or written."""
    from ..mix.publish import gather, stage
    from ..mix.publish import publish as push_staged
    from ..store import Store

    st = Store(store)
    contents = gather(dirs, repo_id, st if st.exists() else None, license=license, license_note=license_note)
    names = ", ".join(m.name for m in contents.mixtures)
    if dry_run is not None:
        folder = stage(contents, dry_run)
        typer.echo(
            f"dry run: {folder} holds the repository {repo_id} ({len(contents.mixtures)} config(s): {names}); "
            "nothing was pushed"
        )
        return
    url = push_staged(
        contents, private, log=lambda msg: typer.echo(msg, err=True), attempts=retries, first_wait=retry_wait
    )
    typer.echo(f"published {names} to {url}{' (private)' if private else ''}")


def register(app: typer.Typer) -> None:
    app.command("publish")(publish)
