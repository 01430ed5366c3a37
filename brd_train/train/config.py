"""The training configuration: the paper's defaults (appendix A.1), checked where it is built.

`TrainConfig` is the one declaration of every training option, in the style of TRL's argument
dataclasses: each field carries its help and where its value goes in `field(metadata=...)`. The
`brd train` options are generated from it (brd_train/cli/train.py), and so are the keyword arguments
of TRL's `SFTConfig` (`sft_kwargs`). Metadata keys:

- `help`: the option's help; `{default}` stands for the field's default (bools read on/off) and
  `{choices}` for the allowed values.
- `choices`: the `StrEnum` of the allowed values (the option's type; the field keeps the string).
  Each one's help names them (`{choices}`): the long lists would squeeze `--help`'s columns.
- `flag`: the option's declaration when it is not `--field-name`, e.g. `--packing/--no-packing`.
- `required`: the command line must give it (`--out`).
- `cli`: more `typer.Option` settings (`file_okay=False`).
- `sft`: the `SFTConfig` keyword(s) that take the field's value as is, or a mapping of keyword to
  `f(cfg, resolved)` for a value brd derives (`resolved`: the run's `Resolved` values).
- `brd`: what brd itself does with a field that TRL never sees.
- `resume`: `invariant` (a resumed run must keep the run's value) or `command` (never inherited
  from the run: each command says it). Unmarked fields are inherited unless given again.
Every field has `sft` or `brd` (tests/train/test_options.py holds it so).
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from functools import cache
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Protocol

from brd_data.contracts import paper
from brd_data.contracts.choices import check_choice
from brd_data.contracts.errors import ConfigError
from brd_data.contracts.schemas.lineage import resolve_choice

# Appendix A.1: "learning rate = 0.0003, batch size = 8, and max input length = 2048, for a
# maximum of 40000 steps. We save the model every 1000 steps."
PAPER_LEARNING_RATE = paper.LEARNING_RATE
PAPER_BATCH_SIZE = paper.BATCH_SIZE
PAPER_MAX_LENGTH = paper.MAX_LENGTH
PAPER_MAX_STEPS = paper.MAX_STEPS
PAPER_SAVE_STEPS = paper.SAVE_STEPS


class PackingStrategy(StrEnum):
    """TRL's packing strategies."""

    BFD = "bfd"  # best-fit decreasing; an overlong sequence is truncated
    BFD_SPLIT = "bfd_split"  # best-fit decreasing; an overlong sequence continues in another row
    WRAPPED = "wrapped"  # rows cut anywhere


class Precision(StrEnum):
    AUTO = "auto"
    BF16 = "bf16"
    FP16 = "fp16"
    FP32 = "fp32"


class LrScheduler(StrEnum):
    """The learning-rate schedules offered (transformers' SchedulerType names)."""

    LINEAR = "linear"
    COSINE = "cosine"
    CONSTANT = "constant"
    CONSTANT_WITH_WARMUP = "constant_with_warmup"


class Resolved(Protocol):
    """What a run resolves before training (runner.Prepared): the values SFTConfig takes that are
    derived from a field rather than equal to it."""

    per_device_batch_size: int
    precision: str  # `auto` resolved for this machine


_ON_RESUME = "On --resume: the resumed run's value."


