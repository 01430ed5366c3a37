"""`brd mix build`: a mixture manifest and the store's views into a mixture folder.

DuckDB does the heavy lifting: it composes the passages (sql/views), joins the token-count cache
and sorts the rows, streaming Arrow batches within `memory_limit`. Python only tokenises the texts
it needs that the cache lacks (batched, in Rust), keeps per-source quotas, and cuts the stream into
Parquet shards.

Token counts (of the mixture's tokenizer: the student's, `--tokenizer`). A mixture stores text;
its counts are per tokenizer, cached in mix_token_counts by tokenizer fingerprint and text hash.
Tokenising is what a cold build of a large mixture spends its time on (bench/mix.py: 797 s of
899 s at 1M passages when every row was counted), so `--count-tokens auto` (the default) counts:
- every row whose count is not cached, up to TOKEN_SAMPLE_ROWS of them: a small mixture is counted
  exactly, and for a large one these rows are a random sample (the build order is seeded random);
- after that only the rows that need a count: every row of a source with a `tokens:` budget, and
  every row that could be longer than the length check's --max-length (a row never has more
  tokens than UTF-8 bytes + 1; the bound is checked on every counted row, and if it ever fails
  the build counts every row).
The rest are estimated: the manifest's `tokens` is then null and `token_count` holds the estimate
(the known tokens plus the uncounted rows' bytes times the sample's tokens per byte, with a 95%
interval) and the exact length check (rows over --max-length). `--count-tokens all` counts every
row. Token counts never change the rows, their order or the mixture hash.

Passages are composed window by window: ranges of the seeded passage key md5(seed:passage_id)
holding about `window_passages` passages each (the views read the range from the variables
brd_passage_key_lo / _hi), so memory is bounded by a window, not by the store.

Selection rules (what `sources`, `passages` and budgets mean):
- Row order: window by window (windows in key order; each a seeded random sample of passages),
  and within a window by md5(seed:unit_id:component), the key d_sentence_level sorts by. The
  same store and manifest give the same order, whatever the memory limit or thread count.
- `passages: N` keeps the store's N passages with the smallest keys, and their rows in the source
  views. Smaller N gives a subset of larger N. N above the store's passages is an error, never a
  silent truncation.
- One weighted source: all its rows. Several: each gets weight/total of the rows, as many as the
  scarcest source allows (the largest mixture with exactly those shares); a source with weight 0
  contributes nothing. The rows taken are the first in the build order.
- `tokens: B`: rows of that source in the build order until B tokens are reached (the row that
  crosses B is kept). A budget larger than the source's tokens is an error.
- An empty source is an error. Sources whose rows overlap (same component) are an error.
- `corpus:` keeps the passages of the matching ingested sources only (variable
  brd_corpus_sources, read by passage_sentences); matching no source is an error.
- `kind: sft`: the source views hold prompt/completion rows (task examples, not passages), read
  in one window; the shards hold `prompt` and `completion` instead of `text`, and token counts
  are those of prompt + completion.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import shutil
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..contracts import paper
from ..contracts.choices import TOKEN_SAMPLE_ROWS, CountTokens, check_choice
from ..contracts.errors import UserError
from ..contracts.filters import sync_filters
from ..contracts.identity import RowsDigest, code_version, file_sha256
from ..contracts.outputs import OutputKind, check_replaceable, mark, remove, sibling, swap
from ..contracts.prompt_versions import link_old_hashes, versions_of
from ..contracts.runs import StageRun
from ..contracts.schemas.mixture import (
    FORMAT_VERSION,
    FilterSpec,
    MixtureSpec,
    Source,
    available_filters,
    load_filter,
)
from ..store import Store, query
from ..store.sqlfiles import run_sql
from .shards import LM_SCHEMA, SFT_SCHEMA, Shard, ShardWriter
from .tokens import TokenCounter, load_token_counter

# Columns every source view must have (the d_* views' lineage contract), by mixture kind.
LINEAGE_COLUMNS = ("passage_id", "unit_id", "component", "run_ids", "prompt_hashes", "teacher_fingerprints")
REQUIRED_COLUMNS = ("text", *LINEAGE_COLUMNS)
# sft views hold text = prompt || completion too: it is what token counts measure.
_HEX16 = re.compile(r"^[0-9a-f]{16}$")
KIND_COLUMNS = {"lm": REQUIRED_COLUMNS, "sft": ("prompt", "completion", *REQUIRED_COLUMNS)}
KIND_SCHEMA = {"lm": LM_SCHEMA, "sft": SFT_SCHEMA}
_ALL_KEYS = (0, 2**128 - 1)
EXACT_ROWS = TOKEN_SAMPLE_ROWS
_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")


class MixError(UserError):
    """A mixture that cannot be built from this store; one line, naming the source or option."""


@dataclass(frozen=True)
class BuildOptions:
    memory_limit: str = "1GB"  # DuckDB's limit; it spills to OUT/.duckdb-tmp beyond it
    threads: int | None = None  # DuckDB threads (default: all cores)
    batch_rows: int = 8192
    row_group_rows: int = 10_000
    progress: bool = True
    count_tokens: str = CountTokens.AUTO.value
    exact_rows: int = EXACT_ROWS  # auto: uncached rows counted before the build counts only what it must
    max_length: int = paper.MAX_LENGTH  # the length check: rows longer than this many tokens

    def __post_init__(self) -> None:
        if not _MEMORY.match(self.memory_limit):
            raise MixError(f"--memory-limit {self.memory_limit!r}: use a size such as 800MB or 2GB")
        if self.threads is not None and self.threads < 1:
            raise MixError(f"--threads must be at least 1, got {self.threads}")
        if self.exact_rows < 1 or self.max_length < 1:
            raise MixError(f"exact_rows and --max-length must be at least 1, got {self.exact_rows}, {self.max_length}")
        object.__setattr__(self, "count_tokens", check_choice(CountTokens, self.count_tokens, "--count-tokens"))


@dataclass
class SourcePlan:
    source: Source
    components: frozenset[str] | None = None  # known after the key pass (several sources)
    available: int | None = None  # rows in the store (several sources)
    quota: int | None = None  # rows to take (weights); None: all
    rows: int = 0
    tokens: int = 0  # of the rows whose count is known
    uncounted_rows: int = 0  # rows whose count the build did not need (auto, large mixtures)
    uncounted_bytes: int = 0
    by_component: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: {"rows": 0, "tokens": 0, "uncounted_rows": 0})
    )

    @property
    def view(self) -> str:
        return self.source.view


@dataclass
class BuildResult:
    out: Path
    manifest: dict[str, Any]
    seconds: float
    tokenised_rows: int
    tokenise_seconds: float


# -- planning -----------------------------------------------------------------------------------


def sync_all_filters(st: Store) -> list[FilterSpec]:
    """`brd mix sync`: every filter manifest (manifests/filters) into the store, as one run."""
    filters = [load_filter(n) for n in available_filters()]
    config = {"filters": {f.name: f.file_hash for f in filters}}
    with st.writer("mix sync"), StageRun(st, "mix sync", config) as run:
        with st.transaction() as con:
            sync_filters(st, con, filters, run.run_id)
    return filters


def check_views(st: Store, con, spec: MixtureSpec) -> None:
    views = st.catalogue(con, kinds=("view",))
    required = KIND_COLUMNS[spec.kind]
    for s in spec.sources:
        if s.view not in views:
            valid = sorted(v for v in views if v.startswith("d_"))
            raise MixError(
                f"{spec.name}: unknown view {s.view!r}; valid: {', '.join(valid)} "
                f"(or any view with the columns {', '.join(required)})"
            )
        st.check_identifier(con, s.view, kinds=("view", "table"))
        cols = {r[0] for r in con.execute(query("mix/view_columns"), {"name": s.view}).fetchall()}
        missing = [c for c in required if c not in cols]
        if missing:
            raise MixError(
                f"{spec.name}: view {s.view} lacks column(s) {', '.join(missing)}"
                f" (a kind {spec.kind} mixture needs {', '.join(required)})"
            )


def resolve_corpus(con, spec: MixtureSpec) -> list[dict[str, str]]:
    """The ingested sources a `corpus:` filter keeps (none set: [])."""
    if spec.corpus is None:
        return []
    sources = [dict(zip(("source_id", "path", "run_id"), r)) for r in con.execute(query("corpus/sources")).fetchall()]
    kept = [s for s in sources if spec.corpus.matches(s["path"], s["run_id"])]
    if not kept:
        known = ", ".join(sorted({s["path"] for s in sources})[:10]) or "none"
        raise MixError(f"{spec.name}: corpus {spec.corpus.resolved()} matches no ingested source; sources: {known}")
    return kept


def check_pins(con, spec: MixtureSpec) -> None:
    if spec.teacher is None and not any(spec.prompts.values()):
        return
    known = con.execute(query("mix/known_pins")).fetchall()
    if spec.teacher is not None:
        teachers = sorted({t for _, t, _, _ in known})
        if spec.teacher not in teachers:
            raise MixError(
                f"{spec.name}: teacher {spec.teacher} has no annotations in this store; "
                f"known: {', '.join(teachers) or 'none'}"
            )
    for behaviour, h in spec.prompts.items():
        if h is None:
            continue
        hashes = sorted({p for b, _, p, _ in known if b == behaviour})
        if not versions_of(con, h) & set(hashes):  # the hash, or the same prompt under its pre-070 hash
            raise MixError(
                f"{spec.name}: prompts.{behaviour} {h} has no {behaviour} annotations in this store; "
                f"known: {', '.join(hashes) or 'none'}"
            )


def set_variables(con, spec: MixtureSpec, corpus: list[dict[str, str]] = ()) -> None:
    """The view variables a mixture sets: delimiter, seed, pins and corpus (sql/views headers)."""
    params = {
        "sep": spec.delimiter,
        "seed": spec.seed,
        # doc_id, hence passage_id, starts with source_id[:16]
        "corpus_sources": [s["source_id"][:16] for s in corpus] if corpus else None,
        "teacher": spec.teacher,
        "ner_prompt": spec.prompts.get("ner"),
        "qra_prompt": spec.prompts.get("qra"),
    }
    run_sql(con, query("mix/set_variables"), params).fetchall()


def passage_windows(con, spec: MixtureSpec) -> list[tuple[int, int]]:
    """The build composes passages window by window: ranges of the seeded passage key
    md5_number(seed:passage_id), about `window_passages` passages each, so DuckDB's memory is
    bounded by the window, not the store. With `passages: N`, the windows cover the N passages
    of the store with the smallest keys (its N-th key is the upper bound)."""
    if spec.kind == "sft":
        return [_ALL_KEYS]  # task examples: one window (the views read no passages)
    n_store = con.execute(query("mix/count_passages")).fetchall()[0][0]
    top = 2**128 - 1
    n = n_store
    if spec.passages is not None:
        if spec.passages > n_store:
            raise MixError(
                f"{spec.name}: passages {spec.passages} is more than the {n_store} passages in this store"
                f"{' (corpus)' if spec.corpus else ''}; "
                "lower `passages` or add data (no silent truncation)"
            )
        threshold = con.execute(query("mix/passage_threshold"), {"seed": spec.seed, "n": spec.passages}).fetchall()[0][
            0
        ]
        top, n = int(threshold), spec.passages
    k = max(1, -(-n // spec.window_passages))
    return [(i * (top + 1) // k, (i + 1) * (top + 1) // k - 1) for i in range(k)]


def set_window(con, window: tuple[int, int]) -> None:
    run_sql(con, query("mix/set_window"), {"lo": str(window[0]), "hi": str(window[1])}).fetchall()


def plan_sources(con, spec: MixtureSpec, windows: list[tuple[int, int]]) -> list[SourcePlan]:
    """Quotas for weighted sources. One source: all rows, no key pass. Several: a key-only pass per
    window counts each source's rows by component (no text leaves DuckDB)."""
    plans = [SourcePlan(s) for s in spec.sources]
    if len(plans) == 1:
        return plans
    counts: dict[str, dict[str, int]] = {p.view: defaultdict(int) for p in plans}
    for window in windows:
        set_window(con, window)
        for p in plans:
            for component, n_rows in con.execute(query("mix/source_components"), {"view": p.view}).fetchall():
                counts[p.view][component] += n_rows
    owner: dict[str, str] = {}
    for p in plans:
        p.components = frozenset(counts[p.view])
        p.available = sum(counts[p.view].values())
        for c in sorted(p.components):
            if c in owner:
                raise MixError(
                    f"{spec.name}: sources {owner[c]} and {p.view} both hold {c} rows; "
                    "a row may come from one source only"
                )
            owner[c] = p.view
        if p.available == 0:
            raise MixError(f"{spec.name}: source {p.view} is empty in this store")
    weighted = [p for p in plans if p.source.tokens is None]
    total_weight = sum(p.source.share for p in weighted)
    # The largest total T with every share w/W * T within the source's rows.
    total = min(p.available * total_weight / p.source.share for p in weighted if p.source.share > 0)
    for p in weighted:
        p.quota = int(total * p.source.share / total_weight)
    return plans


