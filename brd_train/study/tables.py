"""The paper's tables and figures, filled from the store: what a paper-shaped study prints at the
end (and what `--rehearse` shows in miniature). Every number is a row of eval_results,
eval_cross_entropy or eval_probes; a cell the store has nothing for is shown as "–" and counted,
and rows whose every value is the same are flagged (an ablation identical to its baseline says
nothing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from brd_data.contracts.schemas.lineage import resolve_choice
from brd_data.contracts.schemas.study import Study, Table
from brd_data.store import Store, query

from .results import PAPER_ORDER, TITLES


@dataclass
class Rendered:
    name: str
    title: str
    columns: list[str]
    rows: list[tuple[str, list[str]]]  # (label, cells)
    notes: list[str] = field(default_factory=list)
    figure: Path | None = None

    @property
    def cells(self) -> int:
        return sum(len(cells) for _, cells in self.rows)

    @property
    def empty(self) -> int:
        return sum(1 for _, cells in self.rows for c in cells if c == "–")

    def markdown(self) -> str:
        head = "| " + " | ".join(["Model", *self.columns]) + " |"
        sep = "|---|" + "---:|" * len(self.columns)
        body = [f"| {label} | " + " | ".join(cells) + " |" for label, cells in self.rows]
        lines = [f"### {self.title}", "", head, sep, *body]
        if self.figure is not None:
            lines += [
                "",
                f"![{self.name}]({self.figure.name})" if self.figure.exists() else f"(no figure at {self.figure})",
            ]
        lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def _num(v: float | None) -> str:
    """A cross entropy: one decimal as the paper prints them, four significant digits below 10 (a
    small or random model's values differ in the third)."""
    if v is None:
        return "–"
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.4g}"


def _mean(vals: list[float | None]) -> float | None:
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


def _task_order(tasks: set[str]) -> list[str]:
    return sorted(tasks, key=lambda t: (PAPER_ORDER.index(t) if t in PAPER_ORDER else len(PAPER_ORDER), t))


