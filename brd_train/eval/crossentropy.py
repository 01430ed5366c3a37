"""§5.2: how close a student's distribution is to the teacher's, on the downstream task texts.

For each text i, p_i and q_i are the teacher's and the student's sequence probabilities averaged
over each model's own tokens: p_i = exp(mean_t log p(y_t | y_<t)), q_i likewise over the student's
tokenisation y' of the same text. The cross entropy is -sum_i p_i log q_i over up to `max_texts`
texts per task (the paper samples 1K per BIG-bench task). Lower means closer to the teacher.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from brd_data.contracts.errors import ConfigError

from .tasks import EvalTask
from .texts import TextRunConfig


@dataclass(frozen=True, kw_only=True)
class CrossEntropyConfig(TextRunConfig):
    teacher: str
    students: tuple[str, ...]
    max_texts: int = 1000

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.students:
            raise ConfigError("give at least one --student")
        if len(set(self.students)) != len(self.students):
            raise ConfigError("--student is given twice with the same model")
        if self.max_texts < 1:
            raise ConfigError(f"--max-texts must be at least 1, got {self.max_texts}")


def cross_entropy(teacher_means: Sequence[float], student_means: Sequence[float]) -> float:
    """-sum_i p_i log q_i, with p_i = exp(teacher mean log-prob) and log q_i = student mean log-prob."""
    return -sum(math.exp(lp) * lq for lp, lq in zip(teacher_means, student_means, strict=True))


@dataclass
class CrossEntropyOutcome:
    run_id: str
    rows: list[dict[str, Any]] = field(default_factory=list)


def run_cross_entropy(
    store: Any,
    cfg: CrossEntropyConfig,
    tasks: Sequence[EvalTask],
    skipped: Sequence[Any] = (),
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> CrossEntropyOutcome:
    """Teacher log-probs once per task, then each student's; one transaction at the end."""
    import gc

    import pyarrow as pa

    from brd_data.contracts.runs import LOCK_WAIT_S, StageRun

    from .models import fingerprint, load_model
    from .texts import mean_token_logprobs, sample_texts

    texts = {t.name: sample_texts(t, cfg.max_texts, cfg.seed) for t in tasks}

    def score_all(model_path: str) -> dict[str, list[float]]:
        model, tok = load_model(model_path, cfg.device, cfg.dtype, cfg.trust_remote_code, cfg.threads)
        out = {}
        for t in tasks:
            bar = progress(f"{t.name} ({_short(model_path)})", len(texts[t.name])) if progress else None
            out[t.name] = mean_token_logprobs(model, tok, texts[t.name], cfg.batch_size, cfg.max_length, bar)
        del model
        gc.collect()
        return out

    fingerprints = {m: fingerprint(m) for m in (cfg.teacher, *cfg.students)}
    config = {**cfg.__dict__, "tasks": [t.name for t in tasks], "bigbench_skipped": len(skipped)}
    inputs = [{"path": t.source, "sha256": t.source_sha256, "task": t.name} for t in tasks]
    inputs += [{"path": m, "model_fingerprint": f} for m, f in fingerprints.items()]
    with StageRun(store, "analyze cross-entropy", config, inputs, wait_s=LOCK_WAIT_S) as run:
        teacher = score_all(cfg.teacher)
        rows = []
        for student in cfg.students:
            q = score_all(student)
            for t in tasks:
                ce = cross_entropy(teacher[t.name], q[t.name])
                n = len(texts[t.name])
                rows.append(
                    {
                        "run_id": run.run_id,
                        "teacher": cfg.teacher,
                        "teacher_fingerprint": fingerprints[cfg.teacher],
                        "model": student,
                        "model_fingerprint": fingerprints[student],
                        "task": t.name,
                        "task_kind": t.kind,
                        "source": t.source,
                        "n": n,
                        "cross_entropy": ce,
                        "cross_entropy_mean": ce / n,
                        "teacher_logprob_mean": sum(teacher[t.name]) / n,
                        "model_logprob_mean": sum(q[t.name]) / n,
                    }
                )
        run.add_counts(eval_cross_entropy=len(rows))

        def write(con):
            store.insert(con, "eval_cross_entropy", pa.Table.from_pylist(rows))

        run.commit(write, finish=True)
    return CrossEntropyOutcome(run.run_id, rows)


def _short(path: str) -> str:
    return path.rstrip("/").split("/")[-1]


def table5(outcome: CrossEntropyOutcome):
    """A rich table shaped like the paper's Table 5: students as rows, tasks as columns, with
    the BIG-bench tasks averaged into one column."""
    from rich.table import Table

    students = list(dict.fromkeys(r["model"] for r in outcome.rows))
    plain = list(dict.fromkeys(r["task"] for r in outcome.rows if r["task_kind"] == "template"))
    has_bb = any(r["task_kind"] != "template" for r in outcome.rows)
    table = Table(
        title="cross entropy with the teacher (§5.2; lower is closer)",
        title_justify="left",
        caption=f"run {outcome.run_id}",
        caption_justify="left",
    )
    table.add_column("student")
    for name in plain + (["BIG-bench-Avg"] if has_bb else []):
        table.add_column(name, justify="right")
    for s in students:
        mine = [r for r in outcome.rows if r["model"] == s]
        cells = [_fmt(next(r["cross_entropy"] for r in mine if r["task"] == t)) for t in plain]
        if has_bb:
            cells.append(_fmt(bigbench_mean(mine)))
        table.add_row(s, *cells)
    return table


def _fmt(x: float) -> str:
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.4g}"


def bigbench_mean(rows: Sequence[dict[str, Any]], value: str = "cross_entropy") -> float:
    """Mean over BIG-bench tasks; a task with subtasks counts once (its subtasks' mean)."""
    groups: dict[str, list[float]] = {}
    for r in rows:
        if r["task_kind"] == "template":
            continue
        parts = r["task"].split(":")
        groups.setdefault(":".join(parts[:2]), []).append(r[value])
    means = [sum(v) / len(v) for v in groups.values()]
    return sum(means) / len(means) if means else float("nan")