# -- export -------------------------------------------------------------------------------------


class _Stream:
    """Applies quotas and budgets to the ordered rows (vectorised per batch), fills in the token
    counts the build needs and the cache lacks, and tallies lineage."""

    def __init__(self, plans: list[SourcePlan], counter: TokenCounter, opts: BuildOptions = BuildOptions()):
        self.plans = plans
        self.counter = counter
        self.opts = opts
        self.new_counts_parts: list[pa.Table] = []
        self.tokenised_rows = 0
        self.tokenise_seconds = 0.0
        self.run_ids: set[str] = set()
        self.prompt_hashes: set[str] = set()
        self.teachers: set[str] = set()
        self.exact = opts.count_tokens == CountTokens.ALL or any(p.source.tokens is not None for p in plans)
        self.budget_components = frozenset().union(*(p.components or () for p in plans if p.source.tokens is not None))
        # the first `exact_rows` uncached rows (a random sample: the build order is seeded random)
        self.sample_tokens: list[np.ndarray] = []
        self.sample_bytes: list[np.ndarray] = []
        self.sampled = 0
        self.bound_holds = True  # tokens <= UTF-8 bytes + 1, checked on every counted row
        self.rows_over = 0
        self.longest = 0
        self.digest = RowsDigest()  # what the trainer reads, to tell mixtures of the same data apart
        self.languages: dict[str, int] = defaultdict(int)  # rows per language (views with a `lang`)
        self.source_prefixes: set[str] = set()  # a passage id starts with its source's sha256[:16]

    def tokens(self, batch: pa.RecordBatch) -> np.ndarray:
        """Each row's token count; -1 where the build did not need it (auto mode, past the sample,
        a row too short to exceed --max-length and outside any token budget)."""
        n_tokens = batch.column("n_tokens")
        missing = pc.is_null(n_tokens).to_numpy(zero_copy_only=False)
        filled = pc.fill_null(n_tokens, 0).cast(pa.int64()).to_numpy(zero_copy_only=False).copy()
        if not missing.any():
            return filled
        nbytes = pc.binary_length(batch.column("text")).cast(pa.int64()).to_numpy(zero_copy_only=False)
        if self.exact or not self.bound_holds:
            need, sampled = missing, np.zeros_like(missing)
        else:
            # the sample: the first uncached rows, up to exact_rows in all (the build order is random)
            sampled = missing & (np.cumsum(missing) <= self.opts.exact_rows - self.sampled)
            # and the rows that could be longer than max_length, and those a token budget selects by count
            need = sampled | (missing & (nbytes + 1 > self.opts.max_length))
            if self.budget_components:
                need |= missing & pc.is_in(
                    batch.column("component"), pa.array(sorted(self.budget_components))
                ).to_numpy(zero_copy_only=False)
        if need.any():
            started = time.monotonic()
            mask = pa.array(need)
            texts = pc.filter(batch.column("text"), mask).to_pylist()
            counts = np.asarray(self.counter.count(texts), dtype=np.int64)
            self.tokenise_seconds += time.monotonic() - started
            self.tokenised_rows += len(texts)
            filled[need] = counts
            if (counts > nbytes[need] + 1).any():
                self.bound_holds = False  # this tokenizer can exceed one token per byte: count every row
            in_sample = sampled[need]
            if in_sample.any():
                self.sample_tokens.append(counts[in_sample])
                self.sample_bytes.append(nbytes[need][in_sample])
                self.sampled += int(in_sample.sum())
            self.new_counts_parts.append(
                pa.table(
                    {
                        "text_key_hi": pc.filter(batch.column("text_key_hi"), mask),
                        "text_key_lo": pc.filter(batch.column("text_key_lo"), mask),
                        "n_tokens": pa.array(counts, pa.int32()),
                    }
                )
            )
        filled[missing & ~need] = -1
        self._nbytes = nbytes
        return filled

    def select(self, batch: pa.RecordBatch) -> pa.RecordBatch | None:
        """Keep the rows within their source's quota or budget; tally what is kept."""
        self._nbytes = None
        tokens = self.tokens(batch)
        known = tokens >= 0
        counted = np.where(known, tokens, 0)
        component = batch.column("component")
        keep = np.zeros(batch.num_rows, dtype=bool)
        for p in self.plans:
            mine = (
                np.ones(batch.num_rows, dtype=bool)
                if p.components is None
                else pc.is_in(component, pa.array(sorted(p.components))).to_numpy(zero_copy_only=False)
            )
            if p.quota is not None:
                mine &= np.cumsum(mine) <= p.quota - p.rows
            if p.source.tokens is not None:  # every row of a budget source is counted
                # keep rows while the tokens before them are under the budget (the crossing row is kept)
                before = np.cumsum(np.where(mine, counted, 0)) - counted
                mine &= before < p.source.tokens - p.tokens
            p.rows += int(mine.sum())
            p.tokens += int(counted[mine].sum())
            unknown = mine & ~known
            if unknown.any():
                p.uncounted_rows += int(unknown.sum())
                p.uncounted_bytes += int(self._nbytes[unknown].sum())
            tally = pa.table({"component": component, "n": counted, "u": (~known).astype(np.int64)}).filter(
                pa.array(mine)
            )
            for row in tally.group_by("component").aggregate([("n", "count"), ("n", "sum"), ("u", "sum")]).to_pylist():
                part = p.by_component[row["component"]]
                part["rows"] += row["n_count"]
                part["tokens"] += row["n_sum"]
                part["uncounted_rows"] += row["u_sum"]
            keep |= mine
        kept_known = tokens[keep & known]
        if kept_known.size:
            self.rows_over += int((kept_known > self.opts.max_length).sum())
            self.longest = max(self.longest, int(kept_known.max()))
        if not keep.any():
            return None
        kept = batch.filter(pa.array(keep))
        trained = ("prompt", "completion") if "prompt" in kept.schema.names else ("text",)
        if "passage_id" in kept.schema.names:
            prefixes = pc.unique(pc.utf8_slice_codeunits(kept.column("passage_id"), 0, 16)).to_pylist()
            self.source_prefixes.update(p for p in prefixes if p and _HEX16.match(p))
        if "lang" in kept.schema.names:
            for row in pa.Table.from_batches([kept]).group_by("lang").aggregate([("lang", "count")]).to_pylist():
                self.languages[row["lang"] or "und"] += row["lang_count"]
        self.digest.update(*(kept.column(c).to_pylist() for c in trained))
        for col, acc in (
            ("run_ids", self.run_ids),
            ("prompt_hashes", self.prompt_hashes),
            ("teacher_fingerprints", self.teachers),
        ):
            acc.update(v for v in pc.unique(pc.list_flatten(kept.column(col))).to_pylist() if v is not None)
        return kept

    def token_count(self) -> dict[str, Any]:
        """The manifest's `token_count`: exact totals, or, where the build counted a sample, an
        estimate of the uncounted rows' tokens by the ratio tokens/byte of the sampled rows short
        enough to be left uncounted (a ratio estimator, with its 95% interval), and the exact
        length check either way (a row never has more tokens than UTF-8 bytes + 1: checked on
        every counted row; where it fails, every row is counted)."""
        rows = sum(p.rows for p in self.plans)
        known = sum(p.tokens for p in self.plans)
        u_rows = sum(p.uncounted_rows for p in self.plans)
        u_bytes = sum(p.uncounted_bytes for p in self.plans)
        out: dict[str, Any] = {
            "method": "exact" if u_rows == 0 else "estimated",
            "rows": rows,
            "counted_rows": rows - u_rows,
            "tokenised_rows": self.tokenised_rows,
            "length_check": {
                "max_length": self.opts.max_length,
                "rows_over": self.rows_over,
                "longest_counted": self.longest,
                "bound": "tokens <= UTF-8 bytes + 1" + ("" if self.bound_holds else " (failed: every row counted)"),
            },
        }
        if u_rows == 0:
            return {**out, "tokens": known}
        t = np.concatenate(self.sample_tokens).astype(np.float64)
        b = np.concatenate(self.sample_bytes).astype(np.float64)
        short = b + 1 <= self.opts.max_length
        t, b = t[short], b[short]
        ratio = t.sum() / b.sum()
        resid = t - ratio * b
        mean_b = b.mean()
        # SE of the ratio times the uncounted bytes (finite population ignored: the sample is small)
        se = u_bytes * math.sqrt(resid.var(ddof=1) / len(t)) / mean_b if len(t) > 1 else float("nan")
        est = known + ratio * u_bytes
        return {
            **out,
            "tokens": None,
            "estimate": round(est),
            "interval95": [round(est - 1.96 * se), round(est + 1.96 * se)],
            "sample_rows": int(len(t)),
            "tokens_per_byte": round(float(ratio), 6),
        }

    def new_counts(self) -> pa.Table:
        if not self.new_counts_parts:
            return pa.table(
                {
                    "text_key_hi": pa.array([], pa.uint64()),
                    "text_key_lo": pa.array([], pa.uint64()),
                    "n_tokens": pa.array([], pa.int32()),
                }
            )
        return pa.concat_tables(self.new_counts_parts)


