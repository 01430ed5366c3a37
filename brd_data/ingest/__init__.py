"""Corpus ingestion: datatrove steps that read, segment, build passages and stage rows for the store."""

from .inputs import InputError, InputFile, resolve, sample_corpus
from .pipeline import IngestConfig, IngestOutcome, build_ingest_pipeline, run_ingest

__all__ = [
    "IngestConfig",
    "IngestOutcome",
    "InputError",
    "InputFile",
    "build_ingest_pipeline",
    "resolve",
    "run_ingest",
    "sample_corpus",
]
