"""The paper's scoring function (§3.3): the average log-probability of each candidate answer given
the prompt; the candidate with the highest average is the prediction.

§3.3 writes the average over "the total number of words in y". Every candidate gets four scores,
all stored, and `select(by=...)` picks the prediction by one of them:
- `word`: logprob_sum / n_words, n_words the whitespace-separated words of the candidate (at
  least 1): the paper's formula, and brd's default;
- `mean`: logprob_sum / n_tokens, the per-token average (the same thing when every word is one
  token; what many harnesses call length-normalised accuracy);
- `char`: logprob_sum / n_chars (characters of answer prefix + candidate);
- `sum`: logprob_sum itself (no normalisation).

Token boundaries: a prompt and a candidate are tokenised *together* (`prompt + prefix + candidate`)
and the candidate's tokens are those whose character span ends past the prompt. A token that
straddles the boundary is scored as part of the candidate, so every scored token is one the model
actually sees in the joined text.

Two scorers give the same numbers:
- `PackedScorer` (the default): per example, the prompt tokens shared by all candidates appear once
  in a row, followed by each candidate's own tokens. A 4D attention mask lets each candidate see the
  shared prompt and itself only, and explicit position ids restart every candidate right after the
  prompt, so each candidate is scored exactly as if it followed the prompt alone. Rows are
  left-padded and batched, and the LM head runs only on the last positions (`logits_to_keep`).
- `NaiveScorer`: one forward pass per candidate on `prompt + candidate`. The reference in tests and
  the baseline in bench/eval.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from brd_data.contracts.choices import Selection, check_choice
from brd_data.contracts.errors import ConfigError, UserError


class ScoringError(UserError):
    """An example that cannot be scored; the message names the example, `reason` says why in
    words shared by every example with the same problem (for skip counts)."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


@dataclass(frozen=True)
class Request:
    """One example to score: a prompt and its candidate continuations (prefix included)."""

    key: str  # names the example in errors: "xnli.jsonl line 3"
    prompt: str
    continuations: tuple[str, ...]


def count_words(text: str) -> int:
    """Whitespace-separated words, at least one (a candidate is never empty)."""
    return max(1, len(text.split()))


@dataclass(frozen=True)
class CandidateScore:
    n_tokens: int
    n_chars: int
    logprob_sum: float
    n_words: int = 1

    @property
    def logprob_mean(self) -> float:
        """§3.3: the average per-token log-probability."""
        return self.logprob_sum / self.n_tokens

    @property
    def logprob_per_char(self) -> float:
        return self.logprob_sum / self.n_chars

    @property
    def logprob_per_word(self) -> float:
        """§3.3 as written: the average over the words of the candidate."""
        return self.logprob_sum / self.n_words


class Scoring(StrEnum):
    """How candidates are scored (`--scoring`): the two give the same numbers."""

    PACKED = "packed"  # the prompt computed once per example, batched
    NAIVE = "naive"  # one forward pass per candidate: the reference


SELECTORS: dict[str, Callable[[CandidateScore], float]] = {
    Selection.WORD: lambda c: c.logprob_per_word,
    Selection.MEAN: lambda c: c.logprob_mean,
    Selection.CHAR: lambda c: c.logprob_per_char,
    Selection.SUM: lambda c: c.logprob_sum,
}
DEFAULT_SELECTION = Selection.WORD.value


def select(scores: Sequence[CandidateScore], by: str = DEFAULT_SELECTION) -> int:
    """Index of the best candidate; the first one wins a tie."""
    key = SELECTORS[by]
    best = 0
    for i, s in enumerate(scores):
        if key(s) > key(scores[best]):
            best = i
    return best


# -- tokenisation --------------------------------------------------------------------------------


def leading_special(tokenizer: Any) -> list[int]:
    """The special tokens the tokenizer puts before a text by itself (a Llama-style BOS), if any.
    Trailing ones (an EOS) are never used."""
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    special = tokenizer("a")["input_ids"]
    for k in range(len(special) - len(plain) + 1):
        if special[k : k + len(plain)] == plain:
            return list(special[:k])
    return []


