"""`brd publish` with hostile input: nothing in manifest.json is trusted (shard paths, names,
hashes, row counts), and the --dry-run folder is written only where brd may write, atomically."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_brd


@pytest.fixture(scope="module")
def built(annotated_template, tmp_path_factory) -> tuple[Path, Path]:
    """(store, a mixture folder) built once with the real `brd mix build`."""
    root = tmp_path_factory.mktemp("publish-safety")
    store = root / "store"
    shutil.copytree(annotated_template.root, store)
    run_brd("mix", "build", "brd", "--store", store, "--out", root / "brd", "-q", "--shard-rows", "300")
    return store, root / "brd"


def copy_mixture(src: Path, dst: Path, edit=None) -> Path:
    shutil.copytree(src, dst)
    if edit is not None:
        m = json.loads((dst / "manifest.json").read_text())
        edit(m)
        (dst / "manifest.json").write_text(json.dumps(m))
    return dst


def publish(store: Path, mixture: Path, out: Path):
    return run_brd("publish", mixture, "--repo-id", "org/x", "--store", store, "--dry-run", out, check=False)


def one_line(proc, *needles: str) -> None:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


def test_hostile_manifests_are_refused_before_anything_is_staged(built, tmp_path):
    store, mix = built
    shards = [s["file"] for s in json.loads((mix / "manifest.json").read_text())["shards"]]
    assert len(shards) >= 2
    secret = tmp_path / "secret.parquet"
    secret.write_bytes((mix / shards[0]).read_bytes())
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.parquet").write_bytes(secret.read_bytes())

    def shard(file):
        return lambda m: m["shards"][0].update(file=file)

    def symlinked(folder: Path) -> None:
        target = folder / shards[0]
        target.unlink()
        target.symlink_to(secret)

    def tampered(folder: Path) -> None:
        p = folder / shards[1]
        p.write_bytes(p.read_bytes()[:-9] + b"123456789")

    cases = [
        ("absolute", shard(str(secret)), None, "is not a relative path inside the mixture folder"),
        ("dotdot", shard("../secret.parquet"), None, "is not a relative path inside the mixture folder"),
        ("dotdot-deep", shard("data/../../outside/x.parquet"), None, "is not a relative path"),
        ("backslash", shard("data\\..\\..\\secret.parquet"), None, "is not a relative path"),
        ("name", lambda m: m.update(name="../../escape"), None, "name: '../../escape' must be lowercase"),
        ("name-slash", lambda m: m.update(name="a/b"), None, "name: 'a/b' must be lowercase"),
        ("sha-format", lambda m: m["shards"][0].update(sha256="abc"), None, "is not a sha256"),
        ("duplicate", lambda m: m["shards"].append(dict(m["shards"][0])), None, "is listed twice"),
        ("no-shards", lambda m: m.update(shards=[]), None, "lists no shards"),
        ("version", lambda m: m.update(format_version=9), None, "format_version"),
        ("symlink", None, symlinked, "resolves outside the mixture folder"),
        ("tampered", None, tampered, "sha256 differs from manifest.json's"),
        ("rows", lambda m: m["shards"][-1].update(rows=m["shards"][-1]["rows"] + 1), None, "manifest.json says"),
    ]
    for name, edit, damage, message in cases:
        folder = copy_mixture(mix, tmp_path / name, edit)
        if damage:
            damage(folder)
        out = tmp_path / f"out-{name}"
        one_line(publish(store, folder, out), message)
        assert not out.exists(), name  # nothing was staged
        assert not list(tmp_path.glob(f".out-{name}*")), name
    assert sorted(p.name for p in outside.iterdir()) == ["x.parquet"]


def test_the_dry_run_folder_never_replaces_a_users_folder(built, tmp_path):
    store, mix = built
    # the probe: a project folder that happens to hold README.md and data/
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (project / "README.md").write_text("my project")
    (project / "data").mkdir()
    (project / "src.py").write_text("print(1)")
    before = sorted(str(p.relative_to(project)) for p in project.rglob("*"))
    one_line(publish(store, mix, project), f"{project}: exists, is not empty and was not made by brd")
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*")) == before
    assert (project / "README.md").read_text() == "my project"
    # brd's own staged folder is replaced, atomically, and the marker is not part of the repository
    out = tmp_path / "repo"
    for _ in range(2):
        proc = publish(store, mix, out)
        assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [".brd-output.json", "README.md", "data", "lineage"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project", "repo"]
