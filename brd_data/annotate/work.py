"""What to annotate: work items (an input unit and the prompt that reads it), written as Parquet.

A unit has an id (`unit_id`, stored as `annotations.text_hash`) and an input text. Sentence units
are the corpus' unique sentences: deduplicated by `text_hash`, so a sentence repeated across the
corpus is read once and joins back to every occurrence. Another input kind (task examples, for
task distillation) only needs its own `pending_*` query and `UNIT_SOURCES` entry: the rollout and
prompts never see where inputs come from.

Items are ordered prompt by prompt, so the requests in flight share one few-shot prefix (vLLM's
prefix cache keeps it), and split into one file per datatrove task, in contiguous slices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..store import query
from .prompts import Prompt

WORK_SCHEMA = pa.schema([
    ("doc_id", pa.string()), ("input", pa.string()), ("unit_id", pa.string()),
    ("behaviour", pa.string()), ("prompt_hash", pa.string()),
])


@dataclass
class Pending:
    prompt: Prompt
    unit_ids: list[str]
    inputs: list[str]
    considered: int  # units within --limit
    done: int        # of those, already answered by this teacher and prompt


def pending_sentences(con, prompt: Prompt, fingerprint: str, limit: int) -> Pending:
    """Unique sentences in corpus order (the first `limit`, -1: all) not yet answered."""
    params = {"behaviour": prompt.behaviour, "fingerprint": fingerprint, "prompt_hash": prompt.prompt_hash,
              "limit": limit}
    rows = con.execute(query("annotate/sentence_units"), params).fetchall()
    todo = [(unit_id, text) for unit_id, answered, text in rows if not answered]
    return Pending(prompt, [u for u, _ in todo], [t for _, t in todo], len(rows), len(rows) - len(todo))


UNIT_SOURCES: dict[str, Callable[..., Pending]] = {"sentence": pending_sentences}


def plan(con, prompts: list[Prompt], fingerprint: str, limit: int) -> list[Pending]:
    out = []
    for p in prompts:
        if p.input not in UNIT_SOURCES:
            raise ValueError(f"{p.source_file}: input {p.input!r} has no unit source yet "
                             f"(available: {', '.join(UNIT_SOURCES)})")
        out.append(UNIT_SOURCES[p.input](con, p, fingerprint, limit))
    return out


def write_work(pending: list[Pending], folder: Path, tasks: int) -> list[int]:
    """Write the items of `pending` (in order) as `tasks` files; returns rows per file."""
    folder.mkdir(parents=True, exist_ok=True)
    cols: dict[str, list[str]] = {name: [] for name in WORK_SCHEMA.names}
    for p in pending:
        ph = p.prompt.prompt_hash
        cols["doc_id"] += [f"{ph}/{u}" for u in p.unit_ids]
        cols["input"] += p.inputs
        cols["unit_id"] += p.unit_ids
        cols["behaviour"] += [p.prompt.behaviour] * len(p.unit_ids)
        cols["prompt_hash"] += [ph] * len(p.unit_ids)
    table = pa.table(cols, schema=WORK_SCHEMA)
    n = table.num_rows
    sizes = []
    for rank in range(tasks):
        lo, hi = n * rank // tasks, n * (rank + 1) // tasks
        pq.write_table(table.slice(lo, hi - lo), folder / f"{rank:05d}.parquet")
        sizes.append(hi - lo)
    return sizes
