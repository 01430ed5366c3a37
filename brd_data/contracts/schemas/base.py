"""The base of every schema, and how a validation error becomes one line naming file and field."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import UserError

M = TypeVar("M", bound=BaseModel)


class SchemaError(UserError):
    """A manifest or lineage file that does not fit its schema; the message names file and field."""


class Schema(BaseModel):
    """Strict, closed and immutable: what a user writes is what the code sees."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    def replace(self: M, **changes: Any) -> M:
        """A copy with `changes`, checked like the original."""
        return type(self).model_validate({**self.__dict__, **changes})


class LineageSchema(BaseModel):
    """A file brd writes for itself: typed, but a newer brd may add keys an older one ignores."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


# pydantic names the members of a union and the parts of a dict in error locations
_TYPE_TAGS = {"int", "float", "str", "bool", "none", "[key]", "dict", "list", "tuple", "is-instance", "lax-or-strict"}


def _clean(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(
        p
        for p in loc
        if not (
            isinstance(p, str)
            and (p in _TYPE_TAGS or p.startswith(("function-", "tagged-union", "union[", "list[", "tuple[", "dict[")))
        )
    )


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in _clean(loc):
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """The keys a model accepts at `loc` (for 'unknown key' messages)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return None
        ann = field.annotation
        for candidate in (ann, *getattr(ann, "__args__", ())):
            for inner in (candidate, *getattr(candidate, "__args__", ())):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    current = inner
                    break
            else:
                continue
            break
        else:
            return None
    fields = getattr(current, "model_fields", None)
    if fields is None:
        return None
    return sorted(f.alias or name for name, f in fields.items() if not f.exclude)  # excluded: set by brd


def _plain(wanted: str) -> str:
    """pydantic's type words in a YAML user's words."""
    wanted = wanted.replace("a valid tuple", "a list")
    return re.sub(r"a valid dictionary or instance of \w+", "a mapping", wanted)


def describe(exc: ValidationError, model: type[BaseModel]) -> str:
    """The first problem of a validation error as `field: message`, plus how many more there are."""
    errors = exc.errors(include_url=False)
    # the alternatives of one union field are one problem
    groups: dict[tuple, list[dict]] = {}
    for e in errors:
        groups.setdefault(_clean(e["loc"]), []).append(e)
    # a misspelt key explains the "missing" one beside it: report it first
    loc, group = min(groups.items(), key=lambda kv: kv[1][0]["type"] != "extra_forbidden")
    first = group[0]
    where = _loc(loc)
    kind = first["type"]
    if kind == "extra_forbidden":
        known = _known_keys(model, loc)
        key = where.rsplit(".", 1)[-1]
        text = f"unknown key {key!r}" + (f"; allowed: {', '.join(known)}" if known else "")
        where = where.rsplit(".", 1)[0] if "." in where else ""
    elif kind == "missing":
        text = "is missing"
    elif kind in ("value_error", "assertion_error"):
        text = first["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    else:
        wanted = [e["msg"].removeprefix("Input should be ") for e in group if e["msg"].startswith("Input should be")]
        wanted = [_plain(w) for w in wanted]
        text = "should be " + " or ".join(dict.fromkeys(wanted)) if wanted else first["msg"]
        if "input" in first:
            text += f" (got {repr(first['input'])[:60]})"
    n = len(groups) - 1
    more = f" (and {n} more problem{'s' if n > 1 else ''})" if n else ""
    return f"{where}: {text}{more}" if where else f"{text}{more}"


def validate(model: type[M], data: Any, where: str, error: type[UserError] = SchemaError) -> M:
    """`model` from plain data, or `error` with one line: `WHERE: field: problem`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(f"{where}: {describe(exc, model)}") from None


def read_yaml(path: Path, error: type[UserError] = SchemaError) -> dict[str, Any]:
    """A YAML file that holds a mapping, or `error` naming the file."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: invalid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise error(f"{path}: expected a mapping at the top level")
    return raw


def read_json(path: Path, error: type[UserError] = SchemaError) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{path}: not valid JSON ({exc})") from None
