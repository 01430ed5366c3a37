"""`brd train`: check the inputs, record the run, train with TRL's SFTTrainer, record the result.

The loss follows the mixture's kind (contract 2):
- `lm`: the plain autoregressive loss over the whole passage, like pre-training text (§3.2);
- `sft`: prompt + completion, with the loss on the completion only (the SFT baselines).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from brd_data.contracts.errors import ConfigError, UserError
from brd_data.contracts.identity import code_version
from brd_data.contracts.outputs import MARKER, OutputKind, check_replaceable, is_owned, mark
from brd_data.contracts.terminal import verbose_terminal

from .config import RESUME_INVARIANT, RESUME_NOT_INHERITED, TrainConfig
from .final import check_final_folder, write_final_student
from .lineage import (
    RUN_FILE,
    checkpoints,
    complete_checkpoints,
    library_versions,
    read_checkpoint_lineage,
    read_run_state,
    write_json,
)
from .mixture import Mixture, read_mixture
from .preflight import check_disk, check_writable, estimate_disk, free_bytes
from .student import (
    Student,
    StudentError,
    check_max_length,
    check_tokenizer,
    load_tokenizer,
    resolve_student,
    tokenizer_fingerprint,
)

Echo = Callable[[str], None]


class ResumeError(UserError):
    """--resume, or its absence, does not fit what the output folder holds."""


@dataclass
class Prepared:
    """Everything checked before a model is loaded or the store is touched."""

    cfg: TrainConfig
    mixture: Mixture
    student: Student
    tokenizer: Any
    tokenizer_info: dict[str, Any]
    world_size: int
    per_device_batch_size: int
    precision: str
    saved: dict[str, Any] | None  # brd_train.json of the run being resumed
    resume_from: Path | None  # its last checkpoint


def config_from_options(options: dict[str, Any], out: Path, resume: bool) -> TrainConfig:
    """Options given on the command line win; on --resume the others come from the run being
    resumed; the rest are the paper's defaults (TrainConfig's)."""
    given = {k: v for k, v in options.items() if v is not None}
    base: dict[str, Any] = {}
    if resume:
        saved = read_run_state(out)
        if saved is None:
            raise ResumeError(f"nothing to resume in {out}: no {RUN_FILE} (start the run without --resume)")
        base = {
            k: v for k, v in saved["config"].items() if k in TrainConfig.field_names() and k not in RESUME_NOT_INHERITED
        }
        base["mix"] = saved["mixture_dir"]
        base["student"] = saved["student"]
        for k, v in given.items():
            if k in RESUME_INVARIANT and k in base and v != base[k]:
                raise ResumeError(
                    f"--resume: --{k.replace('_', '-')} {v} differs from the run's {base[k]}; the data order and "
                    "optimiser state depend on it (start a new run in another --out to change it)"
                )
    merged = {**base, **given, "out": out, "resume": resume}
    for key in ("mix", "student"):
        if merged.get(key) is None:
            raise ConfigError(f"--{key} is required (only --resume reads it from the output folder)")
    return TrainConfig(**merged)


def prepare(cfg: TrainConfig, world_size: int = 1, main: bool = True) -> Prepared:
    """Check every input: mixture, student, tokenizer, lengths, batch split, output folder.

    Only the main process (rank 0) checks, creates and marks the output folder: another rank
    probing or marking it at the same moment makes it look non-empty and unmarked to rank 0
    (and the reverse), and the run refused itself."""
    saved = read_run_state(cfg.out)
    found = checkpoints(cfg.out)
    if not cfg.resume and (saved is not None or found):
        what = f"run {saved['train_run_id']}" if saved else f"{len(found)} checkpoint(s)"
        raise ResumeError(
            f"{cfg.out} already holds a training run ({what}); pass --resume to continue it or choose another --out"
        )
    mixture = read_mixture(cfg.mix)
    if saved is not None and mixture.mixture_hash != saved["mixture_hash"]:
        raise ResumeError(
            f"--resume: mixture {cfg.mix} has hash {mixture.mixture_hash} but the run in {cfg.out} trained on "
            f"{saved['mixture_hash']}; the data order would not continue"
        )
    resume_from = None
    if cfg.resume:
        # The newest complete checkpoint: a kill may have cut the last save short. With none (the
        # run was stopped before its first save ended), the run starts again from step 0.
        complete = complete_checkpoints(cfg.out)
        resume_from = complete[-1][1] if complete else None
    cfg = replace(cfg, packing_strategy=cfg.resolved_packing_strategy(mixture.kind))
    per_device = cfg.per_device_batch_size(world_size)
    created = False
    if main:
        # --out is brd's training output, or absent, or empty: nothing else is written into
        check_replaceable(cfg.out, OutputKind.TRAINING, legacy=_legacy_output, what="--out")
        check_final_folder(cfg.out)
        created = check_writable(cfg.out)
    try:
        if main and not is_owned(cfg.out, OutputKind.TRAINING):
            mark(cfg.out, OutputKind.TRAINING)
        student = resolve_student(cfg.student, cfg.trust_remote_code)
        check_max_length(cfg.max_length, student)
        tok = load_tokenizer(cfg.student, cfg.trust_remote_code, what="student's tokenizer")
        tok_info = _check_tokenizer(cfg, mixture, tok)
    except BaseException:
        if created:  # leave no output folder behind a refused run
            with contextlib.suppress(OSError):
                (cfg.out / MARKER).unlink(missing_ok=True)
                cfg.out.rmdir()
        raise
    return Prepared(
        cfg=cfg,
        mixture=mixture,
        student=student,
        tokenizer=tok,
        tokenizer_info=tok_info,
        world_size=world_size,
        per_device_batch_size=per_device,
        precision=resolve_precision(cfg.precision),
        saved=saved,
        resume_from=resume_from,
    )


def _legacy_output(folder: Path) -> bool:
    """A training output written before ownership markers: it holds brd_train.json."""
    return (folder / RUN_FILE).is_file()


def drop_incomplete_checkpoints(out: Path, echo: Echo) -> None:
    """Remove the checkpoint folders a kill cut short (under the output lock: no one writes them),
    so that the trainer saves those steps again from scratch."""
    import shutil

    done = {p for _, p in complete_checkpoints(out)}
    for _, folder in checkpoints(out):
        if folder not in done:
            echo(f"note: {folder.name} was not saved to the end (the run was stopped while saving); removing it")
            shutil.rmtree(folder, ignore_errors=True)


def _check_tokenizer(cfg: TrainConfig, mixture: Mixture, tok) -> dict[str, Any]:
    try:
        return check_tokenizer(mixture.manifest, tok, cfg.student, cfg.trust_remote_code)
    except StudentError:
        if not cfg.allow_tokenizer_mismatch:
            raise
    return {
        "mixture_tokenizer": mixture.manifest.get("tokenizer"),
        "mixture_tokenizer_fingerprint": mixture.manifest.get("tokenizer_fingerprint"),
        "student_tokenizer_fingerprint": tokenizer_fingerprint(tok),
        "match": False,
        "allowed_by": "--allow-tokenizer-mismatch",
    }


def resolve_precision(precision: str) -> str:
    """auto: bf16 mixed precision on GPUs that have it (A100, H100), fp16 on older ones, fp32 on CPU."""
    if precision != "auto":
        return precision
    import torch

    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def load_student_model(prep: Prepared):
    import torch
    from transformers import AutoModelForCausalLM

    # fp32 master weights; bf16/fp16 is autocast mixed precision in the trainer.
    try:
        return AutoModelForCausalLM.from_pretrained(
            prep.cfg.student,
            dtype=torch.float32,
            trust_remote_code=prep.cfg.trust_remote_code,
            attn_implementation=prep.cfg.attn_implementation,
        )
    except (OSError, ValueError) as exc:
        text = str(exc).strip().splitlines()
        raise StudentError(
            f"--student {prep.cfg.student}: cannot load the model ({text[0] if text else exc})"
        ) from None


def run_state(prep: Prepared, train_run_id: str | None) -> dict[str, Any]:
    """brd_train.json: the run as a whole (a resumed run keeps its id, start and history)."""
    cfg, mix, student = prep.cfg, prep.mixture, prep.student
    config = cfg.lineage()
    config["derived"] = {
        "world_size": prep.world_size,
        "per_device_batch_size": prep.per_device_batch_size,
        "precision": prep.precision,
        "loss": "completion only" if mix.kind == "sft" else "whole passage",
    }
    base = (
        dict(prep.saved)
        if prep.saved
        else {
            "train_run_id": train_run_id,
            "started_at": time.strftime("%Y-%m-%d %H:%M:%S"),
            "run_ids": [],
        }
    )
    base.update(
        {
            "mixture_hash": mix.mixture_hash,
            "mixture_name": mix.name,
            "mixture_kind": mix.kind,
            "mixture_dir": str(mix.root.resolve()),
            "manifest_sha256": mix.manifest_sha256,
            "mixture_rows": mix.rows,
            "mixture_tokens": mix.tokens,
            "tokenizer": prep.tokenizer_info,
            "student": cfg.student,
            "student_fingerprint": student.fingerprint,
            "student_origin": student.origin(),
            "parent_train_run_id": student.parent_train_run_id,
            "parent_step": student.parent_step,
            "output_dir": str(cfg.out.resolve()),
            "config": config,
            "max_steps": cfg.max_steps,
            "code_version": code_version(),
            "versions": library_versions(),
        }
    )
    return base


def fixed_sft_settings(kind: str) -> dict[str, Any]:
    """The SFTConfig settings that are no option of `brd train` (the options: TrainConfig.sft_kwargs)."""
    import torch

    return {
        # Without an accelerator the trainer must be told, or several processes (torchrun on CPU)
        # each train alone instead of forming one data-parallel group over gloo.
        "use_cpu": not torch.accelerator.is_available(),
        "logging_first_step": True,
        "save_strategy": "steps",
        "dataset_text_field": "text",
        # lm: every token of the passage; sft: the completion only (TRL masks the prompt's labels).
        "completion_only_loss": kind == "sft",
        # a causal LM uses every parameter in each forward: no extra autograd traversal under DDP
        "ddp_find_unused_parameters": False,
    }


def build_trainer(prep: Prepared, model, callbacks=()):
    """TRL's SFTTrainer on the mixture, with the run's settings."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from trl import SFTConfig, SFTTrainer

    class Trainer(SFTTrainer):
        def create_model_card(self, *args, **kwargs) -> None:
            """brd writes its own card into OUT/model (contracts.cards), not TRL's into OUT."""

    cfg = prep.cfg
    args = SFTConfig(**cfg.sft_kwargs(prep), **fixed_sft_settings(prep.mixture.kind))
    dataset = prep.mixture.load_dataset(cache_dir=cfg.out / ".datasets-cache")
    trainer = Trainer(
        model=model, args=args, train_dataset=dataset, processing_class=prep.tokenizer, callbacks=list(callbacks)
    )
    if not verbose_terminal():
        # One display of brd's own (callbacks.TrainProgress) instead of the trainer's bar and log dicts.
        trainer.remove_callback(ProgressCallback)
        trainer.remove_callback(PrinterCallback)
    return trainer


