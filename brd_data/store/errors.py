"""Errors the store raises, and the root of every error brd reports to the user as one line.

`UserError` lives here because the store is the foundation every other module builds on; the rest
of brd imports it through `brd_data.contracts`. Anything that is not a `UserError` is a bug."""


class UserError(Exception):
    """A problem the user can act on: bad input, a missing file, a locked store, a full disk.

    The CLI prints its message as one line (`error: ...`) and exits non-zero."""


class StoreError(UserError):
    """A store problem the user can act on (missing store, bad schema version, bad identifier)."""


class StoreLockedError(StoreError):
    """Another process holds the writer lock."""
