"""`brd train`: train a student on a mixture folder.

The options are generated from TrainConfig's fields (config.py), so each training setting is
declared once. An option left out stays None, distinct from its default: on --resume it then takes
the resumed run's value, otherwise TrainConfig's default.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer

from brd_data.cli.options import DEFAULT_STORE_PATH, StoreOpt
from brd_train.train.config import RESUME_INVARIANT, TrainOption, train_options


def _parameter(opt: TrainOption) -> inspect.Parameter:
    """The typer option of one TrainConfig field."""
    kind = opt.choices or opt.type
    if opt.required:
        annotation, default = kind, ...
    elif opt.type is bool and "/" not in opt.flag:
        annotation, default = bool, False  # a plain flag: off means not given
    else:
        annotation, default = kind | None, None
    info = typer.Option(opt.flag, help=opt.help, show_default=False, **opt.cli)
    return inspect.Parameter(
        opt.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[annotation, info]
    )


def _signature() -> inspect.Signature:
    params = []
    for opt in train_options():
        params.append(_parameter(opt))
        if opt.name == "out":  # after the folders, as in a command line: --mix, --student, --out, --store
            params.append(
                inspect.Parameter(
                    "store", inspect.Parameter.KEYWORD_ONLY, default=DEFAULT_STORE_PATH, annotation=StoreOpt
                )
            )
    return inspect.Signature(params)


def given_options(values: dict[str, Any]) -> dict[str, Any]:
    """The TrainConfig options the command line set (None: left out); plain flags count when on."""
    flags = {o.name for o in train_options() if o.type is bool and "/" not in o.flag}
    return {k: (v or None) if k in flags else v for k, v in values.items()}


def train(**values: Any) -> None:
    from brd_train.train.runner import config_from_options, run_training

    store, out, resume = values.pop("store"), values.pop("out"), values.pop("resume")
    cfg = config_from_options(given_options(values), out=out, resume=resume)
    run = run_training(cfg, store, echo=lambda m: typer.echo(m, err=True))
    if not run:  # not the main process
        return
    typer.echo(
        f"run {run['train_run_id']} {run.get('status')}: step {run.get('last_step')}/{run['max_steps']}, "
        f"loss {run.get('final_loss')}, final checkpoint {run.get('final_checkpoint')}, curve {run.get('loss_plot')}"
    )


train.__signature__ = _signature()  # type: ignore[attr-defined]
train.__annotations__ = {p.name: p.annotation for p in train.__signature__.parameters.values()}  # type: ignore[attr-defined]
train.__doc__ = f"""Train a student on a mixture with TRL's SFTTrainer (paper defaults, appendix A.1).

    Each checkpoint-N folder holds brd_lineage.json (run, mixture hash, student origin, config, code
    version, step); the store records the run in train_runs and its checkpoints in train_checkpoints,
    taking the writer lock only for those short writes.

    On --resume, an option not given takes the resumed run's value; these must keep it (they fix
    the data order and the optimiser): {", ".join("--" + n.replace("_", "-") for n in RESUME_INVARIANT)}.

    Several GPUs: accelerate launch --config_file brd_train/train/accelerate/ddp.yaml -m brd_data train ...
    (fsdp.yaml for students too large for DDP).
    """


def register(app: typer.Typer) -> None:
    app.command("train")(train)
