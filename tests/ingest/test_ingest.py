"""`brd ingest` end to end on real files and a real store, bad input included."""

from __future__ import annotations

import importlib.util
import json
import lzma
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from brd_data.ingest import sample_corpus


def q(store: Path, sql: str, params=None):
    con = duckdb.connect(str(store / "brd.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def write_cc100(path: Path, docs: list[list[str]]) -> Path:
    text = "\n\n".join("\n".join(paragraphs) for paragraphs in docs) + "\n"
    path.write_bytes(lzma.compress(text.encode()) if path.suffix == ".xz" else text.encode())
    return path


DOCS = [
    ["Dr. Smith flew to Paris on Monday. He met the mayor there.", "The visit lasted two days."],
    ["Apple released a new phone in 2023. It costs $999. Reviews were mixed!"],
    ["Short one."],
]


def test_sample_corpus_fills_every_table(brd, store_dir):
    out = brd("ingest", "--store", store_dir)
    assert "100 documents" in out.stdout
    counts = dict(
        q(
            store_dir,
            """
        select 'documents', count(*) from documents union all select 'sentences', count(*) from sentences
        union all select 'passages', count(*) from passages union all select 'sources', count(*) from sources
        union all select 'runs', count(*) from runs""",
        )
    )
    assert counts["documents"] == 100
    assert counts["sources"] == len(sample_corpus()) >= 3
    assert counts["sentences"] > 300 and counts["passages"] > 100
    assert q(store_dir, "select status, row_counts->>'sentences_added' from runs") == [
        ("succeeded", str(counts["sentences"]))
    ]
    langs = {r[0] for r in q(store_dir, "select distinct lang from documents")}
    assert {"en", "zh"} <= langs and len(langs) >= 3
    # every row carries the run that made it
    assert q(store_dir, "select count(*) from sentences where run_id not in (select run_id from runs)") == [(0,)]


def test_reingest_adds_nothing_and_says_so(brd, store_dir, tmp_path):
    f = write_cc100(tmp_path / "en.txt", DOCS)
    brd("ingest", f, "--store", store_dir)
    before = q(store_dir, "select count(*) from sentences")
    out = brd("ingest", f, "--store", store_dir)
    assert "already ingested" in out.stdout and "nothing to do" in out.stdout
    assert q(store_dir, "select count(*) from sentences") == before
    assert q(store_dir, "select count(*) from runs") == [(1,)]


def test_changed_file_is_a_new_input(brd, store_dir, tmp_path):
    f = write_cc100(tmp_path / "en.txt", DOCS)
    brd("ingest", f, "--store", store_dir)
    write_cc100(f, DOCS + [["A brand new document appears here."]])
    brd("ingest", f, "--store", store_dir)
    assert q(store_dir, "select count(*) from sources") == [(2,)]
    assert q(store_dir, "select count(*) from runs where status = 'succeeded'") == [(2,)]


def test_passages_keep_order_and_never_cross_documents(brd, store_dir, tmp_path):
    f = write_cc100(tmp_path / "en.txt.xz", DOCS)
    brd("ingest", f, "--store", store_dir, "--passage-sentences", "2")
    rows = q(
        store_dir,
        """
        select p.passage_id, p.doc_id, p.sentence_ids,
               list(s.doc_id order by s.position), list(s.position order by s.position)
        from passages p, unnest(p.sentence_ids) as u(sid) join sentences s on s.sentence_id = u.sid
        group by p.passage_id, p.doc_id, p.sentence_ids, p.position order by p.doc_id, p.position""",
    )
    assert rows
    for _passage_id, doc_id, ids, sent_docs, positions in rows:
        assert set(sent_docs) == {doc_id}
        assert positions == sorted(positions) and positions == list(range(positions[0], positions[0] + len(positions)))
        assert 1 <= len(ids) <= 2
    texts = [r[0] for r in q(store_dir, "select text from sentences where doc_id like '%/0' order by position")]
    assert texts == ["Dr. Smith flew to Paris on Monday.", "He met the mayor there.", "The visit lasted two days."]


def test_truncated_xz_is_rolled_back_and_named(brd, store_dir, tmp_path):
    good = write_cc100(tmp_path / "en.txt", DOCS)
    big = "\n\n".join(f"Document number {i} talks about Berlin. It has two sentences." for i in range(3000))
    data = lzma.compress(big.encode())
    bad = tmp_path / "de.txt.xz"
    bad.write_bytes(data[: len(data) // 2])
    out = brd("ingest", good, bad, "--store", store_dir, check=False)
    assert out.returncode == 1
    err = [line for line in out.stderr.splitlines() if "de.txt.xz" in line]
    assert err and "truncated" in err[0] and "at byte" in err[0] and "rolled back" in err[0]
    assert "Traceback" not in out.stderr
    # the good file landed whole; nothing of the bad one did
    assert q(store_dir, "select count(*) from documents where lang = 'de'") == [(0,)]
    assert q(store_dir, "select count(*) from documents where lang = 'en'") == [(3,)]
    assert q(store_dir, "select count(*) from sources") == [(1,)]
    ((loc, reason),) = q(store_dir, "select location, reason from quarantine where stage = 'read'")
    assert loc.startswith("byte ") and "truncated" in reason
    # fixing the file and re-running ingests it
    bad.write_bytes(data)
    brd("ingest", good, bad, "--store", store_dir)
    assert q(store_dir, "select count(*) from documents where lang = 'de'") == [(3000,)]


def test_invalid_utf8_and_nul_lines_are_quarantined_with_their_bytes(brd, store_dir, tmp_path):
    f = tmp_path / "en.txt"
    f.write_bytes(b"Good line one. Good line two.\nBad \xff\xfe bytes here.\nNUL \x00 inside.\n\nSecond doc is fine.\n")
    out = brd("ingest", f, "--store", store_dir)
    assert "2 quarantined" in out.stdout
    rows = q(store_dir, "select stage, location, reason, raw from quarantine order by location")
    assert [(r[0], r[1]) for r in rows] == [("decode", "line 2"), ("decode", "line 3")]
    assert "invalid UTF-8" in rows[0][2] and rows[0][3] == b"Bad \xff\xfe bytes here.\n"
    assert "NUL" in rows[1][2] and b"\x00" in rows[1][3]
    assert q(store_dir, "select count(*) from documents") == [(2,)]
    assert q(store_dir, "select count(*) from sentences where text like '%NUL%' or text like '%Bad%'") == [(0,)]


@pytest.mark.parametrize("content,reason", [(b"", "empty file"), (b"\n\n   \n\n", "no documents")])
def test_empty_and_blank_files_are_counted(brd, store_dir, tmp_path, content, reason):
    f = tmp_path / "en.txt"
    f.write_bytes(content)
    out = brd("ingest", f, "--store", store_dir)
    assert "1 quarantined" in out.stdout
    assert reason in q(store_dir, "select reason from quarantine")[0][0]
    assert q(store_dir, "select n_documents from sources") == [(0,)]


def test_megabyte_line_without_punctuation_is_cut_with_a_reason(brd, store_dir, tmp_path):
    f = tmp_path / "en.txt"
    f.write_text(" ".join(["word"] * 200_000) + "\n", encoding="utf-8")  # 1 MB, no full stop
    brd("ingest", f, "--store", store_dir, "--max-sentence-chars", "1000")
    ((n, longest, flagged),) = q(store_dir, "select count(*), max(n_chars), count(split_reason) from sentences")
    assert n >= 1000 and longest <= 1000 and flagged == n
    assert "cut at the 1000-char bound" in q(store_dir, "select any_value(split_reason) from sentences")[0][0]
    assert q(store_dir, "select sum(n_chars) + count(*) - 1 from sentences") == [(len(" ".join(["word"] * 200_000)),)]


def test_folder_and_glob_with_good_and_bad_files(brd, store_dir, tmp_path):
    d = tmp_path / "corpus"
    d.mkdir()
    write_cc100(d / "en.txt", DOCS)
    write_cc100(d / "fr.txt", [["Le chat dort sur le canapé. Il fait beau aujourd'hui."]])
    (d / "ru.txt.xz").write_bytes(b"this is not xz data at all")
    (d / "notes.md").write_text("ignored: not a corpus file")
    out = brd("ingest", d, "--store", store_dir, check=False)
    assert out.returncode == 1 and "ru.txt.xz" in out.stderr
    assert sorted(r[0] for r in q(store_dir, "select lang from sources")) == ["en", "fr"]
    store2 = tmp_path / "store2"
    out = brd("ingest", str(d / "*.txt"), "--store", store2)
    assert sorted(r[0] for r in q(store2, "select lang from sources")) == ["en", "fr"]


def test_missing_path_is_one_line_error(brd, store_dir, tmp_path):
    out = brd("ingest", tmp_path / "nope.txt.xz", "--store", store_dir, check=False)
    assert out.returncode != 0
    assert out.stderr.strip() == f"error: {tmp_path / 'nope.txt.xz'}: no such file or folder"
    assert not (store_dir / "brd.duckdb").exists()


def test_unknown_language_needs_lang(brd, store_dir, tmp_path):
    f = write_cc100(tmp_path / "corpus_dump.txt", DOCS)
    out = brd("ingest", f, "--store", store_dir, check=False)
    assert out.returncode == 1 and "pass --lang" in out.stderr
    brd("ingest", f, "--store", store_dir, "--lang", "en")


def test_jsonl_and_parquet_with_text_fields(brd, store_dir, tmp_path):
    j = tmp_path / "rte.jsonl"
    j.write_text(
        "\n".join(
            [
                json.dumps({"premise": "The cat sat on the mat. It was warm.", "hypothesis": "A cat is sitting."}),
                json.dumps({"premise": "No hypothesis here."}),
                "{not json",
                json.dumps({"premise": 5, "hypothesis": "x"}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    p = tmp_path / "boolq.parquet"
    pq.write_table(
        pa.table(
            {
                "passage": ["Water boils at 100 degrees. That is at sea level.", None],
                "question": ["does water boil at 100 degrees", "q"],
            }
        ),
        p,
    )
    brd("ingest", j, "--store", store_dir, "--lang", "en", "--text-field", "premise,hypothesis")
    brd("ingest", p, "--store", store_dir, "--lang", "en", "--text-field", "passage,question")
    sents = [r[0] for r in q(store_dir, "select text from sentences order by sentence_id")]
    assert "A cat is sitting." in sents and "does water boil at 100 degrees" in sents
    reasons = sorted(r[0] for r in q(store_dir, "select reason from quarantine"))
    assert any("missing field 'hypothesis'" in r for r in reasons)
    assert any("invalid JSON" in r for r in reasons)
    assert any("is int" in r for r in reasons)
    assert any("field 'passage' is null" in r for r in reasons)


def test_parquet_without_the_text_column_fails_clearly(brd, store_dir, tmp_path):
    p = tmp_path / "x.parquet"
    pq.write_table(pa.table({"body": ["Hello there."]}), p)
    out = brd("ingest", p, "--store", store_dir, "--lang", "en", check=False)
    assert out.returncode == 1
    assert "no column 'text' (columns: body)" in out.stderr


def test_limit_docs_then_full_run_completes_the_file(brd, store_dir, tmp_path):
    f = write_cc100(tmp_path / "en.txt", DOCS)
    brd("ingest", f, "--store", store_dir, "--limit-docs", "1")
    assert q(store_dir, "select count(*) from documents") == [(1,)]
    assert q(store_dir, "select complete from sources") == [(False,)]
    brd("ingest", f, "--store", store_dir)
    assert q(store_dir, "select count(*) from documents") == [(3,)]
    assert q(store_dir, "select complete from sources") == [(True,)]


def test_two_local_tasks_give_the_same_rows(brd, store_dir, tmp_path):
    d = tmp_path / "c"
    d.mkdir()
    write_cc100(d / "en.txt", DOCS)
    write_cc100(d / "de.txt", [["Das ist ein Satz. Noch einer."], ["Zweites Dokument."]])
    brd("ingest", d, "--store", store_dir, "--tasks", "2", "--workers", "2")
    one = tmp_path / "one"
    brd("ingest", d, "--store", one)
    assert q(store_dir, "select sentence_id, text from sentences order by 1") == q(
        one, "select sentence_id, text from sentences order by 1"
    )


def test_scale_out_executors_fail_clearly_when_their_engine_is_missing(brd, store_dir, tmp_path):
    f = write_cc100(tmp_path / "en.txt", DOCS)
    out = brd("ingest", f, "--store", store_dir, "--executor", "slurm", check=False)
    assert out.returncode == 1 and "needs --partition" in out.stderr
    bare = tmp_path / "bin"  # a PATH without Slurm's commands
    bare.mkdir()
    out = brd(
        "ingest",
        f,
        "--store",
        store_dir,
        "--executor",
        "slurm",
        "--partition",
        "cpu",
        check=False,
        env={"PATH": str(bare)},
    )
    assert out.returncode == 1 and "`sbatch` is not on PATH" in out.stderr and "Traceback" not in out.stderr
    if importlib.util.find_spec("ray") is None:  # CI installs brd[ray]; tests/scaleout runs it
        out = brd("ingest", f, "--store", store_dir, "--executor", "ray", check=False)
        assert out.returncode == 1 and "ray" in out.stderr and "Traceback" not in out.stderr
    # refused before any run started
    assert q(store_dir, "select count(*) from runs") == [(0,)]
