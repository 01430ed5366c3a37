"""Ingest throughput on one core, against a plain pysbd loop, and peak memory as input grows 10x.

    .venv/bin/python bench/segment.py [--mb 20] [--growth 10] [--pysbd-mb 1]

Prints:
- MB/s and sentences/s of `brd ingest` as a whole (read, segment, build passages, write the
  store), run in a subprocess pinned to one core;
- in the same run, the same text through a plain `pysbd` loop (the baseline), and the ratio;
- the raw speed of each candidate segmenter on the same paragraphs (how the default was chosen);
- peak RSS of ingest at N MB and at growth x N MB (it must stay flat: rows stream to Parquet parts).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from brd_data.ingest import sample_corpus  # noqa: E402


def sample_documents() -> list[tuple[str, list[str]]]:
    docs = []
    for path in sample_corpus():
        lang = path.name.split(".")[0]
        for block in path.read_text(encoding="utf-8").split("\n\n"):
            paragraphs = [p for p in block.split("\n") if p.strip()]
            if paragraphs:
                docs.append((lang, paragraphs))
    return docs


def synth_corpus(folder: Path, megabytes: float, seed: int = 0) -> dict[str, Path]:
    """CC-100-format files per language, built from the sample documents with numbers varied."""
    rng = random.Random(seed)
    docs = sample_documents()
    target = int(megabytes * 1e6)
    handles = {}
    written = 0
    folder.mkdir(parents=True, exist_ok=True)
    digits = re.compile(r"\d+")
    try:
        while written < target:
            lang, paragraphs = rng.choice(docs)
            if lang not in handles:
                handles[lang] = open(folder / f"{lang}.txt", "w", encoding="utf-8")
            text = "\n".join(digits.sub(lambda m: str(rng.randint(1, 9999)), p) for p in paragraphs) + "\n\n"
            handles[lang].write(text)
            written += len(text.encode())
    finally:
        for h in handles.values():
            h.close()
    return {lang: folder / f"{lang}.txt" for lang in handles}


def run_ingest(folder: Path, store: Path) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS MB, sentences) of `brd ingest` in a child pinned to one core."""
    code = (
        "import os, resource, sys; os.sched_setaffinity(0, {0});"
        "sys.argv = ['brd', 'ingest', sys.argv[1], '--store', sys.argv[2]];"
        "from brd_data.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n"
        "    r = resource.getrusage(resource.RUSAGE_SELF)\n"
        "    print('RSS', r.ru_maxrss, 'CPU', r.ru_utime + r.ru_stime, file=sys.stderr); raise"
    )
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, str(folder), str(store)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"ingest failed:\n{proc.stdout}\n{proc.stderr}")
    m = re.search(r"RSS (\d+) CPU ([\d.]+)", proc.stderr)
    sentences = int(re.search(r"(\d+) sentences", proc.stdout).group(1))
    return seconds, float(m.group(2)), int(m.group(1)) / 1024, sentences


def paragraphs_of(files: dict[str, Path], limit_bytes: int) -> list[tuple[str, str]]:
    """Paragraphs taken from every language in turn, up to `limit_bytes`."""
    per_lang = {
        lang: [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()] for lang, path in files.items()
    }
    out, size, i = [], 0, 0
    while size < limit_bytes and any(i < len(v) for v in per_lang.values()):
        for lang, lines in per_lang.items():
            if i < len(lines):
                out.append((lang, lines[i]))
                size += len(lines[i].encode())
        i += 1
    return out


def segmenter_speeds(paragraphs: list[tuple[str, str]]) -> dict[str, tuple[float, int]]:
    """MB/s and sentence count of each candidate segmenter over the same paragraphs, one core."""
    import blingfire
    import pysbd
    from sentencex import segment

    size_mb = sum(len(p.encode()) for _, p in paragraphs) / 1e6
    pysbd_langs = {"en", "de", "zh", "ru", "ja", "fr", "es", "it"}
    segs = {}
    candidates = {
        "sentencex": lambda lang, p: list(segment(lang, p)),
        "blingfire": lambda lang, p: blingfire.text_to_sentences(p).split("\n"),
        "pysbd": lambda lang, p, _c={}: _c.setdefault(
            lang, pysbd.Segmenter(language=lang if lang in pysbd_langs else "en", clean=False)
        ).segment(p),
    }
    for name, fn in candidates.items():
        t = time.perf_counter()
        n = sum(len(fn(lang, p)) for lang, p in paragraphs)
        segs[name] = (size_mb / (time.perf_counter() - t), n)
    return segs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=20, help="input size of the main run (MB)")
    ap.add_argument("--growth", type=float, default=10, help="the memory check repeats at this multiple")
    ap.add_argument("--pysbd-mb", type=float, default=1.0, help="pysbd is slow: it reads this many MB")
    args = ap.parse_args()
    os.sched_setaffinity(0, {0})
    with tempfile.TemporaryDirectory(prefix="brd-bench-") as tmp:
        tmp = Path(tmp)
        small = synth_corpus(tmp / "small", args.mb)
        size = sum(p.stat().st_size for p in small.values()) / 1e6
        secs, cpu, rss_small, n_sent = run_ingest(tmp / "small", tmp / "store-small")
        print(f"input: {size:.1f} MB of CC-100 text ({', '.join(sorted(small))}), 1 core")
        print(
            f"brd ingest:      {size / secs:6.2f} MB/s  {n_sent / secs:9.0f} sentences/s  "
            f"({secs:.1f} s wall incl. start-up and commit; goal >= 5 MB/s)"
        )
        print(
            f"                 {size / cpu:6.2f} MB per CPU-second ({cpu:.1f} CPU s; steadier than wall time "
            f"on a shared machine)"
        )

        paragraphs = paragraphs_of(small, int(args.pysbd_mb * 1e6))
        speeds = segmenter_speeds(paragraphs)
        pysbd_mbs = speeds["pysbd"][0]
        print(f"pysbd loop:      {pysbd_mbs:6.2f} MB/s  (baseline, segmentation alone, {args.pysbd_mb:g} MB)")
        print(f"ratio:           {size / secs / pysbd_mbs:6.1f}x  (brd ingest end to end / plain pysbd loop)")
        print("segmenters alone on the same paragraphs:")
        for name, (mbs, n) in sorted(speeds.items(), key=lambda kv: -kv[1][0]):
            print(f"  {name:10s} {mbs:7.2f} MB/s  {n} sentences")

        big = synth_corpus(tmp / "big", args.mb * args.growth, seed=1)
        big_size = sum(p.stat().st_size for p in big.values()) / 1e6
        secs_big, cpu_big, rss_big, _ = run_ingest(tmp / "big", tmp / "store-big")
        print(
            f"peak RSS:        {rss_small:6.0f} MB at {size:.0f} MB input; {rss_big:.0f} MB at {big_size:.0f} MB input "
            f"(x{rss_big / rss_small:.2f} for x{big_size / size:.0f} input; {big_size / secs_big:.2f} MB/s, "
            f"{big_size / cpu_big:.2f} MB per CPU-second)"
        )


if __name__ == "__main__":
    main()
