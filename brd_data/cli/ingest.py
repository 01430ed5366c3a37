"""`brd ingest`: corpus files into documents, sentences and passages."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from ..contracts.choices import InputFormat, Segmenter
from ..contracts.executors import ExecutorKind
from .options import (
    DEFAULT_STORE_PATH,
    ExecutorOpt,
    PartitionOpt,
    SbatchArgOpt,
    StoreOpt,
    TasksOpt,
    VerboseOpt,
    WaitOpt,
    WorkersOpt,
)


def ingest(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Files, folders or glob patterns. CC-100 text (plain, .xz, .gz), JSONL or Parquet. "
            "None: the embedded sample corpus.",
            show_default=False,
        ),
    ] = None,
    store: StoreOpt = DEFAULT_STORE_PATH,
    lang: Annotated[
        str | None,
        typer.Option(help="Language code for every input. Default: from CC-100 file names (en.txt.xz -> en)."),
    ] = None,
    passage_sentences: Annotated[
        int, typer.Option(min=1, help="Sentences per passage (the paper uses 3). Passages never cross documents.")
    ] = 3,
    fmt: Annotated[
        InputFormat, typer.Option("--format", help="Input format; auto: from each file's name (.jsonl, .parquet).")
    ] = InputFormat.AUTO,
    text_field: Annotated[
        str, typer.Option(help="JSONL/Parquet field(s) holding the text, comma-separated; each becomes a paragraph.")
    ] = "text",
    limit_docs: Annotated[int, typer.Option(help="Stop after this many documents per task (-1: all).")] = -1,
    segmenter: Annotated[Segmenter, typer.Option(help="Sentence segmenter.")] = Segmenter.SENTENCEX,
    max_sentence_chars: Annotated[
        int, typer.Option(help="Sentences longer than this are cut (at white space when possible) and flagged.")
    ] = 1000,
    executor: ExecutorOpt = ExecutorKind.LOCAL,
    tasks: TasksOpt = 1,
    workers: WorkersOpt = 1,
    partition: PartitionOpt = None,
    wait: WaitOpt = False,
    sbatch_arg: SbatchArgOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Read corpus files, split them into sentences and passages, and load them into the store.

    Ingesting a file the store already holds adds nothing. Lines that cannot be decoded, records
    without text and files that cannot be read to the end are kept in the `quarantine` table.
    """
    from ..contracts.executors import ExecutorConfig, parse_sbatch_args
    from ..ingest import IngestConfig, resolve, run_ingest, sample_corpus
    from ..store import Store

    started = time.monotonic()
    args = paths or [str(p) for p in sample_corpus()]
    files = resolve(args, fmt=fmt, lang=lang)
    cfg = IngestConfig(
        files=files,
        passage_sentences=passage_sentences,
        text_fields=[f.strip() for f in text_field.split(",")],
        limit_docs=limit_docs,
        segmenter=segmenter,
        max_sentence_chars=max_sentence_chars,
        executor=ExecutorConfig(
            kind=executor,
            tasks=tasks,
            workers=workers,
            partition=partition,
            wait=wait,
            sbatch_args=parse_sbatch_args(sbatch_arg),
        ),
    )
    st = Store(store)
    with st.writer("ingest"):
        outcome = run_ingest(st, cfg, verbose=verbose)
    for f, run_id, n_docs in outcome.skipped:
        typer.echo(f"skipped {f.path}: already ingested ({n_docs} documents, run {run_id})")
    if outcome.run_id is None:
        typer.echo(f"nothing to do: all {len(outcome.skipped)} input(s) are already in {st.root}")
        return
    if outcome.submitted:
        from .submitted import report

        report(st, outcome.launch, verbose, "ingest")
        return
    r = outcome.result
    a = r.added
    typer.echo(
        f"run {outcome.run_id}: {len(files) - len(outcome.skipped) - len(r.failed)} file(s) ingested, "
        f"{a.get('documents', 0)} documents, {a.get('sentences', 0)} sentences, "
        f"{a.get('passages', 0)} passages, {a.get('quarantine', 0)} quarantined "
        f"in {time.monotonic() - started:.1f}s"
    )
    for path, error in r.failed:
        typer.echo(f"error: {path}: {error}; its rows were rolled back", err=True)
    if r.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
