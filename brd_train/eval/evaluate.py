"""Scoring tasks with a model and writing results into the store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brd_data.contracts.choices import check_choice
from brd_data.contracts.errors import ConfigError
from brd_data.contracts.stats import Interval, interval, tree_interval, tree_mean

from .models import ModelOptions
from .scoring import DEFAULT_SELECTION, CandidateScore, Request, Scoring, Selection, select
from .tasks import EvalTask


@dataclass(frozen=True, kw_only=True)
class EvalConfig(ModelOptions):
    model: str
    batch_size: int = 16
    max_batch_tokens: int = 16384
    limit: int | None = None
    selection: str = DEFAULT_SELECTION
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
    ci: Interval | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def labelled(self) -> list[float]:
        return [c for c in self.credits if c is not None]


def usable_items(task: EvalTask, scorer: Any) -> EvalTask:
    """The task without the examples that cannot be scored with this tokenizer (a candidate that
    adds no token, ...); they are counted by reason with the task's other skipped examples."""
    from dataclasses import replace

    from .scoring import ScoringError

    keep, reasons = [], dict(task.skip_reasons)
    for i, it in enumerate(task.items):
        try:
            scorer.check(Request(it.where or f"{task.name} example {i}", it.prompt, it.continuations))
        except ScoringError as exc:
            reasons[exc.reason] = reasons.get(exc.reason, 0) + 1
            continue
        keep.append(it)
    if len(keep) == len(task.items):
        return task
    if not keep:
        raise ConfigError(f"task {task.name} ({task.source}): no example can be scored ({'; '.join(reasons)})")
    return replace(task, items=keep, n_skipped=task.n_skipped + len(task.items) - len(keep), skip_reasons=reasons)


def score_task(
    task: EvalTask, scorer: Any, selection: str = DEFAULT_SELECTION, progress: Callable[[int], None] | None = None
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
    return TaskResult(task, scores, preds, credits, acc, len(labelled), interval(labelled))


def common_columns(run_id: str, cfg: EvalConfig, fingerprint: str, lineage: Any) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "model": cfg.model,
        "model_fingerprint": fingerprint,
        "train_run_id": lineage.train_run_id,
        "mixture_hash": lineage.mixture_hash,
        "train_passages": lineage.train_passages,
        "train_rows": lineage.train_rows,
        "mixture_name": lineage.mixture_name,
        "mixture_kind": lineage.mixture_kind,
        "mixture_family": lineage.mixture_family,
        "base_fingerprint": lineage.base_fingerprint,
        "train_step": lineage.step,
        "selection": cfg.selection,
    }


def _ci_columns(ci: Interval | None) -> dict[str, Any]:
    return {
        "ci_low": None if ci is None else ci.low,
        "ci_high": None if ci is None else ci.high,
        "ci_method": None if ci is None else ci.method,
    }


def result_row(common: dict[str, Any], r: TaskResult) -> dict[str, Any]:
    import json

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
        **_ci_columns(r.ci),
        "skip_reasons": json.dumps(t.skip_reasons, ensure_ascii=False) if t.skip_reasons else None,
        "notes": json.dumps(t.notes, ensure_ascii=False) if t.notes else None,
    }


def parent_rows(common: dict[str, Any], results: Sequence[TaskResult]) -> list[dict[str, Any]]:
    """BIG-bench tasks with subtasks: one row each, the mean grade of its subtasks, with a
    stratified bootstrap interval."""
    import json

    groups: dict[str, list[TaskResult]] = {}
    for r in results:
        if r.task.parent:
            groups.setdefault(r.task.parent, []).append(r)
    out = []
    for parent, subs in groups.items():
        grades = [s.accuracy for s in subs if s.accuracy is not None]
        reasons: dict[str, int] = {}
        for s in subs:
            for k, v in s.task.skip_reasons.items():
                reasons[k] = reasons.get(k, 0) + v
        notes = sorted({n for s in subs for n in s.task.notes})
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
                **_ci_columns(tree_interval([s.labelled for s in subs])),
                "skip_reasons": json.dumps(reasons, ensure_ascii=False) if reasons else None,
                "notes": json.dumps(notes, ensure_ascii=False) if notes else None,
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
                "n_words": s.n_words,
                "logprob_per_word": s.logprob_per_word,
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
            ("train_rows", i),
            ("mixture_name", s),
            ("mixture_kind", s),
            ("mixture_family", s),
            ("base_fingerprint", s),
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
            ("ci_low", f),
            ("ci_high", f),
            ("ci_method", s),
            ("skip_reasons", s),
            ("notes", s),
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
            ("n_words", i),
            ("logprob_per_word", f),
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


