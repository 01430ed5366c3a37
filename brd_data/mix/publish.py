"""`brd publish`: mixture folders as one Hugging Face Hub dataset repository, one config per mixture.

The repository is first staged as a folder (with --dry-run, that folder is the output):

    README.md                         dataset card: YAML front matter with the configs, then counts,
                                      the passage format, teacher, prompts, lineage and citation
    data/NAME/train-0000i-of-0000N.parquet   the mixture's shards, unchanged
    lineage/NAME.json                 the mixture's manifest.json, without local paths

then pushed with huggingface_hub (create_repo, upload_folder), retrying transient failures. The
token is huggingface_hub's own (HF_TOKEN or `hf auth login`): brd never reads it into a card, a log
or the store, and redacts it from any error it prints.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from ..contracts.errors import UserError
from ..contracts.outputs import MARKER, OutputKind, check_replaceable, staged
from ..contracts.paths import manifests_dir
from ..contracts.schemas.mixture import read_mixture_manifest
from ..store import query

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
T = TypeVar("T")

CITATION = """@misc{basic-reading-distillation,
  title  = {Basic Reading Distillation},
  author = {Anonymous},
  note   = {Anonymous ACL submission},
}"""


class PublishError(UserError):
    """A publish that cannot go ahead; one line."""


@dataclass(frozen=True)
class Mixture:
    name: str
    folder: Path
    manifest: dict[str, Any]


@dataclass(frozen=True)
class PromptInfo:
    prompt_hash: str
    behaviour: str = ""
    name: str = ""
    template: str = ""
    source: str = ""  # where the template text came from


@dataclass
class RepoContents:
    repo_id: str
    mixtures: list[Mixture]
    prompts: dict[str, PromptInfo] = field(default_factory=dict)
    teachers: dict[str, str] = field(default_factory=dict)  # fingerprint -> name


def find_mixtures(dirs: list[Path]) -> list[Mixture]:
    """Each DIR is a mixture folder (holds manifest.json) or a folder of them (e.g. mixtures/).

    Nothing in a manifest.json is trusted: it must fit the manifest schema (a catalogue name,
    relative shard paths), and every shard must resolve inside its mixture folder and be a regular
    file (see `check_shards`)."""
    found: list[Path] = []
    for d in dirs:
        if (d / "manifest.json").is_file():
            found.append(d)
        elif d.is_dir():
            found.extend(sorted(p for p in d.iterdir() if (p / "manifest.json").is_file()))
        else:
            raise PublishError(f"{d}: no such folder")
    if not found:
        raise PublishError(
            f"no mixture folder (with manifest.json) in {', '.join(map(str, dirs))}; "
            "build one with `brd mix build NAME`"
        )
    out = []
    for folder in found:
        checked, m = read_mixture_manifest(folder / "manifest.json", PublishError)
        if not checked.shards:
            raise PublishError(f"{folder / 'manifest.json'}: lists no shards")
        for s in checked.shards:
            shard_path(folder, s.file)
        out.append(Mixture(checked.name, folder, m))
    names = [m.name for m in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise PublishError(f"two mixtures named {', '.join(dup)}; a repository has one config per name")
    return out


def shard_path(folder: Path, file: str) -> Path:
    """The shard `file` of a mixture folder: a regular file that resolves inside the folder (no
    `..`, no absolute path, no symbolic link leading out)."""
    path = folder / file
    root = folder.resolve()
    real = path.resolve()
    if real != root and root not in real.parents:
        raise PublishError(f"{folder / 'manifest.json'}: shard {file} resolves outside the mixture folder ({real})")
    if not path.is_file():
        raise PublishError(f"{folder}: shard {file} is missing")
    return path


def check_shards(contents: RepoContents) -> None:
    """Every shard's bytes match the sha256 its manifest.json gives, and its rows the row count;
    checked before anything is staged or uploaded."""
    import pyarrow.parquet as pq

    from ..contracts.identity import file_sha256

    for m in contents.mixtures:
        for s in m.manifest["shards"]:
            path = shard_path(m.folder, s["file"])
            if file_sha256(path) != s["sha256"]:
                raise PublishError(
                    f"{path}: sha256 differs from manifest.json's; the shard changed after `brd mix build` "
                    "(build the mixture again)"
                )
            try:
                rows = pq.read_metadata(path).num_rows
            except Exception as exc:  # pyarrow raises several types for a damaged file
                raise PublishError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
            if rows != s["rows"]:
                raise PublishError(f"{path}: holds {rows} rows, manifest.json says {s['rows']}")


def prompt_infos(hashes: set[str], store=None) -> dict[str, PromptInfo]:
    """Prompt templates by hash: from the store's `prompts` table, else from manifests/prompts files
    whose sha256[:16] is the hash (how the annotation engine names a template version)."""

    found: dict[str, PromptInfo] = {}
    if store is not None and store.exists() and hashes:
        with store.reader() as con:
            rows = con.execute(query("mix/prompts_by_hash"), {"hashes": sorted(hashes)}).fetchall()
        for h, behaviour, name, template, _source in rows:
            found[h] = PromptInfo(h, behaviour, name, template, "the store's prompts table")
    prompt_dir = manifests_dir() / "prompts"
    if prompt_dir.is_dir():
        for p in sorted(prompt_dir.rglob("*")):
            if p.is_file():
                h = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
                if h in hashes and h not in found:
                    found[h] = PromptInfo(h, "", p.stem, p.read_text(encoding="utf-8"), f"manifests/prompts/{p.name}")
    return {h: found.get(h, PromptInfo(h)) for h in sorted(hashes)}


def teacher_names(fingerprints: set[str], store=None) -> dict[str, str]:
    names = {fp: "" for fp in fingerprints}
    if store is not None and store.exists() and fingerprints:
        with store.reader() as con:
            for fp, teacher in con.execute(
                query("mix/teachers_by_fingerprint"), {"fingerprints": sorted(fingerprints)}
            ).fetchall():
                names[fp] = _public_name(teacher)
    return names


def _public_name(path_or_id: str) -> str:
    """A hub id as is; a local path by its last part (no local paths in a public card)."""
    if path_or_id and (path_or_id.startswith(("/", ".", "~")) or os.sep in path_or_id and Path(path_or_id).exists()):
        return Path(path_or_id).name
    return path_or_id


def _public_manifest(m: dict[str, Any]) -> dict[str, Any]:
    out = dict(m)
    out.pop("store", None)
    out["tokenizer"] = _public_name(m.get("tokenizer") or "")
    if out.get("manifest_file"):
        out["manifest_file"] = Path(out["manifest_file"]).name
    return out


def _size_category(rows: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
        (100_000_000, "10M<n<100M"),
    ):
        if rows < limit:
            return label
    return "100M<n<1B"


def render_card(contents: RepoContents) -> str:
    mixtures = contents.mixtures
    front = {
        "pretty_name": contents.repo_id.split("/")[1],
        "configs": [
            {
                "config_name": m.name,
                "data_files": [{"split": "train", "path": f"data/{m.name}/train-*.parquet"}],
                **({"default": True} if i == 0 else {}),
            }
            for i, m in enumerate(mixtures)
        ],
        "task_categories": ["text-generation"],
        "tags": ["brd", "basic-reading-distillation", "distillation", "synthetic"],
        "size_categories": [_size_category(max(m.manifest["rows"] for m in mixtures))],
    }
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        f"# {contents.repo_id.split('/')[1]}",
        "",
        "Training data for a student language model, built with `brd` after *Basic Reading Distillation* "
        "(anonymous ACL submission): a teacher LLM reads every sentence of a corpus and writes named-entity "
        "prose (NER) and a question with its answer (QRA); the outputs are woven into the passages below. "
        "Each config is one mixture (`brd mix build NAME`).",
        "",
        "| config | rows | tokens | components | mixture hash |",
        "|---|---:|---:|---|---|",
    ]
    for m in mixtures:
        mf = m.manifest
        parts = "; ".join(
            f"{c}: {v['rows']:,} rows" for comp in mf["components"] for c, v in comp.get("by_component", {}).items()
        )
        lines.append(f"| `{m.name}` | {mf['rows']:,} | {mf['tokens']:,} | {parts} | `{mf['mixture_hash']}` |")
    lines += [
        "",
        "```python",
        "from datasets import load_dataset",
        f'ds = load_dataset("{contents.repo_id}", "{mixtures[0].name}", split="train")',
        "```",
        "",
    ]
    lines += ["## Configs", ""]
    for m in mixtures:
        mf = m.manifest
        lines.append(
            f"- **`{m.name}`**: {mf.get('description') or ''} Sources: "
            + ", ".join(
                f"`{c['view']}`" + (f" (budget {c['tokens_budget']:,} tokens)" if c.get("tokens_budget") else "")
                for c in mf["components"]
            )
            + (f"; the first {mf['passages']:,} passages in seeded order" if mf.get("passages") else "")
            + f". Delimiter `{mf['delimiter']}`, seed {mf['seed']}, tokens counted with "
            f"`{_public_name(mf.get('tokenizer') or '')}` (no special tokens)."
        )
    lines += [
        "",
        "## Passage format (paper §3.2)",
        "",
        "For a passage of sentences s1, s2, s3 and the delimiter `<sep>`:",
        "",
        "- original (`d_ori`): `s1<sep>s2<sep>s3`",
        "- NER (`d_ner`): `s1<sep>NER(s1)<sep>s2<sep>NER(s2)<sep>s3<sep>NER(s3)`",
        "- QRA (`d_qra`): `s1<sep>QRA(s1)<sep>s2<sep>QRA(s2)<sep>s3<sep>QRA(s3)`",
        "",
        "A sentence whose annotation is missing or unusable keeps its place with nothing after it; a "
        "passage with no usable annotation is left out of `d_ner` / `d_qra`. Sentence-level units "
        "(`sentence_*`) are one sentence each, with its annotation. `d_qra_no_sent` drops QRA items "
        "about the attitude or answering with a sentiment word (appendix A.5).",
        "",
        "Columns: `text` (the training passage), `passage_id`, `unit_id` (the passage, or the sentence for "
        "sentence-level rows), `component` (which composition made the row), `run_ids` (the brd runs that "
        "produced its sentences and annotations), `prompt_hashes` (the prompt versions of its annotations).",
        "",
        "## Teacher",
        "",
    ]
    for fp, name in sorted(contents.teachers.items()):
        lines.append(f"- `{fp}`" + (f": {name}" if name else " (fingerprint of the teacher model's files)"))
    if not contents.teachers:
        lines.append("- none (no annotations in these mixtures)")
    lines += ["", "## Prompts", ""]
    for h, p in contents.prompts.items():
        title = " ".join(x for x in (p.behaviour, p.name) if x)
        if p.template:
            lines += [f"### `{h}` {title}", "", f"From {p.source}.", "", "```text", p.template.rstrip(), "```", ""]
        else:
            lines += [f"### `{h}`", "", "Template text not available where this card was made.", ""]
    if not contents.prompts:
        lines += ["None: these mixtures hold no teacher annotations.", ""]
    lines += ["## Lineage", ""]
    for m in mixtures:
        mf = m.manifest
        lines.append(
            f"- `{m.name}`: built by run `{mf.get('build_run_id', '')}` with brd {mf.get('code_version', '')} "
            f"from runs {', '.join(f'`{r}`' for r in mf['source_run_ids'])}"
            + (
                f"; filters {', '.join(f'{k} `{v}`' for k, v in mf.get('filters', {}).items())}"
                if mf.get("filters")
                else ""
            )
            + f". Full manifest: `lineage/{m.name}.json`."
        )
    lines += ["", "## Citation", "", "```bibtex", CITATION, "```", ""]
    return "\n".join(lines)


def legacy_staging(folder: Path) -> bool:
    """A staged repository written before ownership markers: README.md, data/ and lineage/ only."""
    names = {p.name for p in folder.iterdir()}
    return names <= {"README.md", "data", "lineage"} and {"README.md", "data"} <= names


def stage(contents: RepoContents, folder: Path, what: str = "--dry-run") -> Path:
    """Write the repository folder: shards (hard links when possible), lineage, README.md.

    The shards are checked against their manifests first. The folder is written beside `folder`
    and renamed into place; a folder already there is replaced only if brd staged it (it holds the
    ownership marker), and anything else is refused untouched."""
    check_replaceable(folder, OutputKind.PUBLISH, legacy_staging, what)
    check_shards(contents)
    with staged(folder, OutputKind.PUBLISH, legacy_staging, what) as tmp:
        _write_repository(contents, tmp)
    return folder


def _write_repository(contents: RepoContents, folder: Path) -> None:
    (folder / "lineage").mkdir(parents=True, exist_ok=True)
    for m in contents.mixtures:
        target = folder / "data" / m.name
        target.mkdir(parents=True, exist_ok=True)
        for s in m.manifest["shards"]:
            src, dst = shard_path(m.folder, s["file"]), target / Path(s["file"]).name
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
        (folder / "lineage" / f"{m.name}.json").write_text(
            json.dumps(_public_manifest(m.manifest), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    (folder / "README.md").write_text(render_card(contents), encoding="utf-8")


def gather(dirs: list[Path], repo_id: str, store=None) -> RepoContents:
    if not _REPO_ID.match(repo_id or ""):
        raise PublishError(f"--repo-id {repo_id!r}: expected ORG/NAME (letters, digits, '-', '_', '.')")
    mixtures = find_mixtures(dirs)
    hashes = {h for m in mixtures for h in m.manifest.get("prompt_hashes", [])}
    fps = {fp for m in mixtures for fp in m.manifest.get("teacher_fingerprints", [])}
    return RepoContents(repo_id, mixtures, prompt_infos(hashes, store), teacher_names(fps, store))


# -- pushing ----------------------------------------------------------------------------------------


def is_transient(exc: BaseException) -> bool:
    """Worth another try: a 408/425/429/5xx answer, or the connection failed or timed out."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if isinstance(exc, OfflineModeIsEnabled):
        return False
    if isinstance(exc, HfHubHTTPError):
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return status in TRANSIENT_STATUS
    for module in ("httpx2", "httpx", "requests"):
        try:
            mod = __import__(module)
        except ImportError:
            continue
        transport = getattr(mod, "TransportError", None) or getattr(
            getattr(mod, "exceptions", None), "ConnectionError", None
        )
        if transport is not None and isinstance(exc, transport):
            return True
    return isinstance(exc, (ConnectionError, TimeoutError))


