"""Fixtures for annotation tests: a scripted OpenAI server and small corpora in real stores."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import TEST_CACHE

from .openai_fake import FakeOpenAI

# vLLM keeps compile and model-info caches here instead of ~/.cache/vllm.
os.environ.setdefault("VLLM_CACHE_ROOT", str(TEST_CACHE / "vllm"))

FAKE_SCRIPT = Path(__file__).with_name("openai_fake.py")


@pytest.fixture
def fake_teacher():
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


def make_store(root: Path, docs: list[str]) -> Path:
    """A store holding `docs` (one document each, sentences split by brd's segmenter)."""
    from brd_data.ingest import IngestConfig, resolve, run_ingest
    from brd_data.store import Store

    corpus = root.parent / f"{root.name}-corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
    st = Store(root)
    with st.writer("ingest"):
        run_ingest(st, IngestConfig(files=resolve([str(corpus)], lang="en"), progress=False))
    return root


def rows(store: Path, sql: str, params: list | None = None) -> list[tuple]:
    from brd_data.store import Store

    with Store(store).reader() as con:
        return con.execute(sql, params or []).fetchall()


def annotate_args(store: Path, url: str, *extra: str) -> list[str]:
    """`brd annotate` against a scripted server, with quick retry timings."""
    return [
        "annotate",
        "--store",
        str(store),
        "--endpoint",
        url,
        "--no-progress",
        "--max-concurrency",
        "4",
        "--request-timeout",
        "5",
        "--http-retries",
        "2",
        *extra,
    ]
