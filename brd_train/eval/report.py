"""`brd report`: the paper's figures drawn from what the store holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brd_data.contracts.outputs import OutputKind, check_replaceable, claim
from brd_data.store import Store, StoreError, query


def _rows(con, name: str) -> list[dict[str, Any]]:
    rel = con.sql(query(name))
    cols = rel.columns
    return [dict(zip(cols, r)) for r in rel.fetchall()]


def _pick(results: list[dict[str, Any]], selector: str | None, exclude: str | None, what: str) -> str:
    """A model fingerprint: matched by model path, fingerprint, run id or train run id, else the
    most recently evaluated model other than `exclude`."""
    if selector:
        for r in reversed(results):
            if selector in (r["model"], r["model_fingerprint"], r["run_id"], r["train_run_id"]):
                return r["model_fingerprint"]
        models = sorted({r["model"] for r in results})
        raise StoreError(f"--{what} {selector!r} matches no evaluated model; evaluated: {', '.join(models)}")
    order = list(dict.fromkeys(r["model_fingerprint"] for r in results))  # oldest evaluation first
    for fp in reversed(order):
        if fp != exclude:
            return fp
    raise StoreError(f"the store holds results of {len(order)} model(s); Figure 3 needs two")


def _legacy_reports(folder: Path) -> bool:
    """A reports folder written before ownership markers: brd's figures only."""
    return all(p.is_file() and p.suffix == ".png" and p.name.startswith(("figure", "probe-")) for p in folder.iterdir())


def write_report(
    store: Store, out: Path, baseline: str | None = None, model: str | None = None
) -> tuple[list[Path], list[str]]:
    """Write figure3-comparison.png, figure2-data-size.png and figure4-probes.png when the store
    has what each needs. Returns (written paths, notes on what was skipped and why)."""
    from .plots import plot_comparison, plot_data_size, plot_probes

    # a folder of the user's is never written into: only an empty one, or one brd made for reports
    check_replaceable(out, OutputKind.REPORTS, legacy=_legacy_reports, what="--out")

    def target(name: str) -> Path:
        claim(out, OutputKind.REPORTS, legacy=_legacy_reports, what="--out")
        return out / name

    with store.reader() as con:
        tables = store.catalogue(con, kinds=("table",))
        if "eval_results" not in tables:
            raise StoreError(f"store {store.root} has no evaluation tables; run `brd eval` first")
        results = _rows(con, "eval/latest_results")
        probes = _rows(con, "eval/latest_probes")
    has_train_runs = "train_runs" in tables
    written: list[Path] = []
    notes: list[str] = []
    if not results:
        notes.append("no evaluation results in the store: Figures 2 and 3 skipped")

    # Figure 3: per-task comparison of two models
    n_models = len({r["model_fingerprint"] for r in results})
    if results and (n_models >= 2 or (baseline and model)):
        fp_model = _pick(results, model, None, "model")
        fp_base = _pick(results, baseline, fp_model, "baseline")
        if fp_base == fp_model:
            raise StoreError("--baseline and --model name the same model")
        acc = {(r["model_fingerprint"], r["task"]): r for r in results}
        tasks = sorted({t for f, t in acc if f == fp_base} & {t for f, t in acc if f == fp_model})
        if tasks:
            pairs = {t: (acc[(fp_base, t)]["accuracy"], acc[(fp_model, t)]["accuracy"]) for t in tasks}
            name_b = next(r["model"] for r in results if r["model_fingerprint"] == fp_base)
            name_m = next(r["model"] for r in results if r["model_fingerprint"] == fp_model)
            path, tied = plot_comparison(pairs, name_b, name_m, target("figure3-comparison.png"))
            written.append(path)
            notes.append(f"Figure 3: {name_m} vs {name_b} on {len(tasks)} common task(s), {tied} tied not shown")
        else:
            notes.append("Figure 3 skipped: the two models share no evaluated task")
    elif results:
        notes.append("Figure 3 skipped: it compares two models and the store holds results of one")

    # Figure 2: accuracy against training data size
    sized = [r for r in results if r["train_passages"] is not None]
    if sized:
        points = [(r["task"], r["train_passages"], r["accuracy"]) for r in sized if r["task_kind"] == "template"]
        bb: dict[int, list[float]] = {}
        for r in sized:
            if r["task_kind"] == "bigbench":
                bb.setdefault(r["train_passages"], []).append(r["accuracy"])
        points += [("BIG-bench-Avg", size, sum(v) / len(v)) for size, v in bb.items()]
        sizes = {p[1] for p in points}
        written.append(plot_data_size(points, target("figure2-data-size.png")))
        if len(sizes) < 2:
            notes.append(
                f"Figure 2 has one data size only ({sizes.pop()} passages); evaluate students trained on more sizes"
            )
    elif results:
        why = (
            "eval_results.train_passages is filled from a checkpoint's brd_lineage.json and the mixture "
            "manifest it names, and no evaluated model has one"
        )
        if not has_train_runs:
            why += "; the store has no train_runs table either (no `brd train` has written it)"
        notes.append(f"Figure 2 skipped: no training data size known ({why})")

    # Figure 4: the latest layer-wise probes
    if probes:
        written.append(plot_probes(probes, target("figure4-probes.png")))
    else:
        notes.append("Figure 4 skipped: no probe results (run `brd analyze probe`)")
    return written, notes
