"""brd_data: the dataset store, corpus ingestion, teacher annotation and mixtures."""

from __future__ import annotations

__version__ = "0.1.0"