def _progress(enabled: bool, total: int | None, desc: str):
    from tqdm import tqdm

    # disable=None: no bar when stderr is not a terminal
    return tqdm(total=total, desc=desc, unit="rows", disable=None if enabled else True, leave=False, mininterval=1.0)


def export_rows(
    con,
    spec: MixtureSpec,
    plans: list[SourcePlan],
    windows: list[tuple[int, int]],
    counter: TokenCounter,
    out: Path,
    opts: BuildOptions,
) -> tuple[list[Shard], _Stream]:
    """Stream every window's rows, in order, through the quotas and the token counter into shards."""
    params = {"views": [p.view for p in plans], "seed": spec.seed, "tokenizer": counter.fingerprint}
    stream = _Stream(plans, counter, opts)
    writer = ShardWriter(out, KIND_SCHEMA[spec.kind], shard_rows=spec.shard_rows, row_group_rows=opts.row_group_rows)
    expected = sum(p.quota for p in plans if p.quota is not None) if all(p.quota is not None for p in plans) else None
    try:
        with _progress(opts.progress, expected, f"mix {spec.name}") as bar:
            for window in windows:
                set_window(con, window)
                for batch in con.sql(query("mix/rows"), params=params).to_arrow_reader(opts.batch_rows):
                    kept = stream.select(batch)
                    if kept is not None:
                        writer.write(pa.Table.from_batches([kept]))
                        bar.update(kept.num_rows)
        shards = writer.finish()
    except BaseException:
        writer.abort()
        raise
    for p in plans:
        if p.rows == 0:
            raise MixError(
                f"{spec.name}: source {p.view} is empty in this store"
                + (
                    " (no usable annotations? see passage_coverage)"
                    if p.view != "d_ori" and spec.kind == "lm"
                    else " (load task examples with `brd tasks load`)"
                    if spec.kind == "sft"
                    else ""
                )
            )
        if p.source.tokens is not None and p.tokens < p.source.tokens:
            raise MixError(
                f"{spec.name}: source {p.view} has {p.tokens} tokens, less than its budget "
                f"{p.source.tokens}; lower `tokens` (no silent truncation)"
            )
    return shards, stream


