"""Parquet shards of a mixture folder: DIR/data/train-00000-of-0000N.parquet.

Rows arrive in the build's order in batches of any size; they are cut into row groups of a fixed
size and shards of a fixed row count, so the same rows give the same bytes whatever the batch
boundaries were. The shard count is known only at the end: shards are written as
`train-NNNNN.parquet.partial` and renamed by `finish()`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

# The mixture-folder contract (kind lm): the passage, then its lineage.
LM_SCHEMA = pa.schema(
    [
        ("text", pa.string()),
        ("passage_id", pa.string()),
        ("unit_id", pa.string()),
        ("component", pa.string()),
        ("run_ids", pa.list_(pa.string())),
        ("prompt_hashes", pa.list_(pa.string())),
    ]
)
# kind sft: the prompt and the completion the loss covers, then the same lineage.
SFT_SCHEMA = pa.schema(
    [
        ("prompt", pa.string()),
        ("completion", pa.string()),
        *(LM_SCHEMA.field(i) for i in range(1, len(LM_SCHEMA))),
    ]
)


@dataclass(frozen=True)
class Shard:
    file: str  # relative to the mixture folder
    rows: int
    sha256: str


class ShardWriter:
    def __init__(
        self,
        root: Path,
        schema: pa.Schema = LM_SCHEMA,
        shard_rows: int = 100_000,
        row_group_rows: int = 10_000,
        compression: str = "zstd",
    ):
        self.root = root
        self.data_dir = root / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.schema = schema
        self.shard_rows = shard_rows
        self.row_group_rows = max(1, min(row_group_rows, shard_rows))
        self.compression = compression
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._in_shard = 0
        self._partials: list[tuple[Path, int]] = []

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._pending.append(table.select(self.schema.names).cast(self.schema))
        self._pending_rows += table.num_rows
        while self._pending_rows >= self._next_chunk():
            self._flush(self._next_chunk())

    def _next_chunk(self) -> int:
        return min(self.row_group_rows, self.shard_rows - self._in_shard)

    def _flush(self, n: int) -> None:
        buffered = pa.concat_tables(self._pending)
        chunk, rest = buffered.slice(0, n), buffered.slice(n)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows
        if self._writer is None:
            path = self.data_dir / f"train-{len(self._partials):05d}.parquet.partial"
            self._writer = pq.ParquetWriter(path, self.schema, compression=self.compression)
            self._partials.append((path, 0))
        self._writer.write_table(chunk.combine_chunks(), row_group_size=n)
        self._in_shard += n
        path, rows = self._partials[-1]
        self._partials[-1] = (path, rows + n)
        if self._in_shard == self.shard_rows:
            self._close_shard()

    def _close_shard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self._in_shard = 0

    def finish(self) -> list[Shard]:
        """Write what is buffered, close, and rename to train-NNNNN-of-NNNNN.parquet."""
        while self._pending_rows:
            self._flush(min(self._pending_rows, self._next_chunk()))
        self._close_shard()
        total = len(self._partials)
        shards = []
        for i, (partial, rows) in enumerate(self._partials):
            final = self.data_dir / f"train-{i:05d}-of-{total:05d}.parquet"
            partial.rename(final)
            shards.append(
                Shard(str(final.relative_to(self.root)), rows, hashlib.sha256(final.read_bytes()).hexdigest())
            )
        return shards

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
