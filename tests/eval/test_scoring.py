"""§3.3 scoring on a real (tiny) transformers model: exact against a direct computation, the packed
shared-prompt scorer against the per-candidate reference, batching, and token boundaries."""

from __future__ import annotations

import pytest

from brd_train.eval.bigbench import discover
from brd_train.eval.scoring import NaiveScorer, PackedScorer, PairEncoder, Request, ScoringError, packed_agrees, select
from brd_train.eval.tasks import load_template_task

from .conftest import BIGBENCH_DIR, PAPER_TASKS, TASKS_DIR


def requests_of(task):
    return [Request(it.where, it.prompt, it.continuations) for it in task.items]


def direct_logprob_sum(model, tok, prompt: str, continuation: str) -> tuple[float, int]:
    """log P(continuation | prompt) straight from transformers: full logits, log-softmax, sum."""
    import torch

    alone = tok(prompt, add_special_tokens=False)["input_ids"]
    full = tok(prompt + continuation, add_special_tokens=False)["input_ids"]
    # context: the tokens the joined text shares with the prompt alone ("A: " + "nemo" -> "A:", " nemo")
    n_ctx = next((i for i, (a, b) in enumerate(zip(alone, full)) if a != b), len(alone))
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([full])).logits[0], -1)
    total = sum(float(logp[t - 1, full[t]]) for t in range(n_ctx, len(full)))
    return total, len(full) - n_ctx


def test_scores_equal_a_direct_transformers_computation(tiny):
    model, tok = tiny
    task = load_template_task("xnli", str(TASKS_DIR / "xnli.jsonl"), limit=5)
    bb = discover(BIGBENCH_DIR / "emoji_movie", limit=2)[0][0]
    items = task.items + bb.items
    scores = PackedScorer(model, tok, batch_size=4).score(
        [Request(it.where, it.prompt, it.continuations) for it in items]
    )
    for item, cand_scores in zip(items, scores):
        for cont, s in zip(item.continuations, cand_scores):
            expected, n = direct_logprob_sum(model, tok, item.prompt, cont)
            assert s.n_tokens == n
            assert s.logprob_sum == pytest.approx(expected, abs=1e-4)
            assert s.logprob_mean == pytest.approx(expected / n, abs=1e-4)
            assert s.logprob_per_char == pytest.approx(expected / len(cont), abs=1e-4)
            assert s.n_chars == len(cont) and s.n_words == max(1, len(cont.split()))
            assert s.logprob_per_word == pytest.approx(expected / s.n_words, abs=1e-4)
    # the candidates differ, so the prediction is a real choice
    assert len({round(s.logprob_mean, 3) for s in scores[0]}) == 3


def test_packed_predictions_identical_to_one_forward_per_candidate(tiny):
    model, tok = tiny
    tasks = [load_template_task(n, str(TASKS_DIR / f"{n}.jsonl"), limit=12) for n in PAPER_TASKS]
    tasks += discover(BIGBENCH_DIR, limit=8)[0]
    reqs = [r for task in tasks for r in requests_of(task)]
    assert len(reqs) == 6 * 12 + 3 * 8
    reference = NaiveScorer(model, tok).score(reqs)
    # one row per batch, uneven batches, and a token cap that splits batches
    for batch_size, max_tokens in ((1, 100_000), (7, 100_000), (64, 600)):
        packed = PackedScorer(model, tok, batch_size=batch_size, max_batch_tokens=max_tokens).score(reqs)
        for req, ra, rb in zip(reqs, packed, reference):
            assert [x.n_tokens for x in ra] == [y.n_tokens for y in rb]
            assert [x.logprob_sum for x in ra] == pytest.approx([y.logprob_sum for y in rb], abs=1e-4)
            for by in ("word", "mean", "sum", "char"):
                assert select(ra, by) == select(rb, by), (req.key, batch_size)


