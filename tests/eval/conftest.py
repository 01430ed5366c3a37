"""A tiny random-initialised Llama with the embedded teacher's tokenizer, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from brd_data.contracts.paths import samples_dir

TASKS_DIR = samples_dir() / "tasks"
BIGBENCH_DIR = samples_dir() / "bigbench"
PAPER_TASKS = ("xnli", "rte", "cb", "pawsx", "boolq", "sst2")


def build_tiny(out: Path, seed: int) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from brd_data.contracts.models import prepare

    tok = AutoTokenizer.from_pretrained(prepare())
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    model = LlamaForCausalLM(cfg)
    # random init gives near-uniform predictions; larger weights make candidates differ clearly
    with torch.no_grad():
        model.model.embed_tokens.weight.normal_(0, 1.0)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """One thread: on a shared 2-core machine OpenMP workers otherwise spin against each other
    (measured 10-80x slower under load)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("tiny-llama"), seed=0)


@pytest.fixture(scope="session")
def tiny(tiny_dir):
    """(model, tokenizer) loaded the way brd eval loads them."""
    from brd_train.eval.models import load_model

    return load_model(tiny_dir, device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def bigbench_tasks() -> Path:
    """The real BIG-bench task folders (bigbench==1.0.0's benchmark_tasks), fetched once into
    $BRD_BIGBENCH_DIR or ~/.cache/brd/bigbench-1.0.0, outside the repository: about a minute on a
    fresh machine (358 MB from PyPI), nothing afterwards."""
    import time

    from brd_data.tasks.bigbench_fetch import fetch, fetched

    if fetched() is None:
        started = time.monotonic()
        path = fetch(echo=lambda m: print(m, flush=True))
        print(f"bigbench: fetched in {time.monotonic() - started:.0f}s", flush=True)
        return path
    return fetch()