def bigbench_tree(results: Sequence[TaskResult]) -> list[list[list[float]]]:
    """Per BIG-bench task, its subtasks' credits (one leaf for a task without subtasks): the
    structure BIG-bench-Avg averages over, for its interval and paired tests."""
    tasks: dict[str, list[list[float]]] = {}
    for r in results:
        if r.task.kind == "bigbench" and r.labelled:
            tasks.setdefault(r.task.name, []).append(r.labelled)
        elif r.task.kind == "bigbench_subtask" and r.labelled:
            tasks.setdefault(r.task.parent or r.task.name, []).append(r.labelled)
    return list(tasks.values())


def bigbench_average_interval(results: Sequence[TaskResult]) -> tuple[float, Interval] | None:
    """BIG-bench-Avg and its 95% interval (stratified bootstrap over every task's examples)."""
    tree = bigbench_tree(results)
    if not tree:
        return None
    ci = tree_interval(tree)
    return tree_mean(tree), ci  # type: ignore[return-value]


def collect_tasks(
    task_args: Sequence[str], bigbench: Sequence[str | Path], limit: int | None, bigbench_set: str | None = None
):
    """Every task named on the command line, validated before any model loads.
    Returns (tasks, skipped BIG-bench tasks). `bigbench_set`: a task set (manifests/bigbench)
    that selects the task folders of each --bigbench folder."""
    from brd_data.contracts.bigbench import load_taskset

    from .bigbench import discover, load_split_task
    from .tasks import load_template_task, parse_task_arg

    only = list(load_taskset(bigbench_set).tasks) if bigbench_set else None
    if only is not None and not bigbench:
        raise ConfigError("--bigbench-set selects task folders of a --bigbench folder; pass --bigbench DIR too")
    tasks: list[EvalTask] = []
    skipped = []
    for arg in task_args:
        name, source = parse_task_arg(arg)
        if name.startswith("bigbench:"):
            if not source:
                raise ConfigError(
                    f"--task {arg!r}: a BIG-bench split needs its file: bigbench:TASK=DIR/TASK/test.jsonl"
                )
            tasks.append(load_split_task(name, source, limit))
        else:
            tasks.append(load_template_task(name, source, limit))
    for root in bigbench:
        found, skip = discover(root, limit, only)
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


COMMIT_EVERY_S = 30.0


@dataclass
class EvalOutcome:
    run_id: str
    rows: list[dict[str, Any]]
    skipped: list[Any]
    scoring: str
    fingerprint: str
    seconds: float
    results: list[TaskResult] = field(default_factory=list)


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
        "bigbench_notes": {t.name: t.notes for t in tasks if t.notes},
    }
    inputs = [{"path": t.source, "sha256": t.source_sha256, "task": t.name} for t in tasks]
    inputs.append({"path": cfg.model, "model_fingerprint": fp})
    results: list[TaskResult] = []
    rows: list[dict[str, Any]] = []
    # Finished tasks are committed together at most every COMMIT_EVERY_S seconds: a commit opens
    # the store and takes the writer lock (0.3-0.9 s measured), and the full BIG-bench folder has
    # 312 task units that a tiny model scores in a fraction of that each.
    pending_rows: list[dict[str, Any]] = []
    pending_preds: list[dict[str, Any]] = []
    with StageRun(store, "eval", config, inputs, wait_s=LOCK_WAIT_S, on_wait=warn) as run:

        def flush(con):
            if pending_rows:
                store.insert(con, "eval_results", pa.Table.from_pylist(pending_rows, schema=results_schema()))
            if pending_preds:
                store.insert(con, "eval_predictions", pa.Table.from_pylist(pending_preds, schema=predictions_schema()))

        def commit(finish: bool = False) -> None:
            run.add_counts(eval_results=len(pending_rows), eval_predictions=len(pending_preds))
            run.commit(flush, finish=finish)
            pending_rows.clear()
            pending_preds.clear()

        common = common_columns(run.run_id, cfg, fp, lineage)
        last_commit = time.monotonic()
        for task in tasks:
            task = usable_items(task, scorer)
            res = score_task(task, scorer, cfg.selection, progress(task) if progress else None)
            results.append(res)
            row = result_row(common, res)
            pending_rows.append(row)
            pending_preds.extend(prediction_rows(run.run_id, res))
            rows.append(row)
            if time.monotonic() - last_commit >= COMMIT_EVERY_S:
                commit()
                last_commit = time.monotonic()
        parents = parent_rows(common, results)
        pending_rows.extend(parents)
        rows.extend(parents)
        run.add_counts(bigbench_tasks_skipped=len(skipped))
        commit(finish=True)
    from .card import add_results_to_card

    add_results_to_card(cfg.model, rows)  # a brd student folder's card shows its scores
    return EvalOutcome(run.run_id, rows, list(skipped), mode, fp, time.monotonic() - started, results)
