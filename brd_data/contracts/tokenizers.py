"""One tokenizer fingerprint for the whole project: `brd mix build` records it in a mixture's
manifest and `brd train` compares it with the student's, so both must compute it the same way.

The fingerprint hashes what decides how text becomes token ids: the Rust tokenizer definition
(vocabulary, merges, normaliser, pre-tokeniser, model, added and special tokens). Left out are the
settings that trainers and loaders change without changing the ids of a text: padding, truncation
and the post-processor (whether a BOS is added is a loader option in transformers, not a property
of the vocabulary)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

_VOLATILE = ("padding", "truncation", "post_processor")


def fingerprint_tokenizer_json(serialized: str) -> str:
    """sha256[:16] of a `tokenizer.json` text with the volatile settings removed."""
    spec = json.loads(serialized)
    for key in _VOLATILE:
        spec.pop(key, None)
    return hashlib.sha256(json.dumps(spec, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def tokenizer_fingerprint(tok: Any) -> str:
    """Fingerprint a `tokenizers.Tokenizer` or a transformers tokenizer (fast or slow)."""
    backend = getattr(tok, "backend_tokenizer", tok)
    if hasattr(backend, "to_str"):
        return fingerprint_tokenizer_json(backend.to_str())
    # a slow (Python-only) transformers tokenizer: its vocabulary is what we can see
    vocab = json.dumps(sorted(tok.get_vocab().items()), ensure_ascii=False)
    return hashlib.sha256(vocab.encode()).hexdigest()[:16]
