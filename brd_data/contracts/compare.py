"""Two evaluated models side by side: each task's score with its interval, and a paired test of
the difference on the examples both were scored on (contracts/stats.py has the methods).
Used by `brd report` (Figure 3 and comparison.md) and by the study's results table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..store import Store, query
from .stats import Interval, PairedTest, paired_tree_test, tree_interval, tree_mean


def rows_of(con, name: str) -> list[dict[str, Any]]:
    rel = con.sql(query(name))
    cols = rel.columns
    return [dict(zip(cols, r)) for r in rel.fetchall()]


def rows_with(con, name: str, relation: str, table: Any) -> list[dict[str, Any]]:
    """Rows of the named query, which reads `relation`: the Arrow `table`, registered meanwhile."""
    con.register(relation, table)
    try:
        rel = con.execute(query(name))
        cols = [d[0] for d in rel.description]
        return [dict(zip(cols, r)) for r in rel.fetchall()]
    finally:
        con.unregister(relation)


@dataclass(frozen=True)
class TaskComparison:
    task: str
    task_kind: str
    a: dict[str, Any]  # the latest eval_results row of model a on this task
    b: dict[str, Any]
    test: PairedTest | None  # None: no example was scored for both

    @property
    def difference(self) -> float:
        return self.b["accuracy"] - self.a["accuracy"]


@dataclass(frozen=True)
class Comparison:
    fp_a: str
    fp_b: str
    tasks: list[TaskComparison]
    bigbench_avg: PairedTest | None  # on the BIG-bench tasks both have, paired
    n_bigbench: int
    # task -> unit (the task, or its subtasks) -> (credits of a, credits of b) on the paired examples
    units: dict[str, dict[str, tuple[list[float], list[float]]]]

    def trees(self, task: str) -> tuple[list, list]:
        return _trees(self.units[task])


def _units(pairs: list[dict[str, Any]]) -> dict[str, dict[str, tuple[list[float], list[float]]]]:
    out: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    for p in pairs:
        a, b = out.setdefault(p["task"], {}).setdefault(p["unit"], ([], []))
        a.append(p["score_a"])
        b.append(p["score_b"])
    return out


def _trees(units: dict[str, tuple[list[float], list[float]]]) -> tuple[list, list]:
    names = sorted(units)
    return [units[u][0] for u in names], [units[u][1] for u in names]


def compare(store: Store, fp_a: str, fp_b: str, latest: Sequence[dict[str, Any]] | None = None) -> Comparison:
    """Model b against model a on every task both have a latest result for."""
    import pyarrow as pa

    with store.reader() as con:
        latest = list(latest) if latest is not None else rows_of(con, "eval/latest_results")
        mine_a = {r["task"]: r for r in latest if r["model_fingerprint"] == fp_a}
        mine_b = {r["task"]: r for r in latest if r["model_fingerprint"] == fp_b}
        common = sorted(set(mine_a) & set(mine_b))
        wanted = pa.table(
            {
                "task": common,
                "run_a": [mine_a[t]["run_id"] for t in common],
                "run_b": [mine_b[t]["run_id"] for t in common],
            }
        )
        pairs = rows_with(con, "eval/paired_scores", "wanted_pairs", wanted)
    units = _units(pairs)
    out = []
    for t in common:
        test = None
        if t in units:
            ta, tb = _trees(units[t])
            test = paired_tree_test(ta, tb)
        out.append(TaskComparison(t, mine_a[t]["task_kind"], mine_a[t], mine_b[t], test))
    bb = [c.task for c in out if c.task_kind == "bigbench" and c.task in units]
    avg = None
    if bb:
        trees = [_trees(units[t]) for t in bb]
        avg = paired_tree_test([x for x, _ in trees], [y for _, y in trees])
    return Comparison(fp_a, fp_b, out, avg, len(bb), units)


def one_line(c: TaskComparison) -> str:
    t = c.test
    if t is None:
        return f"{c.task}: {100 * c.difference:+.1f} points, no example scored for both models (no paired test)"
    verdict = "significant" if t.significant else "not significant"
    return (
        f"{c.task}: {100 * t.difference:+.1f} points on {t.n} paired examples, "
        f"p = {t.p_value:.3g} ({t.method}, {verdict})"
    )


def significance_note(test: PairedTest | None) -> str:
    """The mark a results table puts on a difference that is not significant."""
    if test is None:
        return " (unpaired)"
    return "" if test.significant else " ns"


def credits(store: Store, wanted: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, list[float]]]:
    """Per (task, run_id): its units' (subtasks', or its own) credits in example order."""
    import pyarrow as pa

    if not wanted:
        return {}
    table = pa.table({"task": [t for t, _ in wanted], "run_id": [r for _, r in wanted]})
    with store.reader() as con:
        got = rows_with(con, "eval/task_credits", "wanted_runs", table)
    out: dict[tuple[str, str], dict[str, list[float]]] = {}
    for g in got:
        out.setdefault((g["task"], g["run_id"]), {}).setdefault(g["unit"], []).append(g["score"])
    return out


def bigbench_avg(store: Store, rows: Sequence[dict[str, Any]]) -> tuple[float, Interval | None, int] | None:
    """BIG-bench-Avg of one model's latest rows, with its interval from the stored per-example
    credits (the mean of the rows' accuracies when the credits are gone)."""
    bb = [r for r in rows if r["task_kind"] == "bigbench" and r["accuracy"] is not None]
    if not bb:
        return None
    got = credits(store, [(r["task"], r["run_id"]) for r in bb])
    tree = [
        [got[(r["task"], r["run_id"])][u] for u in sorted(got[(r["task"], r["run_id"])])]
        for r in bb
        if (r["task"], r["run_id"]) in got
    ]
    if len(tree) != len(bb):
        return sum(r["accuracy"] for r in bb) / len(bb), None, len(bb)
    return tree_mean(tree), tree_interval(tree), len(bb)