# -- the command ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _memory_errors(spec: MixtureSpec, opts: BuildOptions):
    import duckdb

    try:
        yield
    except duckdb.OutOfMemoryException:
        raise MixError(
            f"{spec.name}: DuckDB ran out of memory at --memory-limit {opts.memory_limit}; raise it, "
            f"or lower --window-passages (now {spec.window_passages})"
        ) from None


def _configure(con, opts: BuildOptions, tmp: Path) -> None:
    run_sql(
        con, query("mix/build_settings"), {"memory_limit": opts.memory_limit, "temp_directory": str(tmp)}
    ).fetchall()
    if opts.threads:
        con.execute(query("mix/build_threads"), {"threads": opts.threads})


def legacy_mixture(folder: Path) -> bool:
    """A mixture folder built before ownership markers: its manifest.json and the shards it lists,
    nothing else."""
    try:
        m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(m, dict) or m.get("format_version") != FORMAT_VERSION or "build_run_id" not in m:
        return False
    if not {p.name for p in folder.iterdir()} <= {"manifest.json", "data"}:
        return False
    shards = {str(s.get("file")) for s in m.get("shards", []) if isinstance(s, dict)}
    data = folder / "data"
    found = {p.relative_to(folder).as_posix() for p in data.rglob("*")} if data.is_dir() else set()
    return found <= shards


