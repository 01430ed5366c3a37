"""Benchmark: §3.3 scoring of a BIG-bench task, brd's shared-prompt batched scorer against a naive
loop with one forward pass per candidate, same model, same examples, same run.

    python bench/eval.py                                   # SmolLM2-135M (the embedded teacher), anachronisms
    python bench/eval.py --task emoji_movie --limit 60     # 5 candidates per example
    python bench/eval.py --model PATH --device cuda --batch-size 64

Prints examples/s of both, the ratio, and whether every prediction is identical (goal: >= 2x).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    from brd_data.contracts.paths import samples_dir

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="model folder (default: the embedded SmolLM2-135M teacher)")
    ap.add_argument(
        "--task", default="anachronisms", help="a folder under brd_data/samples/bigbench, or a task.json path"
    )
    ap.add_argument("--limit", type=int, default=96, help="examples to score")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()

    import torch

    from brd_train.eval.bigbench import load_task
    from brd_train.eval.models import load_model
    from brd_train.eval.scoring import NaiveScorer, PackedScorer, Request, select

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model:
        model_path = args.model
    else:
        from brd_data.contracts.models import prepare

        model_path = str(prepare())
    task_path = Path(args.task) if Path(args.task).exists() else samples_dir() / "bigbench" / args.task
    task = load_task(task_path, limit=args.limit)
    model, tok = load_model(model_path, args.device, args.dtype)
    reqs = [Request(it.where, it.prompt, it.continuations) for it in task.items]
    n_cands = sum(len(r.continuations) for r in reqs)
    print(
        f"model {model_path} ({sum(p.numel() for p in model.parameters()) / 1e6:.0f}M params, "
        f"{next(model.parameters()).dtype}, {next(model.parameters()).device}, {torch.get_num_threads()} threads)"
    )
    print(f"task {task.name}: {len(reqs)} examples, {n_cands} candidates")

    warm = reqs[:2]
    results = {}
    for name, scorer in (
        ("naive (one forward per candidate)", NaiveScorer(model, tok)),
        (f"brd packed (shared prompt, batch {args.batch_size})", PackedScorer(model, tok, batch_size=args.batch_size)),
    ):
        scorer.score(warm)
        started = time.perf_counter()
        scores = scorer.score(reqs)
        seconds = time.perf_counter() - started
        results[name] = (scores, seconds)
        print(f"{name:<44} {seconds:8.2f} s  {len(reqs) / seconds:8.2f} examples/s")
    (naive, t_naive), (packed, t_packed) = results.values()
    same = sum(select(a) == select(b) for a, b in zip(naive, packed))
    diff = max(abs(x.logprob_sum - y.logprob_sum) for a, b in zip(naive, packed) for x, y in zip(a, b))
    grade = sum(it.target_scores[select(s)] for it, s in zip(task.items, packed)) / len(reqs)
    print(
        f"speed-up: {t_naive / t_packed:.2f}x   identical predictions: {same}/{len(reqs)}   "
        f"max |logprob diff|: {diff:.2e}   multiple_choice_grade: {100 * grade:.1f}"
    )
    return 0 if same == len(reqs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
