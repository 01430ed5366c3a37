"""The rollout: one work item (an input and the prompt to read it with) -> one annotation record.

datatrove's `InferenceRunner` calls `annotate_rollout(document, generate, **context)` for every
document; `generate(payload)` posts one OpenAI request to the server it manages. This module adds
what a long run needs on top of that:
- every request is bounded in time (datatrove's own client has no timeout for local servers);
- HTTP errors and timeouts are retried with exponential backoff, then recorded as `failed`;
- a bad answer (unparsed, empty, truncated) is retried with sampling when the policy says so;
- a server that is gone (the managed one died, or an --endpoint stopped answering) raises
  `ServerError`, which ends the run instead of turning every remaining item into `failed`.
The rollout never sees where its input came from (a sentence or a task example); a task
example's candidates ride along in the work item's metadata for the task parser.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from datatrove.pipeline.inference.types import InferenceError, InferenceResult, ServerError

from ..contracts.choices import OnBadOutput, check_choice
from ..contracts.errors import ConfigError
from ..contracts.schemas.prompt import Prompt
from .parsers import judge


@dataclass
class SamplingConfig:
    """Sampling of the first request of every item. Default: greedy."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    max_tokens: int | None = None  # None: each prompt's own bound

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ConfigError(f"--temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"--top-p must be in (0, 1], got {self.top_p}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ConfigError(f"--max-tokens must be at least 1, got {self.max_tokens}")


@dataclass
class RetryPolicy:
    """What happens when an answer is bad or a request fails."""

    on_bad_output: str = OnBadOutput.SAMPLE.value
    max_retries: int = 1  # extra requests for a bad answer
    retry_temperature: float = 0.7
    http_retries: int = 4  # extra requests after an HTTP error or a timeout
    request_timeout_s: float = 300.0
    startup_timeout_s: float = 1800.0  # extra time the first answers may take while the server starts
    backoff_s: float = 1.0  # first wait after a failed request; doubles up to backoff_max_s
    backoff_max_s: float = 30.0
    dead_after_s: float = 60.0  # --endpoint: give up when /v1/models has not answered this long
    probe_interval_s: float | None = None  # default: dead_after_s / 4, at most 5 s

    def __post_init__(self) -> None:
        self.on_bad_output = check_choice(OnBadOutput, self.on_bad_output, "--on-bad-output")
        for name in ("max_retries", "http_retries"):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.probe_interval_s is None:
            self.probe_interval_s = min(5.0, self.dead_after_s / 4)
        for name in ("request_timeout_s", "startup_timeout_s", "dead_after_s", "probe_interval_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.backoff_s < 0 or self.backoff_max_s < self.backoff_s:
            raise ConfigError(
                f"backoff must satisfy 0 <= backoff_s <= backoff_max_s, got {self.backoff_s}, {self.backoff_max_s}"
            )
        if self.retry_temperature <= 0:
            raise ConfigError(f"--retry-temperature must be > 0, got {self.retry_temperature}")


class Health:
    """Shared by all rollouts of one worker: has the server answered yet, and is it still there?

    For an --endpoint (a server brd does not manage) a watchdog polls `/v1/models`; once it has
    failed for `dead_after_s`, every pending request ends with `ServerError`. A managed server's
    death is detected by datatrove itself (its process monitor), which makes `generate` raise
    `ServerError` at once. A reaper ends the requests that are past their deadline: one task
    for all of them, instead of a timer and a wait for every request (the CPU per request is
    what bounds how many requests/s one task sends: bench/annotate_ceiling.py).
    """

    def __init__(self, policy: RetryPolicy, probe_url: str | None = None):
        self.policy = policy
        self.probe_url = probe_url
        self.answered_at: float | None = None  # monotonic time of the first answer
        self.dead: asyncio.Event | None = None
        self.dead_reason = ""
        self._tasks: list[asyncio.Task] = []
        self.calls: dict[asyncio.Future, float] = {}  # requests in flight -> when they were sent
        self.expired: set[asyncio.Future] = set()  # those the reaper cancelled

    def start(self) -> None:
        if self.dead is None:
            self.dead = asyncio.Event()
            loop = asyncio.get_running_loop()
            self._tasks.append(loop.create_task(self._reap()))
            if self.probe_url:
                self._tasks.append(loop.create_task(self._watch()))
            for task in self._tasks:
                task.add_done_callback(self._stopped)

    def _stopped(self, task: asyncio.Task) -> None:
        """The reaper and the watchdog run until the loop ends: one that stops with an error would
        leave requests without a deadline, so every request then ends with that error."""
        if task.cancelled() or task.exception() is None or self.dead.is_set():
            return
        self.dead_reason = f"brd's request watchdog failed: {_short(task.exception())}"
        self.dead.set()
        for call in list(self.calls):
            call.cancel()

    async def _reap(self, every_s: float = 0.25) -> None:
        while True:
            await asyncio.sleep(every_s)
            now = time.monotonic()
            for call, sent_at in list(self.calls.items()):
                if now >= self.deadline(sent_at) and not call.done():
                    self.expired.add(call)
                    call.cancel()

    async def _watch(self) -> None:
        import httpx

        down_since: float | None = None
        async with httpx.AsyncClient() as client:
            while True:
                try:
                    r = await client.get(self.probe_url, timeout=min(5.0, self.policy.probe_interval_s))
                    up = r.status_code == 200
                    why = f"HTTP {r.status_code}"
                except Exception as exc:  # any failed probe is a server that did not answer
                    up, why = False, type(exc).__name__
                now = time.monotonic()
                if up:
                    down_since = None
                else:
                    down_since = down_since or now
                    if now - down_since >= self.policy.dead_after_s:
                        self.dead_reason = (
                            f"{self.probe_url} has not answered for {now - down_since:.0f}s (last: {why})"
                        )
                        self.dead.set()
                        for call in list(self.calls):
                            call.cancel()
                        return
                await asyncio.sleep(self.policy.probe_interval_s)

    def deadline(self, sent_at: float) -> float:
        """When a request sent at `sent_at` times out. Until the server first answers, requests also
        wait for it to start; after that, each gets request_timeout_s from when it was sent (or from
        the first answer, for requests that were waiting for the start-up)."""
        p = self.policy
        if self.answered_at is None:
            return sent_at + p.startup_timeout_s + p.request_timeout_s
        return max(sent_at, self.answered_at) + p.request_timeout_s


@dataclass
class Attempt:
    result: InferenceResult | None
    error: str | None
    requests: int
    sampling: dict[str, Any] = field(default_factory=dict)


def _short(exc: BaseException | str) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


async def _request(payload: dict, generate, health: Health) -> Attempt:
    """One answer, with HTTP retries and backoff. Raises ServerError when the server is gone."""
    policy = health.policy
    error = ""
    for i in range(policy.http_retries + 1):
        if health.dead.is_set():
            raise ServerError(health.dead_reason)
        sent_at = time.monotonic()
        # One task per request: the reaper cancels it at its deadline (which moves when the server
        # first answers), the watchdog when the server is gone.
        call = asyncio.ensure_future(generate(dict(payload)))
        health.calls[call] = sent_at
        try:
            result = await call
            if health.answered_at is None:
                health.answered_at = time.monotonic()
            return Attempt(result, None, i + 1)
        except asyncio.CancelledError:
            if health.dead.is_set():
                raise ServerError(health.dead_reason) from None
            if call not in health.expired:
                raise  # this rollout itself was cancelled
            error = f"timeout after {policy.request_timeout_s:.0f}s"
        except ServerError as exc:
            if "InternalServerError" not in str(exc):
                raise  # the server could not start or has died: the run ends, committed rows stay
            error = "HTTP 500 " + _short(str(exc).split("from server:", 1)[-1])
        except InferenceError as exc:
            message = _short(exc.error)
            if "BadRequestError" in message:
                return Attempt(None, "HTTP 400 " + message.split("from server:", 1)[-1].strip(), i + 1)
            error = message
        finally:
            health.calls.pop(call, None)
            health.expired.discard(call)
        if i < policy.http_retries:
            delay = min(policy.backoff_s * 2**i, policy.backoff_max_s)
            await asyncio.sleep(delay * random.uniform(0.75, 1.25))
    return Attempt(None, f"{error} (gave up after {policy.http_retries + 1} requests)", policy.http_retries + 1)


def _retry_seed(key: str, attempt: int) -> int:
    """Retries sample with a seed derived from the item, so a rerun asks the same thing."""
    return int.from_bytes(hashlib.blake2b(f"{key}/{attempt}".encode(), digest_size=4).digest(), "big")


def request_sampling(prompt: Prompt, sampling: SamplingConfig, policy: RetryPolicy, key: str, attempt: int) -> dict:
    """The sampling fields of request number `attempt` (0: the configured one, then retries)."""
    if attempt == 0:
        out = {"temperature": sampling.temperature, "top_p": sampling.top_p}
        if sampling.seed is not None:
            out["seed"] = sampling.seed
    else:
        out = {"temperature": policy.retry_temperature, "top_p": sampling.top_p, "seed": _retry_seed(key, attempt)}
    out["max_tokens"] = sampling.max_tokens or prompt.max_tokens
    return out


async def annotate_rollout(
    document, generate, *, prompts: dict[str, Prompt], sampling: SamplingConfig, policy: RetryPolicy, health: Health
) -> dict[str, Any]:
    """Annotate one work item; always returns a record (status ok, unparsed, truncated or failed)."""
    health.start()
    md = document.metadata
    prompt = prompts[md["prompt_hash"]]
    key = f"{md['unit_id']}/{prompt.prompt_hash}"
    tries = 1 + (policy.max_retries if policy.on_bad_output == "sample" else 0)
    kept: dict[str, Any] | None = None
    requests = 0
    for attempt in range(tries):
        params = request_sampling(prompt, sampling, policy, key, attempt)
        payload = prompt.payload(document.text, params)
        out = await _request(payload, generate, health)
        requests += out.requests
        sampled = {**params, "stop": list(prompt.stop)}
        if out.result is None:
            if kept is None:
                kept = {
                    "raw_text": None,
                    "parsed": None,
                    "finish_reason": None,
                    "prompt_tokens": None,
                    "completion_tokens": None,
                    "status": "failed",
                    "reason": out.error,
                    "sampling": sampled,
                }
            break  # the server is failing this item: a bad answer already in hand is kept
        res = out.result
        verdict = judge(res.text, res.finish_reason, prompt.parser, params["max_tokens"], md.get("candidates"))
        usage = res.usage or {}
        record = {
            "raw_text": res.text,
            "parsed": verdict.parsed,
            "finish_reason": res.finish_reason,
            "prompt_tokens": usage.get("prompt_tokens"),
            "completion_tokens": usage.get("completion_tokens"),
            "status": verdict.status,
            "reason": verdict.reason,
            "sampling": sampled,
        }
        if kept is None or kept["status"] == "failed" or verdict.ok:
            if kept is not None and kept["status"] != "failed" and verdict.ok:
                record["reason"] = f"first answer {kept['status']} ({kept['reason']}); retry {attempt} sampled"
            kept = record
        if verdict.ok:
            break
    kept["attempts"] = requests
    return kept


@dataclass
class RolloutContext:
    """datatrove's `shared_context`: builds the keyword arguments of every rollout in a worker.

    A callable (not a dict) so each worker process gets its own `Health` inside its event loop.
    """

    prompts: dict[str, Prompt]
    sampling: SamplingConfig
    policy: RetryPolicy
    probe_url: str | None = None

    def __call__(self) -> dict[str, Any]:
        return {
            "prompts": self.prompts,
            "sampling": self.sampling,
            "policy": self.policy,
            "health": Health(self.policy, self.probe_url),
        }

    def lineage(self) -> dict[str, Any]:
        return {"sampling": asdict(self.sampling), "policy": asdict(self.policy)}
