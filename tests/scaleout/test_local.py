"""Local shards: `--tasks 4 --workers 2` (datatrove's worker pool, forked while brd holds the
writer lock) gives exactly the rows of one task, and leaves the store unlocked."""

from __future__ import annotations

import pytest

from tests.annotate.conftest import annotate_args
from tests.conftest import run_brd

from .conftest import ANNOTATE_LIMIT, annotation_rows, ingest_rows, lock_is_free, sample_paths

pytestmark = pytest.mark.slow


def test_four_local_tasks_on_two_workers_give_the_rows_of_one_task(local_ingested, local_annotated, teacher, tmp_path):
    store = tmp_path / "store"
    run_brd("ingest", *sample_paths(), "--store", store, "--tasks", "4", "--workers", "2")
    assert ingest_rows(store) == ingest_rows(local_ingested)
    args = annotate_args(store, teacher.url, "--limit", str(ANNOTATE_LIMIT), "--lang", "en")
    out = run_brd(*args, "--tasks", "4", "--workers", "2")
    assert f"{2 * ANNOTATE_LIMIT} annotation(s) added" in out.stdout
    assert annotation_rows(store) == annotation_rows(local_annotated)
    assert lock_is_free(store)
