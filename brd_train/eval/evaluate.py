"""Scoring tasks with a model and writing results into the store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brd_data.contracts.choices import check_choice
from brd_data.contracts.errors import ConfigError

from .models import ModelOptions
from .scoring import CandidateScore, Request, Scoring, Selection, select
from .tasks import EvalTask


@dataclass(frozen=True, kw_only=True)
class EvalConfig(ModelOptions):
    model: str
    batch_size: int = 16
    max_batch_tokens: int = 16384
    limit: int | None = None
    selection: str = Selection.MEAN.value
    scoring: str = Scoring.PACKED.value

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_batch_tokens < 1:
            raise ConfigError(f"--max-batch-tokens must be at least 1, got {self.max_batch_tokens}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"--limit must be at least 1, got {self.limit}")
        # frozen: the checked values replace what was given (an Enum member becomes its string)
        object.__setattr__(self, "selection", check_choice(Selection, self.selection, "--select"))
        object.__setattr__(self, "scoring", check_choice(Scoring, self.scoring, "--scoring"))


@dataclass
class TaskResult:
    task: EvalTask
    scores: list[list[CandidateScore]]
    predictions: list[int]
    credits: list[float | None]
    accuracy: float | None = None
    n_labelled: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def score_task(
    task: EvalTask, scorer: Any, selection: str = "mean", progress: Callable[[int], None] | None = None
) -> TaskResult:
    requests = [
        Request(it.where or f"{task.name} example {i}", it.prompt, it.continuations) for i, it in enumerate(task.items)
    ]
    scores = scorer.score(requests, progress)
    preds, credits = [], []
    for item, cand_scores in zip(task.items, scores):
        best = select(cand_scores, selection)
        preds.append(best)
        credits.append(None if item.target_scores is None else item.target_scores[best])
    labelled = [c for c in credits if c is not None]
    acc = sum(labelled) / len(labelled) if labelled else None
    return TaskResult(task, scores, preds, credits, acc, len(labelled))


def common_columns(run_id: str, cfg: EvalConfig, fingerprint: str, lineage: Any) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "model": cfg.model,
        "model_fingerprint": fingerprint,
        "train_run_id": lineage.train_run_id,
        "mixture_hash": lineage.mixture_hash,
        "train_passages": lineage.train_passages,
        "train_step": lineage.step,
        "selection": cfg.selection,
    }


def result_row(common: dict[str, Any], r: TaskResult) -> dict[str, Any]:
    t = r.task
    return {
        **common,
        "task": t.name,
        "task_kind": t.kind,
        "parent_task": t.parent,
        "source": t.source,
        "source_sha256": t.source_sha256,
        "template_hash": t.template_hash,
        "metric": t.metric,
        "n": len(t.items),
        "n_labelled": r.n_labelled,
        "n_skipped": t.n_skipped,
        "accuracy": r.accuracy,
    }


def parent_rows(common: dict[str, Any], results: Sequence[TaskResult]) -> list[dict[str, Any]]:
    """BIG-bench tasks with subtasks: one row each, the mean grade of its subtasks."""
    groups: dict[str, list[TaskResult]] = {}
    for r in results:
        if r.task.parent:
            groups.setdefault(r.task.parent, []).append(r)
    out = []
    for parent, subs in groups.items():
        grades = [s.accuracy for s in subs if s.accuracy is not None]
        out.append(
            {
                **common,
                "task": parent,
                "task_kind": "bigbench",
                "parent_task": None,
                "source": str(Path(subs[0].task.source).parent.parent / "task.json"),
                "source_sha256": None,
                "template_hash": subs[0].task.template_hash,
                "metric": "multiple_choice_grade",
                "n": sum(len(s.task.items) for s in subs),
                "n_labelled": sum(s.n_labelled for s in subs),
                "n_skipped": sum(s.task.n_skipped for s in subs),
                "accuracy": sum(grades) / len(grades) if grades else None,
            }
        )
    return out


def prediction_rows(run_id: str, r: TaskResult) -> list[dict[str, Any]]:
    """One row per example: the exact prompt, every candidate's scores, the prediction and the gold."""
    t = r.task
    out = []
    for pos, (item, cand_scores, best, credit) in enumerate(zip(t.items, r.scores, r.predictions, r.credits)):
        cands = [
            {
                "candidate": c,
                "n_tokens": s.n_tokens,
                "n_chars": s.n_chars,
                "logprob_sum": s.logprob_sum,
                "logprob_mean": s.logprob_mean,
                "logprob_per_char": s.logprob_per_char,
                "target_score": None if item.target_scores is None else item.target_scores[k],
            }
            for k, (c, s) in enumerate(zip(item.candidates, cand_scores))
        ]
        out.append(
            {
                "run_id": run_id,
                "task": t.name,
                "position": pos,
                "example_id": item.example_id,
                "prompt": item.prompt,
                "answer_prefix": item.answer_prefix,
                "candidates": cands,
                "prediction": item.candidates[best],
                "gold": item.gold,
                "score": credit,
            }
        )
    return out


def results_schema():
    import pyarrow as pa

    s, i, f = pa.string(), pa.int64(), pa.float64()
    return pa.schema(
        [
            ("run_id", s),
            ("model", s),
            ("model_fingerprint", s),
            ("train_run_id", s),
            ("mixture_hash", s),
            ("train_passages", i),
            ("train_step", i),
            ("task", s),
            ("task_kind", s),
            ("parent_task", s),
            ("source", s),
            ("source_sha256", s),
            ("template_hash", s),
            ("metric", s),
            ("selection", s),
            ("n", i),
            ("n_labelled", i),
            ("n_skipped", i),
            ("accuracy", f),
        ]
    )


