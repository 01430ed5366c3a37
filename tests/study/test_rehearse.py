"""`brd study manifests/studies/paper.yaml --rehearse`: the paper's whole stage graph in miniature,
as the real `brd` commands on a real store (a scripted OpenAI server for the teacher, tiny random
students each over its own tokenizer, real TRL training, real evaluation and analyses). Every
table and figure the paper plans gets real rows, each row is its own model in the store, every
trained model trained on a mixture built for its own tokenizer, and a second run skips all the
training, choosing, evaluation and analysis it already did."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from brd_data.contracts.schemas.study import load_study
from brd_train.study.graph import build_graph
from brd_train.study.rehearse import rehearsal
from brd_train.train.tiny import make_tiny_student, make_tiny_tokenizer
from tests.conftest import REPO, run_brd

pytestmark = pytest.mark.slow

PAPER = REPO / "manifests" / "studies" / "paper.yaml"
ENV = {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}


def _blocks(out: str) -> dict[str, tuple[list[str], list[list[str]], str]]:
    """The printed tables: title -> (row labels, cells, '(x of y cells filled)')."""
    blocks: dict[str, tuple[list[str], list[list[str]], str]] = {}
    title = None
    for line in out.splitlines():
        if line.startswith("### "):
            title = line[4:]
            blocks[title] = ([], [], "")
        elif title and line.startswith("| ") and not line.startswith("| Model |"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            blocks[title][0].append(cells[0])
            blocks[title][1].append(cells[1:])
        elif title and line.startswith("(") and "cells filled" in line:
            blocks[title] = (*blocks[title][:2], line)
            title = None
    return blocks


def _plan(store: Path):
    """The stages the rehearsal ran (its tiny models exist by then: building them again is a no-op)."""
    small = rehearsal(load_study(PAPER), store, "http://127.0.0.1:1", make_tiny_student, make_tiny_tokenizer)
    return build_graph(small.study, store)


def _sql(store: Path, q: str) -> list[dict]:
    return json.loads(run_brd("sql", "--store", str(store), "--format", "json", q).stdout)


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory) -> tuple[Path, str]:
    store = tmp_path_factory.mktemp("rehearsal") / "store"
    out = run_brd("study", str(PAPER), "--rehearse", "--store", str(store), env=ENV, timeout=1800).stdout
    (store.parent / "rehearsal.out").write_text(out)  # for a failure's post-mortem
    return store, out


def test_every_planned_table_and_figure_gets_real_rows(rehearsed):
    store, out = rehearsed
    study = load_study(PAPER)
    blocks = _blocks(out)
    assert [t.title for t in study.tables.values()] == list(blocks)
    for name, t in study.tables.items():
        labels, cells, filled = blocks[t.title]
        m = re.fullmatch(r"\((\d+) of (\d+) cells filled\)", filled)
        assert m and m[1] == m[2] and int(m[2]) > 0, (name, filled)
        assert all(re.fullmatch(r"-?\d+(\.\d+)?(e-?\d+)?", c) for row in cells for c in row), (name, cells)
        if t.kind in ("accuracy", "cross-entropy"):
            want = [r.label for p in t.parts for r in p.rows]
            assert [re.sub(r" (†|\(.*\))$", "", lbl) for lbl in labels] == want, name
        elif t.kind == "curve":  # Figure 2: the five sizes, past the rehearsal's corpus budget (16)
            assert labels == ["4 passages", "8 passages", "16 passages", "24 passages", "32 passages"]
        elif t.kind == "per-task":  # Figure 3: the sample BIG-bench tasks
            assert labels == ["anachronisms", "analytic_entailment", "emoji_movie"]
        elif t.kind == "probe":  # Figure 4: a row per layer (embeddings and two blocks)
            assert labels == ["layer 0", "layer 1", "layer 2"]
    report = store / "report"
    for png in ("figure2-curve.png", "figure3-bigbench.png", "figure4-XGLM-564M.png", "figure4-XGLM-BRD.png"):
        assert (report / png).stat().st_size > 1000, png
    text = (report / "README.md").read_text()
    assert "Substitutions" in text and "## Time per stage" in text
    assert all(t.title in text for t in study.tables.values())


def test_every_row_is_its_own_model_and_trains_on_its_tokenizer(rehearsed):
    store, out = rehearsed
    study = load_study(PAPER)
    m = re.search(r"rehearsal: (\d+) stages \((\d+) run, 0 skipped\)", out)
    assert m and m[1] == m[2], out[-2000:]
    stages = _plan(store)
    assert all(s.key.split(":")[0] in study.tables for s in stages)  # each named after the first it feeds
    assert {t for s in stages for t in s.feeds} == set(study.tables)
    assert int(m[1]) == len(stages)
    # one evaluated model per model of the plan (released, trained, Figure 2's sizes): no row reuses another's
    evals = [s for s in stages if s.kind == "eval"]
    fps = _sql(store, "select count(distinct model_fingerprint) as n from eval_results")[0]["n"]
    assert fps == len({s.model for s in evals}) == 30
    # the teacher annotated with the Vicuna-template prompts of Tables 1 and 2, and answered the task prompts
    kinds = _sql(store, "select behaviour, count(*) as n from annotations group by 1 order by 1")
    assert {r["behaviour"] for r in kinds} == {"ner", "qra", "task"} and all(r["n"] > 0 for r in kinds)
    assert "ner (ner-vicuna, completion" in out and "qra (qra-vicuna, completion" in out
    # every training run: a mixture built for the tokenizer of the model it trains, unpacked
    runs = _sql(store, "select output_dir, mixture_dir, student, config from train_runs where status = 'succeeded'")
    assert len(runs) == sum(s.kind == "train" for s in stages) == 21
    for r in runs:
        manifest = json.loads((Path(r["mixture_dir"]) / "manifest.json").read_text())
        config = r["config"] if isinstance(r["config"], dict) else json.loads(r["config"])  # a JSON column nests
        family = "tokenizers/gpt2" if "gpt2" in r["output_dir"] else "models/XGLM-564M"
        assert manifest["tokenizer"].endswith(family), r
        assert config["allow_tokenizer_mismatch"] is False and config["packing"] is False, config
    # the corpus budget: Figure 2's largest size annotated, every other corpus mixture on the first 16
    sizes = {json.loads((Path(r["mixture_dir"]) / "manifest.json").read_text()).get("passages") for r in runs}
    assert {4, 8, 16, 24, 32} <= sizes


def test_a_second_rehearsal_skips_what_is_done(rehearsed):
    store, _ = rehearsed
    out = run_brd("study", str(PAPER), "--rehearse", "--store", str(store), env=ENV, timeout=900).stdout
    stages = _plan(store)
    for s in stages:
        if s.kind in ("train", "choose", "eval", "analysis"):
            assert f"skip {s.key}:" in out, s.key
    assert "annotation(s) added" not in out or "0 annotation(s) added" in out
