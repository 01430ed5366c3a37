"""Loading a model to evaluate, and what is known about where it came from."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brd_data.contracts.errors import ConfigError, UserError
from brd_data.contracts.models import model_fingerprint as fingerprint
from brd_data.contracts.schemas.lineage import LINEAGE_FILE, read_checkpoint_lineage

__all__ = ["LINEAGE_FILE", "Lineage", "ModelError", "ModelOptions", "fingerprint", "load_model", "model_ref"]

from brd_data.contracts.choices import Dtype, check_choice


class ModelError(UserError):
    """A model that cannot be loaded; one line for the user."""


@dataclass(frozen=True, kw_only=True)
class ModelOptions:
    """How a command loads and batches its model(s)."""

    batch_size: int = 8
    device: str = "auto"
    dtype: str = Dtype.AUTO.value
    trust_remote_code: bool = False
    threads: int = 0  # CPU threads for torch; 0 keeps torch's default

    def __post_init__(self) -> None:
        if self.threads < 0:
            raise ConfigError(f"--threads must be 0 (torch's default) or more, got {self.threads}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, got {self.batch_size}")
        object.__setattr__(self, "dtype", check_choice(Dtype, self.dtype, "--dtype"))  # frozen


@dataclass(frozen=True)
class Lineage:
    """From the checkpoint's brd_lineage.json, and the mixture manifest it points at."""

    train_run_id: str | None = None
    mixture_hash: str | None = None
    mixture_dir: str | None = None
    train_passages: int | None = None  # distinct passages (passage_id) of the mixture trained on
    train_rows: int | None = None  # the mixture manifest's `rows` (a passage gives one row per form)
    mixture_name: str | None = None
    mixture_kind: str | None = None
    # the mixture's recipe without its name and `passages` cap: data-size variants share it (Figure 2)
    mixture_family: str | None = None
    base_fingerprint: str | None = None  # the model training started from (student_origin)
    step: int | None = None

    @classmethod
    def of(cls, model: str | Path) -> Lineage:
        raw = read_checkpoint_lineage(model) if Path(model).is_dir() else None
        if raw is None:
            return cls()
        mixture: dict[str, Any] = {}
        mixture_dir = raw.get("mixture_dir")
        if mixture_dir:
            manifest = Path(mixture_dir) / "manifest.json"
            if not manifest.is_absolute() and not manifest.is_file():
                manifest = Path(model) / manifest
            try:
                mixture = json.loads(manifest.read_text(encoding="utf-8"))
                mixture = {**mixture, "_folder": manifest.parent} if isinstance(mixture, dict) else {}
            except (OSError, ValueError):
                mixture = {}  # the mixture folder moved: the data size stays unknown
        origin = raw.get("student_origin")
        step = raw.get("step")
        rows = mixture.get("rows")
        return cls(
            train_run_id=raw.get("train_run_id"),
            mixture_hash=raw.get("mixture_hash"),
            mixture_dir=mixture_dir,
            train_passages=_passages(mixture),
            train_rows=int(rows) if isinstance(rows, int) else None,
            mixture_name=mixture.get("name") or raw.get("mixture_name"),
            mixture_kind=mixture.get("kind") or raw.get("mixture_kind"),
            mixture_family=_family(mixture) if mixture else None,
            base_fingerprint=origin.get("fingerprint") if isinstance(origin, dict) else None,
            step=int(step) if isinstance(step, (int, float)) else None,
        )


def model_ref(model: str) -> str:
    """A local model folder as an absolute path (what the store records); a Hub id as given."""
    return str(Path(model).resolve()) if Path(model).exists() else model


def _passages(mixture: dict[str, Any]) -> int | None:
    """Distinct passage_id over the mixture's shards (a passage appears once per form: d_ori,
    d_ner, d_qra), or the manifest's own count when it has one."""
    if isinstance(mixture.get("n_passages"), int):
        return mixture["n_passages"]
    shards = mixture.get("shards")
    if not isinstance(shards, list) or not shards:
        return None
    files = [mixture["_folder"] / s["file"] for s in shards if isinstance(s, dict) and "file" in s]
    if not files or not all(f.is_file() for f in files):
        return None
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        ids = [pq.read_table(f, columns=["passage_id"]).column("passage_id") for f in files]
    except (OSError, KeyError, ValueError):
        return None
    import pyarrow as pa

    return len(pc.unique(pa.chunked_array([c for col in ids for c in col.chunks])))


def _family(mixture: dict[str, Any]) -> str:
    recipe = {
        "kind": mixture.get("kind"),
        "components": [
            {k: c.get(k) for k in ("view", "weight", "tokens_budget")}
            for c in mixture.get("components") or []
            if isinstance(c, dict)
        ],
        **{
            k: mixture.get(k)
            for k in ("delimiter", "seed", "pins", "filters", "tokenizer_fingerprint", "window_passages")
        },
        "corpus": {k: v for k, v in (mixture.get("corpus") or {}).items() if k != "sources"},
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()[:16]


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(dtype: str, device: str):
    import torch

    try:
        dtype = check_choice(Dtype, dtype, "--dtype")
    except ValueError as exc:
        raise ModelError(str(exc)) from None
    if dtype == Dtype.AUTO:
        # CPUs here have no bf16 matrix units: float32 is faster and exact; GPUs use bf16.
        return torch.bfloat16 if device.startswith("cuda") and torch.cuda.is_bf16_supported() else torch.float32
    return getattr(torch, dtype)


def load_tokenizer(model: str | Path, trust_remote_code: bool = False) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(model), trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{model}: cannot load a tokenizer ({str(exc).strip().splitlines()[0]})") from None


def load_model(
    model: str | Path, device: str = "auto", dtype: str = "auto", trust_remote_code: bool = False, threads: int = 0
) -> tuple[Any, Any]:
    """(model in eval mode, tokenizer). Never runs a repository's code unless asked to."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # brd draws its own progress bars
    if threads:
        # on a shared CPU, fewer threads than cores avoids OpenMP workers spinning against each other
        torch.set_num_threads(threads)
    if not Path(model).exists() and "/" not in str(model):
        raise ModelError(f"{model}: no such model folder")
    dev = resolve_device(device)
    tok = load_tokenizer(model, trust_remote_code)
    try:
        lm = AutoModelForCausalLM.from_pretrained(
            str(model), dtype=resolve_dtype(dtype, dev), trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError) as exc:
        raise ModelError(f"{model}: cannot load a causal LM ({str(exc).strip().splitlines()[0]})") from None
    lm.to(dev).eval()
    return lm, tok