class PairEncoder:
    """Tokenises `prompt + continuation` once and finds where the continuation's tokens start.
    An empty prompt (BIG-bench's `*_no_prompt` tasks score sentences unconditionally) is
    conditioned on the tokenizer's start of text: its BOS when it adds one, else its end-of-text
    token (what separates documents in pre-training), else its BOS."""

    def __init__(self, tokenizer: Any):
        self.tok = tokenizer
        self.lead = leading_special(tokenizer)
        self.has_offsets = bool(getattr(tokenizer, "is_fast", False))
        self.start = (
            self.lead or [int(t) for t in (tokenizer.eos_token_id, tokenizer.bos_token_id) if t is not None][:1]
        )

    def encode(self, prompt: str, continuation: str, key: str = "") -> tuple[list[int], int]:
        """(token ids of the joined text, number of context tokens before the continuation)."""
        if not continuation:
            raise ScoringError(f"{key}: empty candidate", "an empty candidate")
        text = prompt + continuation
        if self.has_offsets:
            enc = self.tok(text, add_special_tokens=False, return_offsets_mapping=True)
            ids, offsets = list(enc["input_ids"]), enc["offset_mapping"]
            cut = len(prompt)
            n_ctx = next((i for i, (_, end) in enumerate(offsets) if end > cut), len(ids))
        else:  # slow tokenizers: the longest common prefix with the prompt's own tokens
            ids = list(self.tok(text, add_special_tokens=False)["input_ids"])
            alone = self.tok(prompt, add_special_tokens=False)["input_ids"] if prompt else []
            n_ctx = 0
            while n_ctx < min(len(ids), len(alone)) and ids[n_ctx] == alone[n_ctx]:
                n_ctx += 1
        # nothing to condition on: start a text, as a document would start
        lead = self.start if n_ctx == 0 else self.lead
        ids = lead + ids
        n_ctx += len(lead)
        if n_ctx == 0:
            raise ScoringError(
                f"{key}: the prompt gives no token to condition on, and the tokenizer has no BOS or EOS token",
                "the prompt gives no token to condition on",
            )
        if n_ctx == len(ids):
            raise ScoringError(
                f"{key}: candidate {continuation!r} adds no token to the prompt",
                "a candidate adds no token to the prompt",
            )
        return ids, n_ctx


# -- scorers -------------------------------------------------------------------------------------


def _logprobs_of(logits, targets):
    """log p(target) from logits, computed in float32 for stable sums."""
    import torch

    return torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


class _Base:
    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 16, max_batch_tokens: int = 16384):
        if batch_size < 1:
            raise ConfigError("batch_size must be at least 1")
        self.model = model
        self.encoder = PairEncoder(tokenizer)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_id = int(pad) if pad is not None else 0
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens

    @property
    def device(self):
        return next(self.model.parameters()).device

    def _encode(self, req: Request) -> list[tuple[list[int], int]]:
        if not req.continuations:
            raise ScoringError(f"{req.key}: no candidates", "no candidates")
        return [self.encoder.encode(req.prompt, c, req.key) for c in req.continuations]

    def check(self, req: Request) -> None:
        """Raise the ScoringError that scoring `req` would raise, without running the model."""
        build_row(0, self._encode(req), req.continuations, req.key)

    def score(
        self, requests: Sequence[Request], progress: Callable[[int], None] | None = None
    ) -> list[list[CandidateScore]]:
        raise NotImplementedError


class NaiveScorer(_Base):
    """One forward pass per candidate (batch of one): the reference and the benchmark baseline."""

    name = "naive"

    def score(self, requests, progress=None):
        import torch

        out = []
        with torch.inference_mode():
            for req in requests:
                scores = []
                for cont, (ids, n_ctx) in zip(req.continuations, self._encode(req)):
                    n_cont = len(ids) - n_ctx
                    x = torch.tensor([ids], device=self.device)
                    logits = self.model(input_ids=x, use_cache=False, logits_to_keep=n_cont + 1).logits[0, :-1]
                    lp = _logprobs_of(logits, x[0, n_ctx:])
                    scores.append(CandidateScore(n_cont, len(cont), float(lp.double().sum()), count_words(cont)))
                out.append(scores)
                if progress:
                    progress(1)
        return out


@dataclass
class _Row:
    """One example laid out as [shared prompt | own tokens of candidate 1 | candidate 2 | ...]."""

    index: int
    tokens: list[int]
    positions: list[int]
    # per token: the segment it belongs to (-1 shared prompt, j candidate j) for the mask
    segment: list[int]
    # per candidate: (row indices of the predicting hidden states, target token ids, n_chars, n_words)
    targets: list[tuple[list[int], list[int], int, int]]

    @property
    def length(self) -> int:
        return len(self.tokens)

    @property
    def first_needed(self) -> int:
        return min(t[0][0] for t in self.targets)


def build_row(
    index: int, encoded: Sequence[tuple[list[int], int]], continuations: Sequence[str], key: str = ""
) -> _Row:
    # The shared part is the longest common prefix of every candidate's context tokens; it is
    # the whole prompt unless a prompt token merges differently with different candidates.
    shared = list(encoded[0][0][: encoded[0][1]])
    for ids, n_ctx in encoded[1:]:
        k = 0
        while k < min(len(shared), n_ctx) and shared[k] == ids[k]:
            k += 1
        shared = shared[:k]
    s = len(shared)
    if s == 0:
        raise ScoringError(
            f"{key}: the prompt's tokens merge differently into every candidate; no shared context",
            "the prompt's tokens merge differently into every candidate",
        )
    tokens, positions, segment = list(shared), list(range(s)), [-1] * s
    targets = []
    for j, ((ids, n_ctx), cont) in enumerate(zip(encoded, continuations)):
        offset = len(tokens)
        own = ids[s:]
        tokens += own
        positions += range(s, s + len(own))
        segment += [j] * len(own)
        # the hidden state at full position t-1 predicts token t
        pred = [(t - 1) if t - 1 < s else offset + (t - 1 - s) for t in range(n_ctx, len(ids))]
        targets.append((pred, ids[n_ctx:], len(cont), count_words(cont)))
    return _Row(index, tokens, positions, segment, targets)


