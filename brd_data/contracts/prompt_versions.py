"""Prompt versions across the change of prompt hash (migration 070).

A prompt's hash is the sha256 of what reaches the teacher (Prompt.request_identity). Stores made
before keyed prompts by the sha256 of the prompt file's bytes; their `prompts` rows keep that hash
and the full file text. `link_old_hashes` parses that text again and records the request hash it
gives, so an old row and a new one that sent the same request are one prompt version: annotate
skips what either answered, and a mixture pin of either hash finds both (the SQL macro
same_prompt_version). A row whose text no longer parses is linked to itself: it stays its own
version. Run under the writer lock (annotate and mix build do)."""

from __future__ import annotations

from ..store import query
from .schemas.prompt import PromptError, parse_prompt_text


def link_old_hashes(con) -> int:
    """Link every unlinked `prompts` row to its request hash; returns how many were linked."""
    rows = con.execute(query("prompts/unlinked")).fetchall()
    for prompt_hash, name, text in rows:
        try:
            linked = parse_prompt_text(text, name, f"prompts row {prompt_hash}").request_hash()
        except PromptError:
            linked = prompt_hash
        con.execute(query("prompts/link"), {"prompt_hash": prompt_hash, "request_hash": linked})
    return len(rows)


def versions_of(con, prompt_hash: str) -> set[str]:
    """Every stored hash that is the same prompt version as `prompt_hash` (itself included)."""
    return {r[0] for r in con.execute(query("prompts/versions_of"), {"prompt_hash": prompt_hash}).fetchall()}
