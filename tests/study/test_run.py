"""A shortened end-to-end `brd study`: every stage runs as the real `brd` command on a real store,
the scripted OpenAI server stands in for the teacher (the vLLM path is covered by
tests/annotate/test_vllm.py), and a tiny random Llama is the student. Then a second run skips
everything it can, and the table traces back to train_runs and the mixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.annotate.openai_fake import FakeOpenAI
from tests.conftest import run_brd

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def teacher():
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from brd_data.contracts.models import prepare
    from brd_train.train.tiny import make_tiny_student

    return make_tiny_student(tmp_path_factory.mktemp("student") / "tiny", prepare(), context=256)


def write_study(path: Path, url: str, student: Path) -> Path:
    study = {
        "name": "mini",
        "description": "shortened demo",
        "corpus": {"paths": ["sample"], "passage_sentences": 3},
        "teacher": {
            "behaviours": ["ner", "qra"],
            "limit": 24,
            "extra_args": ["--endpoint", url, "--lang", "en", "--no-progress"],
        },
        "student": {"model": str(student), "label": "Tiny"},
        "training": {
            "max_steps": 2,
            "batch_size": 2,
            "max_length": 128,
            "save_steps": 2,
            "extra_args": ["--no-gradient-checkpointing", "--logging-steps", "1", "--no-keep-final-checkpoint"],
        },
        "rows": [
            {"label": "Tiny"},
            {"label": "Tiny-FURTHER", "mixture": "further"},
            {"label": "Tiny-BRD", "mixture": "brd"},
            # the scripted teacher's answers hold no sentiment word: the filter removes nothing
            {"label": "Tiny-SentData", "mixture": "brd-no-sent"},
        ],
        "evaluation": {"tasks": {"rte": "sample", "sst2": "sample"}, "bigbench": ["sample"], "limit": 4},
    }
    path.write_text(yaml.safe_dump(study), encoding="utf-8")
    return path


def test_study_runs_every_stage_then_resumes(tmp_path, teacher, tiny):
    manifest = write_study(tmp_path / "mini.yaml", teacher.url, tiny)
    store = tmp_path / "store"
    env = {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    first = run_brd("study", str(manifest), "--store", str(store), env=env, timeout=1500)
    out = first.stdout
    assert "Time per stage" in out and "report:" in out
    for key in ("ingest", "annotate", "mix:further", "mix:brd", "train:brd", "eval:Tiny-BRD", "report"):
        assert key in out, key
    # the teacher read the first 24 English sentences per behaviour, nothing else
    assert len(teacher.requests) == 48
    # the results table: one row per study row, RTE / SST-2 / BIG-bench-Avg / Average, numbers in [0, 100]
    table = [line for line in out.splitlines() if line.startswith(("│ Tiny", "| Tiny"))]
    assert [line.split("│" if "│" in line else "|")[1].strip() for line in table] == [
        "Tiny",
        "Tiny-FURTHER",
        "Tiny-BRD",
        "Tiny-SentData",
    ]
    report = (store / "report" / "README.md").read_text()
    # the ablation that removed nothing is flagged, with why, in the report and on the terminal
    removed = json.loads(
        run_brd(
            "sql", "--store", str(store), "-f", "json",
            "select count(*) filter (where n_items_removed > 0) as changed, count(*) as answers "
            "from qra_without_sentiment where usable",
        ).stdout
    )[0]  # fmt: skip
    assert removed["changed"] == 0 and removed["answers"] > 0
    flag = f"Tiny-SentData: the sentiment filter removed 0 of {removed['answers']} QRA answers"
    assert flag in report and flag in out, report
    assert "same" in report and "identical training data" in report and "Tiny-BRD" in report
    sent, brd = (json.loads((store / "mixtures" / m / "manifest.json").read_text()) for m in ("brd-no-sent", "brd"))
    assert sent["content_hash"] == brd["content_hash"] and sent["rows"] == brd["rows"]
    for label in ("Tiny-FURTHER", "Tiny-BRD"):  # the rows with data of their own are not flagged as the same data
        assert not [line for line in report.splitlines() if f"**{label}:" in line and "training data" in line]
    # each student folder holds the final model only; the evaluation added its scores to the card
    final = store / "students" / "brd" / "model"
    assert not list((store / "students" / "brd").glob("checkpoint-*")) and (final / "model.safetensors").is_file()
    card = (final / "README.md").read_text()
    assert "| rte |" in card and "Not evaluated yet" not in card
    assert "| Model | RTE | SST-2 | BIG-bench-Avg | Average |" in report
    # every trained row traces to its train run and mixture hash
    brd_hash = json.loads((store / "mixtures" / "brd" / "manifest.json").read_text())["mixture_hash"]
    lineage = [line for line in report.splitlines() if line.startswith("| Tiny-BRD |") and brd_hash in line]
    assert lineage, report
    rows = json.loads(
        run_brd(
            "sql",
            "--store",
            str(store),
            "--format",
            "json",
            "select r.model, t.mixture_hash from eval_results r join train_runs t "
            "using (train_run_id) group by all order by 2",
        ).stdout
    )
    assert {r["mixture_hash"] for r in rows} == {
        json.loads((store / "mixtures" / m / "manifest.json").read_text())["mixture_hash"]
        for m in ("further", "brd", "brd-no-sent")
    }

    # second run: ingest and annotate find nothing to do, training and evaluation are skipped
    before = len(teacher.requests)
    second = run_brd("study", str(manifest), "--store", str(store), env=env, timeout=900).stdout
    assert len(teacher.requests) == before
    for key in ("train:further", "train:brd", "eval:Tiny", "eval:Tiny-FURTHER", "eval:Tiny-BRD", "eval:Tiny-SentData"):
        assert f"skip {key}:" in second, key
    assert "nothing to do" in second
