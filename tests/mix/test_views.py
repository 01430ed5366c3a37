"""The d_* views on a real DuckDB store: grain, the paper's passage format, the annotation choice,
the rule for missing / unusable annotations, the sentiment filter, lineage."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from brd_data.contracts.schemas.mixture import normalise_words
from brd_data.mix import load_filter
from brd_data.store import Store, StoreError
from brd_data.store.sqlfiles import views
from tests.conftest import run_brd

from .annotated import NER_V1, QRA_V1, QRA_V2, TEACHER_A, TEACHER_B, Annotated

D_VIEWS = [
    "d_ori",
    "d_ner",
    "d_qra",
    "d_qra_no_sent",
    "d_train",
    "d_train_no_sent",
    "d_train_no_ner",
    "d_train_no_qra",
    "d_sentence_level",
    "d_further",
]
# view -> the columns that are its key (every view's header states it)
KEYS = {
    **{v: ("unit_id", "component") for v in D_VIEWS},
    "passage_sentences": ("passage_id", "sentence_position"),
    "chosen_annotations": ("text_hash", "behaviour"),
    "sentence_annotated": ("passage_id", "sentence_position"),
    "passage_texts": ("passage_id", "component"),
    "qra_without_sentiment": ("text_hash",),
    "passage_coverage": ("passage_id", "view_name"),
}
# Views over task examples, which the annotated sample store has none of: their grain is tested
# on a store with task examples and teacher answers (tests/baselines/test_task_distill.py).
TESTED_ELSEWHERE = {"d_sft", "d_task_distill"}


@pytest.fixture(scope="module")
def synced(annotated_template, tmp_path_factory) -> Annotated:
    root = tmp_path_factory.mktemp("views") / "store"
    shutil.copytree(annotated_template.root, root)
    run_brd("mix", "sync", "--store", root)
    return Annotated(root, annotated_template.text_hashes, annotated_template.run_a, annotated_template.run_b)


@pytest.fixture
def con(synced):
    c = duckdb.connect(str(synced.root / "brd.duckdb"), read_only=True)
    yield c
    c.close()


def rows(con, sql, params=None) -> list[dict]:
    rel = con.execute(sql, params or {})
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r)) for r in rel.fetchall()]


def kinds_by_hash(synced: Annotated) -> dict[str, set[str]]:
    return {h: synced.kind(i) for i, h in enumerate(synced.text_hashes)}


def test_every_view_file_is_tested():
    assert set(views()) == set(KEYS) | TESTED_ELSEWHERE, "a view without a grain test"


@pytest.mark.parametrize("view", sorted(KEYS))
def test_grain_key_is_unique_and_not_null(con, view):
    key = KEYS[view]
    n, n_keys, n_null = con.execute(
        f"select count(*), count(distinct ({', '.join(key)})), count(*) filter (where "
        + " or ".join(f"{k} is null" for k in key)
        + f") from {view}"
    ).fetchall()[0]
    assert n > 0, f"{view} is empty on the annotated sample store"
    assert n == n_keys and n_null == 0


def test_passage_views_have_the_expected_rows(con):
    n_passages = con.execute("select count(*) from passages").fetchall()[0][0]
    counts = dict(con.execute("select component, count(*) from d_train group by 1").fetchall())
    assert counts["d_ori"] == n_passages
    # d_ner / d_qra: every passage with at least one usable piece, and no other
    for comp, behaviour in (("d_ner", "ner"), ("d_qra", "qra")):
        expected = con.execute(f"""
            select count(distinct ps.passage_id) from passage_sentences ps
            join annotations a on a.text_hash = ps.text_hash
             and a.behaviour = '{behaviour}' and a.status = 'ok'""").fetchall()[0][0]
        assert counts[comp] == expected < n_passages
    for view, comps in (
        ("d_train_no_ner", {"d_ori", "d_qra"}),
        ("d_train_no_qra", {"d_ori", "d_ner"}),
        ("d_train_no_sent", {"d_ori", "d_ner", "d_qra_no_sent"}),
    ):
        got = dict(con.execute(f"select component, count(*) from {view} group by 1").fetchall())
        assert set(got) == comps
        for c in comps & set(counts):
            assert got[c] == counts[c]
    assert con.execute("select count(*) from d_further").fetchall()[0][0] == len(
        {r[0] for r in con.execute("select passage_id from d_train where component <> 'd_ori'").fetchall()}
    )


def test_passages_are_composed_exactly_as_the_paper(con):
    """d_ori = s1<sep>s2<sep>s3; d_ner = s1<sep>NER(s1)<sep>s2<sep>NER(s2)...; a sentence without a
    usable annotation keeps its place with nothing after it."""
    passage_rows = rows(con, "select passage_id, sentence_ids from passages")
    sentences = {r["sentence_id"]: r for r in rows(con, "select sentence_id, text, text_hash from sentences")}
    ann = {
        (r["text_hash"], r["behaviour"]): r["raw_text"]
        for r in rows(
            con,
            """
        select text_hash, behaviour, arg_max(raw_text, created_at) as raw_text from annotations
        where status = 'ok' group by all""",
        )
    }
    got = {(r["passage_id"], r["component"]): r["text"] for r in rows(con, "select * from d_train")}
    checked_missing = 0
    for p in passage_rows:
        sents = [sentences[s] for s in p["sentence_ids"]]
        assert got[(p["passage_id"], "d_ori")] == "<sep>".join(s["text"] for s in sents)
        for behaviour in ("ner", "qra"):
            pieces = []
            for s in sents:
                pieces.append(s["text"])
                if (s["text_hash"], behaviour) in ann:
                    pieces.append(ann[(s["text_hash"], behaviour)].strip())
                else:
                    checked_missing += 1
            key = (p["passage_id"], f"d_{behaviour}")
            if len(pieces) > len(sents):
                assert got[key] == "<sep>".join(pieces)
            else:
                assert key not in got  # no usable annotation at all: the passage is left out
    assert checked_missing > 20


def test_counts_of_missing_and_unusable_annotations(con, synced):
    kinds = kinds_by_hash(synced)
    ps = rows(con, "select passage_id, text_hash from passage_sentences")
    by_passage: dict[str, list[set[str]]] = {}
    for r in ps:
        by_passage.setdefault(r["passage_id"], []).append(kinds[r["text_hash"]])
    cov = {(r["passage_id"], r["view_name"]): r for r in rows(con, "select * from passage_coverage")}
    for pid, ks in by_passage.items():
        ner = cov[(pid, "d_ner")]
        assert ner["n_missing"] == sum("missing" in k for k in ks)
        assert ner["n_unusable"] == sum(bool({"ner_unparsed", "ner_truncated"} & k) for k in ks)
        assert ner["n_annotated"] + ner["n_missing"] + ner["n_unusable"] == ner["n_sentences"] == len(ks)
        qra = cov[(pid, "d_qra")]
        # teacher B's newer ok row makes a failed teacher-A QRA usable again
        assert qra["n_unusable"] == sum("qra_failed" in k and "newer_teacher_b" not in k for k in ks)
    assert sum(r["n_unusable"] for r in cov.values()) > 0 and sum(r["n_missing"] for r in cov.values()) > 0


def test_newest_ok_annotation_wins_unless_pinned(con, synced):
    kinds = kinds_by_hash(synced)
    newer = [h for h, k in kinds.items() if "newer_teacher_b" in k and "missing" not in k]
    chosen = {r["text_hash"]: r for r in rows(con, "select * from chosen_annotations where behaviour = 'qra'")}
    for h in newer:
        assert chosen[h]["teacher_fingerprint"] == TEACHER_B and chosen[h]["prompt_hash"] == QRA_V2
        assert chosen[h]["n_rows"] == 2
    con.execute("set variable brd_teacher = $t", {"t": TEACHER_A})
    pinned = {r["text_hash"]: r for r in rows(con, "select * from chosen_annotations where behaviour = 'qra'")}
    for h in newer:
        if "qra_failed" in kinds[h]:
            assert not pinned[h]["usable"] and pinned[h]["annotation_text"] is None
        else:
            assert pinned[h]["teacher_fingerprint"] == TEACHER_A and pinned[h]["prompt_hash"] == QRA_V1
    con.execute("reset variable brd_teacher")
    con.execute("set variable brd_qra_prompt = $p", {"p": QRA_V2})
    only_v2 = rows(con, "select * from chosen_annotations where behaviour = 'qra'")
    assert {r["text_hash"] for r in only_v2} == set(newer)
    # the NER pin is independent of the QRA pin
    assert con.execute("select count(*) from chosen_annotations where behaviour = 'ner'").fetchall()[0][0] > len(newer)


def test_delimiter_and_lineage(con, synced):
    con.execute("set variable brd_sep = $s", {"s": " ||| "})
    r = rows(
        con, "select * from d_train where component = 'd_ner' and n_annotated = n_sentences and n_sentences = 3 limit 1"
    )[0]
    assert r["text"].count(" ||| ") == 5 and "<sep>" not in r["text"]
    assert synced.run_a in r["run_ids"] and any(x.startswith("ingest-") for x in r["run_ids"])
    assert r["prompt_hashes"] == [NER_V1] and r["teacher_fingerprints"] == [TEACHER_A]
    ori = rows(con, "select * from d_ori where passage_id = $p", {"p": r["passage_id"]})[0]
    assert ori["prompt_hashes"] == [] and all(x.startswith("ingest-") for x in ori["run_ids"])
    # every row's run_ids exist in runs
    orphans = con.execute("""select count(*) from (select unnest(run_ids) as run_id from d_train)
                             where run_id not in (select run_id from runs)""").fetchall()[0][0]
    assert orphans == 0


def test_sentiment_filter_removes_attitude_questions_and_sentiment_answers(con, synced):
    kinds = kinds_by_hash(synced)
    qra = {r["text_hash"]: r for r in rows(con, "select * from qra_without_sentiment")}
    chosen = {r["text_hash"]: r for r in rows(con, "select * from chosen_annotations where behaviour = 'qra'")}
    seen = set()
    for h, r in qra.items():
        k = kinds[h]
        if "newer_teacher_b" in k:  # teacher B's item is neutral
            assert r["status"] == "ok" and r["annotation_text"] == chosen[h]["annotation_text"].strip()
        elif "qra_failed" in k:
            assert r["status"] == "unusable"
        elif k & {"attitude_question", "sentiment_answer"}:
            assert r["status"] == "filtered" and r["annotation_text"] is None and r["n_items_removed"] == 1
            seen.add("filtered")
        elif "mixed_items" in k:  # "What is the tone? Neutral." goes, the other item stays
            assert r["status"] == "ok" and r["n_items_removed"] == 1
            assert r["annotation_text"].startswith(
                "Question: What does the sentence start with? Answer: It starts with"
            )
            assert "tone" not in r["annotation_text"]
            seen.add("mixed")
        else:
            assert r["annotation_text"] == chosen[h]["annotation_text"].strip() and r["n_items_removed"] == 0
    assert seen == {"filtered", "mixed"}
    # no sentiment word survives in d_qra_no_sent's annotation pieces
    spec = load_filter("sentiment")
    words = {t["term"] for t in spec.rows() if t["match"] == "word" and t["field"] == "answer"}
    for r in rows(con, "select annotation_text from qra_without_sentiment where status = 'ok'"):
        assert not words & set(normalise_words(r["annotation_text"]).split())
    counts = rows(con, "select sum(n_filtered) as f from d_qra_no_sent")[0]
    assert counts["f"] > 0


def test_filter_words_match_whole_words_in_any_script(synced, tmp_path):
    """The view's word matching (split at non-letters) agrees with the manifest's normalisation."""
    con = duckdb.connect()
    sample = ["It was NEGATIVE.", "non-negative numbers", "Нейтральный ответ", "negatively!", "negativity's"]
    for text in sample:
        sql_words = con.execute(
            r"select ' ' || array_to_string(string_split_regex(lower($t), '[^\p{L}\p{N}]+'), ' ') || ' '", {"t": text}
        ).fetchall()[0][0]
        assert sql_words.split() == normalise_words(text).split()


def test_no_sent_view_answers_on_a_new_store_and_fails_loudly_without_filter_terms(annotated):
    st = Store(annotated.root)
    with st.reader() as con:  # the terms are loaded when the store is made (issue 15)
        assert con.execute("select count(*) from d_train_no_sent").fetchall()[0][0] > 0
    with st.writer("test"), st.connect() as con:
        con.execute("delete from mix_filter_terms where filter = 'sentiment'")
    with st.reader() as con:
        with pytest.raises(duckdb.Error, match="no sentiment filter terms"):
            con.execute("select count(*) from d_train_no_sent").fetchall()
    # everything else works without them
    with st.reader() as con:
        assert con.execute("select count(*) from d_train").fetchall()[0][0] > 0


def test_sentence_level_is_seeded_shuffle_of_units(con):
    def order(seed):
        con.execute("set variable brd_seed = $s", {"s": seed})
        return [(r[0], r[1]) for r in con.execute("select unit_id, component from d_sentence_level").fetchall()]

    a, b, a2 = order(0), order(1), order(0)
    assert a == a2 and a != b and sorted(a) == sorted(b)
    n_sent = con.execute("select count(*) from passage_sentences").fetchall()[0][0]
    comps = dict(con.execute("select component, count(*) from d_sentence_level group by 1").fetchall())
    assert comps["sentence_ori"] == n_sent and 0 < comps["sentence_ner"] < n_sent
    r = rows(con, "select * from d_sentence_level where component = 'sentence_qra' limit 1")[0]
    s = rows(con, "select text from sentences where sentence_id = $u", {"u": r["unit_id"]})[0]
    assert r["text"].startswith(s["text"] + "<sep>Question: ")
    # units are not composed into passages: one sentence each
    assert (
        "<sep>"
        not in rows(con, "select text from d_sentence_level where component = 'sentence_ori' limit 1")[0]["text"]
    )


def test_passage_window_variables_select_a_subset(con):
    full = {r[0] for r in con.execute("select passage_id from d_ori").fetchall()}
    con.execute("set variable brd_passage_key_hi = $k::uhugeint", {"k": str(2**127)})
    half = {r[0] for r in con.execute("select passage_id from d_ori").fetchall()}
    assert half < full and 0.25 < len(half) / len(full) < 0.75


def test_annotated_store_json_contract(synced):
    """The fixture writes annotations the way the contract says (parsed JSON lists)."""
    st = Store(synced.root)
    with st.reader() as con:
        parsed = [
            json.loads(r[0])
            for r in con.execute(
                "select parsed from annotations where status = 'ok' and behaviour = 'qra' limit 5"
            ).fetchall()
        ]
    assert all(isinstance(p, list) and {"question", "answer"} <= set(p[0]) for p in parsed)
    with pytest.raises(StoreError, match="unknown table/view"):
        with st.reader() as con:
            st.check_identifier(con, "d_train; drop table runs")
