"""`brd sql` and `brd status` against a real store."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory):
    from tests.conftest import run_brd

    store = tmp_path_factory.mktemp("sample") / "store"
    run_brd("ingest", "--store", store)
    return store


def test_json_is_an_array_of_row_objects(brd, sample_store):
    out = brd(
        "sql",
        "--store",
        sample_store,
        "--format",
        "json",
        "select lang, count(*) as n from documents group by lang order by lang",
    )
    rows = json.loads(out.stdout)
    assert isinstance(rows, list) and all(set(r) == {"lang", "n"} for r in rows)
    assert sum(r["n"] for r in rows) == 100


def test_csv_and_parquet_outputs(brd, sample_store, tmp_path):
    out = brd(
        "sql", "--store", sample_store, "-f", "csv", "select doc_id, n_sentences from documents order by doc_id limit 3"
    )
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "doc_id,n_sentences" and len(lines) == 4
    target = tmp_path / "s.parquet"
    brd("sql", "--store", sample_store, "-f", "parquet", "--out", target, "select * from sentences")
    assert pq.read_table(target).num_rows > 300


def test_store_is_read_only_unless_asked(brd, sample_store):
    out = brd("sql", "--store", sample_store, "delete from sentences", check=False)
    assert out.returncode == 1
    assert "read-only" in out.stderr and "--write" in out.stderr and "Traceback" not in out.stderr
    n = json.loads(brd("sql", "--store", sample_store, "-f", "json", "select count(*) as n from sentences").stdout)[0][
        "n"
    ]
    assert n > 300


def test_write_flag_is_recorded_as_a_run(brd, tmp_path):
    store = tmp_path / "w"
    brd("ingest", "--store", store, "--limit-docs", "2")
    brd("sql", "--store", store, "--write", "create table notes as select 1 as x")
    runs = json.loads(
        brd(
            "sql",
            "--store",
            store,
            "-f",
            "json",
            "select command, config->>'query' as q from runs where command = 'sql'",
        ).stdout
    )
    assert runs == [{"command": "sql", "q": "create table notes as select 1 as x"}]


def test_bad_query_and_missing_store_are_one_line(brd, sample_store, tmp_path):
    out = brd("sql", "--store", sample_store, "select * from no_such_table", check=False)
    assert (
        out.returncode == 1
        and out.stderr.startswith("error: query failed")
        and len(out.stderr.strip().splitlines()) == 1
    )
    out = brd("sql", "--store", tmp_path / "none", "select 1", check=False)
    assert out.returncode == 1 and "no store at" in out.stderr


def test_status_counts_tables_and_runs(brd, sample_store):
    out = brd("status", "--store", sample_store, "--json")
    data = json.loads(out.stdout)
    tables = {r["table"]: r["rows"] for r in data["Tables"]}
    assert tables["documents"] == 100 and tables["sentences"] > 300
    assert data["Runs, newest first"][0]["status"] == "succeeded"
    assert {r["lang"] for r in data["Corpus by language"]} >= {"en", "zh"}
    human = brd("status", "--store", sample_store)
    assert "sentences" in human.stdout


def test_store_env_var_is_the_default(brd, sample_store):
    out = brd("sql", "-f", "json", "select count(*) as n from documents", env={"BRD_STORE": str(sample_store)})
    assert json.loads(out.stdout) == [{"n": 100}]


def test_help_explains_options(brd):
    out = brd("ingest", "--help")
    for opt in ("--store", "--lang", "--passage-sentences", "--limit-docs", "--executor", "--tasks", "--text-field"):
        assert opt in out.stdout


def test_a_usage_mistake_is_a_usage_error_not_a_traceback(brd):
    out = brd("ingest", "corpus.txt", "--no-such-option", check=False)
    assert out.returncode == 2
    assert "No such option: --no-such-option" in out.stderr and "Traceback" not in out.stderr
