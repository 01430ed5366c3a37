"""BIG-bench JSON tasks (`bigbench/benchmark_tasks/<task>/task.json` of the `bigbench==1.0.0`
sdist), read the way BIG-bench's own reader (`bigbench/api/json_task.py`) reads them.

What that reader does, and what brd does with it:
- A zero-shot query is `task_prefix + example_input_prefix + input [+ choice_prefix + choices]
  + example_output_prefix`; the defaults are `""`, `"\\nQ: "`, `"\\nA: "` and `"\\n  choice: "`.
  `task_prefix` is taken through `str()`, the other prefixes must be strings.
- `append_choices_to_input` (default true) is tested for truth as Python does, so the string
  `"false"` (written in 4 tasks of the sdist) counts as true and the choices are appended, exactly
  as BIG-bench did when it published its numbers. brd records a note for such a field.
- Appended choices are the `target_scores` keys sorted, then permuted by a fresh
  `numpy.random.RandomState(42)` for every example (BIG-bench seeds it inside its per-example
  format function), so every example with n choices gets the same permutation of n.
- Examples that are exact duplicates (same JSON) are dropped, as BIG-bench drops them.
- A task whose `task.json` has no `examples` is a parent: its examples live in the sub-folders'
  `task.json`, each a subtask named `parent:subtask-name`; the task's grade is their mean.
- `multiple_choice_grade` credits the `target_scores` value of the predicted candidate, so
  fractional scores count as they are; the gold answer is the first candidate with the highest
  score.

Examples BIG-bench would stop on, or that cannot be scored, are skipped one by one and counted
by reason (`TaskFile.skipped`): no `target_scores` (a generative example), a score that is not a
number, no correct choice (every candidate scores the same: BIG-bench raises), one candidate only,
and an empty candidate (BIG-bench would give it log p = 0, so it would always win). A task-level
problem (invalid JSON, a prefix that is not a string) is a `BigBenchError` naming file and field.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UserError
from .identity import file_sha256 as sha256_file

DEFAULTS = {"example_input_prefix": "\nQ: ", "example_output_prefix": "\nA: ", "choice_prefix": "\n  choice: "}
SEED = 42  # BIG-bench's random_seed for the choice permutation
MULTIPLE_CHOICE_METRICS = (
    "multiple_choice_grade",
    "calibration_multiple_choice_brier_score",
    "expected_calibration_error",
    "weighted_log_probabilities",
    "weighted_probabilities",
    "macro_f1",
)
# Metrics on generated text or on the log-likelihood of one target: the task is not answered by a choice.
TEXT_METRICS = (
    "bleu",
    "bleurt",
    "exact_str_match",
    "case_insensitive_str_match",
    "sequence_f1",
    "numeric_match_with_0_1_relative_error",
    "rouge",
    "log_likelihood",
)


class BigBenchError(UserError):
    """A task.json that cannot be used; the message names the file and the field."""


class NotMultipleChoice(BigBenchError):
    """A task with no multiple-choice example (generative or programmatic)."""


@dataclass(frozen=True)
class Example:
    """One scorable multiple-choice example, with its BIG-bench zero-shot prompt."""

    example_id: str  # the example's `idx`, else its position
    position: int  # index in the file's `examples` list
    input: str
    prompt: str
    candidates: tuple[str, ...]
    target_scores: tuple[float, ...]
    gold: str
    where: str


@dataclass
class TaskFile:
    """One task.json with examples: a task, or a subtask of a parent task."""

    name: str  # bigbench:NAME or bigbench:PARENT:SUBTASK
    path: Path
    sha256: str
    settings: dict[str, Any]
    examples: list[Example]
    n_in_file: int
    skipped: Counter = field(default_factory=Counter)  # reason -> examples
    skipped_at: dict[str, str] = field(default_factory=dict)  # reason -> the first one
    notes: list[str] = field(default_factory=list)
    parent: str | None = None
    metrics: tuple[str, ...] = ()
    preferred_score: str | None = None

    @property
    def template_hash(self) -> str:
        payload = json.dumps([self.settings[k] for k in sorted(self.settings)], ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())

    def skip(self, reason: str, where: str) -> None:
        self.skipped[reason] += 1
        self.skipped_at.setdefault(reason, where)


@dataclass(frozen=True)
class Skipped:
    """A task folder that was not scored, and why."""

    name: str
    path: str
    reason: str


def load_json(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BigBenchError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise BigBenchError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise BigBenchError(f"{path}: cannot read ({exc.strerror})") from None
    if not isinstance(raw, dict):
        raise BigBenchError(f"{path}: expected a JSON object at the top level, found {type(raw).__name__}")
    return raw


def _settings(path: Path, raw: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"task_prefix": str(raw.get("task_prefix", ""))}
    for key, default in DEFAULTS.items():
        value = raw.get(key, default)
        if not isinstance(value, str):
            raise BigBenchError(f"{path}: field {key!r} must be a string, found {type(value).__name__}")
        out[key] = value
    append = raw.get("append_choices_to_input", True)
    if not isinstance(append, bool):
        notes.append(
            f"append_choices_to_input is {append!r} ({type(append).__name__}); read as {bool(append)} "
            "like BIG-bench's reader does"
        )
    out["append_choices_to_input"] = bool(append)
    return out


def _permutation(n: int) -> list[int]:
    import numpy as np

    # BIG-bench: RandomState(seed=42).permutation(sorted(choices)), a fresh generator per example
    return [int(i) for i in np.random.RandomState(SEED).permutation(n)]


def _problem(value: Any) -> str | None:
    """Why a target_scores field cannot be scored, or None. Runs on every example of every file
    (2.6 million in the sdist), so it avoids building anything."""
    if type(value) is not dict or not value:
        return "target_scores is not a non-empty object"
    scores = list(value.values())
    for v in scores:
        if type(v) is not int and type(v) is not float:  # bool is neither
            return "a target score is not a number"
    if not math.isfinite(sum(scores)) and not all(math.isfinite(v) for v in scores):
        return "a target score is not a number"
    if "" in value:
        return "an empty candidate (BIG-bench would score it log p = 0, so it would always win)"
    hi, lo = max(scores), min(scores)
    if (len(scores) == 1 and hi == 0) or (len(scores) > 1 and hi <= lo):
        return "no correct choice (every candidate scores the same; BIG-bench stops on it)"
    if len(scores) == 1:
        return "one candidate only: nothing to choose"
    return None


def read_task_file(
    task_json: str | Path,
    limit: int | None = None,
    name: str | None = None,
    parent: str | None = None,
    raw: dict[str, Any] | None = None,
) -> TaskFile:
    """One task.json with examples (`raw`: its content, when read already). Raises
    NotMultipleChoice when none of them can be scored."""
    path = Path(task_json)
    if path.is_dir():
        path = path / "task.json"
    if not path.is_file():
        raise BigBenchError(f"{path}: no such file")
    if raw is None:
        raw = load_json(path)
    if "examples" not in raw:
        raise BigBenchError(f"{path}: missing field 'examples'")
    examples = raw["examples"]
    if not isinstance(examples, list):
        raise BigBenchError(f"{path}: field 'examples' must be a list, found {type(examples).__name__}")
    notes: list[str] = []
    settings = _settings(path, raw, notes)
    metrics = raw.get("metrics") if isinstance(raw.get("metrics"), list) else []
    task = TaskFile(
        name=name or f"bigbench:{raw.get('name') or path.parent.name}",
        path=path,
        sha256=sha256_file(path),
        settings=settings,
        examples=[],
        n_in_file=len(examples),
        notes=notes,
        parent=parent,
        metrics=tuple(str(m) for m in metrics),
        preferred_score=raw.get("preferred_score"),
    )
    seen: set[str] = set()
    for i, ex in enumerate(examples):
        # BIG-bench drops examples whose json.dumps is equal; repr is equal exactly then for parsed
        # JSON (same keys in the same order, same values and types), and several times faster
        key = repr(ex)
        if key in seen:
            task.skip("duplicate of an earlier example (BIG-bench drops it)", f"{path} examples[{i}]")
            continue
        seen.add(key)
        if type(ex) is not dict:
            task.skip("not a JSON object", f"{path} examples[{i}]")
            continue
        if type(ex.get("input")) is not str:
            task.skip("input is missing or not a string", f"{path} examples[{i}]")
            continue
        if "target_scores" not in ex:
            task.skip("no target_scores (a generative example)", f"{path} examples[{i}]")
            continue
        problem = _problem(ex["target_scores"])
        if problem:
            task.skip(problem, f"{path} examples[{i}]")
            continue
        if limit is not None and len(task.examples) >= limit:
            continue  # still read to the end: the skip counts cover the whole file
        where = f"{path} examples[{i}]"
        cands = tuple(ex["target_scores"])
        scores = tuple(float(v) for v in ex["target_scores"].values())
        text = ex["input"]
        if settings["append_choices_to_input"]:
            ordered = sorted(cands)
            shown = [ordered[j] for j in _permutation(len(ordered))]
            text = text + settings["choice_prefix"] + settings["choice_prefix"].join(shown)
        prompt = settings["task_prefix"] + settings["example_input_prefix"] + text + settings["example_output_prefix"]
        best = max(scores)
        task.examples.append(
            Example(
                example_id=str(ex.get("idx", i)),
                position=i,
                input=ex["input"],
                prompt=prompt,
                candidates=cands,
                target_scores=scores,
                gold=next(c for c, s in zip(cands, scores) if s == best),
                where=where,
            )
        )
    if not task.examples:
        if not examples:
            raise NotMultipleChoice(f"{path}: has no examples")
        if not any(isinstance(e, dict) and "target_scores" in e for e in examples):
            raise NotMultipleChoice(f"{path}: has no multiple-choice examples (none has target_scores)")
        reasons = "; ".join(f"{n} {r}" for r, n in task.skipped.most_common())
        raise NotMultipleChoice(f"{path}: no example can be scored ({reasons})")
    return task


def subtask_files(folder: Path) -> list[Path]:
    """A parent task's subtasks, ordered by path as BIG-bench orders them."""
    return sorted(p for p in folder.glob("*/task.json") if p.is_file())


