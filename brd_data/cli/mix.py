"""`brd mix`: training mixtures from the store's views (manifests/mixtures/*.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..contracts import paper
from ..contracts.choices import TOKEN_SAMPLE_ROWS, CountTokens
from .options import DEFAULT_STORE_PATH, StoreOpt, existing_store

app = typer.Typer(
    help="Training mixtures: SQL views of the store exported as Parquet shards + manifest.json.", no_args_is_help=True
)


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifests as JSON.")] = False,
) -> None:
    """Show the mixture manifests (manifests/mixtures/*.yaml): name, sources, passages, description."""
    import json

    from ..mix import available_mixtures, load_mixture

    specs = [load_mixture(n) for n in available_mixtures()]
    if as_json:
        typer.echo(
            json.dumps(
                [{"name": s.name, "description": s.description, **s.resolved()} for s in specs],
                indent=1,
                ensure_ascii=False,
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False)
    for col in ("name", "sources", "passages", "description"):
        table.add_column(col, overflow="fold")
    for s in specs:
        sources = ", ".join(src.view + (f" ({amount})" if (amount := _amount(src)) else "") for src in s.sources)
        table.add_row(s.name, sources, "all" if s.passages is None else f"{s.passages:,}", s.description)
    Console().print(table)


def _tokens(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def _amount(source) -> str:
    if source.tokens is not None:
        return f"{source.tokens:,} tokens"
    return "" if source.weight in (None, 1) else f"weight {source.weight:g}"


@app.command("build")
def build(
    name: Annotated[str, typer.Argument(help="A mixture name (see `brd mix list`) or the path of a manifest .yaml.")],
    store: StoreOpt = DEFAULT_STORE_PATH,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Mixture folder to write (replaced if it holds a mixture). Default: mixtures/NAME.",
            file_okay=False,
        ),
    ] = None,
    memory_limit: Annotated[
        str, typer.Option(help="DuckDB memory limit; beyond it DuckDB spills to a temporary folder next to --out.")
    ] = "1GB",
    threads: Annotated[int | None, typer.Option(help="DuckDB threads (default: all cores).")] = None,
    shard_rows: Annotated[
        int | None, typer.Option(min=1, help="Rows per Parquet shard (default: the manifest's, 100000).")
    ] = None,
    window_passages: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Passages composed at a time (default: the manifest's, 100000); lower it to use less "
            "memory. It is part of the row order.",
        ),
    ] = None,
    tokenizer: Annotated[
        str | None,
        typer.Option(
            help="The tokenizer of the student that trains on the mixture (a folder or hub id, e.g. the student "
            "itself): token counts, budgets and the length check use it, and `brd train` matches it against the "
            "student's. Default: the manifest's (null: the embedded teacher's).",
            show_default=False,
        ),
    ] = None,
    passages: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Only the store's first N passages in seeded order (a study's corpus budget). Default: the "
            "manifest's `passages` (none: all).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            min=0, help="Seed of the passage order and selection (default: the manifest's).", show_default=False
        ),
    ] = None,
    corpus_path: Annotated[
        list[str] | None,
        typer.Option(
            help="Only passages of ingested files whose path matches this pattern (fnmatch, * also crosses /); "
            "repeatable. Replaces the manifest's `corpus: paths` (a study's corpus, or its task inputs for BRD²).",
            show_default=False,
        ),
    ] = None,
    count_tokens: Annotated[
        CountTokens,
        typer.Option(
            help="auto: count every row of a small mixture; of a large one a random sample of "
            f"{TOKEN_SAMPLE_ROWS:,} rows, every row that could exceed --max-length and every row a token budget "
            "selects, and estimate the total (manifest.json token_count). all: count every row (exact totals).",
        ),
    ] = CountTokens.AUTO,
    max_length: Annotated[
        int,
        typer.Option(min=1, help="The length check: rows longer than this many tokens are counted and reported."),
    ] = paper.MAX_LENGTH,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Export a mixture: the rows of its source views in seeded order, as Parquet shards
    (text + lineage columns) and manifest.json (hash, rows and tokens per component, lineage).
    Building twice from the same store and manifest gives byte-identical shards.

    A mixture stores text; its token counts are those of --tokenizer, cached in the store per tokenizer and
    text, so each text is tokenised once per tokenizer."""
    from ..mix import BuildOptions, build_mixture, load_mixture

    spec = load_mixture(name)
    given = (
        ("shard_rows", shard_rows),
        ("window_passages", window_passages),
        ("tokenizer", tokenizer),
        ("passages", passages),
        ("seed", seed),
    )
    spec = spec.replace(**{k: v for k, v in given if v is not None})
    if corpus_path:
        from ..contracts.schemas.mixture import CorpusFilter

        spec = spec.replace(corpus=CorpusFilter(paths=tuple(corpus_path)))
    st = existing_store(store)
    opts = BuildOptions(
        memory_limit=memory_limit,
        threads=threads,
        progress=not quiet,
        count_tokens=count_tokens,
        max_length=max_length,
    )
    result = build_mixture(st, spec, out or Path("mixtures") / spec.name, opts)
    m = result.manifest
    tc = m["token_count"]
    parts = ", ".join(f"{c['view']} {c['rows']:,} rows / {_tokens(c['tokens'])} tokens" for c in m["components"])
    total = (
        f"{m['tokens']:,} tokens"
        if m["tokens"] is not None
        else f"~{tc['estimate']:,} tokens (95% {tc['interval95'][0]:,}-{tc['interval95'][1]:,}, estimated: "
        f"{tc['counted_rows']:,} of {tc['rows']:,} rows counted)"
    )
    lc = tc["length_check"]
    typer.echo(
        f"mixture {m['name']} -> {result.out}: {m['rows']:,} rows, {total} in "
        f"{len(m['shards'])} shard(s) ({parts}); {lc['rows_over']:,} rows over {lc['max_length']:,} tokens; "
        f"tokenizer {m['tokenizer_fingerprint']}; hash {m['mixture_hash']}; "
        f"tokenised {result.tokenised_rows:,} new rows in {result.tokenise_seconds:.1f}s; "
        f"{result.seconds:.1f}s in all"
    )
    if len(m["teacher_fingerprints"]) > 1:
        typer.echo(
            f"warning: rows from {len(m['teacher_fingerprints'])} teachers "
            f"({', '.join(m['teacher_fingerprints'])}); pin one with `teacher:` in the manifest",
            err=True,
        )


@app.command("sync")
def sync(store: StoreOpt = DEFAULT_STORE_PATH) -> None:
    """Load manifests/filters/*.yaml (e.g. the sentiment word lists d_qra_no_sent applies) into the
    store. `brd mix build` does this itself; run it to query d_train_no_sent with `brd sql`."""
    from ..mix.build import sync_all_filters

    st = existing_store(store)
    filters = sync_all_filters(st)
    for f in filters:
        typer.echo(f"filter {f.name}: {len(f.rows())} terms loaded (manifest {f.file_hash})")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="mix")
