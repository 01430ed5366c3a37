"""`brd train` refuses bad input with one clear line, before any training."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from brd_train.train.preflight import OutputError, check_disk, estimate_disk

from .conftest import refuse
from .helpers import lm_rows, write_mixture


def one_line_error(proc, *needles: str) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_missing_mixture_folder(tmp_path, tiny_student):
    proc = refuse(
        "--mix", tmp_path / "nope", "--student", tiny_student, "--out", tmp_path / "out", "--store", tmp_path / "store"
    )
    one_line_error(proc, "does not exist", "brd mix build")
    assert not (tmp_path / "store").exists()


def test_unbuilt_mixture_folders(tmp_path, tiny_student, teacher_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = refuse("--mix", empty, "--student", tiny_student, "--out", tmp_path / "o1", "--store", tmp_path / "s")
    one_line_error(proc, "not a built mixture", "no manifest.json")

    no_data = write_mixture(tmp_path / "nodata", "lm", lm_rows(4), teacher_dir)
    shutil.rmtree(no_data / "data")
    proc = refuse("--mix", no_data, "--student", tiny_student, "--out", tmp_path / "o2", "--store", tmp_path / "s")
    one_line_error(proc, "not a built mixture", "data/train-*.parquet")

    short = write_mixture(tmp_path / "short", "lm", lm_rows(6), teacher_dir, files=2)
    (short / "data" / "train-00001-of-00002.parquet").unlink()
    proc = refuse("--mix", short, "--student", tiny_student, "--out", tmp_path / "o3", "--store", tmp_path / "s")
    one_line_error(proc, "manifest says 6 rows", "holds 3")

    wrong_kind = write_mixture(tmp_path / "kind", "lm", lm_rows(4), teacher_dir)
    m = json.loads((wrong_kind / "manifest.json").read_text())
    (wrong_kind / "manifest.json").write_text(json.dumps({**m, "kind": "sft"}))
    proc = refuse("--mix", wrong_kind, "--student", tiny_student, "--out", tmp_path / "o4", "--store", tmp_path / "s")
    one_line_error(proc, "'sft' mixture needs column(s) prompt, completion")
    assert not (tmp_path / "s").exists()


def test_tokenizer_mismatch_is_flagged(tmp_path, tiny_student, teacher_dir):
    from transformers import AutoTokenizer

    # Same name family, same base vocabulary, one added token: the ids differ, so it is another tokenizer.
    other = tmp_path / "other-tokenizer"
    tok = AutoTokenizer.from_pretrained(teacher_dir)
    tok.add_tokens(["<brd_extra_token>"])
    tok.save_pretrained(other)
    mix = write_mixture(tmp_path / "mix", "lm", lm_rows(4), other)
    proc = refuse("--mix", mix, "--student", tiny_student, "--out", tmp_path / "out", "--store", tmp_path / "s")
    one_line_error(proc, "different one", "vocabulary 49153 vs 49152", "--allow-tokenizer-mismatch")

    # A declared fingerprint is compared without loading anything.
    mix2 = write_mixture(
        tmp_path / "mix2", "lm", lm_rows(4), teacher_dir, extra_manifest={"tokenizer_fingerprint": "0000"}
    )
    proc = refuse("--mix", mix2, "--student", tiny_student, "--out", tmp_path / "out", "--store", tmp_path / "s")
    one_line_error(proc, "fingerprint 0000")


def test_tokenizer_mismatch_can_be_allowed(tmp_path, tiny_student, teacher_dir):
    from brd_train.train import TrainConfig, prepare

    mix = write_mixture(
        tmp_path / "mix", "lm", lm_rows(4), teacher_dir, extra_manifest={"tokenizer_fingerprint": "0000"}
    )
    prep = prepare(
        TrainConfig(
            mix=mix, student=str(tiny_student), out=tmp_path / "out", max_length=128, allow_tokenizer_mismatch=True
        )
    )
    assert prep.tokenizer_info["match"] is False and prep.tokenizer_info["allowed_by"] == "--allow-tokenizer-mismatch"


def test_max_length_beyond_the_students_context(tmp_path, tiny_student, lm_mix):
    proc = refuse(
        "--mix",
        lm_mix,
        "--student",
        tiny_student,
        "--out",
        tmp_path / "out",
        "--store",
        tmp_path / "s",
        "--max-length",
        "1024",
    )
    one_line_error(proc, "--max-length 1024 is larger than the student's context of 512")


@pytest.fixture
def unwritable_dir(tmp_path):
    d = tmp_path / "locked"
    d.mkdir()
    if os.geteuid() != 0:
        d.chmod(0o500)
        yield d
        d.chmod(0o700)
        return
    # root ignores permission bits; the immutable attribute stops it too.
    if subprocess.run(["chattr", "+i", str(d)], capture_output=True).returncode != 0:
        pytest.skip("running as root without chattr: cannot make a folder unwritable")
    yield d
    subprocess.run(["chattr", "-i", str(d)], check=True)


def test_unwritable_output_folder(tmp_path, tiny_student, lm_mix, unwritable_dir):
    proc = refuse("--mix", lm_mix, "--student", tiny_student, "--out", unwritable_dir, "--store", tmp_path / "s")
    one_line_error(proc, f"the output folder {unwritable_dir} is not writable")
    proc = refuse(
        "--mix", lm_mix, "--student", tiny_student, "--out", unwritable_dir / "sub", "--store", tmp_path / "s"
    )
    one_line_error(proc, f"cannot create the output folder {unwritable_dir / 'sub'}")
    assert not (tmp_path / "s").exists()


def test_out_of_space_is_caught_up_front(tmp_path):
    # The paper's run: XGLM-564M, 40 checkpoints of weights + AdamW state, on a 100 GB disk.
    est = estimate_disk(564_000_000, 4, 40_000, 1_000, None, free_bytes=100 * 10**9)
    assert est.checkpoints_kept == 40 and not est.fits
    with pytest.raises(OutputError, match=r"needs about .* \(40 checkpoints of 7\.5 GB\).*--save-total-limit"):
        check_disk(tmp_path, est)
    kept = estimate_disk(564_000_000, 4, 40_000, 1_000, 3, free_bytes=100 * 10**9)
    assert kept.checkpoints_kept == 3 and kept.fits
    check_disk(tmp_path, kept)


def test_resume_needs_a_run_and_a_fresh_run_needs_an_empty_out(tmp_path, tiny_student, lm_mix):
    proc = refuse("--resume", "--out", tmp_path / "empty", "--store", tmp_path / "s")
    one_line_error(proc, "nothing to resume", "brd_train.json")
    proc = refuse("--out", tmp_path / "x", "--store", tmp_path / "s")
    one_line_error(proc, "--mix is required")
    busy = tmp_path / "busy"
    (busy / "checkpoint-2").mkdir(parents=True)
    proc = refuse("--mix", lm_mix, "--student", tiny_student, "--out", busy, "--store", tmp_path / "s")
    one_line_error(proc, "already holds a training run", "--resume")


def test_bad_options_are_one_line(tmp_path, tiny_student, lm_mix):
    proc = refuse(
        "--mix", lm_mix, "--student", tiny_student, "--out", tmp_path / "o", "--batch-size", "6", "--grad-accum", "4"
    )
    one_line_error(proc, "--batch-size 6 is not a multiple of --grad-accum 4")
    proc = refuse("--mix", lm_mix, "--student", tmp_path / "no-such-model", "--out", tmp_path / "o")
    one_line_error(proc, "not a model folder")
    assert not Path(tmp_path / "o").exists()


def test_a_locked_store_or_output_folder_stops_before_training(tmp_path, tiny_student, lm_mix):
    from brd_data.contracts.outputs import OutputKind, mark
    from brd_data.store import Store
    from brd_data.store.lock import WriterLock

    store = tmp_path / "store"
    with Store(store).writer("ingest"):
        proc = refuse("--mix", lm_mix, "--student", tiny_student, "--out", tmp_path / "o1", "--store", store)
    one_line_error(proc, f"store {store} is locked by pid {os.getpid()} (ingest")
    assert not list((tmp_path / "o1").glob("checkpoint-*")) and not (tmp_path / "o1" / "brd_train.json").exists()

    out = tmp_path / "o2"
    out.mkdir()
    mark(out, OutputKind.TRAINING)  # what the other `brd train` wrote first
    other = WriterLock(out / ".brd_train.lock", "brd train")
    other.acquire()
    try:
        proc = refuse("--mix", lm_mix, "--student", tiny_student, "--out", out, "--store", store)
    finally:
        other.release()
    one_line_error(proc, f"{out} is in use by another `brd train`")


def test_a_final_student_folder_brd_did_not_write_stops_before_training(tmp_path, tiny_student, lm_mix):
    from brd_data.contracts.outputs import OutputKind, mark

    out = tmp_path / "o"
    (out / "model").mkdir(parents=True)
    mark(out, OutputKind.TRAINING)
    (out / "model" / "weights.bin").write_bytes(b"the user's")  # OUT/model is where the student goes
    proc = refuse("--mix", lm_mix, "--student", tiny_student, "--out", out, "--store", tmp_path / "store")
    one_line_error(proc, f"final student {out / 'model'}", "not made by brd")
    assert not list(out.glob("checkpoint-*")) and (out / "model" / "weights.bin").read_bytes() == b"the user's"
