"""Passages: N consecutive sentences of one document, in order, never across documents."""

from __future__ import annotations

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from .documents import is_marker


def chunk_positions(n_sentences: int, size: int) -> list[list[int]]:
    """[[0, 1, 2], [3, 4, 5], [6]]: the last passage of a document may be shorter."""
    return [list(range(i, min(i + size, n_sentences))) for i in range(0, n_sentences, size)]


class PassageBuilder(PipelineStep):
    name = "🧱 passage builder"
    type = "🔻 - PASSAGES"

    def __init__(self, sentences_per_passage: int = 3):
        super().__init__()
        if sentences_per_passage < 1:
            raise ValueError("sentences_per_passage must be at least 1")
        self.size = sentences_per_passage

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        n = 0
        for doc in data:
            if not is_marker(doc):
                doc.metadata["passages"] = chunk_positions(len(doc.metadata["sentences"]), self.size)
                n += len(doc.metadata["passages"])
            yield doc
        self.stat_update("passages", value=n)
