"""Reading a mixture folder (contract 2): `manifest.json` plus `data/train-*.parquet`.

A folder that is missing, half-written or inconsistent with its manifest fails here, before any
model is loaded, with one line naming the file and the field.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brd_data.contracts.errors import UserError
from brd_data.contracts.schemas.mixture import COLUMNS, read_mixture_manifest

KINDS = COLUMNS


class MixtureError(UserError):
    """A mixture folder that cannot be trained on."""


@dataclass(frozen=True)
class Mixture:
    root: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    files: tuple[Path, ...]

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def mixture_hash(self) -> str:
        return str(self.manifest["mixture_hash"])

    @property
    def rows(self) -> int:
        return int(self.manifest["rows"])

    @property
    def tokens(self) -> int | None:
        return self.manifest.get("tokens")

    @property
    def columns(self) -> tuple[str, ...]:
        return KINDS[self.kind]

    def inputs(self) -> list[dict[str, Any]]:
        """`runs.inputs` entries: the manifest and every data file, with sizes and sha256."""
        from brd_data.contracts.identity import file_sha256

        paths = [self.root / "manifest.json", *self.files]
        return [{"path": str(p.resolve()), "size": p.stat().st_size, "sha256": file_sha256(p)} for p in paths]

    def load_dataset(self, cache_dir: Path):
        """The training columns as a `datasets.Dataset`, rows in file order (the builder's order)."""
        from datasets import Dataset

        ds = Dataset.from_parquet([str(p) for p in self.files], cache_dir=str(cache_dir))
        return ds.select_columns(list(self.columns))


def read_mixture(root: str | Path) -> Mixture:
    """Open and check a built mixture folder."""
    import pyarrow.parquet as pq

    root = Path(root)
    if not root.exists():
        raise MixtureError(f"mixture folder {root} does not exist (build one with `brd mix build`)")
    if not root.is_dir():
        raise MixtureError(f"--mix {root} is not a folder")
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise MixtureError(f"{root} is not a built mixture: no manifest.json (build it with `brd mix build`)")
    raw = manifest_path.read_bytes()
    _checked, manifest = read_mixture_manifest(manifest_path, MixtureError)
    kind = manifest["kind"]

    files = tuple(sorted((root / "data").glob("train-*.parquet")))
    if not files:
        raise MixtureError(f"{root} is not a built mixture: no data/train-*.parquet files")
    want = KINDS[kind]
    n_rows = 0
    for path in files:
        try:
            meta = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several types for a broken file
            raise MixtureError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
        names = meta.schema_arrow.names
        absent = [c for c in want if c not in names]
        if absent:
            raise MixtureError(
                f"{path}: a {kind!r} mixture needs column(s) {', '.join(absent)}; found {', '.join(names)}"
            )
        for c in want:
            nulls = _null_count(meta, c)
            if nulls:
                raise MixtureError(f"{path}: {nulls} row(s) with a null {c!r}")
        n_rows += meta.metadata.num_rows
    if n_rows != int(manifest["rows"]):
        raise MixtureError(
            f"{root}: the manifest says {manifest['rows']} rows but data/ holds {n_rows}; "
            "the mixture is incomplete or was changed after it was built"
        )
    if n_rows == 0:
        raise MixtureError(f"{root}: the mixture has no rows")
    return Mixture(root=root, manifest=manifest, manifest_sha256=hashlib.sha256(raw).hexdigest(), files=files)


def _null_count(meta, column: str) -> int:
    """Nulls in a column, from the row-group statistics when written, else by reading the column."""
    # Parquet leaf columns, not Arrow fields: the list columns (run_ids) sit between them.
    leaves = [meta.schema.column(i).path for i in range(len(meta.schema))]
    idx = leaves.index(column)
    total = 0
    for rg in range(meta.metadata.num_row_groups):
        stats = meta.metadata.row_group(rg).column(idx).statistics
        if stats is None or not stats.has_null_count:
            return meta.read(columns=[column]).column(0).null_count
        total += stats.null_count
    return total
