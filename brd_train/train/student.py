"""The student: where it comes from, how long a context it takes, and whether its tokenizer is
the one the mixture was measured with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brd_data.contracts.errors import UserError
from brd_data.contracts.schemas.lineage import read_checkpoint_lineage
from brd_data.contracts.tokenizers import tokenizer_fingerprint

# Config attributes that hold a model's context length, by model family.
_CONTEXT_ATTRS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx")


class StudentError(UserError):
    """A student model or tokenizer that does not fit the run."""


@dataclass(frozen=True)
class Student:
    name: str  # as given: a folder or a hub id
    local: bool
    context_length: int | None
    fingerprint: str
    parent_lineage: dict[str, Any] | None  # brd_lineage.json when the student is a brd checkpoint

    def origin(self) -> dict[str, Any]:
        """The chain of origins: this model, and (nested) the training run that made it, if any."""
        return {
            "model": str(Path(self.name).resolve()) if self.local else self.name,
            "fingerprint": self.fingerprint,
            "lineage": self.parent_lineage,
        }

    @property
    def parent_train_run_id(self) -> str | None:
        return (self.parent_lineage or {}).get("train_run_id")

    @property
    def parent_step(self) -> int | None:
        return (self.parent_lineage or {}).get("step")


def resolve_student(name: str, trust_remote_code: bool = False) -> Student:
    """Read the student's config (not its weights) and its lineage, if it is a brd checkpoint."""
    from transformers import AutoConfig

    from brd_data.contracts.models import model_fingerprint as fingerprint

    path = Path(name)
    local = path.is_dir()
    if not local and (path.exists() or name.startswith((".", "/"))):
        raise StudentError(f"--student {name}: not a model folder")
    try:
        config = AutoConfig.from_pretrained(name, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise StudentError(f"--student {name}: cannot load its config ({_first_line(exc)})") from None
    parent = read_checkpoint_lineage(path) if local else None
    return Student(
        name=name,
        local=local,
        context_length=context_length(config),
        fingerprint=fingerprint(path if local else name),
        parent_lineage=parent,
    )


def context_length(config) -> int | None:
    cfg = config.get_text_config() if hasattr(config, "get_text_config") else config
    for attr in _CONTEXT_ATTRS:
        value = getattr(cfg, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def check_max_length(max_length: int, student: Student) -> None:
    if student.context_length is not None and max_length > student.context_length:
        raise StudentError(
            f"--max-length {max_length} is larger than the student's context of {student.context_length} "
            f"tokens ({student.name}); pass --max-length {student.context_length} or less"
        )


def load_tokenizer(name: str, trust_remote_code: bool = False, what: str = "tokenizer"):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, TypeError) as exc:
        raise StudentError(f"cannot load the {what} {name} ({_first_line(exc)})") from None


def check_tokenizer(
    mixture_manifest: dict[str, Any], student_tok, student_name: str, trust_remote_code: bool = False
) -> dict[str, Any]:
    """Compare the mixture's tokenizer with the student's by fingerprint; raise on a mismatch.

    The manifest's `tokenizer_fingerprint` is used when present, else its `tokenizer` is loaded.
    Returns what was compared, for the lineage.
    """
    student_fp = tokenizer_fingerprint(student_tok)
    declared = mixture_manifest.get("tokenizer")
    mix_fp = mixture_manifest.get("tokenizer_fingerprint")
    mix_tok = None
    if not mix_fp:
        try:
            mix_tok = load_tokenizer(str(declared), trust_remote_code, what="mixture's tokenizer")
        except StudentError as exc:
            raise StudentError(
                f"{exc}; cannot check it against the student's (pass --allow-tokenizer-mismatch to train anyway)"
            ) from None
        mix_fp = tokenizer_fingerprint(mix_tok)
    info = {
        "mixture_tokenizer": declared,
        "mixture_tokenizer_fingerprint": mix_fp,
        "student_tokenizer_fingerprint": student_fp,
        "match": mix_fp == student_fp,
    }
    if mix_fp != student_fp:
        sizes = f" (vocabulary {len(mix_tok)} vs {len(student_tok)})" if mix_tok is not None else ""
        raise StudentError(
            f"the mixture was built with tokenizer {declared} (fingerprint {mix_fp}) but the student "
            f"{student_name} has a different one (fingerprint {student_fp}){sizes}; its token counts do "
            "not hold for this student (pass --allow-tokenizer-mismatch to train anyway)"
        )
    return info


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