class Tables:
    def __init__(self, study: Study, store: Path, ref):
        """`ref(name)`: the model reference (path or hub id) a study model is evaluated as."""
        from brd_data.contracts.models import model_fingerprint

        self.study, self.store = study, Store(store)
        self.fp: dict[str, str] = {}
        for name in self._names():
            model = ref(name)
            try:
                model = resolve_choice(model)
            except Exception:  # not chosen yet: nothing in the store for it
                continue
            if Path(model).exists() or not model.startswith((".", "/")):
                self.fp[name] = model_fingerprint(model)
        self.ref = ref

    def _names(self) -> list[str]:
        from .graph import curve_models

        return [*self.study.models, *curve_models(self.study)]

    def _rows(self, sql: str, params: dict | None = None) -> list[dict]:
        if not self.store.exists() or not self.fp:
            return []
        models = pa.table({"model": list(self.fp), "model_fingerprint": list(self.fp.values())})
        with self.store.reader() as con:
            con.register("table_models", models)
            rel = con.execute(query(sql), params or {})
            cols = [d[0] for d in rel.description]
            out = [dict(zip(cols, r)) for r in rel.fetchall()]
            con.unregister("table_models")
        return out

    # -- accuracy tables --------------------------------------------------------------------------------
    def accuracy(self) -> dict[str, dict[str, tuple[str, float | None]]]:
        acc: dict[str, dict[str, tuple[str, float | None]]] = {}
        for r in self._rows("study/table_accuracy", {"selection": self.study.evaluation.selection}):
            acc.setdefault(r["model"], {})[r["task"]] = (r["task_kind"], r["accuracy"])
        return acc

    def accuracy_table(self, name: str, t: Table) -> Rendered:
        acc = self.accuracy()
        template = set(self.study.evaluation.tasks)
        approach = any(r.approach for p in t.parts for r in p.rows)
        per_bb = any(p.columns == "bigbench" for p in t.parts)
        bb_tasks = sorted(
            {k for p in t.parts for r in p.rows for k, (kind, _) in acc.get(r.model, {}).items() if kind == "bigbench"}
        )
        if per_bb:
            columns = [k.removeprefix("bigbench:") for k in bb_tasks] + ["Average"]
        else:
            has_bb = any(p.bigbench != "none" for p in t.parts)
            reduced = any(p.bigbench == "reduced" for p in t.parts)
            columns = (
                [TITLES.get(k, k) for k in _task_order(template)]
                + ([("BIG-bench-Avg" + (" (†: reduced set)" if reduced else ""))] if has_bb else [])
                + ["Average"]
            )
        rows, notes = [], []
        for part in t.parts:
            for r in part.rows:
                mine = acc.get(r.model, {})
                if per_bb:
                    vals = [mine.get(k, (None, None))[1] for k in bb_tasks]
                else:
                    vals = [mine.get(k, (None, None))[1] for k in _task_order(template)]
                    if any(p.bigbench != "none" for p in t.parts):
                        bb = (
                            [v for k, (kind, v) in mine.items() if kind == "bigbench"]
                            if part.bigbench != "none"
                            else []
                        )
                        vals.append(_mean(bb) if bb else None)
                vals.append(_mean(vals) if all(v is not None for v in vals) else None)
                label = r.label + (f" {'†' if part.bigbench == 'reduced' and not per_bb else ''}".rstrip())
                cells = [_pct(v) for v in vals]
                rows.append((f"{label} ({r.approach})" if approach and r.approach else label, cells))
        self._identical(rows, notes)
        parts = [p.title for p in t.parts if p.title]
        if parts:
            notes.insert(0, "parts, in order: " + "; ".join(f"{p.title} [{p.setting}]" for p in t.parts if p.title))
        return Rendered(name, t.title, columns, rows, notes)

    @staticmethod
    def _identical(rows: list[tuple[str, list[str]]], notes: list[str]) -> None:
        seen: dict[tuple[str, ...], str] = {}
        for label, cells in rows:
            key = tuple(cells)
            if all(c != "–" for c in cells) and key in seen:
                notes.append(f"rows {seen[key]} and {label} are identical in every column")
            seen.setdefault(key, label)

    # -- cross entropy ------------------------------------------------------------------------------------
    def cross_entropy_table(self, name: str, t: Table) -> Rendered:
        teacher = self.fp.get(t.teacher)
        rows_db = self._rows("study/table_cross_entropy", {"teacher_fingerprint": teacher}) if teacher else []
        ce: dict[str, dict[str, tuple[str, float]]] = {}
        for r in rows_db:
            ce.setdefault(r["model"], {})[r["task"]] = (r["task_kind"], r["cross_entropy"])
        template = _task_order(set(self.study.evaluation.tasks))
        columns = [TITLES.get(k, k) for k in template] + ["BIG-bench-Avg"]
        rows = []
        for r in t.parts[0].rows:
            mine = ce.get(r.model, {})
            vals = [mine.get(k, (None, None))[1] for k in template]
            bb = [v for k, (kind, v) in mine.items() if kind.startswith("bigbench")]
            vals.append(_mean(bb) if bb else None)
            rows.append((r.label, [_num(v) for v in vals]))
        notes = [f"teacher p: {t.teacher}; -sum_i p(y_i) log q(y'_i), sequence probabilities averaged per token (§5.2)"]
        self._identical(rows, notes)
        return Rendered(name, t.title, columns, rows, notes)

    # -- curve ------------------------------------------------------------------------------------------
    def curve_table(self, name: str, t: Table, report: Path) -> Rendered:
        from .graph import curve_models, passages_of

        acc = self.accuracy()
        template = _task_order(set(self.study.evaluation.tasks))
        own = passages_of(self.study, t.curve_model)
        by_size = {
            own: t.curve_model,
            **{n: point for point, (tn, _, n) in curve_models(self.study).items() if tn == name},
        }
        rows, series = [], {k: [] for k in template}
        for size in sorted(by_size):
            mine = acc.get(by_size[size], {})
            vals = [mine.get(k, (None, None))[1] for k in template]
            for k, v in zip(template, vals):
                series[k].append((size, v))
            vals.append(_mean(vals) if all(v is not None for v in vals) else None)
            rows.append((f"{size:,} passages", [_pct(v) for v in vals]))
        figure = report / f"{name}-curve.png"
        _plot_curve(figure, series, t.title)
        columns = [TITLES.get(k, k) for k in template] + ["Average"]
        notes = [f"each size trains {t.curve_model}'s recipe on the first N passages of the one seeded selection"]
        return Rendered(name, t.title, columns, rows, notes, figure)

    # -- per task ---------------------------------------------------------------------------------------
    def per_task_table(self, name: str, t: Table) -> Rendered:
        acc = self.accuracy()
        a, b = t.parts[0].rows[0], t.parts[0].rows[1]
        tasks = sorted({k for m in (a.model, b.model) for k, (kind, _) in acc.get(m, {}).items() if kind == "bigbench"})
        rows, better, tied = [], 0, 0
        for k in tasks:
            va, vb = acc.get(a.model, {}).get(k, (None, None))[1], acc.get(b.model, {}).get(k, (None, None))[1]
            diff = None if va is None or vb is None else vb - va
            better += diff is not None and diff > 0
            tied += diff is not None and diff == 0
            rows.append((k.removeprefix("bigbench:"), [_pct(va), _pct(vb), _pct(diff)]))
        notes = [f"{b.label} better than {a.label} on {better} of {len(tasks)} tasks, tied on {tied}"]
        figure = self.store.root / "report" / "figure3-bigbench.png"  # `brd report --baseline A --model B`
        return Rendered(name, t.title, [a.label, b.label, "difference"], rows, notes, figure)

    # -- probes -----------------------------------------------------------------------------------------
    def probe_table(self, name: str, t: Table, report: Path) -> Rendered:
        from .graph import slug

        probes = self._rows("study/table_probes")
        labels = {r.model: r.label for r in t.parts[0].rows}
        tasks = _task_order({p["task"] for p in probes if p["model"] in labels})
        layers = sorted({p["layer"] for p in probes if p["model"] in labels})
        by = {(p["model"], p["task"], p["layer"]): p["accuracy"] for p in probes}
        columns = [f"{TITLES.get(k, k)} {labels[m]}" for k in tasks for m in labels]
        rows = [(f"layer {layer}", [_pct(by.get((m, k, layer))) for k in tasks for m in labels]) for layer in layers]
        figures = [report / f"{name}-{slug(r.label)}.png" for r in t.parts[0].rows]
        notes = [f"figures: {', '.join(str(f) for f in figures)}"]
        return Rendered(name, t.title, columns, rows, notes, figures[0])

    def render(self) -> list[Rendered]:
        report = self.store.root / "report"
        out = []
        for name, t in self.study.tables.items():
            if t.kind == "accuracy":
                out.append(self.accuracy_table(name, t))
            elif t.kind == "cross-entropy":
                out.append(self.cross_entropy_table(name, t))
            elif t.kind == "curve":
                out.append(self.curve_table(name, t, report))
            elif t.kind == "per-task":
                out.append(self.per_task_table(name, t))
            elif t.kind == "probe":
                out.append(self.probe_table(name, t, report))
        return out


def _plot_curve(path: Path, series: dict[str, list[tuple[int, float | None]]], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = {k: [(x, y) for x, y in v if y is not None] for k, v in series.items()}
    if not any(points.values()):
        return
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for k, pts in points.items():
        if pts:
            ax.plot([x for x, _ in pts], [100 * y for _, y in pts], marker="o", label=TITLES.get(k, k))
    ax.set_xlabel("BRD data size (passages)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_tables(path: Path, title: str, rendered: list[Rendered], preamble: list[str] = ()) -> Path:
    lines = [f"# {title}", "", *preamble, ""]
    for r in rendered:
        lines += [r.markdown(), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
