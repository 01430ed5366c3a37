"""The last ingest step: rows for documents, sentences, passages, sources and quarantine, written
as Parquet parts under the run's staging folder. Workers never open DuckDB; the commit loads the
parts in one transaction (see commit.py), which is what lets Slurm and Ray tasks run in parallel.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from ..contracts.identity import quarantine_id, text_hash
from .documents import FILE_END, KIND
from .inputs import InputFile

# Staged rows hold what only Python knows; ids, run_id, lang and lengths are added in SQL at commit
# (sql/queries/ingest/load_*.sql), vectorised, so the per-sentence Python work stays small.
SCHEMAS: dict[str, pa.Schema] = {
    "documents": pa.schema(
        [
            ("doc_id", pa.string()),
            ("source_id", pa.string()),
            ("source_file", pa.string()),
            ("position", pa.int64()),
            ("line_number", pa.int64()),
            ("lang", pa.string()),
            ("n_sentences", pa.int32()),
        ]
    ),
    "sentences": pa.schema(
        [
            ("doc_id", pa.string()),
            ("position", pa.int32()),
            ("text", pa.string()),
            ("text_hash", pa.string()),
            ("lang", pa.string()),
            ("split_reason", pa.string()),
        ]
    ),
    "passages": pa.schema(
        [
            ("doc_id", pa.string()),
            ("position", pa.int32()),
            ("first", pa.int32()),
            ("n_sentences", pa.int32()),
        ]
    ),
    "sources": pa.schema(
        [
            ("source_id", pa.string()),
            ("path", pa.string()),
            ("size_bytes", pa.int64()),
            ("format", pa.string()),
            ("lang", pa.string()),
            ("n_documents", pa.int64()),
            ("complete", pa.bool_()),
            ("error", pa.string()),
            ("settings", pa.string()),  # JSON: what shaped the rows (the input's identity with its bytes)
        ]
    ),
    "quarantine": pa.schema(
        [
            ("quarantine_id", pa.string()),
            ("stage", pa.string()),
            ("source_file", pa.string()),
            ("location", pa.string()),
            ("reason", pa.string()),
            ("raw", pa.binary()),
        ]
    ),
}


class StageWriter(PipelineStep):
    name = "💾 store stage writer"
    type = "💽 - WRITER"

    def __init__(
        self,
        stage_root: str,
        run_id: str,
        files: list[InputFile],
        rows_per_part: int = 100_000,
        settings: dict[str, str] | None = None,
    ):
        super().__init__()
        self.stage_root = str(stage_root)
        self.run_id = run_id
        self.files = {f.source_id: f for f in files}
        self.rows_per_part = rows_per_part
        self.settings = settings or {}  # source_id -> JSON of the settings that shape its rows

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self._rank = rank
        self._parts: dict[str, int] = defaultdict(int)
        buf: dict[str, dict[str, list]] = {t: defaultdict(list) for t in SCHEMAS}
        d, s, p = buf["documents"], buf["sentences"], buf["passages"]
        n_docs = 0
        for doc in data:
            md = doc.metadata
            if md.get(KIND) == FILE_END:
                self._file_end(md, buf)
                continue
            sentences = md["sentences"]
            doc_id = doc.id
            n = len(sentences)
            d["doc_id"].append(doc_id)
            d["source_id"].append(md["source_id"])
            d["source_file"].append(md["source_file"])
            d["position"].append(md["position"])
            d["line_number"].append(md["line_number"])
            d["lang"].append(md["lang"])
            d["n_sentences"].append(n)
            s["doc_id"].extend([doc_id] * n)
            s["position"].extend(range(n))
            s["text"].extend(sentences)
            s["text_hash"].extend(map(text_hash, sentences))
            s["lang"].extend([md["lang"]] * n)
            s["split_reason"].extend(md["split_reasons"])
            for i, positions in enumerate(md["passages"]):
                p["doc_id"].append(doc_id)
                p["position"].append(i)
                p["first"].append(positions[0])
                p["n_sentences"].append(len(positions))
            n_docs += 1
            if len(s["doc_id"]) >= self.rows_per_part:
                for table in ("documents", "sentences", "passages"):
                    self._flush(table, buf)
                d, s, p = buf["documents"], buf["sentences"], buf["passages"]
            yield doc
        for table in SCHEMAS:
            self._flush(table, buf)
        self.stat_update("documents_written", value=n_docs)

    def _file_end(self, md: dict, buf: dict[str, dict[str, list]]) -> None:
        f = self.files[md["source_id"]]
        src = buf["sources"]
        for key, value in (
            ("source_id", f.source_id),
            ("path", f.path),
            ("size_bytes", f.size),
            ("format", f.format),
            ("lang", f.lang),
            ("n_documents", md["n_documents"]),
            ("complete", md["complete"]),
            ("error", md["error"]),
            ("settings", self.settings.get(f.source_id)),
        ):
            src[key].append(value)
        q = buf["quarantine"]
        for item in md["quarantine"]:
            q["quarantine_id"].append(quarantine_id(item.stage, f.source_id, item.location, item.reason))
            q["stage"].append(item.stage)
            q["source_file"].append(item.source_file)
            q["location"].append(item.location)
            q["reason"].append(item.reason)
            q["raw"].append(item.raw)
        self.stat_update("quarantined", value=len(md["quarantine"]))

    def _flush(self, table: str, buf: dict[str, dict[str, list]]) -> None:
        cols = buf[table]
        if not cols or not next(iter(cols.values())):
            return
        schema = SCHEMAS[table]
        arrow = pa.table(
            {name: pa.array(cols[name], type=schema.field(name).type) for name in schema.names}, schema=schema
        )
        folder = Path(self.stage_root) / table
        folder.mkdir(parents=True, exist_ok=True)
        part = self._parts[table]
        self._parts[table] += 1
        tmp = folder / f".{self._rank:05d}-{part:05d}.parquet.tmp"
        pq.write_table(arrow, tmp, compression="zstd")
        tmp.rename(folder / f"{self._rank:05d}-{part:05d}.parquet")  # a part is whole or absent
        buf[table] = defaultdict(list)