class PackedScorer(_Base):
    """The prompt computed once per example, all candidates in the same row, examples batched."""

    name = "packed"

    def _batches(self, rows: list[_Row]) -> list[list[_Row]]:
        # Longest first, so a batch holds rows of similar length and padding stays small.
        order = sorted(rows, key=lambda r: -r.length)
        batches: list[list[_Row]] = []
        for row in order:
            cur = batches[-1] if batches else None
            if cur and len(cur) < self.batch_size and (len(cur) + 1) * cur[0].length <= self.max_batch_tokens:
                cur.append(row)
            else:
                batches.append([row])
        return batches

    def _forward(self, batch: list[_Row]) -> list[list[CandidateScore]]:
        import torch

        dtype = next(self.model.parameters()).dtype
        if not dtype.is_floating_point:
            dtype = torch.float32
        n, width = len(batch), batch[0].length
        keep = max(r.length - r.first_needed for r in batch)  # the LM head runs on the last `keep` positions
        ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        pos = torch.zeros((n, width), dtype=torch.long)
        allow = torch.zeros((n, width, width), dtype=torch.bool)
        for b, r in enumerate(batch):
            pad = width - r.length
            ids[b, pad:] = torch.tensor(r.tokens)
            pos[b, pad:] = torch.tensor(r.positions)
            seg = torch.tensor(r.segment)
            causal = torch.ones((r.length, r.length), dtype=torch.bool).tril()
            # a token sees the shared prompt, and earlier tokens of its own segment
            visible = (seg.unsqueeze(0) == -1) | (seg.unsqueeze(0) == seg.unsqueeze(1))
            allow[b, pad:, pad:] = causal & visible
            idx = torch.arange(pad)
            allow[b, idx, idx] = True  # padding sees itself only: no empty softmax rows
        mask = torch.zeros((n, 1, width, width), dtype=dtype)
        mask.masked_fill_(~allow.unsqueeze(1), torch.finfo(dtype).min)
        dev = self.device
        logits = self.model(
            input_ids=ids.to(dev),
            attention_mask=mask.to(dev),
            position_ids=pos.to(dev),
            use_cache=False,
            logits_to_keep=keep,
        ).logits
        start = width - keep
        out = []
        for b, r in enumerate(batch):
            pad = width - r.length
            scores = []
            for pred, tgt, n_chars, n_words in r.targets:
                rows = torch.tensor([pad + i - start for i in pred], device=dev)
                lp = _logprobs_of(logits[b, rows], torch.tensor(tgt, device=dev))
                scores.append(CandidateScore(len(tgt), n_chars, float(lp.double().sum()), n_words))
            out.append(scores)
        return out

    def score(self, requests, progress=None):
        import torch

        rows = [build_row(i, self._encode(req), req.continuations, req.key) for i, req in enumerate(requests)]
        results: list[list[CandidateScore] | None] = [None] * len(rows)
        with torch.inference_mode():
            for batch in self._batches(rows):
                for r, scores in zip(batch, self._forward(batch)):
                    results[r.index] = scores
                if progress:
                    progress(len(batch))
        return results  # type: ignore[return-value]


SCORERS = {Scoring.PACKED: PackedScorer, Scoring.NAIVE: NaiveScorer}


def make_scorer(mode: str, model: Any, tokenizer: Any, batch_size: int = 16, max_batch_tokens: int = 16384) -> _Base:
    mode = check_choice(Scoring, mode, "scoring mode")
    return SCORERS[mode](model, tokenizer, batch_size=batch_size, max_batch_tokens=max_batch_tokens)


def packed_agrees(model: Any, tokenizer: Any, tol: float | None = None) -> tuple[bool, float]:
    """Score a probe example both ways. Architectures that ignore custom 4D masks or position
    ids would disagree; the caller then falls back to the naive scorer."""
    import torch

    req = [
        Request(
            "self-check",
            "The quick brown fox jumps over the lazy dog. Question: Is it? Answer:",
            (" Yes", " No", " Maybe not at all"),
        )
    ]
    a = PackedScorer(model, tokenizer).score(req)[0]
    b = NaiveScorer(model, tokenizer).score(req)[0]
    diff = max(abs(x.logprob_sum - y.logprob_sum) for x, y in zip(a, b))
    if tol is None:
        dtype = next(model.parameters()).dtype
        tol = 1e-3 if dtype == torch.float32 else 0.1
    return (diff <= tol and not math.isnan(diff)), diff
