"""Do the teacher's greedy answers depend on which requests share a batch? On the embedded teacher
(SmolLM2-135M-Instruct, vLLM, this machine), the same QRA prompts three ways in one engine:

    .venv/bin/python bench/batch_invariance.py [--sentences 40]

- all at once (vLLM batches them: up to --max-num-seqs per step);
- one at a time (a batch of one each);
- in two halves.
Prints the seconds of each and how many answers differ from the all-at-once ones. 0 means batch
composition does not change the answers here (docs/reproducibility.md); on GPUs it does, unless
vLLM's batch-invariant kernels are on (`brd annotate --batch-invariant`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def sample_sentences(n: int) -> list[str]:
    from sentencex import segment

    from brd_data.contracts.paths import samples_dir

    text = (samples_dir() / "cc100" / "en.txt").read_text(encoding="utf-8")
    out: list[str] = []
    for line in (x.strip() for x in text.splitlines()):
        for s in segment("en", line) if line else []:
            if s.strip() and s.strip() not in out:
                out.append(s.strip())
    return out[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=int, default=40)
    ap.add_argument("--max-num-seqs", type=int, default=64)
    args = ap.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    from vllm import LLM, SamplingParams

    from brd_data.contracts.models import prepare
    from brd_data.contracts.schemas.prompt import load_prompt

    prompt = load_prompt(REPO / "manifests" / "prompts" / "qra.yaml")
    prompts = [prompt.render(s) for s in sample_sentences(args.sentences)]
    sp = SamplingParams(temperature=0, max_tokens=prompt.max_tokens, stop=list(prompt.stop), seed=0)
    llm = LLM(
        model=str(prepare()),
        dtype="float32",
        enforce_eager=True,
        max_num_seqs=args.max_num_seqs,
        enable_prefix_caching=True,
        seed=0,
    )

    def timed(fn):
        started = time.monotonic()
        return fn(), time.monotonic() - started

    def texts(batch):
        return [o.outputs[0].text for o in llm.generate(batch, sp, use_tqdm=False)]

    together, t1 = timed(lambda: texts(prompts))
    alone, t2 = timed(lambda: [texts([p])[0] for p in prompts])
    half = len(prompts) // 2
    halves, t3 = timed(lambda: texts(prompts[:half]) + texts(prompts[half:]))
    print(
        json.dumps(
            {
                "prompts": len(prompts),
                "all_at_once_s": round(t1, 1),
                "one_at_a_time_s": round(t2, 1),
                "two_halves_s": round(t3, 1),
                "differ_one_at_a_time": sum(a != b for a, b in zip(together, alone)),
                "differ_two_halves": sum(a != b for a, b in zip(together, halves)),
            }
        )
    )


if __name__ == "__main__":
    main()
