"""Fixed sets of choices. Each set is one `StrEnum`. The command line types its options with it, so
`--help` lists the values and typer refuses a bad one while parsing; the config dataclasses check
the same Enum with `check_choice`, for values that come from manifests, lineage or Python, and keep
the plain string (what lineage files and store rows have always held).

A set lives next to the code that uses it (ExecutorKind in executors.py, brd_train's in their
stages), except here: the sets two stages share, and those of stages whose modules import datatrove
(ingest, annotate's rollout) — `brd` builds every command's options at start-up, and importing
datatrove for them would cost each command ~0.4 s. The stage modules re-export theirs. This module
imports nothing heavy: the CLI imports it at start-up.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from .errors import ConfigError


def check_choice(choices: type[StrEnum], value: Any, what: str) -> str:
    """`value` as a plain string when it is one of `choices`, else ConfigError("WHAT 'x' is not one of a, b")."""
    try:
        return choices(value).value
    except ValueError:
        raise ConfigError(f"{what} {value!r} is not one of {', '.join(c.value for c in choices)}") from None


class ExecutorKind(StrEnum):
    """datatrove's executors (`--executor`; contracts/executors.py)."""

    LOCAL = "local"
    SLURM = "slurm"
    RAY = "ray"


class Selection(StrEnum):
    """The score that picks a prediction among a task's candidates (`brd eval --select`; a study's
    evaluation.selection): the candidate's log-probability normalised by its length."""

    WORD = "word"  # per-word average: §3.3 as written ("n is the total number of words in y")
    MEAN = "mean"  # per-token average
    CHAR = "char"  # per character
    SUM = "sum"


SELECTION_TITLES = {
    "word": "per-word average log-probability (§3.3 as written)",
    "mean": "per-token average log-probability",
    "char": "per-character average log-probability",
    "sum": "summed log-probability",
}


class PromptMode(StrEnum):
    """How a prompt reaches the teacher (contracts/schemas/prompt.py, `brd annotate --mode`):
    completion sends the raw few-shot text; chat sends it as one user turn of the chat template."""

    COMPLETION = "completion"
    CHAT = "chat"


class Dtype(StrEnum):
    """Weights' dtype for the teacher's vLLM engine (annotate) and for a scored model (eval, analyze).
    `auto` is decided by each: vLLM's model dtype (float32 on CPUs without bf16), or float32 on CPU
    and bfloat16 on GPU for scoring."""

    AUTO = "auto"
    BFLOAT16 = "bfloat16"
    FLOAT16 = "float16"
    FLOAT32 = "float32"


class InputFormat(StrEnum):
    """`brd ingest --format` (ingest/inputs.py): auto tells each file's format from its name."""

    AUTO = "auto"
    CC100 = "cc100"
    JSONL = "jsonl"
    PARQUET = "parquet"


class Segmenter(StrEnum):
    """The sentence segmenter backends (ingest/segment.py, `brd ingest --segmenter`)."""

    SENTENCEX = "sentencex"
    BLINGFIRE = "blingfire"


class OnBadOutput(StrEnum):
    """An unparsed, empty or truncated answer (annotate/rollout.py, `brd annotate --on-bad-output`)."""

    SAMPLE = "sample"  # ask again with sampling
    GIVE_UP = "give-up"  # keep the bad answer
