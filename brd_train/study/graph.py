"""The stage graph of a paper-shaped study (`models` and `tables`, manifests/studies/paper.yaml).

Every stage is one `brd` command. Its key names the first table or figure it feeds
(`table3:train:XGLM-BRD`); `feeds` lists them all. In order:

- data: ingest the corpus; annotate the sentences of its passage selection (the corpus budget,
  applied before annotation: the largest data size any table needs, e.g. Figure 2's largest point);
  split the BIG-bench set, load the downstream training examples, ingest and annotate their inputs
  (BRD²), and let the teacher answer them (task distillation);
- a mixture per (mixture, tokenizer of the students that train on it, passages): text is shared,
  counts and length checks are each student's;
- a training run per trained model, its base first (chains: BRD -> BRD² -> SFT), then the choice of
  its evaluated checkpoint when its rule is `best` (on the tuning tasks);
- an evaluation per model and test set it is shown on; the analyses (cross entropy, probes);
- the report's figures.
"""

from __future__ import annotations

import re
from pathlib import Path

from brd_data.contracts.paths import samples_dir
from brd_data.contracts.schemas.lineage import CHOICE_FILE
from brd_data.contracts.schemas.mixture import load_mixture
from brd_data.contracts.schemas.study import Study

from .plan import Stage, annotate_argv, ddp_launcher, ingest_argv, training_argv


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "x"


# -- what each model feeds ------------------------------------------------------------------------


def curve_models(study: Study) -> dict[str, tuple[str, str, int]]:
    """The data-size points of every curve: name -> (table, curve model, passages). The point at the
    curve model's own size is the curve model itself, not trained again."""
    out = {}
    for tname, t in study.tables.items():
        if t.kind != "curve":
            continue
        own = passages_of(study, t.curve_model)
        for n in t.curve:
            if n != own:
                out[f"{t.curve_model}@{n:,}"] = (tname, t.curve_model, n)
    return out


def passages_of(study: Study, name: str) -> int | None:
    m = study.models[name]
    if m.trained and m.data == "corpus" and load_mixture(m.mixture).kind == "lm":
        return m.passages or study.corpus.passages
    return None


def feeds(study: Study) -> dict[str, list[str]]:
    """Model (and curve point) -> the tables it appears in, or whose models start from it, in
    manifest order."""
    order = list(study.tables)
    direct: dict[str, set[str]] = {name: set() for name in study.models}
    for tname, t in study.tables.items():
        for ref in [*t.models, t.teacher, t.curve_model]:
            if ref:
                direct[ref].add(tname)
    parent = {name: m.from_ for name, m in study.models.items()}
    for point, (tname, curve_model, _) in curve_models(study).items():
        direct[point] = {tname}
        parent[point] = study.models[curve_model].from_
    out = {name: set(tables) for name, tables in direct.items()}
    for name, tables in direct.items():  # a base feeds every table of the models trained from it
        cur = parent.get(name)
        while cur is not None:
            out[cur] |= tables
            cur = parent.get(cur)
    return {name: sorted(tables, key=order.index) for name, tables in out.items()}


def _key(feeds_: list[str], kind: str, name: str) -> str:
    return f"{feeds_[0] if feeds_ else 'study'}:{kind}" + (f":{name}" if name else "")


def _union(*lists: list[str], order: list[str]) -> list[str]:
    return sorted({t for lst in lists for t in lst}, key=order.index)


# -- the graph --------------------------------------------------------------------------------------


