"""The training configuration: the paper's defaults (appendix A.1), checked where it is built."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

from brd_data.contracts.errors import ConfigError

# Appendix A.1: "learning rate = 0.0003, batch size = 8, and max input length = 2048, for a
# maximum of 40000 steps. We save the model every 1000 steps."
PAPER_LEARNING_RATE = 3e-4
PAPER_BATCH_SIZE = 8
PAPER_MAX_LENGTH = 2048
PAPER_MAX_STEPS = 40_000
PAPER_SAVE_STEPS = 1_000

PACKING_STRATEGIES = ("bfd", "bfd_split", "wrapped")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")

# Settings a resumed run must share with the run it continues: they fix the data order, the
# packed sequences and the optimiser. The others (steps, logging, where to stop) may change.
RESUME_INVARIANT = (
    "learning_rate",
    "batch_size",
    "grad_accum",
    "max_length",
    "packing",
    "packing_strategy",
    "seed",
    "lr_scheduler",
    "warmup_steps",
)


@dataclass
class TrainConfig:
    mix: Path
    student: str
    out: Path
    learning_rate: float = PAPER_LEARNING_RATE
    batch_size: int = PAPER_BATCH_SIZE  # sequences per optimiser step, all processes together
    grad_accum: int = 1
    max_length: int = PAPER_MAX_LENGTH
    max_steps: int = PAPER_MAX_STEPS
    save_steps: int = PAPER_SAVE_STEPS
    save_total_limit: int | None = None  # None: keep every checkpoint, as the paper does
    logging_steps: int = 10
    packing: bool = True
    packing_strategy: str | None = None  # None: bfd_split for lm mixtures, bfd for sft
    seed: int = 42
    lr_scheduler: str = "linear"
    warmup_steps: int = 0
    precision: str = "auto"
    gradient_checkpointing: bool = True
    attn_implementation: str = "sdpa"
    stop_at_step: int | None = None
    resume: bool = False
    trust_remote_code: bool = False
    allow_tokenizer_mismatch: bool = False
    report_to: str = "none"

    def __post_init__(self) -> None:
        self.mix = Path(self.mix)
        self.out = Path(self.out)
        if not self.learning_rate > 0:
            raise ConfigError(f"--learning-rate must be positive, got {self.learning_rate}")
        for name in ("batch_size", "grad_accum", "max_steps", "save_steps", "logging_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.max_length < 16:
            raise ConfigError(f"--max-length must be at least 16 tokens, got {self.max_length}")
        if self.batch_size % self.grad_accum:
            raise ConfigError(f"--batch-size {self.batch_size} is not a multiple of --grad-accum {self.grad_accum}")
        if self.save_total_limit is not None and self.save_total_limit < 1:
            raise ConfigError(f"--save-total-limit must be at least 1, got {self.save_total_limit}")
        if self.packing_strategy is not None and self.packing_strategy not in PACKING_STRATEGIES:
            raise ConfigError(
                f"--packing-strategy {self.packing_strategy!r} is not one of {', '.join(PACKING_STRATEGIES)}"
            )
        if self.precision not in PRECISIONS:
            raise ConfigError(f"--precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        if self.lr_scheduler not in SCHEDULERS:
            raise ConfigError(f"--lr-scheduler {self.lr_scheduler!r} is not one of {', '.join(SCHEDULERS)}")
        if self.warmup_steps < 0:
            raise ConfigError(f"--warmup-steps must be 0 or more, got {self.warmup_steps}")
        if self.stop_at_step is not None and not 1 <= self.stop_at_step <= self.max_steps:
            raise ConfigError(
                f"--stop-at-step must be between 1 and --max-steps ({self.max_steps}), got {self.stop_at_step}"
            )

    def resolved_packing_strategy(self, kind: str) -> str | None:
        """lm passages are pre-training text: an overlong one continues in the next packed row
        (bfd_split loses no token). An sft example stays whole: bfd truncates the rare overflow."""
        if not self.packing:
            return None
        return self.packing_strategy or ("bfd_split" if kind == "lm" else "bfd")

    def per_device_batch_size(self, world_size: int) -> int:
        per_step = self.batch_size // self.grad_accum
        if per_step % world_size:
            raise ConfigError(
                f"--batch-size {self.batch_size} / --grad-accum {self.grad_accum} = {per_step} sequences per "
                f"micro-step cannot be split evenly over {world_size} processes"
            )
        return per_step // world_size

    def lineage(self) -> dict:
        d = asdict(self)
        d["mix"] = str(self.mix.resolve())
        d["out"] = str(self.out.resolve())
        return d

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
