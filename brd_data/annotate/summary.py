"""What `brd annotate` reports about a run: the corpus and its dedup saving, what each prompt
has left to do, and the run's counts and generation rate."""

from __future__ import annotations

from pathlib import Path

from .pipeline import AnnotateOutcome


def outcome_lines(out: AnnotateOutcome, fingerprint: str, store_root: Path, executor: str) -> list[str]:
    """The lines `brd annotate` prints, in order, for `out` (a run of teacher `fingerprint`)."""
    lines = [
        f"recovered {added} annotation(s) left staged by interrupted run {run_id}"
        for run_id, added in out.recovered
        if added
    ]
    if any(p.prompt.input == "sentence" for p in out.pending):
        saved = out.n_sentences - out.n_unique
        lines.append(
            f"corpus: {out.n_sentences} sentences, {out.n_unique} unique "
            f"(dedup saves {saved} of {out.n_sentences} requests per behaviour, "
            f"{saved / max(out.n_sentences, 1):.1%})"
        )
    for p in out.pending:
        lines.append(
            f"  {p.prompt.behaviour} ({p.prompt.name}, {p.prompt.mode}, prompt {p.prompt.prompt_hash}): "
            f"{p.considered} considered, {p.done} already answered, {p.n_todo} to annotate"
        )
    if out.run_id is None:
        lines.append(f"nothing to do: teacher {fingerprint} has answered every requested input in {store_root}")
    elif not out.submitted:  # a Slurm/Ray run: cli/submitted.py says how it goes
        lines.append(run_line(out))
    return lines


def run_line(out: AnnotateOutcome) -> str:
    """A finished local run: rows added per status, output tokens and the rate after server start-up."""
    c = out.counts
    tokens = c.completion_tokens
    gen_s = sum(t.generate_s for t in out.passes)
    startup = [f"{t.startup_s:.1f}s" for t in out.passes if t.startup_s is not None]
    by_status = ", ".join(f"{k} {v}" for k, v in sorted(c.by_status.items()))
    return (
        f"run {out.run_id}: {c.added} annotation(s) added ({by_status}) "
        f"in {out.wall_s:.1f}s; {tokens} output tokens, {tokens / max(gen_s, 1e-9):.1f} tokens/s after server start-up"
        + (f" (start-up {', '.join(startup)})" if startup else "")
    )
