"""`brd study --dry-run`'s check of what a plan needs: every input file and folder exists, every
model and tokenizer resolves (a local folder, or a hub id in the local cache), every prompt and
manifest the stages name is known, and every command and option of the plan is one this `brd`
has. It reads only; what is missing is listed, and a hub id that is not cached is reported as
needing the hub (offline, it cannot be resolved here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from brd_data.contracts.schemas.study import Study

from .plan import Stage

FOUND, MISSING, HUB = "found", "missing", "needs the hub"


@dataclass(frozen=True)
class Check:
    what: str  # e.g. "model XGLM-564M"
    ref: str  # the path or id
    status: str  # found | missing | needs the hub
    detail: str = ""
    stages: tuple[str, ...] = ()


def _local(path: str) -> bool:
    return path.startswith((".", "/")) or Path(path).exists()


def _hub_cached(repo: str, files: tuple[str, ...]) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - a dependency of transformers
        return False
    return any(isinstance(try_to_load_from_cache(repo, f), str) for f in files)


def model_check(what: str, ref: str, files: tuple[str, ...] = ("config.json",)) -> Check:
    if _local(ref):
        p = Path(ref)
        ok = p.is_dir() and any((p / f).is_file() for f in files)
        return Check(what, ref, FOUND if ok else MISSING, "" if ok else f"no {' or '.join(files)} in it")
    if _hub_cached(ref, files):
        return Check(what, ref, FOUND, "in the local hub cache")
    return Check(what, ref, HUB, "a hub id not in the local cache")


def file_check(what: str, ref: str) -> Check:
    if ref.startswith("hf:"):
        return Check(what, ref, HUB, "a Hugging Face dataset, read from the hub")
    return Check(what, ref, FOUND if Path(ref).exists() else MISSING)


def bigbench_check(folder: str, fetched: Path) -> Check:
    """A missing folder says how to get the real one: `brd bigbench fetch` (the bigbench==1.0.0
    sdist from PyPI) puts it at `fetched`."""
    c = file_check("BIG-bench folder", folder)
    if c.status != MISSING:
        return c
    if fetched.is_dir():
        hint = f"`brd bigbench fetch` put one at {fetched}: name it in evaluation.bigbench"
    else:
        hint = f"run `brd bigbench fetch` (to {fetched}) and name that folder in evaluation.bigbench"
    return Check(c.what, c.ref, MISSING, hint)


def command_check(stage: Stage, root) -> Check | None:
    """The stage's command and options exist in this brd (a command of another branch does not)."""
    cmd, words = root, list(stage.argv)
    path = []
    while words and hasattr(cmd, "commands") and words[0] in cmd.commands:
        path.append(words[0])
        cmd = cmd.commands[words.pop(0)]
    if hasattr(cmd, "commands"):
        return Check(
            "command", f"brd {' '.join(stage.argv[:2])}", MISSING, "this brd has no such command", (stage.key,)
        )
    known = {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)}
    unknown = sorted({w for w in words if w.startswith("--") and w not in known})
    if unknown:
        return Check(
            "option",
            f"brd {' '.join(path)} {' '.join(unknown)}",
            MISSING,
            "this brd's command has no such option",
            (stage.key,),
        )
    return None


def check_inputs(study: Study, stages: list[Stage], commands=None) -> list[Check]:
    """`commands`: the `brd` command tree (a click group), from the command line layer; None skips
    the check of commands and options."""
    from brd_data.contracts.schemas.prompt import PromptError, resolve

    base = study.base
    checks: list[Check] = []
    for p in study.corpus.resolved_paths(base):
        checks.append(file_check("corpus file", p))
    teacher = study.teacher.model
    if teacher:
        checks.append(model_check("teacher", teacher))
    for b in [*study.teacher.behaviours, study.teacher.task_behaviour]:
        try:
            resolve([b])
            checks.append(Check("prompt", b, FOUND))
        except PromptError as exc:
            checks.append(Check("prompt", b, MISSING, str(exc)))
    for name, m in study.models.items():
        if not m.trained:
            checks.append(model_check(f"model {name}", m.model))
    for tok in sorted({study.tokenizer_of(n) for n, m in study.models.items() if m.trained}):
        checks.append(model_check("tokenizer", tok, ("tokenizer.json", "tokenizer_config.json")))
    for name, path in study.task_data.resolved(base).items():
        checks.append(file_check(f"training data {name}", path))
    for name, path in study.task_data.resolved(base, study.task_data.tuning).items():
        checks.append(file_check(f"tuning data {name}", path))
    for name, src in study.evaluation.resolved_tasks(base).items():
        checks.append(file_check(f"test data {name}", src))
    from brd_data.contracts.paths import bigbench_home, manifests_dir

    for folder in study.evaluation.resolved_bigbench(base):
        checks.append(bigbench_check(folder, bigbench_home() / "benchmark_tasks"))

    for kind, name in (
        ("BIG-bench set", study.evaluation.bigbench_set),
        ("BIG-bench set", study.task_data.bigbench_set),
    ):
        if name:
            path = manifests_dir() / "bigbench" / f"{name}.yaml"
            checks.append(
                Check(
                    kind,
                    name,
                    FOUND if path.is_file() else MISSING,
                    "" if path.is_file() else f"no {path.relative_to(manifests_dir().parent)}",
                )
            )
    seen: dict[tuple[str, str], Check] = {}
    for stage in stages if commands is not None else []:
        c = command_check(stage, commands)
        if c is not None:
            key = (c.what, c.ref)
            seen[key] = Check(
                c.what, c.ref, c.status, c.detail, (*seen[key].stages, stage.key) if key in seen else c.stages
            )
    checks += list(seen.values())
    return checks
