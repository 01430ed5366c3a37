"""Study manifests: the shipped ones parse, bad ones fail with one line naming file and key, and
`brd study paper --dry-run` prints every stage with its cost without touching a store."""

from __future__ import annotations

from pathlib import Path

import pytest

from brd_data.contracts.schemas.study import StudyError, load_study
from brd_train.study.plan import build_stages


def test_paper_manifest_is_the_papers_grid():
    s = load_study("paper")
    assert s.student.model == "facebook/xglm-564M" and "vicuna-13b" in s.teacher.model
    assert s.corpus.passages == 1_000_000 and s.corpus.passage_sentences == 3
    assert [r.label for r in s.rows] == [
        "XGLM-564M",
        "XGLM-564M-FURTHER",
        "XGLM-BRD",
        "-SentData",
        "-NER",
        "-QRA",
        "SentenceLevel",
    ]
    assert [r.mixture for r in s.rows] == [
        None,
        "further",
        "brd",
        "brd-no-sent",
        "brd-no-ner",
        "brd-no-qra",
        "sentence-level",
    ]
    assert s.data_size_curve == ["brd-0.25m", "brd-0.5m", "brd"]
    assert set(s.evaluation.tasks) == {"xnli", "rte", "cb", "pawsx", "boolq", "sst2"} and s.evaluation.bigbench
    assert (
        s.training.learning_rate,
        s.training.batch_size,
        s.training.max_length,
        s.training.max_steps,
        s.training.save_steps,
    ) == (3e-4, 8, 2048, 40_000, 1_000)
    stages = build_stages(s, Path("/tmp/never-created"))
    kinds = [st.kind for st in stages]
    assert kinds.count("train") == 8 and kinds.count("eval") == 9 and kinds[-1] == "report"


def test_demo_manifest_parses_and_plans_every_stage():
    s = load_study("demo")
    keys = [st.key for st in build_stages(s, Path("brd-demo"))]
    assert keys[:3] == ["ingest", "teacher", "annotate"]
    assert {"mix:further", "mix:brd", "mix:brd-no-ner", "train:brd", "eval:SmolLM2-135M-Instruct", "report"} <= set(
        keys
    )
    # rows are labelled with the models they are: the untrained row is the instruct teacher's weights
    assert [r.label for r in s.rows][0] == "SmolLM2-135M-Instruct" and s.student.model is None
    # the students keep OUT/model, and it is what the evaluation scores
    stages = build_stages(s, Path("brd-demo"))
    assert "--no-keep-final-checkpoint" in next(st for st in stages if st.key == "train:brd").argv
    brd_eval = next(st for st in stages if st.key == "eval:SmolLM2-135M-Instruct-BRD")
    assert brd_eval.argv[brd_eval.argv.index("--model") + 1].endswith("students/brd/model")
    # the tables' normalisation is the study's, passed to every evaluation: §3.3's per-word average
    evals = [st for st in stages if st.kind == "eval"]
    assert s.evaluation.selection == "word" and all(st.argv[st.argv.index("--select") + 1] == "word" for st in evals)


def test_dry_run_prints_the_plan_with_costs_and_creates_nothing(brd, tmp_path):
    store = tmp_path / "store"
    out = brd("study", "manifests/studies/paper.yaml", "--dry-run", "--store", str(store))
    text = " ".join(out.stdout.split())
    assert "28 stages" in text
    assert "3,000,000 requests" in text and "prompt tokens" in text and "completion tokens" in text
    assert "GPU-hours" in text and "output tokens/s" in text
    assert "brd annotate --store" in text and "accelerate launch" in text and "brd report" in text
    assert not store.exists()


BAD = [
    ("rows: []\n", "`rows` is empty"),
    (
        "rows: [{label: A}]\nevaluation: {tasks: {rte: sample}}\nteachr: {}\n",
        "unknown key 'teachr'; allowed: corpus, data_size_curve",
    ),
    ("rows: [{label: A, mixture: brd-typo}]\nevaluation: {tasks: {rte: sample}}\n", "unknown mixture 'brd-typo'"),
    ("rows: [{label: A}]\nevaluation: {tasks: {mnli: sample}}\n", "unknown task 'mnli'"),
    ("rows: [{label: A}]\nevaluation: {tasks: {rte: sample}}\ntraining: {max_steps: 0}\n", "training.max_steps"),
    ("rows: [{label: A}]\nevaluation: {tasks: {rte: sample}}\nexecutor: {kind: k8s}\n", "executor.kind"),
    ("rows: [{label: A}, {label: A}]\nevaluation: {tasks: {rte: sample}}\n", "row labels repeat"),
    ("rows: [{label: A}]\n", "evaluation names no tasks"),
    ("rows: [{label: A}\n", "invalid YAML"),
    (
        "rows: [{label: A}]\nevaluation: {tasks: {rte: sample}, selection: words}\n",
        "evaluation.selection: should be 'word'",
    ),
    ("rows: [{label: A}]\nevaluation: {tasks: {rte: sample}, baseline: B}\n", "evaluation.baseline 'B' is not a row"),
    ("rows: [{label: A}]\nevaluation: {bigbench: [sample], bigbench_set: nope}\n", "unknown BIG-bench task set 'nope'"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_manifests_name_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(StudyError) as err:
        load_study(path)
    assert str(err.value).startswith(str(path)) and message in str(err.value)


def test_unknown_study_name_lists_the_valid_ones(brd):
    out = brd("study", "papr", "--dry-run", check=False)
    assert out.returncode == 1 and out.stderr.strip() == "error: unknown study 'papr'; valid: demo, paper"
