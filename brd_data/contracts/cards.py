"""The model card brd writes into a finished student folder (`OUT/model/README.md`), in place of
the trainer's generated one: the base model, the mixture and its hash, the training steps and
data, and the evaluation results once `brd eval` has scored the folder (it rewrites the card).

A card brd wrote starts with MARKER; brd rewrites no other README.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MARKER = "<!-- brd model card: written by `brd train`, evaluation added by `brd eval` -->"
CARD_FILE = "README.md"


def public_name(path_or_id: str | None) -> str:
    """A hub id as is; a local path by its last part (a card names no local folder)."""
    if not path_or_id:
        return ""
    if path_or_id.startswith(("/", ".", "~")) or Path(path_or_id).exists():
        return Path(path_or_id).name
    return path_or_id


def _is_hub_id(name: str | None) -> bool:
    return bool(name) and not name.startswith(("/", ".", "~")) and name.count("/") == 1 and not Path(name).exists()


def is_brd_card(folder: Path) -> bool:
    path = Path(folder) / CARD_FILE
    try:
        return path.is_file() and MARKER in path.read_text(encoding="utf-8").split("\n# ", 1)[0]
    except (OSError, UnicodeDecodeError):
        return False


def render_model_card(
    lineage: dict[str, Any], manifest: dict[str, Any] | None = None, results: list[dict[str, Any]] = ()
) -> str:
    """The card of a student folder from its brd_lineage.json, its mixture's manifest.json (when
    still readable) and evaluation rows (task, accuracy, n, run_id)."""
    origin = lineage.get("student_origin") or {}
    if isinstance(origin, str):
        origin = {"model": origin}
    base = origin.get("model") or ""
    parent = origin.get("lineage") or None
    cfg = lineage.get("config") or {}
    derived = cfg.get("derived") or {}
    name = lineage.get("mixture_name") or "student"
    front: dict[str, Any] = {"library_name": "transformers", "tags": ["brd", "basic-reading-distillation"]}
    if _is_hub_id(base):
        front["base_model"] = base
    lines = ["---", yaml.safe_dump(front, sort_keys=False).rstrip(), "---", MARKER, ""]
    lines += [
        f"# {public_name(base) or 'student'} trained on `{name}`",
        "",
        "A student language model trained by brd after *Basic Reading Distillation* (anonymous ACL "
        "submission): plain causal-LM training on passages a teacher annotated with named-entity prose "
        "and question-answer pairs.",
        "",
        "| | |",
        "|---|---|",
        f"| base model | {public_name(base)} (fingerprint `{origin.get('fingerprint') or '?'}`)"
        + (f"; itself trained by brd run `{parent.get('train_run_id')}`" if isinstance(parent, dict) else "")
        + " |",
        f"| mixture | `{name}` (kind {lineage.get('mixture_kind') or '?'}), hash `{lineage.get('mixture_hash')}` |",
    ]
    if manifest:
        comps = "; ".join(
            f"`{c.get('view')}` {_count(c.get('rows'))} rows / {_count(c.get('tokens'))} tokens"
            for c in manifest.get("components", [])
        )
        lines.append(
            f"| data | {_count(manifest.get('rows'))} rows, {_count(manifest.get('tokens'))} tokens"
            + (f": {comps}" if comps else "")
            + " |"
        )
        if manifest.get("teacher_fingerprints"):
            teachers = ", ".join(f"`{t}`" for t in manifest["teacher_fingerprints"])
            lines.append(f"| teacher | fingerprint(s) {teachers} |")
    lines += [
        f"| steps | {lineage.get('step')} of {cfg.get('max_steps', '?')}, batch {cfg.get('batch_size', '?')}, "
        f"learning rate {cfg.get('learning_rate', '?')}, max length {cfg.get('max_length', '?')}, "
        f"packing {cfg.get('packing_strategy') or 'off'}, seed {cfg.get('seed', '?')} |",
        f"| loss | {derived.get('loss', '?')}; last logged {_num(lineage.get('loss'))} |",
        f"| tokens seen | {lineage.get('tokens') if lineage.get('tokens') is not None else '?'} |",
        f"| precision, processes | {derived.get('precision', '?')}, {derived.get('world_size', '?')} |",
        f"| training run | `{lineage.get('train_run_id')}`, brd {lineage.get('code_version') or '?'} |",
        "",
        "## Evaluation",
        "",
    ]
    if results:
        lines += ["| task | accuracy (%) | examples | eval run |", "|---|---:|---:|---|"]
        for r in results:
            acc = "–" if r.get("accuracy") is None else f"{100 * r['accuracy']:.1f}"
            lines.append(f"| {r['task']} | {acc} | {r.get('n', '')} | `{r.get('run_id', '')}` |")
        lines += ["", "Scored as §3.3 of the paper: each candidate by its mean token log-probability."]
    else:
        lines.append("Not evaluated yet: `brd eval --model THIS_FOLDER ...` adds the results here.")
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        'model = AutoModelForCausalLM.from_pretrained("THIS_FOLDER")',
        'tokenizer = AutoTokenizer.from_pretrained("THIS_FOLDER")',
        "```",
        "",
        "`brd_lineage.json` in this folder holds the full lineage (config, mixture folder, library versions).",
        "",
    ]
    return "\n".join(lines)


def _count(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else "?"


def _num(v: Any) -> str:
    return "?" if v is None else f"{float(v):.4f}"


def write_model_card(folder: Path, text: str) -> bool:
    """Write the card unless the folder holds a README.md brd did not write; True when written."""
    path = Path(folder) / CARD_FILE
    if path.exists() and not is_brd_card(folder):
        return False
    tmp = path.with_name(f".{CARD_FILE}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return True
