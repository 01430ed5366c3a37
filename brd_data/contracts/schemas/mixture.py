"""Mixture and filter manifests (YAML under manifests/), and a built mixture's manifest.json.

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

import fnmatch
import hashlib
import json
import math
import re
import unicodedata
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from ..errors import UserError
from ..paths import manifests_dir
from .base import LineageSchema, Schema, read_json, read_yaml, validate

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEX = re.compile(r"^[0-9a-f]{4,64}$")
# Filter terms are plain words: no regex or SQL syntax can reach the view through them.
_TERM = re.compile(r"^[\w' -]+$")
# lm: `text` rows (passages); sft: `prompt` + `completion` rows (the SFT and task-distillation baselines).
KINDS = ("lm", "sft")
COLUMNS = {"lm": ("text",), "sft": ("prompt", "completion")}
FORMAT_VERSION = 1


class ManifestError(UserError):
    """A mixture or filter manifest that cannot be used; the message names the file and field."""


def _as_list(value: Any) -> Any:
    """A single string where a list is expected is a one-item list (`paths: "*tasks/*"`)."""
    return [value] if isinstance(value, str) else value


def _as_tuple(value: Any) -> Any:
    value = _as_list(value)
    return tuple(value) if isinstance(value, list) else value


StrTuple = Annotated[tuple[str, ...], BeforeValidator(_as_tuple)]


class Source(Schema):
    """One view a mixture draws rows from: a relative `weight` of rows, or a `tokens` budget."""

    view: str
    weight: int | float | None = None
    tokens: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _view_alone(cls, data: Any) -> Any:
        return {"view": data} if isinstance(data, str) else data

    @field_validator("view")
    @classmethod
    def _view(cls, v: str) -> str:
        if not _IDENT.match(v):
            raise ValueError(f"{v!r} is not a plain SQL identifier")
        return v

    @field_validator("weight")
    @classmethod
    def _weight(cls, v: float | None) -> float | None:
        if v is not None and (not math.isfinite(v) or v < 0):
            raise ValueError(f"must be a finite number of 0 or more, got {v!r}")
        return v

    @field_validator("tokens")
    @classmethod
    def _tokens(cls, v: int | None) -> int | None:
        if v is not None and v <= 0:
            raise ValueError(f"must be a positive integer, got {v!r}")
        return v

    @model_validator(mode="after")
    def _one_share(self) -> Source:
        if self.weight is not None and self.tokens is not None:
            raise ValueError("give `weight` or `tokens`, not both")
        return self

    @property
    def share(self) -> float:
        """The weight, 1 when neither weight nor tokens is given."""
        return 1.0 if self.weight is None else float(self.weight)


class CorpusFilter(Schema):
    """Restrict a mixture to the passages of some ingested sources: those whose `sources.path`
    matches one of `paths` (fnmatch patterns; `*` also crosses '/') or that `run_ids` ingested."""

    paths: StrTuple = ()
    run_ids: StrTuple = ()

    @field_validator("paths", "run_ids")
    @classmethod
    def _non_empty(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(not s.strip() for s in v):
            raise ValueError("must be non-empty strings")
        return v

    @model_validator(mode="after")
    def _something(self) -> CorpusFilter:
        if not self.paths and not self.run_ids:
            raise ValueError("give `paths` (patterns over ingested file paths) and/or `run_ids`")
        return self

    def matches(self, path: str, run_id: str) -> bool:
        return run_id in self.run_ids or any(fnmatch.fnmatchcase(path, p) for p in self.paths)

    def resolved(self) -> dict[str, list[str]]:
        return {"paths": list(self.paths), "run_ids": list(self.run_ids)}


def _hex(v: str | None, what: str) -> str | None:
    if v is not None and not _HEX.match(v):
        raise ValueError(f"{v!r} is not a {what} (hex)")
    return v


class MixtureSpec(Schema):
    name: str
    sources: Annotated[tuple[Source, ...], BeforeValidator(_as_tuple)]
    description: str = ""
    kind: Literal["lm", "sft"] = "lm"
    passages: int | None = Field(default=None, gt=0)
    seed: int = Field(default=0, ge=0)
    delimiter: str = Field(default="<sep>", min_length=1)
    tokenizer: str | None = None
    teacher: str | None = None
    prompts: dict[Literal["ner", "qra"], str | None] = Field(default_factory=dict)
    shard_rows: int = Field(default=100_000, gt=0)
    window_passages: int = Field(default=100_000, gt=0)
    corpus: CorpusFilter | None = None
    source_file: str = Field(default="", exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_defaults(cls, data: Any) -> Any:
        # `seed: null`, `prompts: null`, `description: null` in YAML mean "the default"
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if v is not None}
            if isinstance(data.get("description"), str):
                data["description"] = data["description"].strip()
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"{v!r} must be lowercase letters, digits, '.', '_' or '-'")
        return v

    @field_validator("teacher")
    @classmethod
    def _teacher(cls, v: str | None) -> str | None:
        return _hex(v, "teacher fingerprint")

    @field_validator("prompts")
    @classmethod
    def _prompts(cls, v: dict[str, str | None]) -> dict[str, str | None]:
        for h in v.values():
            _hex(h, "prompt hash")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> MixtureSpec:
        if not self.sources:
            raise ValueError("`sources` is empty")
        if self.kind == "sft":
            for key in ("passages", "corpus"):
                if getattr(self, key) is not None:
                    raise ValueError(
                        f"`{key}` selects passages; a kind sft mixture has none (its rows are task examples)"
                    )
        views = [s.view for s in self.sources]
        dup = sorted({v for v in views if views.count(v) > 1})
        if dup:
            raise ValueError(f"view(s) {', '.join(dup)} listed twice in `sources`")
        weighted = [s for s in self.sources if s.tokens is None]
        if weighted and all(s.share == 0 for s in weighted):
            raise ValueError("every weight is 0; at least one source must have a positive weight")
        return self

    def resolved(self) -> dict[str, Any]:
        """Everything that decides the mixture's rows, as plain data (for the hash and manifest.json)."""
        d: dict[str, Any] = {
            "name": self.name,
            "sources": [{k: v for k, v in s.model_dump().items() if v is not None} for s in self.sources],
            "kind": self.kind,
            "passages": self.passages,
            "seed": self.seed,
            "delimiter": self.delimiter,
            "tokenizer": self.tokenizer,
            "teacher": self.teacher,
            "prompts": {k: v for k, v in sorted(self.prompts.items()) if v is not None},
            "shard_rows": self.shard_rows,
            "window_passages": self.window_passages,
        }
        if self.corpus is not None:  # absent when unset, so older manifests keep their hash
            d["corpus"] = self.corpus.resolved()
        return d

    @property
    def config_hash(self) -> str:
        payload = json.dumps(self.resolved(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def mixtures_dir() -> Path:
    return manifests_dir() / "mixtures"


def filters_dir() -> Path:
    return manifests_dir() / "filters"


def available_mixtures() -> list[str]:
    return sorted(p.stem for p in mixtures_dir().glob("*.yaml"))


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
    raw = read_yaml(path, ManifestError)
    return validate(MixtureSpec, {**raw, "source_file": str(path)}, str(path), ManifestError)


# -- filters ------------------------------------------------------------------------------------


class FilterRule(Schema):
    field: Literal["question", "answer"]
    match: Literal["word", "substring"] = "word"
    terms: tuple[str, ...]

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("terms"), list):
            data = {**data, "terms": tuple(data["terms"])}
        return data

    @field_validator("terms")
    @classmethod
    def _terms(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("terms is empty")
        for t in v:
            if not t.strip() or not _TERM.match(t):
                raise ValueError(f"term {t!r}: use letters, digits, spaces, hyphens and apostrophes only")
        return v


class FilterSpec(Schema):
    """Word lists a view applies to annotation items (manifests/filters/NAME.yaml)."""

    name: str
    behaviour: Literal["qra"] = "qra"
    rules: Annotated[tuple[FilterRule, ...], BeforeValidator(_as_tuple)]
    description: str = ""
    source_file: str = Field(default="", exclude=True)
    file_hash: str = Field(default="", exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _IDENT.match(v):
            raise ValueError(f"{v!r} must be a plain identifier")
        return v

    @field_validator("rules")
    @classmethod
    def _rules(cls, v: tuple[FilterRule, ...]) -> tuple[FilterRule, ...]:
        if not v:
            raise ValueError("`rules` is empty")
        return v

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
    raw = read_yaml(path, ManifestError)
    data = {"name": path.stem, **raw, "source_file": str(path)}
    data["file_hash"] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return validate(FilterSpec, data, str(path), ManifestError)


# -- a built mixture's manifest.json ------------------------------------------------------------


_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Shard(LineageSchema):
    """One Parquet shard: a relative path inside the mixture folder, its rows and its sha256."""

    file: str
    rows: int = Field(ge=0)
    sha256: str

    @field_validator("file")
    @classmethod
    def _relative(cls, v: str) -> str:
        # a manifest is data, not trust: a shard outside the folder must never be read or published
        parts = v.split("/")
        if not v or v.startswith("/") or "\\" in v or ":" in parts[0] or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"{v!r} is not a relative path inside the mixture folder")
        return v

    @field_validator("sha256")
    @classmethod
    def _sha(cls, v: str) -> str:
        if not _SHA256.match(v):
            raise ValueError(f"{v!r} is not a sha256 (64 lowercase hex digits)")
        return v


class MixtureManifest(LineageSchema):
    """`manifest.json` of a built mixture folder (contract 2): what `brd train` and `brd publish`
    read. The builder writes more keys (components, pins, lineage); these are the ones checked."""

    format_version: Literal[1]
    name: str
    kind: Literal["lm", "sft"]
    mixture_hash: str
    tokenizer: str
    rows: int
    tokens: int | None = None
    tokenizer_fingerprint: str | None = None
    shards: tuple[Shard, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("shards"), list):
            data = {**data, "shards": tuple(data["shards"])}
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        # the name becomes a folder and a file name when published (data/NAME/, lineage/NAME.json)
        if not _NAME.match(v):
            raise ValueError(f"{v!r} must be lowercase letters, digits, '.', '_' or '-' (a mixture name)")
        return v

    @model_validator(mode="after")
    def _distinct_shards(self) -> MixtureManifest:
        names = [s.file.rsplit("/", 1)[-1] for s in self.shards]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"shards: {dup[0]} is listed twice")
        return self


def read_mixture_manifest(path: Path, error: type[UserError] = ManifestError) -> tuple[MixtureManifest, dict]:
    """The checked model and the full JSON object of a mixture's manifest.json."""
    raw = read_json(path, error)
    if not isinstance(raw, dict):
        raise error(f"{path}: expected a JSON object")
    return validate(MixtureManifest, raw, str(path), error), raw
