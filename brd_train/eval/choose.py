"""Which checkpoint of a training run is evaluated: `brd checkpoints choose OUT --rule last|best`.

`last`: the final checkpoint (the blind test, where the paper has no tuning data). `best`: every
saved checkpoint is scored on the tuning tasks (the paper's "ten percent of instances as tuning
set", §4.3) with the §3.3 function, and the one with the highest mean accuracy over the tuning
tasks is chosen (the earliest on a tie). The choice goes to OUT/brd_choice.json, which
`brd eval --model` and `brd train --student` accept, and its scores to `checkpoint_choices`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brd_data.contracts.errors import ConfigError, UserError
from brd_data.contracts.schemas.lineage import CHOICE_FILE, read_run_state

from .evaluate import score_task
from .models import ModelOptions
from .tasks import EvalTask

RULES = ("last", "best")
_CKPT = re.compile(r"^checkpoint-(\d+)$")


class ChooseError(UserError):
    """A training output folder whose checkpoint cannot be chosen."""


@dataclass(frozen=True, kw_only=True)
class ChooseConfig(ModelOptions):
    out: Path
    rule: str = "last"
    selection: str = "word"  # as `brd eval` (§3.3 as written)
    max_batch_tokens: int = 16384

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rule not in RULES:
            raise ConfigError(f"--rule {self.rule!r}: one of {', '.join(RULES)}")


@dataclass
class ChoiceOutcome:
    run_id: str
    chosen: Path
    step: int
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None


def saved_checkpoints(out: Path) -> list[tuple[int, Path]]:
    found = sorted((int(m.group(1)), p) for p in out.glob("checkpoint-*") if (m := _CKPT.match(p.name)) and p.is_dir())
    if not found:
        raise ChooseError(f"{out}: no checkpoint-N folder (train first with `brd train --out {out}`)")
    return found


def run_choose(
    store: Any,
    cfg: ChooseConfig,
    tasks: Sequence[EvalTask],
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> ChoiceOutcome:
    import pyarrow as pa

    from brd_data.contracts.runs import LOCK_WAIT_S, StageRun

    from .models import load_model
    from .scoring import make_scorer

    out = Path(cfg.out).resolve()
    found = saved_checkpoints(out)
    if cfg.rule == "best" and not tasks:
        raise ConfigError("--rule best needs tuning tasks (--task NAME=PATH)")
    state = read_run_state(out) or {}
    tuning = [{"task": t.name, "source": t.source, "sha256": t.source_sha256} for t in tasks]
    config = {"out": str(out), "rule": cfg.rule, "selection": cfg.selection, "tuning": tuning}
    rows: list[dict[str, Any]] = []
    scores: dict[str, dict[str, Any]] = {}
    with StageRun(store, "checkpoints choose", config, tuning, wait_s=LOCK_WAIT_S) as run:
        if cfg.rule == "last":
            step, chosen = found[-1]
        else:
            for step, folder in found:
                model, tok = load_model(folder, cfg.device, cfg.dtype, cfg.trust_remote_code, cfg.threads)
                scorer = make_scorer("packed", model, tok, cfg.batch_size, cfg.max_batch_tokens)
                accs = {}
                for task in tasks:
                    bar = progress(f"{folder.name} {task.name}", len(task.items)) if progress else None
                    res = score_task(task, scorer, cfg.selection, bar)
                    accs[task.name] = (res.accuracy, len(task.items), task.source)
                labelled = [a for a, _, _ in accs.values() if a is not None]
                mean = sum(labelled) / len(labelled) if labelled else None
                scores[folder.name] = {**{k: v[0] for k, v in accs.items()}, "mean": mean}
                rows += [
                    {
                        "step": step,
                        "checkpoint": str(folder),
                        "task": k,
                        "source": src,
                        "n": n,
                        "accuracy": a,
                        "mean_accuracy": mean,
                    }
                    for k, (a, n, src) in accs.items()
                ]
                del model
            best = max((s["mean"] if s["mean"] is not None else -1.0, -i) for i, s in enumerate(scores.values()))
            step, chosen = found[-best[1]]
        if not rows:
            rows = [
                {
                    "step": step,
                    "checkpoint": str(chosen),
                    "task": "",
                    "source": None,
                    "n": None,
                    "accuracy": None,
                    "mean_accuracy": None,
                }
            ]
        common = {
            "run_id": run.run_id,
            "train_dir": str(out),
            "train_run_id": state.get("train_run_id"),
            "rule": cfg.rule,
        }
        table = pa.Table.from_pylist([{**common, **r, "chosen": r["step"] == step} for r in rows])
        choice = {
            "rule": cfg.rule,
            "checkpoint": chosen.name,
            "step": step,
            "train_run_id": state.get("train_run_id"),
            "tuning": tuning,
            "scores": scores,
            "run_id": run.run_id,
            "chosen_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        path = out / CHOICE_FILE
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(choice, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
        run.add_counts(checkpoints=len(found), scored=len(scores))
        run.commit(lambda con: store.insert(con, "checkpoint_choices", table), finish=True)
    return ChoiceOutcome(run.run_id, chosen, step, scores, path)
