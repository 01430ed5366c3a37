"""Prompt files: a behaviour is data.

A prompt file (YAML, under manifests/prompts/ or a folder given with --prompt-dir) declares the
behaviour it produces, the request mode (completion: the raw few-shot text; chat: one user turn
through the model's chat template), its stop strings, its max-token bound, the parser that reads
the answers (ner, qra or raw) and the template, in which `{input}` marks where the input (a
sentence, or later a rendered task example) goes. The sha256 of the file's bytes (16 hex digits)
is the `prompt_hash` stored on every annotation: editing a prompt makes new rows, never an
overwrite. Building a request is a pure function of (prompt, input, sampling), so tests call it
directly and the engine never needs to know where inputs come from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..contracts.errors import UserError
from ..contracts.paths import manifests_dir

MODES = ("completion", "chat")
PARSERS = ("ner", "qra", "raw", "task")
INPUTS = ("sentence", "task")
SLOT = "{input}"
_BEHAVIOUR_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")
_KEYS = {"format_version", "behaviour", "mode", "parser", "input", "max_tokens", "stop", "system", "template"}


class PromptError(UserError):
    """A prompt file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Prompt:
    name: str  # the file's stem, e.g. "ner"
    behaviour: str  # what the outputs are: ner, qra, task or a user's own
    mode: str  # completion | chat
    parser: str  # ner | qra | raw | task
    template: str  # with exactly one {input}
    max_tokens: int
    stop: tuple[str, ...] = ()
    input: str = "sentence"  # the kind of unit the prompt reads
    system: str | None = None  # chat mode only: an optional system turn
    prompt_hash: str = ""
    source_file: str = ""
    text: str = field(default="", repr=False)  # the file's full text, stored in `prompts`

    def __post_init__(self) -> None:
        where = self.source_file or self.name
        if not self.behaviour or not set(self.behaviour) <= _BEHAVIOUR_CHARS:
            raise PromptError(f"{where}: behaviour {self.behaviour!r} must be lowercase letters, digits, - or _")
        if self.mode not in MODES:
            raise PromptError(f"{where}: mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.parser not in PARSERS:
            raise PromptError(f"{where}: parser {self.parser!r} is not one of {', '.join(PARSERS)}")
        if self.input not in INPUTS:
            raise PromptError(f"{where}: input {self.input!r} is not one of {', '.join(INPUTS)}")
        if self.parser == "task" and self.input != "task":
            raise PromptError(
                f"{where}: parser task needs input task (it maps the answer onto the task "
                f"example's candidates), got input {self.input}"
            )
        if self.template.count(SLOT) != 1:
            raise PromptError(f"{where}: template must contain {SLOT} exactly once (found {self.template.count(SLOT)})")
        if not isinstance(self.max_tokens, int) or isinstance(self.max_tokens, bool) or self.max_tokens < 1:
            raise PromptError(f"{where}: max_tokens must be a positive integer, got {self.max_tokens!r}")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise PromptError(f"{where}: stop strings must be non-empty strings")
        if self.system is not None and self.mode != "chat":
            raise PromptError(f"{where}: `system` only applies to mode chat")

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
            "source_file": self.source_file,
        }


def load_prompt(path: str | Path) -> Prompt:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PromptError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
        data = yaml.safe_load(text)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0]
        raise PromptError(f"{path}: not a UTF-8 YAML prompt file ({first})") from None
    if not isinstance(data, dict):
        raise PromptError(f"{path}: expected a mapping with behaviour, mode, parser, max_tokens, template")
    unknown = set(data) - _KEYS
    if unknown:
        raise PromptError(f"{path}: unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_KEYS))}")
    if data.get("format_version", 1) != 1:
        raise PromptError(f"{path}: format_version {data['format_version']!r} is not supported (1)")
    for key in ("behaviour", "mode", "parser", "max_tokens", "template"):
        if key not in data:
            raise PromptError(f"{path}: field {key!r} is missing")
    stop = data.get("stop") or []
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list):
        raise PromptError(f"{path}: stop must be a list of strings")
    if not isinstance(data["template"], str):
        raise PromptError(f"{path}: template must be text")
    return Prompt(
        name=path.stem,
        behaviour=str(data["behaviour"]),
        mode=str(data["mode"]),
        parser=str(data["parser"]),
        template=data["template"],
        max_tokens=data["max_tokens"],
        stop=tuple(stop),
        input=str(data.get("input", "sentence")),
        system=data.get("system"),
        prompt_hash=hashlib.sha256(raw).hexdigest()[:16],
        source_file=str(path),
        text=text,
    )


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
