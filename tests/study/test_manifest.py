"""Study manifests: the shipped ones parse, bad ones fail with one line naming file and key, and
`brd study paper --dry-run` prints every stage with its cost without touching a store."""

from __future__ import annotations

from pathlib import Path

import pytest

from brd_data.contracts.schemas.study import StudyError, load_study
from brd_train.study.graph import build_graph
from brd_train.study.plan import build_stages


def test_paper_manifest_is_the_papers_grid():
    s = load_study("paper")
    assert "vicuna-13b" in s.teacher.model and s.teacher.behaviours == ["ner-vicuna", "qra-vicuna"]
    assert s.corpus.passages == 1_000_000 and s.corpus.passage_sentences == 3
    assert s.models["XGLM-564M"].model == "facebook/xglm-564M" and s.models["XGLM-7.5B"].model == "facebook/xglm-7.5B"
    assert s.models["XGLM-564M-FURTHER"].max_steps == 18_000  # §4.3
    gpt2 = [n for n, m in s.models.items() if "gpt2" in n and not m.trained]
    assert len(gpt2) == 6 and all(s.tokenizer_of(n) == "gpt2" and s.models[n].max_length == 1024 for n in gpt2)
    assert list(s.tables) == [
        "table3", "table4", "table5", "table6", "table7", "table9", "table10", "figure2", "figure3", "figure4"
    ]  # fmt: skip
    assert [p.setting for p in s.tables["table3"].parts] == ["blind", "blind", "relaxed", "supervised"]
    assert [r.model for r in s.tables["table7"].parts[0].rows] == ["XGLM-BRD2", "-NER", "-QRA"]
    assert s.models["-NER"].data == "tasks" and s.models["-NER"].mixture == "brd2-no-ner"  # on the BRD² task data
    assert max(s.tables["figure2"].curve) > s.corpus.passages  # the curve goes past 1M
    assert set(s.evaluation.tasks) == {"xnli", "rte", "cb", "pawsx", "boolq", "sst2"} and s.evaluation.bigbench
    assert s.evaluation.bigbench_set == "fixed-answer" and s.task_data.bigbench_set == "reduced"
    assert (
        s.training.learning_rate,
        s.training.batch_size,
        s.training.max_length,
        s.training.max_steps,
        s.training.save_steps,
    ) == (3e-4, 8, 2048, 40_000, 1_000)
    assert len(s.assumptions) >= 5
    stages = build_graph(s, Path("/tmp/never-created"))
    kinds = [st.kind for st in stages]
    assert kinds.count("train") == 21 and kinds.count("eval") == 30 and kinds.count("choose") == 7
    assert kinds[-1] == "report" and {t for st in stages for t in st.feeds} == set(s.tables)
    assert all(st.key.split(":")[0] in s.tables for st in stages)  # each named after the first table it feeds
    # a mixture per (mixture, tokenizer of its students): GPT-2's +BRD rows get their own D_TRAIN build
    mixes = {st.argv[st.argv.index("--tokenizer") + 1] for st in stages if st.kind == "mix"}
    assert mixes == {"facebook/xglm-564M", "gpt2"}
    train = [st for st in stages if st.kind == "train"]
    assert all("--allow-tokenizer-mismatch" not in st.argv and "--packing" not in st.argv for st in train)


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
    assert "89 stages" in text and "assumptions (what the paper leaves unsaid)" in text
    assert "6,000,000 requests (2,000,000 passages x 3)" in text and "prompt tokens" in text
    assert "GPU-hours per 1B output tokens" in text and "tokens/s/GPU" in text and "total:" in text
    assert "brd annotate --store" in text and "accelerate launch" in text and "brd report" in text
    assert "missing: corpus file" in text and "needs the hub: model XGLM-564M facebook/xglm-564M" in text
    # the missing BIG-bench folder says how to get it, and where `brd bigbench fetch` puts it
    (line,) = [ln for ln in out.stdout.splitlines() if "missing: BIG-bench folder" in ln]
    assert "brd bigbench fetch" in line and "evaluation.bigbench" in line and "benchmark_tasks" in line
    assert not store.exists()


BAD = [
    ("rows: []\n", "`rows` is empty"),
    (
        "rows: [{label: A}]\nevaluation: {tasks: {rte: sample}}\nteachr: {}\n",
        "unknown key 'teachr'; allowed: assumptions, corpus, data_size_curve",
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
        "evaluation.selection: should be 'word', 'mean', 'char' or 'sum' (got 'words')",
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
