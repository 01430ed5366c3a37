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


def test_json_nests_json_and_list_columns_csv_writes_them_as_json(brd, sample_store):
    query = "select '{\"a\": [1, 2]}'::json as j, ['x', 'y,z'] as l, {'k': 1} as s, 3 as n from documents limit 1"
    (row,) = json.loads(brd("sql", "--store", sample_store, "-f", "json", query).stdout)
    assert row == {"j": {"a": [1, 2]}, "l": ["x", "y,z"], "s": {"k": 1}, "n": 3}
    import csv
    import io

    (rec,) = list(csv.DictReader(io.StringIO(brd("sql", "--store", sample_store, "-f", "csv", query).stdout)))
    assert json.loads(rec["j"]) == {"a": [1, 2]} and json.loads(rec["l"]) == ["x", "y,z"]
    assert json.loads(rec["s"]) == {"k": 1} and rec["n"] == "3"
    # a real list column of the store: passages.sentence_ids
    (p,) = json.loads(
        brd("sql", "--store", sample_store, "-f", "json", "select sentence_ids from passages limit 1").stdout
    )
    assert isinstance(p["sentence_ids"], list) and p["sentence_ids"]


def test_status_fits_80_columns_and_lists_the_views_with_their_grain(brd, sample_store):
    out = brd("status", "--store", sample_store, env={"COLUMNS": "80"}).stdout
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    assert "Views (sql/views)" in out
    from brd_data.explore import view_grains

    grains = view_grains()
    assert grains["d_train"].startswith("one row per (passage, component)")
    for view in ("d_ori", "d_train_no_sent", "passage_coverage"):
        assert any(line.split()[:1] == [view] for line in lines), view
    # a run id is never cut across lines
    run_id = json.loads(brd("status", "--store", sample_store, "--json").stdout)["Runs, newest first"][0]["run_id"]
    assert any(run_id in line for line in lines)
    views = json.loads(brd("status", "--store", sample_store, "--json").stdout)["Views (sql/views)"]
    assert {"view", "grain"} == set(views[0]) and all(v["grain"] for v in views)


def test_a_documented_view_answers_on_a_new_store(brd, tmp_path):
    """The sentiment terms d_train_no_sent needs are loaded by the first run, with its run id."""
    store = tmp_path / "s"
    brd("ingest", "--store", store, "--limit-docs", "3")
    (row,) = json.loads(brd("sql", "--store", store, "-f", "json", "select count(*) as n from d_train_no_sent").stdout)
    assert row["n"] > 0
    terms = json.loads(
        brd(
            "sql",
            "--store",
            store,
            "-f",
            "json",
            "select count(*) as n, any_value(t.run_id) as run_id, any_value(r.command) as command "
            "from mix_filter_terms t join runs r using (run_id)",
        ).stdout
    )
    assert terms[0]["n"] > 10 and terms[0]["command"] == "ingest"
    # without them (removed by hand), the view says what to do, in one line without a class name
    brd("sql", "--store", store, "--write", "delete from mix_filter_terms")
    out = brd("sql", "--store", store, "select count(*) from d_train_no_sent", check=False)
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1
    assert "brd migrate" in out.stderr and "Exception" not in out.stderr and "_duckdb" not in out.stderr
    brd("migrate", "--store", store)
    assert json.loads(brd("sql", "--store", store, "-f", "json", "select count(*) as n from d_train_no_sent").stdout)
