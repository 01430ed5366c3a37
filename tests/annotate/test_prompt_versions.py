"""A store annotated before migration 070, when a prompt's hash was the sha256 of its file's
bytes: its rows stay valid for their prompt version. An unchanged prompt is not asked again, and a
mixture pin of the old hash, or of the new one, finds those rows."""

from __future__ import annotations

import hashlib
import json

from brd_data.contracts.schemas.prompt import default_prompt_dir, load_prompt
from brd_data.store import Store

from .conftest import annotate_args, make_store, rows

DOCS = ["Ada Lovelace wrote the first program in London.", "Alan Turing worked at Bletchley Park in 1940."]


def _as_before_070(store, prompt, old_hash: str) -> None:
    """What a store annotated before 070 holds: prompt rows keyed by the file's bytes, no link yet."""
    st = Store(store)
    with st.writer("test"), st.transaction() as con:
        con.execute("update annotations set prompt_hash = ? where prompt_hash = ?", [old_hash, prompt.prompt_hash])
        con.execute(
            "update prompts set prompt_hash = ?, request_hash = null, hash_scheme = 'file' where prompt_hash = ?",
            [old_hash, prompt.prompt_hash],
        )


def test_rows_under_the_old_file_hash_stay_valid(brd, tmp_path, fake_teacher):
    store = make_store(tmp_path / "s", DOCS)
    brd(*annotate_args(store, fake_teacher.url, "--behaviours", "ner,qra"))
    ner = load_prompt(default_prompt_dir() / "ner.yaml")
    old = hashlib.sha256((default_prompt_dir() / "ner.yaml").read_bytes()).hexdigest()[:16]
    assert ner.file_sha256 == old != ner.prompt_hash
    _as_before_070(store, ner, old)
    n_ner = rows(store, "select count(*) from annotations where behaviour = 'ner'")[0][0]
    assert n_ner == len(DOCS) and rows(store, "select count(*) from annotations where prompt_hash = ?", [old]) == [
        (n_ner,)
    ]

    before = len(fake_teacher.requests)
    out = brd(*annotate_args(store, fake_teacher.url, "--behaviours", "ner,qra"))
    assert "nothing to do" in out.stdout and len(fake_teacher.requests) == before  # nothing re-annotated
    # the old row is linked to the request it sent; its annotations keep their hash
    assert rows(store, "select prompt_hash, request_hash, hash_scheme from prompts where name = 'ner'") == [
        (old, ner.prompt_hash, "file")
    ]
    assert rows(store, "select count(*) from annotations where prompt_hash = ?", [old]) == [(n_ner,)]

    # a mixture pin of the old hash, and of the new one, both resolve to those rows
    for pin in (old, ner.prompt_hash):
        spec = tmp_path / f"pinned-{pin}.yaml"
        spec.write_text(f"name: pinned\nsources: [{{view: d_ner}}]\nprompts: {{ner: '{pin}'}}\n", encoding="utf-8")
        out_dir = tmp_path / f"mix-{pin}"
        brd("mix", "build", str(spec), "--store", str(store), "--out", str(out_dir), "-q")
        manifest = json.loads((out_dir / "manifest.json").read_text())
        assert manifest["rows"] > 0 and manifest["prompt_hashes"] == [old], pin
    # a hash that names no prompt version of this store is still refused
    spec = tmp_path / "unknown.yaml"
    spec.write_text("name: unknown\nsources: [{view: d_ner}]\nprompts: {ner: 'abcdef0123456789'}\n")
    out = brd("mix", "build", str(spec), "--store", str(store), "--out", str(tmp_path / "mix-x"), check=False)
    assert out.returncode == 1 and "prompts.ner abcdef0123456789 has no ner annotations" in out.stderr

    # an edited prompt is a new version: asked again, rows added, the old ones kept
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "ner.yaml").write_text(
        (default_prompt_dir() / "ner.yaml").read_text().replace("max_tokens: 96", "max_tokens: 80")
    )
    brd(*annotate_args(store, fake_teacher.url, "--behaviours", "ner", "--prompt-dir", str(mine)))
    assert len(fake_teacher.requests) == before + len(DOCS)
    assert rows(store, "select count(distinct prompt_hash), count(*) from annotations where behaviour = 'ner'") == [
        (2, 2 * n_ner)
    ]