def read_task_folder(folder: str | Path, limit: int | None = None) -> tuple[list[TaskFile], list[Skipped]]:
    """A task folder (or its task.json): one task, or its subtasks when it has some.
    Returns (task files, subtasks skipped with their reason)."""
    folder = Path(folder)
    task_json = folder if folder.name == "task.json" else folder / "task.json"
    folder = task_json.parent
    if not task_json.is_file():
        raise BigBenchError(f"{folder}: no task.json (a programmatic task, or not a BIG-bench task folder)")
    raw = load_json(task_json)
    subs = subtask_files(folder)
    if "examples" in raw:
        return [read_task_file(task_json, limit, raw=raw)], []
    if not subs:
        raise BigBenchError(f"{task_json}: has neither examples nor subtask folders")
    parent = f"bigbench:{raw.get('name') or folder.name}"
    out: list[TaskFile] = []
    skipped: list[Skipped] = []
    names: set[str] = set()
    for sub in subs:
        try:
            sub_raw = load_json(sub)
            sub_name = str(sub_raw.get("name") or sub.parent.name)
            if sub_name in names:  # BIG-bench refuses duplicate subtask names; keep both, apart
                sub_name = f"{sub_name}@{sub.parent.name}"
            names.add(sub_name)
            out.append(read_task_file(sub, limit, name=f"{parent}:{sub_name}", parent=parent, raw=sub_raw))
        except BigBenchError as exc:
            skipped.append(Skipped(f"{folder.name}/{sub.parent.name}", str(sub), _reason(exc, sub)))
    if not out:
        raise NotMultipleChoice(
            f"{task_json}: none of its {len(subs)} subtasks can be scored (first: {skipped[0].reason})"
        )
    return out, skipped


