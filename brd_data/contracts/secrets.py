"""Secrets never reach the store, a log, a lineage file or the terminal.

Two kinds are redacted, wherever they appear in text brd writes:
- credentials inside URLs: `http://user:password@host/...` becomes `http://***@host/...`, and the
  value of a query parameter whose name says it is a secret (`?token=...`, `?api_key=...`,
  `?sig=...`) becomes `***`;
- values registered while brd runs (an API key read from --api-key-env, a URL's password), which
  are replaced by `***` in any text, however they got there (an exception message, a header echoed
  by a server).

`StageRun` redacts the config, inputs and error of every run; the CLI's error boundary redacts
every message it prints; the datatrove log of a run goes through `RedactingStream`.
"""

from __future__ import annotations

import io
import re
import threading
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

MASK = "***"
# query parameter names that hold credentials (AWS/GCS/Azure signed URLs included)
_SECRET_PARAM = re.compile(
    r"(?i)(token|key|secret|passw|pwd|auth|signature|^sig$|credential|session|x-amz-security|sas)"
)
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>`]+")
_known: set[str] = set()
_guard = threading.Lock()


def register(secret: str | None) -> None:
    """Redact `secret` from all text from now on (values under 4 characters are not registered:
    they would mask ordinary words)."""
    if secret and len(secret) >= 4:
        with _guard:
            _known.add(secret)
            if quote(secret, safe="") != secret:
                _known.add(quote(secret, safe=""))


def secret_param(name: str) -> bool:
    """Whether a URL query parameter of this name holds a credential (token, api_key, sig, ...)."""
    return bool(_SECRET_PARAM.search(name))


def has_credentials(url: str) -> bool:
    """Whether `url` carries a user, a password or a secret query parameter."""
    parts = urlsplit(url)
    return bool(parts.username or parts.password) or any(secret_param(k) for k, _ in parse_qsl(parts.query))


def redact_url(url: str) -> str:
    """`url` without its credentials: user:password@ becomes ***@, secret query values ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = []
        for piece in query.split("&"):
            key, sep, value = piece.partition("=")
            pairs.append(f"{key}={MASK}" if sep and secret_param(key) else piece)
        query = "&".join(pairs)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_match(m: re.Match) -> str:
    # punctuation after a URL in prose ("...:8000: refused", "(http://h/x).") is not part of it
    url = m.group(0)
    core = url.rstrip(".,;:!?)]}")
    return redact_url(core) + url[len(core) :]


def redact(text: str) -> str:
    """`text` with every URL's credentials and every registered secret replaced by ***."""
    if not text:
        return text
    if "://" in text:
        text = _URL.sub(_redact_match, text)
    with _guard:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_obj(value: Any) -> Any:
    """A copy of a JSON-like value with every string redacted (dict keys included)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_obj(k): redact_obj(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_obj(v) for v in value]
    return value


class RedactingStream(io.TextIOBase):
    """A text stream that writes to `target` what it is given, redacted, line by line (a secret
    split across two writes is still caught as long as it is not split across lines)."""

    def __init__(self, target):
        self.target = target
        self._buffer = ""

    def write(self, text: str) -> int:
        self._buffer += text
        if "\n" in self._buffer:
            head, _, self._buffer = self._buffer.rpartition("\n")
            self.target.write(redact(head) + "\n")
        return len(text)

    def flush(self) -> None:
        if self._buffer:
            self.target.write(redact(self._buffer))
            self._buffer = ""
        self.target.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        # for child processes handed this stream (their output goes to the file unfiltered)
        return self.target.fileno()


__all__ = [
    "MASK",
    "RedactingStream",
    "has_credentials",
    "redact",
    "redact_obj",
    "redact_url",
    "register",
    "secret_param",
]
