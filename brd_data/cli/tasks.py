"""`brd tasks`: downstream task files (Table 8 templates, manifests/tasks) into the store."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import DEFAULT_STORE_PATH, StoreOpt

app = typer.Typer(
    help="Downstream task examples: the inputs of task distillation and the gold labels of SFT.", no_args_is_help=True
)


@app.command("list")
def list_() -> None:
    """Show the task templates (manifests/tasks/*.yaml): name, fields, candidates."""
    from ..tasks import available_tasks, load_task_spec

    for name in available_tasks():
        spec = load_task_spec(name)
        typer.echo(f"{spec.name}: fields {', '.join(spec.fields)}; candidates {', '.join(spec.candidates)}")


@app.command("load")
def load(
    files: Annotated[
        list[str],
        typer.Argument(
            help="NAME=PATH pairs: a task (see `brd tasks list`, or a template .yaml) and a local JSONL or "
            "Parquet file with its fields and labels, e.g. rte=data/rte/train.jsonl; or bigbench:TASK=FILE, a "
            "split file of `brd bigbench split` (its prompts come rendered, its split must be --split).",
            show_default=False,
        ),
    ],
    store: StoreOpt = DEFAULT_STORE_PATH,
    split: Annotated[
        str,
        typer.Option(
            help="The split these files are (train feeds d_sft and d_task_distill; keep evaluation data out)."
        ),
    ] = "train",
    limit: Annotated[
        int | None, typer.Option(min=1, help="Load the first N usable examples of each file (default: all).")
    ] = None,
) -> None:
    """Render every record with its task's Table 8 template and store it in `task_examples` (prompt,
    candidates, gold label, prompt text_hash). Unusable records go to `quarantine` (stage task).
    Loading an unchanged file again changes nothing; a changed one replaces its task and split."""
    from ..store import Store
    from ..tasks.load import LoadConfig, TaskFile, load_tasks

    cfg = LoadConfig(files=[TaskFile.parse(a) for a in files], split=split, limit=limit)
    st = Store(store)
    with st.writer("tasks load"):
        outcome = load_tasks(st, cfg)
    for f in outcome.files:
        note = f"; {f.quarantined} quarantined (first: {f.first_problem})" if f.quarantined else ""
        typer.echo(f"{f.task} ({split}) <- {f.path}: {f.rows} examples {f.status}{note}")
    if outcome.run_id:
        typer.echo(f"run {outcome.run_id}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="tasks")
