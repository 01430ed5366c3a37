"""Every score with its uncertainty: the interval and test methods against known values and by
simulation, the study's results table with intervals and significance marks from a real store,
and migration 040 upgrading a store written before it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from brd_data.contracts.stats import (
    effective_n,
    interval,
    mcnemar,
    paired_test,
    paired_tree_test,
    sign_flip,
    tree_interval,
    tree_mean,
    wilson,
)
from brd_data.store import Store

from .conftest import BIGBENCH_DIR, TASKS_DIR, build_tiny


def test_wilson_matches_published_values_and_covers_95_percent():
    # Newcombe (1998), Table I: 81/263 -> 0.2553-0.3662; 15/148 -> 0.0624-0.1605; 0/10 -> 0-0.2775
    assert wilson(81, 263) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    assert wilson(15, 148) == pytest.approx((0.0624, 0.1605), abs=5e-5)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=5e-5)
    # coverage by simulation, where the normal interval is known to fail (n=20, p=0.1)
    rng = np.random.default_rng(1)
    for p, n in ((0.1, 20), (0.5, 16), (0.9, 40)):
        ks = rng.binomial(n, p, size=4000)
        covered = np.mean([lo <= p <= hi for lo, hi in (wilson(int(k), n) for k in ks)])
        assert 0.92 <= covered <= 0.99, (p, n, covered)


def test_bootstrap_for_fractional_credit_and_stratified_trees():
    rng = np.random.default_rng(2)
    credits = list(rng.choice([0.0, 0.5, 1.0], size=400, p=[0.3, 0.2, 0.5]))
    ci = interval(credits)
    assert ci.method == "bootstrap" and ci.low < np.mean(credits) < ci.high
    se = np.std(credits) / np.sqrt(len(credits))  # the percentile interval is about mean +- 1.96 se here
    assert ci.high - ci.low == pytest.approx(2 * 1.96 * se, rel=0.15)
    # a tree of binary leaves: the stratified Wilson at Kish's effective n
    tree = [[[1, 0, 1, 1], [0, 0]], [1, 1, 1, 0, 1, 0, 1, 1]]
    assert tree_mean(tree) == pytest.approx(((0.75 + 0.0) / 2 + 0.75) / 2)
    ci = tree_interval(tree)
    assert ci.method == "wilson-stratified"
    assert (ci.low, ci.high) == pytest.approx(wilson(tree_mean(tree) * effective_n(tree), effective_n(tree)))
    # equal leaves, equal weights: the effective n is the number of examples; one leaf is plain Wilson
    assert effective_n([[1, 0, 1], [0, 1, 1]]) == pytest.approx(6)
    assert tree_interval([[1, 0, 1, 1]]) == interval([1, 0, 1, 1])
    # a degenerate 0% stays an interval, not a point
    assert tree_interval([[0, 0], [0, 0, 0]]).high > 0.2


def test_paired_tests():
    # exact McNemar: 0 against 6 discordant examples -> 2 * 0.5^6
    a = [1] * 10 + [0] * 6
    b = [1] * 10 + [1] * 6
    assert mcnemar(a, b) == pytest.approx(2 * 0.5**6)
    t = paired_test(a, b)
    assert t.method == "mcnemar" and t.difference == pytest.approx(6 / 16) and t.significant
    assert paired_test(a, a).p_value == 1.0
    # the sign-flip test on 0/1 differences approximates the exact McNemar test
    a = [1, 0] * 6 + [0] * 10
    b = [0, 1] * 6 + [1] * 10
    d = [y - x for x, y in zip(a, b)]
    assert sign_flip(d, [1 / len(d)] * len(d)) == pytest.approx(mcnemar(a, b), abs=0.01)
    # fractional credit: sign-flip; a tree of one leaf is the plain paired test
    fa, fb = [0.5, 0.0, 1.0, 0.5], [1.0, 0.5, 1.0, 0.5]
    assert paired_test(fa, fb).method == "sign-flip"
    assert paired_tree_test([fa], [fb]) == paired_test(fa, fb)
    with pytest.raises(ValueError, match="same examples"):
        paired_tree_test([[1, 0], [1]], [[1, 0], [1, 1]])


@pytest.fixture(scope="module")
def two_models(tmp_path_factory, tiny_dir):
    from brd_train.eval.evaluate import EvalConfig, collect_tasks, run_eval

    root = tmp_path_factory.mktemp("two")
    st = Store(root / "store")
    other = build_tiny(root / "other", seed=5)
    for model in (tiny_dir, other):
        tasks, skipped = collect_tasks(
            [f"sst2={TASKS_DIR / 'sst2.jsonl'}", f"rte={TASKS_DIR / 'rte.jsonl'}"], [str(BIGBENCH_DIR)], 12
        )
        run_eval(st, EvalConfig(model=str(model), limit=12, device="cpu"), tasks, skipped)
    return st, tiny_dir, other


def test_results_table_shows_intervals_and_marks_differences_that_are_not_significant(two_models):
    from brd_train.eval.models import fingerprint
    from brd_train.study.results import results_table

    st, base, other = two_models
    table = results_table(st, [("Base", fingerprint(base)), ("Other", fingerprint(other))])
    assert table.columns == ["RTE", "SST-2", "BIG-bench-Avg", "Average"] and table.baseline == "Base"
    (_, base_cells), (_, other_cells) = table.rows
    for c in base_cells + other_cells:  # every score with an interval around it
        assert c.low is not None and c.low <= c.value <= c.high
    assert all(c.p_value is None for c in base_cells)
    assert all(c.p_value is not None and 0 < c.p_value <= 1 for c in other_cells)
    # the SST-2 p-value is the exact McNemar test on the stored per-example credits
    with st.reader() as con:
        pairs = con.execute(
            "select a.score, b.score from eval_predictions a join eval_predictions b using (task, example_id, prompt) "
            "join eval_results ra on ra.run_id = a.run_id and ra.task = a.task "
            "join eval_results rb on rb.run_id = b.run_id and rb.task = b.task "
            "where a.task = 'sst2' and ra.model_fingerprint = ? and rb.model_fingerprint = ?",
            [fingerprint(base), fingerprint(other)],
        ).fetchall()
    assert len(pairs) == 12
    assert other_cells[1].p_value == pytest.approx(mcnemar([p[0] for p in pairs], [p[1] for p in pairs]))
    assert other_cells[1].test == "mcnemar" and other_cells[2].test == "sign-flip"
    text = table.markdown()
    assert "[" in text and "–" in text
    ns = [c for c in other_cells if not c.significant]
    assert text.count(" ns |") == len(ns) and ns  # 12 examples: tiny random models do not differ significantly
    legend = " ".join(table.legend())
    assert "per-word average" in legend and "ns: the difference from the baseline row (Base)" in legend


def test_migration_040_upgrades_a_store_written_before_it(tmp_path):
    import duckdb

    from brd_data.store import query
    from brd_data.store.migrations import migrations

    root = tmp_path / "old"
    root.mkdir()
    con = duckdb.connect(str(root / "brd.duckdb"))
    con.execute(query("store/migrations_table"))
    for m in migrations():
        if m.version < 40:
            con.execute(m.sql)
            con.execute(
                "insert into schema_migrations (version, name, checksum) values (?, ?, ?)",
                [m.version, m.name, m.checksum],
            )
    base = {
        "model": "m",
        "model_fingerprint": "f",
        "source": "s",
        "template_hash": "t",
        "metric": "accuracy",
        "selection": "mean",
        "n": 4,
        "n_labelled": 4,
        "n_skipped": 0,
        "task_kind": "template",
        "train_passages": 600,  # before 040: the mixture's rows
    }
    for run, task, acc, scores in (("r1", "rte", 0.75, [1, 1, 1, 0]), ("r1", "frac", 0.5, [0.5, 0.5, 0.5, 0.5])):
        cols = {**base, "run_id": run, "task": task, "accuracy": acc}
        con.execute(
            f"insert into eval_results ({', '.join(cols)}) values ({', '.join('?' for _ in cols)})", list(cols.values())
        )
        for i, s in enumerate(scores):
            con.execute(
                "insert into eval_predictions values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run,
                    task,
                    i,
                    str(i),
                    "p",
                    " ",
                    [
                        {
                            "candidate": "Maybe not",
                            "n_tokens": 3,
                            "n_chars": 10,
                            "logprob_sum": -6.0,
                            "logprob_mean": -2.0,
                            "logprob_per_char": -0.6,
                            "target_score": s,
                        }
                    ],
                    "x",
                    "x",
                    s,
                ],
            )
    con.close()
    st = Store(root)
    with st.writer("migrate"):
        pass
    with st.reader() as con:
        got = {
            r[0]: r[1:]
            for r in con.execute(
                "select task, train_passages, train_rows, ci_low, ci_high, ci_method from eval_results"
            ).fetchall()
        }
        cand = con.execute("select candidates[1] from eval_predictions where task = 'rte' limit 1").fetchall()[0][0]
    assert got["rte"][:2] == (None, 600)  # the old figure was rows, not passages
    assert got["rte"][2:4] == pytest.approx(wilson(3, 4)) and got["rte"][4] == "wilson"
    assert got["frac"][2:] == (None, None, None)  # fractional credit: no interval until evaluated again
    assert cand["n_words"] == 2 and cand["logprob_per_word"] == pytest.approx(-3.0)
    assert json.loads(json.dumps(cand))["target_score"] == 1
