"""`brd report`: the paper's figures drawn from what the store holds, each with its uncertainty.

- Figure 3 (appendix A.3): per BIG-bench task, a BRD model's grade minus its base model's (the
  model its training started from, from the checkpoint's lineage), with a paired test per task;
  tied tasks are left out as in the paper.
- Figure 2 (§5.5): accuracy against training data size for the data-size variants of ONE mixture
  (the same recipe, different `passages` caps), passages on the x axis, 95% intervals as bars.
- Figure 4 (appendix A.4): the latest layer-wise probes, when probes were run.

A figure with nothing to show is one line of text, never an empty chart. `report.json` lists
what was drawn and why the rest was not; `comparison.md` holds every task of the Figure 3 pair
with intervals and p-values. PNGs that an earlier report wrote and this one does not are removed
(only those named in the earlier report.json: files brd wrote).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from brd_data.contracts.compare import Comparison, bigbench_avg, compare, one_line, rows_of
from brd_data.contracts.report import REPORT_FILE, Figure
from brd_data.store import Store, StoreError


def _label_of(results: list[dict[str, Any]], fp: str) -> str:
    return next(r["model"] for r in results if r["model_fingerprint"] == fp)


def _match(results: list[dict[str, Any]], selector: str, what: str) -> str:
    for r in reversed(results):
        if selector in (r["model"], r["model_fingerprint"], r["run_id"], r["train_run_id"]):
            return r["model_fingerprint"]
    models = sorted({r["model"] for r in results})
    raise StoreError(f"--{what} {selector!r} matches no evaluated model; evaluated: {', '.join(models)}")


def pick_pair(
    results: list[dict[str, Any]], model: str | None = None, baseline: str | None = None
) -> tuple[str, str, str] | None:
    """(model fingerprint, baseline fingerprint, how they were chosen) for Figure 3: by default
    the latest evaluated model trained on the `brd` mixture (else on any mixture) whose base model
    is evaluated too, against that base."""
    order = list(dict.fromkeys(r["model_fingerprint"] for r in results))  # oldest evaluation first
    info = {r["model_fingerprint"]: r for r in results}
    if model:
        fp_m = _match(results, model, "model")
    else:
        trained = [fp for fp in order if info[fp].get("base_fingerprint") in info.keys() - {fp}]
        brd = [fp for fp in trained if info[fp].get("mixture_name") == "brd"]
        if not (brd or trained):
            return None
        fp_m = (brd or trained)[-1]
    if baseline:
        fp_b = _match(results, baseline, "baseline")
        how = "as asked"
    elif info[fp_m].get("base_fingerprint") in info:
        fp_b = info[fp_m]["base_fingerprint"]
        how = "its base model (the model its training started from)"
    else:
        return None
    if fp_b == fp_m:
        raise StoreError("--baseline and --model name the same model")
    return fp_m, fp_b, how


def figure3(
    store: Store, results, out: Path, model: str | None, baseline: str | None
) -> tuple[Figure, Comparison | None]:
    from .plots import plot_comparison

    pair = pick_pair(results, model, baseline)
    if pair is None:
        return Figure(
            "Figure 3",
            None,
            "Figure 3 not drawn: it compares a BRD model with its base model, and no evaluated model was trained "
            "from another evaluated model (pass --model and --baseline to compare two others)",
        ), None
    fp_m, fp_b, how = pair
    name_m, name_b = _label_of(results, fp_m), _label_of(results, fp_b)
    comp = compare(store, fp_b, fp_m, results)
    bb = [c for c in comp.tasks if c.task_kind == "bigbench"]
    if not bb:
        return Figure(
            "Figure 3", None, f"Figure 3 not drawn: {name_m} and {name_b} share no evaluated BIG-bench task"
        ), comp
    shown = [c for c in bb if abs(c.difference) > 1e-12]
    tied = len(bb) - len(shown)
    if not shown:
        return Figure(
            "Figure 3", None, f"Figure 3 not drawn: {name_m} and {name_b} tie on all {len(bb)} common BIG-bench tasks"
        ), comp
    bars = [(c.task, 100 * c.difference, bool(c.test and c.test.significant)) for c in shown]
    path = plot_comparison(bars, name_b, name_m, tied, out / "figure3-bigbench.png")
    better = sum(1 for c in shown if c.difference > 0)
    sig = sum(1 for _, _, s in bars if s)
    text = (
        f"Figure 3: {name_m} against {how}, {name_b}: better on {better} of {len(shown)} BIG-bench tasks "
        f"({tied} tied, not shown); {sig} difference(s) significant at 5% (paired tests)"
    )
    return Figure("Figure 3", path.name, text), comp


def figure2(store: Store, results, out: Path, prefer_fp: str | None) -> Figure:
    from .plots import plot_data_size

    sized = [r for r in results if r.get("train_passages") is not None and r.get("mixture_family")]
    if not sized:
        why = (
            "no evaluated model has a known training data size (eval_results.train_passages comes from the "
            "checkpoint's brd_lineage.json and the shards of the mixture it names)"
        )
        return Figure("Figure 2", None, f"Figure 2 not drawn: {why}")
    families: dict[str, dict[int, str]] = {}  # family -> passages -> model fingerprint (latest)
    names: dict[str, str] = {}
    for r in sized:
        families.setdefault(r["mixture_family"], {})[r["train_passages"]] = r["model_fingerprint"]
        names.setdefault(r["mixture_family"], r["mixture_name"] or "?")
    prefer = next((r["mixture_family"] for r in sized if r["model_fingerprint"] == prefer_fp), None)
    family = prefer if prefer and len(families[prefer]) >= 2 else max(families, key=lambda f: len(families[f]))
    sizes = families[family]
    if len(sizes) < 2:
        listed = ", ".join(f"{names[f]} ({', '.join(str(s) for s in families[f])} passages)" for f in families)
        return Figure(
            "Figure 2",
            None,
            f"Figure 2 not drawn: it needs data-size variants of one mixture (the same recipe with different "
            f"`passages`), and each evaluated mixture has one size: {listed}",
        )
    points = []
    for passages, fp in sorted(sizes.items()):
        mine = [r for r in results if r["model_fingerprint"] == fp]
        for r in mine:
            if r["task_kind"] == "template":
                points.append((r["task"], passages, r["accuracy"], r.get("ci_low"), r.get("ci_high")))
        avg = bigbench_avg(store, mine)
        if avg:
            value, ci, _ = avg
            points.append(("BIG-bench-Avg", passages, value, ci and ci.low, ci and ci.high))
    mixtures = sorted({r["mixture_name"] for r in sized if r["mixture_family"] == family and r["mixture_name"]})
    path = plot_data_size(points, out / "figure2-data-size.png", ", ".join(mixtures))
    return Figure(
        "Figure 2",
        path.name,
        f"Figure 2: {len(sizes)} data sizes of one recipe ({', '.join(mixtures)}): "
        f"{', '.join(f'{s:,}' for s in sorted(sizes))} passages",
    )


def figure4(probes, out: Path) -> Figure:
    from .plots import plot_probes

    if not probes:
        return Figure("Figure 4", None, "Figure 4 not drawn: no probes were run (`brd analyze probe`)")
    path = plot_probes(probes, out / "figure4-probes.png")
    models = sorted({p["model"] for p in probes})
    tasks = sorted({p["task"] for p in probes})
    return Figure("Figure 4", path.name, f"Figure 4: layer-wise probes of {len(models)} model(s) on {', '.join(tasks)}")


def comparison_markdown(comp: Comparison, results) -> str:
    name_a, name_b = _label_of(results, comp.fp_a), _label_of(results, comp.fp_b)
    lines = [
        f"# {name_b} against {name_a}",
        "",
        "Scores in %, 95% intervals in brackets (ci_method per row); the difference is tested on the examples both",
        "models were scored on: exact McNemar for 0/1 credit, a paired sign-flip test otherwise. "
        "ns: not significant at 5%.",
        "",
        "| task | n | baseline | model | difference | p | test |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]

    def cell(r):
        if r.get("ci_low") is None:
            return f"{100 * r['accuracy']:.1f}"
        return f"{100 * r['accuracy']:.1f} [{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]"

    for c in comp.tasks:
        t = c.test
        p = "–" if t is None else f"{t.p_value:.3g}{'' if t.significant else ' ns'}"
        lines.append(
            f"| {c.task} | {t.n if t else '–'} | {cell(c.a)} | {cell(c.b)} | {100 * c.difference:+.1f} | {p} | "
            f"{t.method if t else 'no paired examples'} |"
        )
    if comp.bigbench_avg:
        t = comp.bigbench_avg
        lines.append(
            f"| **BIG-bench-Avg** ({comp.n_bigbench} tasks) | {t.n} | | | {100 * t.difference:+.1f} | "
            f"{t.p_value:.3g}{'' if t.significant else ' ns'} | {t.method} |"
        )
    return "\n".join(lines) + "\n"


def write_report(
    store: Store, out: Path, baseline: str | None = None, model: str | None = None
) -> tuple[list[Path], list[str]]:
    """Write the figures that the store has data for, report.json and comparison.md.
    Returns (written PNG paths, one line per figure and per compared task)."""
    out = Path(out)
    with store.reader() as con:
        tables = store.catalogue(con, kinds=("table",))
        if "eval_results" not in tables:
            raise StoreError(f"store {store.root} has no evaluation tables; run `brd eval` first")
        results = rows_of(con, "eval/latest_results")
        probes = rows_of(con, "eval/latest_probes")
    out.mkdir(parents=True, exist_ok=True)
    previous = _previous_files(out)
    figures: list[Figure] = []
    comp = None
    if results:
        fig3, comp = figure3(store, results, out, model, baseline)
        figures += [fig3, figure2(store, results, out, comp.fp_b if comp else None)]
    else:
        figures += [
            Figure("Figure 3", None, "Figure 3 not drawn: no evaluation results in the store"),
            Figure("Figure 2", None, "Figure 2 not drawn: no evaluation results in the store"),
        ]
    figures.append(figure4(probes, out))
    notes = [f.text for f in figures]
    record: dict[str, Any] = {"figures": [asdict(f) for f in figures]}
    if comp is not None and comp.tasks:
        (out / "comparison.md").write_text(comparison_markdown(comp, results), encoding="utf-8")
        record["comparison"] = {"baseline": comp.fp_a, "model": comp.fp_b, "file": "comparison.md"}
        notes += [f"  {one_line(c)}" for c in comp.tasks]
    written = [out / f.file for f in figures if f.file]
    for name in previous - {p.name for p in written}:
        (out / name).unlink(missing_ok=True)  # an earlier report's chart that has nothing to show now
    (out / REPORT_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return written, notes


def _previous_files(out: Path) -> set[str]:
    try:
        old = json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))
        return {f["file"] for f in old.get("figures", []) if f.get("file") and "/" not in f["file"]}
    except (OSError, ValueError, TypeError, AttributeError):
        return set()