def predictions_schema():
    import pyarrow as pa

    s, i, f = pa.string(), pa.int64(), pa.float64()
    cand = pa.struct(
        [
            ("candidate", s),
            ("n_tokens", i),
            ("n_chars", i),
            ("logprob_sum", f),
            ("logprob_mean", f),
            ("logprob_per_char", f),
            ("target_score", f),
        ]
    )
    return pa.schema(
        [
            ("run_id", s),
            ("task", s),
            ("position", i),
            ("example_id", s),
            ("prompt", s),
            ("answer_prefix", s),
            ("candidates", pa.list_(cand)),
            ("prediction", s),
            ("gold", s),
            ("score", f),
        ]
    )


def bigbench_average(rows: Sequence[dict[str, Any]]) -> float | None:
    """The paper's BIG-bench-Avg: the unweighted mean grade over tasks (a task with subtasks counts once)."""
    grades = [r["accuracy"] for r in rows if r["task_kind"] == "bigbench" and r["accuracy"] is not None]
    return sum(grades) / len(grades) if grades else None


def collect_tasks(task_args: Sequence[str], bigbench: Sequence[str | Path], limit: int | None):
    """Every task named on the command line, validated before any model loads.
    Returns (tasks, skipped BIG-bench tasks)."""
    from .bigbench import discover
    from .tasks import load_template_task, parse_task_arg

    tasks: list[EvalTask] = []
    skipped = []
    for arg in task_args:
        name, source = parse_task_arg(arg)
        tasks.append(load_template_task(name, source, limit))
    for root in bigbench:
        found, skip = discover(root, limit)
        tasks.extend(found)
        skipped.extend(skip)
    seen: dict[str, str] = {}
    for t in tasks:
        if t.name in seen:
            raise ConfigError(
                f"task {t.name} is given twice ({seen[t.name]} and {t.source}); evaluate one source per task and run"
            )
        seen[t.name] = t.source
    if not tasks:
        raise ConfigError("nothing to evaluate: pass --task NAME=PATH and/or --bigbench DIR")
    return tasks, skipped


@dataclass
class EvalOutcome:
    run_id: str
    rows: list[dict[str, Any]]
    skipped: list[Any]
    scoring: str
    fingerprint: str
    seconds: float


def run_eval(
    store: Any,
    cfg: EvalConfig,
    tasks: Sequence[EvalTask],
    skipped: Sequence[Any],
    progress: Callable[[EvalTask], Callable[[int], None]] | None = None,
    warn: Callable[[str], None] = print,
) -> EvalOutcome:
    """Load the model, score every task, commit each task's rows as it finishes."""
    import time

    import pyarrow as pa

    from brd_data.contracts.runs import LOCK_WAIT_S, StageRun

    from .models import Lineage, fingerprint, load_model
    from .scoring import make_scorer, packed_agrees

    started = time.monotonic()
    lineage = Lineage.of(cfg.model)
    fp = fingerprint(cfg.model)
    model, tok = load_model(cfg.model, cfg.device, cfg.dtype, cfg.trust_remote_code, cfg.threads)
    mode = cfg.scoring
    if mode == "packed":
        ok, diff = packed_agrees(model, tok)
        if not ok:
            warn(
                f"warning: {cfg.model}: shared-prompt scoring disagrees with per-candidate scoring "
                f"(|diff| {diff:.3g}); this architecture ignores custom attention masks, using --scoring naive"
            )
            mode = "naive"
    scorer = make_scorer(mode, model, tok, cfg.batch_size, cfg.max_batch_tokens)
    config = {
        **cfg.__dict__,
        "scoring_used": mode,
        "tasks": [t.name for t in tasks],
        "bigbench_skipped": [s.__dict__ for s in skipped],
    }
    inputs = [{"path": t.source, "sha256": t.source_sha256, "task": t.name} for t in tasks]
    inputs.append({"path": cfg.model, "model_fingerprint": fp})
    results: list[TaskResult] = []
    rows: list[dict[str, Any]] = []
    with StageRun(store, "eval", config, inputs, wait_s=LOCK_WAIT_S, on_wait=warn) as run:
        common = common_columns(run.run_id, cfg, fp, lineage)
        for task in tasks:
            res = score_task(task, scorer, cfg.selection, progress(task) if progress else None)
            results.append(res)
            row, preds = result_row(common, res), prediction_rows(run.run_id, res)

            def write(con, row=row, preds=preds):
                store.insert(con, "eval_results", pa.Table.from_pylist([row], schema=results_schema()))
                store.insert(con, "eval_predictions", pa.Table.from_pylist(preds, schema=predictions_schema()))

            run.commit(write)
            run.add_counts(eval_results=1, eval_predictions=len(preds))
            rows.append(row)
        parents = parent_rows(common, results)

        run.add_counts(eval_results=len(parents), bigbench_tasks_skipped=len(skipped))

        def close(con):
            if parents:
                store.insert(con, "eval_results", pa.Table.from_pylist(parents, schema=results_schema()))

        run.commit(close, finish=True)
        rows.extend(parents)
    from .card import add_results_to_card

    add_results_to_card(cfg.model, rows)  # a brd student folder's card shows its scores
    return EvalOutcome(run.run_id, rows, list(skipped), mode, fp, time.monotonic() - started)
