"""Options shared by every command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..contracts.choices import Dtype, PromptMode
from ..contracts.executors import ExecutorKind

StoreOpt = Annotated[
    Path,
    typer.Option(
        "--store",
        envvar="BRD_STORE",
        help="Store directory (brd.duckdb + Parquet). Also $BRD_STORE.",
        show_default=True,
        file_okay=False,
    ),
]
DEFAULT_STORE_PATH = Path("brd-store")


def existing_store(path: Path):
    """The store at `path`, for commands that need one with data in it (a user error otherwise)."""
    from ..store import Store

    return Store(path).require()


ExecutorOpt = Annotated[ExecutorKind, typer.Option("--executor", help="datatrove executor.")]
TasksOpt = Annotated[
    int, typer.Option("--tasks", min=1, help="How many shards (datatrove tasks) to split the work into.")
]
WorkersOpt = Annotated[int, typer.Option("--workers", help="Tasks run at once (-1: all).")]
PartitionOpt = Annotated[str | None, typer.Option("--partition", help="Slurm partition (with --executor slurm).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show datatrove's own logs on the terminal.")]
WaitOpt = Annotated[
    bool,
    typer.Option(
        "--wait/--no-wait",
        help="--executor slurm: stay until the commit job has loaded the run, then print how it ended "
        "(exit 1 if it failed). Ray and local runs always run in the foreground.",
    ),
]
SbatchArgOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--sbatch-arg",
        help="--executor slurm: an extra #SBATCH line KEY=VALUE (or KEY), repeatable, e.g. account=proj, "
        "qos=high, time=48:00:00, constraint=a100.",
    ),
]


# -- the teacher: `brd annotate` and `brd teacher check` -------------------------------------------
TeacherOpt = Annotated[
    str | None,
    typer.Option(help="Model folder or hub id. Default: the embedded SmolLM2-135M-Instruct (prepared on first use)."),
]
EndpointOpt = Annotated[
    str | None,
    typer.Option(help="URL of an already-running OpenAI-compatible server, e.g. http://host:8000; brd starts none."),
]
ServedModelNameOpt = Annotated[
    str | None, typer.Option(help="--endpoint: the model name it serves (default: the first of its /v1/models).")
]
ApiKeyEnvOpt = Annotated[
    str, typer.Option(help="--endpoint: environment variable holding its API key (never logged or stored).")
]
BehavioursOpt = Annotated[
    str, typer.Option(help="Comma-separated behaviours (ner, qra, a user's own) or prompt file names (qra-chat).")
]
ModeOpt = Annotated[
    PromptMode | None,
    typer.Option(
        help="Pick each behaviour's prompt in this mode: completion (raw few-shot text) or chat. Default: completion.",
        show_default=False,
    ),
]
PromptDirOpt = Annotated[
    list[Path] | None,
    typer.Option(
        help="Extra folder (or file) of prompt YAML files; repeatable. manifests/prompts is always read.",
        exists=True,
        readable=True,
    ),
]
MaxModelLenOpt = Annotated[int, typer.Option(help="vLLM context length (prompt + answer).")]
KvCacheOpt = Annotated[
    float | None, typer.Option(help="vLLM CPU: KV-cache size in GiB (VLLM_CPU_KVCACHE_SPACE; default 2).")
]
EnforceEagerOpt = Annotated[
    bool | None,
    typer.Option(
        "--enforce-eager/--compile",
        help="Skip torch.compile (default on CPU, where compiling costs minutes).",
        show_default=False,
    ),
]
TrustTeacherOpt = Annotated[bool, typer.Option(help="Allow the teacher's own modelling code.")]
ServerScriptOpt = Annotated[
    Path | None,
    typer.Option(
        help="A Python script serving the OpenAI API on --port, instead of brd's vLLM launcher.",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
]
StartupTimeoutOpt = Annotated[float, typer.Option(help="Seconds the server may take to start.")]
TeacherDtypeOpt = Annotated[
    Dtype,
    typer.Option(
        help=f"{', '.join(Dtype)}. auto: the model's, except float32 on CPUs without bf16 instructions "
        "(where bf16 is slower).",
        metavar="<dtype>",  # the choices are in the help: listed here they would squeeze the columns
    ),
]


def chosen_prompts(behaviours: str, prompt_dir: list[Path] | None, mode, served_model_name: str | None, endpoint):
    """The prompt files of `--behaviours`, after the teacher options are checked together."""
    from ..contracts.schemas.prompt import resolve

    if served_model_name and not endpoint:
        raise typer.BadParameter("--served-model-name only applies with --endpoint")
    return resolve([b.strip() for b in behaviours.split(",") if b.strip()], list(prompt_dir or []), mode)
