"""Does each row of a study's results stand for something of its own? A row trained on the same
rows as another (an ablation whose filter removed nothing on this corpus) is the other row again,
with at most a different row order: its scores differ only by training noise. The report says so,
and why, instead of printing it as a result.

Mixtures are compared by the digests of what the trainer reads (`content_hash`: the rows in any
order; `order_hash`: in order), which `brd mix build` writes into manifest.json; for a mixture
built before, they are computed here from its shards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from brd_data.contracts.identity import RowsDigest
from brd_data.store import Store, query

# Views whose rows differ from their base's only by the sentiment filter.
SENTIMENT_VIEWS = ("d_train_no_sent", "d_qra_no_sent")


@dataclass
class MixtureFacts:
    name: str
    rows: int
    tokens: int | None
    content_hash: str
    order_hash: str
    views: list[str]

    def summary(self) -> str:
        tokens = "?" if self.tokens is None else f"{self.tokens:,}"
        return f"{self.rows:,} rows, {tokens} tokens, content {self.content_hash}"


@dataclass
class Checks:
    mixtures: list[MixtureFacts] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # one line per row that is not distinct, and why

    @property
    def all_distinct(self) -> bool:
        return not self.notes

    def markdown(self) -> list[str]:
        lines = ["## Does every row differ?", ""]
        if self.mixtures:
            lines += [
                "| mixture | rows | tokens | content hash (any order) | order hash |",
                "|---|---:|---:|---|---|",
            ]
            for m in self.mixtures:
                tokens = "–" if m.tokens is None else f"{m.tokens:,}"
                lines.append(f"| {m.name} | {m.rows:,} | {tokens} | `{m.content_hash}` | `{m.order_hash}` |")
            lines.append("")
        if self.notes:
            lines += [f"- **{n}**" for n in self.notes]
        else:
            lines.append("Every row differs from the others in its model and its training data.")
        return lines + [""]


def mixture_facts(folder: Path) -> MixtureFacts | None:
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        return None
    m = json.loads(path.read_text(encoding="utf-8"))
    content, ordered = m.get("content_hash"), m.get("order_hash")
    if not content or not ordered:
        content, ordered = _digest_shards(Path(folder), m)
    views = [c["view"] for c in m.get("components", [])]
    return MixtureFacts(m["name"], int(m["rows"]), m.get("tokens"), content, ordered, views)


def _digest_shards(folder: Path, manifest: dict) -> tuple[str, str]:
    import pyarrow.parquet as pq

    columns = ["prompt", "completion"] if manifest.get("kind") == "sft" else ["text"]
    digest = RowsDigest()
    for shard in manifest.get("shards", []):
        table = pq.read_table(folder / shard["file"], columns=columns)
        digest.update(*(table.column(c).to_pylist() for c in columns))
    return digest.content, digest.ordered


def _why(store: Store, facts: MixtureFacts, same_as: MixtureFacts) -> str:
    """The reason two mixtures of different views hold the same rows on this store, when known."""
    if any(v in SENTIMENT_VIEWS for v in facts.views + same_as.views) and store.exists():
        with store.reader() as con:
            answers, changed, _items = con.execute(query("study/sentiment_removed")).fetchall()[0]
        return f"the sentiment filter removed {changed} of {answers} QRA answers"
    views = ", ".join(sorted(set(facts.views) ^ set(same_as.views))) or ", ".join(facts.views)
    return f"on this store the views {views} give the same rows"


def check_rows(store: Store, rows: list[tuple[str, str | None, Path | None, str | None]]) -> Checks:
    """`rows`: (label, mixture name or None, mixture folder or None, model fingerprint or None),
    in the table's order."""
    checks = Checks()
    facts: dict[str, MixtureFacts] = {}
    for _label, name, folder, _fp in rows:
        if name and folder and name not in facts:
            found = mixture_facts(folder)
            if found is not None:
                facts[name] = found
                checks.mixtures.append(found)
    seen_data: dict[str, tuple[str, MixtureFacts]] = {}
    seen_model: dict[str, str] = {}
    for label, name, _folder, fp in rows:
        if fp and fp in seen_model:
            checks.notes.append(f"{label}: the same model as {seen_model[fp]} (fingerprint {fp}); identical row")
            continue
        if fp:
            seen_model[fp] = label
        f = facts.get(name or "")
        if f is None:
            continue
        if f.content_hash in seen_data:
            first, other = seen_data[f.content_hash]
            order = "in the same order" if f.order_hash == other.order_hash else "in another order"
            checks.notes.append(
                f"{label}: {_why(store, f, other)}; its mixture {f.name} holds the same {f.rows:,} rows as "
                f"{other.name} ({first}), {order}: identical training data, so any difference in its scores "
                "is training noise"
            )
        else:
            seen_data[f.content_hash] = (label, f)
    return checks


def identical_scores(rows: list[tuple[str, list[float | None]]]) -> list[str]:
    """Rows whose every score equals an earlier row's (the scores cannot tell them apart)."""
    notes, seen = [], {}
    for label, vals in rows:
        key = tuple(None if v is None else round(v, 6) for v in vals)
        if all(v is None for v in key):
            continue
        if key in seen:
            notes.append(f"{label}: the same score as {seen[key]} on every task")
        else:
            seen[key] = label
    return notes
