"""Ownership of output folders on real folders: brd writes into, replaces or deletes only what it
made and marked; anything else is refused with one line and left untouched; a replacement is
atomic, and what a killed process left beside a folder is cleared (or put back)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from brd_data.contracts.outputs import (
    MARKER,
    OutputKind,
    OwnershipError,
    check_replaceable,
    claim,
    inside_store,
    is_owned,
    mark,
    remove,
    sibling,
    staged,
)


def tree(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_claim_creates_and_marks_and_keeps_brds_own(tmp_path):
    out = tmp_path / "a" / "b"
    assert claim(out, OutputKind.REPORTS) is True
    m = json.loads((out / MARKER).read_text())
    assert m["brd_output"] == "reports" and m["format_version"] == 1 and m["created_by"]
    (out / "figure.png").write_text("x")
    assert claim(out, OutputKind.REPORTS) is False and (out / "figure.png").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert claim(empty, OutputKind.MIXTURE) is False and is_owned(empty, OutputKind.MIXTURE)


def test_anything_not_marked_by_brd_is_refused_untouched(tmp_path):
    mine = tmp_path / "mine"
    (mine / ".git").mkdir(parents=True)
    (mine / "README.md").write_text("my project")
    (mine / "data").mkdir()
    (mine / "data" / "keep.csv").write_text("1,2")
    (mine / "manifest.json").write_text("{}")
    before = tree(mine)
    for call in (
        lambda: claim(mine, OutputKind.PUBLISH, what="--dry-run"),
        lambda: check_replaceable(mine, OutputKind.MIXTURE),
        lambda: remove(mine),
        lambda: staged(mine, OutputKind.MIXTURE).__enter__(),
    ):
        with pytest.raises(OwnershipError) as err:
            call()
        assert str(mine) in str(err.value) and "\n" not in str(err.value)
    assert tree(mine) == before and not (mine / MARKER).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no staging folder beside it either
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OwnershipError, match="is not a folder"):
        check_replaceable(f, OutputKind.MIXTURE)
    link = tmp_path / "link"
    link.symlink_to(mine)
    with pytest.raises(OwnershipError, match="symbolic link"):
        check_replaceable(link, OutputKind.MIXTURE)
    other = tmp_path / "training"
    claim(other, OutputKind.TRAINING)
    with pytest.raises(OwnershipError, match="holds a brd training output, not a mixture"):
        check_replaceable(other, OutputKind.MIXTURE)


def test_a_replacement_is_written_beside_and_swapped(tmp_path):
    out = tmp_path / "mix"
    with staged(out, OutputKind.MIXTURE) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".mix.writing-")
        (tmp / "v").write_text("1")
    assert (out / "v").read_text() == "1" and is_owned(out, OutputKind.MIXTURE)
    # a failure half-way leaves the old folder as it was, and nothing beside it
    with pytest.raises(RuntimeError):
        with staged(out, OutputKind.MIXTURE) as tmp:
            (tmp / "v").write_text("2")
            raise RuntimeError("disk on fire")
    assert (out / "v").read_text() == "1" and sorted(p.name for p in tmp_path.iterdir()) == ["mix"]
    with staged(out, OutputKind.MIXTURE) as tmp:
        (tmp / "v").write_text("3")
    assert tree(out) == {MARKER: (out / MARKER).read_text(), "v": "3"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix"]


def test_legacy_folders_are_recognised_and_marked(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / "brd_train.json").write_text("{}")
    legacy = lambda d: (d / "brd_train.json").is_file()  # noqa: E731
    assert check_replaceable(old, OutputKind.TRAINING, legacy) is True
    with staged(old, OutputKind.TRAINING, legacy) as tmp:
        (tmp / "brd_train.json").write_text('{"new": 1}')
    assert (old / "brd_train.json").read_text() == '{"new": 1}' and is_owned(old)


def test_leftovers_of_killed_processes_are_cleared_or_put_back(tmp_path):
    out = tmp_path / "mix"
    pid = dead_pid()
    # killed while writing: the half-written folder goes
    half = tmp_path / f".mix.writing-{pid}"
    half.mkdir()
    mark(half, OutputKind.MIXTURE)
    # killed between the two renames of a swap: the old folder is put back
    aside = tmp_path / f".mix.old-{pid}"
    aside.mkdir()
    mark(aside, OutputKind.MIXTURE)
    (aside / "v").write_text("old")
    # a live process's folder, and an unmarked one, are never touched
    live = tmp_path / f".mix.writing-{os.getpid() + 0}"
    unmarked = tmp_path / f".mix.writing-{dead_pid()}"
    unmarked.mkdir()
    (unmarked / "user.txt").write_text("x")
    tmp = sibling(out, "building")
    assert tmp == tmp_path / f".mix.building-{os.getpid()}" and not live.exists()
    assert (out / "v").read_text() == "old" and not half.exists() and not aside.exists()
    assert (unmarked / "user.txt").exists()


def test_inside_store(tmp_path):
    from brd_data.store import Store

    with Store(tmp_path / "s").writer("create"):
        pass
    assert inside_store(tmp_path / "s" / "brd.duckdb") == tmp_path / "s"
    assert inside_store(tmp_path / "s" / "a" / "b.csv") == tmp_path / "s"
    assert inside_store(tmp_path / "elsewhere.csv") is None
