"""Training a tiny random Llama on hand-made mixtures, on CPU, through the real `brd train`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brd_data.store import Store
from brd_data.store.lock import WriterLock
from tests.conftest import run_brd

from .conftest import train

pytestmark = pytest.mark.slow


def losses(out: Path) -> dict[int, float]:
    """Step -> logged training loss, from the trainer's own state in the last checkpoint."""
    last = max(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    state = json.loads((last / "trainer_state.json").read_text())
    return {e["step"]: e["loss"] for e in state["log_history"] if "loss" in e}


def store_rows(store: Path, sql: str, params=()) -> list[tuple]:
    with Store(store).reader() as con:
        return con.execute(sql, list(params)).fetchall()


@pytest.fixture(scope="module")
def run_a(tmp_path_factory, tiny_student, lm_mix):
    """6 steps in one go, a checkpoint every 2."""
    root = tmp_path_factory.mktemp("run_a")
    proc = train(
        "--mix",
        lm_mix,
        "--student",
        tiny_student,
        "--out",
        root / "out",
        "--store",
        root / "store",
        "--max-steps",
        "6",
        "--save-steps",
        "2",
    )
    return root / "out", root / "store", proc


def test_lm_run_trains_saves_and_records(run_a, lm_mix):
    out, store, proc = run_a
    # checkpoints at the set interval, each a loadable model folder with its lineage
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4", "checkpoint-6"]
    run = json.loads((out / "brd_train.json").read_text())
    manifest = json.loads((lm_mix / "manifest.json").read_text())
    for step in (2, 4, 6):
        folder = out / f"checkpoint-{step}"
        assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
        lin = json.loads((folder / "brd_lineage.json").read_text())
        assert {
            "train_run_id",
            "mixture_hash",
            "mixture_dir",
            "student_origin",
            "config",
            "code_version",
            "step",
        } <= set(lin)
        assert lin["step"] == step and lin["train_run_id"] == run["train_run_id"]
        assert lin["mixture_hash"] == manifest["mixture_hash"] and lin["mixture_dir"] == str(lm_mix.resolve())
        assert lin["config"]["learning_rate"] == 1e-3 and lin["config"]["max_length"] == 128
        # the paper's batch (A.1): one passage per sequence, unpacked, and the lineage says so
        assert lin["config"]["packing"] is False and lin["config"]["packing_strategy"] is None
        assert lin["config"]["derived"]["loss"] == "whole passage"
        assert lin["student_origin"]["lineage"] is None and lin["tokenizer"]["match"] is True
    # the loss goes down
    ls = losses(out)
    assert sorted(ls) == [1, 2, 3, 4, 5, 6]
    assert ls[6] < ls[1] - 0.05, ls
    assert (out / "loss.png").stat().st_size > 1000
    assert run["status"] == "succeeded" and run["last_step"] == 6 and run["final_loss"] == pytest.approx(ls[6])
    # the store: runs, train_runs and train_checkpoints
    (row,) = store_rows(
        store,
        "select status, mixture_hash, mixture_name, mixture_kind, student, last_step, "
        "final_loss, final_checkpoint, run_ids, output_dir from train_runs",
    )
    assert row[:4] == ("succeeded", manifest["mixture_hash"], "tiny-lm", "lm")
    assert row[5] == 6 and row[6] == pytest.approx(ls[6]) and row[7] == str((out / "model").resolve())
    assert row[8] == [run["train_run_id"]] and row[9] == str(out.resolve())
    cps = store_rows(store, "select step, path, loss, removed_at from train_checkpoints order by step")
    assert [(s, Path(p).name) for s, p, _, _ in cps] == [(2, "checkpoint-2"), (4, "checkpoint-4"), (6, "checkpoint-6")]
    assert all(r[3] is None for r in cps) and cps[-1][2] == pytest.approx(ls[6])
    ((status, counts),) = store_rows(
        store, "select status, row_counts from runs where run_id = ?", [run["train_run_id"]]
    )
    assert status == "succeeded" and json.loads(counts) == {"checkpoints": 3, "last_step": 6}
    assert "Training runs" in run_brd("status", "--store", store).stdout


def test_the_final_student_folder_holds_the_model_tokenizer_lineage_and_brds_card(run_a, lm_mix):
    out, _store, proc = run_a
    # one progress display of brd's own; none of the libraries' bars or log dicts
    assert "training on tiny-lm" in proc.stderr
    for noise in ("Adding EOS", "Packing train dataset", "Loading weights", "{'loss'", "Tokenizing train"):
        assert noise not in proc.stdout + proc.stderr, noise
    final = out / "model"
    names = {p.name for p in final.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "brd_lineage.json", "README.md"} <= names
    assert not names & {"optimizer.pt", "scheduler.pt", "trainer_state.json", "training_args.bin"}
    assert not any(n.startswith("rng_state") for n in names)
    # the same weights as the last checkpoint, which keeps the trainer's state to resume
    assert (final / "model.safetensors").read_bytes() == (out / "checkpoint-6" / "model.safetensors").read_bytes()
    assert (out / "checkpoint-6" / "optimizer.pt").is_file()
    # brd's card, not TRL's ("fine-tuned version of [None]")
    manifest = json.loads((lm_mix / "manifest.json").read_text())
    card = (final / "README.md").read_text()
    assert "brd model card" in card and manifest["mixture_hash"] in card and "| steps | 6 of 6" in card
    assert "None](https://huggingface.co/None)" not in card and not (out / "README.md").exists()
    assert "Not evaluated yet" in card
    lineage = json.loads((final / "brd_lineage.json").read_text())
    assert lineage["step"] == 6 and lineage["mixture_hash"] == manifest["mixture_hash"]


def test_without_the_final_checkpoint_only_the_student_folder_stays(tmp_path, tiny_student, lm_mix):
    out, store = tmp_path / "out", tmp_path / "store"
    train(
        "--mix", lm_mix, "--student", tiny_student, "--out", out, "--store", store,
        "--max-steps", "2", "--save-steps", "1", "--no-keep-final-checkpoint",
    )  # fmt: skip
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-1"]
    assert (out / "model" / "model.safetensors").is_file()
    cps = store_rows(store, "select step, removed_at is not null from train_checkpoints order by step")
    assert cps == [(1, False), (2, True)]
    assert store_rows(store, "select final_checkpoint from train_runs") == [(str((out / "model").resolve()),)]


def test_resume_continues_the_data_order_and_step_count(run_a, tmp_path, tiny_student, lm_mix):
    """Stop at step 4, resume: steps 5-6 see the same batches and optimiser state as the
    uninterrupted run, so their losses and the final weights are the same."""
    out_a, _, _ = run_a
    out, store = tmp_path / "out", tmp_path / "store"
    first = train(
        "--mix",
        lm_mix,
        "--student",
        tiny_student,
        "--out",
        out,
        "--store",
        store,
        "--max-steps",
        "6",
        "--save-steps",
        "2",
        "--stop-at-step",
        "4",
    )
    assert "stopped" in first.stdout
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    assert store_rows(store, "select status, last_step from train_runs") == [("stopped", 4)]

    # a setting that fixes the data order cannot change on resume
    bad = train("--resume", "--out", out, "--store", store, "--seed", "7", check=False)
    assert bad.returncode == 1 and "--seed 7 differs from the run's 42" in bad.stderr

    # --mix, --student and the settings come from the run itself
    second = run_brd("train", "--resume", "--out", out, "--store", store, env={"OMP_NUM_THREADS": "1"})
    assert "succeeded" in second.stdout
    a, b = losses(out_a), losses(out)
    assert sorted(b) == [1, 2, 3, 4, 5, 6]
    for step in (1, 2, 3, 4, 5, 6):
        assert b[step] == pytest.approx(a[step], rel=1e-5), (step, a, b)
    state = json.loads((out / "checkpoint-6" / "trainer_state.json").read_text())
    assert state["global_step"] == 6

    from safetensors.torch import load_file

    wa = load_file(out_a / "checkpoint-6" / "model.safetensors")
    wb = load_file(out / "checkpoint-6" / "model.safetensors")
    assert wa.keys() == wb.keys()
    assert all((wa[k] - wb[k]).abs().max().item() < 1e-5 for k in wa)

    run = json.loads((out / "brd_train.json").read_text())
    assert len(run["run_ids"]) == 2 and run["run_ids"][0] == run["train_run_id"]
    (row,) = store_rows(store, "select status, last_step, run_ids from train_runs")
    assert row[0] == "succeeded" and row[1] == 6 and row[2] == run["run_ids"]
    assert [r[0] for r in store_rows(store, "select step from train_checkpoints order by step")] == [2, 4, 6]
    # the checkpoints after the resume were written by the second command
    lin6 = json.loads((out / "checkpoint-6" / "brd_lineage.json").read_text())
    assert lin6["run_id"] == run["run_ids"][1] and lin6["train_run_id"] == run["train_run_id"]

    # a finished run resumed (into a store that missed it) is recorded without training
    again = run_brd("train", "--resume", "--out", out, "--store", tmp_path / "other-store")
    assert "already reached step 6" in again.stderr and "checkpoint-" not in again.stderr
    assert store_rows(tmp_path / "other-store", "select status, last_step from train_runs") == [("succeeded", 6)]
    assert [r[0] for r in store_rows(tmp_path / "other-store", "select step from train_checkpoints order by step")] == [
        2,
        4,
        6,
    ]


def test_sft_continued_from_a_brd_checkpoint(run_a, tmp_path, sft_mix):
    """BRD then SFT: the student is a `brd train` checkpoint; the chain of origins is kept."""
    out_a, _, _ = run_a
    parent = json.loads((out_a / "checkpoint-6" / "brd_lineage.json").read_text())
    out, store = tmp_path / "out", tmp_path / "store"
    train(
        "--mix",
        sft_mix,
        "--student",
        out_a / "checkpoint-6",
        "--out",
        out,
        "--store",
        store,
        "--max-steps",
        "2",
        "--save-steps",
        "1",
        "--save-total-limit",
        "1",
    )
    # the rotation deleted checkpoint-1; its row stays, marked removed
    assert [p.name for p in out.glob("checkpoint-*")] == ["checkpoint-2"]
    assert store_rows(store, "select step, removed_at is not null from train_checkpoints order by step") == [
        (1, True),
        (2, False),
    ]
    lin = json.loads((out / "checkpoint-2" / "brd_lineage.json").read_text())
    assert lin["mixture_kind"] == "sft" and lin["config"]["derived"]["loss"] == "completion only"
    assert lin["config"]["packing"] is False and lin["config"]["packing_strategy"] is None
    origin = lin["student_origin"]
    assert origin["model"] == str((out_a / "checkpoint-6").resolve())
    assert origin["lineage"]["train_run_id"] == parent["train_run_id"] and origin["lineage"]["step"] == 6
    assert origin["lineage"]["student_origin"]["lineage"] is None  # the chain ends at the random student
    assert store_rows(store, "select parent_train_run_id, parent_step, mixture_kind, status from train_runs") == [
        (parent["train_run_id"], 6, "sft", "succeeded")
    ]


def test_sft_mixture_masks_the_prompt(tmp_path, tiny_student, sft_mix):
    """The labels of an sft mixture are -100 over the prompt and the token ids over the
    completion, unpacked and packed alike."""
    from transformers import AutoTokenizer

    from brd_train.train import TrainConfig, prepare
    from brd_train.train.mixture import read_mixture
    from brd_train.train.runner import build_trainer, load_student_model

    tok = AutoTokenizer.from_pretrained(tiny_student)
    rows = read_mixture(sft_mix).load_dataset(tmp_path / "cache")
    prompt_lens = [len(tok(r["prompt"])["input_ids"]) for r in rows]

    cfg = TrainConfig(
        mix=sft_mix, student=str(tiny_student), out=tmp_path / "unpacked", max_length=128, max_steps=1
    )  # unpacked: the default
    prep = prepare(cfg)
    ds = build_trainer(prep, load_student_model(prep)).train_dataset
    assert len(ds) == len(rows)
    n_completion = 0
    for ex, plen, r in zip(ds, prompt_lens, rows):
        ids, labels = ex["input_ids"], ex["labels"]
        assert labels[:plen] == [-100] * plen, r["prompt"]
        assert labels[plen:] == ids[plen:] and ids[-1] == tok.eos_token_id
        assert tok.decode(ids[plen:-1]) == r["completion"]
        n_completion += len(ids) - plen

    packed_prep = prepare(
        TrainConfig(
            mix=sft_mix, student=str(tiny_student), out=tmp_path / "packed", max_length=128, max_steps=1, packing=True
        )
    )
    packed = build_trainer(packed_prep, load_student_model(packed_prep)).train_dataset
    assert len(packed) < len(rows)  # several examples per row
    assert sum(sum(lb != -100 for lb in ex["labels"]) for ex in packed) == n_completion
    assert sum(len(ex["input_ids"]) for ex in packed) == sum(len(ex["input_ids"]) for ex in ds)


def test_training_takes_the_writer_lock_only_briefly(tmp_path, tiny_student, lm_mix):
    """Between its short writes the store stays free for other writers; while another writer
    holds it, a checkpoint's record waits for the next one instead of failing the run."""
    from brd_data.contracts.runs import StageRun
    from brd_train.train.record import StoreRecorder

    store = tmp_path / "store"
    with StageRun(Store(store), "train", {"test": True}) as stage:
        rec = StoreRecorder(stage, echo=lambda m: None)
        run_id = stage.run_id
        with Store(store).writer("ingest"):  # free right after start()
            pass
        run = {
            "train_run_id": run_id,
            "mixture_hash": "h",
            "mixture_name": "m",
            "mixture_kind": "lm",
            "mixture_dir": str(lm_mix),
            "manifest_sha256": "s",
            "student": str(tiny_student),
            "student_fingerprint": "f",
            "parent_train_run_id": None,
            "parent_step": None,
            "output_dir": str(tmp_path / "out"),
            "config": {},
            "max_steps": 10,
            "started_at": "2026-01-01 00:00:00",
        }
        other = WriterLock(Store(store).lock_path, "ingest")
        other.acquire()
        try:
            assert rec.sync(run, status="running") is False
        finally:
            other.release()
        assert rec.sync(run, status="running") is True
        assert store_rows(store, "select train_run_id, status from train_runs") == [(run_id, "running")]


def test_two_processes_train_as_one_data_parallel_group(run_a, tmp_path, tiny_student, lm_mix):
    """torchrun with 2 CPU processes (gloo): --batch-size is the global batch, so the losses
    match the single-process run; only rank 0 writes lineage and the store."""
    import os
    import subprocess
    import sys

    out_a, _, _ = run_a
    out, store = tmp_path / "out", tmp_path / "store"
    from .conftest import ENV, SMALL

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29517",
            "-m",
            "brd_data",
            "train",
            *SMALL,
            "--mix",
            str(lm_mix),
            "--student",
            str(tiny_student),
            "--out",
            str(out),
            "--store",
            str(store),
            "--max-steps",
            "2",
            "--save-steps",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, **ENV},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("training run ") == 1  # rank 0 alone reports
    ckpt = out / "checkpoint-2"
    assert (ckpt / "rng_state_0.pth").is_file() and (ckpt / "rng_state_1.pth").is_file()
    lin = json.loads((ckpt / "brd_lineage.json").read_text())
    assert lin["config"]["derived"]["world_size"] == 2 and lin["config"]["derived"]["per_device_batch_size"] == 2
    a, b = losses(out_a), losses(out)
    assert b[1] == pytest.approx(a[1], rel=1e-4) and b[2] == pytest.approx(a[2], rel=1e-4), (a, b)
    assert store_rows(store, "select count(*) from train_runs") == [(1,)]
    assert store_rows(store, "select count(*), min(status) from runs") == [(1, "succeeded")]
