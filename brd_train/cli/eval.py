"""`brd eval`, `brd analyze cross-entropy|probe` and `brd report`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from brd_data.cli.options import DEFAULT_STORE_PATH, StoreOpt
from brd_data.contracts.choices import Dtype
from brd_train.eval.scoring import Scoring, Selection

TaskOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--task",
        help="NAME=PATH: a task (xnli, rte, cb, pawsx, boolq, sst2, or a task YAML) over a local "
        "JSONL/Parquet file with Hugging Face field names. NAME=hf:DATASET:CONFIG@SPLIT (config and "
        "split optional), or NAME alone for the dataset its manifest names, reads the Hub (online "
        "only). Repeatable.",
        show_default=False,
    ),
]
BigBenchOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--bigbench",
        help="A folder of BIG-bench task folders (the sdist's bigbench/benchmark_tasks; `brd bigbench "
        "fetch` downloads it) or one task folder. Every multiple-choice task and subtask is scored; "
        "every task or example left out is listed with its reason. Repeatable.",
        show_default=False,
    ),
]
BigBenchSetOpt = Annotated[
    str | None,
    typer.Option(
        "--bigbench-set",
        help="Score only the task folders of a named set (manifests/bigbench: fixed-answer, the paper's "
        "multiple-choice tasks with fixed answers; reduced, Table 9's five) or of a set file.",
        show_default=False,
        exists=True,
        file_okay=False,
    ),
]
LimitOpt = Annotated[
    int | None, typer.Option(help="Score at most this many examples per task (default: all).", show_default=False)
]
DeviceOpt = Annotated[str, typer.Option(help="auto (cuda if present, else cpu), cpu, cuda, cuda:1 ...")]
DtypeOpt = Annotated[
    Dtype,
    typer.Option(
        help=f"{', '.join(Dtype)}; auto: float32 on CPU, bfloat16 on GPU.",
        metavar="<dtype>",  # the choices are in the help: listed here they would squeeze the columns
    ),
]
TrustOpt = Annotated[bool, typer.Option(help="Allow the model repository's own Python code to run (off by default).")]
ThreadsOpt = Annotated[
    int,
    typer.Option(min=0, help="CPU threads for torch (0: torch's default, all cores). Use fewer on a shared machine."),
]


def _console():
    from rich.console import Console

    return Console(stderr=True)


def _progress():
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description:<32}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=_console(),
        transient=False,
    )


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}"


def _ci(lo: float | None, hi: float | None) -> str:
    return "" if lo is None or hi is None else f"{100 * lo:.1f}–{100 * hi:.1f}"


def print_skipped_tasks(console, skipped) -> None:
    """Every BIG-bench task or subtask left out, with its reason."""
    if skipped:
        console.print(f"BIG-bench: {len(skipped)} task(s) or subtask(s) skipped:")
        for s in skipped:
            console.print(f"  skip {s.name}: {s.reason}", highlight=False, soft_wrap=True)


def print_skipped_examples(console, tasks) -> None:
    """Every task that left examples out, with the reasons and counts, and how irregular fields were read."""
    partial = [t for t in tasks if t.skip_reasons]
    if partial:
        n = sum(t.n_skipped for t in partial)
        console.print(f"{n} example(s) left out of {len(partial)} task(s):")
        for t in partial:
            why = "; ".join(f"{k} {r}" for r, k in t.skip_reasons.items())
            console.print(f"  {t.name}: {why}", highlight=False, soft_wrap=True)
    for t in tasks:
        for note in t.notes:
            console.print(f"  note {t.name}: {note}", highlight=False, soft_wrap=True)


def eval_cmd(
    model: Annotated[str, typer.Option(help="Model folder (a brd checkpoint, any causal LM) or Hub id.")],
    task: TaskOpt = None,
    bigbench: BigBenchOpt = None,
    store: StoreOpt = DEFAULT_STORE_PATH,
    limit: LimitOpt = None,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Examples per forward pass (all of an example's candidates go in the same row).")
    ] = 16,
    max_batch_tokens: Annotated[
        int, typer.Option(min=1, help="Cap on padded tokens per forward pass (rows x longest row).")
    ] = 16384,
    select: Annotated[
        Selection,
        typer.Option(
            "--select",
            help="Score that picks the prediction: word (per-word average, §3.3 as written), mean "
            "(per-token average), char (per character) or sum. All four are stored per candidate.",
        ),
    ] = Selection.WORD,
    bigbench_set: BigBenchSetOpt = None,
    scoring: Annotated[
        Scoring,
        typer.Option(
            help="packed (prompt computed once per example, batched) or naive "
            "(one forward per candidate; the reference)."
        ),
    ] = Scoring.PACKED,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = Dtype.AUTO,
    trust_remote_code: TrustOpt = False,
    threads: ThreadsOpt = 0,
) -> None:
    """Score a model on downstream tasks and BIG-bench with the paper's §3.3 function.

    Every candidate answer gets its summed log-probability given the prompt and its averages
    per word, per token and per character; --select picks the prediction (per word by default).
    Each score comes with a 95% interval (Wilson, or a bootstrap for fractional BIG-bench credit).
    Results go to the store's `eval_results` (one row per task) and `eval_predictions` (one row
    per example, with the exact prompt and every candidate's scores). docs/evaluation.md.
    """
    from rich.table import Table

    from brd_data.store import Store
    from brd_train.eval.evaluate import EvalConfig, bigbench_average_interval, collect_tasks, run_eval
    from brd_train.eval.models import model_ref

    cfg = EvalConfig(
        model=model_ref(model),
        batch_size=batch_size,
        max_batch_tokens=max_batch_tokens,
        limit=limit,
        selection=select,
        scoring=scoring,
        device=device,
        dtype=dtype,
        trust_remote_code=trust_remote_code,
        threads=threads,
    )
    tasks, skipped = collect_tasks(task or [], bigbench or [], limit, bigbench_set)
    console = _console()
    print_skipped_tasks(console, skipped)
    with _progress() as prog:

        def on_task(t):
            bar = prog.add_task(t.name, total=len(t.items))
            return lambda n: prog.advance(bar, n)

        outcome = run_eval(
            Store(store), cfg, tasks, skipped, progress=on_task, warn=lambda m: console.print(m, style="yellow")
        )
    print_skipped_examples(console, [r.task for r in outcome.results])
    from brd_data.contracts.choices import SELECTION_TITLES

    table = Table(
        title=f"{cfg.model} ({outcome.fingerprint})",
        title_justify="left",
        caption=f"run {outcome.run_id}, {outcome.scoring} scoring, prediction by {SELECTION_TITLES[select]}; "
        "95% intervals: Wilson (stratified for subtasks and BIG-bench-Avg), bootstrap for fractional credit",
        caption_justify="left",
    )
    table.add_column("task", overflow="fold")
    for col, just in (("metric", "left"), ("n", "right"), ("skipped", "right"), ("score %", "right")):
        table.add_column(col, justify=just, no_wrap=True)
    table.add_column("95% CI", justify="right", no_wrap=True)
    for r in outcome.rows:
        if r["task_kind"] == "bigbench_subtask":
            continue
        table.add_row(
            r["task"],
            r["metric"],
            str(r["n"]),
            str(r["n_skipped"] or ""),
            _pct(r["accuracy"]),
            _ci(r["ci_low"], r["ci_high"]),
        )
    avg = bigbench_average_interval(outcome.results)
    if avg is not None:
        value, ci = avg
        n_bb = sum(1 for r in outcome.rows if r["task_kind"] == "bigbench")
        table.add_row(
            "BIG-bench-Avg",
            f"mean of {n_bb} tasks",
            "",
            str(len(skipped) or ""),
            _pct(value),
            _ci(ci.low, ci.high),
            style="bold",
        )
    from rich.console import Console

    Console(width=max(120, Console().width)).print(table)
    typer.echo(f"stored in {store} (run {outcome.run_id}, {outcome.seconds:.1f}s)")


analyze_app = typer.Typer(
    help="Analyses of §5.2 and appendix A.4: teacher-student cross entropy, layer-wise probes.", no_args_is_help=True
)


@analyze_app.command("cross-entropy")
def cross_entropy_cmd(
    teacher: Annotated[str, typer.Option(help="The teacher model p (folder or Hub id).")],
    student: Annotated[
        list[str], typer.Option(help="A student model q; repeat to compare several (e.g. before and after BRD).")
    ],
    task: TaskOpt = None,
    bigbench: BigBenchOpt = None,
    store: StoreOpt = DEFAULT_STORE_PATH,
    max_texts: Annotated[int, typer.Option(min=1, help="Texts per task, sampled with --seed (the paper: 1K).")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the text sample.")] = 0,
    batch_size: Annotated[int, typer.Option(min=1, help="Texts per forward pass.")] = 8,
    max_length: Annotated[int, typer.Option(min=2, help="Truncate texts to this many tokens.")] = 1024,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = Dtype.AUTO,
    trust_remote_code: TrustOpt = False,
    threads: ThreadsOpt = 0,
) -> None:
    """§5.2: cross entropy between the teacher and each student on the task texts (Table 5).

    -sum_i p(y_i) log q(y'_i), with p and q each model's sequence probability averaged over its
    own tokenisation of text i. Lower is closer to the teacher. Stored in `eval_cross_entropy`.
    """
    from brd_data.store import Store
    from brd_train.eval.crossentropy import CrossEntropyConfig, run_cross_entropy, table5
    from brd_train.eval.evaluate import collect_tasks
    from brd_train.eval.models import model_ref

    cfg = CrossEntropyConfig(
        teacher=model_ref(teacher),
        students=tuple(model_ref(s) for s in student),
        max_texts=max_texts,
        seed=seed,
        batch_size=batch_size,
        max_length=max_length,
        device=device,
        dtype=dtype,
        trust_remote_code=trust_remote_code,
        threads=threads,
    )
    tasks, skipped = collect_tasks(task or [], bigbench or [], None)
    with _progress() as prog:

        def on_step(label: str, total: int):
            bar = prog.add_task(label[:32], total=total)
            return lambda n: prog.advance(bar, n)

        outcome = run_cross_entropy(Store(store), cfg, tasks, skipped, progress=on_step)
    from rich.console import Console

    Console().print(table5(outcome))
    typer.echo(f"stored in {store} (run {outcome.run_id})")


@analyze_app.command("probe")
def probe_cmd(
    model: Annotated[str, typer.Option(help="Model folder or Hub id.")],
    task: TaskOpt = None,
    store: StoreOpt = DEFAULT_STORE_PATH,
    limit: LimitOpt = None,
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds (stratified).")] = 5,
    c: Annotated[
        float,
        typer.Option("--c", min=1e-9, help="Inverse L2 regularisation strength of the logistic-regression probe."),
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the fold split.")] = 0,
    batch_size: Annotated[int, typer.Option(min=1, help="Texts per forward pass.")] = 8,
    max_length: Annotated[int, typer.Option(min=2, help="Truncate texts to this many tokens.")] = 1024,
    plot: Annotated[
        Path | None,
        typer.Option(
            help="PNG to write (default: STORE/reports/probe-RUN_ID.png).", show_default=False, dir_okay=False
        ),
    ] = None,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = Dtype.AUTO,
    trust_remote_code: TrustOpt = False,
    threads: ThreadsOpt = 0,
) -> None:
    """Appendix A.4: layer-wise probes of a model on task labels (Figure 4).

    Mean-pooled hidden states of every layer feed an L2-regularised logistic regression per
    layer; its cross-validated accuracy per layer is printed, plotted and stored in `eval_probes`.
    """
    from brd_data.store import Store
    from brd_train.eval.evaluate import collect_tasks
    from brd_train.eval.models import model_ref
    from brd_train.eval.probe import ProbeConfig, probe_table, run_probe

    cfg = ProbeConfig(
        model=model_ref(model),
        folds=folds,
        c=c,
        seed=seed,
        batch_size=batch_size,
        max_length=max_length,
        device=device,
        dtype=dtype,
        trust_remote_code=trust_remote_code,
        threads=threads,
    )
    tasks, _ = collect_tasks(task or [], [], limit)
    st = Store(store)
    with _progress() as prog:

        def on_step(label: str, total: int):
            bar = prog.add_task(label[:32], total=total)
            return lambda n: prog.advance(bar, n)

        outcome = run_probe(st, cfg, tasks, progress=on_step, plot=plot)
    from rich.console import Console

    Console().print(probe_table(outcome.rows))
    typer.echo(f"plot: {outcome.plot}")
    typer.echo(f"stored in {store} (run {outcome.run_id})")


def report_cmd(
    store: StoreOpt = DEFAULT_STORE_PATH,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the PNGs (default: STORE/reports).", show_default=False, file_okay=False),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            help="Figure 3's baseline: a model path, fingerprint or eval run id "
            "(default: the model the compared one was trained from).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="Figure 3's model (default: the latest evaluated model trained on the brd mixture, else on any).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write the paper's figures from the store's evaluation results, with their uncertainty.

    Figure 3: a BRD model against its base model per BIG-bench task, with paired tests.
    Figure 2: accuracy against training passages for the data-size variants of one mixture.
    Figure 4: the latest layer-wise probes, when probes were run. A figure with nothing to show
    is one line of text. Also writes report.json and comparison.md (every task of the Figure 3
    pair with intervals and p-values). docs/evaluation.md.
    """
    from brd_data.store import Store
    from brd_train.eval.report import write_report

    st = Store(store)
    written, notes = write_report(st, out or st.root / "reports", baseline=baseline, model=model)
    for note in notes:
        typer.echo(note)
    for path in written:
        typer.echo(f"wrote {path}")
    if not written:
        typer.echo("no chart written: the store holds nothing that these figures need yet", err=True)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_cmd)
    app.add_typer(analyze_app, name="analyze")
    app.command("report")(report_cmd)
