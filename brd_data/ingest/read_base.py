"""What the corpus readers share: file sharding across ranks, decompression, progress, limits."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import sys
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from tqdm import tqdm

from .documents import QuarantineItem, file_end
from .inputs import InputFile

# Errors a damaged compressed or binary file raises while it is read.
READ_ERRORS = (EOFError, lzma.LZMAError, gzip.BadGzipFile, zlib.error, OSError, ValueError)


class FileReadError(Exception):
    """The file cannot be read to its end; `offset` is the compressed byte offset reached."""

    def __init__(self, reason: str, offset: int):
        super().__init__(reason)
        self.reason = reason
        self.offset = offset


def open_decompressed(raw: BinaryIO, path: str) -> BinaryIO:
    name = path.lower()
    if name.endswith(".xz"):
        return io.BufferedReader(lzma.LZMAFile(raw), buffer_size=1 << 20)
    if name.endswith(".gz"):
        return io.BufferedReader(gzip.GzipFile(fileobj=raw), buffer_size=1 << 20)
    if name.endswith(".bz2"):
        return io.BufferedReader(bz2.BZ2File(raw), buffer_size=1 << 20)
    return raw


def describe(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "compressed stream ends early (truncated file)"
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


class FileReader(PipelineStep):
    """Base of the corpus readers: yields Documents then a `file_end` marker for each file."""

    type = "📖 - READER"
    formats: tuple[str, ...] = ()

    def __init__(self, files: list[InputFile], limit_docs: int = -1, progress: bool = True):
        super().__init__()
        self.files = [f for f in files if f.format in self.formats]
        self.limit_docs = limit_docs
        self.progress = progress
        self._emitted = 0

    def read_file(self, f: InputFile, raw: BinaryIO, quarantine: list[QuarantineItem]) -> Iterator[Document]:
        raise NotImplementedError

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        mine = self.files[rank::world_size]
        total = sum(f.size for f in mine)
        # sys.__stderr__: the terminal, even while datatrove's own logging is redirected to a file.
        bar = tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            desc=f"ingest rank {rank}",
            file=sys.__stderr__,
            disable=not self.progress or None,
            dynamic_ncols=True,
            mininterval=0.5,
        )
        try:
            for f in mine:
                if 0 <= self.limit_docs <= self._emitted:
                    break
                yield from self._read_one(f, bar)
        finally:
            bar.close()

    def _read_one(self, f: InputFile, bar: tqdm) -> Iterator[Document]:
        quarantine: list[QuarantineItem] = []
        n_docs = 0
        error = None
        complete = True
        done_bytes = 0
        with open(f.path, "rb") as raw:
            try:
                for doc in self.read_file(f, raw, quarantine):
                    if 0 <= self.limit_docs <= self._emitted:
                        complete = False
                        break
                    n_docs += 1
                    self._emitted += 1
                    yield doc
                    if n_docs % 256 == 0:
                        now = raw.tell()
                        bar.update(now - done_bytes)
                        done_bytes = now
            except FileReadError as exc:
                error = f"{exc.reason} at byte {exc.offset}"
            except READ_ERRORS as exc:
                error = f"{describe(exc)} at byte {raw.tell()}"
            bar.update(f.size - done_bytes)
        self.stat_update("documents", value=n_docs)
        if error:
            self.stat_update("files_failed")
            quarantine.append(QuarantineItem("read", f.path, error.rsplit(" at ", 1)[-1], error))
        elif n_docs == 0 and complete:
            reason = "empty file (0 bytes)" if f.size == 0 else "no documents (only blank or unreadable lines)"
            quarantine.append(QuarantineItem("read", f.path, "file", reason))
        marker = file_end(f.source_id, f.path, n_docs, error, quarantine)
        # A file that gave no document is not sealed as ingested: a rerun with other settings (a
        # corrected --text-field) reads it again without --replace.
        marker.metadata["complete"] = complete and error is None and n_docs > 0
        yield marker
