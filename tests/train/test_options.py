"""TrainConfig is the one declaration of the training options: `brd train`'s options and TRL's
SFTConfig are generated from its fields, so a new field cannot silently go nowhere."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer

from brd_data.contracts.errors import UserError
from brd_train.train.config import (
    RESUME_INVARIANT,
    RESUME_NOT_INHERITED,
    Precision,
    TrainConfig,
    train_option,
    train_options,
)
from tests.conftest import run_brd


@dataclass
class Resolved:
    per_device_batch_size: int
    precision: str


def base_config(**kw) -> TrainConfig:
    return TrainConfig(**{"mix": Path("mix"), "student": "student", "out": Path("out"), **kw})


def resolved(cfg: TrainConfig) -> Resolved:
    from brd_train.train.runner import resolve_precision

    return Resolved(cfg.per_device_batch_size(1), resolve_precision(cfg.precision))


# Values whose effect differs from the default's here: packing_strategy None already falls back to
# bfd, and precision auto is fp32 on this CPU.
OTHER = {"packing_strategy": "wrapped", "precision": "bf16"}


def other_value(opt):
    """A valid value of the option that acts differently from its default."""
    if opt.name in OTHER:
        return OTHER[opt.name]
    if opt.choices is not None:
        return next(c.value for c in opt.choices if c.value != opt.default)
    if opt.type is bool:
        return not opt.default
    if opt.type is Path:
        return Path("elsewhere")
    if opt.type is str:
        return "tensorboard" if opt.name == "report_to" else "other"
    if opt.default is None:
        return 2
    return opt.default * 2 if opt.type is float else opt.default + 1


def test_help_lists_every_field_and_every_choice():
    out = run_brd("train", "--help", env={"COLUMNS": "250"}).stdout
    for opt in train_options():
        for flag in opt.flag.split("/"):
            assert flag in out, flag
        for choice in opt.choices or ():
            assert choice.value in out, (opt.name, choice)
    assert "Default 40000 (paper)" in out and "Default 0.0003 (paper, A.1)" in out  # the defaults, from the fields


def test_every_field_reaches_sftconfig_or_a_documented_brd_use():
    from trl import SFTConfig

    sft_fields = {f.name for f in dataclasses.fields(SFTConfig)}
    for opt in train_options():
        assert bool(opt.sft) != bool(opt.brd), f"{opt.name}: declare either `sft` (its SFTConfig keywords) or `brd`"
        names = opt.sft if isinstance(opt.sft, tuple) else tuple(opt.sft)
        assert set(names) <= sft_fields, f"{opt.name}: {set(names) - sft_fields} are no SFTConfig fields"
        assert opt.help, opt.name
    # each sft field's value really reaches the keyword arguments
    base = base_config()
    before = base.sft_kwargs(resolved(base))
    for opt in train_options():
        if not opt.sft:
            continue
        changed = base_config(**{opt.name: other_value(opt)})
        after = changed.sft_kwargs(resolved(changed))
        names = opt.sft if isinstance(opt.sft, tuple) else tuple(opt.sft)
        assert any(before[n] != after[n] for n in names), opt.name


def test_sftconfig_gets_what_the_hand_written_call_gave(tmp_path):
    """The generated keyword arguments are those of the SFTConfig(...) call they replace."""
    from trl import SFTConfig

    from brd_train.train.runner import fixed_sft_settings

    default = TrainConfig(mix=tmp_path / "mix", student="s", out=tmp_path / "out")
    assert default.packing is False and default.resolved_packing_strategy("lm") is None  # A.1: 8 passages a step
    cfg = TrainConfig(
        mix=tmp_path / "mix",
        student="s",
        out=tmp_path / "out",
        batch_size=8,
        grad_accum=2,
        precision="bf16",
        packing=True,
    )
    cfg = dataclasses.replace(cfg, packing_strategy=cfg.resolved_packing_strategy("lm"))
    kwargs = cfg.sft_kwargs(Resolved(per_device_batch_size=2, precision="bf16"))
    assert kwargs == {
        "output_dir": str(cfg.out),
        "max_steps": 40_000,
        "per_device_train_batch_size": 2,
        "gradient_accumulation_steps": 2,
        "learning_rate": 3e-4,
        "lr_scheduler_type": "linear",
        "warmup_steps": 0,
        "logging_steps": 10,
        "save_steps": 1_000,
        "save_total_limit": None,
        "seed": 42,
        "data_seed": 42,
        "bf16": True,
        "fp16": False,
        "gradient_checkpointing": True,
        "max_length": 2048,
        "packing": True,
        "packing_strategy": "bfd_split",
        "report_to": "none",
    }
    no_packing = dataclasses.replace(cfg, packing=False, packing_strategy=None)
    assert no_packing.sft_kwargs(Resolved(2, "fp32"))["packing_strategy"] == "bfd"  # TRL needs one
    fixed = fixed_sft_settings("sft")
    assert fixed["completion_only_loss"] is True and not set(fixed) & set(kwargs)
    args = SFTConfig(**{**kwargs, "bf16": False}, **fixed)  # bf16 needs a GPU here
    assert args.per_device_train_batch_size == 2 and args.lr_scheduler_type == "linear" and args.data_seed == 42


def test_unset_options_stay_distinct_from_defaults():
    """What `brd train` passes on: None for every option left out (on --resume the run's value)."""
    from brd_data.cli import plug_in
    from brd_train.cli.train import given_options

    command = typer.main.get_command(plug_in()).commands["train"]
    with command.make_context("train", ["--out", "o"]) as ctx:
        values = dict(ctx.params)
    assert values.pop("out") == Path("o") and values.pop("store") == Path("brd-store")
    assert values.pop("resume") is False
    assert all(v is None for v in given_options(values).values()), values
    with command.make_context(
        "train", ["--out", "o", "--no-packing", "--precision", "bf16", "--trust-remote-code"]
    ) as ctx:
        given = {k: v for k, v in given_options(dict(ctx.params)).items() if v is not None}
    assert given["packing"] is False and given["precision"] == Precision.BF16 and given["trust_remote_code"] is True
    with pytest.raises(typer.BadParameter, match="is not one of"):
        command.make_context("train", ["--out", "o", "--precision", "fp8"])


def test_resume_rules_and_lineage_keys_are_unchanged():
    assert RESUME_INVARIANT == (
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
    assert RESUME_NOT_INHERITED == ("stop_at_step", "trust_remote_code")
    lineage = base_config(precision=Precision.FP16, lr_scheduler="cosine").lineage()
    assert list(lineage) == [o.name for o in train_options()] == list(TrainConfig.field_names())
    assert lineage["precision"] == "fp16" and type(lineage["precision"]) is str  # the string, as before
    with pytest.raises(UserError, match=r"--precision 'fp8' is not one of auto, bf16, fp16, fp32"):
        base_config(precision="fp8")


def test_the_study_manifest_takes_its_training_fields_from_trainconfig():
    from brd_data.contracts.schemas.study import Training
    from brd_train.study.plan import training_argv

    # the same defaults, and every option a study sets is a `brd train` option
    assert {n: f.default for n, f in Training.model_fields.items() if n in Training.OPTIONS} == {
        n: train_option(n).default for n in Training.OPTIONS
    }
    tr = Training(max_steps=3, batch_size=2, learning_rate=3e-4, max_length=256, save_steps=3, extra_args=["--x"])
    argv = training_argv(tr, 5)
    assert argv == [
        "--max-steps",
        "5",
        "--batch-size",
        "2",
        "--learning-rate",
        "0.0003",
        "--max-length",
        "256",
        "--save-steps",
        "3",
        "--x",
    ]
    for n in Training.OPTIONS:
        assert argv[argv.index(train_option(n).flag) + 1]
    assert train_option("packing").argv(False) == ["--no-packing"]
    assert train_option("trust_remote_code").argv(False) == []
