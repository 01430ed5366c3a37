"""`brd eval` end to end into a real store; the analyses (§5.2, A.4) and `brd report`'s plots."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from brd_data.store import Store
from brd_train.eval.crossentropy import CrossEntropyConfig, cross_entropy, run_cross_entropy
from brd_train.eval.evaluate import EvalConfig, collect_tasks, run_eval
from brd_train.eval.models import Lineage
from brd_train.eval.probe import ProbeConfig, ProbeError, labelled, run_probe
from brd_train.eval.report import write_report
from brd_train.eval.tasks import load_template_task

from ..conftest import run_brd
from .conftest import BIGBENCH_DIR, PAPER_TASKS, TASKS_DIR, build_tiny


def rows(store_dir, sql, params=None):
    with Store(store_dir).reader() as con:
        rel = con.execute(sql, params or [])
        cols = [d[0] for d in rel.description]
        return [dict(zip(cols, r)) for r in rel.fetchall()]


RECIPE = {  # what data-size variants of one mixture share (brd_train/eval/models.py: _family)
    "format_version": 1,
    "kind": "lm",
    "components": [{"view": "d_train", "weight": 1, "tokens_budget": None}],
    "delimiter": "<sep>",
    "seed": 0,
    "pins": {"teacher": None},
    "filters": {},
    "tokenizer_fingerprint": "tok",
    "window_passages": 100000,
}


def fake_checkpoint(root, seed: int, base_dir, mixture: str, passages: int):
    """A tiny model posing as a `brd train` checkpoint: lineage, and a mixture folder whose shard
    holds `passages` passages in three forms each (d_ori, d_ner, d_qra)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from brd_train.eval.models import fingerprint

    ckpt = build_tiny(root / "checkpoint-4", seed=seed)
    mix = root / "mix"
    (mix / "data").mkdir(parents=True)
    ids = [f"src/{i}" for i in range(passages) for _ in range(3)]
    pq.write_table(pa.table({"passage_id": ids, "text": ["t"] * len(ids)}), mix / "data" / "train-00000.parquet")
    manifest = {
        **RECIPE,
        "name": mixture,
        "passages": passages,
        "rows": len(ids),
        "shards": [{"file": "data/train-00000.parquet", "rows": len(ids), "sha256": "x"}],
    }
    (mix / "manifest.json").write_text(json.dumps(manifest))
    (ckpt / "brd_lineage.json").write_text(
        json.dumps(
            {
                "train_run_id": f"train-20261129T000000-{seed:06d}",
                "mixture_hash": f"m{seed}",
                "mixture_dir": str(mix),
                "student_origin": {"model": str(base_dir), "fingerprint": fingerprint(base_dir), "lineage": None},
                "config": {},
                "code_version": "test",
                "step": 4,
            }
        )
    )
    return ckpt


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory, tiny_dir):
    """A BRD student of the tiny model: mixture `brd`, 3 passages (9 rows)."""
    return fake_checkpoint(tmp_path_factory.mktemp("student"), 3, tiny_dir, "brd", 3)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, student_dir):
    store_dir = tmp_path_factory.mktemp("eval") / "store"
    args = [
        "eval",
        "--model",
        student_dir,
        "--store",
        store_dir,
        "--bigbench",
        BIGBENCH_DIR,
        "--limit",
        10,
        "--batch-size",
        8,
        "--threads",
        1,
    ]
    for name in PAPER_TASKS:
        args += ["--task", f"{name}={TASKS_DIR / name}.jsonl"]
    out = run_brd(*args)
    return store_dir, out


