"""Reader for CC-100 files: one paragraph per line, documents separated by a blank line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from datatrove.data import Document

from .documents import QuarantineItem, corpus_document
from .inputs import InputFile
from .read_base import FileReader, open_decompressed


def decode_line(line: bytes) -> tuple[str | None, str | None]:
    """(text, None) for a clean line, (None, reason) for one that must be quarantined."""
    nul = line.find(b"\x00")
    if nul >= 0:
        return None, f"NUL byte at column {nul}"
    try:
        return line.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, f"invalid UTF-8 at byte {exc.start} of the line"


class Cc100Reader(FileReader):
    """Plain, .xz, .gz or .bz2 CC-100 text; each blank-line-separated block is one document."""

    name = "📖 CC-100 reader"
    formats = ("cc100",)

    def read_file(self, f: InputFile, raw: BinaryIO, quarantine: list[QuarantineItem]) -> Iterator[Document]:
        stream = open_decompressed(raw, f.path)
        paragraphs: list[str] = []
        position = 0
        start_line = 0
        in_doc = False
        lineno = 0
        for lineno, line in enumerate(stream, 1):
            stripped = line.strip()
            if not stripped:
                if in_doc:
                    if paragraphs:
                        yield corpus_document(f.source_id, f.path, position, start_line, f.lang, "\n".join(paragraphs))
                    position += 1
                    paragraphs = []
                    in_doc = False
                continue
            if not in_doc:
                in_doc = True
                start_line = lineno
            text, problem = decode_line(stripped)
            if problem:
                quarantine.append(QuarantineItem("decode", f.path, f"line {lineno}", problem, bytes(line)))
                self.stat_update("lines_quarantined")
                continue
            paragraphs.append(text)
        if in_doc and paragraphs:
            yield corpus_document(f.source_id, f.path, position, start_line, f.lang, "\n".join(paragraphs))