def test_all_candidates_and_examples_go_through_in_batches(tiny):
    model, tok = tiny
    task = load_template_task("cb", str(TASKS_DIR / "cb.jsonl"))  # 30 examples x 3 candidates
    calls = []
    hook = model.register_forward_pre_hook(
        lambda mod, args, kwargs: calls.append(kwargs["input_ids"].shape), with_kwargs=True
    )
    try:
        PackedScorer(model, tok, batch_size=16).score(requests_of(task))
        packed_calls = list(calls)
        calls.clear()
        NaiveScorer(model, tok).score(requests_of(task)[:4])
    finally:
        hook.remove()
    assert [shape[0] for shape in packed_calls] == [16, 14]  # 2 forward passes for 90 candidates
    assert len(calls) == 4 * 3  # the reference: one per candidate


def test_a_token_straddling_prompt_and_candidate_is_scored_with_the_candidate(tiny):
    model, tok = tiny
    enc = PairEncoder(tok)
    # "Answer: " + "Yes": the prompt's trailing space and "Yes" are one token (" Yes")
    ids, n_ctx = enc.encode("Answer: ", "Yes")
    assert tok.decode(ids[n_ctx:]) == " Yes"
    assert tok.decode(ids[:n_ctx]) == "Answer:"
    # candidates that merge differently with the prompt's last characters still agree with the reference
    reqs = [Request("merge", "The code is ab", ("c", "cd", " then", "12")), Request("space", "Answer: ", ("Yes", "No"))]
    a = PackedScorer(model, tok).score(reqs)
    b = NaiveScorer(model, tok).score(reqs)
    for ra, rb in zip(a, b):
        assert [x.logprob_sum for x in ra] == pytest.approx([y.logprob_sum for y in rb], abs=1e-4)
        assert [x.n_tokens for x in ra] == [y.n_tokens for y in rb]


def test_an_empty_candidate_is_an_error_naming_the_example(tiny):
    model, tok = tiny
    with pytest.raises(ScoringError, match=r"cb.jsonl line 4: empty candidate"):
        PackedScorer(model, tok).score([Request("cb.jsonl line 4", "Premise. Answer:", (" Yes", ""))])


def test_the_packed_layout_is_verified_for_this_architecture(tiny):
    ok, diff = packed_agrees(*tiny)
    assert ok and diff < 1e-4


def test_the_four_normalisations_can_pick_four_different_answers():
    from brd_train.eval.scoring import CandidateScore

    cands = [  # (n_tokens, n_chars, logprob_sum, n_words)
        CandidateScore(1, 10, -1.0, 1),  # sum -1 (best)  mean -1    char -0.1   word -1
        CandidateScore(10, 10, -2.0, 2),  # sum -2         mean -0.2 (best)       word -1
        CandidateScore(4, 100, -3.0, 3),  # sum -3         mean -0.75 char -0.03 (best)
        CandidateScore(8, 10, -4.0, 8),  # sum -4         mean -0.5  char -0.4   word -0.5 (best)
    ]
    assert [select(cands, by) for by in ("sum", "mean", "char", "word")] == [0, 1, 2, 3]
    assert select(cands) == 3  # the default is §3.3 as written: per word


def test_an_empty_prompt_is_conditioned_on_the_start_of_a_text(tiny):
    """BIG-bench's *_no_prompt tasks score sentences alone: the model sees the tokenizer's
    start-of-text token first, as a document would start."""
    model, tok = tiny
    enc = PairEncoder(tok)
    ids, n_ctx = enc.encode("", "The child hurt their knee.")
    assert n_ctx == 1 and ids[0] in (tok.eos_token_id, tok.bos_token_id)
    a = PackedScorer(model, tok).score([Request("no prompt", "", ("A cat.", "A dog sat."))])
    b = NaiveScorer(model, tok).score([Request("no prompt", "", ("A cat.", "A dog sat."))])
    assert [x.logprob_sum for x in a[0]] == pytest.approx([y.logprob_sum for y in b[0]], abs=1e-4)
