"""Whole texts through a model in padded batches: shared by the cross-entropy and probe analyses."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from brd_data.contracts.errors import ConfigError

from .models import ModelOptions
from .scoring import leading_special
from .tasks import EvalTask


@dataclass(frozen=True, kw_only=True)
class TextRunConfig(ModelOptions):
    """How whole texts go through a model (the analyses' shared settings)."""

    seed: int = 0
    max_length: int = 1024

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_length < 2:
            raise ConfigError(f"--max-length must be at least 2, got {self.max_length}")


def start_token(tokenizer: Any) -> list[int]:
    """The token a text is conditioned on, so its first token is scored too: the tokenizer's own
    BOS when it adds one, else the end-of-text token (what separates documents in pre-training),
    else BOS; none if the tokenizer has neither."""
    lead = leading_special(tokenizer)
    if lead:
        return lead
    for tid in (tokenizer.eos_token_id, tokenizer.bos_token_id):
        if tid is not None:
            return [int(tid)]
    return []


def encode_texts(tokenizer: Any, texts: Sequence[str], max_length: int, with_start: bool = True) -> list[list[int]]:
    lead = start_token(tokenizer) if with_start else []
    out = []
    for text in texts:
        ids = lead + list(tokenizer(text, add_special_tokens=False)["input_ids"])
        out.append(ids[:max_length])
    return out


def padded_batches(
    encoded: Sequence[list[int]], batch_size: int, pad_id: int, max_tokens: int | None = None
) -> Iterator[tuple[list[int], Any, Any]]:
    """(indices, input_ids, attention_mask), right-padded, longest texts first; a batch holds at
    most `batch_size` texts and, when given, at most `max_tokens` padded tokens (one text at least)."""
    import torch

    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    start = 0
    while start < len(order):
        width = len(encoded[order[start]])
        fit = batch_size if not max_tokens else max(1, min(batch_size, max_tokens // max(width, 1)))
        idx = order[start : start + fit]
        start += len(idx)
        ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for b, i in enumerate(idx):
            ids[b, : len(encoded[i])] = torch.tensor(encoded[i])
            mask[b, : len(encoded[i])] = 1
        yield idx, ids, mask


def pad_id(tokenizer: Any) -> int:
    for tid in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if tid is not None:
            return int(tid)
    return 0


def sample_texts(task: EvalTask, max_texts: int, seed: int) -> list[str]:
    """Up to max_texts prompts of a task, a seeded sample kept in file order."""
    n = len(task.items)
    idx = range(n) if n <= max_texts else sorted(random.Random(f"{seed}:{task.name}").sample(range(n), max_texts))
    return [task.items[i].prompt for i in idx]


# Full logits are texts x tokens x vocabulary floats: XGLM's 256K vocabulary makes 1K tokens 1 GiB.
LOGITS_BUDGET_BYTES = 1 << 30


def mean_token_logprobs(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    batch_size: int,
    max_length: int,
    progress: Callable[[int], None] | None = None,
) -> list[float]:
    """Per text: the average log-probability of its tokens under the model (its own tokenisation)."""
    import torch

    vocab = getattr(model.config, "vocab_size", None) or 256_000
    max_tokens = LOGITS_BUDGET_BYTES // (4 * vocab)

    encoded = encode_texts(tokenizer, texts, max_length)
    for i, ids in enumerate(encoded):
        if len(ids) < 2:
            raise ValueError(f"text {i} has no token to score: {texts[i][:40]!r}")
    out = [0.0] * len(texts)
    dev = next(model.parameters()).device
    with torch.inference_mode():
        for idx, ids, mask in padded_batches(encoded, batch_size, pad_id(tokenizer), max_tokens):
            logits = model(input_ids=ids.to(dev), attention_mask=mask.to(dev), use_cache=False).logits
            for b, i in enumerate(idx):
                n = len(encoded[i])
                lp = torch.log_softmax(logits[b, : n - 1].float(), dim=-1)
                tgt = ids[b, 1:n].to(dev)
                out[i] = float(lp.gather(-1, tgt.unsqueeze(-1)).double().mean())
            del logits
            if progress:
                progress(len(idx))
    return out
