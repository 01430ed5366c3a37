"""`brd publish`: the dry-run folder is the repository (every config loads with `datasets`), the
card carries counts, prompts, teacher, lineage and citation, the token never leaks, and pushes
retry transient Hub failures (a real huggingface_hub client against a local HTTP server)."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from brd_data.mix.publish import PublishError, with_retries
from tests.conftest import run_brd

from .annotated import NER_V1, QRA_V1, TEACHER_A

SECRET = "hf_brdTestTokenThatMustNeverAppear1234"


@pytest.fixture(scope="module")
def mixtures(annotated_template, tmp_path_factory) -> tuple[Path, Path]:
    """Two mixtures built from a copy of the annotated store: (store, folder of mixtures)."""
    import shutil

    root = tmp_path_factory.mktemp("publish")
    store = root / "store"
    shutil.copytree(annotated_template.root, store)
    for name in ("brd", "sentence-level"):
        run_brd("mix", "build", name, "--store", store, "--out", root / "mixtures" / name, "-q", "--shard-rows", "300")
    return store, root / "mixtures"


def test_bad_input_is_one_line(mixtures, tmp_path):
    store, mix = mixtures
    for args, message in (
        ([mix, "--repo-id", "no-slash"], "--repo-id 'no-slash': expected ORG/NAME"),
        ([mix, "--repo-id", "org/a b"], "expected ORG/NAME"),
        ([tmp_path, "--repo-id", "org/x"], "no mixture folder (with manifest.json)"),
    ):
        proc = run_brd("publish", *args, "--store", store, "--dry-run", tmp_path / "out", check=False)
        assert proc.returncode == 1 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, (
            proc.stderr
        )
    # a folder that does not exist is a usage error, refused while parsing
    proc = run_brd("publish", tmp_path / "missing", "--repo-id", "org/x", "--store", store, check=False)
    assert proc.returncode == 2 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("x")
    proc = run_brd("publish", mix, "--repo-id", "org/x", "--store", store, "--dry-run", taken, check=False)
    assert "was not made by brd" in proc.stderr and (taken / "keep.txt").exists()


def test_dry_run_folder_loads_with_datasets(mixtures, tmp_path):
    store, mix = mixtures
    out = tmp_path / "repo"
    proc = run_brd(
        "publish", mix, "--repo-id", "brd-org/brd-sample", "--store", store, "--dry-run", out, env={"HF_TOKEN": SECRET}
    )
    assert "nothing was pushed" in proc.stdout
    card = (out / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    configs = {c["config_name"]: c for c in front["configs"]}
    assert set(configs) == {"brd", "sentence-level"} and configs["brd"].get("default") is True

    import datasets

    for name in configs:
        manifest = json.loads((mix / name / "manifest.json").read_text())
        ds = datasets.load_dataset(str(out), name, split="train", cache_dir=str(tmp_path / "hf-cache"))
        assert ds.num_rows == manifest["rows"]
        assert {"text", "passage_id", "unit_id", "component", "run_ids", "prompt_hashes"} <= set(ds.column_names)
        first = pq.read_table(mix / name / manifest["shards"][0]["file"]).to_pylist()[0]
        assert ds[0]["text"] == first["text"]
        lineage = json.loads((out / "lineage" / f"{name}.json").read_text())
        assert lineage["mixture_hash"] == manifest["mixture_hash"] and "store" not in lineage
        assert not lineage["tokenizer"].startswith("/")

    # the card: counts, the paper's format, teacher, prompts from the store's prompts table, citation
    brd = json.loads((mix / "brd" / "manifest.json").read_text())
    assert "`s1<sep>NER(s1)<sep>s2<sep>NER(s2)<sep>s3<sep>NER(s3)`" in card
    assert f"teacher-a (fingerprint `{TEACHER_A}`" in card
    assert f"### ner (`ner`, prompt hash `{NER_V1}`)" in card and f"### qra (`qra`, prompt hash `{QRA_V1}`)" in card
    # the prompts as the teacher received them: the template's text, not the YAML file
    assert (
        "Perform named entity recognition" in card
        and "Enter a sentence: <the sentence>" in card
        and "a comment the teacher never saw" not in card
    )
    assert "format_version" not in card and "max_tokens" not in card and "{input}" not in card
    # languages, license, source corpus; per-config rows, tokens and loading; only what is published
    assert front["language"] == sorted(front["language"]) and front["language"]
    assert front["license"] == "apache-2.0" and "the sample corpus shipped with brd" in card
    assert "## Source corpus and license" in card and "`en.txt` (en, cc100" in card
    for name in configs:
        m = json.loads((mix / name / "manifest.json").read_text())
        assert f'load_dataset("brd-org/brd-sample", "{name}", split="train")' in card
        assert f"| `{name}` | {m['rows']:,} | {m['tokens']:,} |" in card
    assert "`sentence_ner`: one sentence with its NER" in card and "`d_qra_no_sent`" not in card
    assert "@misc{basic-reading-distillation" in card and brd["build_run_id"] in card
    # never the token, nor a local path of this machine
    everything = (
        proc.stdout + proc.stderr + "".join(p.read_text(errors="ignore") for p in out.rglob("*") if p.is_file())
    )
    assert SECRET not in everything
    assert str(store) not in card


def test_the_card_names_the_teacher_without_the_store(mixtures, tmp_path):
    """The mixture's manifest.json carries the teacher's name and the prompts: no --store needed."""
    _store, mix = mixtures
    out = tmp_path / "repo"
    run_brd("publish", mix, "--repo-id", "o/n", "--store", tmp_path / "no-store", "--dry-run", out)
    card = (out / "README.md").read_text()
    assert (
        f"teacher-a (fingerprint `{TEACHER_A}`" in card
        and "Enter a sentence: <the sentence>" in card
        and "a comment the teacher never saw" not in card
    )
    # a corpus brd does not know: the license says the source's terms apply and have not been stated
    run_brd(
        "publish", mix, "--repo-id", "o/n", "--store", tmp_path / "no-store", "--dry-run", out,
        "--license", "cc-by-4.0", "--license-note", "CC BY 4.0, as the corpus",
    )  # fmt: skip
    card = (out / "README.md").read_text()
    assert "license: cc-by-4.0" in card and "License `cc-by-4.0`: CC BY 4.0, as the corpus." in card


class _Hub(http.server.BaseHTTPRequestHandler):
    """A stand-in for the Hub's HTTP API that answers every request with one status code."""

    status = 503
    requests: list[str] = []

    def _answer(self):
        type(self).requests.append(f"{self.command} {self.path} auth={self.headers.get('authorization', '')}")
        body = json.dumps({"error": "try later"}).encode()
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def hub():
    _Hub.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.mark.parametrize("status, attempts", [(503, 3), (403, 1)])
