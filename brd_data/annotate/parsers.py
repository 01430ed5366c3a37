"""Reading teacher outputs into the `parsed` JSON, tolerantly: small teachers bend every format.

Each parser returns `(items, reason)`: a list of dicts when it found the structure (an empty list
is a valid answer, e.g. "no named entities"), else `None` and why. `judge` turns one raw output
into a status: ok, unparsed (empty or unreadable) or truncated (cut by max_tokens). The raw text
is always kept, so nothing a teacher wrote is lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Items = list[dict[str, Any]]

# --------------------------------------------------------------------------------------------
# QRA: "Question: ... Answer: ...", also Q:/A:, numbered, bold, any case, full-width colons.
_Q = r"(?:\*\*|__)?\b(?:question|q)\s*\d*\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?"
_A = r"(?:\*\*|__)?\b(?:answer|a)\s*\d*\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?"
_QA = re.compile(rf"{_Q}(?P<q>.+?)\s*{_A}(?P<a>.+?)(?=\s*{_Q}|\Z)", re.I | re.S)
# A question without its label, straight before "Answer:" (small teachers drop the first label).
_BARE_QA = re.compile(rf"^\s*(?P<q>[^\n]*?\?)\s*{_A}(?P<a>.+?)(?=\s*{_Q}|\Z)", re.I | re.S)


def _clean(s: str) -> str:
    return " ".join(s.replace("**", "").replace("__", "").split()).strip(" \"'“”")


def parse_qra(text: str) -> tuple[Items | None, str | None]:
    pairs = [(m["q"], m["a"]) for m in _QA.finditer(text)]
    if not pairs and (m := _BARE_QA.search(text)):
        pairs = [(m["q"], m["a"])]
    items = [{"question": _clean(q), "answer": _clean(a)} for q, a in pairs]
    items = [it for it in items if it["question"] and it["answer"]]
    if items:
        return items, None
    if re.search(_Q, text, re.I):
        return None, "a question without an answer"
    return None, "no 'Question: ... Answer: ...' pair"


# --------------------------------------------------------------------------------------------
# NER: In this sentence, "X" is a person name entity, and "Y" and "Z" are geopolitical entities,
# "63 million" is a numerical entity representing the price of the estate.
_QUOTED = r"(?:\"[^\"\n]+?\"|“[^”\n]+?”|„[^“\n]+?“|«[^»\n]+?»)"
_NAMES = rf"{_QUOTED}(?:\s*(?:,\s*and|,|and|&)\s*{_QUOTED})*"
_CLAUSE = re.compile(
    rf"(?P<names>{_NAMES})\s*,?\s+(?:is|are|was|were)\s+(?:an?\s+|the\s+|both\s+|all\s+)?"
    rf"(?P<type>[^\"“”,;.\n]*?)\s*entit(?:y|ies)\b(?P<detail>[^;\n]*?)(?=(?:,?\s*(?:and\s+)?{_QUOTED})|[;\n]|\.\s|\.?$)",
    re.I,
)
_ONE_NAME = re.compile(_QUOTED)
_NONE = re.compile(
    r"\b(?:no|not\s+any|does\s+not\s+(?:contain|have)\s+any|there\s+are\s+no)\s+"
    r"(?:named\s+)?entit(?:y|ies)\b|\bno\s+named[- ]entit",
    re.I,
)


def parse_ner(text: str) -> tuple[Items | None, str | None]:
    items: Items = []
    for m in _CLAUSE.finditer(text):
        detail = m["detail"].strip(" ,.")
        etype = " ".join(m["type"].split())
        for name in _ONE_NAME.findall(m["names"]):
            items.append({"entity": name[1:-1].strip(), "type": etype or None, "detail": detail or None})
    if items:
        return items, None
    if _NONE.search(text):
        return [], None
    if _ONE_NAME.search(text):
        return None, "quoted names but no '\"X\" is a ... entity' clause"
    return None, "no '\"X\" is a ... entity' clause"


# --------------------------------------------------------------------------------------------
# Task answers (task distillation): the first line names one of the example's candidates, e.g.
# " Yes", "yes.", "**No**", "Maybe, because ...". Anything else is unparsed: a pseudo-label must
# be a candidate, or the student learns to answer outside the task.
_TRIM = " \t\"'`*_.,:;!?()[]“”‘’"


def parse_task(text: str, candidates: Sequence[str] | None) -> tuple[Items | None, str | None]:
    if not candidates:
        return None, "the work item has no candidates"
    line = next((ln for ln in text.splitlines() if ln.strip(_TRIM)), "")
    answer = " ".join(line.split()).strip(_TRIM)
    low = answer.casefold()
    by_length = sorted(candidates, key=len, reverse=True)  # "No" must not win over "Not sure"
    for c in by_length:
        if low == c.casefold():
            return [{"answer": c, "text": answer}], None
    for c in by_length:
        if low.startswith(c.casefold()) and not low[len(c) : len(c) + 1].isalnum():
            return [{"answer": c, "text": answer}], None
    return None, f"answer {answer[:40]!r} is none of {', '.join(candidates)}"


def parse_raw(text: str) -> tuple[Items | None, str | None]:
    stripped = text.strip()
    return ([{"text": stripped}], None) if stripped else (None, "empty output")


PARSERS: dict[str, Callable[[str], tuple[Items | None, str | None]]] = {
    "ner": parse_ner,
    "qra": parse_qra,
    "raw": parse_raw,
}


@dataclass(frozen=True)
class Verdict:
    status: str  # ok | unparsed | truncated
    reason: str | None
    parsed: Items | None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def judge(
    text: str | None, finish_reason: str | None, parser: str, max_tokens: int, candidates: Sequence[str] | None = None
) -> Verdict:
    """The status of one teacher output. Truncated outputs keep what could be parsed of them.
    `candidates`: the task example's answers (parser task only)."""
    text = text or ""
    if not text.strip():
        if finish_reason == "length":
            return Verdict("truncated", f"hit max_tokens {max_tokens} with no text", None)
        return Verdict("unparsed", "empty output", None)
    if parser == "task":
        parsed, why = parse_task(text, candidates)
        if parsed is not None:  # the answer comes first: a cut after it loses nothing
            return Verdict("ok", None, parsed)
        return Verdict("truncated" if finish_reason == "length" else "unparsed", why, None)
    parsed, why = PARSERS[parser](text)
    if finish_reason == "length":
        return Verdict("truncated", f"hit max_tokens {max_tokens} before a stop string", parsed)
    if parsed is None:
        return Verdict("unparsed", why, None)
    return Verdict("ok", None, parsed)
