"""`brd train`: train a student on a mixture folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from brd_data.cli.options import DEFAULT_STORE_PATH, StoreOpt

from .config import (
    PACKING_STRATEGIES,
    PAPER_BATCH_SIZE,
    PAPER_LEARNING_RATE,
    PAPER_MAX_LENGTH,
    PAPER_MAX_STEPS,
    PAPER_SAVE_STEPS,
    PRECISIONS,
    SCHEDULERS,
)

_ON_RESUME = "On --resume: the resumed run's value."


def train(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            file_okay=False,
            help=(
                "Output folder: checkpoint-N/ folders (each a loadable model with brd_lineage.json), brd_train.json "
                "(the run), loss.png."
            ),
        ),
    ],
    mix: Annotated[
        Path | None,
        typer.Option(
            "--mix",
            file_okay=False,
            help=(
                "Mixture folder built by `brd mix build` (manifest.json + data/train-*.parquet). Its kind decides "
                "the loss: lm = whole passage, sft = completion only. " + _ON_RESUME
            ),
        ),
    ] = None,
    student: Annotated[
        str | None,
        typer.Option(
            "--student",
            help=(
                "Student model: a local folder (a `brd train` checkpoint continues its lineage: BRD², BRD then SFT) "
                "or a hub id. " + _ON_RESUME
            ),
        ),
    ] = None,
    store: StoreOpt = DEFAULT_STORE_PATH,
    learning_rate: Annotated[
        float | None,
        typer.Option(
            help=f"Peak learning rate of AdamW. Default {PAPER_LEARNING_RATE:g} (paper, A.1).", show_default=False
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            help=(
                f"Sequences per optimiser step, all GPUs together (with packing: packed rows of up to --max-length "
                f"tokens). Split as batch = per-GPU batch x GPUs x --grad-accum. Default {PAPER_BATCH_SIZE} (paper)."
            ),
            show_default=False,
        ),
    ] = None,
    grad_accum: Annotated[
        int | None,
        typer.Option(
            help=("Gradient accumulation: micro-steps per optimiser step, to fit --batch-size in memory. Default 1."),
            show_default=False,
        ),
    ] = None,
    max_length: Annotated[
        int | None,
        typer.Option(
            help=(
                f"Tokens per sequence: longer passages are split (lm) or truncated (sft); packed rows hold up to this "
                f"many. Must not exceed the student's context. Default {PAPER_MAX_LENGTH} (paper)."
            ),
            show_default=False,
        ),
    ] = None,
    max_steps: Annotated[
        int | None,
        typer.Option(
            help=(
                f"Optimiser steps to train; the data is repeated (epochs) if it runs out. Default {PAPER_MAX_STEPS} "
                "(paper). On --resume it may be raised."
            ),
            show_default=False,
        ),
    ] = None,
    save_steps: Annotated[
        int | None,
        typer.Option(
            help=(f"Save a checkpoint every N steps (and at the last). Default {PAPER_SAVE_STEPS} (paper)."),
            show_default=False,
        ),
    ] = None,
    save_total_limit: Annotated[
        int | None,
        typer.Option(
            help=(
                "Keep only the newest N checkpoints (older folders are deleted; the store marks them removed). "
                "Default: keep all, as the paper does; the free disk space is checked for all of them."
            ),
            show_default=False,
        ),
    ] = None,
    logging_steps: Annotated[
        int | None, typer.Option(help="Log the loss every N steps. Default 10.", show_default=False)
    ] = None,
    packing: Annotated[
        bool | None,
        typer.Option(
            "--packing/--no-packing",
            help=(
                "Pack several sequences into each row of up to --max-length tokens, so no compute goes to padding. "
                "Default on."
            ),
            show_default=False,
        ),
    ] = None,
    packing_strategy: Annotated[
        str | None,
        typer.Option(
            help=(
                f"TRL packing strategy ({', '.join(PACKING_STRATEGIES)}). Default: bfd_split for lm mixtures (a long "
                "passage continues in another row: no token lost), bfd for sft (an example stays whole)."
            ),
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed of the data order (shuffled packed rows) and the trainer's random state. Default 42.",
            show_default=False,
        ),
    ] = None,
    lr_scheduler: Annotated[
        str | None,
        typer.Option(
            help=(
                f"Learning-rate schedule ({', '.join(SCHEDULERS)}); the paper does not say. Default linear decay to 0."
            ),
            show_default=False,
        ),
    ] = None,
    warmup_steps: Annotated[
        int | None, typer.Option(help="Linear warm-up steps. Default 0.", show_default=False)
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option(
            help=(
                f"{', '.join(PRECISIONS)}. auto: bf16 mixed precision on GPUs that support it (A100, H100), fp16 on "
                "older GPUs, fp32 on CPU."
            ),
            show_default=False,
        ),
    ] = None,
    gradient_checkpointing: Annotated[
        bool | None,
        typer.Option(
            "--gradient-checkpointing/--no-gradient-checkpointing",
            help="Recompute activations in the backward pass: less memory, about 20-30% more compute. Default on.",
            show_default=False,
        ),
    ] = None,
    attn_implementation: Annotated[
        str | None,
        typer.Option(
            help=(
                "Attention kernel: sdpa (default), eager, or flash_attention_2 (install flash-attn; "
                "on GPUs the fastest "
                "with packing, which otherwise attends over a block-diagonal mask)."
            ),
            show_default=False,
        ),
    ] = None,
    stop_at_step: Annotated[
        int | None,
        typer.Option(
            help=(
                "Stop after this step with a checkpoint, keeping the full run's schedule; continue with --resume "
                "(for clusters with a job time limit)."
            ),
            show_default=False,
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help=(
                "Continue the run in --out from its last checkpoint: same data order, optimiser and scheduler state, "
                "step count. --mix and --student are read from the run."
            ),
        ),
    ] = False,
    trust_remote_code: Annotated[
        bool,
        typer.Option(
            "--trust-remote-code", help=("Allow the student to run code shipped with its files. Off unless given.")
        ),
    ] = False,
    allow_tokenizer_mismatch: Annotated[
        bool,
        typer.Option(
            "--allow-tokenizer-mismatch",
            help=(
                "Train even if the mixture was measured with another tokenizer than the student's (its token "
                "counts then do not hold)."
            ),
        ),
    ] = False,
    report_to: Annotated[
        str | None,
        typer.Option(
            help=("Where the trainer also reports (tensorboard, wandb, ...). Default none: the console and loss.png."),
            show_default=False,
        ),
    ] = None,
) -> None:
    """Train a student on a mixture with TRL's SFTTrainer (paper defaults, appendix A.1).

    Each checkpoint-N folder holds brd_lineage.json (run, mixture hash, student origin, config, code
    version, step); the store records the run in train_runs and its checkpoints in train_checkpoints,
    taking the writer lock only for those short writes.

    Several GPUs: accelerate launch --config_file brd_train/train/accelerate/ddp.yaml -m brd_data train ...
    (fsdp.yaml for students too large for DDP).
    """
    from .runner import config_from_options, run_training

    options = dict(
        mix=mix,
        student=student,
        learning_rate=learning_rate,
        batch_size=batch_size,
        grad_accum=grad_accum,
        max_length=max_length,
        max_steps=max_steps,
        save_steps=save_steps,
        save_total_limit=save_total_limit,
        logging_steps=logging_steps,
        packing=packing,
        packing_strategy=packing_strategy,
        seed=seed,
        lr_scheduler=lr_scheduler,
        warmup_steps=warmup_steps,
        precision=precision,
        gradient_checkpointing=gradient_checkpointing,
        attn_implementation=attn_implementation,
        stop_at_step=stop_at_step,
        report_to=report_to,
        trust_remote_code=trust_remote_code or None,
        allow_tokenizer_mismatch=allow_tokenizer_mismatch or None,
    )
    cfg = config_from_options(options, out=out, resume=resume)
    run = run_training(cfg, store, echo=lambda m: typer.echo(m, err=True))
    if not run:  # not the main process
        return
    typer.echo(
        f"run {run['train_run_id']} {run.get('status')}: step {run.get('last_step')}/{run['max_steps']}, "
        f"loss {run.get('final_loss')}, final checkpoint {run.get('final_checkpoint')}, curve {run.get('loss_plot')}"
    )


def register(app: typer.Typer) -> None:
    app.command("train")(train)
