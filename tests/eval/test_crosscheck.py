"""brd's per-candidate log-probabilities, as `brd eval` computes them (the packed shared-prompt
scorer), against transformers' own logits on the joined text, on a real model (SmolLM2-135M) and
real BIG-bench prompt/candidate pairs. bench/eval_crosscheck.py makes the same comparison against
lm-evaluation-harness (a dev-only install)."""

from __future__ import annotations

import pytest

from brd_data.contracts.bigbench import NotMultipleChoice, load_taskset, read_task_folder
from brd_train.eval.scoring import PackedScorer, Request

pytestmark = pytest.mark.slow

PAIRS = 100  # 400 in bench/eval_crosscheck.py (against lm-eval); here CI time stays near a minute


def plain_logprob(model, tok, prompt: str, cont: str) -> tuple[float, int]:
    """log P(cont | prompt) from one plain transformers forward pass over the joined text (no
    mask, no position ids, every logit), the candidate's tokens being, by definition, those whose
    characters end past the prompt."""
    import torch

    enc = tok(prompt + cont, add_special_tokens=False, return_offsets_mapping=True)
    ids = enc["input_ids"]
    n_ctx = next(i for i, (_, end) in enumerate(enc["offset_mapping"]) if end > len(prompt))
    logits = model(torch.tensor([ids])).logits[0, n_ctx - 1 : len(ids) - 1].float()
    logp = torch.log_softmax(logits, -1).gather(-1, torch.tensor(ids[n_ctx:]).unsqueeze(-1))
    return float(logp.double().sum()), len(ids) - n_ctx


def test_packed_scores_equal_transformers_logits_on_real_pairs(bigbench_tasks):
    import torch

    from brd_data.annotate.teacher import prepare
    from brd_train.eval.models import load_model

    pairs = []
    for name in load_taskset("fixed-answer").tasks:
        if len(pairs) >= PAIRS:
            break
        try:
            files, _ = read_task_folder(bigbench_tasks / name, limit=1)
        except NotMultipleChoice:
            continue
        ex = files[0].examples[0]
        if ex.prompt and len(ex.prompt) < 500:
            pairs += [(f"{name} {ex.position}", ex.prompt, c) for c in ex.candidates[:3]]
    pairs = pairs[:PAIRS]
    assert len(pairs) == PAIRS
    model, tok = load_model(prepare(), "cpu", "float32")
    ours = PackedScorer(model, tok, batch_size=8).score([Request(w, p, (c,)) for w, p, c in pairs])
    worst = (0.0, "")
    with torch.inference_mode():
        for (where, prompt, cont), (mine,) in zip(pairs, ours):
            expected, n = plain_logprob(model, tok, prompt, cont)
            assert mine.n_tokens == n, where
            worst = max(worst, (abs(mine.logprob_sum - expected), where))
    print(
        f"\n{len(pairs)} real pairs, SmolLM2-135M float32: largest |brd - transformers| "
        f"{worst[0]:.2e} nats ({worst[1]})"
    )
    assert worst[0] < 1e-3
