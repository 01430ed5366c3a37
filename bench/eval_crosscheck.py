"""Independent check: brd's per-candidate log-probabilities against lm-evaluation-harness's
`loglikelihood`, an implementation nobody here wrote, on real prompt/candidate pairs: the
first examples of BIG-bench's fixed-answer tasks (the real sdist folder) and of the six Table 8
sample tasks, scored by the same model.

    pip install lm_eval==0.4.13           # dev-only, not in brd's extras (it pins python-dateutil<3)
    python bench/eval_crosscheck.py                       # SmolLM2-135M, about 400 pairs
    python bench/eval_crosscheck.py --model PATH --pairs 1000 --device cuda

lm-eval moves a context's trailing whitespace into the continuation ("\\nA: " + "yes" is scored as
"\\nA:" + " yes"); brd scores every token that ends past the prompt. Both give the same tokens
when the prompt ends in a space that merges into the candidate (BIG-bench's "\\nA: " and Table 8's
"Answer:" + " Yes"), and different tokens when it ends in a newline (lm-eval then also scores the
newline). Where the splits differ, brd also scores lm-eval's split (the whitespace moved into the
candidate), so every pair is compared like for like; the largest difference is printed per group.
Exit status 1 if any like-for-like difference exceeds --tol.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def real_pairs(limit: int, max_chars: int):
    """(where, prompt, continuation) of real examples: BIG-bench fixed-answer tasks, then Table 8."""
    from brd_data.contracts.bigbench import NotMultipleChoice, load_taskset, read_task_folder
    from brd_data.contracts.paths import samples_dir
    from brd_data.tasks.bigbench_fetch import fetched, tasks_dir
    from brd_train.eval.tasks import load_template_task

    pairs = []
    if fetched():
        for name in load_taskset("fixed-answer").tasks:
            try:
                files, _ = read_task_folder(tasks_dir() / name, limit=2)
            except NotMultipleChoice:
                continue
            for ex in files[0].examples:
                if len(ex.prompt) + max(map(len, ex.candidates)) <= max_chars:
                    pairs += [(f"{files[0].name} {ex.position}", ex.prompt, c) for c in ex.candidates[:4]]
    else:
        print("note: no BIG-bench folder (run `brd bigbench fetch`); Table 8 samples only")
    for name in ("xnli", "rte", "cb", "pawsx", "boolq", "sst2"):
        task = load_template_task(name, str(samples_dir() / "tasks" / f"{name}.jsonl"), limit=8)
        pairs += [(f"{name} {it.example_id}", it.prompt, c) for it in task.items for c in it.continuations]
    return pairs[:limit]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="model folder (default: the embedded SmolLM2-135M-Instruct)")
    ap.add_argument("--pairs", type=int, default=400, help="prompt/candidate pairs to compare")
    ap.add_argument("--max-chars", type=int, default=1500, help="skip examples longer than this")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--tol", type=float, default=1e-3, help="largest |difference| allowed where the splits agree")
    args = ap.parse_args()

    try:
        from lm_eval.api.instance import Instance
        from lm_eval.models.huggingface import HFLM
    except ImportError:
        print("lm_eval is not installed: pip install lm_eval==0.4.13 (a dev-only check)")
        return 2
    import torch

    from brd_data.annotate.teacher import prepare
    from brd_train.eval.models import load_model
    from brd_train.eval.scoring import PackedScorer, PairEncoder, Request

    torch.set_num_threads(args.threads or torch.get_num_threads())
    model_path = args.model or str(prepare())  # default: the embedded teacher, prepared offline
    pairs = real_pairs(args.pairs, args.max_chars)
    model, tok = load_model(model_path, args.device, "float32")
    print(f"model {model_path}, {len(pairs)} real prompt/candidate pairs, float32 on {args.device}")

    started = time.perf_counter()
    ours = PackedScorer(model, tok, batch_size=8).score([Request(w, p, (c,)) for w, p, c in pairs])
    t_ours = time.perf_counter() - started
    enc = PairEncoder(tok)
    # an empty prompt: lm-eval's default prefix is BOS, brd's the end-of-text token; compare like for like
    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=8, device=args.device, prefix_token_id=enc.start[0])
    started = time.perf_counter()
    theirs = lm.loglikelihood(
        [Instance("loglikelihood", {}, (p, c), i) for i, (_, p, c) in enumerate(pairs)], disable_tqdm=True
    )
    t_theirs = time.perf_counter() - started

    agree, differ = [], []
    for (where, prompt, cont), mine, (ll, _) in zip(pairs, ours, theirs):
        ids, n_ctx = enc.encode(prompt, cont, where)
        if prompt:
            ctx_enc, cont_enc = lm._encode_pair(prompt, cont)
        else:  # lm-eval conditions an empty context on its prefix token, as brd does on its start token
            ctx_enc, cont_enc = [lm.prefix_token_id], lm.tok_encode(cont, add_special_tokens=False)
        same_split = ids[n_ctx:] == cont_enc and ids[:n_ctx] == ctx_enc[-n_ctx:]
        (agree if same_split else differ).append(
            (abs(mine[0].logprob_sum - ll), where, mine[0].logprob_sum, ll, prompt, cont)
        )
    print(f"brd packed scorer {t_ours:.1f} s, lm-eval loglikelihood {t_theirs:.1f} s")
    # where the splits differ, brd scores lm-eval's split: the prompt without its trailing whitespace,
    # the whitespace and the candidate as the continuation
    moved = []
    if differ:
        reqs = []
        for _, where, _, _, prompt, cont in differ:
            n = len(prompt) - len(prompt.rstrip())
            reqs.append(Request(where, prompt[: len(prompt) - n], (prompt[len(prompt) - n :] + cont,)))
        for d, (res,) in zip(differ, PackedScorer(model, tok, batch_size=8).score(reqs)):
            moved.append((abs(res.logprob_sum - d[3]), d[1], res.logprob_sum, d[3]))
        gap = sum(abs(d[2] - d[3]) for d in differ) / len(differ)
        print(f"{len(differ)} pairs end in whitespace that lm-eval scores and brd does not: mean gap {gap:.2f} nats")
    for label, group in (
        ("same token split", agree),
        ("brd on lm-eval's split (whitespace moved into the candidate)", moved),
    ):
        if not group:
            print(f"{label}: no pairs")
            continue
        worst = max(group)
        mean = sum(g[0] for g in group) / len(group)
        print(
            f"{label}: {len(group)} pairs, largest |difference| {worst[0]:.2e} nats ({worst[1]}: brd {worst[2]:.5f}, "
            f"lm-eval {worst[3]:.5f}), mean {mean:.2e}"
        )
    worst = max([g[0] for g in agree + moved], default=float("inf"))
    return 0 if worst <= args.tol else 1


if __name__ == "__main__":
    raise SystemExit(main())
