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
    from .. import __version__

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
