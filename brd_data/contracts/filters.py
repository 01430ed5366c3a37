"""The filter word lists views read (manifests/filters/*.yaml -> mix_filter_terms), kept current.

A view such as d_train_no_sent needs the sentiment terms in the store. Every run loads them when
the files differ from what the store holds (so a new store has them from its first command, and an
edited list reaches the store with the next command), and `brd mix build` / `brd mix sync` load
them too. The rows carry the run that loaded them.
"""

from __future__ import annotations

import sys

import pyarrow as pa

from ..store import Store, query
from .errors import UserError
from .schemas.mixture import FilterSpec, available_filters, load_filter


def sync_filters(st: Store, con, filters: list[FilterSpec], run_id: str) -> None:
    """Load the filter manifests' terms into mix_filter_terms (replacing what a filter had)."""
    for f in filters:
        con.execute(query("filters/delete"), {"filter": f.name})
        rows = [{**r, "run_id": run_id} for r in f.rows()]
        st.insert(con, "mix_filter_terms", pa.Table.from_pylist(rows))


def stale_filters(con) -> list[FilterSpec]:
    """The filter manifests whose file differs from what the store holds (or that it lacks)."""
    loaded = {name: h for name, h, _n in con.execute(query("filters/loaded")).fetchall()}
    filters = [load_filter(n) for n in available_filters()]
    return [f for f in filters if loaded.get(f.name) != f.file_hash]


def refresh_filters(st: Store, run_id: str) -> list[FilterSpec]:
    """Bring mix_filter_terms up to date for the run `run_id` (needs the writer lock). A filter
    file that cannot be read is reported and left as it was: the views that need it say so."""
    try:
        with st.connect() as con:
            stale = stale_filters(con)
        if stale:
            with st.transaction() as con:
                sync_filters(st, con, stale, run_id)
    except UserError as exc:
        print(f"warning: filters not loaded: {str(exc).splitlines()[0]}", file=sys.stderr, flush=True)
        return []
    return stale
