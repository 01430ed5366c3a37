"""Errors the store raises. Each message is one line meant for the user."""


class StoreError(Exception):
    """A store problem the user can act on (missing store, bad schema version, bad identifier)."""


class StoreLockedError(StoreError):
    """Another process holds the writer lock."""
