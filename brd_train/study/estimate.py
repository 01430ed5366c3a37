"""The dry-run plan's costs: sentences to annotate, prompt and completion tokens, GPU-hours.

Counts come from the store when the corpus is ingested, else from the manifest (passages x
sentences per passage). Token counts use the teacher's tokenizer when it is on disk, else about 4
characters per token. Throughputs are the manifest's stated assumptions, printed with the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from brd_data.contracts.schemas.study import Study
from brd_data.store import Store, query

from .plan import Stage, build_stages

CHARS_PER_TOKEN = 4.0


@dataclass
class CorpusCounts:
    sentences: int
    unique_sentences: int
    mean_chars: float
    source: str  # "store" | "manifest"


def corpus_counts(study: Study, store: Store) -> CorpusCounts:
    c = study.corpus
    if store.exists():
        with store.reader() as con:
            n, uniq, mean = con.execute(query("study/sentence_counts")).fetchall()[0]
        if n:
            if c.passages:
                # the manifest's passage budget, at the store's sentences-per-passage and dedup rate
                with store.reader() as con:
                    n_pass, n_sent = con.execute(query("study/passage_counts")).fetchall()[0]
                scale = min(1.0, c.passages / n_pass) if n_pass else 1.0
                return CorpusCounts(int(n_sent * scale), int(uniq * scale), float(mean), "store")
            return CorpusCounts(int(n), int(uniq), float(mean), "store")
    n = (c.passages or 0) * c.passage_sentences
    if not n:
        size = sum(Path(p).stat().st_size for p in c.resolved_paths(study.base) if Path(p).exists())
        n = int(size / (c.mean_sentence_chars + 1)) if size else 0
    return CorpusCounts(n, n, c.mean_sentence_chars, "manifest")


def _token_counter(study: Study):
    """(count function, how) for the teacher's tokenizer, or a characters-per-token estimate."""
    from brd_data.contracts.models import default_teacher_dir, is_prepared

    path = Path(study.teacher.model) if study.teacher.model else default_teacher_dir()
    if path.is_dir() and (study.teacher.model or is_prepared(path)):
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(path)
        return (lambda text: len(tok(text, add_special_tokens=False)["input_ids"])), f"tokenizer of {path.name}"
    return (lambda text: round(len(text) / CHARS_PER_TOKEN)), f"~{CHARS_PER_TOKEN:g} chars/token"


def annotate_estimate(study: Study, counts: CorpusCounts) -> tuple[str, float]:
    from brd_data.contracts.schemas.prompt import resolve

    count, how = _token_counter(study)
    t = study.teacher
    n = counts.unique_sentences if t.limit is None else min(t.limit, counts.unique_sentences)
    sentence_tokens = counts.mean_chars / CHARS_PER_TOKEN
    lines, completion_total = [], 0.0
    for prompt in resolve(t.behaviours):
        prefix = count(prompt.prefix)
        mean_out = t.mean_completion_tokens.get(prompt.behaviour, prompt.max_tokens / 2)
        p_tokens = n * (prefix + sentence_tokens)
        c_tokens = n * mean_out
        completion_total += c_tokens
        lines.append(
            f"{prompt.name}: {n:,} requests, {p_tokens / 1e6:,.1f}M prompt tokens "
            f"({prefix} shared few-shot prefix + ~{sentence_tokens:.0f} per sentence), "
            f"{c_tokens / 1e6:,.1f}M completion tokens (~{mean_out:g} each)"
        )
    gpus = t.tp * t.dp
    hours = completion_total / t.tokens_per_s / 3600
    slices = study.executor.annotate_tasks if study.executor.kind != "local" else 1
    wall = f"; {hours / slices:,.1f} h wall on {slices} nodes" if slices > 1 else ""
    lines.append(
        f"{hours:,.1f} h at {t.tokens_per_s:,.0f} output tokens/s on {gpus} GPU(s) = "
        f"{hours * gpus:,.1f} GPU-hours{wall} (tokens: {how}; sentences: {counts.source}, "
        f"{counts.sentences:,} in passages, {counts.unique_sentences:,} unique)"
    )
    return "\n".join(lines), hours * gpus


