"""Trainer callbacks: lineage and store records at each checkpoint, and a planned stop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from .lineage import checkpoint_lineage, write_checkpoint_lineage


def last_logged_loss(log_history: list[dict[str, Any]], step: int | None = None) -> float | None:
    """The last training loss logged at or before `step` (the trainer's own log)."""
    for entry in reversed(log_history):
        if "loss" in entry and (step is None or entry.get("step", 0) <= step):
            return float(entry["loss"])
    return None


class LineageCallback(TrainerCallback):
    """After each save (main process only): write brd_lineage.json into the checkpoint folder,
    then bring the store up to date, taking the writer lock only for that moment."""

    def __init__(self, run: dict[str, Any], run_id: str, recorder=None, tokens_seen=None):
        self.run = run
        self.run_id = run_id
        self.recorder = recorder
        self.tokens_seen = tokens_seen or (lambda: None)

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            lineage = checkpoint_lineage(
                self.run,
                state.global_step,
                loss=last_logged_loss(state.log_history, state.global_step),
                tokens=self.tokens_seen(),
                run_id=self.run_id,
            )
            write_checkpoint_lineage(folder, lineage)
        if self.recorder is not None:
            self.recorder.sync(self.run, status="running")


class StopAtStep(TrainerCallback):
    """Stop after global step N with a checkpoint, keeping the schedule of the full run: a long
    run split into jobs that fit a cluster's time limit, each continued with --resume."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_training_stop = True
            control.should_save = True
        return control


class TrainProgress(TrainerCallback):
    """brd's one display for a training run (main process): steps done, the last loss, the rate
    and the time left. It replaces the trainer's bar and its printed log dicts."""

    def __init__(self, desc: str):
        self.desc = desc
        self.bar = None

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        import sys

        from tqdm import tqdm

        self.bar = tqdm(
            total=state.max_steps,
            initial=state.global_step,
            desc=self.desc,
            unit="step",
            file=sys.stderr,
            dynamic_ncols=True,
            mininterval=1.0,
        )

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.bar is not None and logs and "loss" in logs:
            self.bar.set_postfix_str(f"loss {float(logs['loss']):.3f}")

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
