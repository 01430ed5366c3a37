"""`brd migrate`: bring an older store up to this version's schema."""

from __future__ import annotations

import typer

from .options import DEFAULT_STORE_PATH, StoreOpt, existing_store


def migrate(store: StoreOpt = DEFAULT_STORE_PATH) -> None:
    """Apply pending schema migrations (write commands do this on their own)."""
    from ..contracts.runs import StageRun
    from ..store.migrations import latest_version

    st = existing_store(store)
    with st.writer("migrate"), StageRun(st, "migrate", {"schema_version": latest_version()}):
        pass  # the writer applies the migrations; the run loads what views need from manifests/
    typer.echo(f"{st.root}: schema version {latest_version()}")


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate)
