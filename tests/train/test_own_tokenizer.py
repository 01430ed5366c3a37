"""A student whose tokenizer is not the teacher's: a tiny model over a vocabulary trained here,
offline. The mixture stores text; `brd mix build --tokenizer STUDENT` measures it with the
student's tokenizer, and `brd train` takes it without --allow-tokenizer-mismatch."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_brd
from tests.mix.annotated import annotate_store

from .conftest import refuse, train
from .helpers import sample_paragraphs


@pytest.fixture(scope="module")
def own_student(tmp_path_factory):
    from brd_train.train.tiny import make_tiny_student, make_tiny_tokenizer

    root = tmp_path_factory.mktemp("own")
    tok = make_tiny_tokenizer(root / "tok", sample_paragraphs(), vocab_size=700, byte_level=False)
    return make_tiny_student(root / "student", tok, context=256)


@pytest.fixture(scope="module")
def annotated_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store") / "store"
    run_brd("ingest", "--store", root)
    annotate_store(root)
    return root


def test_a_mixture_built_for_the_student_trains_it(own_student, annotated_store, teacher_dir, tmp_path):
    from transformers import AutoTokenizer

    from brd_data.contracts.tokenizers import tokenizer_fingerprint

    student_fp = tokenizer_fingerprint(AutoTokenizer.from_pretrained(own_student))
    teacher_fp = tokenizer_fingerprint(AutoTokenizer.from_pretrained(teacher_dir))
    assert student_fp != teacher_fp and len(AutoTokenizer.from_pretrained(own_student)) == 700

    def build(out, *extra):
        run_brd("mix", "build", "further", "--store", annotated_store, "--out", out, "-q", *extra)
        return json.loads((out / "manifest.json").read_text())

    for_teacher = build(tmp_path / "further-teacher")
    for_student = build(tmp_path / "further-student", "--tokenizer", str(own_student))
    # the same text, measured with each tokenizer
    assert for_student["tokenizer_fingerprint"] == student_fp and for_teacher["tokenizer_fingerprint"] == teacher_fp
    assert for_student["rows"] == for_teacher["rows"] and for_student["shards"] != []
    assert [s["sha256"] for s in for_student["shards"]] == [s["sha256"] for s in for_teacher["shards"]]
    assert for_student["tokens"] != for_teacher["tokens"] and for_student["mixture_hash"] != for_teacher["mixture_hash"]
    assert for_student["token_count"]["method"] == "exact"

    # train refuses the teacher-measured mixture for this student, and takes the one built for it
    out = refuse("--mix", tmp_path / "further-teacher", "--student", own_student, "--out", tmp_path / "refused")
    assert out.returncode == 1 and "--allow-tokenizer-mismatch" in out.stderr and student_fp in out.stderr
    out_dir = tmp_path / "trained"
    train(
        "--mix", tmp_path / "further-student", "--student", own_student, "--out", out_dir,
        "--store", tmp_path / "train-store", "--max-steps", "2", "--save-steps", "2",
    )  # fmt: skip
    lin = json.loads((out_dir / "checkpoint-2" / "brd_lineage.json").read_text())
    assert lin["tokenizer"]["match"] is True and lin["tokenizer"]["student_tokenizer_fingerprint"] == student_fp
    assert lin["config"]["allow_tokenizer_mismatch"] is False and lin["config"]["packing"] is False