def _check_out(out: Path) -> None:
    check_replaceable(out, OutputKind.MIXTURE, legacy_mixture, "--out")


def _manifest(
    spec: MixtureSpec,
    st: Store,
    counter: TokenCounter,
    plans: list[SourcePlan],
    shards: list[Shard],
    stream: _Stream,
    filters: list[FilterSpec],
    run_id: str,
    corpus: list[dict[str, str]] = (),
    corpus_files: list[dict[str, Any]] = (),
) -> dict[str, Any]:
    rows = sum(p.rows for p in plans)
    token_count = stream.token_count()
    content = {"config": spec.resolved(), "tokenizer": counter.fingerprint, "shards": [s.sha256 for s in shards]}
    mixture_hash = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
    return {
        "format_version": FORMAT_VERSION,
        "name": spec.name,
        "kind": spec.kind,
        "description": spec.description,
        "mixture_hash": mixture_hash,
        "config_hash": spec.config_hash,
        "tokenizer": counter.name,
        "tokenizer_fingerprint": counter.fingerprint,
        "delimiter": spec.delimiter,
        "seed": spec.seed,
        "passages": spec.passages,
        "window_passages": spec.window_passages,
        "pins": {"teacher": spec.teacher, **{f"{b}_prompt": spec.prompts.get(b) for b in ("ner", "qra")}},
        "components": [
            {
                "view": p.view,
                "weight": p.source.weight if p.source.tokens is None else None,
                "tokens_budget": p.source.tokens,
                "rows": p.rows,
                "tokens": None if p.uncounted_rows else p.tokens,
                "uncounted_rows": p.uncounted_rows,
                "by_component": {
                    c: {**v, "tokens": None if v["uncounted_rows"] else v["tokens"]}
                    for c, v in sorted(p.by_component.items())
                },
            }
            for p in plans
        ],
        "rows": rows,
        "tokens": token_count["tokens"],  # exact, or null where the build estimated them (token_count)
        "token_count": token_count,
        # the training rows' digests (contracts.identity.RowsDigest): same content = same data
        "content_hash": stream.digest.content,
        "order_hash": stream.digest.ordered,
        "languages": dict(sorted(stream.languages.items())),
        "corpus_files": corpus_files,
        "shards": [{"file": s.file, "rows": s.rows, "sha256": s.sha256} for s in shards],
        "source_run_ids": sorted(stream.run_ids),
        "prompt_hashes": sorted(stream.prompt_hashes),
        "teacher_fingerprints": sorted(stream.teachers),
        "filters": {f.name: f.file_hash for f in filters},
        **({"corpus": {**spec.corpus.resolved(), "sources": list(corpus)}} if spec.corpus else {}),
        "manifest_file": spec.source_file,
        "code_version": code_version(),
        "store": str(st.root.resolve()),
        "build_run_id": run_id,
    }


