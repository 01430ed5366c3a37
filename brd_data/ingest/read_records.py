"""Reader for JSONL and Parquet records: one document per record, text from named fields.

Task inputs for BRD² come this way too, e.g. `--text-field premise,hypothesis`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import BinaryIO

import pyarrow.parquet as pq
from datatrove.data import Document

from .documents import QuarantineItem, corpus_document
from .inputs import InputFile
from .read_base import FileReader, FileReadError, open_decompressed
from .read_cc100 import decode_line


class RecordReader(FileReader):
    name = "📖 JSONL/Parquet reader"
    formats = ("jsonl", "parquet")

    def __init__(self, files: list[InputFile], text_fields: list[str], limit_docs: int = -1, progress: bool = True):
        super().__init__(files, limit_docs=limit_docs, progress=progress)
        if not text_fields:
            raise ValueError("RecordReader needs at least one text field")
        self.text_fields = list(text_fields)

    def read_file(self, f: InputFile, raw: BinaryIO, quarantine: list[QuarantineItem]) -> Iterator[Document]:
        if f.format == "parquet":
            yield from self._parquet(f, raw, quarantine)
        else:
            yield from self._jsonl(f, raw, quarantine)

    def _text(
        self, record: dict, where: str, f: InputFile, quarantine: list[QuarantineItem], raw: bytes | None
    ) -> str | None:
        parts = []
        for field in self.text_fields:
            if field not in record:
                problem = f"missing field {field!r}"
            elif record[field] is None:
                problem = f"field {field!r} is null"
            elif not isinstance(record[field], str):
                problem = f"field {field!r} is {type(record[field]).__name__}, expected a string"
            elif "\x00" in record[field]:
                problem = f"field {field!r} holds a NUL byte"
            else:
                problem = None
            if problem:
                payload = raw if raw is not None else json.dumps(record, default=str).encode()
                quarantine.append(QuarantineItem("decode", f.path, where, problem, payload))
                self.stat_update("records_quarantined")
                return None
            parts.extend(p.strip() for p in record[field].split("\n") if p.strip())
        if not parts:
            quarantine.append(QuarantineItem("decode", f.path, where, "empty text", raw))
            self.stat_update("records_quarantined")
            return None
        return "\n".join(parts)

    def _jsonl(self, f: InputFile, raw: BinaryIO, quarantine: list[QuarantineItem]) -> Iterator[Document]:
        position = 0
        for lineno, line in enumerate(open_decompressed(raw, f.path), 1):
            stripped = line.strip()
            if not stripped:
                continue
            where = f"line {lineno}"
            decoded, problem = decode_line(stripped)
            record = None
            if not problem:
                try:
                    record = json.loads(decoded)
                except json.JSONDecodeError as exc:
                    problem = f"invalid JSON: {exc.msg} at column {exc.colno}"
                else:
                    if not isinstance(record, dict):
                        problem = f"expected a JSON object, got {type(record).__name__}"
            if problem:
                quarantine.append(QuarantineItem("decode", f.path, where, problem, bytes(line)))
                self.stat_update("records_quarantined")
                position += 1
                continue
            text = self._text(record, where, f, quarantine, bytes(line))
            if text is not None:
                yield corpus_document(f.source_id, f.path, position, lineno, f.lang, text)
            position += 1

    def _parquet(self, f: InputFile, raw: BinaryIO, quarantine: list[QuarantineItem]) -> Iterator[Document]:
        try:
            pf = pq.ParquetFile(raw)
        except Exception as exc:  # pyarrow raises ArrowInvalid and friends for a damaged file
            raise FileReadError(f"not a readable Parquet file ({str(exc).splitlines()[0]})", raw.tell()) from None
        names = pf.schema_arrow.names
        missing = [c for c in self.text_fields if c not in names]
        if missing:
            raise FileReadError(f"no column {missing[0]!r} (columns: {', '.join(names)})", 0)
        position = 0
        for batch in pf.iter_batches(batch_size=4096, columns=self.text_fields):
            for record in batch.to_pylist():
                text = self._text(record, f"row {position}", f, quarantine, None)
                if text is not None:
                    yield corpus_document(f.source_id, f.path, position, None, f.lang, text)
                position += 1