@dataclass
class TrainConfig:
    mix: Path = field(
        metadata={
            "help": "Mixture folder built by `brd mix build` (manifest.json + data/train-*.parquet). Its kind decides "
            "the loss: lm = whole passage, sft = completion only. " + _ON_RESUME,
            "cli": {"file_okay": False},
            "brd": "read and checked by brd (read_mixture): the trainer's dataset and the loss",
        }
    )
    student: str = field(
        metadata={
            "help": "Student model: a local folder (a `brd train` checkpoint continues its lineage: BRD², BRD then "
            "SFT), a hub id, or the brd_choice.json of `brd checkpoints choose` (its chosen checkpoint). " + _ON_RESUME,
            "brd": "brd loads the model and its tokenizer and hands both to SFTTrainer",
        }
    )
    out: Path = field(
        metadata={
            "help": "Output folder: checkpoint-N/ folders (each a loadable model with brd_lineage.json), "
            "brd_train.json (the run), loss.png.",
            "required": True,
            "cli": {"file_okay": False},
            "sft": {"output_dir": lambda cfg, resolved: str(cfg.out)},
        }
    )
    learning_rate: float = field(
        default=PAPER_LEARNING_RATE,
        metadata={
            "help": "Peak learning rate of AdamW. Default {default} (paper, A.1).",
            "sft": "learning_rate",
            "resume": "invariant",
        },
    )
    batch_size: int = field(
        default=PAPER_BATCH_SIZE,
        metadata={
            "help": "Rows of the mixture (passages, or sft examples) per optimiser step, all GPUs together; with "
            "--packing, packed rows of up to --max-length tokens instead. Split as batch = per-GPU batch x GPUs x "
            "--grad-accum. Default {default} (paper, A.1: 8 passages per step, unpacked).",
            "sft": {"per_device_train_batch_size": lambda cfg, resolved: resolved.per_device_batch_size},
            "resume": "invariant",
        },
    )
    grad_accum: int = field(
        default=1,
        metadata={
            "help": "Gradient accumulation: micro-steps per optimiser step, to fit --batch-size in memory. "
            "Default {default}.",
            "sft": "gradient_accumulation_steps",
            "resume": "invariant",
        },
    )
    max_length: int = field(
        default=PAPER_MAX_LENGTH,
        metadata={
            "help": "Tokens per sequence (the paper's max input length): a longer row is truncated; with --packing, "
            "packed rows hold up to this many and a long passage continues in the next row. Must not exceed the "
            "student's context. Default {default} (paper).",
            "sft": "max_length",
            "resume": "invariant",
        },
    )
    max_steps: int = field(
        default=PAPER_MAX_STEPS,
        metadata={
            "help": "Optimiser steps to train; the data is repeated (epochs) if it runs out. Default {default} "
            "(paper). On --resume it may be raised.",
            "sft": "max_steps",
        },
    )
    save_steps: int = field(
        default=PAPER_SAVE_STEPS,
        metadata={
            "help": "Save a checkpoint every N steps (and at the last). Default {default} (paper).",
            "sft": "save_steps",
        },
    )
    save_total_limit: int | None = field(
        default=None,
        metadata={
            "help": "Keep only the newest N checkpoints (older folders are deleted; the store marks them removed). "
            "Default: keep all, as the paper does; the free disk space is checked for all of them.",
            "sft": "save_total_limit",
        },
    )
    keep_final_checkpoint: bool = field(
        default=True,
        metadata={
            "help": "Keep the last checkpoint-N (with its optimizer state, about 3x the model) once the final "
            "student is written to OUT/model; without it, extending the run with --resume --max-steps starts from "
            "the checkpoint before. Default {default}.",
            "flag": "--keep-final-checkpoint/--no-keep-final-checkpoint",
            "brd": "brd removes the last checkpoint folder after writing OUT/model (the store marks it removed)",
        },
    )
    logging_steps: int = field(
        default=10,
        metadata={"help": "Log the loss every N steps. Default {default}.", "sft": "logging_steps"},
    )
    packing: bool = field(
        default=paper.PACKING,
        metadata={
            "help": "Pack several rows into each sequence of up to --max-length tokens, so no compute goes to "
            "padding; a step then holds about --max-length / (mean row tokens) passages per sequence, not one. "
            "Default {default}: one passage per sequence, as the paper trains (A.1). Recorded in the lineage.",
            "flag": "--packing/--no-packing",
            "sft": "packing",
            "resume": "invariant",
        },
    )
    packing_strategy: str | None = field(
        default=None,
        metadata={
            "help": "TRL packing strategy ({choices}). Default: bfd_split for lm mixtures (a long passage continues "
            "in another row: no token lost), bfd for sft (an example stays whole).",
            "choices": PackingStrategy,
            "cli": {"metavar": "<strategy>"},
            # None after prepare() when packing is off; TRL then ignores the strategy but needs one
            "sft": {"packing_strategy": lambda cfg, resolved: cfg.packing_strategy or PackingStrategy.BFD.value},
            "resume": "invariant",
        },
    )
    seed: int = field(
        default=42,
        metadata={
            "help": "Seed of the data order (shuffled packed rows) and the trainer's random state. Default {default}.",
            "sft": ("seed", "data_seed"),
            "resume": "invariant",
        },
    )
    lr_scheduler: str = field(
        default=LrScheduler.LINEAR.value,
        metadata={
            "help": "Learning-rate schedule ({choices}); the paper does not say. Default {default} decay to 0.",
            "choices": LrScheduler,
            "cli": {"metavar": "<schedule>"},
            "sft": "lr_scheduler_type",
            "resume": "invariant",
        },
    )
    warmup_steps: int = field(
        default=0,
        metadata={"help": "Linear warm-up steps. Default {default}.", "sft": "warmup_steps", "resume": "invariant"},
    )
    precision: str = field(
        default=Precision.AUTO.value,
        metadata={
            "help": "{choices}. auto: bf16 mixed precision on GPUs that support it (A100, H100), fp16 on older GPUs, "
            "fp32 on CPU. Default {default}.",
            "choices": Precision,
            "cli": {"metavar": "<precision>"},
            "sft": {
                "bf16": lambda cfg, resolved: resolved.precision == Precision.BF16,
                "fp16": lambda cfg, resolved: resolved.precision == Precision.FP16,
            },
        },
    )
    gradient_checkpointing: bool = field(
        default=True,
        metadata={
            "help": "Recompute activations in the backward pass: less memory, about 20-30% more compute. "
            "Default {default}.",
            "flag": "--gradient-checkpointing/--no-gradient-checkpointing",
            "sft": "gradient_checkpointing",
        },
    )
    attn_implementation: str = field(
        default="sdpa",
        metadata={
            "help": "Attention kernel: sdpa (default), eager, or flash_attention_2 (install flash-attn; on GPUs the "
            "fastest with packing, which otherwise attends over a block-diagonal mask).",
            "brd": "passed to from_pretrained when brd loads the student",
        },
    )
    stop_at_step: int | None = field(
        default=None,
        metadata={
            "help": "Stop after this step with a checkpoint, keeping the full run's schedule; continue with --resume "
            "(for clusters with a job time limit).",
            "brd": "brd's StopAtStep callback",
            "resume": "command",  # a planned stop applies to the command that asked for it
        },
    )
    resume: bool = field(
        default=False,
        metadata={
            "help": "Continue the run in --out from its last checkpoint: same data order, optimiser and scheduler "
            "state, step count. --mix and --student are read from the run.",
            "brd": "brd checks the run in --out and resumes the trainer from its last checkpoint",
        },
    )
    trust_remote_code: bool = field(
        default=False,
        metadata={
            "help": "Allow the student to run code shipped with its files. Off unless given.",
            "brd": "brd loads the student's config, tokenizer and model with it",
            "resume": "command",  # never inherited: each command must ask for it
        },
    )
    allow_tokenizer_mismatch: bool = field(
        default=False,
        metadata={
            "help": "Train even if the mixture was measured with another tokenizer than the student's (its token "
            "counts then do not hold).",
            "brd": "brd's check of the mixture's tokenizer against the student's",
        },
    )
    report_to: str = field(
        default="none",
        metadata={
            "help": "Where the trainer also reports (tensorboard, wandb, ...). Default {default}: the console and "
            "loss.png.",
            "sft": "report_to",
        },
    )

    def __post_init__(self) -> None:
        self.mix = Path(self.mix)
        self.out = Path(self.out)
        if self.student is not None:  # a `brd checkpoints choose` file: the checkpoint it chose
            self.student = resolve_choice(str(self.student))
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
        # the choices: an Enum member (from the command line) or a string (lineage, Python) -> the string
        for opt in train_options():
            if opt.choices is not None and getattr(self, opt.name) is not None:
                setattr(self, opt.name, check_choice(opt.choices, getattr(self, opt.name), opt.flag))
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
        return self.packing_strategy or (PackingStrategy.BFD_SPLIT.value if kind == "lm" else PackingStrategy.BFD.value)

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

    def sft_kwargs(self, resolved: Resolved) -> dict[str, Any]:
        """The SFTConfig keyword arguments the fields set, as their `sft` metadata declares."""
        kwargs: dict[str, Any] = {}
        for opt in train_options():
            if isinstance(opt.sft, dict):
                kwargs.update({name: derive(self, resolved) for name, derive in opt.sft.items()})
            else:
                kwargs.update({name: getattr(self, opt.name) for name in opt.sft})
        return kwargs

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class TrainOption:
    """One TrainConfig field as an option: what `brd train` and the study manifest expose."""

    name: str
    type: type  # int, float, str, bool or Path (None taken out: see `optional`)
    optional: bool  # None is a value (e.g. save_total_limit: keep every checkpoint)
    default: Any  # dataclasses.MISSING when the field has none (mix, student, out)
    help: str
    flag: str  # --max-steps, --packing/--no-packing
    choices: type[StrEnum] | None = None
    required: bool = False  # the command line must give it
    cli: dict[str, Any] = field(default_factory=dict)
    sft: tuple[str, ...] | dict[str, Callable[[TrainConfig, Resolved], Any]] = ()
    brd: str | None = None
    resume: str | None = None  # invariant, command, or None (inherited unless given)

    @property
    def option(self) -> str:
        """The option name: --packing for --packing/--no-packing."""
        return self.flag.split("/")[0]

    def argv(self, value: Any) -> list[str]:
        """This option set to `value` on a `brd train` command line."""
        if self.type is bool:
            on, _, off = self.flag.partition("/")
            return [on] if value else [off] if off else []
        return [self.option, format(value, "g") if self.type is float else str(value)]


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


