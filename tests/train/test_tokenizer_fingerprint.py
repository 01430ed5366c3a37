"""`brd mix build` and `brd train` must agree on what "the same tokenizer" is: a mixture built with
the embedded teacher's tokenizer trains a student that has it, without --allow-tokenizer-mismatch."""

from __future__ import annotations

import json
import shutil

from brd_data.contracts.tokenizers import tokenizer_fingerprint
from brd_data.mix.tokens import load_token_counter


def test_mix_and_train_fingerprints_agree(teacher_dir):
    from transformers import AutoTokenizer

    counter = load_token_counter(str(teacher_dir))  # Rust tokenizer.json, as mix reads it
    default = load_token_counter(None)  # the embedded default, by name
    student_tok = AutoTokenizer.from_pretrained(teacher_dir)  # as train loads the student's
    assert counter.fingerprint == default.fingerprint == tokenizer_fingerprint(student_tok)


def test_a_different_vocabulary_changes_the_fingerprint(teacher_dir, tmp_path):
    from transformers import AutoTokenizer

    other = tmp_path / "tok"
    shutil.copytree(teacher_dir, other, ignore=shutil.ignore_patterns("*.safetensors"))
    spec = json.loads((other / "tokenizer.json").read_text())
    spec["model"]["vocab"]["brdnewtoken"] = len(spec["model"]["vocab"])
    (other / "tokenizer.json").write_text(json.dumps(spec))
    assert load_token_counter(str(other)).fingerprint != load_token_counter(str(teacher_dir)).fingerprint
    # padding and truncation settings are not part of it
    tok = AutoTokenizer.from_pretrained(teacher_dir)
    before = tokenizer_fingerprint(tok)
    tok.backend_tokenizer.enable_padding(length=64)
    tok.backend_tokenizer.enable_truncation(max_length=32)
    assert tokenizer_fingerprint(tok) == before
