"""The study's results table (shaped like the paper's Table 3), computed by SQL over the store,
every score with its 95% interval, and each row's differences from the baseline row tested on the
examples both were scored on (brd_train/eval/stats.py; docs/evaluation.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from brd_data.store import Store, query

# Table 3's column order; other tasks follow alphabetically.
PAPER_ORDER = ["xnli", "rte", "cb", "pawsx", "boolq", "sst2"]
TITLES = {"xnli": "XNLI", "rte": "RTE", "cb": "CB", "pawsx": "PAWS-X", "boolq": "BOOLQ", "sst2": "SST-2"}


@dataclass
class Cell:
    value: float | None  # on accuracy's scale, [0, 1]
    low: float | None = None
    high: float | None = None
    p_value: float | None = None  # paired test against the baseline row; None for the baseline itself
    test: str | None = None  # the test's method

    @property
    def significant(self) -> bool | None:
        return None if self.p_value is None else self.p_value < 0.05

    def text(self, interval: bool = True) -> str:
        if self.value is None:
            return "–"
        out = f"{100 * self.value:.1f}"
        if interval and self.low is not None and self.high is not None:
            out += f" [{100 * self.low:.1f}–{100 * self.high:.1f}]"
        if self.significant is False:
            out += " ns"
        return out


@dataclass
class ResultsTable:
    columns: list[str]  # task titles, then BIG-bench-Avg (if any), then Average
    rows: list[tuple[str, list[Cell]]]
    lineage: list[dict]  # per study row: model, train_run_id, mixture, mixture_hash, eval run
    baseline: str | None = None  # the row every other row is tested against
    selections: list[str] = field(default_factory=list)  # how predictions were picked, as stored
    bigbench_tasks: dict[str, int] = field(default_factory=dict)  # row label -> tasks in its BIG-bench-Avg

    def markdown(self) -> str:
        head = "| Model | " + " | ".join(self.columns) + " |"
        sep = "|---|" + "---:|" * len(self.columns)
        body = [f"| {label} | " + " | ".join(c.text() for c in cells) + " |" for label, cells in self.rows]
        return "\n".join([head, sep, *body])

    def legend(self) -> list[str]:
        from brd_data.contracts.choices import SELECTION_TITLES

        how = ", ".join(SELECTION_TITLES.get(s, s) for s in self.selections) or "unknown"
        lines = [
            f"Scores: accuracy in %, predictions picked by {how}. Brackets: 95% interval (Wilson for 0/1 credit; "
            "a stratified Wilson or bootstrap for BIG-bench-Avg, Average, tasks with subtasks and fractional credit).",
        ]
        if self.baseline:
            lines.append(
                f"ns: the difference from the baseline row ({self.baseline}) is not significant at 5% (paired on the "
                "examples both models were scored on: exact McNemar for 0/1 credit, a sign-flip test otherwise)."
            )
        sizes = sorted(set(self.bigbench_tasks.values()))
        if len(sizes) > 1:
            lines.append(
                "BIG-bench-Avg averages different numbers of tasks per row: "
                + ", ".join(f"{k} {v}" for k, v in self.bigbench_tasks.items())
            )
        return lines


def _tree_interval(tree):
    from brd_data.contracts.stats import tree_interval

    ci = tree_interval(tree) if tree else None
    return (ci.low, ci.high) if ci else (None, None)


def results_table(store: Store, labelled_models: list[tuple[str, str]], baseline: str | None = None) -> ResultsTable:
    """`labelled_models`: (row label, model fingerprint) in row order; `baseline`: the label of the
    row the others are tested against (default: the first)."""
    from brd_data.contracts.compare import compare, credits, rows_of
    from brd_data.contracts.stats import paired_tree_test, tree_mean

    rows_arrow = pa.table(
        {
            "label": [label for label, _ in labelled_models],
            "position": list(range(len(labelled_models))),
            "model_fingerprint": [fp for _, fp in labelled_models],
        }
    )
    with store.reader() as con:
        con.register("study_rows", rows_arrow)
        rel = con.execute(query("study/results"))
        cols = [d[0] for d in rel.description]
        records = [dict(zip(cols, r)) for r in rel.fetchall()]
        con.unregister("study_rows")
        latest = rows_of(con, "eval/latest_results")
    templates = sorted(
        {r["task"] for r in records if r["task_kind"] == "template"},
        key=lambda t: (PAPER_ORDER.index(t) if t in PAPER_ORDER else len(PAPER_ORDER), t),
    )
    has_bb = any(r["task_kind"] == "bigbench" for r in records)
    columns = [TITLES.get(t, t) for t in templates] + (["BIG-bench-Avg"] if has_bb else []) + ["Average"]
    fps = dict(labelled_models)
    base_label = baseline or (labelled_models[0][0] if labelled_models else None)
    base_fp = fps.get(base_label)
    if base_label is not None and base_fp is None:
        raise ValueError(f"baseline row {base_label!r} is not a row of the table")
    out_rows, lineage, bb_counts = [], [], {}
    for label, fp in labelled_models:
        mine = [r for r in records if r["label"] == label]
        by_task = {r["task"]: r for r in mine}
        cells = [
            Cell(by_task[t]["accuracy"], by_task[t]["ci_low"], by_task[t]["ci_high"]) if t in by_task else Cell(None)
            for t in templates
        ]
        bb = [r for r in mine if r["task_kind"] == "bigbench" and r["accuracy"] is not None]
        got = credits(store, [(r["task"], r["eval_run_id"]) for r in bb]) if bb else {}
        bb_tree = [[units[u] for u in sorted(units)] for units in got.values()]
        if has_bb:
            bb_counts[label] = len(bb)
            value = sum(r["accuracy"] for r in bb) / len(bb) if bb else None
            lo, hi = _tree_interval(bb_tree) if len(bb_tree) == len(bb) else (None, None)
            cells.append(Cell(value, lo, hi))
        present = [c.value for c in cells if c.value is not None]
        avg = sum(present) / len(present) if present and len(present) == len(cells) else None
        lo = hi = None
        if avg is not None:
            t_got = credits(store, [(t, by_task[t]["eval_run_id"]) for t in templates])
            tree = [t_got[k][u] for k in t_got for u in t_got[k]] + ([bb_tree] if has_bb else [])
            if len(tree) == len(cells) and abs(tree_mean(tree) - avg) < 1e-9:
                lo, hi = _tree_interval(tree)
        cells.append(Cell(avg, lo, hi))
        if base_fp and fp != base_fp and mine:
            comp = compare(store, base_fp, fp, latest)
            tests = {c.task: c.test for c in comp.tasks}
            for i, t in enumerate(templates):
                if tests.get(t):
                    cells[i].p_value, cells[i].test = tests[t].p_value, tests[t].method
            if has_bb and comp.bigbench_avg:
                cells[len(templates)].p_value = comp.bigbench_avg.p_value
                cells[len(templates)].test = comp.bigbench_avg.method
            paired = [t for t in templates if t in comp.units]
            bb_paired = [c.task for c in comp.tasks if c.task_kind == "bigbench" and c.task in comp.units]
            if avg is not None and len(paired) == len(templates) and (not has_bb or bb_paired):
                a_tree = [comp.trees(t)[0] for t in paired] + (
                    [[comp.trees(t)[0] for t in bb_paired]] if has_bb else []
                )
                b_tree = [comp.trees(t)[1] for t in paired] + (
                    [[comp.trees(t)[1] for t in bb_paired]] if has_bb else []
                )
                test = paired_tree_test(a_tree, b_tree)
                cells[-1].p_value, cells[-1].test = test.p_value, test.method
        out_rows.append((label, cells))
        if mine:
            r = mine[0]
            lineage.append(
                {
                    k: r[k]
                    for k in (
                        "label",
                        "model",
                        "train_run_id",
                        "mixture_name",
                        "mixture_hash",
                        "train_passages",
                        "train_step",
                        "eval_run_id",
                    )
                }
            )
        else:
            lineage.append({"label": label, "model": None})
    selections = sorted({r["selection"] for r in records if r.get("selection")})
    return ResultsTable(
        columns, out_rows, lineage, base_label if len(labelled_models) > 1 else None, selections, bb_counts
    )


def write_markdown(
    path: Path,
    title: str,
    table: ResultsTable,
    timings: list[tuple[str, float, str]],
    figures: list,
    checks: list[str] = (),
) -> Path:
    """The study's README: the table with its legend, the rows check (`checks`: Markdown lines of
    distinct.Checks.markdown), the lineage, the time per stage and the figures (`brd report`'s
    report.json: a chart, or one line saying why there is none)."""
    lines = [
        f"# {title}",
        "",
        "## Results (accuracy, %)",
        "",
        table.markdown(),
        "",
        *[f"{line}  " for line in table.legend()],
        "",
        "Every number is `eval_results` in the store (intervals: `ci_low`, `ci_high`); the lineage below joins it",
        "to the training run (`train_runs`) and the mixture (`manifest.json` hash) that produced the model.",
        "",
        *checks,
        "## Lineage",
        "",
        "| Model | model | train_run_id | mixture | mixture_hash | passages | step | eval run |",
        "|---|---|---|---|---|---:|---:|---|",
    ]
    for li in table.lineage:
        lines.append(
            "| "
            + " | ".join(
                str(li.get(k) if li.get(k) is not None else "–")
                for k in (
                    "label",
                    "model",
                    "train_run_id",
                    "mixture_name",
                    "mixture_hash",
                    "train_passages",
                    "train_step",
                    "eval_run_id",
                )
            )
            + " |"
        )
    if timings:
        lines += ["", "## Time per stage", "", "| stage | seconds | |", "|---|---:|---|"]
        lines += [f"| {k} | {s:.1f} | {note} |" for k, s, note in timings]
        lines.append(f"| **total** | **{sum(s for _, s, _ in timings):.1f}** | |")
    if figures:
        lines += ["", "## Figures", ""]
        for f in figures:
            lines += [f"![{f.figure}]({f.file})", "", f.text, ""] if f.file else [f.text, ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path
