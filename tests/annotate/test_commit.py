"""Committing annotation parts on real DuckDB: one row per key, answers never overwritten."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.data import Document

from brd_data.annotate.commit import CommitCounts, closed_parts, commit_parts
from brd_data.annotate.writer import SCHEMA, annotation_row
from brd_data.store import Store

from .conftest import make_store, rows

T0 = datetime(2026, 1, 1)


def part(path, run_id, items, minutes=0):
    """A closed part holding `items` = [(text_hash, behaviour, status, raw_text)]."""
    recs = []
    for h, behaviour, status, raw in items:
        doc = Document(
            text="x",
            id=f"p/{h}",
            metadata={
                "unit_id": h,
                "behaviour": behaviour,
                "prompt_hash": "p" * 16,
                "rollout_results": [
                    {
                        "raw_text": raw,
                        "parsed": [] if status == "ok" else None,
                        "finish_reason": "stop",
                        "prompt_tokens": 3,
                        "completion_tokens": 2,
                        "status": status,
                        "reason": None if status == "ok" else "why",
                        "attempts": 1,
                        "sampling": {"temperature": 0},
                    }
                ],
            },
        )
        row = annotation_row(doc, "teacher", "fp", run_id, {"p" * 16: "ner"})
        row["created_at"] = T0 + timedelta(minutes=minutes)
        recs.append(row)
    pq.write_table(pa.Table.from_pylist(recs, schema=SCHEMA), path)
    return path


def test_commit_keeps_one_row_per_key_and_replaces_only_failed(tmp_path):
    store = make_store(tmp_path / "s", ["Ada wrote code."])
    st = Store(store)
    folder = tmp_path / "parts"
    folder.mkdir()
    with st.writer("annotate"):
        run = st.begin_run("annotate", {}, [], code_version="test")
        total = CommitCounts()
        first = [("h1", "ner", "ok", "first"), ("h2", "ner", "failed", None), ("h3", "qra", "unparsed", "blah")]
        got = commit_parts(st, run.run_id, [part(folder / "a.parquet", run.run_id, first)], total)
        assert (got.added, got.by_status) == (3, {"ok": 1, "failed": 1, "unparsed": 1})
        assert not closed_parts(folder)  # committed parts are removed
        # the same part again (a crash between commit and delete): nothing changes
        again = commit_parts(st, run.run_id, [part(folder / "a.parquet", run.run_id, first)], total)
        assert again.added == 0
        # a later answer: h1 keeps its first answer, failed h2 takes the new one, h4 is new
        later = [("h1", "ner", "ok", "second"), ("h2", "ner", "ok", "answered"), ("h4", "ner", "truncated", "cut")]
        commit_parts(st, run.run_id, [part(folder / "b.parquet", run.run_id, later, minutes=5)], total)
    got = dict(
        rows(store, "select text_hash || '/' || behaviour, status || ':' || coalesce(raw_text, '') from annotations")
    )
    assert got == {"h1/ner": "ok:first", "h2/ner": "ok:answered", "h3/qra": "unparsed:blah", "h4/ner": "truncated:cut"}
    assert rows(
        store,
        "select count(*) from (select text_hash, behaviour, teacher_fingerprint, prompt_hash "
        "from annotations group by all having count(*) > 1)",
    ) == [(0,)]
    q = rows(store, "select reason, decode(raw), source_file from quarantine where stage = 'annotate' order by 1")
    assert q == [("failed: why", None, "ner"), ("truncated: why", "cut", "ner"), ("unparsed: why", "blah", "ner")]
    counts = rows(store, "select row_counts from runs where command = 'annotate'")[0][0]
    # net new keys (h2 was replaced, not added) and every staged row by status
    assert '"annotations_added": 4' in counts and '"ok": 4' in counts and '"failed": 2' in counts
