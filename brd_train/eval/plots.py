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


def plot_comparison(
    bars: Sequence[tuple[str, float, bool]], baseline: str, model: str, tied: int, target: Path
) -> Path:
    """Figure 3: per BIG-bench task, the model's grade minus the baseline's in points; solid bars
    are significant at 5% (paired test), pale hatched ones are not. Tied tasks are left out."""
    plt = _pyplot()
    shown = sorted(bars, key=lambda x: x[1])
    better = sum(1 for _, d, _ in shown if d > 0)
    height = max(2.5, 0.28 * len(shown) + 1.4)
    fig, ax = plt.subplots(figsize=(8, height))
    names = [t.replace("bigbench:", "") for t, _, _ in shown]
    vals = [d for _, d, _ in shown]
    colours = ["tab:green" if v > 0 else "tab:red" for v in vals]
    for i, (v, c, (_, _, sig)) in enumerate(zip(vals, colours, shown)):
        ax.barh(i, v, color=c, alpha=1.0 if sig else 0.35, hatch=None if sig else "//", edgecolor=c)
    ax.set_yticks(range(len(vals)), names, fontsize=7)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"accuracy difference (points): {_label(model)} minus {_label(baseline)}")
    ax.set_title(
        f"{_label(model)} better on {better} of {len(shown)} BIG-bench tasks"
        f"{f' ({tied} tied tasks not shown)' if tied else ''}\nsolid: significant at 5% (paired test); hatched: not",
        fontsize=9,
    )
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, target)


def plot_data_size(
    points: Sequence[tuple[str, int, float, float | None, float | None]], target: Path, mixture: str = ""
) -> Path:
    """Figure 2: accuracy (%) against training data size (passages) for the data-size variants of
    one mixture, one line per task, 95% intervals as error bars."""
    plt = _pyplot()
    big = max(p[1] for p in points) >= 100_000
    scale, unit = (1e6, "million passages") if big else (1, "passages")
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for task in dict.fromkeys(p[0] for p in points):
        pts = sorted((size / scale, acc, lo, hi) for t, size, acc, lo, hi in points if t == task)
        xs = [p[0] for p in pts]
        ys = [100 * p[1] for p in pts]
        err = [
            [100 * (p[1] - p[2]) if p[2] is not None else 0 for p in pts],
            [100 * (p[3] - p[1]) if p[3] is not None else 0 for p in pts],
        ]
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=task.replace("bigbench:", ""))
    ax.set_xlabel(f"BRD data size ({unit})")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"Performance against BRD data size (Figure 2){f': {mixture}' if mixture else ''}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return _save(fig, target)