def test_push_retries_transient_failures_and_never_shows_the_token(mixtures, hub, status, attempts):
    store, mix = mixtures
    _Hub.status = status
    env = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": f"http://127.0.0.1:{hub.server_address[1]}", "HF_TOKEN": SECRET}
    proc = run_brd(
        "publish",
        mix / "brd",
        "--repo-id",
        "brd-org/brd-sample",
        "--store",
        store,
        "--retries",
        "3",
        "--retry-wait",
        "0",
        env=env,
        check=False,
    )
    assert proc.returncode == 1
    err = proc.stderr.strip().splitlines()
    assert err[-1].startswith("error: create_repo brd-org/brd-sample failed") and str(status) in err[-1]
    creates = [r for r in _Hub.requests if r.startswith("POST /api/repos/create")]
    assert len(creates) == attempts
    assert len(err) == attempts  # one line per retry, then the error
    # the token went to the server (auth header), never to the terminal
    assert all(SECRET in r for r in creates), creates
    assert SECRET not in proc.stdout + proc.stderr


def test_push_refuses_offline_mode(mixtures):
    store, mix = mixtures
    proc = run_brd("publish", mix, "--repo-id", "org/x", "--store", store, env={"HF_HUB_OFFLINE": "1"}, check=False)
    assert proc.returncode == 1 and "HF_HUB_OFFLINE is set" in proc.stderr


def test_with_retries_waits_longer_each_time():
    calls, waits = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("connection reset")
        return "ok"

    assert with_retries(flaky, "upload", attempts=5, first_wait=2, sleep=waits.append, log=lambda m: None) == "ok"
    assert waits == [2, 4]

    def broken():
        raise ValueError("not transient")

    with pytest.raises(PublishError, match="upload failed: ValueError: not transient"):
        with_retries(broken, "upload", sleep=waits.append, log=lambda m: None)
    assert waits == [2, 4]
