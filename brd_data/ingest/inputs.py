"""Resolving ingest arguments (files, folders, globs) into hashed input files."""

from __future__ import annotations

import glob
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from ..contracts.choices import InputFormat, check_choice
from ..contracts.errors import UserError
from ..contracts.identity import file_sha256
from ..contracts.outputs import marker
from ..contracts.paths import samples_dir

_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.xz", ".ndjson", ".json")
_CORPUS_SUFFIXES = (".txt", ".txt.xz", ".xz", ".txt.gz", ".gz", ".parquet") + _JSONL_SUFFIXES
# A folder is searched for the names the readers are made for; a bare .gz or .xz (a tarball, a
# backup) and a .json file (datatrove's stats, a manifest) are taken only when named.
_FOLDER_SUFFIXES = (".txt", ".txt.xz", ".txt.gz", ".txt.bz2", ".parquet", ".jsonl", ".jsonl.gz", ".jsonl.xz", ".ndjson")
# CC-100 names its files by language: en.txt.xz, zh-Hans.txt.xz, sw.txt.xz
_LANG_FROM_NAME = re.compile(r"^([a-z]{2,3}(?:[-_][A-Za-z]{2,4})?)(?:\.[a-z]+)*$")


class InputError(UserError):
    """A path argument that cannot be ingested."""


@dataclass(frozen=True)
class InputFile:
    path: str
    size: int
    sha256: str
    format: str
    lang: str | None

    @property
    def source_id(self) -> str:
        return self.sha256

    @property
    def short_id(self) -> str:
        return self.sha256[:16]

    def lineage(self) -> dict:
        return asdict(self)


def sample_corpus() -> list[Path]:
    """The embedded sample corpus: CC-100-format files in several languages."""
    return sorted((samples_dir() / "cc100").glob("*.txt"))


def detect_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    return "cc100"


def lang_from_name(path: Path) -> str | None:
    m = _LANG_FROM_NAME.match(path.name)
    return m.group(1) if m else None


def expand(args: list[str]) -> list[Path]:
    """Files named, files under folders (recursively), and glob matches, in a stable order."""
    out: list[Path] = []
    for arg in args:
        p = Path(arg)
        if any(ch in arg for ch in "*?["):
            matches = sorted(
                Path(m) for m in glob.glob(arg, recursive=True) if Path(m).is_file() and not _in_brd_folder(Path(m))
            )
            if not matches:
                raise InputError(f"{arg}: no file matches this pattern")
            out.extend(matches)
        elif p.is_dir():
            if (why := not_corpus(p)) is not None:
                raise InputError(f"{arg}: {why}, not a corpus folder")
            found = sorted(corpus_files(p))
            if not found:
                raise InputError(f"{arg}: folder holds no corpus files ({', '.join(_FOLDER_SUFFIXES)})")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        elif p.exists():
            raise InputError(f"{arg}: not a regular file or folder")
        else:
            raise InputError(f"{arg}: no such file or folder")
    return out


def not_corpus(folder: Path) -> str | None:
    """Why `folder` is brd's or a tool's own output rather than a corpus (None: it may be one): a
    store, a folder brd marked as output (mixture, reports, training output, publish staging), a
    mixture folder, a datatrove logging folder."""
    if (folder / "brd.duckdb").is_file():
        return "a brd store"
    found = marker(folder)
    if found is not None:
        return f"a brd {found['brd_output']} folder"
    if _is_mixture_manifest(folder / "manifest.json"):
        return "a brd mixture folder"
    if (folder / "executor.json").is_file():  # datatrove writes it into every logging folder
        return "a datatrove logging folder"
    return None


def _is_mixture_manifest(path: Path) -> bool:
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(m, dict) and "build_run_id" in m and "shards" in m


def corpus_files(root: Path):
    """Files under `root` with a corpus suffix, skipping hidden entries and the folders that
    `not_corpus` names (their contents are never corpus)."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not_corpus(here / d) is None)
        for name in sorted(filenames):
            if not name.startswith(".") and name.lower().endswith(_FOLDER_SUFFIXES) and (here / name).is_file():
                yield here / name


def _in_brd_folder(path: Path) -> bool:
    return any(not_corpus(parent) is not None for parent in path.parents)


def resolve(args: list[str], fmt: str = "auto", lang: str | None = None) -> list[InputFile]:
    """Expand, hash and type every input. Identical contents are kept once."""
    try:
        fmt = check_choice(InputFormat, fmt, "--format")
    except ValueError as exc:
        raise InputError(str(exc)) from None
    files: list[InputFile] = []
    seen: set[str] = set()
    for path in expand(args):
        try:
            size = path.stat().st_size
            digest = file_sha256(path)
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror})") from None
        if digest in seen:
            continue
        seen.add(digest)
        f_fmt = detect_format(path) if fmt == InputFormat.AUTO else fmt
        # Only CC-100 files carry their language in the name (en.txt.xz); task files do not (rte.jsonl).
        f_lang = lang or (lang_from_name(path) if f_fmt == "cc100" else None)
        if not f_lang:
            raise InputError(f"{path}: cannot tell the language from the file name; pass --lang")
        files.append(InputFile(str(path), size, digest, f_fmt, f_lang))
    return files
