"""`brd annotate`: the teacher reads every unique sentence (NER, QRA, or a user's own behaviour)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..contracts.choices import Dtype, OnBadOutput
from ..contracts.executors import ExecutorKind
from .options import (
    DEFAULT_STORE_PATH,
    ApiKeyEnvOpt,
    BehavioursOpt,
    EndpointOpt,
    EnforceEagerOpt,
    ExecutorOpt,
    KvCacheOpt,
    MaxModelLenOpt,
    ModeOpt,
    PartitionOpt,
    PromptDirOpt,
    SbatchArgOpt,
    ServedModelNameOpt,
    ServerScriptOpt,
    StartupTimeoutOpt,
    StoreOpt,
    TasksOpt,
    TeacherDtypeOpt,
    TeacherOpt,
    TrustTeacherOpt,
    VerboseOpt,
    WaitOpt,
    WorkersOpt,
    chosen_prompts,
    existing_store,
)


def _kv(values: list[str] | None) -> dict:
    out: dict = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        key = key.strip().lstrip("-")
        if not key:
            raise typer.BadParameter(f"--vllm-arg {item!r}: expected KEY=VALUE or KEY")
        out[key] = True if not sep else value
    return out


def annotate(
    store: StoreOpt = DEFAULT_STORE_PATH,
    behaviours: BehavioursOpt = "ner,qra",
    limit: Annotated[
        int,
        typer.Option(
            help="Annotate the first N unique sentences of the corpus (-1: all). Rerunning never re-reads them."
        ),
    ] = -1,
    lang: Annotated[
        str | None,
        typer.Option(
            help="Only sentences of these languages (comma-separated `sentences.lang` codes, e.g. en,de). Default: all."
        ),
    ] = None,
    passages: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="The corpus budget (§4): only the sentences of N passages, the N with the smallest seeded key "
            "(the same selection `brd mix build --passages N --seed S` draws from). Default: every passage.",
            show_default=False,
        ),
    ] = None,
    passage_seed: Annotated[int, typer.Option(min=0, help="Seed of the --passages selection.")] = 0,
    source: Annotated[
        list[str] | None,
        typer.Option(
            help="With --passages: draw from the passages of ingested files whose path matches this pattern "
            "(fnmatch, * also crosses /); repeatable. Default: every source.",
            show_default=False,
        ),
    ] = None,
    teacher: TeacherOpt = None,
    mode: ModeOpt = None,
    prompt_dir: PromptDirOpt = None,
    endpoint: EndpointOpt = None,
    served_model_name: ServedModelNameOpt = None,
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
    teacher_fingerprint: Annotated[
        str | None,
        typer.Option(
            help="Pin the teacher's identity (16 hex digits): what is already answered under it is skipped. "
            "Default: from the model's files, or for --endpoint from what /v1/models reports (id, root, "
            "max_model_len, revision). With --endpoint and --served-model-name, brd then asks nothing of the "
            "endpoint before the tasks run (a server reachable only from the cluster's nodes).",
            show_default=False,
        ),
    ] = None,
    tp: Annotated[int, typer.Option(min=1, help="vLLM tensor parallelism (GPUs per model replica).")] = 1,
    dp: Annotated[int, typer.Option(min=1, help="vLLM data parallelism (model replicas per server).")] = 1,
    max_concurrency: Annotated[
        int | None, typer.Option(help="Requests in flight per worker. Default: 128 on CPU, 512 on GPU.")
    ] = None,
    max_num_seqs: Annotated[
        int | None, typer.Option(help="vLLM's running-batch bound. Default: --max-concurrency.")
    ] = None,
    max_model_len: MaxModelLenOpt = 2048,
    dtype: TeacherDtypeOpt = Dtype.AUTO,
    kv_cache_gib: KvCacheOpt = None,
    cpu_threads: Annotated[
        str | None,
        typer.Option(
            help="vLLM CPU: cores for the engine (VLLM_CPU_OMP_THREADS_BIND, e.g. 0-1). Default: vLLM's "
            "(all but one, kept for the HTTP server)."
        ),
    ] = None,
    enforce_eager: EnforceEagerOpt = None,
    prefix_caching: Annotated[
        bool, typer.Option(help="vLLM automatic prefix caching (the few-shot prefix is computed once).")
    ] = True,
    batch_invariant: Annotated[
        bool,
        typer.Option(
            help="vLLM's batch-invariant kernels (VLLM_BATCH_INVARIANT=1, recent NVIDIA/AMD GPUs): greedy answers "
            "that do not depend on which requests share a batch. Not needed on CPU (docs/reproducibility.md)."
        ),
    ] = False,
    trust_remote_code: TrustTeacherOpt = False,
    vllm_arg: Annotated[
        list[str] | None,
        typer.Option(help="Extra vLLM server flag KEY=VALUE (or KEY), e.g. gpu-memory-utilization=0.9; repeatable."),
    ] = None,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (0: greedy).")] = 0.0,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling.")] = 1.0,
    seed: Annotated[int | None, typer.Option(help="Sampling seed of first requests.")] = None,
    max_tokens: Annotated[
        int | None,
        typer.Option(help="Answer length bound for every behaviour. Default: each prompt file's max_tokens."),
    ] = None,
    on_bad_output: Annotated[
        OnBadOutput,
        typer.Option(help="Unparsed, empty or truncated answer: sample (ask again with sampling) or give-up."),
    ] = OnBadOutput.SAMPLE,
    max_retries: Annotated[int, typer.Option(min=0, help="Extra requests for a bad answer.")] = 1,
    retry_temperature: Annotated[float, typer.Option(help="Temperature of those retries.")] = 0.7,
    http_retries: Annotated[int, typer.Option(min=0, help="Extra requests after an HTTP error or timeout.")] = 4,
    request_timeout: Annotated[float, typer.Option(help="Seconds one request may take.")] = 300.0,
    startup_timeout: StartupTimeoutOpt = 1800.0,
    dead_after: Annotated[
        float, typer.Option(help="--endpoint: stop when it has not answered /v1/models for this many seconds.")
    ] = 60.0,
    server_restarts: Annotated[
        int,
        typer.Option(min=0, help="Restarts of a managed server that dies; then the run stops (committed rows stay)."),
    ] = 1,
    server_script: ServerScriptOpt = None,
    chunk_size: Annotated[
        int,
        typer.Option(min=1, help="Answers per Parquet part and commit: what a kill -9 can lose at most per worker."),
    ] = 100,
    commit_interval: Annotated[
        float, typer.Option(help="Seconds between commits of finished parts while the run goes on.")
    ] = 5.0,
    list_prompts: Annotated[bool, typer.Option("--list-prompts", help="List the known prompt files and exit.")] = False,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
    executor: ExecutorOpt = ExecutorKind.LOCAL,
    tasks: TasksOpt = 1,
    workers: WorkersOpt = 1,
    partition: PartitionOpt = None,
    gpus_per_task: Annotated[int, typer.Option(help="Slurm/Ray: GPUs per task (= --tp x --dp).")] = 0,
    wait: WaitOpt = False,
    sbatch_arg: SbatchArgOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Annotate unique sentences with the teacher, through vLLM, into the `annotations` table.

    With --passages N, only the sentences of a seeded selection of N passages are read (the
    corpus budget of a study, applied before annotation). Sentences are deduplicated by
    text_hash; what this teacher (fingerprint) and prompt (hash) already answered is skipped, so
    the same command resumes after a kill. A new prompt or teacher adds new rows. Bad answers are
    kept with a status and reason and also go to `quarantine`.
    """
    from ..contracts.schemas import prompt as prompt_files

    dirs = list(prompt_dir or [])
    if list_prompts:
        for p in prompt_files.discover(dirs).values():
            typer.echo(
                f"{p.name:<16} behaviour={p.behaviour:<8} mode={p.mode:<10} parser={p.parser:<4} "
                f"input={p.input:<8} max_tokens={p.max_tokens:<4} hash={p.prompt_hash}  {p.source_file}"
            )
        return
    chosen = chosen_prompts(behaviours, dirs, mode, served_model_name, endpoint)

    from ..annotate.engine import build_engine
    from ..annotate.pipeline import AnnotateConfig, run_annotate
    from ..annotate.rollout import RetryPolicy, SamplingConfig
    from ..annotate.summary import outcome_lines
    from ..annotate.work import PassageSelection
    from ..contracts.executors import ExecutorConfig, parse_sbatch_args

    engine, fp = build_engine(
        teacher,
        endpoint,
        served_model_name,
        max_concurrency=max_concurrency,
        dtype=dtype,
        tp=tp,
        dp=dp,
        max_num_seqs=max_num_seqs,
        max_model_len=max_model_len,
        kv_cache_gib=kv_cache_gib,
        cpu_threads=cpu_threads,
        enforce_eager=enforce_eager,
        prefix_caching=prefix_caching,
        batch_invariant=batch_invariant,
        trust_remote_code=trust_remote_code,
        vllm_args=_kv(vllm_arg),
        server_script=str(server_script) if server_script else None,
        api_key_env=api_key_env,
        teacher_fingerprint=teacher_fingerprint,
    )
    cfg = AnnotateConfig(
        prompts=chosen,
        engine=engine,
        teacher_fingerprint=fp,
        sampling=SamplingConfig(temperature=temperature, top_p=top_p, seed=seed, max_tokens=max_tokens),
        policy=RetryPolicy(
            on_bad_output=on_bad_output,
            max_retries=max_retries,
            retry_temperature=retry_temperature,
            http_retries=http_retries,
            request_timeout_s=request_timeout,
            startup_timeout_s=startup_timeout,
            dead_after_s=dead_after,
        ),
        limit=limit,
        langs=tuple(x.strip() for x in (lang or "").split(",") if x.strip()),
        selection=PassageSelection(passages=passages, seed=passage_seed, sources=tuple(source or ())),
        chunk_size=chunk_size,
        commit_interval_s=commit_interval,
        server_restarts=server_restarts,
        progress=progress,
        executor=ExecutorConfig(
            kind=executor,
            tasks=tasks,
            workers=workers,
            partition=partition,
            gpus_per_task=gpus_per_task,
            wait=wait,
            sbatch_args=parse_sbatch_args(sbatch_arg),
        ),
    )
    st = existing_store(store)
    if endpoint and teacher_fingerprint is None:
        from ..annotate.summary import earlier_endpoint_identity

        note = earlier_endpoint_identity(st, engine.teacher, fp)
        if note:
            typer.echo(f"note: {note}", err=True)
    with st.writer("annotate"):
        out = run_annotate(st, cfg, verbose=verbose)
    for line in outcome_lines(out, fp, st.root, executor):
        typer.echo(line)
    if out.submitted:
        from .submitted import report

        report(st, out.launch, verbose, "annotate")


def register(app: typer.Typer) -> None:
    app.command("annotate")(annotate)