@cache
def train_options() -> tuple[TrainOption, ...]:
    """Every TrainConfig field as a TrainOption, in declaration order."""
    hints = typing.get_type_hints(TrainConfig)
    out = []
    for f in fields(TrainConfig):
        hint, optional = hints[f.name], False
        if isinstance(hint, UnionType):
            args = [a for a in typing.get_args(hint) if a is not NoneType]
            hint, optional = args[0], len(args) < len(typing.get_args(hint))
        meta = f.metadata
        sft = meta.get("sft", ())
        out.append(
            TrainOption(
                name=f.name,
                type=hint,
                optional=optional,
                default=f.default,
                help=meta["help"].format(
                    default=_shown(f.default), choices=", ".join(meta.get("choices", ())) or "any"
                ),
                flag=meta.get("flag", "--" + f.name.replace("_", "-")),
                choices=meta.get("choices"),
                required=meta.get("required", False),
                cli=dict(meta.get("cli", {})),
                sft=(sft,) if isinstance(sft, str) else sft,
                brd=meta.get("brd"),
                resume=meta.get("resume"),
            )
        )
    return tuple(out)


def train_option(name: str) -> TrainOption:
    """The TrainOption of one field, e.g. train_option("max_steps").default == 40000."""
    for opt in train_options():
        if opt.name == name:
            return opt
    raise KeyError(f"TrainConfig has no field {name!r}")


# Settings a resumed run must share with the run it continues: they fix the data order, the
# packed sequences and the optimiser. The others (steps, logging, where to stop) may change.
RESUME_INVARIANT = tuple(o.name for o in train_options() if o.resume == "invariant")
# Settings never taken from the run being resumed: each command gives its own.
RESUME_NOT_INHERITED = tuple(o.name for o in train_options() if o.resume == "command")