def test_results_land_in_the_store(evaluated, student_dir, tiny_dir):
    from brd_data.contracts.stats import wilson
    from brd_train.eval.models import fingerprint

    store_dir, out = evaluated
    res = rows(store_dir, "select * from eval_results order by task")
    assert [r["task"] for r in res] == sorted(
        ["bigbench:anachronisms", "bigbench:analytic_entailment", "bigbench:emoji_movie", *PAPER_TASKS]
    )
    run_id = res[0]["run_id"]
    for r in res:
        assert r["model"] == str(student_dir) and len(r["model_fingerprint"]) == 16
        assert r["train_run_id"] == "train-20261129T000000-000003"
        assert r["train_passages"] == 3 and r["train_rows"] == 9 and r["mixture_name"] == "brd"
        assert r["base_fingerprint"] == fingerprint(tiny_dir) and r["mixture_family"]
        assert r["n"] == 10 and r["n_labelled"] == 10 and 0 <= r["accuracy"] <= 1 and r["selection"] == "word"
        # every score has its 95% interval, on accuracy's scale; 0/1 credit: Wilson
        assert r["ci_method"] == "wilson"
        assert (r["ci_low"], r["ci_high"]) == pytest.approx(wilson(round(10 * r["accuracy"]), 10))
    run = rows(store_dir, "select * from runs where run_id = ?", [run_id])[0]
    assert run["command"] == "eval" and run["status"] == "succeeded"
    assert json.loads(run["row_counts"]) == {"eval_results": 9, "eval_predictions": 90, "bigbench_tasks_skipped": 0}
    # the terminal summary: scores with intervals, and which normalisation picked the predictions
    assert "BIG-bench-Avg" in out.stdout and "sst2" in out.stdout and run_id in out.stdout
    assert "95% CI" in out.stdout and "per-word average" in out.stdout


def test_predictions_hold_what_is_needed_to_audit_a_result(evaluated):
    store_dir, _ = evaluated
    preds = rows(store_dir, "select * from eval_predictions where task = 'cb' order by position")
    assert len(preds) == 10
    first_record = json.loads((TASKS_DIR / "cb.jsonl").read_text().splitlines()[0])
    assert preds[0]["prompt"] == load_task_spec_render("cb", first_record)
    for p in preds:
        cands = p["candidates"]
        assert [c["candidate"] for c in cands] == ["Yes", "No", "Maybe"] and p["answer_prefix"] == " "
        for c in cands:  # all four normalisations, stored per candidate
            assert c["logprob_mean"] == pytest.approx(c["logprob_sum"] / c["n_tokens"])
            assert c["logprob_per_char"] == pytest.approx(c["logprob_sum"] / c["n_chars"])
            assert c["n_words"] == 1 and c["logprob_per_word"] == pytest.approx(c["logprob_sum"])
        best = max(cands, key=lambda c: c["logprob_per_word"])
        assert p["prediction"] == best["candidate"] and p["score"] == best["target_score"]
        assert p["score"] == (1.0 if p["prediction"] == p["gold"] else 0.0)
    acc = rows(store_dir, "select accuracy from eval_results where task = 'cb'")[0]["accuracy"]
    assert acc == pytest.approx(sum(p["score"] for p in preds) / len(preds))
    # BIG-bench-Avg, the paper's way, from SQL
    from brd_data.store import query

    with Store(store_dir).reader() as con:
        (avg_row,) = con.sql(query("eval/bigbench_average")).fetchall()
        direct = con.execute("select avg(accuracy) from eval_results where task_kind = 'bigbench'").fetchall()[0][0]
    assert avg_row[3] == 3 and avg_row[4] == pytest.approx(direct)


def load_task_spec_render(name, record):
    from brd_data.tasks import load_task_spec

    return load_task_spec(name).render(record)


def test_bad_input_fails_before_any_model_loads(tmp_path, brd, tiny_dir):
    bad = tmp_path / "rte.jsonl"
    bad.write_text(json.dumps({"premise": "A.", "label": 0}) + "\n")
    out = brd("eval", "--model", tiny_dir, "--task", f"rte={bad}", "--store", tmp_path / "s", check=False)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"error: {bad} line 1: field 'hypothesis' is missing" in out.stderr
    gen = tmp_path / "bb" / "generative"
    gen.mkdir(parents=True)
    (gen / "task.json").write_text(json.dumps({"examples": [{"input": "Say hi", "target": "hi"}]}))
    out = brd("eval", "--model", tiny_dir, "--bigbench", gen, "--store", tmp_path / "s", check=False)
    assert out.returncode == 1 and "generative/task.json: has no multiple-choice examples" in out.stderr
    assert not (tmp_path / "s").exists()  # nothing was written


