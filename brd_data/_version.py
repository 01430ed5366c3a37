"""The package version (its own module, so that version look-ups import nothing else of brd)."""

__version__ = "0.1.0"