def build_mixture(st: Store, spec: MixtureSpec, out: Path, opts: BuildOptions = BuildOptions()) -> BuildResult:
    """Build `spec` from the store into `out` (replacing a mixture folder there)."""
    started = time.monotonic()
    out = Path(out)
    _check_out(out)
    counter = load_token_counter(spec.tokenizer)
    filters = [load_filter(n) for n in available_filters()]
    # written beside --out, marked as brd's, and renamed into place when complete
    tmp = sibling(out, "building")
    tmp.mkdir(parents=True)
    mark(tmp, OutputKind.MIXTURE)
    config = {
        "mixture": spec.resolved(),
        "out": str(out),
        "tokenizer_fingerprint": counter.fingerprint,
        "memory_limit": opts.memory_limit,
    }
    inputs = [{"path": spec.source_file, "sha256": file_sha256(spec.source_file)}] if spec.source_file else []
    try:
        with st.writer("mix build"), StageRun(st, "mix build", config, inputs) as run:
            with st.transaction() as con:
                sync_filters(st, con, filters, run.run_id)
                link_old_hashes(con)  # pins of prompt hashes from before migration 070
            # Read through a read-only connection: `brd sql` keeps working during a long build.
            with Store(st.root).reader() as con, _memory_errors(spec, opts):
                _configure(con, opts, tmp / ".duckdb-tmp")
                check_views(st, con, spec)
                check_pins(con, spec)
                corpus = resolve_corpus(con, spec)
                set_variables(con, spec, corpus)
                windows = passage_windows(con, spec)
                plans = plan_sources(con, spec, windows)
                shards, stream = export_rows(con, spec, plans, windows, counter, tmp, opts)
                files = source_files(con, stream.source_prefixes)
                teachers, prompts = teachers_and_prompts(con, stream)
            shutil.rmtree(tmp / ".duckdb-tmp", ignore_errors=True)
            manifest = _manifest(spec, st, counter, plans, shards, stream, filters, run.run_id, corpus, files)
            manifest.update(teachers=teachers, prompts=prompts)
            (tmp / "manifest.json").write_text(
                json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
            )
            swap(tmp, out, OutputKind.MIXTURE, legacy_mixture, "--out")
            with st.transaction() as con:
                con.register("new_token_counts", stream.new_counts())
                con.execute(query("mix/insert_token_counts"), {"tokenizer": counter.fingerprint})
                con.unregister("new_token_counts")
                record = {
                    "build_id": run.run_id,
                    "name": spec.name,
                    "mixture_hash": manifest["mixture_hash"],
                    "out_dir": str(out.resolve()),
                    "rows": manifest["rows"],
                    "tokens": manifest["tokens"],
                    "tokens_estimate": manifest["token_count"].get("estimate", manifest["tokens"]),
                    "manifest": json.dumps(manifest),
                }
                run_sql(con, query("mix/record_mixture"), record).fetchall()
                run.add_counts(
                    rows=manifest["rows"],
                    tokens=manifest["token_count"].get("estimate", manifest["tokens"]),
                    tokens_exact=manifest["tokens"] is not None,
                    shards=len(shards),
                    tokenised_rows=stream.tokenised_rows,
                )
                run.finish("succeeded", con=con)
    finally:
        remove(tmp)  # a failed build leaves nothing beside --out
    return BuildResult(out, manifest, time.monotonic() - started, stream.tokenised_rows, stream.tokenise_seconds)


