"""Training throughput with and without packing, on the tiny student, through `brd train`'s own
trainer construction (runner.prepare + build_trainer: TRL's SFTTrainer as configured for a run).

    .venv/bin/python bench/train.py [--steps 6] [--batch-size 4] [--max-length 512] [--rows 256]
        [--strategies bfd_split,wrapped] [--threads 1]

Prints, for packing on (bfd_split, brd's default for an lm mixture: padding-free rows, each passage
attending only to itself; and wrapped: fixed rows cut across passages, which attend to each other)
and off (the same-run baseline):
- tokens/s: real (non-padding) tokens per second of training (tokens per step over the median
  step time, the first step left out as warm-up);
- the share of padding among the positions the model computed;
- tokens per optimiser step;
and the ratio of the two throughputs. Passages vary in length (1 to 6 paragraphs of the sample
corpus), as mixture passages do. Checkpoint saving is left out of the timing.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.train.helpers import SEP, sample_paragraphs, write_mixture  # noqa: E402


def varied_passages(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    paras = sample_paragraphs()
    rows = []
    for _ in range(n):
        start, k = rng.randrange(len(paras)), rng.randint(1, 6)
        rows.append({"text": SEP.join(paras[(start + j) % len(paras)] for j in range(k))})
    return rows


class Counter:
    """Wraps the trainer's collator: positions computed vs real tokens, per batch."""

    def __init__(self, collate):
        self.collate = collate
        self.positions = 0
        self.real = 0

    def __call__(self, examples):
        batch = self.collate(examples)
        ids = batch["input_ids"]
        self.positions += ids.numel()
        # padded batches carry an attention mask; padding-free (packed) ones have no padding
        self.real += int(batch["attention_mask"].sum()) if "attention_mask" in batch else ids.numel()
        return batch


def measure(mix: Path, student: Path, work: Path, strategy: str | None, args) -> dict:
    from transformers import TrainerCallback

    from brd_train.train import TrainConfig, prepare
    from brd_train.train.runner import build_trainer, load_student_model

    class Clock(TrainerCallback):
        """Wall time of each optimiser step (data collation included, checkpoint saving not)."""

        def __init__(self):
            self.steps: list[float] = []
            self.t0 = None

        def on_train_begin(self, *a, **k):
            self.t0 = time.perf_counter()

        def on_step_end(self, *a, **k):
            now = time.perf_counter()
            self.steps.append(now - self.t0)
            self.t0 = now

    cfg = TrainConfig(
        mix=mix,
        student=str(student),
        out=work / (strategy or "padded"),
        packing=strategy is not None,
        packing_strategy=strategy,
        batch_size=args.batch_size,
        max_length=args.max_length,
        max_steps=args.steps,
        save_steps=args.steps,
        logging_steps=args.steps,
        gradient_checkpointing=False,
    )
    prep = prepare(cfg)
    clock = Clock()
    trainer = build_trainer(prep, load_student_model(prep), callbacks=[clock])
    counter = Counter(trainer.data_collator)
    trainer.data_collator = counter
    trainer.train()
    # The median step after the first (warm-up): steady on a machine shared with other work.
    s_per_step = statistics.median(clock.steps[1:] or clock.steps)
    tokens_per_step = counter.real / args.steps
    return {
        "strategy": prep.cfg.packing_strategy or "none",
        "s_per_step": s_per_step,
        "tokens_per_s": tokens_per_step / s_per_step,
        "padding": 1 - counter.real / counter.positions,
        "tokens_per_step": tokens_per_step,
        "positions_per_s": counter.positions / args.steps / s_per_step,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument(
        "--strategies",
        default="bfd_split,wrapped",
        help="packing strategies to measure, comma-separated (bfd_split: brd's default for lm)",
    )
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: steady figures on a shared machine)")
    args = ap.parse_args()

    import torch
    from transformers.utils import logging as hf_logging

    from brd_data.contracts.models import prepare as prepare_teacher
    from brd_train.train.tiny import make_tiny_student

    torch.set_num_threads(args.threads)
    hf_logging.set_verbosity_error()
    teacher = prepare_teacher()
    with tempfile.TemporaryDirectory(prefix="brd-bench-train-") as tmp:
        work = Path(tmp)
        student = make_tiny_student(work / "student", teacher)
        mix = write_mixture(work / "mix", "lm", varied_passages(args.rows), teacher, name="bench-varied")
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(student)
        lengths = [len(tok(r["text"])["input_ids"]) for r in varied_passages(args.rows)]
        packed = [measure(mix, student, work, strategy, args) for strategy in args.strategies.split(",")]
        padded = measure(mix, student, work, None, args)

    print(
        f"tiny Llama (2 layers, width 64, vocab {len(tok)}), {args.rows} lm passages of "
        f"{min(lengths)}-{max(lengths)} tokens (mean {sum(lengths) / len(lengths):.0f}), batch {args.batch_size}, "
        f"max length {args.max_length}, {args.steps} steps, {args.threads} thread(s), torch {torch.__version__}"
    )
    # positions/s counts padding too: it should be about equal in both rows (same model, same kind
    # of work per position); when it is not, the machine's load changed between the two runs.
    print(f"{'':28s} {'tokens/s':>9s} {'padding':>8s} {'tokens/step':>12s} {'s/step':>7s} {'positions/s':>12s}")
    for label, r in [*((f"packing ({p['strategy']})", p) for p in packed), ("no packing (baseline)", padded)]:
        print(
            f"{label:28s} {r['tokens_per_s']:9.0f} {r['padding']:8.1%} {r['tokens_per_step']:12.0f} "
            f"{r['s_per_step']:7.2f} {r['positions_per_s']:12.0f}"
        )
    for p in packed:
        print(
            f"ratio packing ({p['strategy']}) / no packing: {p['tokens_per_s'] / padded['tokens_per_s']:.2f}x tokens/s"
        )


if __name__ == "__main__":
    main()
