"""Mixture and filter manifests: YAML files under manifests/, parsed into dataclasses that check
themselves. Steps never see the raw dicts.

A mixture (manifests/mixtures/NAME.yaml) names the SQL views it draws rows from and how many:

    name: brd
    description: D_TRAIN (paper §3.2)
    sources:
      - view: d_train          # any view of the store with the d_* columns
        weight: 1              # relative share of rows (the default), or
      # - view: d_ori
      #   tokens: 5000000      # a token budget instead of a weight
    passages: 250000           # optional: the store's first N passages in seeded order (data-size curve)
    corpus:                    # optional: only passages of these ingested sources (BRD²: the task inputs)
      paths: ["*tasks/*"]      #   fnmatch patterns over sources.path, and/or
      run_ids: []              #   the ingest runs that read them
    seed: 0
    delimiter: "<sep>"
    tokenizer: null            # null: the embedded teacher's tokenizer
    teacher: null              # pin a teacher_fingerprint (default: the most recent ok annotation)
    prompts: {ner: null, qra: null}   # pin prompt hashes per behaviour
    shard_rows: 100000         # rows per Parquet shard
    window_passages: 100000    # passages composed at a time (bounds memory; part of the row order)

`kind: sft` mixtures draw prompt/completion rows (views d_sft, d_task_distill) instead of passages;
`passages` and `corpus` do not apply to them.

A filter (manifests/filters/NAME.yaml) holds the word lists of a view-level filter, e.g. the
paper's sentiment filter (appendix A.5) that d_qra_no_sent applies.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..contracts.errors import UserError
from ..contracts.paths import manifests_dir

# lm: `text` rows (passages); sft: `prompt` + `completion` rows (the SFT and task-distillation baselines).
KINDS = ("lm", "sft")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEX = re.compile(r"^[0-9a-f]{4,64}$")
# Filter terms are plain words: no regex or SQL syntax can reach the view through them.
_TERM = re.compile(r"^[\w' -]+$")
FILTER_FIELDS = ("question", "answer")
MATCHES = ("word", "substring")


class ManifestError(UserError):
    """A mixture or filter manifest that cannot be used; the message names the file and field."""


@dataclass(frozen=True)
class Source:
    """One view a mixture draws rows from: a relative `weight` of rows, or a `tokens` budget."""

    view: str
    weight: float | None = None
    tokens: int | None = None
    where: str = ""

    def __post_init__(self) -> None:
        w = self.where or "source"
        if not isinstance(self.view, str) or not _IDENT.match(self.view):
            raise ManifestError(f"{w}: view {self.view!r} is not a plain SQL identifier")
        if self.weight is not None and self.tokens is not None:
            raise ManifestError(f"{w}: give `weight` or `tokens`, not both")
        if self.weight is not None:
            if (
                isinstance(self.weight, bool)
                or not isinstance(self.weight, (int, float))
                or not math.isfinite(self.weight)
            ):
                raise ManifestError(f"{w}: weight {self.weight!r} is not a number")
            if self.weight < 0:
                raise ManifestError(f"{w}: weight {self.weight} is negative")
        if self.tokens is not None:
            if isinstance(self.tokens, bool) or not isinstance(self.tokens, int) or self.tokens <= 0:
                raise ManifestError(f"{w}: tokens {self.tokens!r} must be a positive integer")

    @property
    def share(self) -> float:
        """The weight, 1 when neither weight nor tokens is given."""
        return 1.0 if self.weight is None else float(self.weight)


@dataclass(frozen=True)
class CorpusFilter:
    """Restrict a mixture to the passages of some ingested sources: those whose `sources.path`
    matches one of `paths` (fnmatch patterns; `*` also crosses '/') or that `run_ids` ingested."""

    paths: tuple[str, ...] = ()
    run_ids: tuple[str, ...] = ()
    where: str = ""

    def __post_init__(self) -> None:
        w = self.where or "corpus"
        if not self.paths and not self.run_ids:
            raise ManifestError(f"{w}: give `paths` (patterns over ingested file paths) and/or `run_ids`")
        for key in ("paths", "run_ids"):
            for v in getattr(self, key):
                if not isinstance(v, str) or not v.strip():
                    raise ManifestError(f"{w}: {key} must be non-empty strings, got {v!r}")

    def matches(self, path: str, run_id: str) -> bool:
        import fnmatch

        return run_id in self.run_ids or any(fnmatch.fnmatchcase(path, p) for p in self.paths)

    def resolved(self) -> dict[str, list[str]]:
        return {"paths": list(self.paths), "run_ids": list(self.run_ids)}


@dataclass(frozen=True)
class MixtureSpec:
    name: str
    sources: tuple[Source, ...]
    description: str = ""
    kind: str = "lm"
    passages: int | None = None
    seed: int = 0
    delimiter: str = "<sep>"
    tokenizer: str | None = None
    teacher: str | None = None
    prompts: dict[str, str | None] = field(default_factory=dict)
    shard_rows: int = 100_000
    window_passages: int = 100_000
    corpus: CorpusFilter | None = None
    source_file: str = ""

    def __post_init__(self) -> None:
        w = self.source_file or self.name
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ManifestError(f"{w}: name {self.name!r} must be lowercase letters, digits, '.', '_' or '-'")
        if self.kind not in KINDS:
            raise ManifestError(f"{w}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if not self.sources:
            raise ManifestError(f"{w}: `sources` is empty")
        if self.kind == "sft":
            for key in ("passages", "corpus"):
                if getattr(self, key) is not None:
                    raise ManifestError(
                        f"{w}: `{key}` selects passages; a kind sft mixture has none (its rows are task examples)"
                    )
        views = [s.view for s in self.sources]
        dup = sorted({v for v in views if views.count(v) > 1})
        if dup:
            raise ManifestError(f"{w}: view(s) {', '.join(dup)} listed twice in `sources`")
        weighted = [s for s in self.sources if s.tokens is None]
        if weighted and all(s.share == 0 for s in weighted):
            raise ManifestError(f"{w}: every weight is 0; at least one source must have a positive weight")
        if self.passages is not None and (
            isinstance(self.passages, bool) or not isinstance(self.passages, int) or self.passages <= 0
        ):
            raise ManifestError(f"{w}: passages {self.passages!r} must be a positive integer")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ManifestError(f"{w}: seed {self.seed!r} must be a non-negative integer")
        if not isinstance(self.delimiter, str) or not self.delimiter:
            raise ManifestError(f"{w}: delimiter must be a non-empty string")
        for key in ("shard_rows", "window_passages"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ManifestError(f"{w}: {key} {value!r} must be a positive integer")
        if self.teacher is not None and not (isinstance(self.teacher, str) and _HEX.match(self.teacher)):
            raise ManifestError(f"{w}: teacher {self.teacher!r} is not a teacher fingerprint (hex)")
        unknown = sorted(set(self.prompts) - {"ner", "qra"})
        if unknown:
            raise ManifestError(f"{w}: prompts can pin ner and qra, not {', '.join(unknown)}")
        for behaviour, h in self.prompts.items():
            if h is not None and not (isinstance(h, str) and _HEX.match(h)):
                raise ManifestError(f"{w}: prompts.{behaviour} {h!r} is not a prompt hash (hex)")

    def resolved(self) -> dict[str, Any]:
        """Everything that decides the mixture's rows, as plain data (for the hash and manifest.json)."""
        d = asdict(self)
        d.pop("source_file")
        d.pop("description")
        d.pop("corpus")
        if self.corpus is not None:  # absent when unset, so older manifests keep their hash
            d["corpus"] = self.corpus.resolved()
        d["sources"] = [{k: v for k, v in s.items() if k != "where" and v is not None} for s in d["sources"]]
        d["prompts"] = {k: v for k, v in sorted(self.prompts.items()) if v is not None}
        return d

    @property
    def config_hash(self) -> str:
        payload = json.dumps(self.resolved(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


_MIXTURE_KEYS = {
    "name",
    "description",
    "kind",
    "sources",
    "passages",
    "seed",
    "delimiter",
    "tokenizer",
    "teacher",
    "prompts",
    "shard_rows",
    "window_passages",
    "corpus",
}
_SOURCE_KEYS = {"view", "weight", "tokens"}


def mixtures_dir() -> Path:
    return manifests_dir() / "mixtures"


def filters_dir() -> Path:
    return manifests_dir() / "filters"


def available_mixtures() -> list[str]:
    return sorted(p.stem for p in mixtures_dir().glob("*.yaml"))


def _read_yaml(path: Path) -> dict:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ManifestError(f"{path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise ManifestError(f"{path}: expected a mapping at the top level")
    return raw


def _check_keys(raw: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ManifestError(
            f"{where}: unknown key(s) {', '.join(map(str, unknown))}; allowed: {', '.join(sorted(allowed))}"
        )


def mixture_path(name_or_path: str) -> Path:
    """manifests/mixtures/NAME.yaml for a name; a path to a .yaml file as given."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ManifestError(f"{path}: no such mixture manifest")
        return path
    path = mixtures_dir() / f"{name_or_path}.yaml"
    if not _NAME.match(name_or_path) or not path.is_file():
        raise ManifestError(f"unknown mixture {name_or_path!r}; valid: {', '.join(available_mixtures())}")
    return path


def load_mixture(name_or_path: str) -> MixtureSpec:
    """A mixture by name (manifests/mixtures/NAME.yaml) or by the path of a YAML file."""
    path = mixture_path(name_or_path)
    raw = _read_yaml(path)
    _check_keys(raw, _MIXTURE_KEYS, str(path))
    if "name" not in raw:
        raise ManifestError(f"{path}: missing key `name`")
    sources_raw = raw.get("sources")
    if not isinstance(sources_raw, list):
        raise ManifestError(f"{path}: `sources` must be a list of {{view, weight | tokens}}")
    sources = []
    for i, s in enumerate(sources_raw):
        where = f"{path}: sources[{i}]"
        if isinstance(s, str):
            s = {"view": s}
        if not isinstance(s, dict):
            raise ManifestError(f"{where}: expected a mapping with `view`")
        _check_keys(s, _SOURCE_KEYS, where)
        if "view" not in s:
            raise ManifestError(f"{where}: missing key `view`")
        sources.append(Source(view=s["view"], weight=s.get("weight"), tokens=s.get("tokens"), where=where))
    prompts = raw.get("prompts") or {}
    if not isinstance(prompts, dict):
        raise ManifestError(f"{path}: `prompts` must map ner/qra to a prompt hash")
    corpus = raw.get("corpus")
    if corpus is not None:
        where = f"{path}: corpus"
        if not isinstance(corpus, dict):
            raise ManifestError(f"{where}: expected a mapping with `paths` and/or `run_ids`")
        _check_keys(corpus, {"paths", "run_ids"}, where)
        lists = {}
        for key in ("paths", "run_ids"):
            value = corpus.get(key) or []
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list):
                raise ManifestError(f"{where}: {key} must be a list of strings")
            lists[key] = tuple(value)
        corpus = CorpusFilter(**lists, where=where)
    kwargs = {
        k: raw[k]
        for k in ("kind", "passages", "seed", "delimiter", "tokenizer", "teacher", "shard_rows", "window_passages")
        if k in raw and raw[k] is not None
    }
    return MixtureSpec(
        name=raw["name"],
        sources=tuple(sources),
        description=str(raw.get("description") or "").strip(),
        prompts=dict(prompts),
        corpus=corpus,
        source_file=str(path),
        **kwargs,
    )


# -- filters ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FilterRule:
    field: str
    match: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class FilterSpec:
    """Word lists a view applies to annotation items (manifests/filters/NAME.yaml)."""

    name: str
    behaviour: str
    rules: tuple[FilterRule, ...]
    description: str = ""
    source_file: str = ""
    file_hash: str = ""

    def __post_init__(self) -> None:
        w = self.source_file or self.name
        if not _IDENT.match(self.name or ""):
            raise ManifestError(f"{w}: name {self.name!r} must be a plain identifier")
        if self.behaviour != "qra":
            raise ManifestError(f"{w}: behaviour {self.behaviour!r}: only qra items can be filtered")
        if not self.rules:
            raise ManifestError(f"{w}: `rules` is empty")
        for i, r in enumerate(self.rules):
            if r.field not in FILTER_FIELDS:
                raise ManifestError(f"{w}: rules[{i}].field {r.field!r} is not one of {', '.join(FILTER_FIELDS)}")
            if r.match not in MATCHES:
                raise ManifestError(f"{w}: rules[{i}].match {r.match!r} is not one of {', '.join(MATCHES)}")
            if not r.terms:
                raise ManifestError(f"{w}: rules[{i}].terms is empty")
            for t in r.terms:
                if not isinstance(t, str) or not t.strip() or not _TERM.match(t):
                    raise ManifestError(
                        f"{w}: rules[{i}] term {t!r}: use letters, digits, spaces, hyphens and apostrophes only"
                    )

    def rows(self) -> list[dict[str, str]]:
        """The (field, match, term) rows of mix_filter_terms. `word` terms are stored normalised the
        way the view normalises text: lower-cased, every run of non-letters/digits one space."""
        out: dict[tuple[str, str], dict[str, str]] = {}
        for r in self.rules:
            for t in r.terms:
                term = normalise_words(t) if r.match == "word" else unicodedata.normalize("NFC", t.lower())
                out[(r.field, term)] = {
                    "filter": self.name,
                    "behaviour": self.behaviour,
                    "field": r.field,
                    "match": r.match,
                    "term": term,
                    "filter_hash": self.file_hash,
                }
        return [out[k] for k in sorted(out)]


def normalise_words(text: str) -> str:
    """Lower-case, and split at every character that is not a letter or digit (as the view does)."""
    return " ".join(w for w in re.split(r"[^\w]|_", unicodedata.normalize("NFC", text.lower())) if w)


def available_filters() -> list[str]:
    return sorted(p.stem for p in filters_dir().glob("*.yaml"))


def load_filter(name_or_path: str) -> FilterSpec:
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = filters_dir() / f"{name_or_path}.yaml"
        if not path.is_file():
            raise ManifestError(f"unknown filter {name_or_path!r}; valid: {', '.join(available_filters())}")
    raw = _read_yaml(path)
    _check_keys(raw, {"name", "description", "behaviour", "rules"}, str(path))
    rules_raw = raw.get("rules")
    if not isinstance(rules_raw, list):
        raise ManifestError(f"{path}: `rules` must be a list of {{field, match, terms}}")
    rules = []
    for i, r in enumerate(rules_raw):
        if not isinstance(r, dict):
            raise ManifestError(f"{path}: rules[{i}] must be a mapping")
        _check_keys(r, {"field", "match", "terms"}, f"{path}: rules[{i}]")
        terms = r.get("terms")
        if not isinstance(terms, list):
            raise ManifestError(f"{path}: rules[{i}].terms must be a list")
        rules.append(FilterRule(field=r.get("field"), match=r.get("match", "word"), terms=tuple(terms)))
    return FilterSpec(
        name=raw.get("name", path.stem),
        behaviour=raw.get("behaviour", "qra"),
        rules=tuple(rules),
        description=str(raw.get("description") or "").strip(),
        source_file=str(path),
        file_hash=hashlib.sha256(path.read_bytes()).hexdigest()[:16],
    )
