"""How sure a score is: 95% intervals and paired tests, on per-example credits.

A task's score is the mean credit of its examples (1/0 for a label; BIG-bench's target_scores
value, possibly fractional, for the predicted candidate).

Intervals (stored as eval_results.ci_low / ci_high, on accuracy's scale, with ci_method):
- `wilson`: the Wilson score interval, when every credit is 0 or 1 (exact for a binomial count
  and sensible at 0%, 100% and small n, where the normal interval is not);
- `wilson-stratified`: a task with subtasks, or BIG-bench-Avg, whose credits are all 0 or 1: its
  grade is a weighted mean of examples (a parent's grade is the mean of its subtasks' means, the
  average the mean of its tasks' grades), and the Wilson interval is taken at Kish's effective
  sample size, n_eff = 1 / sum(w_i^2) with weights w_i summing to 1. It is the plain Wilson interval
  for one task, and unlike a bootstrap it does not collapse to a point at 0% or 100%;
- `bootstrap`: the percentile bootstrap (2,000 resamples, seed 0), when some credit is fractional;
  stratified for subtasks and BIG-bench-Avg: examples are resampled within each (sub)task and the
  statistic is recomputed as it is defined. Resampling draws counts of each distinct credit value
  (a multinomial), which is exact and fast.

Paired tests of two models on the same examples (p-values, two-sided):
- `mcnemar`: the exact McNemar test (a binomial test on the examples where exactly one model is
  right), when every credit is 0 or 1;
- `sign-flip`: a paired randomisation test otherwise (fractional credits, BIG-bench-Avg): under
  the null the two models' credits on an example are exchangeable, so each per-example
  difference keeps or flips its sign at random; 10,000 draws, seed 0, p = (1 + #|stat*| >= |stat|) / (1 + draws).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Z95 = 1.959963984540054
BOOTSTRAP_DRAWS = 2000
FLIP_DRAWS = 10_000
SEED = 0
ALPHA = 0.05


def is_binary(values: Sequence[float]) -> bool:
    return all(v == 0.0 or v == 1.0 for v in values)


def wilson(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion."""
    if n <= 0:
        raise ValueError("a proportion of no trials has no interval")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # at 0% and 100% the bound is exactly 0 or 1 (the formula leaves rounding noise there)
    low = 0.0 if p <= 0 else max(0.0, centre - half)
    high = 1.0 if p >= 1 else min(1.0, centre + half)
    return low, high