def _reason(exc: Exception, path: Path) -> str:
    msg = str(exc)
    for prefix in (f"{path}: ", f"{path.parent}: "):
        msg = msg.removeprefix(prefix)
    return msg


def task_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def discover(
    root: str | Path, limit: int | None = None, only: Sequence[str] | None = None
) -> tuple[list[TaskFile], list[Skipped]]:
    """Every multiple-choice task under `root`: a folder of task folders (the sdist's
    `benchmark_tasks`) or one task folder; `only`: these task folders of `root` (a task set).
    A directory run never stops on one task: a folder without task.json (a programmatic task),
    a task with no multiple-choice example and a malformed task.json are skipped and returned
    with their reason. One task folder given alone raises its error instead."""
    root = Path(root)
    if not root.is_dir():
        raise BigBenchError(f"{root}: not a folder")
    if (root / "benchmark_tasks").is_dir() and not (root / "task.json").is_file():
        root = root / "benchmark_tasks"  # the folder `brd bigbench fetch` fills, or an unpacked sdist's bigbench/
    if (root / "task.json").is_file():
        if only is not None:
            raise BigBenchError(f"{root}: a task folder; a task set selects folders of a benchmark_tasks folder")
        return read_task_folder(root, limit)
    if only is not None:
        missing = [n for n in only if not (root / n).is_dir()]
        if missing:
            raise BigBenchError(f"{root}: no task folder {missing[0]!r} (of {len(missing)} missing from the task set)")
    tasks: list[TaskFile] = []
    skipped: list[Skipped] = []
    for folder in task_folders(root) if only is None else [root / n for n in only]:
        if not (folder / "task.json").is_file():
            skipped.append(Skipped(folder.name, str(folder), "no task.json (a programmatic task)"))
            continue
        try:
            found, sub_skipped = read_task_folder(folder, limit)
        except BigBenchError as exc:
            skipped.append(Skipped(folder.name, str(folder / "task.json"), _reason(exc, folder / "task.json")))
            continue
        tasks.extend(found)
        skipped.extend(sub_skipped)
    if not tasks:
        raise NotMultipleChoice(f"{root}: no multiple-choice BIG-bench task found ({len(skipped)} skipped)")
    return tasks, skipped


