"""Mixture and filter manifests: every shipped one parses; bad ones fail with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from brd_data.mix import (
    ManifestError,
    MixtureSpec,
    Source,
    available_filters,
    available_mixtures,
    load_filter,
    load_mixture,
)

PAPER = {
    "brd",
    "brd-no-sent",
    "brd-no-ner",
    "brd-no-qra",
    "sentence-level",
    "further",
    "brd-0.25m",
    "brd-0.5m",
    "brd-1m",
}


def write(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "name: x\nsources: [{view: d_ori, weight: -1}]\n",
            "sources[0].weight: must be a finite number of 0 or more, got -1",
        ),
        ("name: x\nsources: [{view: d_ori, weight: 0}, {view: d_ner, weight: 0}]\n", "every weight is 0"),
        (
            "name: x\nsources: [{view: d_ori, weight: 1, tokens: 10}]\n",
            "sources[0]: give `weight` or `tokens`, not both",
        ),
        ("name: x\nsources: [{view: d_ori, tokens: 0}]\n", "sources[0].tokens: must be a positive integer, got 0"),
        ("name: x\nsources: [{view: d_ori, weight: .nan}]\n", "weight: must be a finite number of 0 or more, got nan"),
        ("name: x\nsources: []\n", "`sources` is empty"),
        ("name: x\nsources: [d_ori, d_ori]\n", "d_ori listed twice"),
        ('name: x\nsources: [{view: "d_ori; drop table runs"}]\n', "not a plain SQL identifier"),
        (
            "name: x\nsources: [{view: d_ori, wieght: 2}]\n",
            "sources[0]: unknown key 'wieght'; allowed: tokens, view, weight",
        ),
        ("name: x\nsource: [d_ori]\n", "unknown key 'source'; allowed: corpus, delimiter"),
        ("name: x\nsources: [d_ori]\npassages: -5\n", "passages: should be greater than 0 (got -5)"),
        ("name: x\nsources: [d_ori]\ndelimiter: ''\n", "delimiter: String should have at least 1 character"),
        ('name: x\nsources: [d_ori]\nteacher: "x\' or 1=1"\n', "is not a teacher fingerprint"),
        ("name: x\nsources: [d_ori]\nprompts: {task: abcd}\n", "prompts.task: should be 'ner' or 'qra' (got 'task')"),
        ("name: X Y\nsources: [d_ori]\n", "must be lowercase"),
        ("name: x\nkind: chat\nsources: [d_ori]\n", "kind: should be 'lm' or 'sft' (got 'chat')"),
        (
            "name: x\nkind: sft\nsources: [d_sft]\npassages: 10\n",
            "`passages` selects passages; a kind sft mixture has none",
        ),
        ("name: x\nkind: sft\nsources: [d_sft]\ncorpus: {paths: ['*']}\n", "`corpus` selects passages"),
        ("name: x\nsources: [d_train]\ncorpus: {}\n", "corpus: give `paths`"),
        ("name: x\nsources: [d_train]\ncorpus: {paths: ['']}\n", "corpus.paths: must be non-empty strings"),
        (
            "name: x\nsources: [d_train]\ncorpus: {files: ['a']}\n",
            "corpus: unknown key 'files'; allowed: paths, run_ids",
        ),
        ("name: x\nsources: [d_train]\ncorpus: [a]\n", "corpus: should be a mapping"),
        ("- just a list\n", "expected a mapping"),
        ("name: x\nsources: [d_ori\n", "m.yaml"),
    ],
)
def test_bad_mixture_manifest_is_one_clear_line(tmp_path, text, message):
    with pytest.raises(ManifestError) as exc:
        load_mixture(str(write(tmp_path, text)))
    assert message in str(exc.value) and "\n" not in str(exc.value).strip()


def test_unknown_mixture_lists_the_valid_ones():
    with pytest.raises(ManifestError, match=r"unknown mixture 'nope'; valid: .*brd-no-ner.*sentence-level"):
        load_mixture("nope")
    with pytest.raises(ManifestError, match="unknown mixture"):
        load_mixture("../../etc/passwd")


def test_every_paper_dataset_has_a_manifest():
    assert PAPER <= set(available_mixtures())
    specs = {n: load_mixture(n) for n in available_mixtures()}
    assert [s.view for s in specs["brd"].sources] == ["d_train"]
    assert [s.view for s in specs["sentence-level"].sources] == ["d_sentence_level"]
    assert [specs[f"brd-{x}m"].passages for x in ("0.25", "0.5", "1")] == [250_000, 500_000, 1_000_000]
    assert all(s.delimiter == "<sep>" and s.seed == 0 and s.tokenizer is None for s in specs.values())
    # the hash follows what decides the rows, not the description
    assert specs["brd-0.25m"].config_hash != specs["brd-0.5m"].config_hash


def test_weights_default_to_one_and_hash_is_stable():
    a = MixtureSpec(name="a", sources=(Source(view="d_ori"), Source(view="d_qra", weight=2)))
    b = MixtureSpec(name="a", sources=(Source(view="d_ori"), Source(view="d_qra", weight=2)), description="other words")
    assert a.sources[0].share == 1.0 and a.config_hash == b.config_hash


def test_sentiment_filter_manifest():
    assert "sentiment" in available_filters()
    f = load_filter("sentiment")
    terms = {(r["field"], r["term"]) for r in f.rows()}
    assert {("answer", "positive"), ("answer", "negative"), ("answer", "neutral"), ("question", "attitude")} <= terms
    assert all(r["filter_hash"] == f.file_hash for r in f.rows())


@pytest.mark.parametrize(
    "terms, message",
    [
        ('["pos.*"]', "use letters, digits"),
        ('["a\'); drop table runs; --"]', "use letters, digits"),
        ("[]", "terms is empty"),
    ],
)
def test_bad_filter_terms(tmp_path, terms, message):
    p = write(
        tmp_path,
        f"name: sentiment\nbehaviour: qra\nrules:\n  - field: answer\n    match: word\n    terms: {terms}\n",
        "f.yaml",
    )
    with pytest.raises(ManifestError, match=message):
        load_filter(str(p))


def test_bad_filter_field(tmp_path):
    p = write(tmp_path, "name: s\nrules:\n  - field: sentence\n    terms: [a]\n", "f.yaml")
    with pytest.raises(ManifestError, match=r"rules\[0\]\.field: should be 'question' or 'answer' \(got 'sentence'\)"):
        load_filter(str(p))