def with_retries(
    fn: Callable[[], T],
    what: str,
    attempts: int = 5,
    first_wait: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
) -> T:
    """Call `fn`; on a transient failure wait 2, 4, 8 ... seconds and try again, `attempts` times in all."""
    wait = first_wait
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if attempt == attempts or not is_transient(exc):
                raise PublishError(
                    f"{what} failed{' after ' + str(attempt) + ' attempts' if attempt > 1 else ''}: "
                    f"{redact(_first_line(exc))}"
                ) from None
            log(f"{what}: {redact(_first_line(exc))}; retrying in {wait:g}s ({attempt}/{attempts})")
            sleep(wait)
            wait *= 2
    raise AssertionError("unreachable")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def redact(text: str) -> str:
    """Remove the Hub token from a message, whatever printed it."""
    from huggingface_hub import get_token

    try:
        token = get_token()
    except Exception:
        token = None
    for secret in {token, os.environ.get("HF_TOKEN"), os.environ.get("HUGGING_FACE_HUB_TOKEN")}:
        if secret:
            text = text.replace(secret, "***")
    return text


def publish(
    contents: RepoContents,
    private: bool,
    log: Callable[[str], None] = print,
    attempts: int = 5,
    first_wait: float = 2.0,
) -> str:
    """Stage `contents` and push them (see `push`); returns the repository's URL. The staged folder
    is made next to the mixtures, so that the shards are hard-linked rather than copied, and removed
    after the push."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix=".brd-publish-", dir=contents.mixtures[0].folder.parent) as tmp:
        folder = stage(contents, Path(tmp) / "repo", what="staging folder")
        return push(folder, contents.repo_id, private, log=log, attempts=attempts, first_wait=first_wait)


def push(
    folder: Path,
    repo_id: str,
    private: bool,
    log: Callable[[str], None] = print,
    attempts: int = 5,
    first_wait: float = 2.0,
) -> str:
    """Create the dataset repository (if needed) and upload the staged folder; returns its URL."""
    from huggingface_hub import HfApi, constants

    if constants.HF_HUB_OFFLINE:
        raise PublishError("HF_HUB_OFFLINE is set: unset it to push, or use --dry-run OUTDIR")
    api = HfApi()
    url = with_retries(
        lambda: api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True),
        f"create_repo {repo_id}",
        attempts,
        first_wait,
        log=log,
    )
    with_retries(
        lambda: api.upload_folder(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=str(folder),
            ignore_patterns=[MARKER],  # brd's ownership marker is not part of the dataset
            commit_message=f"brd publish: {', '.join(sorted(p.name for p in (folder / 'data').iterdir()))}",
        ),
        f"upload_folder {repo_id}",
        attempts,
        first_wait,
        log=log,
    )
    return str(url)
