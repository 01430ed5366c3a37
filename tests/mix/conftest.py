"""Fixtures: the sample corpus ingested with the real `brd ingest`, annotated (tests/mix/annotated.py)."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import run_brd

from .annotated import Annotated, annotate_store


@pytest.fixture(scope="session")
def annotated_template(tmp_path_factory) -> Annotated:
    root = tmp_path_factory.mktemp("annotated") / "store"
    run_brd("ingest", "--store", root)
    return annotate_store(root)


@pytest.fixture
def annotated(annotated_template, tmp_path) -> Annotated:
    """A private copy of the annotated sample store (tests write to it)."""
    root = tmp_path / "store"
    shutil.copytree(annotated_template.root, root)
    return Annotated(root, annotated_template.text_hashes, annotated_template.run_a, annotated_template.run_b)
