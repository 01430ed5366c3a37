"""The sentence key: a hash of the normalised text, shared by every occurrence of a sentence."""

from __future__ import annotations

import hashlib
import unicodedata


def normalize(text: str) -> str:
    """NFKC, with runs of white space folded to one space and the ends trimmed."""
    if not text.isascii():  # ASCII is NFKC already; the check is far cheaper than normalising
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.split())


def text_hash(text: str) -> str:
    """16 hex digits of BLAKE2b over the normalised text (64 bits: no collision below ~10^9 sentences)."""
    return hashlib.blake2b(normalize(text).encode("utf-8"), digest_size=8).hexdigest()
