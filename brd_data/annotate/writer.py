"""The annotation part writer: one Parquet part per chunk of `records_per_chunk` finished items.

`InferenceRunner` hands every finished document to its output writer; brd's chunking
(throughput.PartChunks) closes a chunk's part as soon as its last document is done. A part's rows
are kept in memory until then and written whole, as `MODE-RANK-CHUNK.parquet.part` renamed to
`.parquet`, so the committer (which loads parts into the store while the run goes on) never reads
a half-written file, and a `kill -9` loses at most the chunks in flight (an open part was never
read either). Workers never open DuckDB.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.data import Document
from datatrove.pipeline.writers.parquet import ParquetWriter

from ..contracts.identity import quarantine_id

PART_SUFFIX = ".parquet"
OPEN_SUFFIX = ".parquet.part"
RESULTS_KEY = "rollout_results"

SCHEMA = pa.schema(
    [
        ("text_hash", pa.string()),
        ("behaviour", pa.string()),
        ("raw_text", pa.string()),
        ("parsed", pa.string()),
        ("teacher", pa.string()),
        ("teacher_fingerprint", pa.string()),
        ("prompt_hash", pa.string()),
        ("sampling", pa.string()),
        ("finish_reason", pa.string()),
        ("prompt_tokens", pa.int32()),
        ("completion_tokens", pa.int32()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("attempts", pa.int32()),
        ("run_id", pa.string()),
        ("created_at", pa.timestamp("us")),
        # for the quarantine rows of bad outputs, loaded in the same commit
        ("quarantine_id", pa.string()),
        ("location", pa.string()),
        ("quarantine_reason", pa.string()),
        ("prompt_file", pa.string()),
    ]
)


def annotation_row(doc: Document, teacher: str, fingerprint: str, run_id: str, prompt_files: dict[str, str]) -> dict:
    """The `annotations` row (plus quarantine fields) of one finished work item."""
    md = doc.metadata
    rec = md[RESULTS_KEY][0]
    row = {
        "text_hash": md["unit_id"],
        "behaviour": md["behaviour"],
        "raw_text": rec["raw_text"],
        "parsed": None if rec["parsed"] is None else json.dumps(rec["parsed"], ensure_ascii=False),
        "teacher": teacher,
        "teacher_fingerprint": fingerprint,
        "prompt_hash": md["prompt_hash"],
        "sampling": json.dumps(rec["sampling"], ensure_ascii=False),
        "finish_reason": rec["finish_reason"],
        "prompt_tokens": rec["prompt_tokens"],
        "completion_tokens": rec["completion_tokens"],
        "status": rec["status"],
        "reason": rec["reason"],
        "attempts": rec["attempts"],
        "run_id": run_id,
        "created_at": datetime.now(),
        "quarantine_id": None,
        "location": None,
        "quarantine_reason": None,
        "prompt_file": prompt_files.get(md["prompt_hash"]),
    }
    if rec["status"] != "ok":
        location = f"text_hash {md['unit_id']} behaviour {md['behaviour']} teacher {fingerprint}"
        reason = f"{rec['status']}: {rec['reason']}"
        row["location"] = location
        row["quarantine_reason"] = reason
        row["quarantine_id"] = quarantine_id("annotate", md["prompt_hash"], location, reason)
    return row


class AnnotationPartWriter(ParquetWriter):
    name = "💾 annotation parts"

    def __init__(
        self,
        stage_root: str,
        run_id: str,
        teacher: str,
        fingerprint: str,
        prompt_files: dict[str, str],
        work_dir: str,
        progress: bool = True,
        mode: str = "completion",
    ):
        self.stage_root = str(stage_root)
        self.run_id = run_id
        self.teacher = teacher
        self.fingerprint = fingerprint
        self.prompt_files = dict(prompt_files)
        self.work_dir = str(work_dir)
        self.progress = progress
        self.mode = mode
        # datatrove's writer machinery is kept for the runner's `with writer:`; rows take brd's path.
        super().__init__(
            str(Path(stage_root) / "annotations"),
            output_filename=f"{mode}-" + "${rank}-${chunk_index}" + OPEN_SUFFIX,
            compression="zstd",
            adapter=self._row,
            batch_size=64,
            max_file_size=-1,
            schema=SCHEMA,
            use_content_defined_chunking=False,
            write_page_index=False,
        )
        self._open: dict[str, list[dict]] = {}  # open part -> its rows
        self._bar = None
        self._tokens = 0
        self._items = 0
        self._first_at: float | None = None
        self._times: list[float] = []  # wall clock of the first and the last answer written
        self._rank = 0

    def _row(self, _writer, doc: Document) -> dict:
        return annotation_row(doc, self.teacher, self.fingerprint, self.run_id, self.prompt_files)

    def closed_part(self, rank: int, chunk_index: int) -> Path:
        """Where the closed part of this rank's chunk is (the runner skips chunks that have one)."""
        return Path(self.stage_root) / "annotations" / f"{self.mode}-{rank:05d}-{chunk_index}{PART_SUFFIX}"

    def close_file(self, filename: str) -> None:
        rows = self._open.pop(filename, None)
        if rows is None:
            return
        folder = Path(self.stage_root) / "annotations"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), folder / filename, compression="zstd")
        (folder / filename).rename(folder / (filename[: -len(OPEN_SUFFIX)] + PART_SUFFIX))

    def _get_output_filename(self, document: Document, rank: int | str = 0, chunk_index: int = 0, **kwargs) -> str:
        # what the template gives (rank zero-filled), without datatrove's substitution over the
        # document's metadata for every row
        return f"{self.mode}-{str(rank).zfill(5)}-{chunk_index}{OPEN_SUFFIX}"

    def write(self, document: Document, rank: int = 0, **kwargs) -> None:
        # not DiskWriter.write: no file handle per row, no per-document stats (brd counts in the store)
        filename = self._get_output_filename(document, rank, **kwargs)
        self._open.setdefault(filename, []).append(self._row(self, document))
        now = time.time()
        self._times = [self._times[0] if self._times else now, now]
        self._rank = rank
        self._items += 1
        self._tokens += document.metadata[RESULTS_KEY][0].get("completion_tokens") or 0
        self._advance(rank)

    # -- progress: items, output tokens/s and ETA, on the terminal even when logs go to a file
    def _advance(self, rank: int) -> None:
        if not self.progress:
            return
        if self._bar is None:
            from tqdm import tqdm

            total, units, behaviours = work_summary(Path(self.work_dir), rank)
            self._first_at = time.monotonic()
            self._bar = tqdm(
                total=total,
                unit="answer",
                desc=f"annotating {units} {'task prompts' if behaviours == ['task'] else 'sentences'} "
                f"({', '.join(behaviours)})" + (f", part {rank + 1}" if rank else ""),
                file=sys.__stderr__,
                dynamic_ncols=True,
                mininterval=1.0,
            )
        elapsed = max(time.monotonic() - self._first_at, 1e-6)
        self._bar.set_postfix_str(f"{self._tokens / elapsed:.0f} output tokens/s", refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        for filename in list(self._open):
            self.close_file(filename)
        super().close()
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._times:  # for the run summary and bench/annotate.py: generation time apart from start-up
            folder = Path(self.stage_root) / "timing"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{self.mode}-{self._rank:05d}.json").write_text(
                json.dumps(
                    {
                        "first_answer_at": self._times[0],
                        "last_answer_at": self._times[1],
                        "items": self._items,
                        "completion_tokens": self._tokens,
                    }
                )
            )


def work_summary(work_dir: Path, rank: int) -> tuple[int, int, list[str]]:
    """(requests, distinct inputs, behaviours) of one rank's work file."""
    path = work_dir / f"{rank:05d}.parquet"
    if not path.is_file():
        return 0, 0, []
    table = pq.read_table(path, columns=["unit_id", "behaviour"])
    behaviours = sorted(set(table.column("behaviour").to_pylist()))
    return table.num_rows, len(set(table.column("unit_id").to_pylist())), behaviours
