"""Task distillation end to end: task examples -> `brd annotate --behaviours task` (a scripted
OpenAI server as the teacher) -> d_task_distill -> `brd mix build task-distill` (prompt/completion)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from brd_data.tasks import load_task_spec

from .conftest import TASKS, annotate_args, rows, sample_records, write_jsonl


def test_teacher_answers_become_an_sft_mixture(brd, tmp_path, fake_teacher):
    store = tmp_path / "store"
    rte = sample_records("rte", 6)
    rte[1]["hypothesis"] += " [answer:No]"  # the teacher disagrees with nothing in particular
    rte[2]["hypothesis"] += " [answer:Perhaps]"  # not a candidate: unparsed, left out
    rte[3]["hypothesis"] += " [malformed]"  # prose: unparsed, retried with sampling, still bad
    rte.append({**rte[0], "idx": 99})  # the same prompt as example 0: asked once
    rte_file = write_jsonl(tmp_path / "rte.jsonl", rte)
    brd("tasks", "load", f"rte={rte_file}", f"sst2={TASKS / 'sst2.jsonl'}", "--limit", "8", "--store", store)

    proc = brd(*annotate_args(store, fake_teacher.url, "--behaviours", "task"))
    assert "14 considered, 0 already answered, 14 to annotate" in proc.stdout  # 7 + 8 examples, 14 prompts
    assert "corpus:" not in proc.stdout  # the sentence-dedup line is about sentences only

    task_requests = [r for r in fake_teacher.requests if float(r.get("temperature") or 0) == 0]
    assert len(task_requests) == 14
    prompts = {p for (p,) in rows(store, "select prompt from task_examples")}
    assert {r["prompt"] for r in task_requests} == prompts  # the rendered Table 8 prompt, as is
    assert all(r["max_tokens"] == 8 and r["stop"] == ["\n"] for r in task_requests)

    got = dict(
        rows(
            store,
            "select e.example_id, a.status from task_examples e join annotations a using (text_hash) "
            "where e.task = 'rte'",
        )
    )
    ids = [str(r["idx"]) for r in rte]
    assert got == {
        ids[0]: "ok",
        ids[1]: "ok",
        ids[2]: "unparsed",
        ids[3]: "unparsed",
        ids[4]: "ok",
        ids[5]: "ok",
        "99": "ok",
    }
    (reason,) = rows(
        store,
        "select reason from annotations a join task_examples e using (text_hash) where e.example_id = ?",
        [ids[2]],
    )[0]
    assert "'Perhaps' is none of Yes, No, Maybe" in reason
    assert rows(store, "select count(*) from quarantine where stage = 'annotate'") == [(2,)]
    # answered prompts are not asked again
    again = brd(*annotate_args(store, fake_teacher.url, "--behaviours", "task"))
    assert "nothing to do" in again.stdout

    out = tmp_path / "mix"
    built = brd("mix", "build", "task-distill", "--store", store, "--out", out, "--quiet")
    assert "mixture task-distill" in built.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "sft" and manifest["rows"] == 13  # 15 examples less the 2 unparsed
    assert set(manifest["components"][0]["by_component"]) == {"d_task_distill/rte", "d_task_distill/sst2"}
    (fp,) = manifest["teacher_fingerprints"]
    (prompt_hash,) = manifest["prompt_hashes"]
    assert rows(store, "select behaviour, name from prompts where prompt_hash = ?", [prompt_hash]) == [("task", "task")]
    table = pq.read_table(sorted((out / "data").glob("train-*.parquet")))
    assert table.column_names[:2] == ["prompt", "completion"] and "text" not in table.column_names
    by_id = {r["passage_id"]: r for r in table.to_pylist()}
    assert len(by_id) == 13
    spec = load_task_spec("rte")
    first = by_id[f"rte/{ids[0]}"]
    assert first["prompt"] == spec.render(rte[0]) and first["completion"] == " Yes"
    assert by_id[f"rte/{ids[1]}"]["completion"] == " No"  # the teacher's answer, not the gold one
    assert by_id["rte/99"]["prompt"] == first["prompt"]  # one answer serves both examples
    assert f"rte/{ids[2]}" not in by_id and f"rte/{ids[3]}" not in by_id
    assert {r["completion"] for k, r in by_id.items() if k.startswith("sst2/")} == {" positive"}
    # lineage: the task load run and the annotate run, the prompt, the teacher
    (task_run,) = rows(store, "select distinct run_id from task_examples")[0]
    (annotate_run,) = rows(store, "select distinct run_id from annotations")[0]
    assert sorted(first["run_ids"]) == sorted([task_run, annotate_run])
    assert first["prompt_hashes"] == [prompt_hash]
    assert rows(store, "select count(*) from d_task_distill where teacher_fingerprints = [?]", [fp]) == [(13,)]


def test_task_views_grain(brd, tmp_path, fake_teacher):
    """d_sft and d_task_distill: one row per (task, example_id), as their headers state, with the
    columns a kind sft source needs; unlabelled and other-split examples stay out of d_sft."""
    store = tmp_path / "store"
    records = sample_records("cb", 5)
    records[4]["label"] = -1
    brd(
        "tasks",
        "load",
        f"cb={write_jsonl(tmp_path / 'cb.jsonl', records)}",
        f"rte={TASKS / 'rte.jsonl'}",
        "--limit",
        "5",
        "--store",
        store,
    )
    brd("tasks", "load", f"rte={TASKS / 'rte.jsonl'}", "--split", "validation", "--store", store)
    brd(*annotate_args(store, fake_teacher.url, "--behaviours", "task"))
    for view, n in (("d_sft", 9), ("d_task_distill", 10)):
        total, keys, nulls = rows(
            store,
            f"select count(*), count(distinct (task, example_id)), count(*) filter "
            f"(where task is null or example_id is null) from {view}",
        )[0]
        assert (total, keys, nulls) == (n, n, 0), view
        cols = {c for (c,) in rows(store, "select column_name from duckdb_columns() where table_name = ?", [view])}
        assert {
            "prompt",
            "completion",
            "text",
            "passage_id",
            "unit_id",
            "component",
            "run_ids",
            "prompt_hashes",
            "teacher_fingerprints",
        } <= cols
        assert rows(store, f"select count(*) from {view} where text <> prompt || completion") == [(0,)]