def _leaf_means(values: Sequence[float], draws: int, rng):
    """`draws` bootstrap resamples of the mean of `values`, as a numpy vector."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    n = len(v)
    uniq, counts = np.unique(v, return_counts=True)
    if len(uniq) <= 256:  # resample counts of each distinct value: exact, and O(draws x distinct)
        picks = rng.multinomial(n, counts / n, size=draws)
        return picks @ uniq / n
    out = np.empty(draws)
    chunk = max(1, 4_000_000 // n)
    for start in range(0, draws, chunk):
        stop = min(draws, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = v[idx].mean(axis=1)
    return out


# A score built from several tasks is a tree: a leaf holds one (sub)task's credits, and every
# node's value is the unweighted mean of its children's (a parent task: the mean of its
# subtasks; BIG-bench-Avg: the mean of its tasks; a table's Average: the mean of its columns).
# Flattened, the value is sum over leaves of weight * mean(credits), the weights summing to 1.
Tree = Any  # a list of credits (a leaf), or a list of trees
Leaves = list[tuple[float, list[float]]]


def _is_leaf(node: Any) -> bool:
    return not node or isinstance(node[0], (int, float))


def prune(node: Any) -> Any:
    """The tree without empty leaves and empty branches (None when nothing is left)."""
    if _is_leaf(node):
        return list(node) if node else None
    kids = [k for k in (prune(c) for c in node) if k is not None]
    return kids or None


def flatten(node: Any, weight: float = 1.0) -> Leaves:
    if _is_leaf(node):
        return [(weight, list(node))]
    return [leaf for child in node for leaf in flatten(child, weight / len(node))]


def tree_mean(tree: Tree) -> float:
    return sum(w * sum(c) / len(c) for w, c in flatten(tree))


def effective_n(tree: Tree) -> float:
    """Kish's effective sample size of the tree's per-example weights (w / len(leaf) each)."""
    return 1.0 / sum(len(c) * (w / len(c)) ** 2 for w, c in flatten(tree))


def bootstrap_tree(tree: Tree, draws: int = BOOTSTRAP_DRAWS, seed: int = SEED) -> tuple[float, float]:
    """95% percentile interval of tree_mean, resampling examples within each leaf."""
    import numpy as np

    rng = np.random.default_rng(seed)
    stat = np.zeros(draws)
    for w, credits in flatten(tree):
        stat += w * _leaf_means(credits, draws, rng)
    lo, hi = np.quantile(stat, [0.025, 0.975])
    return float(lo), float(hi)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    method: str  # wilson | wilson-stratified | bootstrap


def interval(credits: Sequence[float]) -> Interval | None:
    """A 95% interval of the mean credit; None when there is no labelled example."""
    if not credits:
        return None
    if is_binary(credits):
        lo, hi = wilson(sum(credits), len(credits))
        return Interval(lo, hi, "wilson")
    lo, hi = bootstrap_tree(list(credits))
    return Interval(lo, hi, "bootstrap")


def tree_interval(tree: Tree) -> Interval | None:
    """A 95% interval of tree_mean (a parent task over its subtasks, BIG-bench-Avg, an Average)."""
    tree = prune(tree)
    if tree is None:
        return None
    leaves = flatten(tree)
    if len(leaves) == 1:
        return interval(leaves[0][1])
    if all(is_binary(c) for _, c in leaves):
        n_eff = effective_n(tree)
        lo, hi = wilson(tree_mean(tree) * n_eff, n_eff)  # type: ignore[arg-type]
        return Interval(lo, hi, "wilson-stratified")
    lo, hi = bootstrap_tree(tree)
    return Interval(lo, hi, "bootstrap")


# -- paired tests ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairedTest:
    n: int  # paired examples
    difference: float  # statistic(b) - statistic(a), on accuracy's scale
    p_value: float
    method: str  # mcnemar | sign-flip

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


def mcnemar(a: Sequence[float], b: Sequence[float]) -> float:
    """Exact two-sided McNemar p-value for paired 0/1 outcomes."""
    from scipy.stats import binomtest

    only_a = sum(1 for x, y in zip(a, b) if x > y)
    only_b = sum(1 for x, y in zip(a, b) if y > x)
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue)


def sign_flip(diffs: Sequence[float], weights: Sequence[float], draws: int = FLIP_DRAWS, seed: int = SEED) -> float:
    """Two-sided p-value of sum(w * d) under random sign flips of each paired difference d."""
    import numpy as np

    d = np.asarray(diffs, dtype=float) * np.asarray(weights, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return 1.0
    observed = abs(d.sum())
    rng = np.random.default_rng(seed)
    hits = 0
    chunk = max(1, 4_000_000 // d.size)
    for start in range(0, draws, chunk):
        size = min(chunk, draws - start)
        signs = rng.integers(0, 2, size=(size, d.size)) * 2 - 1
        hits += int((np.abs(signs @ d) >= observed * (1 - 1e-12)).sum())
    return (1 + hits) / (1 + draws)


def paired_test(a: Sequence[float], b: Sequence[float]) -> PairedTest:
    """Model b against model a on the same examples (credits in the same order)."""
    if len(a) != len(b) or not a:
        raise ValueError("a paired test needs the same, non-empty, list of examples for both models")
    n = len(a)
    diff = (sum(b) - sum(a)) / n
    if is_binary(a) and is_binary(b):
        return PairedTest(n, diff, mcnemar(a, b), "mcnemar")
    return PairedTest(n, diff, sign_flip([y - x for x, y in zip(a, b)], [1.0 / n] * n), "sign-flip")


def paired_tree_test(a: Tree, b: Tree) -> PairedTest:
    """Two models on the same examples of several tasks, compared on tree_mean (BIG-bench-Avg, a
    parent task): the statistic is linear in the per-example differences, each weighted by its
    share. `a` and `b` have the same shape, leaves in the same example order."""
    la, lb = flatten(a), flatten(b)
    if len(la) != len(lb) or any(len(x[1]) != len(y[1]) for x, y in zip(la, lb)):
        raise ValueError("a paired test needs the same examples for both models")
    if len(la) == 1:
        return paired_test(la[0][1], lb[0][1])
    diffs, weights = [], []
    for (w, ca), (_, cb) in zip(la, lb):
        diffs += [y - x for x, y in zip(ca, cb)]
        weights += [w / len(ca)] * len(ca)
    if not diffs:
        raise ValueError("a paired test needs at least one example")
    return PairedTest(len(diffs), tree_mean(b) - tree_mean(a), sign_flip(diffs, weights), "sign-flip")
