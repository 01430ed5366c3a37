"""`brd annotate` end to end against a scripted OpenAI server: statuses, quarantine, retries,
dedup, prompt versions, resume after kill -9, dead servers."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import REPO, brd_cmd

from .conftest import FAKE_SCRIPT, annotate_args, make_store, rows
from .openai_fake import FakeOpenAI

PROMPTS = REPO / "manifests" / "prompts"


# -- bad input first ----------------------------------------------------------------------------
def test_bad_input_fails_with_one_line(brd, tmp_path, fake_teacher):
    store = make_store(tmp_path / "s", ["Ada Lovelace wrote the first program."])
    cases = [
        (["annotate", "--store", str(tmp_path / "nostore"), "--endpoint", fake_teacher.url], "no store at"),
        (annotate_args(store, fake_teacher.url, "--behaviours", "ner,sentiment"), "behaviour 'sentiment'"),
        (annotate_args(store, fake_teacher.url, "--limit", "-2"), "--limit must be"),
        (annotate_args(store, fake_teacher.url, "--temperature", "-1"), "--temperature"),
        (["annotate", "--store", str(store), "--endpoint", "ftp://x"], "--endpoint"),
        (["annotate", "--store", str(store), "--endpoint", "http://127.0.0.1:9"], "cannot list its models"),
        (["annotate", "--store", str(store), "--teacher", str(tmp_path / "nomodel")], "not a model folder"),
        (annotate_args(store, fake_teacher.url, "--executor", "slurm"), "--executor slurm needs --partition"),
        # no sbatch here, or no partition `gpu` on tests/scaleout's one-node cluster
        (annotate_args(store, fake_teacher.url, "--executor", "slurm", "--partition", "gpu"), "--executor slurm"),
        (
            annotate_args(
                store, fake_teacher.url, "--served-model-name", "other", "--behaviours", "ner", "--http-retries", "0"
            ),
            None,
        ),
    ]
    bad_prompt = tmp_path / "prompts"
    bad_prompt.mkdir()
    (bad_prompt / "broken.yaml").write_text(
        "behaviour: x\nmode: completion\nparser: raw\nmax_tokens: 5\ntemplate: no slot\n"
    )
    cases.append(
        (annotate_args(store, fake_teacher.url, "--prompt-dir", str(bad_prompt)), "broken.yaml: template: must contain")
    )
    for args, message in cases:
        out = brd(*args, check=False)
        if message is None:  # a model the server does not serve: every request fails, kept as `failed`
            assert out.returncode == 0 and "failed 1" in out.stdout, out.stderr
            continue
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        assert out.stderr.startswith("error: ") and message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
    # a value outside a fixed set of choices is a usage error, refused while parsing
    out = brd(*annotate_args(store, fake_teacher.url, "--on-bad-output", "shrug"), check=False)
    assert out.returncode == 2 and "'shrug' is not one of 'sample', 'give-up'" in out.stderr, out.stderr
    assert rows(store, "select count(*) from runs where command = 'annotate' and status = 'failed'") == [(0,)]


# -- one run: statuses, quarantine, retries, dedup, lineage ---------------------------------------
DOCS = [
    "Alice met Bob in Paris. Alice met Bob in Paris.",  # a duplicate: read once
    "Carol flew to Rome [malformed].",
    "Dave wrote a long text [truncated].",
    "Eve said nothing [empty].",
    "Frank tried twice [malformed-greedy].",
    "Grace hit one error [http500:1].",
    "Heidi hit many errors [http500:5].",
    "Ivan asked too much [http400].",
    "Alice met Bob in Paris.",
]


def test_statuses_quarantine_retries_and_dedup(brd, tmp_path, fake_teacher):
    store = make_store(tmp_path / "s", DOCS)
    out = brd(*annotate_args(store, fake_teacher.url, "--chunk-size", "3"))
    assert "corpus: 10 sentences, 8 unique (dedup saves 2 of 10 requests per behaviour, 20.0%)" in out.stdout
    got = {
        (b, s.split()[0]): (st, reason, attempts, json.loads(sampling)["temperature"])
        for b, s, st, reason, attempts, sampling in rows(
            store,
            """
               select a.behaviour, any_value(s.text), a.status, a.reason, a.attempts, a.sampling
               from annotations a join sentences s using (text_hash) group by all""",
        )
    }
    assert len(got) == 16
    for b in ("ner", "qra"):
        assert got[(b, "Alice")][:3] == ("ok", None, 1)
        assert got[(b, "Carol")][0] == "unparsed" and got[(b, "Carol")][2] == 2  # greedy, then one sampled retry
        assert got[(b, "Dave")][:2] == ("truncated", "hit max_tokens 96 before a stop string")
        assert got[(b, "Eve")][:2] == ("unparsed", "empty output")
        assert got[(b, "Frank")][0] == "ok" and got[(b, "Frank")][2:] == (2, 0.7)  # the sampled retry was kept
        assert got[(b, "Grace")][:3] == ("ok", None, 2)  # HTTP 500 once, then answered
        assert got[(b, "Heidi")][0] == "failed" and "HTTP 500" in got[(b, "Heidi")][1]
        assert "gave up after 3 requests" in got[(b, "Heidi")][1]
        assert got[(b, "Ivan")][0] == "failed" and got[(b, "Ivan")][1].startswith("HTTP 400")
        assert got[(b, "Ivan")][2] == 1  # a bad request is not retried
    # dedup: "Alice met Bob in Paris." (3 occurrences) was asked once per behaviour
    alice = [r for r in fake_teacher.requests if r["_sentence"] == "Alice met Bob in Paris."]
    assert len(alice) == 2
    # every bad output is also in quarantine, with its raw text
    q = rows(store, "select location, reason, decode(raw) from quarantine where stage = 'annotate'")
    assert len(q) == 10 and all("teacher" in loc and "behaviour" in loc for loc, _, _ in q)
    assert {r.split(":")[0] for _, r, _ in q} == {"unparsed", "truncated", "failed"}
    assert any(raw and raw.startswith("very very") for _, _, raw in q)
    # lineage on every row; prompts recorded with their hashes
    ((run_id, status, counts),) = rows(store, "select run_id, status, row_counts from runs where command = 'annotate'")
    assert status == "succeeded" and json.loads(counts)["annotations_added"] == 16
    assert rows(
        store,
        "select count(*) from annotations where run_id = ? and teacher_fingerprint <> '' "
        "and prompt_hash in (select prompt_hash from prompts)",
        [run_id],
    ) == [(16,)]
    assert {r[0] for r in rows(store, "select name from prompts")} == {"ner", "qra"}
    status_json = json.loads(brd("status", "--store", str(store), "--json").stdout)
    per = {r["behaviour"]: r for r in status_json["Annotations per behaviour, prompt and teacher"]}
    assert (per["ner"]["annotated"], per["ner"]["ok"], per["ner"]["quarantined"], per["ner"]["pending"]) == (6, 3, 5, 2)
    assert not list((store / "staging").glob("*/annotations/*"))


def test_rerun_skips_answered_retries_failed_and_new_prompt_adds_rows(brd, tmp_path, fake_teacher):
    store = make_store(tmp_path / "s", ["Ada wrote code.", "Bea broke it [http500:3].", "Cy fixed it."])
    brd(*annotate_args(store, fake_teacher.url, "--http-retries", "1"))  # Bea: 2 requests, both 500
    first = dict(rows(store, "select behaviour || status, count(*) from annotations group by 1"))
    assert first == {"nerok": 2, "qraok": 2, "nerfailed": 1, "qrafailed": 1}
    before = len(fake_teacher.requests)
    out = brd(*annotate_args(store, fake_teacher.url, "--http-retries", "1"))
    # only the failed keys were asked again (Bea's 3rd and 4th requests, per behaviour: the 4th answers)
    assert len(fake_teacher.requests) - before == 4 and {r["_sentence"] for r in fake_teacher.requests[before:]} == {
        "Bea broke it [http500:3]."
    }
    assert "2 already answered, 1 to annotate" in out.stdout
    assert rows(store, "select count(*), count(*) filter (where status = 'ok') from annotations") == [(6, 6)]
    out = brd(*annotate_args(store, fake_teacher.url))
    assert "nothing to do" in out.stdout
    # a new version of the NER prompt: new rows for NER, the old ones untouched
    mine = tmp_path / "my-prompts"
    mine.mkdir()
    (mine / "ner.yaml").write_text((PROMPTS / "ner.yaml").read_text().replace("max_tokens: 96", "max_tokens: 48"))
    old = rows(store, "select text_hash, raw_text, run_id from annotations where behaviour = 'ner' order by 1")
    brd(*annotate_args(store, fake_teacher.url, "--prompt-dir", str(mine), "--behaviours", "ner"))
    assert rows(store, "select count(distinct prompt_hash), count(*) from annotations where behaviour = 'ner'") == [
        (2, 6)
    ]
    assert (
        rows(
            store,
            "select text_hash, raw_text, run_id from annotations where behaviour = 'ner' and prompt_hash = "
            "(select prompt_hash from prompts where name = 'ner' order by run_id limit 1) order by 1",
        )
        == old
    )
    assert fake_teacher.requests[-1]["max_tokens"] == 48


def test_sampling_passes_through_and_requests_are_grouped_by_prompt(brd, tmp_path, fake_teacher):
    store = make_store(tmp_path / "s", [f"Sentence number {i} is here." for i in range(6)])
    brd(
        *annotate_args(
            store,
            fake_teacher.url,
            "--max-concurrency",
            "1",
            "--temperature",
            "0.5",
            "--top-p",
            "0.9",
            "--seed",
            "7",
            "--max-tokens",
            "40",
            "--limit",
            "4",
        )
    )
    reqs = fake_teacher.requests
    assert len(reqs) == 8  # --limit: the first 4 unique sentences, per behaviour
    assert {(r["temperature"], r["top_p"], r["seed"], r["max_tokens"], r["model"]) for r in reqs} == {
        (0.5, 0.9, 7, 40, "fake-teacher")
    }
    kinds = ["ner" if "Enter a sentence" in r["prompt"] else "qra" for r in reqs]
    assert kinds == ["ner"] * 4 + ["qra"] * 4  # one prompt's requests together: they share the prefix
    assert [r["_sentence"] for r in reqs[:4]] == [f"Sentence number {i} is here." for i in range(4)]


def test_lang_keeps_the_sentences_of_those_languages(brd, tmp_path, fake_teacher):
    store = make_store(tmp_path / "s", ["An English sentence is here."])
    german = tmp_path / "de.jsonl"
    german.write_text(json.dumps({"text": "Hier steht ein deutscher Satz."}) + "\n", encoding="utf-8")
    brd("ingest", str(german), "--store", str(store), "--lang", "de")
    out = brd(*annotate_args(store, fake_teacher.url, "--lang", "xx"), check=False)
    assert out.returncode == 1 and out.stderr.strip() == (
        "error: --lang xx: no such language in the store's sentences (it has: de, en)"
    )
    brd(*annotate_args(store, fake_teacher.url, "--lang", "de", "--behaviours", "qra"))
    assert {r["_sentence"] for r in fake_teacher.requests} == {"Hier steht ein deutscher Satz."}
    assert rows(store, "select s.lang, count(*) from annotations a join sentences s using (text_hash) group by 1") == [
        ("de", 1)
    ]
    assert rows(store, "select config->>'$.langs' from runs where command = 'annotate'") == [('["de"]',)]


def test_chat_mode_goes_through_chat_completions(brd, tmp_path, fake_teacher):
    store = make_store(tmp_path / "s", ["Ada Lovelace lived in London."])
    brd(*annotate_args(store, fake_teacher.url, "--mode", "chat"))
    assert all(r["_chat"] and r["messages"][0]["role"] == "user" for r in fake_teacher.requests)
    assert rows(store, "select p.name, a.status from annotations a join prompts p using (prompt_hash) order by 1") == [
        ("ner-chat", "ok"),
        ("qra-chat", "ok"),
    ]


def test_slow_requests_time_out_and_are_bounded(brd, tmp_path, fake_teacher):
    store = make_store(tmp_path / "s", ["Slow Sam waits [slow:3].", "Quick Quinn answers."])
    started = time.monotonic()
    brd(*annotate_args(store, fake_teacher.url, "--request-timeout", "1", "--http-retries", "1", "--behaviours", "qra"))
    assert time.monotonic() - started < 30
    got = dict(
        rows(
            store,
            "select s.text, a.status || ': ' || coalesce(a.reason, '') from annotations a "
            "join sentences s using (text_hash)",
        )
    )
    assert got["Quick Quinn answers."] == "ok: "
    assert got["Slow Sam waits [slow:3]."] == "failed: timeout after 1s (gave up after 2 requests)"


# -- resume and server failures -------------------------------------------------------------------
def _wait_for_commits(store: Path, n_parts: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Until `n_parts` closed parts have left staging (the committer deletes a part once it is in the
    store). The staging folder is watched, not the database: opening the store every 0.2 s contends
    with the committer for DuckDB's file lock and can hold its commits back."""
    deadline = time.monotonic() + timeout
    seen: set[Path] = set()
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        seen.update((store / "staging").glob("*/annotations/*.parquet"))
        if sum(not p.exists() for p in seen) >= n_parts:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n_parts} parts committed after {timeout}s")


