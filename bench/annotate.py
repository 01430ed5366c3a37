"""Teacher annotation throughput: `brd annotate` end to end against vLLM's own offline engine.

    .venv/bin/python bench/annotate.py [--sentences 200] [--max-concurrency 128] [--dtype auto]
    .venv/bin/python bench/annotate.py --sentences -1 --no-baseline     # the whole sample corpus
    .venv/bin/python bench/annotate.py --sweep --sentences 64           # engine settings, offline

Prints, on the embedded teacher (SmolLM2-135M-Instruct) and the sample corpus:
- `brd annotate` (NER + QRA, greedy, no retries, store writes included) as a user runs it: wall
  time, server start-up apart, and output tokens/s end to end after start-up;
- in the same run, the same prompts (same order, same stop strings and bounds) through
  `vllm.LLM.generate` with the same engine settings: output tokens/s, and the ratio (goal >= 0.9);
- the share of requests saved by deduplicating sentences (text_hash) over the sample corpus;
- with --sweep: offline tokens/s per engine setting (max_num_seqs, dtype, CPU threads).
vLLM CPU needs VLLM_CPU_KVCACHE_SPACE (set from --kv-cache-gib) and this script's __main__ guard.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def build_store(root: Path) -> None:
    from brd_data.ingest import IngestConfig, resolve, run_ingest, sample_corpus
    from brd_data.store import Store

    st = Store(root)
    with st.writer("ingest"):
        run_ingest(st, IngestConfig(files=resolve([str(p) for p in sample_corpus()]), progress=False))


def requests_for(store: Path, n: int) -> tuple[list[tuple[str, str]], int, int]:
    """The (prompt name, rendered prompt) list `brd annotate --limit n` sends, in its order."""
    from brd_data.annotate.work import plan
    from brd_data.contracts.schemas.prompt import resolve
    from brd_data.store import Store, query

    prompts = resolve(["ner", "qra"])
    with Store(store).reader() as con:
        n_sent, n_unique = con.execute(query("annotate/corpus_counts")).fetchall()[0]
        pending = plan(con, prompts, "bench-no-teacher", n)
    return [(p.prompt.name, p.prompt.render(t)) for p in pending for t in p.inputs], n_sent, n_unique


def offline(args: argparse.Namespace) -> dict:
    """vllm.LLM.generate over the same requests (runs in its own process: see main)."""
    from vllm import LLM, SamplingParams

    from brd_data.contracts.schemas.prompt import resolve

    prompts = {p.name: p for p in resolve(["ner", "qra"])}
    reqs = json.loads(Path(args.offline).read_text())
    started = time.monotonic()
    llm = LLM(
        model=args.teacher,
        enable_prefix_caching=True,
        max_num_seqs=args.max_num_seqs,
        dtype=args.dtype,
        max_model_len=2048,
        enforce_eager=True,
    )
    startup = time.monotonic() - started
    params = {
        n: SamplingParams(temperature=0.0, max_tokens=p.max_tokens, stop=list(p.stop)) for n, p in prompts.items()
    }
    t = time.monotonic()
    outs = llm.generate([r[1] for r in reqs], [params[r[0]] for r in reqs], use_tqdm=False)
    gen = time.monotonic() - t
    return {
        "startup_s": startup,
        "generate_s": gen,
        "requests": len(outs),
        "tokens": sum(len(o.outputs[0].token_ids) for o in outs),
    }


def run_offline(requests: Path, teacher: str, max_num_seqs: int, dtype: str, env: dict) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--offline",
            str(requests),
            "--teacher",
            teacher,
            "--max-num-seqs",
            str(max_num_seqs),
            "--dtype",
            dtype,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=7200,
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"offline vLLM failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def run_brd(store: Path, n: int, args: argparse.Namespace, env: dict) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "brd_data",
        "annotate",
        "--store",
        str(store),
        "--limit",
        str(n),
        "--max-retries",
        str(args.max_retries),
        "--no-progress",
        "--max-concurrency",
        str(args.max_concurrency),
        "--dtype",
        args.dtype,
        "--kv-cache-gib",
        f"{args.kv_cache_gib:g}",
    ]
    started = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env={**os.environ, **env}, timeout=7200)
    wall = time.monotonic() - started
    if out.returncode != 0:
        raise SystemExit(f"brd annotate failed:\n{out.stderr[-3000:]}")
    m = re.search(r"(\d+) output tokens, ([\d.]+) tokens/s after server start-up \(start-up ([\d.]+)s", out.stdout)
    added = re.search(r"(\d+) annotation\(s\) added \(([^)]*)\)", out.stdout)
    tokens, steady, startup = int(m[1]), float(m[2]), float(m[3])
    return {
        "wall_s": wall,
        "startup_s": startup,
        "tokens": tokens,
        "steady_tok_s": steady,
        "e2e_tok_s": tokens / (wall - startup),
        "rows": int(added[1]),
        "statuses": added[2],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sentences", type=int, default=200, help="unique sentences per behaviour (-1: all)")
    ap.add_argument("--max-concurrency", type=int, default=128)
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--kv-cache-gib", type=float, default=2.0)
    ap.add_argument(
        "--max-retries",
        type=int,
        default=0,
        help="brd's sampled retries of bad answers (0: the same requests as the baseline)",
    )
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--sweep", action="store_true", help="offline tokens/s over engine settings")
    ap.add_argument("--offline", help=argparse.SUPPRESS)
    ap.add_argument("--teacher", help=argparse.SUPPRESS)
    ap.add_argument("--max-num-seqs", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.offline:
        print(json.dumps(offline(args)), flush=True)
        return

    from brd_data.annotate.engine import default_dtype
    from brd_data.contracts.models import prepare

    teacher = str(prepare())
    dtype = default_dtype(args.dtype, teacher)
    env = {"VLLM_CPU_KVCACHE_SPACE": f"{args.kv_cache_gib:g}"}
    with tempfile.TemporaryDirectory(prefix="brd-bench-annotate-") as tmp:
        store = Path(tmp) / "store"
        build_store(store)
        reqs, n_sent, n_unique = requests_for(store, args.sentences)
        req_file = Path(tmp) / "requests.json"
        req_file.write_text(json.dumps(reqs))
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; teacher {teacher}")
        print(
            f"sample corpus: {n_sent} sentences, {n_unique} unique: dedup saves {n_sent - n_unique} of {n_sent} "
            f"requests per behaviour ({(n_sent - n_unique) / n_sent:.1%})"
        )
        print(
            f"requests: {len(reqs)} ({len(reqs) // 2} unique sentences x ner, qra), dtype {dtype}, "
            f"max concurrency = max_num_seqs = {args.max_concurrency}, KV cache {args.kv_cache_gib:g} GiB"
        )
        if args.sweep:
            print("| max_num_seqs | dtype | CPU threads | start-up s | generate s | output tok/s |")
            print("|---|---|---|---|---|---|")
            for seqs, dt, threads in [
                (32, "float32", None),
                (128, "float32", None),
                (256, "float32", None),
                (128, "bfloat16", None),
                (128, "float32", "0-1"),
            ]:
                extra = {**env, **({"VLLM_CPU_OMP_THREADS_BIND": threads} if threads else {})}
                r = run_offline(req_file, teacher, seqs, dt, extra)
                print(
                    f"| {seqs} | {dt} | {threads or 'vLLM default'} | {r['startup_s']:.0f} | {r['generate_s']:.0f} "
                    f"| {r['tokens'] / r['generate_s']:.1f} |",
                    flush=True,
                )
            return
        base = None
        if not args.no_baseline:
            base = run_offline(req_file, teacher, args.max_concurrency, dtype, env)
            print(
                f"vllm.LLM.generate: {base['tokens']} output tokens in {base['generate_s']:.1f}s = "
                f"{base['tokens'] / base['generate_s']:.1f} tok/s (engine start-up {base['startup_s']:.1f}s)",
                flush=True,
            )
        b = run_brd(store, args.sentences, args, env)
        print(
            f"brd annotate: {b['rows']} rows ({b['statuses']}) in {b['wall_s']:.1f}s wall, server start-up "
            f"{b['startup_s']:.1f}s; {b['tokens']} output tokens = {b['e2e_tok_s']:.1f} tok/s end to end after "
            f"start-up (store writes included), {b['steady_tok_s']:.1f} tok/s from server ready to last answer"
        )
        if base:
            ratio = b["e2e_tok_s"] / (base["tokens"] / base["generate_s"])
            print(f"ratio brd / vllm.LLM.generate: {ratio:.2f} (goal >= 0.9)")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
