"""Secrets and teacher identity for --endpoint teachers, against the real scripted OpenAI server
requiring a key: the --api-key-env key goes to every endpoint (loopback included), credentials in
the URL work and never reach the store, the logs, datatrove's executor.json or the terminal, and a
teacher is who /v1/models says it is."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_brd

from .conftest import annotate_args, make_store, rows
from .openai_fake import FakeOpenAI

KEY = "sk-brd-test-4f1c9a7e"
DOCS = ["Ada Lovelace wrote the first program.", "Bob met Carol in Paris."]


def served(key: str | None = KEY, **kw) -> FakeOpenAI:
    return FakeOpenAI(api_key=key, **kw).start()


def everything_written(store: Path) -> str:
    """Every text the store holds (every varchar/json column of every table) and every file under
    its folder that is not the database itself: logs, executor.json, staging leftovers."""
    from brd_data.store import Store

    parts = []
    with Store(store).reader() as con:
        columns = con.execute(
            "select c.table_name, c.column_name from information_schema.columns as c "
            "join information_schema.tables as t using (table_name) where t.table_type = 'BASE TABLE' "
            "and (c.data_type in ('VARCHAR', 'JSON') or c.data_type like '%[]')"
        ).fetchall()
        for table, column in columns:
            parts += [str(v) for (v,) in con.execute(f'select "{column}" from "{table}"').fetchall()]
    for p in store.rglob("*"):
        if p.is_file() and not p.name.startswith("brd.duckdb"):
            parts.append(p.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def test_the_key_goes_to_a_loopback_endpoint_and_a_refused_key_stops_the_run(tmp_path):
    fake = served()
    try:
        store = make_store(tmp_path / "s", DOCS)
        # no key: one line naming the variable, exit 1, no run recorded
        out = run_brd(*annotate_args(store, fake.url), check=False, env={"OPENAI_API_KEY": ""})
        assert out.returncode == 1 and "wants an API key (set $OPENAI_API_KEY" in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
        wrong = run_brd(*annotate_args(store, fake.url), check=False, env={"OPENAI_API_KEY": "sk-wrong-0000"})
        assert wrong.returncode == 1 and "it refused the key in $OPENAI_API_KEY" in wrong.stderr
        assert "sk-wrong-0000" not in wrong.stderr + wrong.stdout
        # the key, in a variable of the user's choosing: every request carries it
        ok = run_brd(*annotate_args(store, fake.url, "--api-key-env", "MY_TEACHER_KEY"), env={"MY_TEACHER_KEY": KEY})
        assert "4 annotation(s) added (ok 4)" in ok.stdout, ok.stdout + ok.stderr
        used = [h for h in fake.auth_seen if h != "none"]
        assert used and set(used) == {"bearer"} and len(fake.requests) == 4
        assert KEY not in ok.stdout + ok.stderr + everything_written(store)
        assert rows(store, "select count(*) from runs where command = 'annotate'") == [(1,)]
    finally:
        fake.stop()


def test_credentials_in_the_url_are_used_and_redacted_everywhere(tmp_path):
    fake = served()
    try:
        store = make_store(tmp_path / "s", DOCS)
        host = fake.url.split("//", 1)[1]
        for url, prompt, how in (
            (f"http://brd-user:{KEY}@{host}/v1", "ner", "basic"),
            (f"http://{host}/v1?token={KEY}&x=1", "qra", "query"),
        ):
            before = len(fake.requests)
            out = run_brd(*annotate_args(store, url, "--behaviours", prompt), env={"OPENAI_API_KEY": ""})
            assert "2 annotation(s) added (ok 2)" in out.stdout, out.stdout + out.stderr
            assert len(fake.requests) - before == 2 and fake.auth_seen[-1] == how
            assert KEY not in out.stdout + out.stderr and "***" in out.stderr
        written = everything_written(store)
        assert KEY not in written
        # what the run recorded shows the endpoint, redacted
        configs = [json.loads(c) for (c,) in rows(store, "select config from runs where command = 'annotate'")]
        assert {c["engine"]["endpoint"] for c in configs} == {
            f"http://***@{host}",
            f"http://{host}?token=***&x=1",
        }
        executors = list((store / "logs").rglob("executor.json"))
        assert executors and all(KEY not in p.read_text() for p in executors)
        assert "***" in "".join(p.read_text() for p in executors)
    finally:
        fake.stop()


def test_two_models_served_under_one_name_are_two_teachers(tmp_path):
    store = make_store(tmp_path / "s", DOCS)
    first = served(key=None, model="default", root="/models/smollm2-135m")
    try:
        run_brd(*annotate_args(store, first.url, "--behaviours", "ner"))
    finally:
        first.stop()
    second = served(key=None, model="default", root="/models/qwen3-1.7b")
    try:
        out = run_brd(*annotate_args(store, second.url, "--behaviours", "ner"))
        # the second model's sentences are not skipped as already answered
        assert "2 considered, 0 already answered, 2 to annotate" in out.stdout, out.stdout
        fps = rows(store, "select teacher_fingerprint, count(*) from annotations group by 1 order by 1")
        assert len(fps) == 2 and all(n == 2 for _, n in fps)
        # pinned by hand: the first teacher's answers count, nothing is asked
        pinned = fps[0][0]
        again = run_brd(*annotate_args(store, second.url, "--behaviours", "ner", "--teacher-fingerprint", pinned))
        assert "nothing to do" in again.stdout and f"teacher {pinned}" in again.stdout
        bad = run_brd(*annotate_args(store, second.url, "--teacher-fingerprint", "nothex"), check=False)
        assert bad.returncode == 1 and "--teacher-fingerprint 'nothex': expected 16 lowercase hex digits" in bad.stderr
    finally:
        second.stop()


def test_a_store_of_an_earlier_brd_keeps_working_and_is_told_how_to_pin(tmp_path):
    """Before, an endpoint teacher's fingerprint was a hash of its served name alone: such rows
    stay valid, and the user is told which fingerprint to pin to skip what they answered."""
    import pyarrow as pa

    from brd_data.contracts.models import model_fingerprint
    from brd_data.contracts.runs import StageRun
    from brd_data.store import Store

    store = make_store(tmp_path / "s", DOCS)
    old = model_fingerprint("fake-teacher")
    st = Store(store)
    with st.writer("annotate"), StageRun(st, "annotate", {}) as run, st.transaction() as con:
        (text_hash,) = con.execute("select any_value(text_hash) from sentences").fetchall()[0]
        row = {
            "text_hash": text_hash,
            "behaviour": "ner",
            "teacher_fingerprint": old,
            "prompt_hash": "0" * 16,
            "teacher": "fake-teacher",
            "status": "ok",
            "run_id": run.run_id,
        }
        st.insert(con, "annotations", pa.Table.from_pylist([row]), ignore_duplicates=False)
    fake = served(key=None)
    try:
        out = run_brd(*annotate_args(store, fake.url, "--behaviours", "ner"))
        assert f"pass --teacher-fingerprint {old}" in out.stderr, out.stderr
    finally:
        fake.stop()


def test_a_store_without_sentences_says_so(tmp_path, fake_teacher):
    from brd_data.store import Store

    store = tmp_path / "empty"
    with Store(store).writer("create"):
        pass
    out = run_brd(*annotate_args(store, fake_teacher.url), check=False)
    assert out.returncode == 1 and "the store holds no sentences to annotate" in out.stderr, out.stderr
    assert "brd ingest" in out.stderr and "nothing to do" not in out.stdout