def test_kill_9_then_the_same_command_resumes_without_duplicates_or_gaps(tmp_path):
    fake = FakeOpenAI(delay=0.15).start()
    try:
        store = make_store(tmp_path / "s", [f"Person {i} visited City {i}." for i in range(24)])
        args = [
            *brd_cmd(),
            *annotate_args(store, fake.url, "--max-concurrency", "2", "--chunk-size", "3", "--commit-interval", "0.2"),
        ]
        proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for_commits(store, 2, proc)  # 2 parts of 3 answers
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        committed = rows(store, "select behaviour, text_hash, run_id from annotations")
        ((run1, status1),) = rows(store, "select run_id, status from runs where command = 'annotate'")
        assert status1 == "running" and 6 <= len(committed) < 48
        asked_before = len(fake.requests)
        out = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        final = rows(store, "select behaviour, text_hash, run_id from annotations")
        assert len(final) == 48 and len({(b, h) for b, h, _ in final}) == 48
        assert set(committed) <= set(final)  # rows of the killed run are kept as they were
        # nothing the killed run had committed (or left staged, committed now) was asked again
        hashes = dict(rows(store, "select text, text_hash from sentences"))
        by_run1 = {(b, h) for b, h, r in final if r == run1}
        asked_again = {
            ("ner" if "Enter a sentence" in r["prompt"] else "qra", hashes[r["_sentence"]])
            for r in fake.requests[asked_before:]
        }
        assert not asked_again & by_run1 and len(asked_again) == 48 - len(by_run1)
        assert dict(rows(store, "select run_id, status from runs where command = 'annotate'"))[run1] == "interrupted"
        assert not list((store / "staging").glob("*"))
    finally:
        fake.stop()