# -- the paper's task set: multiple-choice tasks with fixed answers (§4.2) ------------------------

FIXED_ANSWER_RULE = (
    "A BIG-bench JSON task (a folder with task.json; a parent task counts once, with all its "
    "subtasks) is a multiple-choice task with fixed answers when (1) its preferred score, in the task "
    "and in every subtask, is multiple_choice_grade, (2) none of them also declares a metric on "
    "generated text or on one target's likelihood (bleu, bleurt, rouge, exact_str_match, "
    "case_insensitive_str_match, sequence_f1, numeric_match_with_0_1_relative_error, log_likelihood), "
    "and (3) every example lists its candidate answers (target_scores)."
)


@dataclass(frozen=True)
class Verdict:
    task: str  # the folder name
    fixed_answer: bool
    reason: str  # why not, or "" when it is in the set
    n_examples: int  # in the task.json files (duplicates included)
    n_subtasks: int


def fixed_answer_verdict(folder: Path) -> Verdict:
    """Whether one task folder meets FIXED_ANSWER_RULE, and why not."""
    task_json = folder / "task.json"
    if not task_json.is_file():
        return Verdict(folder.name, False, "no task.json (a programmatic task)", 0, 0)
    try:
        raw = load_json(task_json)
        subs = [] if "examples" in raw else subtask_files(folder)
        units = [(task_json, raw)] if "examples" in raw else [(p, load_json(p)) for p in subs]
    except BigBenchError as exc:
        return Verdict(folder.name, False, _reason(exc, task_json), 0, 0)
    if not units:
        return Verdict(folder.name, False, "neither examples nor subtasks", 0, 0)
    n = 0
    why = ""
    for path, unit in units:
        where = "" if path == task_json else f"subtask {path.parent.name}: "
        examples = unit.get("examples") if isinstance(unit.get("examples"), list) else []
        n += len(examples)
        metrics = [m for m in unit.get("metrics", []) if isinstance(m, str)]
        text = sorted(set(metrics) & set(TEXT_METRICS))
        if why:
            continue
        if unit.get("preferred_score") != "multiple_choice_grade":
            why = f"{where}preferred score is {unit.get('preferred_score')!r}, not multiple_choice_grade"
        elif text:
            why = f"{where}also scored on generated text ({', '.join(text)})"
        else:
            missing = sum(1 for e in examples if not isinstance(e, dict) or "target_scores" not in e)
            if missing or not examples:
                why = f"{where}{missing or 'no'} example(s) without target_scores"
    return Verdict(folder.name, not why, why, n, len(subs))


