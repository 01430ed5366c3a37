"""Training mixtures: manifests (manifests/mixtures, manifests/filters), the deterministic export of
the store's views into Parquet shards, and Hugging Face Hub publishing."""

from ..contracts.schemas.mixture import (
    FilterSpec,
    ManifestError,
    MixtureSpec,
    Source,
    available_filters,
    available_mixtures,
    load_filter,
    load_mixture,
)
from .build import BuildOptions, BuildResult, MixError, build_mixture

__all__ = [
    "BuildOptions",
    "BuildResult",
    "FilterSpec",
    "ManifestError",
    "MixError",
    "MixtureSpec",
    "Source",
    "available_filters",
    "available_mixtures",
    "build_mixture",
    "load_filter",
    "load_mixture",
]
