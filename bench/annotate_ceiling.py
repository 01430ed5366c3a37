"""The annotation pipeline's ceiling: how many requests/s one brd task can send, and at what CPU cost.

    .venv/bin/python bench/annotate_ceiling.py [--requests 60000] [--concurrency 128]

Starts an OpenAI-compatible server that answers at once (aiohttp on uvloop, in its own process, so
its CPU is not counted) and sends it the same completion requests (brd's NER and QRA prompts over
unique synthetic sentences, as `brd annotate` builds them) three ways, in one run:
1. a plain asyncio client: --concurrency keep-alive connections on asyncio streams, nothing else
   (and, for reference, the same with aiohttp's client);
2. datatrove's InferenceRunner alone (an endpoint server, a rollout that sends the request and
   keeps the text, its JsonlWriter; no checkpoints), in this process;
3. `brd annotate --endpoint URL` end to end, as a user runs it: planning in the store, rollouts
   with timeouts and retries, parsing, Parquet parts, commits into the store.
For each it prints requests/s and the client's CPU milliseconds per request (user + system time of
the process that sends the requests; for brd, of the whole command, start-up included), and the
server's CPU per request: on a small machine the server and the client share the cores.
Goal for brd: at most 0.5 ms CPU per request and at least 2,000 requests/s per task. The last
line is `cpu_ms_per_request=X req_per_s=Y`, for brd end to end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
MODEL = "instant-teacher"
NER = ' In this sentence, "Ada" is a person name entity.'
QRA = "Question: What does the sentence say? Answer: Ada went there."


# -- the instant server (a child process) ---------------------------------------------------------
def serve(port: int) -> None:
    from aiohttp import web

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    models = json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    async def list_models(_request):
        return web.Response(text=models, content_type="application/json")

    async def completions(request):
        body = await request.json()
        text = NER if "Enter a sentence" in body.get("prompt", "") else QRA
        out = {
            "id": "cmpl",
            "object": "text_completion",
            "model": MODEL,
            "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 300, "completion_tokens": 12, "total_tokens": 312},
        }
        return web.Response(text=json.dumps(out), content_type="application/json")

    app = web.Application()
    app.add_routes([web.get("/v1/models", list_models), web.post("/v1/completions", completions)])
    print("ready", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def start_server() -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, url
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the instant server did not start")


# -- the requests ---------------------------------------------------------------------------------
def build_store(root: Path, n_sentences: int) -> None:
    """A store holding `n_sentences` unique English sentences (10 per document)."""
    from brd_data.ingest import IngestConfig, resolve, run_ingest
    from brd_data.store import Store

    corpus = root.parent / "corpus.jsonl"
    with corpus.open("w", encoding="utf-8") as f:
        for d in range(0, n_sentences, 10):
            sents = [f"Person{i} visited the town of Place{i % 97} on day {i} of the survey." for i in range(d, d + 10)]
            f.write(json.dumps({"text": " ".join(sents)}) + "\n")
    st = Store(root)
    with st.writer("ingest"):
        run_ingest(st, IngestConfig(files=resolve([str(corpus)], lang="en"), progress=False))


def payloads(store: Path, n_sentences: int) -> list[dict]:
    """The completion requests `brd annotate --limit n_sentences` sends, in its order."""
    from brd_data.annotate.rollout import RetryPolicy, SamplingConfig, request_sampling
    from brd_data.annotate.work import plan
    from brd_data.contracts.schemas.prompt import resolve
    from brd_data.store import Store

    with Store(store).reader() as con:
        pending = plan(con, resolve(["ner", "qra"]), "bench-no-teacher", n_sentences)
    out = []
    for p in pending:
        for unit, text in zip(p.todo.column("unit_id").to_pylist(), p.inputs):
            sampling = request_sampling(p.prompt, SamplingConfig(), RetryPolicy(), f"{unit}/{p.prompt.prompt_hash}", 0)
            out.append({"model": MODEL, **p.prompt.payload(text, sampling)})
    return out


# -- the three clients ----------------------------------------------------------------------------
def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def plain_client(url: str, reqs: list[dict], concurrency: int) -> tuple[float, float]:
    """Keep-alive HTTP/1.1 over asyncio streams, one connection per request in flight."""
    from urllib.parse import urlparse

    host, port = urlparse(url).hostname, urlparse(url).port

    async def go() -> None:
        queue = iter(reqs)

        async def worker() -> None:
            reader, writer = await asyncio.open_connection(host, port)
            for body in queue:
                data = json.dumps(body).encode()
                writer.write(
                    b"POST /v1/completions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (host.encode(), len(data), data)
                )
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                json.loads(await reader.readexactly(length))["choices"][0]["text"]
            writer.close()

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    cpu, wall = cpu_s(), time.monotonic()
    asyncio.run(go())
    return time.monotonic() - wall, cpu_s() - cpu


def aiohttp_client(url: str, reqs: list[dict], concurrency: int) -> tuple[float, float]:
    import aiohttp

    async def go() -> None:
        queue = iter(reqs)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

            async def worker() -> None:
                for body in queue:
                    async with session.post(f"{url}/v1/completions", json=body) as r:
                        r.raise_for_status()
                        (await r.json())["choices"][0]["text"]

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    cpu, wall = cpu_s(), time.monotonic()
    asyncio.run(go())
    return time.monotonic() - wall, cpu_s() - cpu


def datatrove_runner(url: str, reqs: list[dict], concurrency: int, tmp: Path) -> tuple[float, float]:
    from datatrove.data import Document
    from datatrove.pipeline.inference.run_inference import InferenceConfig, InferenceRunner
    from datatrove.pipeline.writers import JsonlWriter
    from loguru import logger

    logger.remove()  # datatrove's progress lines would bury the table

    async def rollout(document, generate):
        return (await generate(dict(document.metadata["payload"]))).text

    runner = InferenceRunner(
        rollout_fn=rollout,
        config=InferenceConfig(
            server_type="endpoint",
            endpoint_url=url,
            model_name_or_path=MODEL,
            use_chat=False,
            max_concurrent_generations=concurrency,
            metric_interval=10**6,
        ),
        output_writer=JsonlWriter(str(tmp / "datatrove-out")),
    )
    docs = [Document(text="", id=str(i), metadata={"payload": body}) for i, body in enumerate(reqs)]
    cpu, wall = cpu_s(), time.monotonic()
    runner.run(iter(docs), rank=0, world_size=1)
    return time.monotonic() - wall, cpu_s() - cpu


def brd_end_to_end(url: str, store: Path, n_sentences: int, concurrency: int) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    out = subprocess.run(
        [
            *(sys.executable, "-m", "brd_data", "annotate", "--store", str(store), "--endpoint", url),
            *("--limit", str(n_sentences), "--no-progress", "--max-concurrency", str(concurrency)),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"brd annotate failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    summary = next((ln for ln in out.stdout.splitlines() if ln.startswith("run ")), "")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=60000, help="requests per client (half NER, half QRA)")
    ap.add_argument("--concurrency", type=int, default=128, help="requests in flight (brd's --max-concurrency)")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve)
        return
    n_sentences = args.requests // 2
    server, url = start_server()
    try:
        with tempfile.TemporaryDirectory(prefix="brd-bench-ceiling-") as tmp_name:
            tmp = Path(tmp_name)
            store = tmp / "store"
            build_store(store, n_sentences)
            reqs = payloads(store, n_sentences)
            print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
            print(f"{len(reqs)} completion requests (NER + QRA over {n_sentences} unique sentences), "
                  f"{args.concurrency} in flight, an instant server in a process of its own")  # fmt: skip
            clients = [
                ("plain asyncio client (streams, keep-alive)", lambda: plain_client(url, reqs, args.concurrency)),
                ("plain aiohttp client (for reference)", lambda: aiohttp_client(url, reqs, args.concurrency)),
                (
                    "datatrove InferenceRunner, trivial rollout",
                    lambda: datatrove_runner(url, reqs, args.concurrency, tmp),
                ),
                (
                    "brd annotate end to end (store writes)",
                    lambda: brd_end_to_end(url, store, n_sentences, args.concurrency),
                ),
            ]
            served = psutil.Process(server.pid)
            print("| client | requests | time s | requests/s | CPU ms/request | server CPU ms/request |")
            print("|---|---|---|---|---|---|")
            figures = []
            for name, run in clients:
                before = sum(served.cpu_times()[:2])
                wall, cpu, *rest = run()
                server_ms = 1000 * (sum(served.cpu_times()[:2]) - before) / len(reqs)
                figures.append((wall, cpu))
                print(
                    f"| {name} | {len(reqs)} | {wall:.2f} | {len(reqs) / wall:,.0f} | {1000 * cpu / len(reqs):.3f} "
                    f"| {server_ms:.3f} |"
                )
            print(f"brd: {rest[0]}")
            (plain_wall, plain_cpu), _, (dt_wall, dt_cpu), _ = figures
            print(
                f"same run, against the plain asyncio client: requests/s brd {plain_wall / wall:.2f}x, "
                f"datatrove {plain_wall / dt_wall:.2f}x; CPU per request brd {cpu / plain_cpu:.1f}x, "
                f"datatrove {dt_cpu / plain_cpu:.1f}x"
            )
            print(f"cpu_ms_per_request={1000 * cpu / len(reqs):.3f} req_per_s={len(reqs) / wall:.0f}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
