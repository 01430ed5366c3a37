"""BRD²: task inputs ingested as a corpus, annotated (ner, qra), mixed with `corpus:` restricted to
them (manifests/mixtures/brd2.yaml), and trained starting from a BRD checkpoint."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tests.train.helpers import sample_paragraphs

from .conftest import annotate_args, rows, sample_records, train, write_jsonl

pytestmark = pytest.mark.slow


def test_brd2_continues_a_brd_checkpoint_on_the_task_inputs(brd, tmp_path, fake_teacher, tiny_student):
    store = tmp_path / "store"
    web = write_jsonl(tmp_path / "web" / "general.jsonl", [{"text": p} for p in sample_paragraphs()[:4]])
    rte = write_jsonl(tmp_path / "tasks" / "rte.jsonl", sample_records("rte", 6))
    brd("ingest", web, "--lang", "en", "--store", store)
    # premise and hypothesis: each field a paragraph of one document
    brd("ingest", rte, "--text-field", "premise,hypothesis", "--lang", "en", "--store", store)
    brd(*annotate_args(store, fake_teacher.url, "--behaviours", "ner,qra"))
    (rte_source,) = rows(store, "select source_id from sources where path = ?", [str(rte)])[0]

    brd_mix, brd2_mix = tmp_path / "mix-brd", tmp_path / "mix-brd2"
    brd("mix", "build", "brd", "--store", store, "--out", brd_mix, "--quiet")
    brd("mix", "build", "brd2", "--store", store, "--out", brd2_mix, "--quiet")
    everything = pq.read_table(sorted((brd_mix / "data").glob("*.parquet"))).to_pylist()
    task_only = pq.read_table(sorted((brd2_mix / "data").glob("*.parquet"))).to_pylist()
    on_task = [r for r in everything if r["passage_id"].startswith(rte_source[:16] + "/")]
    assert 0 < len(on_task) < len(everything)
    # brd2 holds exactly the task inputs' passages, in all three forms (d_ori, d_ner, d_qra)
    assert sorted((r["passage_id"], r["component"], r["text"]) for r in task_only) == sorted(
        (r["passage_id"], r["component"], r["text"]) for r in on_task
    )
    assert {r["component"] for r in task_only} == {"d_ori", "d_ner", "d_qra"}
    record = sample_records("rte", 1)[0]
    assert any(record["premise"] in r["text"] and record["hypothesis"] in r["text"] for r in task_only)
    m2 = json.loads((brd2_mix / "manifest.json").read_text())
    assert m2["corpus"]["paths"] == ["*tasks/*"]
    assert [s["source_id"] for s in m2["corpus"]["sources"]] == [rte_source]

    # a corpus that matches nothing is refused in one line
    nothing = tmp_path / "nothing.yaml"
    nothing.write_text("name: nothing\nsources: [d_train]\ncorpus: {paths: ['*/elsewhere/*']}\n")
    proc = brd("mix", "build", nothing, "--store", store, "--out", tmp_path / "mix-nothing", "--quiet", check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "matches no ingested source" in proc.stderr

    # BRD on everything, then BRD² from its checkpoint
    out_brd, out_brd2 = tmp_path / "out-brd", tmp_path / "out-brd2"
    train(
        "--mix",
        brd_mix,
        "--student",
        tiny_student,
        "--out",
        out_brd,
        "--store",
        store,
        "--max-steps",
        "2",
        "--save-steps",
        "2",
    )
    parent = json.loads((out_brd / "checkpoint-2" / "brd_lineage.json").read_text())
    train(
        "--mix",
        brd2_mix,
        "--student",
        out_brd / "checkpoint-2",
        "--out",
        out_brd2,
        "--store",
        store,
        "--max-steps",
        "2",
        "--save-steps",
        "2",
    )
    lin = json.loads((out_brd2 / "checkpoint-2" / "brd_lineage.json").read_text())
    assert lin["mixture_hash"] == m2["mixture_hash"]
    origin = lin["student_origin"]
    assert origin["model"] == str((out_brd / "checkpoint-2").resolve())
    assert origin["lineage"]["train_run_id"] == parent["train_run_id"] and origin["lineage"]["step"] == 2
    assert rows(
        store, "select mixture_name, parent_train_run_id, parent_step, status from train_runs order by started_at"
    ) == [("brd", None, None, "succeeded"), ("brd2", parent["train_run_id"], 2, "succeeded")]
