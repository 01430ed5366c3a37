"""The cost plan of a paper-shaped study: GPU-hours per stage, from measured throughputs.

Throughputs come from manifests/costs/throughput.yaml, a table of published measurements with
their sources (vLLM generation on H100s from datatrove's inference benchmark; training from the
llm.c GPT-2 reproduction). A rate for a model size between two measured sizes is interpolated
log-log by parameter count; outside them it is scaled by parameters (compute per token is about
proportional to them); a GPU type with no figure borrows another's. Every line the plan prints
says which of these it did. Annotation is priced by output tokens (what bounds generation; the
shared few-shot prefix is computed once per server by prefix caching); training by the tokens of
its steps; scoring as a forward pass, a third of a training step's compute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from brd_data.contracts.paths import manifests_dir
from brd_data.contracts.schemas.study import Study

from .plan import Stage

CHARS_PER_TOKEN = 4.0
FORWARD_SHARE = 3.0  # a forward pass is about a third of a training step's compute (forward + 2x backward)
BILLION = 1e9


@dataclass(frozen=True)
class Rate:
    tokens_per_s: float  # per GPU
    how: str  # where the figure comes from, printed with the plan


@cache
def throughput_table(path: str | None = None) -> tuple[dict, ...]:
    p = Path(path) if path else manifests_dir() / "costs" / "throughput.yaml"
    return tuple(yaml.safe_load(p.read_text(encoding="utf-8"))["entries"])


def rate(kind: str, gpu: str | None, params: float | None) -> Rate | None:
    """Tokens/s per GPU of `kind` (generate | train) for a model of `params` on `gpu`."""
    rows = [r for r in throughput_table() if r["kind"] == kind]
    if not rows or not params:
        return None
    on = [r for r in rows if r["gpu"] == gpu]
    note = ""
    if not on:
        other = sorted({r["gpu"] for r in rows})[0]
        on = [r for r in rows if r["gpu"] == other]
        note = f"; no {kind} figure for {gpu or 'this GPU'}: {other}'s used"
    on = sorted(on, key=lambda r: r["params"])
    source = on[0]["source"]
    for r in on:
        if math.isclose(r["params"], params, rel_tol=0.02):
            return Rate(
                r["tokens_per_s"], f"{r['tokens_per_s']:,.0f} tokens/s/GPU: {r['model']} on {r['gpu']} ({source}){note}"
            )
    lower = [r for r in on if r["params"] < params]
    upper = [r for r in on if r["params"] > params]
    if lower and upper:
        a, b = lower[-1], upper[0]
        t = (math.log(params) - math.log(a["params"])) / (math.log(b["params"]) - math.log(a["params"]))
        value = math.exp(math.log(a["tokens_per_s"]) + t * (math.log(b["tokens_per_s"]) - math.log(a["tokens_per_s"])))
        how = (
            f"{value:,.0f} tokens/s/GPU: log-log between {a['model']} ({a['tokens_per_s']:,}) and {b['model']} "
            f"({b['tokens_per_s']:,}) on {a['gpu']} ({source}){note}"
        )
        return Rate(value, how)
    near = lower[-1] if lower else upper[0]
    value = near["tokens_per_s"] * near["params"] / params
    how = (
        f"{value:,.0f} tokens/s/GPU: {near['model']}'s {near['tokens_per_s']:,} on {near['gpu']} scaled by parameters "
        f"({near['params'] / 1e6:,.0f}M -> {params / 1e6:,.0f}M; {source}){note}"
    )
    return Rate(value, how)


def _hours(tokens: float, r: Rate | None, efficiency: float = 1.0) -> float | None:
    return None if r is None else tokens / (r.tokens_per_s * efficiency) / 3600


def _gpu_h(h: float | None) -> str:
    return "GPU-hours unknown (no parameter count or throughput)" if h is None else f"{h:,.1f} GPU-hours"


class Costs:
    def __init__(self, study: Study, store: Path):
        self.study, self.store = study, Path(store)
        from .graph import curve_models

        self.curves = curve_models(study)
        self.rates: dict[str, str] = {}  # how -> its reference, [r1] ...

    def ref(self, r: Rate | None) -> str:
        if r is None:
            return ""
        if r.how not in self.rates:
            self.rates[r.how] = f"r{len(self.rates) + 1}"
        return f" [{self.rates[r.how]}]"

    # -- helpers ------------------------------------------------------------------------------------
    def params_of(self, name: str) -> float | None:
        st = self.study
        if name in self.curves:
            name = self.curves[name][1]
        return st.models[st.base_of(name)].params

    def prompt_prefix_tokens(self, behaviour: str) -> float:
        from brd_data.contracts.schemas.prompt import resolve

        try:
            prompt = resolve([behaviour])[0]
        except Exception:  # a behaviour this checkout has no prompt for: the line says so
            return 0.0
        return len(prompt.prefix) / CHARS_PER_TOKEN

    def generation(self, requests: float, behaviours: list[str], what: str) -> tuple[str, float | None]:
        t = self.study.teacher
        r = (
            rate("generate", t.gpu, t.params)
            if t.tokens_per_s is None
            else Rate(
                t.tokens_per_s / (t.tp * t.dp), f"{t.tokens_per_s:,.0f} output tokens/s per engine (the manifest's)"
            )
        )
        lines, out_tokens = [], 0.0
        sentence = self.study.corpus.mean_sentence_chars / CHARS_PER_TOKEN
        for b in behaviours:
            mean_out = t.mean_completion_tokens.get(b.split("-")[0], 40.0)
            prefix = self.prompt_prefix_tokens(b)
            out_tokens += requests * mean_out
            lines.append(
                f"{b}: {requests:,.0f} requests ({what}), {requests * (prefix + sentence) / 1e6:,.1f}M prompt tokens "
                f"(~{prefix:,.0f} shared prefix + ~{sentence:,.0f} input, ~4 chars/token), "
                f"{requests * mean_out / 1e6:,.1f}M output tokens (~{mean_out:g} each)"
            )
        hours = _hours(out_tokens, r)
        per_b = _hours(BILLION, r)
        lines.append(
            f"{_gpu_h(hours)} on {t.gpu or '?'} for {out_tokens / 1e6:,.1f}M output tokens"
            + ("" if per_b is None else f"; {per_b:,.1f} GPU-hours per 1B output tokens")
            + self.ref(r)
        )
        return "\n".join(lines), hours

    def train_rate(self, params: float | None) -> Rate | None:
        s = self.study.student
        if s.tokens_per_s is not None and not self.study.tables:
            return Rate(s.tokens_per_s / s.gpus, "the manifest's")
        return rate("train", s.gpu, params)

    # -- stages -------------------------------------------------------------------------------------
    def annotate(self, stage: Stage) -> tuple[str, float | None]:
        st = self.study
        if stage.key.endswith("annotate:corpus"):
            budget = int(stage.outputs.get("budget") or 0) or (st.corpus.passages or 0)
            requests = budget * st.corpus.passage_sentences
            return self.generation(
                requests, st.teacher.behaviours, f"{budget:,} passages x {st.corpus.passage_sentences}"
            )
        td = st.task_data
        if stage.key.endswith("annotate:task-inputs"):
            from brd_data.contracts.schemas.task import load_task_spec

            n = sum(td.examples.get(name, 0) * len(load_task_spec(name).fields) for name in td.tasks)
            unknown = [name for name in td.tasks if name not in td.examples] + (
                [f"the {td.bigbench_set} set's training split"] if td.bigbench_set else []
            )
            what = "one sentence per input field of each training example" + (
                f"; not counted: {', '.join(unknown)}" if unknown else ""
            )
            return self.generation(n, st.teacher.behaviours, what)
        n = sum(td.examples.get(name, 0) for name in td.tasks)
        return self.generation(n, [st.teacher.task_behaviour], "one per training example")

    def row_tokens(self, stage: Stage) -> tuple[float, str]:
        """Tokens of one training row: the built mixture's mean when it exists, else max_length
        (an upper bound: unpacked rows are padded to the longest in the batch at most)."""
        argv = stage.argv
        max_length = int(argv[argv.index("--max-length") + 1])
        manifest = Path(argv[argv.index("--mix") + 1]) / "manifest.json"
        if manifest.is_file():
            import json

            m = json.loads(manifest.read_text())
            tokens = m.get("tokens") or (m.get("token_count") or {}).get("estimate")
            if tokens and m.get("rows"):
                return min(max_length, 1.5 * tokens / m["rows"]), "1.5x the mixture's mean row (padding)"
        return float(max_length), f"at most {max_length} tokens a row (upper bound)"

    def train(self, stage: Stage) -> tuple[str, float | None]:
        argv = stage.argv
        steps = int(argv[argv.index("--max-steps") + 1])
        batch = int(argv[argv.index("--batch-size") + 1])
        per_row, how = self.row_tokens(stage)
        tokens = steps * batch * per_row
        params = self.params_of(stage.model)
        r = self.train_rate(params)
        eff = self.study.student.train_efficiency
        hours = _hours(tokens, r, eff)
        return (
            f"{steps:,} steps x {batch} rows x {how} = {tokens / 1e9:,.2f}B tokens; {_gpu_h(hours)}"
            + ("" if r is None else f" at {eff:g} of{self.ref(r)} (the trainer's efficiency, assumed)")
        ), hours

    def scoring(self, examples: float, params: float | None, what: str) -> tuple[str, float | None]:
        tokens = examples * self.study.evaluation.mean_example_tokens
        r = self.train_rate(params)
        hours = _hours(tokens, None if r is None else Rate(r.tokens_per_s * FORWARD_SHARE, r.how))
        return f"{examples:,.0f} {what} x ~{self.study.evaluation.mean_example_tokens:g} tokens, forward only: " + (
            f"{_gpu_h(hours)}" + ("" if r is None else f" at 3x the training rate{self.ref(r)}")
        ), hours

    def examples(self, stage: Stage) -> float:
        ev = self.study.evaluation
        n = sum(c for name, c in ev.examples.items() if name in ev.tasks)
        if "--bigbench" in stage.argv:
            n += ev.examples.get("bigbench", 0)
        return n

    def eval(self, stage: Stage) -> tuple[str, float | None]:
        return self.scoring(self.examples(stage), self.params_of(stage.model), "examples")

    def choose(self, stage: Stage) -> tuple[str, float | None]:
        m = self.study.models[stage.model]
        steps = m.max_steps or self.study.training.max_steps
        checkpoints = math.ceil(steps / self.study.training.save_steps)
        td = self.study.task_data
        n = checkpoints * sum(td.examples.get(k, 0) // 10 for k in td.tuning)
        line, hours = self.scoring(n, self.params_of(stage.model), f"tuning examples over {checkpoints} checkpoints")
        if td.bigbench_set:
            line += f"; plus the {td.bigbench_set} set's tuning split at each checkpoint (sized by the split)"
        return line, hours

    def analysis(self, stage: Stage) -> tuple[str, float | None]:
        ev, td = self.study.evaluation, self.study.task_data
        if "cross-entropy" in stage.argv:
            n = sum(min(c, ev.cross_entropy_texts) for k, c in ev.examples.items() if k in ev.tasks)
            bb = " (+ every BIG-bench task's texts)" if "--bigbench" in stage.argv else ""
            models = stage.argv.count("--student") + 1
            line, hours = self.scoring(
                n * models,
                self.params_of(self.study.tables[stage.outputs["table"]].teacher),
                f"texts{bb} x {models} models",
            )
            return line, hours
        n = sum(min(td.examples.get(k, 0), td.probe_examples or td.examples.get(k, 0)) for k in td.tasks)
        return self.scoring(n, self.params_of(stage.model), "probed examples (hidden states of every layer)")

    def fill(self, stages: list[Stage]) -> None:
        from .estimate import corpus_counts

        for stage in stages:
            hours: float | None = 0.0
            if stage.kind == "ingest":
                if stage.key.endswith("ingest:corpus"):
                    from brd_data.store import Store

                    counts = corpus_counts(self.study, Store(self.store))
                    budget = int(stage.outputs.get("budget") or 0)
                    n = max(counts.sentences, budget * self.study.corpus.passage_sentences)
                    mb = n * (counts.mean_chars + 1) / 1e6
                    stage.estimate = (
                        f"at least {n:,} sentences (~{mb:,.0f} MB: the annotation budget's {budget:,} passages, "
                        f"{counts.source}); CPU only"
                    )
                else:
                    stage.estimate = "CPU only"
            elif stage.kind == "annotate":
                stage.estimate, hours = self.annotate(stage)
            elif stage.kind == "train":
                stage.estimate, hours = self.train(stage)
            elif stage.kind == "choose":
                stage.estimate, hours = self.choose(stage)
            elif stage.kind == "eval":
                stage.estimate, hours = self.eval(stage)
            elif stage.kind == "analysis":
                stage.estimate, hours = self.analysis(stage)
            else:
                stage.estimate = "CPU only"
            stage.gpu_hours = hours or 0.0
            if hours is None:
                stage.outputs["gpu_hours_unknown"] = "1"


def fill_costs(study: Study, store: Path, stages: list[Stage]) -> dict[str, str]:
    """Fill each stage's estimate and GPU-hours; returns the throughput figures used, by reference."""
    costs = Costs(study, store)
    costs.fill(stages)
    return {ref: how for how, ref in costs.rates.items()}
