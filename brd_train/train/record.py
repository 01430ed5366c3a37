"""Recording a training run in the store (`runs`, `train_runs`, `train_checkpoints`).

Training does not hold the writer lock while it trains: a run lasts hours and other commands
(ingest, annotate, mix) must be able to write meanwhile. It takes the lock briefly three times:
- at the start, to record the `runs` row and the `train_runs` row (fails at once if the store is
  locked: nothing has been trained yet);
- after each checkpoint, to add its `train_checkpoints` row; if the store is locked then, the
  checkpoint is left for the next one (the rows are rebuilt from the `brd_lineage.json` files, so
  nothing is lost);
- at the end, to set the status and final loss, waiting for the lock (5 minutes by default). If it
  is still held, `brd train --resume --out DIR` later records the finished run without training.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from brd_data.contracts.runs import StageRun
from brd_data.store import StoreLockedError, query

from .lineage import checkpoints, read_checkpoint_lineage

_STATIC = (
    "train_run_id",
    "mixture_hash",
    "mixture_name",
    "mixture_kind",
    "mixture_dir",
    "manifest_sha256",
    "student",
    "student_fingerprint",
    "parent_train_run_id",
    "parent_step",
    "output_dir",
)


class StoreRecorder:
    """Brings `train_runs` and `train_checkpoints` up to date for one `brd train` command, whose
    `runs` row is `run` (a StageRun that takes the lock in short windows)."""

    def __init__(self, run: StageRun, echo=print):
        self.stage = run
        self.store = run.store
        self.echo = echo

    @property
    def run_id(self) -> str:
        return self.stage.run_id

    def sync(
        self,
        run: dict[str, Any],
        *,
        status: str,
        wait_s: float = 0.0,
        error: str | None = None,
        finished: bool = False,
    ) -> bool:
        """Bring `train_runs` and `train_checkpoints` up to date with the output folder.

        Idempotent: rows come from `brd_train.json` and the checkpoints' `brd_lineage.json`.
        With `finished`, the command's `runs` row ends in the same transaction. Returns False
        (and says so) when the store stayed locked for `wait_s`.
        """
        out = Path(run["output_dir"])
        found = checkpoints(out)
        rows = []
        for step, folder in found:
            lin = read_checkpoint_lineage(folder)
            if lin is None or lin.get("train_run_id") != run["train_run_id"]:
                continue
            rows.append(
                {
                    "train_run_id": run["train_run_id"],
                    "step": step,
                    "path": str(folder.resolve()),
                    "loss": lin.get("loss"),
                    "tokens": lin.get("tokens"),
                    "run_id": lin.get("run_id") or self.run_id,
                }
            )
        last_step = max((r["step"] for r in rows), default=0)

        def write(con) -> None:
            self.store.insert(con, "train_runs", pa.Table.from_pylist([_run_row(run, self.run_id)]))
            if rows:
                self.store.insert(con, "train_checkpoints", pa.Table.from_pylist(rows, schema=_CHECKPOINT_SCHEMA))
            con.execute(
                query("train/update_run"),
                [
                    status,
                    last_step,
                    run.get("final_loss"),
                    run.get("final_checkpoint"),
                    run.get("loss_plot"),
                    error,
                    finished,
                    run["max_steps"],
                    json.dumps(run["config"], sort_keys=True, default=str),
                    self.run_id,
                    self.run_id,
                    run["train_run_id"],
                ],
            )
            con.execute(
                query("train/close_interrupted_runs"),
                [f"interrupted; the run was resumed by {self.run_id}", run.get("run_ids") or [], self.run_id],
            )
            on_disk = [str(f.resolve()) for _, f in found]
            con.execute(query("train/mark_removed_checkpoints"), [run["train_run_id"], on_disk])
            con.execute(query("train/restore_checkpoints"), [run["train_run_id"], on_disk])
            if finished:
                self.stage.add_counts(checkpoints=len(rows), last_step=last_step)
                ended = status if status in ("failed", "interrupted") else "succeeded"
                self.stage.finish(ended, error=error, con=con)

        try:
            self.stage.commit(write, wait_s=wait_s)
        except StoreLockedError as exc:
            self.echo(f"warning: {exc}; the store will be brought up to date later")
            return False
        return True


_CHECKPOINT_SCHEMA = pa.schema(
    [
        ("train_run_id", pa.string()),
        ("step", pa.int32()),
        ("path", pa.string()),
        ("loss", pa.float64()),
        ("tokens", pa.int64()),
        ("run_id", pa.string()),
    ]
)


def _run_row(run: dict[str, Any], run_id: str) -> dict[str, Any]:
    row = {k: run.get(k) for k in _STATIC}
    row.update(
        run_ids=[run["train_run_id"]],
        config=json.dumps(run["config"], sort_keys=True, default=str),
        max_steps=run["max_steps"],
        status="running",
        started_at=run["started_at"],
    )
    return row
