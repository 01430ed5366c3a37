"""Prompt files: a behaviour is data.

A prompt file (YAML, under manifests/prompts/ or a folder given with --prompt-dir) declares the
behaviour it produces, the request mode (completion: the raw few-shot text; chat: one user turn
through the model's chat template), its stop strings, its max-token bound, the parser that reads
the answers (ner, qra or raw) and the template, in which `{input}` marks where the input (a
sentence, or later a rendered task example) goes.

The `prompt_hash` stored on every annotation is the sha256 (16 hex digits) of what reaches the
teacher: the request mode, the template (task description and demonstrations), the system turn,
the stop strings and the max-token bound (`request_identity`). Changing any of them makes new
rows, never an overwrite; the file's comments, key order and quoting change nothing. Stores made
before this rule (migration 070) keyed their prompts by the sha256 of the file's bytes: those rows
stay valid for their prompt versions, and contracts/prompt_versions.py links each old hash to the
request it sent, so an unchanged prompt is not annotated again.

Building a request is a pure function of (prompt, input, sampling), so tests call it directly and
the engine never needs to know where inputs come from.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from ..choices import PromptMode
from ..errors import UserError
from ..paths import manifests_dir
from .base import Schema, read_yaml, validate

MODES = tuple(m.value for m in PromptMode)
PARSERS = ("ner", "qra", "raw", "task")
INPUTS = ("sentence", "task")
SLOT = "{input}"
_BEHAVIOUR_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


class PromptError(UserError):
    """A prompt file that cannot be used; the message names the file and the field."""


class Prompt(Schema):
    name: str  # the file's stem, e.g. "ner"
    behaviour: str  # what the outputs are: ner, qra, task or a user's own
    mode: Literal[MODES]  # completion | chat
    parser: Literal["ner", "qra", "raw", "task"]
    template: str  # with exactly one {input}
    max_tokens: int = Field(gt=0)
    stop: tuple[str, ...] = ()
    input: Literal["sentence", "task"] = "sentence"  # the kind of unit the prompt reads
    system: str | None = None  # chat mode only: an optional system turn
    format_version: Literal[1] = 1
    prompt_hash: str = Field(default="", exclude=True)  # request_hash(): set by load_prompt
    file_sha256: str = Field(default="", exclude=True)  # of the file's bytes (the hash before migration 070)
    source_file: str = Field(default="", exclude=True)
    text: str = Field(default="", repr=False, exclude=True)  # the file's full text, stored in `prompts`

    @model_validator(mode="before")
    @classmethod
    def _stop_list(cls, data: Any) -> Any:
        if isinstance(data, dict):
            stop = data.get("stop")
            if stop is None:
                data = {**data, "stop": ()}
            elif isinstance(stop, (str, list)):
                data = {**data, "stop": tuple([stop] if isinstance(stop, str) else stop)}
        return data

    @field_validator("behaviour")
    @classmethod
    def _behaviour(cls, v: str) -> str:
        if not v or not set(v) <= _BEHAVIOUR_CHARS:
            raise ValueError(f"{v!r} must be lowercase letters, digits, - or _")
        return v

    @field_validator("template")
    @classmethod
    def _one_slot(cls, v: str) -> str:
        if v.count(SLOT) != 1:
            raise ValueError(f"must contain {SLOT} exactly once (found {v.count(SLOT)})")
        return v

    @field_validator("stop")
    @classmethod
    def _stops(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(not s for s in v):
            raise ValueError("stop strings must be non-empty")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Prompt:
        if self.parser == "task" and self.input != "task":
            raise ValueError(
                "parser task needs input task (it maps the answer onto the task example's candidates), "
                f"got input {self.input}"
            )
        if self.system is not None and self.mode != "chat":
            raise ValueError("`system` only applies to mode chat")
        return self

    def request_identity(self) -> dict[str, Any]:
        """Everything of this prompt that reaches the teacher (the request body but the input and
        the sampling settings, which annotations store on their own)."""
        return {
            "format_version": self.format_version,
            "mode": self.mode,
            "system": self.system,
            "template": self.template,
            "stop": list(self.stop),
            "max_tokens": self.max_tokens,
        }

    def request_hash(self) -> str:
        return request_hash(self.request_identity())

    @property
    def prefix(self) -> str:
        """The text every request of this prompt shares (what prefix caching reuses)."""
        return self.template.split(SLOT, 1)[0]

    def render(self, text: str) -> str:
        return self.template.replace(SLOT, text, 1)

    def payload(self, text: str, sampling: dict[str, Any]) -> dict[str, Any]:
        """The OpenAI request body for one input (without `model`, which the engine adds)."""
        body: dict[str, Any] = {"max_tokens": self.max_tokens, **sampling}
        if self.stop:
            body["stop"] = list(self.stop)
        if self.mode == "completion":
            body["prompt"] = self.render(text)
        else:
            messages = [{"role": "system", "content": self.system}] if self.system else []
            body["messages"] = [*messages, {"role": "user", "content": self.render(text)}]
        return body

    def lineage(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "behaviour": self.behaviour,
            "mode": self.mode,
            "parser": self.parser,
            "prompt_hash": self.prompt_hash,
            "file_sha256": self.file_sha256,
            "source_file": self.source_file,
        }


def request_hash(identity: dict[str, Any]) -> str:
    payload = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def parse_prompt_text(text: str, name: str, where: str) -> Prompt:
    """A prompt from a file's text (also the text a store's `prompts` row keeps)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0]
        raise PromptError(f"{where}: not a YAML prompt file ({first})") from None
    if not isinstance(data, dict):
        raise PromptError(f"{where}: expected a mapping with behaviour, mode, parser, max_tokens, template")
    extra = {"name": name, "file_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()[:16], "source_file": where}
    clash = sorted((set(extra) | {"prompt_hash"}) & set(data))
    if clash:
        raise PromptError(f"{where}: {clash[0]}: set by brd, not by the prompt file")
    prompt = validate(Prompt, {**data, **extra, "text": text}, where, PromptError)
    return prompt.replace(prompt_hash=prompt.request_hash())


def load_prompt(path: str | Path) -> Prompt:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PromptError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PromptError(f"{path}: not a UTF-8 YAML prompt file ({exc.reason})") from None
    prompt = parse_prompt_text(text, path.stem, str(path))
    # the sha256 of the bytes, not of the decoded text: what stores before migration 070 keyed it by
    return prompt.replace(file_sha256=hashlib.sha256(raw).hexdigest()[:16])


def default_prompt_dir() -> Path:
    return manifests_dir() / "prompts"


def discover(dirs: list[Path] | None = None) -> dict[str, Prompt]:
    """Every prompt file in `dirs` (default: manifests/prompts), by name. Later folders win."""
    found: dict[str, Prompt] = {}
    for d in [default_prompt_dir(), *(dirs or [])]:
        d = Path(d)
        if d.is_file():
            p = load_prompt(d)
            found[p.name] = p
            continue
        if not d.is_dir():
            raise PromptError(f"--prompt-dir {d}: no such folder or prompt file")
        for path in sorted(d.glob("*.yaml")):
            p = load_prompt(path)
            found[p.name] = p
    return found


def resolve(names: list[str], dirs: list[Path] | None = None, mode: str | None = None) -> list[Prompt]:
    """Prompts for the requested behaviours, in the order given.

    A name is a prompt file's stem (`qra-chat`), else a behaviour that exactly one known prompt
    produces in `mode` (default: completion). Two prompts of one behaviour in one run would write
    two rows per sentence, so that is refused.
    """
    if mode is not None and mode not in MODES:
        raise PromptError(f"--mode {mode!r} is not one of {', '.join(MODES)}")
    known = discover(dirs)
    chosen: list[Prompt] = []
    for name in names:
        if name in known and (mode is None or known[name].mode == mode):
            chosen.append(known[name])
            continue
        want = mode or "completion"
        matches = [p for p in known.values() if p.behaviour == name and p.mode == want]
        if len(matches) != 1:
            have = ", ".join(f"{p.name} ({p.behaviour}, {p.mode})" for p in known.values())
            what = "no prompt" if not matches else f"{len(matches)} prompts ({', '.join(p.name for p in matches)})"
            raise PromptError(f"behaviour {name!r}: {what} in mode {want}; known prompts: {have}")
        chosen.append(matches[0])
    behaviours = [p.behaviour for p in chosen]
    dupes = sorted({b for b in behaviours if behaviours.count(b) > 1})
    if dupes:
        raise PromptError(f"behaviour {dupes[0]!r} is requested twice; choose one prompt per behaviour per run")
    return chosen


# -- the paper's worked example -------------------------------------------------------------------


class Reference(Schema):
    """A sentence and a teacher's published responses to it, by behaviour
    (manifests/reference/NAME.yaml): the paper's Belmont Estate example of Tables 1 and 2."""

    name: str
    source: str
    sentence: str = Field(min_length=1)
    responses: dict[str, str]

    @field_validator("responses")
    @classmethod
    def _some(cls, v: dict[str, str]) -> dict[str, str]:
        if not v or any(not text.strip() for text in v.values()):
            raise ValueError("needs a non-empty response per behaviour")
        return v


def load_reference(name_or_path: str | Path = "belmont-estate") -> Reference:
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = manifests_dir() / "reference" / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (manifests_dir() / "reference").glob("*.yaml"))
        raise PromptError(f"unknown reference {str(name_or_path)!r}; valid: {', '.join(known)}")
    return validate(Reference, read_yaml(path, PromptError), str(path), PromptError)


def sent_text(file_text: str) -> dict[str, Any]:
    """What a teacher was sent, read from a prompt file's text (as the store's `prompts` table keeps
    it): behaviour, mode, the system turn (chat mode) and the template, `{input}` marking the input."""
    try:
        data = yaml.safe_load(file_text)
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("template"), str):
        return {}
    return {k: data.get(k) for k in ("behaviour", "mode", "system", "template", "input")}
