"""The Python API (`import brd_data as brd`) on a real store: read-only, results as polars, Arrow
and pandas, mixtures as `datasets.Dataset`, one-line errors, and a cheap import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, run_brd


@pytest.fixture(scope="module")
def store_with_mixture(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    store = root / "store"
    run_brd("ingest", "--store", store, "--limit-docs", "8")
    manifest = root / "ori.yaml"
    manifest.write_text("name: ori\nsources: [d_ori]\n", encoding="utf-8")
    run_brd("mix", "build", manifest, "--store", store, "--out", root / "mixtures" / "ori", "-q")
    return store, root / "mixtures" / "ori"


def test_import_is_cheap():
    heavy = "('duckdb', 'polars', 'datasets', 'torch')"
    code = f"import sys, brd_data as brd; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"


def test_sql_converts_to_polars_arrow_and_pandas(store_with_mixture):
    import polars as pl
    import pyarrow as pa

    import brd_data as brd

    path, _ = store_with_mixture
    store = brd.open(path)
    r = store.sql("select lang, count(*) as n from documents group by lang order by lang")
    assert isinstance(r.pl(), pl.DataFrame) and isinstance(r.arrow(), pa.Table)
    assert r.df()["n"].sum() == 8 == sum(n for _, n in r.rows()) and r.columns == ["lang", "n"] and len(r) >= 1
    # parameters, and nested columns stay nested
    p = store.sql("select sentence_ids from passages where n_sentences >= $k limit 1", k=2).pl()
    assert p.schema["sentence_ids"] == pl.List(pl.String) and len(p["sentence_ids"][0]) >= 2
    assert "sentences" in store.tables().pl()["name"].to_list()
    assert "Tables" in store.status()


def test_the_store_is_opened_read_only_and_errors_are_one_line(store_with_mixture, tmp_path):
    import brd_data as brd

    path, _ = store_with_mixture
    store = brd.open(path)
    with pytest.raises(brd.QueryError, match="read-only") as err:
        store.sql("delete from sentences")
    assert "\n" not in str(err.value)
    assert store.sql("select count(*) as n from sentences").rows()[0][0] > 0
    with pytest.raises(brd.QueryError, match="no_such_table"):
        store.sql("select * from no_such_table")
    from brd_data.contracts.errors import UserError

    with pytest.raises(UserError, match="no store at"):
        brd.open(tmp_path / "none")
    with pytest.raises(brd.QueryError, match="no mixture 'nope'.*built: ori"):
        store.mixture("nope")


def test_a_mixture_is_a_datasets_dataset(store_with_mixture, tmp_path):
    import datasets

    import brd_data as brd

    path, folder = store_with_mixture
    manifest = json.loads((folder / "manifest.json").read_text())
    ds = brd.open(path).mixture("ori")
    assert isinstance(ds, datasets.Dataset) and ds.num_rows == manifest["rows"]
    assert {"text", "passage_id", "component", "run_ids"} <= set(ds.column_names)
    same = brd.load_mixture(folder, columns=["text"])
    assert same.column_names == ["text"] and same["text"] == ds["text"]
    mapped = brd.load_mixture(folder, cache_dir=tmp_path / "hf")  # memory-mapped through datasets' cache
    assert mapped.num_rows == ds.num_rows and any((tmp_path / "hf").iterdir())
    with pytest.raises(Exception, match="not a built mixture folder"):
        brd.load_mixture(tmp_path)
