"""Hand-made mixture folders that follow contract 2 exactly (the guide), so training is tested
without `brd mix build`; and the tiny student."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from brd_data.contracts.paths import samples_dir

SAMPLE = samples_dir() / "cc100" / "en.txt"
SEP = "\n"


def sample_paragraphs() -> list[str]:
    return [line.strip() for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


def lm_rows(n: int) -> list[dict]:
    """Passages in the paper's §3.2 shape: sentence <sep> annotation <sep> sentence ..."""
    paras = sample_paragraphs()
    rows = []
    for i in range(n):
        p = paras[i % len(paras)]
        text = SEP.join([p, f"Question: What is passage {i} about? Answer: {p.split('.')[0]}."])
        rows.append({"text": text})
    return rows


def sft_rows(n: int) -> list[dict]:
    """Table 8-like prompts with a short gold completion (the SFT baselines)."""
    paras = sample_paragraphs()
    labels = ["positive", "negative"]
    return [
        {
            "prompt": f"{paras[i % len(paras)]}\nQuestion: Is this text positive or negative? Answer:",
            "completion": f" {labels[i % 2]}",
        }
        for i in range(n)
    ]


def write_mixture(
    out: Path,
    kind: str,
    rows: list[dict],
    tokenizer: str,
    *,
    name: str = "test-mix",
    files: int = 2,
    seed: int = 0,
    extra_manifest: dict | None = None,
) -> Path:
    """A mixture folder: manifest.json + data/train-0000i-of-0000N.parquet with lineage columns."""
    out = Path(out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    full = []
    for i, r in enumerate(rows):
        full.append(
            {
                **r,
                "passage_id": f"doc{i}/p0",
                "component": "d_qra" if kind == "lm" else "task_sft",
                "run_ids": ["ingest-test", "annotate-test"],
                "prompt_hashes": ["abc123"],
            }
        )
    per = -(-len(full) // files)
    for i in range(files):
        chunk = full[i * per : (i + 1) * per]
        pq.write_table(pa.Table.from_pylist(chunk), out / "data" / f"train-{i:05d}-of-{files:05d}.parquet")
    body = json.dumps(rows, sort_keys=True).encode()
    manifest = {
        "format_version": 1,
        "name": name,
        "kind": kind,
        "mixture_hash": hashlib.sha256(body + kind.encode()).hexdigest()[:16],
        "tokenizer": str(tokenizer),
        "delimiter": SEP,
        "seed": seed,
        "components": [
            {"view": "d_qra" if kind == "lm" else "task_sft", "weight": 1.0, "rows": len(rows), "tokens": None}
        ],
        "rows": len(rows),
        "tokens": None,
        "source_run_ids": ["ingest-test", "annotate-test"],
        "prompt_hashes": ["abc123"],
        "teacher_fingerprints": ["t0"],
        "code_version": "test",
        "store": "none",
        **(extra_manifest or {}),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return out
