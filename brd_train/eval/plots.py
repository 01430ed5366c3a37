"""PNG plots shaped like the paper's Figures 2, 3 and 4 (matplotlib, no display needed)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(model: str) -> str:
    parts = [p for p in str(model).rstrip("/").split("/") if p]
    return "/".join(parts[-2:]) if len(parts) > 1 else (parts[0] if parts else str(model))


def _save(fig, target: Path) -> Path:
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=120, bbox_inches="tight")
    _pyplot().close(fig)
    return target


def plot_probes(rows: Sequence[dict[str, Any]], target: Path) -> Path:
    """Figure 4: one panel per task, accuracy (%) per layer, one line per model."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    tasks = list(dict.fromkeys(r["task"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    cols = min(3, len(tasks))
    nrows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.2 * nrows), squeeze=False)
    for ax, task in zip(axes.flat, tasks):
        for model in models:
            pts = sorted((r["layer"], 100 * r["accuracy"]) for r in rows if r["task"] == task and r["model"] == model)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", markersize=3, label=_label(model))
        maj = [100 * r["majority"] for r in rows if r["task"] == task]
        if maj:
            ax.axhline(max(maj), color="grey", linestyle=":", linewidth=1, label="majority class")
        ax.set_title(task)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(0, 100)
        ax.set_xlabel("layer")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Layer-wise probing (appendix A.4)")
    fig.tight_layout()
    return _save(fig, target)


def plot_comparison(pairs: dict[str, tuple[float, float]], baseline: str, model: str, target: Path) -> tuple[Path, int]:
    """Figure 3: per task, the model's accuracy minus the baseline's (points), tied tasks left
    out like in the paper. Returns (path, number of tied tasks)."""
    plt = _pyplot()
    diffs = {t: 100 * (m - b) for t, (b, m) in pairs.items()}
    tied = [t for t, d in diffs.items() if abs(d) < 1e-9]
    shown = sorted(((t, d) for t, d in diffs.items() if t not in tied), key=lambda x: x[1])
    better = sum(1 for _, d in shown if d > 0)
    height = max(2.5, 0.28 * len(shown) + 1.2)
    fig, ax = plt.subplots(figsize=(8, height))
    if shown:
        names = [t.replace("bigbench:", "") for t, _ in shown]
        vals = [d for _, d in shown]
        ax.barh(range(len(vals)), vals, color=["tab:green" if v > 0 else "tab:red" for v in vals])
        ax.set_yticks(range(len(vals)), names, fontsize=7)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"accuracy difference (points): {_label(model)} minus {_label(baseline)}")
    ax.set_title(
        f"{_label(model)} better on {better} of {len(shown)} tasks"
        f"{f' ({len(tied)} tied tasks not shown)' if tied else ''}",
        fontsize=10,
    )
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, target), len(tied)


def plot_data_size(points: Sequence[tuple[str, int, float]], target: Path) -> Path:
    """Figure 2: accuracy (%) against training data size (passages), one line per task."""
    plt = _pyplot()
    big = max(p[1] for p in points) >= 100_000
    scale, unit = (1e6, "million passages") if big else (1, "passages")
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for task in dict.fromkeys(p[0] for p in points):
        pts = sorted((size / scale, 100 * acc) for t, size, acc in points if t == task)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=task.replace("bigbench:", ""))
    ax.set_xlabel(f"BRD data size ({unit})")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Performance against BRD data size (Figure 2)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return _save(fig, target)