def test_an_endpoint_that_dies_is_reported_and_the_rerun_completes(tmp_path):
    fake = FakeOpenAI(delay=0.2).start()
    store = make_store(tmp_path / "s", [f"Person {i} visited City {i}." for i in range(20)])
    common = (
        "--max-concurrency",
        "2",
        "--chunk-size",
        "2",
        "--commit-interval",
        "0.2",
        "--dead-after",
        "2",
        "--behaviours",
        "qra",
    )
    proc = subprocess.Popen(
        [*brd_cmd(), *annotate_args(store, fake.url, *common)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_commits(store, 2, proc)  # 2 parts of 2 answers
        fake.stop()
        started = time.monotonic()
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)  # brd prints every thread's stack: where it is stuck
            time.sleep(2)
            proc.kill()
            raise AssertionError("annotate did not stop 60 s after its server did:\n" + proc.communicate()[1]) from None
        assert time.monotonic() - started < 45
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1 and "error: the teacher server failed" in err and "has not answered" in err, err
    kept = rows(store, "select count(*) from annotations where status <> 'failed'")[0][0]
    assert kept >= 4
    assert rows(store, "select status from runs where command = 'annotate'") == [("failed",)]
    again = FakeOpenAI().start()
    try:
        out = subprocess.run(
            [*brd_cmd(), *annotate_args(store, again.url, *common)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        assert len(again.requests) <= 20 - kept + 2  # at most the chunks in flight are asked again
    finally:
        again.stop()
    assert rows(store, "select count(*), count(*) filter (where status = 'ok') from annotations") == [(20, 20)]


def test_a_managed_server_that_dies_is_restarted(brd, tmp_path):
    """datatrove's CustomServer runs the scripted server; it crashes once mid-run and brd starts it again."""
    store = make_store(tmp_path / "s", [f"Person {i} visited City {i}." for i in range(8)])
    state = tmp_path / "server-state"
    state.mkdir()
    out = brd(
        "annotate",
        "--store",
        str(store),
        "--server-script",
        str(FAKE_SCRIPT),
        "--no-progress",
        "--vllm-arg",
        "die-after=5",
        "--vllm-arg",
        f"state-dir={state}",
        "--max-concurrency",
        "2",
        "--chunk-size",
        "2",
        "--commit-interval",
        "0.2",
        "--request-timeout",
        "10",
        "--startup-timeout",
        "60",
    )
    assert "restarting it (1/1)" in out.stderr
    assert (state / "launches").read_text() == "2"
    assert rows(store, "select count(*), count(*) filter (where status = 'ok') from annotations") == [(16, 16)]
    out = brd(
        "annotate",
        "--store",
        str(store),
        "--server-script",
        str(FAKE_SCRIPT),
        "--no-progress",
        "--vllm-arg",
        "die-after=0",
    )
    assert "nothing to do" in out.stdout  # answered keys are not asked again, so no server is started


def test_a_server_that_keeps_dying_is_reported(brd, tmp_path):
    store = make_store(tmp_path / "s", ["Ada wrote code.", "Bea broke it."])
    out = brd(
        "annotate",
        "--store",
        str(store),
        "--server-script",
        str(FAKE_SCRIPT),
        "--no-progress",
        "--vllm-arg",
        "die-after=0",
        "--server-restarts",
        "1",
        "--request-timeout",
        "10",
        "--startup-timeout",
        "60",
        check=False,
    )
    assert out.returncode == 1 and out.stderr.count("\nerror: ") + out.stderr.startswith("error: ") == 1
    assert "the teacher server failed" in out.stderr and "run the same command to resume" in out.stderr
    assert rows(store, "select count(*) from annotations") == [(0,)]
    assert not list((store / "staging").glob("*/annotations/*.parquet"))