def eval_estimate(study: Study) -> tuple[str, float]:
    """Scoring is forward-only: about 3x the training rate (no backward pass) on one GPU."""
    ev = study.evaluation
    known = {name: n for name, n in ev.examples.items() if name in ev.tasks}
    if not known:
        return "1 forward pass per example (shared prompt), batched", 0.0
    n = sum(min(c, ev.limit) if ev.limit else c for c in known.values())
    tokens = n * ev.mean_example_tokens
    rate = 3 * study.student.tokens_per_s / study.student.gpus
    hours = tokens / rate / 3600
    missing = sorted(set(ev.tasks) - set(known))
    note = f" (+ {', '.join(missing)}: size unknown)" if missing else ""
    bigbench = " + BIG-bench" if ev.bigbench else ""
    return (
        f"{n:,} examples{note}{bigbench} x ~{ev.mean_example_tokens:g} tokens, forward only: "
        f"{hours * 60:,.1f} GPU-minutes at {rate:,.0f} tokens/s on 1 GPU"
    ), hours


def train_estimate(study: Study, stage: Stage) -> tuple[str, float]:
    argv = stage.argv
    steps = int(argv[argv.index("--max-steps") + 1])
    batch = int(argv[argv.index("--batch-size") + 1])
    length = int(argv[argv.index("--max-length") + 1])
    tokens = steps * batch * length
    s = study.student
    hours = tokens / s.tokens_per_s / 3600
    return (
        f"{steps:,} steps x {batch} x {length} = {tokens / 1e9:,.2f}B tokens: {hours:,.1f} h at "
        f"{s.tokens_per_s:,.0f} tokens/s on {s.gpus} GPU(s) = {hours * s.gpus:,.1f} GPU-hours"
    ), hours * s.gpus


def estimate(study: Study, store: Store, stages: list[Stage]) -> dict[str, str]:
    """Fill each stage's estimate line and GPU-hours; returns the throughput figures used."""
    if study.tables:  # the paper's shape: priced from the measured throughput table
        from .costs import fill_costs

        return fill_costs(study, store.root, stages)
    counts = corpus_counts(study, store)
    for stage in stages:
        if stage.kind == "ingest":
            mb = counts.sentences * (counts.mean_chars + 1) / 1e6
            stage.estimate = (
                f"{counts.sentences:,} sentences, ~{mb:,.0f} MB ({counts.source}); CPU only: "
                f"about {mb / 5 / 60:,.1f} core-minutes at 5 MB/s per core"
            )
        elif stage.kind == "annotate":
            stage.estimate, stage.gpu_hours = annotate_estimate(study, counts)
        elif stage.kind == "train":
            stage.estimate, stage.gpu_hours = train_estimate(study, stage)
        elif stage.kind == "mix":
            stage.estimate = "CPU only (DuckDB export)"
        elif stage.kind == "eval":
            stage.estimate, stage.gpu_hours = eval_estimate(study)
    return {}


def estimated_plan(study: Study, store: Path) -> tuple[list[Stage], dict[str, str]]:
    """`brd study --dry-run`: every stage of the study, each with its estimated cost, and the
    throughput figures the costs use."""
    stages = build_stages(study, store)
    rates = estimate(study, Store(store), stages)
    return stages, rates


def gpu_hours_by_kind(stages: list[Stage]) -> dict[str, float]:
    """Estimated GPU-hours per kind of stage (annotate, train, eval ...), in stage order."""
    by_kind: dict[str, float] = {}
    for s in stages:
        by_kind[s.kind] = by_kind.get(s.kind, 0.0) + s.gpu_hours
    return by_kind