def run_training(
    cfg: TrainConfig, store_root: str | Path, echo: Echo = print, finish_wait_s: float = 300.0, extra_callbacks=()
) -> dict[str, Any]:
    """Train and record; returns the final brd_train.json. Only the main process writes lineage
    and the store; every process trains."""
    from brd_data.contracts.runs import StageRun
    from brd_data.store import Store

    from .record import StoreRecorder

    world_size, rank = launch_topology()
    main = rank == 0
    prep = prepare(cfg, world_size=world_size, main=main)
    cfg = prep.cfg
    store = Store(store_root)

    if prep.resume_from is not None and prep.saved and prep.saved.get("last_step", 0) >= cfg.max_steps:
        # Finished already: only record it (e.g. the store was locked when it ended).
        run = run_state(prep, None)
        if main:
            with StageRun(store, "train", cfg.lineage(), prep.mixture.inputs()) as stage:
                StoreRecorder(stage, echo=echo).sync(
                    run, status=run.get("status", "succeeded"), finished=True, wait_s=finish_wait_s
                )
            echo(f"run {run['train_run_id']} already reached step {run['last_step']}; recorded it in {store.root}")
        return run

    with _output_lock(cfg.out, main):
        return _train(prep, store, main, echo, finish_wait_s, extra_callbacks)


