"""Benchmark: `brd mix build brd` (D_TRAIN) on a synthetic store of N annotated passages, against a
raw DuckDB `COPY (select ... from d_train) TO 'x.parquet'` of the same rows in the same run.

Each step runs in its own process (its peak RSS is its own, from wait4). The baseline runs with
the build's DuckDB memory_limit and with DuckDB's default (80% of RAM).
The build runs three times: cold with the default `--count-tokens auto` (an empty token-count
cache: it counts a random sample, the rows that could exceed the length check, and estimates the
rest), cold with `--count-tokens all` (every row tokenised, as every build did before), and warm
(the cache holds every text, as for any later mixture over the same rows: brd-no-ner, brd-0.5m, a
rebuild).

    python bench/mix.py                      # 1,000,000 passages (a ~1.5 GB store; ~30 min on 2 cores)
    python bench/mix.py --passages 100000 --work /tmp/mixbench --keep
    python bench/mix.py --default-only       # 1M passages, the goal's measure only (~5 min on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

_COPY = """
import duckdb, sys
con = duckdb.connect(sys.argv[1], read_only=True)
if sys.argv[3]:
    con.execute("set memory_limit = $m", {"m": sys.argv[3]})
con.execute("set temp_directory = $t", {"t": sys.argv[4]})
con.execute("copy (select text, passage_id, unit_id, component, run_ids, prompt_hashes from d_train) to '"
            + sys.argv[2].replace("'", "''") + "' (format parquet)")
"""


def measured(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, output) of one child process: wait4 reports that child's own usage."""
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ, **(env or {})}
    )
    chunks = []
    while True:
        block = proc.stdout.read(65536)
        if not block:
            break
        chunks.append(block)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    out = b"".join(chunks).decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{out[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passages", type=int, default=1_000_000)
    ap.add_argument("--work", type=Path, default=None, help="Working folder (default: a temporary one).")
    ap.add_argument("--keep", action="store_true", help="Keep the work folder; reuse a synthetic store found there.")
    ap.add_argument("--memory-limit", default="1GB", help="DuckDB memory_limit for the build and the baseline.")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--skip-cold", action="store_true", help="Only the warm build (token cache filled first).")
    group.add_argument(
        "--default-only",
        action="store_true",
        help="Only the cold build with the defaults (the speed goal's measure), not the --count-tokens all "
        "and warm builds (at 1M passages, tokenising every row is ~20 min of the ~30 on 2 cores).",
    )
    args = ap.parse_args()

    from mix_synth import synthesize

    work = args.work or Path(tempfile.mkdtemp(prefix="brd-bench-mix-"))
    work.mkdir(parents=True, exist_ok=True)
    store = work / f"store-{args.passages}"
    py = sys.executable
    env = {"BRD_CACHE": os.environ.get("BRD_CACHE", str(REPO / ".cache" / "test" / "brd"))}
    try:
        if not (store / "brd.duckdb").is_file():
            info = synthesize(store, args.passages)
            print(
                f"synthetic store: {info['passages']:,} passages, {info['sentences']:,} sentences, "
                f"{info['annotations']:,} annotations in {info['seconds']}s",
                flush=True,
            )
        else:
            print(f"reusing {store}", flush=True)
        # every view must exist in this code's version of the store
        measured([py, "-m", "brd_data", "migrate", "--store", str(store)], env)
        spill = work / "spill"
        spill.mkdir(exist_ok=True)

        results = []

        def record(name: str, seconds: float, rss: float, line: str = "") -> None:
            results.append((name, seconds, rss, line))
            print(f"  {name}: {seconds:.1f}s, peak RSS {rss:.0f} MB", flush=True)

        # the baseline first: under the same memory_limit, and with DuckDB's default (80% of RAM)
        for label, limit in ((f"memory_limit {args.memory_limit}", args.memory_limit), ("no memory_limit", "")):
            try:
                s, rss, _ = measured(
                    [py, "-c", _COPY, str(store / "brd.duckdb"), str(work / "x.parquet"), limit, str(spill)], env
                )
                record(f"raw DuckDB COPY d_train TO parquet ({label})", s, rss)
            except SystemExit as exc:
                print(f"  raw COPY with {label} failed: {str(exc).strip().splitlines()[-1]}", flush=True)
        clear = [py, "-m", "brd_data", "sql", "--write", "--store", str(store), "delete from mix_token_counts"]
        build_cmd = [
            py,
            "-m",
            "brd_data",
            "mix",
            "build",
            "brd",
            "--store",
            str(store),
            "--out",
            str(work / "brd"),
            "--memory-limit",
            args.memory_limit,
            "-q",
        ]
        if not args.skip_cold:
            measured(clear, env)
            s, rss, out = measured(build_cmd, env)
            record("brd mix build brd (cold, --count-tokens auto: the default)", s, rss, out.strip().splitlines()[-1])
        if args.default_only:
            pass
        elif not args.skip_cold:
            measured(clear, env)
            s, rss, out = measured([*build_cmd, "--count-tokens", "all"], env)
            record("brd mix build brd (cold, --count-tokens all: every row)", s, rss, out.strip().splitlines()[-1])
        else:
            measured([*build_cmd, "--count-tokens", "all"], env)
        if not args.default_only:
            s, rss, out = measured(build_cmd, env)
            record("brd mix build brd (warm: every count cached)", s, rss, out.strip().splitlines()[-1])
        manifest = json.loads((work / "brd" / "manifest.json").read_text())
        baseline = results[0][1]  # the raw COPY (the same memory_limit if it finished, else no limit)
        tokens = manifest["tokens"]
        tokens = f"{tokens:,}" if tokens is not None else f"~{manifest['token_count']['estimate']:,} (estimated)"
        print(
            f"\nd_train: {manifest['rows']:,} rows, {tokens} tokens (the embedded teacher's), "
            f"{sum(f.stat().st_size for f in (work / 'brd' / 'data').iterdir()) / 1e9:.2f} GB of shards "
            f"(raw COPY file: {(work / 'x.parquet').stat().st_size / 1e9:.2f} GB); memory_limit {args.memory_limit}; "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
        )
        print(f"{'step':66} {'seconds':>8} {'peak RSS MB':>12} {'x raw COPY':>11}")
        for name, s, rss, _ in results:
            print(f"{name:66} {s:8.1f} {rss:12.0f} {s / baseline:11.2f}")
        for name, _, _, line in results:
            if line:
                print(f"  {name.split('(', 1)[1].rstrip(')')}: {line}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