def test_report_writes_figures_2_3_and_4(tmp_path, evaluated, tiny_dir):
    src, _ = evaluated
    store_dir = tmp_path / "store"
    shutil.copytree(src, store_dir)
    st = Store(store_dir)
    args = ([f"sst2={TASKS_DIR / 'sst2.jsonl'}", f"cb={TASKS_DIR / 'cb.jsonl'}"], [str(BIGBENCH_DIR)], 10)
    # the base model, and a smaller data-size variant of the BRD student's mixture (same recipe)
    small = fake_checkpoint(tmp_path / "small", 4, tiny_dir, "brd-small", 2)
    for model in (tiny_dir, small):
        tasks, skipped = collect_tasks(*args)
        outcome = run_eval(st, EvalConfig(model=str(model), limit=10, device="cpu"), tasks, skipped)
        assert outcome.scoring == "packed" and len(outcome.rows) == 5
    probe_tasks = [load_template_task(n, str(TASKS_DIR / f"{n}.jsonl")) for n in ("sst2", "rte")]
    probed = run_probe(st, ProbeConfig(model=str(small), folds=3, device="cpu"), probe_tasks)
    out = tmp_path / "reports"
    written, notes = write_report(st, out)
    names = sorted(p.name for p in written)
    assert names == ["figure2-data-size.png", "figure3-bigbench.png", "figure4-probes.png"]
    for p in written:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
    # Figure 3: the BRD student (mixture brd) against its base model, on the 3 BIG-bench tasks only
    fig3 = next(n for n in notes if n.startswith("Figure 3"))
    assert str(tiny_dir) in fig3 and "its base model" in fig3 and "BIG-bench tasks" in fig3, fig3
    # Figure 2: the two sizes of one recipe, passages on the x axis
    assert any(n.startswith("Figure 2: 2 data sizes of one recipe (brd, brd-small): 2, 3 passages") for n in notes)
    record = json.loads((out / "report.json").read_text())
    assert [f["figure"] for f in record["figures"]] == ["Figure 3", "Figure 2", "Figure 4"]
    # every common task with both intervals and a paired test; BIG-bench-Avg has its own
    comparison = (out / "comparison.md").read_text()
    for task in ("sst2", "cb", "bigbench:emoji_movie", "BIG-bench-Avg"):
        assert f"| {task}" in comparison or f"| **{task}**" in comparison, task
    assert "mcnemar" in comparison and "sign-flip" in comparison and "[" in comparison
    assert probed.plot.is_file()
    # probes: one row per layer (embeddings + 2 blocks) and task
    pr = rows(store_dir, "select task, layer, accuracy, majority, folds from eval_probes order by task, layer")
    assert [(r["task"], r["layer"]) for r in pr] == [
        ("rte", 0),
        ("rte", 1),
        ("rte", 2),
        ("sst2", 0),
        ("sst2", 1),
        ("sst2", 2),
    ]
    assert all(0 <= r["accuracy"] <= 1 and r["folds"] == 3 for r in pr)

    # a store with nothing to compare: every figure is one line of text, and the charts an earlier
    # report wrote into the same folder are removed
    lone = Store(tmp_path / "lone")
    tasks, _ = collect_tasks([f"sst2={TASKS_DIR / 'sst2.jsonl'}"], [], 4)
    run_eval(lone, EvalConfig(model=str(tiny_dir), limit=4, device="cpu"), tasks, [])
    written, notes = write_report(lone, out)
    assert written == [] and sorted(p.name for p in out.glob("*.png")) == []
    assert [n.split(":")[0] for n in notes] == ["Figure 3 not drawn", "Figure 2 not drawn", "Figure 4 not drawn"]


def test_eval_waits_for_a_busy_store_and_report_explains_missing_data_sizes(tmp_path, tiny_dir):
    import threading

    st = Store(tmp_path / "store")
    held, release = threading.Event(), threading.Event()

    def other_writer():  # another command holding the store while eval starts
        with Store(st.root).writer("ingest"):
            held.set()
            release.wait(30)

    t = threading.Thread(target=other_writer)
    t.start()
    held.wait(30)
    waited: list[str] = []

    def on_wait(message):  # the other command finishes once eval has found the store busy
        waited.append(message)
        release.set()

    tasks, _ = collect_tasks([f"sst2={TASKS_DIR / 'sst2.jsonl'}"], [], 4)
    out = run_eval(st, EvalConfig(model=str(tiny_dir), limit=4, device="cpu"), tasks, [], warn=on_wait)
    t.join()
    assert len(waited) == 1 and "waiting: store" in waited[0] and "(ingest, since" in waited[0]
    assert rows(st.root, "select status from runs where run_id = ?", [out.run_id])[0]["status"] == "succeeded"
    written, notes = write_report(st, tmp_path / "r")
    assert written == []
    assert any("Figure 2 not drawn: no evaluated model has a known training data size" in n for n in notes)
    assert any("Figure 3 not drawn" in n for n in notes)