class Graph:
    def __init__(self, study: Study, store: Path):
        self.study, self.store = study, Path(store)
        self.s = str(self.store)
        self.feeds = feeds(study)
        self.order = list(study.tables)
        self.curves = curve_models(study)
        self.stages: list[Stage] = []

    # paths
    def out_dir(self, name: str) -> Path:
        return self.store / "students" / slug(name)

    def steps(self, name: str) -> int:
        m = self.study.models.get(name) or self.study.models[self.curves[name][1]]
        return m.max_steps or self.study.training.max_steps

    def checkpoint_ref(self, name: str) -> str:
        """What `brd eval --model` / `brd train --student` reads for a model: a released model's
        id, a trained one's last checkpoint, or its checkpoint choice."""
        m = self.study.models.get(name)
        if m is not None and not m.trained:
            model = m.model
            local = Path(model) if Path(model).is_absolute() else self.study.base / model
            return str(local.resolve()) if model.startswith((".", "/")) or local.exists() else model
        rule = m.checkpoint if m is not None else self.study.models[self.curves[name][1]].checkpoint
        if rule == "best":
            return str(self.out_dir(name) / CHOICE_FILE)
        return str(self.out_dir(name) / f"checkpoint-{self.steps(name)}")

    def corpus_patterns(self) -> list[str]:
        c = self.study.corpus
        paths = c.resolved_paths(self.study.base)
        if paths:
            return paths
        if c.lang:
            return [str(samples_dir() / "cc100" / f"{c.lang}.txt")]
        return [str(samples_dir() / "cc100") + "/*"]

    def add(self, stage: Stage) -> Stage:
        self.stages.append(stage)
        return stage

    # -- data ---------------------------------------------------------------------------------------
    def annotation_budget(self) -> int | None:
        sizes = [self.study.corpus.passages or 0] + [n for _, _, n in self.curves.values()]
        sizes += [m.passages or 0 for m in self.study.models.values()]
        return max(sizes) or None

    def corpus_stages(self, tables: list[str]) -> None:
        st, t = self.study, self.study.teacher
        budget = self.annotation_budget()
        self.add(
            Stage(
                _key(tables, "ingest", "corpus"),
                "ingest",
                ingest_argv(st, self.store),
                feeds=tables,
                outputs={"budget": str(budget or "")},
            )
        )
        if t.model is None:
            self.add(Stage(_key(tables, "teacher", ""), "teacher", ["teacher", "prepare"], feeds=tables))
        select = []
        if budget:
            select = ["--passages", str(budget), "--passage-seed", str(st.corpus.seed)]
        for pattern in self.corpus_patterns():
            select += ["--source", pattern]
        self.add(
            Stage(
                _key(tables, "annotate", "corpus"),
                "annotate",
                annotate_argv(st, self.store, t.behaviours, *select),
                feeds=tables,
                outputs={"budget": str(budget or "")},
            )
        )

    def bigbench_root(self) -> str | None:
        roots = self.study.evaluation.resolved_bigbench(self.study.base)
        return roots[0] if roots else None

    def split_dir(self) -> Path:
        return self.store / "bigbench" / slug(self.study.task_data.bigbench_set or "set")

    def split_files(self, split: str) -> list[tuple[str, str]]:
        """(task, file) of the BIG-bench set's split (`brd bigbench split SET --out DIR`:
        DIR/TASK/{train,tuning,test}.jsonl). The tasks: task_data.bigbench_tasks, which must be the
        set's own (manifests/bigbench/SET.yaml) where brd ships it."""
        td = self.study.task_data
        if not td.bigbench_set:
            return []
        return [(t, str(self.split_dir() / t / f"{split}.jsonl")) for t in td.bigbench_tasks]

    def task_stages(self, tables: list[str]) -> list[str]:
        """Downstream training data; returns the ingested task-input files (the BRD² corpus)."""
        st, td = self.study, self.study.task_data
        train = td.resolved(st.base)
        if td.bigbench_set:
            argv = ["bigbench", "split", td.bigbench_set, "--out", str(self.split_dir())]
            if self.bigbench_root():
                argv += ["--bigbench", self.bigbench_root()]
            self.add(Stage(_key(tables, "bigbench", f"split-{td.bigbench_set}"), "data", argv, feeds=tables))
        splits = self.split_files("train")
        load = ["tasks", "load", *[f"{n}={p}" for n, p in train.items()], *[f"bigbench:{t}={p}" for t, p in splits]]
        self.add(
            Stage(
                _key(tables, "tasks", "load-train"),
                "data",
                [*load, "--store", self.s, "--split", "train"],
                feeds=tables,
            )
        )
        from brd_data.contracts.schemas.task import load_task_spec

        inputs: list[str] = []
        for name, path in train.items():
            fields = ",".join(load_task_spec(name).fields)
            argv = [
                "ingest",
                path,
                "--store",
                self.s,
                "--text-field",
                fields,
                "--passage-sentences",
                str(st.corpus.passage_sentences),
                "--lang",
                st.corpus.lang or "en",
            ]
            self.add(Stage(_key(tables, "ingest", f"task-inputs:{name}"), "ingest", argv, feeds=tables))
            inputs.append(path)
        if splits:
            argv = [
                "ingest",
                *[p for _, p in splits],
                "--store",
                self.s,
                "--text-field",
                "input",
                "--passage-sentences",
                str(st.corpus.passage_sentences),
                "--lang",
                st.corpus.lang or "en",
            ]
            self.add(Stage(_key(tables, "ingest", "task-inputs:bigbench"), "ingest", argv, feeds=tables))
            inputs += [p for _, p in splits]
        return inputs

    # -- mixtures and training ---------------------------------------------------------------------
    def mixture_dir(self, mixture: str, tokenizer: str, passages: int | None) -> Path:
        tail = f".{passages}" if passages else ""
        return self.store / "mixtures" / f"{mixture}.{slug(tokenizer)}{tail}"

    def spec_of(self, name: str) -> tuple[str, str, int | None, str, int]:
        """(mixture, tokenizer, passages, data, max_length) a trained model or curve point trains on."""
        if name in self.curves:
            _, base_name, n = self.curves[name]
            m = self.study.models[base_name]
            tok = self.study.tokenizer_of(base_name)
            return m.mixture, tok, n, m.data, m.max_length or self.study.training.max_length
        m = self.study.models[name]
        passages = passages_of(self.study, name)
        return (
            m.mixture,
            self.study.tokenizer_of(name),
            passages,
            m.data,
            m.max_length or self.study.training.max_length,
        )

    def mix_stage(self, name: str, task_inputs: list[str], tables: list[str], made: dict[str, Stage]) -> Path:
        mixture, tok, passages, data, max_length = self.spec_of(name)
        out = self.mixture_dir(mixture, tok, passages)
        key = str(out)
        if key in made:
            made[key].feeds = _union(made[key].feeds, tables, order=self.order)
            return out
        argv = [
            "mix",
            "build",
            mixture,
            "--store",
            self.s,
            "--out",
            str(out),
            "--tokenizer",
            tok,
            "--max-length",
            str(max_length),
        ]
        if load_mixture(mixture).kind == "lm":
            if data == "corpus":
                if passages:
                    argv += ["--passages", str(passages), "--seed", str(self.study.corpus.seed)]
                patterns = self.corpus_patterns()
            else:
                patterns = task_inputs
            for p in patterns:
                argv += ["--corpus-path", p]
        label = f"{mixture}@{slug(tok)}" + (f"@{passages:,}" if passages else "")
        made[key] = self.add(
            Stage(_key(tables, "mix", label), "mix", argv, feeds=list(tables), outputs={"mixture_dir": str(out)})
        )
        return out

    def train_stage(self, name: str, mix: Path, tables: list[str]) -> Stage:
        st = self.study
        base = st.models[self.curves[name][1]].from_ if name in self.curves else st.models[name].from_
        m = st.models.get(name) or st.models[self.curves[name][1]]
        _, _, _, _, max_length = self.spec_of(name)
        argv = [
            "train",
            "--mix",
            str(mix),
            "--student",
            self.checkpoint_ref(base),
            "--out",
            str(self.out_dir(name)),
            "--store",
            self.s,
            *training_argv(st.training, m.max_steps, max_length),
        ]
        return self.add(
            Stage(
                _key(tables, "train", name),
                "train",
                argv,
                outputs={"out": str(self.out_dir(name)), "label": name},
                launcher=ddp_launcher(m.gpus or st.student.gpus),
                feeds=tables,
                model=name,
            )
        )

    def tuning_args(self) -> list[str]:
        td = self.study.task_data
        args = [a for n, p in td.resolved(self.study.base, td.tuning).items() for a in ("--task", f"{n}={p}")]
        args += [a for t, p in self.split_files("tuning") for a in ("--task", f"bigbench:{t}={p}")]
        return args

    def choose_stage(self, name: str, tables: list[str]) -> None:
        argv = [
            "checkpoints",
            "choose",
            str(self.out_dir(name)),
            "--rule",
            "best",
            *self.tuning_args(),
            "--store",
            self.s,
        ]
        if self.study.evaluation.limit:
            argv += ["--limit", str(self.study.evaluation.limit)]
        argv += ["--select", self.study.evaluation.selection]
        self.add(
            Stage(
                _key(tables, "choose", name),
                "choose",
                argv,
                feeds=tables,
                model=name,
                outputs={"out": str(self.out_dir(name))},
            )
        )

    # -- evaluation and analyses ------------------------------------------------------------------
    def eval_args(self, bigbench: str) -> list[str]:
        ev, base = self.study.evaluation, self.study.base
        args = [a for n, p in ev.resolved_tasks(base).items() for a in ("--task", f"{n}={p}")]
        if bigbench == "all":
            args += [a for folder in ev.resolved_bigbench(base) for a in ("--bigbench", folder)]
            if ev.bigbench_set:
                args += ["--bigbench-set", ev.bigbench_set]
        elif bigbench == "reduced":
            if self.study.task_data.bigbench_set:
                args += [a for t, p in self.split_files("test") for a in ("--task", f"bigbench:{t}={p}")]
            else:  # no split set (the rehearsal): the reduced folders, scored whole
                args += [a for folder in _resolve(ev.reduced_bigbench, base) for a in ("--bigbench", folder)]
        if ev.limit:
            args += ["--limit", str(ev.limit)]
        return [*args, "--select", ev.selection, *ev.extra_args]

    def eval_stages(self) -> None:
        needs: dict[str, set[str]] = {}
        for t in self.study.tables.values():
            if t.kind in ("accuracy", "per-task"):
                for part in t.parts:
                    for r in part.rows:
                        needs.setdefault(r.model, set()).add(part.bigbench)
            elif t.kind == "curve":
                needs.setdefault(t.curve_model, set()).add("none")
        for name in self.curves:
            needs.setdefault(name, set()).add("none")
        for name, sets in needs.items():
            wanted = sorted(sets - {"none"}) or ["none"]
            for bb in wanted:
                suffix = "" if bb in ("none", "all") or len(wanted) == 1 else f":{bb}"
                argv = ["eval", "--model", self.checkpoint_ref(name), "--store", self.s, *self.eval_args(bb)]
                self.add(
                    Stage(
                        _key(self.feeds[name], "eval", name + suffix),
                        "eval",
                        argv,
                        feeds=self.feeds[name],
                        model=name,
                        outputs={"label": name, "bigbench": bb},
                    )
                )

    def analysis_stages(self) -> None:
        st, ev = self.study, self.study.evaluation
        for tname, t in st.tables.items():
            if t.kind == "cross-entropy":
                argv = ["analyze", "cross-entropy", "--teacher", self.checkpoint_ref(t.teacher)]
                for r in t.parts[0].rows:
                    argv += ["--student", self.checkpoint_ref(r.model)]
                argv += [a for n, p in ev.resolved_tasks(st.base).items() for a in ("--task", f"{n}={p}")]
                argv += [a for folder in ev.resolved_bigbench(st.base) for a in ("--bigbench", folder)]
                argv += ["--max-texts", str(ev.cross_entropy_texts), "--store", self.s]
                self.add(Stage(f"{tname}:cross-entropy", "analysis", argv, feeds=[tname], outputs={"table": tname}))
            elif t.kind == "probe":
                train = st.task_data.resolved(st.base)
                for r in t.parts[0].rows:
                    argv = [
                        "analyze",
                        "probe",
                        "--model",
                        self.checkpoint_ref(r.model),
                        *[a for n, p in train.items() for a in ("--task", f"{n}={p}")],
                        "--store",
                        self.s,
                        "--plot",
                        str(self.store / "report" / f"{tname}-{slug(r.label)}.png"),
                    ]
                    if st.task_data.probe_examples:
                        argv += ["--limit", str(st.task_data.probe_examples)]
                    self.add(
                        Stage(
                            f"{tname}:probe:{r.label}",
                            "analysis",
                            argv,
                            feeds=[tname],
                            model=r.model,
                            outputs={"table": tname, "label": r.label},
                        )
                    )

    def report_stage(self) -> None:
        argv = ["report", "--store", self.s, "--out", str(self.store / "report")]
        per_task = [t for t in self.study.tables.values() if t.kind == "per-task"]
        if per_task and len(per_task[0].parts[0].rows) >= 2:
            rows = per_task[0].parts[0].rows
            argv += ["--baseline", self.checkpoint_ref(rows[0].model), "--model", self.checkpoint_ref(rows[1].model)]
        tables = [n for n, t in self.study.tables.items() if t.kind in ("per-task", "curve", "probe")]
        self.add(Stage(_key(tables, "report", ""), "report", argv, feeds=tables))

    # -- all ----------------------------------------------------------------------------------------
    def build(self) -> list[Stage]:
        st = self.study
        trained = [n for n in _topological(st) if st.models[n].trained]
        corpus_tables = _union(
            *(self.feeds[n] for n in trained if st.models[n].data == "corpus"),
            *(t for t in [self.feeds.get(n, []) for n in self.curves]),
            order=self.order,
        )
        uses_tasks = bool(st.task_data.tasks or st.task_data.bigbench_set)
        self.corpus_stages(corpus_tables or list(self.order))
        task_inputs: list[str] = []
        if uses_tasks:
            task_tables = _union(
                *(
                    self.feeds[n]
                    for n in trained
                    if st.models[n].data == "tasks" or load_mixture(st.models[n].mixture).kind == "sft"
                ),
                order=self.order,
            )
            task_tables = task_tables or list(self.order)
            task_inputs = self.task_stages(task_tables)
            brd2 = [n for n in trained if st.models[n].data == "tasks"]
            if brd2 and task_inputs:
                select = [a for p in task_inputs for a in ("--source", p)]
                tables = _union(*(self.feeds[n] for n in brd2), order=self.order)
                self.add(
                    Stage(
                        _key(tables, "annotate", "task-inputs"),
                        "annotate",
                        annotate_argv(st, self.store, st.teacher.behaviours, *select),
                        feeds=tables,
                    )
                )
            distill = [n for n in trained if "task-distill" in st.models[n].mixture]
            if distill:
                tables = _union(*(self.feeds[n] for n in distill), order=self.order)
                self.add(
                    Stage(
                        _key(tables, "annotate", "task-answers"),
                        "annotate",
                        annotate_argv(st, self.store, [st.teacher.task_behaviour]),
                        feeds=tables,
                    )
                )
        made: dict[str, Stage] = {}
        mixes = {n: self.mix_stage(n, task_inputs, self.feeds[n], made) for n in [*trained, *self.curves]}
        for name in [*trained, *self.curves]:
            self.train_stage(name, mixes[name], self.feeds[name])
            m = st.models.get(name) or st.models[self.curves[name][1]]
            if m.checkpoint == "best":
                self.choose_stage(name, self.feeds[name])
        self.eval_stages()
        self.analysis_stages()
        self.report_stage()
        return self.stages


def _resolve(folders: list[str], base: Path) -> list[str]:
    return [f if Path(f).is_absolute() else str((base / f).resolve()) for f in folders]


def _topological(study: Study) -> list[str]:
    done: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        base = study.models[name].from_
        if base is not None:
            visit(base)
        done.append(name)

    for name in study.models:
        visit(name)
    return done


def build_graph(study: Study, store: Path) -> list[Stage]:
    return Graph(study, store).build()