@contextlib.contextmanager
def _output_lock(out: Path, main: bool):
    """One `brd train` per output folder at a time (a second --resume would race the first)."""
    from brd_data.store import StoreLockedError
    from brd_data.store.lock import WriterLock

    if not main:
        yield
        return
    lock = WriterLock(out / ".brd_train.lock", "brd train")
    try:
        lock.acquire()
    except StoreLockedError:
        raise ResumeError(f"{out} is in use by another `brd train` (see {out / '.brd_train.lock'})") from None
    try:
        yield
    finally:
        lock.release()


def _train(prep: Prepared, store, main: bool, echo: Echo, finish_wait_s: float, extra_callbacks) -> dict[str, Any]:
    from brd_data.contracts.errors import Terminated, one_line
    from brd_data.contracts.runs import StageRun

    from .callbacks import LineageCallback, StopAtStep, TrainProgress, last_logged_loss
    from .plot import plot_loss
    from .record import StoreRecorder

    cfg = prep.cfg
    if main and cfg.resume:
        drop_incomplete_checkpoints(cfg.out, echo)
    model = load_student_model(prep)
    n_params = sum(p.numel() for p in model.parameters())
    if main:
        est = estimate_disk(
            n_params,
            4,
            cfg.max_steps,
            cfg.save_steps,
            cfg.save_total_limit,
            free_bytes(cfg.out),
            done_checkpoints=len(checkpoints(cfg.out)),
        )
        check_disk(cfg.out, est)

    inputs = [*prep.mixture.inputs(), _student_input(prep.student)] if main else []
    # Only the main process records the run; it takes the lock for short windows only.
    stage = StageRun(store, "train", cfg.lineage(), inputs) if main else contextlib.nullcontext()
    with stage:
        run: dict[str, Any] = {}
        run_id = None
        recorder = None
        if main:
            recorder = StoreRecorder(stage, echo=echo)
            run_id = stage.run_id
            run = run_state(prep, train_run_id=run_id)
            run.update(status="running", error=None)
            run["run_ids"] = [*run.get("run_ids", []), run_id]
            write_json(cfg.out / RUN_FILE, run)
            recorder.sync(run, status="running")
            verb = "resuming" if prep.resume_from else "training"
            echo(
                f"{verb} run {run['train_run_id']}: {prep.mixture.kind} mixture {prep.mixture.name} "
                f"({prep.mixture.rows} rows), student {cfg.student} ({n_params / 1e6:.1f}M parameters), "
                f"{cfg.max_steps} steps, batch {cfg.batch_size}, max length {cfg.max_length}, "
                f"packing {cfg.packing_strategy or 'off'}, {prep.precision}, {prep.world_size} process(es)"
            )

        tokens_before = _tokens_at(prep.resume_from)
        trainer = None
        callbacks = [*extra_callbacks]
        if cfg.stop_at_step is not None:
            callbacks.append(StopAtStep(cfg.stop_at_step))
        if main and not verbose_terminal():
            callbacks.append(TrainProgress(f"training on {prep.mixture.name}"))
        if main:
            callbacks.append(
                LineageCallback(run, run_id, recorder, tokens_seen=lambda: _tokens_seen(trainer, tokens_before))
            )
        try:
            trainer = build_trainer(prep, model, callbacks)
            trainer.train(resume_from_checkpoint=str(prep.resume_from) if prep.resume_from else None)
        except BaseException as exc:
            if main:
                reason = one_line(exc)
                status = "interrupted" if isinstance(exc, (KeyboardInterrupt, Terminated)) else "failed"
                run.update(status=status, error=reason)
                write_json(cfg.out / RUN_FILE, run)
                recorder.sync(run, status=status, error=reason, finished=True, wait_s=min(finish_wait_s, 30))
            raise

        if not main:
            return run
        step = trainer.state.global_step
        status = "succeeded" if step >= cfg.max_steps else "stopped"
        final = cfg.out / f"checkpoint-{step}"
        if status == "succeeded" and final.is_dir():
            student = write_final_student(cfg.out, final)
            if not cfg.keep_final_checkpoint:
                shutil.rmtree(final)  # its weights live on in OUT/model (hard links or copies)
            final = student
        plot = plot_loss(
            trainer.state.log_history,
            cfg.out / "loss.png",
            f"{prep.mixture.name} ({prep.mixture.kind}) -> {Path(cfg.student).name}, run {run['train_run_id']}",
        )
        run.update(
            status=status,
            last_step=step,
            final_loss=last_logged_loss(trainer.state.log_history),
            final_checkpoint=str(final.resolve()) if final.is_dir() else None,
            loss_plot=str(plot.resolve()) if plot else None,
            checkpoints=[{"step": s, "path": str(p.resolve())} for s, p in checkpoints(cfg.out)],
            tokens=_tokens_seen(trainer, tokens_before),
        )
        write_json(cfg.out / RUN_FILE, run)
        recorded = recorder.sync(run, status=status, finished=True, wait_s=finish_wait_s)
        if not recorded:
            echo(f"warning: the store stayed locked; record this run later with `brd train --resume --out {cfg.out}`")
        return run


def launch_topology() -> tuple[int, int]:
    """(processes, this one's rank) as set by torchrun / `accelerate launch` (or MPI).

    Read from the environment, not from an accelerate PartialState: creating one here would fix
    the distributed state before the trainer sets it up (on CPU it must be created with cpu=True).
    """

    def first(names: tuple[str, ...], default: int) -> int:
        for n in names:
            if os.environ.get(n, "").strip().isdigit():
                return int(os.environ[n])
        return default

    world = first(("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"), 1)
    rank = first(("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK"), 0)
    return world, rank


def _student_input(student: Student) -> dict[str, Any]:
    origin = student.origin()
    return {"path": origin["model"], "fingerprint": student.fingerprint, "role": "student"}


def _tokens_at(checkpoint: Path | None) -> int:
    lin = read_checkpoint_lineage(checkpoint) if checkpoint else None
    return int((lin or {}).get("tokens") or 0)


def _tokens_seen(trainer, before: int) -> int | None:
    # TRL counts the tokens of every process in `_total_train_tokens`, from this command's start.
    n = getattr(trainer, "_total_train_tokens", None) if trainer is not None else None
    return None if n is None else before + int(n)
