"""What to annotate: work items (an input unit and the prompt that reads it), written as Parquet.

A unit has an id (`unit_id`, stored as `annotations.text_hash`) and an input text. Sentence units
are the corpus' unique sentences: deduplicated by `text_hash`, so a sentence repeated across the
corpus is read once and joins back to every occurrence. Task units (`input: task`, for task
distillation) are the unique rendered prompts of `task_examples`, keyed by their text_hash, with
the candidates the task parser accepts. Each input kind is one pending function in `UNIT_SOURCES`,
keyed by the prompt file's `input`: the rollout and the prompts never see where inputs come from.

Items are ordered prompt by prompt, so the requests in flight share one few-shot prefix (vLLM's
prefix cache keeps it), and split into one file per datatrove task, in contiguous slices.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..contracts.errors import ConfigError
from ..contracts.schemas.prompt import Prompt
from ..store import query

WORK_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("input", pa.string()),
        ("unit_id", pa.string()),
        ("behaviour", pa.string()),
        ("prompt_hash", pa.string()),
        ("candidates", pa.list_(pa.string())),  # task units: the answers the task parser accepts
    ]
)


@dataclass(frozen=True)
class PassageSelection:
    """The corpus budget of §4, applied before annotation: the `passages` passages with the smallest
    seeded key passage_key(seed, passage_id) (sql/macros/passage_key.sql) among those of the
    ingested sources whose path matches `sources` (fnmatch; empty: every source). Only their
    sentences are annotated. A mixture built with the same seed and `--passages N` (N at most
    `passages`) draws from these passages only, so every mixture of a study reuses the selection,
    and a smaller N is a subset of a larger one. None: every passage."""

    passages: int | None = None
    seed: int = 0
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.passages is not None and self.passages < 1:
            raise ConfigError(f"--passages must be at least 1, got {self.passages}")
        if self.seed < 0:
            raise ConfigError(f"--passage-seed must be 0 or more, got {self.seed}")

    def source_ids(self, con) -> list[str]:
        """source_id[:16] of the matching sources (the prefix of their passage ids); [] for all."""
        if not self.sources:
            return []
        rows = con.execute(query("corpus/sources")).fetchall()
        kept = [sid[:16] for sid, path, _run in rows if any(fnmatch.fnmatchcase(path, p) for p in self.sources)]
        if not kept:
            known = ", ".join(sorted({path for _, path, _ in rows})[:10]) or "none"
            raise ConfigError(f"--source {', '.join(self.sources)} matches no ingested source; sources: {known}")
        return kept

    def params(self, con) -> dict:
        """The SQL parameters of sentence_units; checks the budget against the store."""
        if self.passages is None:
            return {"passages": -1, "seed": self.seed, "sources": []}
        sources = self.source_ids(con)
        have = con.execute(query("annotate/selection_passages"), {"sources": sources}).fetchall()[0][0]
        if self.passages > have:
            where = f" of the sources {', '.join(self.sources)}" if self.sources else ""
            raise ConfigError(
                f"--passages {self.passages:,} is more than the {have:,} passages{where} in the store; "
                "lower it or ingest more (no silent truncation)"
            )
        return {"passages": self.passages, "seed": self.seed, "sources": sources}

    def lineage(self) -> dict:
        return {"passages": self.passages, "seed": self.seed, "sources": list(self.sources)}


@dataclass
class Pending:
    prompt: Prompt
    todo: pa.Table  # unit_id, input (+ candidates for task units): what is still to annotate, in order
    considered: int  # units within --limit
    done: int  # of those, already answered by this teacher and prompt

    @property
    def n_todo(self) -> int:
        return self.todo.num_rows

    @property
    def inputs(self) -> list[str]:
        return self.todo.column("input").to_pylist()


def pending_sentences(
    con,
    prompt: Prompt,
    fingerprint: str,
    limit: int,
    langs: tuple[str, ...] = (),
    selection: PassageSelection = PassageSelection(),
) -> Pending:
    """Unique sentences in corpus order (the first `limit`, -1: all; of the languages `langs`, empty:
    all; of the passages of `selection`) not yet answered. Arrow all the way: millions of sentences
    stay a few hundred MB, never Python objects."""
    params = {
        "behaviour": prompt.behaviour,
        "fingerprint": fingerprint,
        "prompt_hash": prompt.prompt_hash,
        "limit": limit,
        "langs": list(langs),
        **selection.params(con),
    }
    units = con.sql(query("annotate/sentence_units"), params=params).to_arrow_table()
    todo = units.filter(pc.invert(units.column("answered"))).select(["unit_id", "input"])
    return Pending(prompt, todo, units.num_rows, units.num_rows - todo.num_rows)


def pending_task_examples(con, prompt: Prompt, fingerprint: str, limit: int, langs=None, selection=None) -> Pending:
    """Unique rendered task prompts (`brd tasks load`) not yet answered, with their candidates.
    Task examples have no language and no passage: `langs` and `selection` (sentence selections)
    do not apply to them."""
    params = {
        "behaviour": prompt.behaviour,
        "fingerprint": fingerprint,
        "prompt_hash": prompt.prompt_hash,
        "limit": limit,
    }
    units = con.sql(query("annotate/task_units"), params=params).to_arrow_table()
    todo = units.filter(pc.invert(units.column("answered"))).select(["unit_id", "input", "candidates"])
    return Pending(prompt, todo, units.num_rows, units.num_rows - todo.num_rows)


UNIT_SOURCES: dict[str, Callable[..., Pending]] = {"sentence": pending_sentences, "task": pending_task_examples}


# What a store without inputs of a kind lacks, and how to add them.
NOTHING_TO_READ = {
    "sentence": "the store holds no sentences to annotate; ingest a corpus first (`brd ingest FILES`)",
    "task": "the store holds no task examples to annotate; load them first (`brd tasks load`)",
}


def check_langs(con, langs: tuple[str, ...]) -> None:
    """Languages asked for must be in the corpus (`sentences.lang`); the error lists those that are."""
    if not langs:
        return
    known = [r[0] for r in con.execute(query("annotate/languages")).fetchall()]
    unknown = [lang for lang in langs if lang not in known]
    if unknown:
        raise ConfigError(
            f"--lang {','.join(unknown)}: no such language in the store's sentences "
            f"(it has: {', '.join(map(str, known)) or 'none'})"
        )


def plan(
    con,
    prompts: list[Prompt],
    fingerprint: str,
    limit: int,
    langs: tuple[str, ...] = (),
    selection: PassageSelection = PassageSelection(),
) -> list[Pending]:
    check_langs(con, langs)
    out = []
    for p in prompts:
        if p.input not in UNIT_SOURCES:
            raise ConfigError(
                f"{p.source_file}: input {p.input!r} has no unit source yet (available: {', '.join(UNIT_SOURCES)})"
            )
        pending = UNIT_SOURCES[p.input](con, p, fingerprint, limit, langs=langs, selection=selection)
        if pending.considered == 0 and limit != 0:
            raise ConfigError(f"{p.name}: {NOTHING_TO_READ[p.input]}")
        out.append(pending)
    return out


def write_work(pending: list[Pending], folder: Path, tasks: int) -> list[int]:
    """Write the items of `pending` (in order) as `tasks` files; returns rows per file."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for p in pending:
        n, ph = p.n_todo, p.prompt.prompt_hash
        unit = p.todo.column("unit_id")
        parts.append(
            pa.table(
                {
                    "doc_id": pc.binary_join_element_wise(pa.array([ph] * n, pa.string()), unit, "/"),
                    "input": p.todo.column("input"),
                    "unit_id": unit,
                    "behaviour": pa.array([p.prompt.behaviour] * n, pa.string()),
                    "prompt_hash": pa.array([ph] * n, pa.string()),
                    "candidates": (
                        p.todo.column("candidates")
                        if "candidates" in p.todo.column_names
                        else pa.nulls(n, pa.list_(pa.string()))
                    ),
                },
                schema=WORK_SCHEMA,
            )
        )
    table = pa.concat_tables(parts) if parts else WORK_SCHEMA.empty_table()
    n = table.num_rows
    sizes = []
    for rank in range(tasks):
        lo, hi = n * rank // tasks, n * (rank + 1) // tasks
        pq.write_table(table.slice(lo, hi - lo), folder / f"{rank:05d}.parquet")
        sizes.append(hi - lo)
    return sizes
