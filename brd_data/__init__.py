"""brd_data: the dataset store, corpus ingestion, teacher annotation and mixtures.

For notebooks (docs/python-api.md):

    import brd_data as brd
    store = brd.open("brd-store")                  # read-only
    store.sql("select lang, count(*) from sentences group by lang").pl()
    ds = store.mixture("brd")                      # a datasets.Dataset
    ds = brd.load_mixture("mixtures/brd")

Importing this package is cheap: DuckDB, polars and datasets load when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

__all__ = ["QueryError", "ReadOnlyStore", "Result", "__version__", "load_mixture", "open"]

if TYPE_CHECKING:
    from .explore import QueryError, ReadOnlyStore, Result, load_mixture
    from .explore import open_store as open

_API = {name: name for name in __all__ if name != "__version__"} | {"open": "open_store"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from . import explore

        return getattr(explore, _API[name])
    raise AttributeError(f"module 'brd_data' has no attribute {name!r}")
