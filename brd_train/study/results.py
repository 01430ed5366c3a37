"""The study's results table (shaped like the paper's Table 3), computed by SQL over the store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from brd_data.store import Store, query

# Table 3's column order; other tasks follow alphabetically.
PAPER_ORDER = ["xnli", "rte", "cb", "pawsx", "boolq", "sst2"]
TITLES = {"xnli": "XNLI", "rte": "RTE", "cb": "CB", "pawsx": "PAWS-X", "boolq": "BOOLQ", "sst2": "SST-2"}


@dataclass
class ResultsTable:
    columns: list[str]  # task titles, then BIG-bench-Avg (if any), then Average
    rows: list[tuple[str, list[float | None]]]
    lineage: list[dict]  # per study row: model, train_run_id, mixture, mixture_hash, eval run

    def markdown(self) -> str:
        head = "| Model | " + " | ".join(self.columns) + " |"
        sep = "|---|" + "---:|" * len(self.columns)
        body = [
            f"| {label} | " + " | ".join("–" if v is None else f"{100 * v:.1f}" for v in vals) + " |"
            for label, vals in self.rows
        ]
        return "\n".join([head, sep, *body])


def results_table(store: Store, labelled_models: list[tuple[str, str]]) -> ResultsTable:
    """`labelled_models`: (row label, model fingerprint) in row order."""
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
    templates = sorted(
        {r["task"] for r in records if r["task_kind"] == "template"},
        key=lambda t: (PAPER_ORDER.index(t) if t in PAPER_ORDER else len(PAPER_ORDER), t),
    )
    has_bb = any(r["task_kind"] == "bigbench" for r in records)
    columns = [TITLES.get(t, t) for t in templates] + (["BIG-bench-Avg"] if has_bb else []) + ["Average"]
    out_rows, lineage = [], []
    for label, _fp in labelled_models:
        mine = [r for r in records if r["label"] == label]
        acc = {r["task"]: r["accuracy"] for r in mine if r["task_kind"] == "template"}
        vals: list[float | None] = [acc.get(t) for t in templates]
        if has_bb:
            bb = [r["accuracy"] for r in mine if r["task_kind"] == "bigbench" and r["accuracy"] is not None]
            vals.append(sum(bb) / len(bb) if bb else None)
        present = [v for v in vals if v is not None]
        vals.append(sum(present) / len(present) if present and len(present) == len(vals) else None)
        out_rows.append((label, vals))
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
    return ResultsTable(columns, out_rows, lineage)


def write_markdown(
    path: Path,
    title: str,
    table: ResultsTable,
    timings: list[tuple[str, float, str]],
    plots: list[Path],
    checks: list[str] = (),
) -> Path:
    """`checks`: Markdown lines of the rows check (distinct.Checks.markdown), after the table."""
    lines = [
        f"# {title}",
        "",
        "## Results (accuracy, %)",
        "",
        table.markdown(),
        "",
        "Every number is `eval_results.accuracy` in the store; the lineage below joins it to the training",
        "run (`train_runs`) and the mixture (`manifest.json` hash) that produced the model.",
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
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
