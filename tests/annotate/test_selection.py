"""The corpus budget of §4, applied before annotation: `brd annotate --passages N` annotates only
the sentences of a seeded selection of N passages, and a mixture built with `--passages N` (same
seed) draws from exactly those passages; a smaller N is a subset."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tests.conftest import run_brd

from .conftest import annotate_args, rows

SELECTED = """
select passage_id from (
    select passage_id, row_number() over (order by passage_key(?, passage_id)) as n from passages
    where split_part(passage_id, '/', 1) in (select left(source_id, 16) from sources where path like ?)
) where n <= ?
"""


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("sel") / "store"
    run_brd("ingest", "--store", root)  # the sample corpus: en, de, ru, zh
    return root


def _selected(store, n: int, seed: int = 0, like: str = "%") -> set[str]:
    return {r[0] for r in rows(store, SELECTED, [seed, like, n])}


def test_annotation_reads_only_the_selected_passages_and_mixtures_reuse_them(sample_store, tmp_path, fake_teacher):
    import shutil

    store = tmp_path / "store"
    shutil.copytree(sample_store, store)
    n_passages = rows(store, "select count(*) from passages")[0][0]
    assert n_passages > 40
    out = run_brd(
        *annotate_args(store, fake_teacher.url, "--passages", "12", "--passage-seed", "3", "--source", "*en*")
    )
    assert (
        "passage selection: 12 passages, the smallest keys passage_key(3, passage_id) among sources *en*" in out.stdout
    )
    chosen = _selected(store, 12, seed=3, like="%en%")
    want = rows(
        store,
        "select count(distinct s.text_hash) from passages p, unnest(p.sentence_ids) u(sid) "
        "join sentences s on s.sentence_id = u.sid where list_contains(?, p.passage_id)",
        [sorted(chosen)],
    )[0][0]
    got = rows(store, "select count(distinct text_hash), count(*) from annotations")[0]
    assert got == (want, 2 * want)  # every unique sentence of the 12 passages, NER and QRA, and nothing else
    lineage = json.loads(rows(store, "select config from runs where command = 'annotate'")[0][0])
    assert lineage["selection"] == {"passages": 12, "seed": 3, "sources": ["*en*"]}
    # the run is recorded; a second one has nothing to do
    assert "nothing to do" in run_brd(*annotate_args(store, fake_teacher.url, "--passages", "12",
                                                    "--passage-seed", "3", "--source", "*en*")).stdout  # fmt: skip

    # a mixture with the same budget and seed draws from the same passages; a smaller one from a subset
    corpus = tmp_path / "en-further.yaml"
    corpus.write_text("name: en-further\nsources: [{view: d_further}]\ncorpus: {paths: ['*en*']}\n")
    for n in (12, 5):
        mix = tmp_path / f"mix-{n}"
        run_brd("mix", "build", corpus, "--store", store, "--out", mix, "--passages", str(n), "--seed", "3", "-q")
        ids = {r["passage_id"] for f in (mix / "data").glob("*.parquet") for r in pq.read_table(f).to_pylist()}
        assert ids == _selected(store, n, seed=3, like="%en%") and ids <= chosen
    # every sentence of the further mixture was annotated: nothing of it is outside the selection
    m = json.loads((tmp_path / "mix-12" / "manifest.json").read_text())
    assert m["passages"] == 12 and m["seed"] == 3


def test_a_budget_larger_than_the_corpus_fails_in_one_line(sample_store, fake_teacher):
    n = rows(sample_store, "select count(*) from passages")[0][0]
    out = run_brd(*annotate_args(sample_store, fake_teacher.url, "--passages", str(n + 1)), check=False)
    assert out.returncode == 1 and out.stderr.strip() == (
        f"error: --passages {n + 1:,} is more than the {n:,} passages in the store; "
        "lower it or ingest more (no silent truncation)"
    )
    out = run_brd(*annotate_args(sample_store, fake_teacher.url, "--passages", "3", "--source", "*nope*"), check=False)
    assert out.returncode == 1 and "--source *nope* matches no ingested source" in out.stderr
    assert rows(sample_store, "select count(*) from annotations") == [(0,)]
