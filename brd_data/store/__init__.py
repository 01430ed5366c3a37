"""The dataset store: DuckDB tables with lineage, the writer lock, migrations and SQL loading."""

from .errors import StoreError, StoreLockedError
from .runs import Run
from .sqlfiles import query
from .store import DEFAULT_STORE, Store, resolve_store_path

__all__ = ["DEFAULT_STORE", "Run", "Store", "StoreError", "StoreLockedError", "query", "resolve_store_path"]