def fixed_answer_tasks(root: str | Path) -> list[Verdict]:
    """FIXED_ANSWER_RULE over every task folder of `root` (the sdist's benchmark_tasks)."""
    root = Path(root)
    if not root.is_dir():
        raise BigBenchError(f"{root}: not a folder")
    return [fixed_answer_verdict(f) for f in task_folders(root)]


# -- named task sets and the 80/10/10 splits -------------------------------------------------------

SPLITS = ("train", "tuning", "test")


@dataclass(frozen=True)
class TaskSet:
    """A named list of BIG-bench task folders (manifests/bigbench/NAME.yaml)."""

    name: str
    description: str
    tasks: tuple[str, ...]
    source: str
    split: dict[str, float] | None = None  # train/tuning/test fractions, when the set is split
    seed: int = 0


def tasksets_dir() -> Path:
    from .paths import manifests_dir

    return manifests_dir() / "bigbench"


def available_tasksets() -> list[str]:
    return sorted(p.stem for p in tasksets_dir().glob("*.yaml"))


def load_taskset(name_or_path: str) -> TaskSet:
    """A task set by name (manifests/bigbench/NAME.yaml) or by the path of such a file."""
    import yaml

    path = Path(name_or_path)
    if not path.suffix:
        path = tasksets_dir() / f"{name_or_path}.yaml"
        if not path.is_file():
            raise BigBenchError(
                f"unknown BIG-bench task set {name_or_path!r}; valid: {', '.join(available_tasksets())}"
            )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BigBenchError(f"{path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("tasks"), list) or not raw["tasks"]:
        raise BigBenchError(f"{path}: expected a mapping with a non-empty `tasks` list")
    split = raw.get("split")
    if split is not None:
        if not isinstance(split, dict) or set(split) != set(SPLITS):
            raise BigBenchError(f"{path}: `split` must give fractions for {', '.join(SPLITS)}")
        if any(not isinstance(v, (int, float)) or v < 0 for v in split.values()) or abs(sum(split.values()) - 1) > 1e-9:
            raise BigBenchError(f"{path}: `split` fractions must be non-negative and sum to 1")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise BigBenchError(f"{path}: `seed` must be an integer")
    return TaskSet(
        name=str(raw.get("name") or path.stem),
        description=str(raw.get("description") or ""),
        tasks=tuple(str(t) for t in raw["tasks"]),
        source=str(path),
        split={k: float(split[k]) for k in SPLITS} if split else None,
        seed=seed,
    )


def split_sizes(n: int, fractions: dict[str, float]) -> dict[str, int]:
    """Examples per split: tuning and test get round(n * fraction), train the rest (the paper
    saves 10% as test, 10% as tuning, and trains on the others)."""
    sizes = {k: round(n * fractions[k]) for k in SPLITS if k != "train"}
    sizes["train"] = n - sum(sizes.values())
    return {k: sizes[k] for k in SPLITS}


def split_examples(examples: Sequence[Example], fractions: dict[str, float], seed: int) -> dict[str, list[Example]]:
    """A seeded 80/10/10-style split; each split keeps file order."""
    import numpy as np

    order = [int(i) for i in np.random.RandomState(seed).permutation(len(examples))]
    sizes = split_sizes(len(examples), fractions)
    out: dict[str, list[Example]] = {}
    start = 0
    for name in SPLITS:
        chosen = sorted(order[start : start + sizes[name]])
        out[name] = [examples[i] for i in chosen]
        start += sizes[name]
    return out
