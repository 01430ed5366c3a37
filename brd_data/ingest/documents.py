"""What flows between ingest steps: datatrove Documents, plus one `file_end` marker per input.

A reader yields a Document per corpus document and, after each file, a marker that says whether
the file was read to the end. The stage writer uses the marker to record the source, or to roll
back every row of a file that failed half-way, so a file lands whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from datatrove.data import Document

KIND = "brd_kind"
FILE_END = "file_end"


@dataclass
class QuarantineItem:
    stage: str
    source_file: str
    location: str
    reason: str
    raw: bytes | None = None


def file_end(
    source_id: str, path: str, n_documents: int, error: str | None, quarantine: list[QuarantineItem]
) -> Document:
    return Document(
        text="",
        id=f"{source_id[:16]}/end",
        metadata={
            KIND: FILE_END,
            "source_id": source_id,
            "source_file": path,
            "n_documents": n_documents,
            "error": error,
            "quarantine": quarantine,
        },
    )


def is_marker(doc: Document) -> bool:
    return KIND in doc.metadata


def corpus_document(
    source_id: str, path: str, position: int, line_number: int | None, lang: str | None, text: str
) -> Document:
    """One corpus document; paragraphs are the lines of `text`."""
    return Document(
        text=text,
        id=f"{source_id[:16]}/{position}",
        metadata={
            "source_id": source_id,
            "source_file": path,
            "position": position,
            "line_number": line_number,
            "lang": lang,
        },
    )