def source_files(con, prefixes: set[str]) -> list[dict[str, Any]]:
    """The ingested files the mixture's passages come from: name, sha256, format, language, size
    (for the dataset card: its source corpus and languages)."""
    if not prefixes:
        return []
    rows = con.execute(query("mix/sources_by_prefix"), {"prefixes": sorted(prefixes)}).fetchall()
    return [
        {"file": Path(path).name, "sha256": sid, "format": fmt, "lang": lang, "size_bytes": size}
        for sid, path, fmt, lang, size in rows
    ]


def teachers_and_prompts(con, stream: _Stream) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """The teachers (fingerprint -> name: a hub id, or a local folder's name) and the prompts
    (hash -> what the teacher was sent) behind the mixture's rows, so that a dataset card can say
    them without the store."""
    from ..contracts.cards import public_name
    from ..contracts.schemas.prompt import sent_text

    teachers = {fp: "" for fp in sorted(stream.teachers)}
    if teachers:
        for fp, name in con.execute(query("mix/teachers_by_fingerprint"), {"fingerprints": list(teachers)}).fetchall():
            teachers[fp] = public_name(name)
    prompts: dict[str, dict[str, Any]] = {}
    if stream.prompt_hashes:
        rows = con.execute(query("mix/prompts_by_hash"), {"hashes": sorted(stream.prompt_hashes)}).fetchall()
        for h, behaviour, name, text, _source in rows:
            prompts[h] = {"name": name, **sent_text(text or ""), "behaviour": behaviour}
    return teachers, prompts
