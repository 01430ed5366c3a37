"""Identities: the keys that rows are stored and joined on. Each is computed in one place.

- `text_hash`: a sentence's key (the annotation key), over its normalised text;
- `file_sha256`: an input file's identity (a source's id, a lineage input's hash);
- `quarantine_id`: a quarantined row's key, so a rerun adds no duplicate;
- `code_version`: which brd wrote a row.

Model and tokenizer fingerprints live in `models` and `tokenizers`; a prompt's hash in the prompt
schema."""

from __future__ import annotations

import functools
import hashlib
import subprocess
import unicodedata
from pathlib import Path


def normalize_text(text: str) -> str:
    """NFKC, with runs of white space folded to one space and the ends trimmed."""
    if not text.isascii():  # ASCII is NFKC already; the check is far cheaper than normalising
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.split())


def text_hash(text: str) -> str:
    """16 hex digits of BLAKE2b over the normalised text (64 bits: no collision below ~10^9 sentences)."""
    return hashlib.blake2b(normalize_text(text).encode("utf-8"), digest_size=8).hexdigest()


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """The sha256 of a file's bytes, read in 1 MB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def quarantine_id(stage: str, source_id: str, location: str, reason: str) -> str:
    """The key of a quarantined row: the same bad row quarantined twice is one row."""
    key = "\x1f".join((stage, source_id, location, reason)).encode()
    return hashlib.blake2b(key, digest_size=12).hexdigest()


@functools.cache
def code_version() -> str:
    """Package version plus the git commit when running from a checkout (`.dirty` if modified)."""
    from .._version import __version__

    root = Path(__file__).resolve().parent.parent.parent
    if not (root / ".git").exists():
        return __version__
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{sha}{'.dirty' if dirty else ''}"


class RowsDigest:
    """Two digests of the rows a trainer reads (a mixture's `text`, or `prompt` + `completion`):
    `content` ignores their order (the same rows in any order give the same value: a multiset
    hash, the sum of each row's 128-bit BLAKE2b), `ordered` does not. Two mixtures with the same
    `content` hold the same training data; with the same `ordered` too, a seeded run trains the
    same model on them."""

    _MOD = 1 << 128

    def __init__(self) -> None:
        self._sum = 0
        self._ordered = hashlib.sha256()
        self.rows = 0

    def update(self, *columns: list[str]) -> None:
        """Add rows given column-wise (equal-length lists of strings)."""
        for values in zip(*columns):
            d = hashlib.blake2b("\x1f".join(values).encode("utf-8"), digest_size=16).digest()
            self._sum = (self._sum + int.from_bytes(d, "big")) % self._MOD
            self._ordered.update(d)
            self.rows += 1

    @property
    def content(self) -> str:
        return f"{self._sum:032x}"[:16]

    @property
    def ordered(self) -> str:
        return self._ordered.hexdigest()[:16]
