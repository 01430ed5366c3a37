"""An ingested input is its bytes plus the settings that shaped its rows: other settings are named
and refused, `--replace` replaces a source's rows in one transaction, a file that gives no
document fails without being sealed, and a folder ingest takes corpus files only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import run_brd

from .test_ingest import DOCS, q, write_cc100

RECORDS = [{"id": i, "body": f"Record {i} has a body. It says hello {i}.", "text": None} for i in range(4)]


def jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def keys_unique(store: Path) -> None:
    for table, key in (("documents", "doc_id"), ("sentences", "sentence_id"), ("passages", "passage_id")):
        assert q(store, f"select count(*) - count(distinct {key}) from {table}") == [(0,)], table


def test_a_wrong_text_field_fails_unsealed_and_the_right_one_then_works(store_dir, tmp_path):
    f = jsonl(tmp_path / "recs.jsonl", RECORDS)
    out = run_brd("ingest", f, "--store", store_dir, "--lang", "en", check=False)
    assert out.returncode == 1, out.stdout
    line = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(line) == 1 and f"{f}: no documents, 5 row(s) quarantined" in line[0]
    assert "field 'text' is null" in line[0] and "check --text-field" in line[0]
    assert q(store_dir, "select n_documents, complete from sources") == [(0, False)]
    # the file was not sealed: the right field reads it without --replace
    out = run_brd("ingest", f, "--store", store_dir, "--lang", "en", "--text-field", "body")
    assert "4 documents" in out.stdout
    assert q(store_dir, "select n_documents, complete from sources") == [(4, True)]
    keys_unique(store_dir)


def test_other_settings_are_named_and_replace_swaps_the_rows(store_dir, tmp_path):
    f = jsonl(tmp_path / "recs.jsonl", RECORDS)
    run_brd("ingest", f, "--store", store_dir, "--lang", "en", "--text-field", "body")
    first = q(store_dir, "select count(*), any_value(lang) from sentences")
    for extra, difference in (
        (["--lang", "de", "--text-field", "body"], "--lang en (now de)"),
        (["--lang", "en", "--text-field", "body,id"], "--text-field body (now body,id)"),
        (["--lang", "en", "--text-field", "body", "--passage-sentences", "1"], "--passage-sentences 3 (now 1)"),
        (["--lang", "en", "--text-field", "body", "--segmenter", "blingfire"], "--segmenter sentencex (now blingfire)"),
        (["--lang", "en", "--text-field", "body", "--max-sentence-chars", "20"], "--max-sentence-chars 1000 (now 20)"),
    ):
        out = run_brd("ingest", f, "--store", store_dir, *extra, check=False)
        assert out.returncode == 1 and "already ingested by run" in out.stderr and difference in out.stderr, (
            extra,
            out.stderr,
        )
        assert "pass --replace" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert q(store_dir, "select count(*), any_value(lang) from sentences") == first
    assert q(store_dir, "select count(*) from runs") == [(1,)]
    # the same settings: nothing to do, as before
    same = run_brd("ingest", f, "--store", store_dir, "--lang", "en", "--text-field", "body")
    assert "already ingested" in same.stdout
    out = run_brd("ingest", f, "--store", store_dir, "--lang", "de", "--text-field", "body", "--replace")
    assert f"replaced the earlier rows of {f}" in out.stdout
    assert q(store_dir, "select distinct lang from sentences") == [("de",)]
    assert q(store_dir, "select count(*) from sentences")[0][0] == first[0][0]
    assert q(store_dir, "select count(*), any_value(settings->>'lang') from sources") == [(1, "de")]
    keys_unique(store_dir)


def test_a_store_from_before_060_keeps_its_sources(store_dir, tmp_path):
    f = write_cc100(tmp_path / "en.txt", DOCS)
    run_brd("ingest", f, "--store", store_dir)
    # a source ingested before its settings were recorded
    run_brd("sql", "--store", store_dir, "--write", "update sources set settings = null")
    out = run_brd("ingest", f, "--store", store_dir)
    assert "already ingested" in out.stdout
    out = run_brd("ingest", f, "--store", store_dir, "--lang", "fr", check=False)
    assert out.returncode == 1 and "--lang en (now fr)" in out.stderr


def test_a_folder_ingest_takes_corpus_files_only(store_dir, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_cc100(corpus / "en.txt", DOCS)
    # what a working folder also holds: a store, a mixture, reports, datatrove logs, notes, a repo
    other = tmp_path / "other-store"
    run_brd("ingest", write_cc100(tmp_path / "de.txt", [["Ein Satz. Noch einer."]]), "--store", other)
    shutil.copytree(other, corpus / "old-store")
    (corpus / "mixture" / "data").mkdir(parents=True)
    (corpus / "mixture" / "manifest.json").write_text(json.dumps({"build_run_id": "x", "shards": []}))
    write_cc100(corpus / "mixture" / "data" / "train.txt", DOCS)
    (corpus / "reports").mkdir()
    (corpus / "reports" / ".brd-output.json").write_text(json.dumps({"brd_output": "reports", "format_version": 1}))
    write_cc100(corpus / "reports" / "en.txt", DOCS)
    (corpus / "logs" / "stats").mkdir(parents=True)
    (corpus / "logs" / "executor.json").write_text("{}")
    (corpus / "logs" / "stats" / "00000.json").write_text("{}")
    write_cc100(corpus / "logs" / "en.txt", DOCS)
    (corpus / ".git").mkdir()
    write_cc100(corpus / ".git" / "en.txt", DOCS)
    (corpus / "stats.json").write_text("{}")
    (corpus / "backup.tar.gz").write_bytes(b"\x1f\x8b not really")
    (corpus / "notes.md").write_text("notes")
    out = run_brd("ingest", corpus, "--store", store_dir)
    assert "1 file(s) ingested" in out.stdout, out.stdout + out.stderr
    assert q(store_dir, "select path from sources") == [(str(corpus / "en.txt"),)]
    # named on its own, a store or a mixture folder is refused with one line
    for folder, what in ((corpus / "old-store", "a brd store"), (corpus / "mixture", "a brd mixture folder")):
        out = run_brd("ingest", folder, "--store", store_dir, check=False)
        assert out.returncode == 1 and out.stderr.strip() == f"error: {folder}: {what}, not a corpus folder"
