"""`brd bigbench`: the real BIG-bench task folders, the paper's task sets and their splits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="BIG-bench: fetch the sdist's task folders, the paper's task sets, and train/tuning/test splits.",
    no_args_is_help=True,
)

FolderArg = Annotated[
    Path | None,
    typer.Option(
        "--bigbench",
        help="A benchmark_tasks folder (default: the one `brd bigbench fetch` unpacked).",
        show_default=False,
        file_okay=False,
    ),
]


def _folder(given: Path | None) -> Path:
    from ..tasks.bigbench_fetch import fetched, tasks_dir

    if given is not None:
        if not given.is_dir():
            raise typer.BadParameter(f"{given}: not a folder", param_hint="--bigbench")
        return given
    if fetched() is None:
        raise FileNotFoundError(f"no BIG-bench folder at {tasks_dir()}: run `brd bigbench fetch` or pass --bigbench")
    return tasks_dir()


@app.command("fetch")
def fetch(
    dest: Annotated[
        Path | None,
        typer.Option(
            help="Folder to hold benchmark_tasks/ (default: $BRD_BIGBENCH_DIR, else ~/.cache/brd/bigbench-1.0.0).",
            show_default=False,
            file_okay=False,
        ),
    ] = None,
    sdist: Annotated[
        Path | None,
        typer.Option(
            help="Unpack this bigbench-1.0.0.tar.gz instead of downloading it.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Download the bigbench==1.0.0 sdist from PyPI (358 MB) and keep its task folders (1.8 GB).

    Idempotent: a folder fetched before is used as it is. Prints the benchmark_tasks path, the
    folder to pass to `brd eval --bigbench`."""
    from ..tasks.bigbench_fetch import fetch as do_fetch

    typer.echo(str(do_fetch(dest, echo=lambda m: typer.echo(m, err=True), sdist=sdist)))


@app.command("select")
def select(
    bigbench: FolderArg = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write the selected tasks as a task-set YAML (like manifests/bigbench/fixed-answer.yaml).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Apply the paper's rule for its BIG-bench tasks (§4.2: multiple-choice tasks with fixed
    answers) to a benchmark_tasks folder: print the rule, the count, and why each other task is out."""
    import yaml

    from ..contracts.bigbench import FIXED_ANSWER_RULE, fixed_answer_tasks
    from ..tasks.bigbench_fetch import fetched

    root = _folder(bigbench)
    verdicts = fixed_answer_tasks(root)
    chosen = [v for v in verdicts if v.fixed_answer]
    typer.echo(f"rule: {FIXED_ANSWER_RULE}")
    for v in verdicts:
        if not v.fixed_answer:
            typer.echo(f"  out {v.task}: {v.reason}")
    typer.echo(f"{len(chosen)} of {len(verdicts)} task folders meet the rule (the paper reports 73)")
    if out:
        record = fetched(root.parent) or {}
        doc = {
            "name": out.stem,
            "description": "BIG-bench multiple-choice tasks with fixed answers (paper §4.2), selected by "
            f"`brd bigbench select` from bigbench=={record.get('version', '?')} "
            f"(sdist sha256 {record.get('sdist_sha256', '?')}): {len(chosen)} tasks; the paper reports 73.",
            "rule": FIXED_ANSWER_RULE,
            "count": len(chosen),
            "tasks": [v.task for v in chosen],
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(yaml.safe_dump(doc, sort_keys=False, width=100, allow_unicode=True), encoding="utf-8")
        typer.echo(f"wrote {out}")


@app.command("sets")
def sets() -> None:
    """The named task sets (manifests/bigbench/*.yaml)."""
    from ..contracts.bigbench import available_tasksets, load_taskset

    for name in available_tasksets():
        ts = load_taskset(name)
        split = f"; split {'/'.join(f'{v:g}' for v in ts.split.values())} seed {ts.seed}" if ts.split else ""
        typer.echo(f"{ts.name}: {len(ts.tasks)} tasks{split}")


@app.command("split")
def split(
    taskset: Annotated[str, typer.Argument(help="A task set with `split` fractions (reduced) or its YAML file.")],
    out: Annotated[
        Path, typer.Option(help="Folder for TASK/{train,tuning,test}.jsonl and split.json.", file_okay=False)
    ],
    bigbench: FolderArg = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the split (default: the set's).", show_default=False)
    ] = None,
) -> None:
    """Split each task of a set into train, tuning and test files (80/10/10 for `reduced`, as the
    paper does), seeded and idempotent. The files feed `brd tasks load bigbench:TASK=FILE`
    (task distillation, SFT), `brd ingest FILE --text-field input` (BRD²) and
    `brd eval --task bigbench:TASK=FILE`."""
    from ..contracts.bigbench import load_taskset
    from ..contracts.bigbench_split import write_splits

    outcome = write_splits(_folder(bigbench), load_taskset(taskset), out, seed, echo=typer.echo)
    typer.echo(f"{out}: {outcome.status} ({len(outcome.tasks)} tasks)")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="bigbench")
