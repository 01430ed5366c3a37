"""Token counts of mixture rows: the tokenizer a mixture names (default: the embedded teacher's),
batch-encoded by the Rust `tokenizers` library, without special tokens (a trainer adds BOS/EOS
itself). Counts are cached in the store (mix_token_counts) by tokenizer fingerprint and text
hash, so each distinct text is tokenised once per tokenizer, whatever mixtures it lands in."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..contracts.schemas.mixture import ManifestError
from ..contracts.tokenizers import tokenizer_fingerprint


@dataclass
class TokenCounter:
    name: str  # path or hub id, as recorded in manifest.json
    fingerprint: str  # brd_data.contracts.tokenizers.tokenizer_fingerprint, as `brd train` computes it
    _tok: object

    def count(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._tok.encode_batch(texts, add_special_tokens=False)]


def load_token_counter(tokenizer: str | None) -> TokenCounter:
    """None: the embedded teacher's tokenizer (prepared on first use). A folder with tokenizer.json,
    or any fast tokenizer transformers can load offline (folder or cached hub id)."""
    from tokenizers import Tokenizer

    if tokenizer is None:
        from ..contracts.models import default_teacher_dir, is_prepared, prepare

        # prepare() imports torch; a prepared folder does not need it
        path: Path | str = default_teacher_dir() if is_prepared(default_teacher_dir()) else prepare()
    else:
        path = Path(tokenizer).expanduser()
        if not path.exists():
            path = tokenizer
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    if isinstance(path, Path) and (path / "tokenizer.json").is_file():
        tok = Tokenizer.from_file(str(path / "tokenizer.json"))
    elif isinstance(path, Path) and path.suffix == ".json" and path.is_file():
        tok = Tokenizer.from_file(str(path))
    else:
        from transformers import AutoTokenizer

        try:
            hf = AutoTokenizer.from_pretrained(str(path))
        except (OSError, ValueError) as exc:
            raise ManifestError(f"tokenizer {tokenizer!r} cannot be loaded: {str(exc).splitlines()[0]}") from None
        if not getattr(hf, "is_fast", False):
            raise ManifestError(f"tokenizer {tokenizer!r} has no fast (Rust) version; token counting needs one")
        tok = hf.backend_tokenizer
    fingerprint = tokenizer_fingerprint(tok)
    return TokenCounter(name=str(path), fingerprint=fingerprint, _tok=tok)