def test_cross_entropy_against_the_teacher(tmp_path, tiny_dir):
    assert cross_entropy([math.log(0.5)], [math.log(0.25)]) == pytest.approx(-0.5 * math.log(0.25))
    st = Store(tmp_path / "store")
    tasks, _ = collect_tasks([f"sst2={TASKS_DIR / 'sst2.jsonl'}"], [str(BIGBENCH_DIR / "analytic_entailment")], None)
    other = build_tiny(tmp_path / "other", seed=2)
    same_dir = shutil.copytree(tiny_dir, tmp_path / "same")
    cfg = CrossEntropyConfig(teacher=str(tiny_dir), students=(str(other), str(same_dir)), max_texts=12, device="cpu")
    out = run_cross_entropy(st, cfg, tasks)
    got = {(r["model"], r["task"]): r for r in rows(st.root, "select * from eval_cross_entropy")}
    assert len(got) == 4 and all(r["n"] == 12 for r in got.values())
    # the student identical to the teacher: q = p on every text
    same = got[(str(same_dir), "sst2")]
    assert same["model_logprob_mean"] == pytest.approx(same["teacher_logprob_mean"], abs=1e-5)
    for r in out.rows:
        assert r["cross_entropy"] > 0 and r["cross_entropy_mean"] == pytest.approx(r["cross_entropy"] / 12)


def test_probe_needs_two_examples_per_label(tmp_path):
    f = tmp_path / "sst2.jsonl"
    f.write_text(
        "".join(json.dumps({"sentence": s, "label": y}) + "\n" for s, y in [("a .", 1), ("b .", 1), ("c .", 0)])
    )
    with pytest.raises(ProbeError, match=r"task sst2 .*sst2.jsonl\): a label occurs once"):
        labelled(load_template_task("sst2", str(f)), folds=5)


def test_lineage_without_a_reachable_manifest(tmp_path):
    (tmp_path / "brd_lineage.json").write_text(json.dumps({"train_run_id": "t1", "mixture_dir": "/nowhere", "step": 2}))
    lin = Lineage.of(tmp_path)
    assert lin.train_run_id == "t1" and lin.train_passages is None and lin.step == 2 and lin.base_fingerprint is None
    assert Lineage.of(tmp_path / "missing") == Lineage()


def test_text_batches_respect_the_token_budget():
    from brd_train.eval.texts import padded_batches

    encoded = [[1] * n for n in (10, 3, 7, 7, 2, 9)]
    batches = list(padded_batches(encoded, batch_size=4, pad_id=0, max_tokens=20))
    assert [idx for idx, _, _ in batches] == [[0, 5], [2, 3], [1, 4]]  # longest first, rows x width <= 20
    for idx, ids, mask in batches:
        assert ids.shape[0] * ids.shape[1] <= 20
        assert mask.sum().item() == sum(len(encoded[i]) for i in idx)
    # a text longer than the budget still goes, alone
    assert [idx for idx, _, _ in padded_batches([[1] * 30, [1]], 4, 0, max_tokens=20)] == [[0], [1]]


def test_probe_folds_keep_examples_about_one_premise_together():
    import numpy as np

    from brd_train.eval.probe import probe_layers

    rng = np.random.default_rng(0)
    # 20 premises, each with one entailed and one contradicted hypothesis; the pooled vector is
    # mostly the premise's, so only a probe that splits pairs across folds could score it
    premise = np.repeat(rng.normal(size=(20, 8)), 2, axis=0)
    y = [0, 1] * 20
    groups = [f"premise {i // 2}" for i in range(40)]
    noise = 0.01 * rng.normal(size=(40, 8))
    signal = np.outer(np.asarray(y) * 6.0 - 3.0, np.eye(8)[0])
    (no_signal, _), (with_signal, _) = probe_layers(
        np.stack([premise + noise, premise + noise + signal]), y, groups, 5, 1.0, 0
    )
    assert no_signal == pytest.approx(0.5, abs=0.1)  # chance, not the anti-learning of split pairs
    assert with_signal > 0.9
    rte = labelled(load_template_task("rte", str(TASKS_DIR / "rte.jsonl")), folds=5)
    assert len(set(rte.groups)) == 15 and rte.folds == 5
