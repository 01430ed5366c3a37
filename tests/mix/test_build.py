"""`brd mix build` end to end on the annotated sample store: the mixture-folder contract, byte-identical
rebuilds, the selection rules, and every bad input as one line."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
from tokenizers import Tokenizer

from brd_data.contracts.models import default_teacher_dir
from brd_data.mix.shards import LM_SCHEMA
from tests.conftest import run_brd

from .annotated import TEACHER_A, TEACHER_B

MANIFEST_KEYS = {
    "format_version",
    "name",
    "kind",
    "mixture_hash",
    "tokenizer",
    "delimiter",
    "seed",
    "components",
    "rows",
    "tokens",
    "source_run_ids",
    "prompt_hashes",
    "teacher_fingerprints",
    "code_version",
    "store",
}


def build(store: Path, name: str, out: Path, *extra: str, check: bool = True):
    return run_brd("mix", "build", name, "--store", store, "--out", out, "-q", *extra, check=check)


def manifest(path: Path, name: str, body: str) -> Path:
    p = path / f"{name}.yaml"
    p.write_text(f"name: {name}\n{body}", encoding="utf-8")
    return p


def read_rows(out: Path) -> list[dict]:
    m = json.loads((out / "manifest.json").read_text())
    return [r for s in m["shards"] for r in pq.read_table(out / s["file"]).to_pylist()]


def query(store: Path, sql: str, params=None, variables: dict | None = None):
    con = duckdb.connect(str(store / "brd.duckdb"), read_only=True)
    try:
        for k, v in (variables or {}).items():
            con.execute(f"set variable {k} = $v", {"v": v})
        return con.execute(sql, params or {}).fetchall()
    finally:
        con.close()


def one_line_error(proc) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


# -- bad input first -------------------------------------------------------------------------------


def test_unknown_mixture_name_lists_valid_ones(annotated, tmp_path):
    err = one_line_error(build(annotated.root, "brd-typo", tmp_path / "o", check=False))
    assert "unknown mixture 'brd-typo'; valid: brd, brd-0.25m" in err and "sentence-level" in err


def test_unknown_view_lists_valid_views(annotated, tmp_path):
    m = manifest(tmp_path, "bad", "sources: [d_nope]\n")
    err = one_line_error(build(annotated.root, m, tmp_path / "o", check=False))
    assert "unknown view 'd_nope'; valid: d_further, d_ner, d_ori" in err
    assert not (tmp_path / "o").exists()


def test_a_view_name_that_injects_sql_never_reaches_duckdb(annotated, tmp_path):
    m = manifest(tmp_path, "bad", 'sources: ["d_ori; drop table runs; --"]\n')
    assert "not a plain SQL identifier" in one_line_error(build(annotated.root, m, tmp_path / "o", check=False))
    # a plain identifier that is a table, not a view with the d_* columns
    m = manifest(tmp_path, "bad2", "sources: [runs]\n")
    assert "unknown view 'runs'" in one_line_error(build(annotated.root, m, tmp_path / "o", check=False))
    assert query(annotated.root, "select count(*) from runs")[0][0] > 0


def test_negative_and_all_zero_weights(annotated, tmp_path):
    m = manifest(tmp_path, "neg", "sources: [{view: d_ori, weight: -0.5}]\n")
    err = one_line_error(build(annotated.root, m, tmp_path / "o", check=False))
    assert "weight: must be a finite number of 0 or more, got -0.5" in err
    m = manifest(tmp_path, "zero", "sources: [{view: d_ori, weight: 0}, {view: d_qra, weight: 0.0}]\n")
    assert "every weight is 0" in one_line_error(build(annotated.root, m, tmp_path / "o", check=False))


def test_more_passages_than_the_store_holds_is_an_error(annotated, tmp_path):
    err = one_line_error(build(annotated.root, "brd-0.25m", tmp_path / "o", check=False))
    assert "passages 250000 is more than the 184 passages in this store" in err and "no silent truncation" in err
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob(".o.building-*"))
    failed = query(annotated.root, "select status, error from runs where command = 'mix build'")
    assert failed and failed[0][0] == "failed" and "more than the 184 passages" in failed[0][1]


def test_out_of_memory_is_one_line(annotated, tmp_path):
    err = one_line_error(build(annotated.root, "brd", tmp_path / "o", "--memory-limit", "1MB", check=False))
    assert "DuckDB ran out of memory at --memory-limit 1MB; raise it, or lower --window-passages" in err


def test_token_budget_larger_than_the_data_is_an_error(annotated, tmp_path):
    m = manifest(tmp_path, "budget", "sources: [{view: d_qra, tokens: 100000000}]\n")
    err = one_line_error(build(annotated.root, m, tmp_path / "o", check=False))
    assert "source d_qra has" in err and "less than its budget 100000000" in err


def test_empty_source_is_an_error(brd, tmp_path):
    store = tmp_path / "bare"
    brd("ingest", "--store", store)  # no annotations: d_ner is empty
    m = manifest(tmp_path, "ner", "sources: [d_ner]\n")
    err = one_line_error(build(store, m, tmp_path / "o", check=False))
    assert "source d_ner is empty in this store" in err
    m = manifest(tmp_path, "two", "sources: [d_ori, d_ner]\n")
    assert "source d_ner is empty" in one_line_error(build(store, m, tmp_path / "o", check=False))


def test_overlapping_sources_and_unknown_pins(annotated, tmp_path):
    m = manifest(tmp_path, "overlap", "sources: [d_train, d_ori]\n")
    assert "both hold d_ori rows" in one_line_error(build(annotated.root, m, tmp_path / "o", check=False))
    m = manifest(tmp_path, "pin", "sources: [d_qra]\nteacher: cccccccccccccccc\n")
    err = one_line_error(build(annotated.root, m, tmp_path / "o", check=False))
    assert f"teacher cccccccccccccccc has no annotations in this store; known: {TEACHER_A}, {TEACHER_B}" in err


def test_out_folder_that_is_not_a_mixture_is_left_alone(annotated, tmp_path):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert "was not made by brd" in one_line_error(build(annotated.root, "brd", out, check=False))
    assert (out / "notes.txt").read_text() == "mine"
    # a file named manifest.json does not make a folder brd's (the probe deleted this one)
    (out / "manifest.json").write_text('{"format_version": 1, "shards": []}')
    (out / "src").mkdir()
    (out / "src" / "main.py").write_text("print('mine')")
    error = one_line_error(build(annotated.root, "brd", out, check=False))
    assert f"--out {out}: exists, is not empty and was not made by brd" in error
    assert sorted(p.name for p in out.rglob("*")) == ["main.py", "manifest.json", "notes.txt", "src"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious", "store"]  # and nothing beside it


def test_brds_own_mixture_folder_is_replaced_and_an_old_unmarked_one_recognised(annotated, tmp_path):
    from brd_data.contracts.outputs import MARKER, is_owned

    out = tmp_path / "mix"
    build(annotated.root, "brd", out, "--shard-rows", "500")
    assert is_owned(out, "mixture")
    first = json.loads((out / "manifest.json").read_text())
    build(annotated.root, "brd", out, "--shard-rows", "300")
    assert json.loads((out / "manifest.json").read_text())["build_run_id"] != first["build_run_id"]
    # a mixture folder of a brd from before the markers: manifest.json and its shards, nothing else
    (out / MARKER).unlink()
    build(annotated.root, "brd", out, "--shard-rows", "500")
    assert is_owned(out, "mixture") and sorted(p.name for p in tmp_path.iterdir()) == ["mix", "store"]


# -- the contract ----------------------------------------------------------------------------------


def test_brd_mixture_folder_contract(annotated, tmp_path):
    out = tmp_path / "brd"
    proc = build(annotated.root, "brd", out, "--shard-rows", "200")
    assert "mixture brd" in proc.stdout and "warning: rows from 2 teachers" in proc.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert MANIFEST_KEYS <= set(m) and m["format_version"] == 1 and m["kind"] == "lm"
    assert m["delimiter"] == "<sep>" and m["seed"] == 0 and m["tokenizer"] == str(default_teacher_dir())
    n = query(annotated.root, "select count(*) from d_train")[0][0]
    assert m["rows"] == n == sum(s["rows"] for s in m["shards"])
    files = sorted(p.name for p in (out / "data").iterdir())
    assert files == [f"train-{i:05d}-of-00003.parquet" for i in range(3)] and len(m["shards"]) == 3
    assert pq.read_schema(out / "data" / files[0]).remove_metadata() == LM_SCHEMA
    rows = read_rows(out)
    # exact token counts with the teacher's tokenizer, without special tokens
    tok = Tokenizer.from_file(str(default_teacher_dir() / "tokenizer.json"))
    counts = [len(e.ids) for e in tok.encode_batch([r["text"] for r in rows], add_special_tokens=False)]
    assert m["tokens"] == sum(counts) == m["components"][0]["tokens"]
    by = m["components"][0]["by_component"]
    assert set(by) == {"d_ori", "d_ner", "d_qra"} and sum(v["rows"] for v in by.values()) == n
    # rows are in the seeded order: md5(seed:unit_id:component)
    order = [
        tuple(r)
        for r in query(
            annotated.root,
            """
        select unit_id, component from d_train order by md5_number('0:' || unit_id || ':' || component)""",
        )
    ]
    assert [(r["unit_id"], r["component"]) for r in rows] == order
    # lineage
    assert {annotated.run_a, annotated.run_b} <= set(m["source_run_ids"])
    assert set(m["teacher_fingerprints"]) == {TEACHER_A, TEACHER_B}
    assert all(set(r["prompt_hashes"]) <= set(m["prompt_hashes"]) for r in rows)
    assert all(r["prompt_hashes"] == [] for r in rows if r["component"] == "d_ori")
    # the store remembers the build
    builds = query(annotated.root, "select name, mixture_hash, rows from mixtures")
    assert builds == [("brd", m["mixture_hash"], n)]
    n_texts = query(annotated.root, "select count(distinct md5(text)) from d_train")[0][0]
    assert query(annotated.root, "select count(*) from mix_token_counts")[0][0] == n_texts < n  # each text once
    status = query(annotated.root, "select status from runs where run_id = $r", {"r": m["build_run_id"]})
    assert status == [("succeeded",)]


def test_windows_bound_the_work_and_fix_the_order(annotated, tmp_path):
    """184 passages in windows of 50: 4 windows of the seeded passage key, rows in window order and,
    within a window, by md5(seed:unit_id:component); the same rows as one window."""
    one, four = tmp_path / "one", tmp_path / "four"
    build(annotated.root, "brd", one)
    build(annotated.root, "brd", four, "--window-passages", "50")
    rows = read_rows(four)
    assert sorted(map(str, rows)) == sorted(map(str, read_rows(one)))
    keys = {
        (u, c): (pk, rk)
        for u, c, pk, rk in query(
            annotated.root,
            """
        select unit_id, component, md5_number('0:' || passage_id), md5_number('0:' || unit_id || ':' || component)
        from d_train""",
        )
    }
    bounds = [(i * 2**128 // 4, (i + 1) * 2**128 // 4 - 1) for i in range(4)]

    def window(pk):
        return next(i for i, (lo, hi) in enumerate(bounds) if lo <= pk <= hi)

    got = [(r["unit_id"], r["component"]) for r in rows]
    expected = sorted(keys, key=lambda k: (window(keys[k][0]), keys[k][1]))
    assert got == expected and got != [(r["unit_id"], r["component"]) for r in read_rows(one)]
    assert json.loads((four / "manifest.json").read_text())["window_passages"] == 50


def test_building_twice_gives_byte_identical_shards(annotated, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    build(annotated.root, "brd", a, "--shard-rows", "150", "--window-passages", "60")
    proc = build(
        annotated.root,
        "brd",
        b,
        "--shard-rows",
        "150",
        "--window-passages",
        "60",
        "--memory-limit",
        "200MB",
        "--threads",
        "1",
    )
    assert "tokenised 0 new rows" in proc.stdout  # the second build reads the token cache
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    assert ma["mixture_hash"] == mb["mixture_hash"] and ma["tokens"] == mb["tokens"]
    for s in ma["shards"]:
        assert (a / s["file"]).read_bytes() == (b / s["file"]).read_bytes()
    # rebuilding in place replaces the folder
    build(annotated.root, "brd", a, "--shard-rows", "1000")
    assert sorted(p.name for p in (a / "data").iterdir()) == ["train-00000-of-00001.parquet"]


def test_every_paper_mixture_builds(annotated, tmp_path):
    expect = {
        "brd-no-sent": {"d_ori", "d_ner", "d_qra_no_sent"},
        "brd-no-ner": {"d_ori", "d_qra"},
        "brd-no-qra": {"d_ori", "d_ner"},
        "further": {"d_ori"},
        "sentence-level": {"sentence_ori", "sentence_ner", "sentence_qra"},
    }
    for name, comps in expect.items():
        out = tmp_path / name
        build(annotated.root, name, out)
        m = json.loads((out / "manifest.json").read_text())
        assert set(m["components"][0]["by_component"]) == comps, name
        rows = read_rows(out)
        assert {r["component"] for r in rows} == comps and len(rows) == m["rows"]
        if name == "brd-no-sent":
            assert m["filters"]["sentiment"]
            qra = [r["text"] for r in rows if r["component"] == "d_qra_no_sent"]
            assert qra and not any("Negative" in t or "attitude" in t for t in qra)
        if name == "sentence-level":
            view_order = [tuple(r) for r in query(annotated.root, "select unit_id, component from d_sentence_level")]
            assert [(r["unit_id"], r["component"]) for r in rows] == view_order


def test_passage_limit_takes_nested_seeded_subsets(annotated, tmp_path):
    ids = {}
    for n in (40, 100):
        out = tmp_path / f"p{n}"
        build(annotated.root, manifest(tmp_path, f"p{n}", f"sources: [d_train]\npassages: {n}\n"), out)
        rows = read_rows(out)
        ids[n] = {r["passage_id"] for r in rows}
        assert len(ids[n]) == n
        assert {r["component"] for r in rows} == {"d_ori", "d_ner", "d_qra"}
    assert ids[40] < ids[100]
    # the first 40 passages by md5(seed:passage_id)
    first = {
        r[0]
        for r in query(
            annotated.root, "select passage_id from passages order by md5_number('0:' || passage_id) limit 40"
        )
    }
    assert ids[40] == first


def test_weights_share_rows_and_budgets_take_the_first_rows(annotated, tmp_path):
    out = tmp_path / "w"
    build(
        annotated.root, manifest(tmp_path, "w", "sources: [{view: d_ori, weight: 1}, {view: d_qra, weight: 2}]\n"), out
    )
    m = json.loads((out / "manifest.json").read_text())
    n_ori, n_qra = (query(annotated.root, f"select count(*) from {v}")[0][0] for v in ("d_ori", "d_qra"))
    total = min(n_ori * 3 / 1, n_qra * 3 / 2)
    got = {c["view"]: c["rows"] for c in m["components"]}
    assert got == {"d_ori": int(total / 3), "d_qra": int(total * 2 / 3)}
    first_ori = [
        r[0]
        for r in query(
            annotated.root,
            """select unit_id from d_ori
        order by md5_number('0:' || unit_id || ':' || component) limit $n""",
            {"n": got["d_ori"]},
        )
    ]
    assert [r["unit_id"] for r in read_rows(out) if r["component"] == "d_ori"] == first_ori

    out = tmp_path / "t"
    build(
        annotated.root,
        manifest(tmp_path, "t", "sources: [{view: d_ori, weight: 1}, {view: d_qra, tokens: 3000}]\n"),
        out,
    )
    m = json.loads((out / "manifest.json").read_text())
    qra = [c for c in m["components"] if c["view"] == "d_qra"][0]
    rows = [r for r in read_rows(out) if r["component"] == "d_qra"]
    tok = Tokenizer.from_file(str(default_teacher_dir() / "tokenizer.json"))
    last = len(tok.encode(rows[-1]["text"], add_special_tokens=False).ids)
    assert qra["tokens"] >= 3000 > qra["tokens"] - last and qra["tokens_budget"] == 3000
    assert [c["rows"] for c in m["components"] if c["view"] == "d_ori"] == [n_ori]


def test_a_users_own_view_is_a_source(annotated, tmp_path):
    """Datasets are views users can change: a view of their own with the d_* columns builds."""
    from brd_data.store import Store

    st = Store(annotated.root)
    with st.writer("test"), st.connect() as con:
        con.execute("create view english_train as select * from d_train where lang = 'en'")
        con.execute("create view thin as select passage_id, text from d_ori")
    out = tmp_path / "en"
    build(annotated.root, manifest(tmp_path, "en", "sources: [english_train]\n"), out)
    rows = read_rows(out)
    assert rows and len(rows) == query(annotated.root, "select count(*) from d_train where lang = 'en'")[0][0]
    err = one_line_error(
        build(annotated.root, manifest(tmp_path, "thin", "sources: [thin]\n"), tmp_path / "o", check=False)
    )
    assert "view thin lacks column(s) unit_id, component, run_ids, prompt_hashes, teacher_fingerprints" in err


def test_pins_and_delimiter_reach_the_views(annotated, tmp_path):
    out = tmp_path / "pinned"
    body = f'sources: [d_qra]\nteacher: {TEACHER_A}\ndelimiter: " | "\nseed: 7\n'
    build(annotated.root, manifest(tmp_path, "pinned", body), out)
    m = json.loads((out / "manifest.json").read_text())
    assert m["teacher_fingerprints"] == [TEACHER_A] and m["pins"]["teacher"] == TEACHER_A
    rows = read_rows(out)
    assert all(" | " in r["text"] and "<sep>" not in r["text"] for r in rows)
    expected = query(annotated.root, "select count(*) from d_qra", variables={"brd_teacher": TEACHER_A})[0][0]
    assert len(rows) == expected


def test_a_large_build_counts_a_sample_and_the_long_rows_and_estimates_the_rest(annotated, tmp_path):
    """--count-tokens auto on a mixture larger than its sample (here a sample of 40 rows, a length
    check at 256 tokens): the estimate's interval holds the exact count, the rows and shards are
    those of an exact build, and the length check is exact (every row that could exceed it is counted)."""
    from brd_data.mix import BuildOptions, build_mixture, load_mixture
    from brd_data.store import Store

    st = Store(annotated.root)
    spec = load_mixture("brd")
    exact = build_mixture(
        st, spec, tmp_path / "exact", BuildOptions(progress=False, count_tokens="all", max_length=256)
    )
    with st.writer("test"), st.transaction() as con:
        con.execute("delete from mix_token_counts")  # cold again
    lazy = build_mixture(st, spec, tmp_path / "lazy", BuildOptions(progress=False, exact_rows=40, max_length=256))
    e, z = exact.manifest, lazy.manifest
    assert e["token_count"]["method"] == "exact" and e["tokens"] == e["token_count"]["tokens"] > 0
    assert z["token_count"]["method"] == "estimated" and z["tokens"] is None
    assert z["mixture_hash"] == e["mixture_hash"] and z["shards"] == e["shards"]  # counts never change the rows
    tc = z["token_count"]
    assert tc["interval95"][0] <= e["tokens"] <= tc["interval95"][1], (tc, e["tokens"])
    assert abs(tc["estimate"] - e["tokens"]) / e["tokens"] < 0.1
    assert 40 <= tc["tokenised_rows"] < tc["rows"] and tc["counted_rows"] == tc["tokenised_rows"]
    assert tc["length_check"] == e["token_count"]["length_check"]
    assert e["token_count"]["length_check"]["rows_over"] > 0  # rows over 256 tokens: the lazy build found them all
    # a second build never counts a text twice: the counted ones are cached, and it samples 40 new ones
    again = build_mixture(st, spec, tmp_path / "lazy", BuildOptions(progress=False, exact_rows=40, max_length=256))
    ta = again.manifest["token_count"]
    assert again.tokenised_rows == 40 and ta["counted_rows"] == tc["counted_rows"] + 40
    assert ta["interval95"][0] <= e["tokens"] <= ta["interval95"][1]
    # a budget source is counted row by row, whatever the sample
    budget = manifest(tmp_path, "budget", "sources: [{view: d_qra, tokens: 3000}]\n")
    b = build_mixture(st, load_mixture(str(budget)), tmp_path / "b", BuildOptions(progress=False, exact_rows=5))
    assert b.manifest["components"][0]["tokens"] >= 3000 and b.manifest["token_count"]["method"] == "exact"
