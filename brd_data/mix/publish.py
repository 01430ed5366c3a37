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
    template: str = ""  # the text the teacher received, the input as a placeholder
    source: str = ""  # where the template text came from
    mode: str = ""


@dataclass
class RepoContents:
    repo_id: str
    mixtures: list[Mixture]
    prompts: dict[str, PromptInfo] = field(default_factory=dict)
    teachers: dict[str, str] = field(default_factory=dict)  # fingerprint -> name
    license: tuple[str, str] | None = None  # (license id, the source corpus's terms); None: default_license


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


def _info(h: str, sent: dict[str, Any], name: str, source: str) -> PromptInfo:
    return PromptInfo(h, sent.get("behaviour") or "", name, _prompt_text(sent), source, sent.get("mode") or "")


def prompt_infos(hashes: set[str], store=None, mixtures: list[Mixture] = ()) -> dict[str, PromptInfo]:
    """The prompts by hash, as the teacher received them: from the mixtures' manifest.json, else the
    store's `prompts` table, else manifests/prompts files whose sha256[:16] is the hash."""
    from ..contracts.schemas.prompt import sent_text

    found: dict[str, PromptInfo] = {}
    for m in mixtures:
        for h, sent in m.manifest.get("prompts", {}).items():
            if h in hashes and sent.get("template"):
                found.setdefault(h, _info(h, sent, sent.get("name") or "", "the mixture's manifest.json"))
    missing = sorted(hashes - set(found))
    if store is not None and store.exists() and missing:
        with store.reader() as con:
            rows = con.execute(query("mix/prompts_by_hash"), {"hashes": missing}).fetchall()
        for h, behaviour, name, text, _source in rows:
            sent = sent_text(text or "")
            if sent:
                found[h] = _info(h, {**sent, "behaviour": behaviour}, name, "the store's prompts table")
    prompt_dir = manifests_dir() / "prompts"
    if prompt_dir.is_dir() and set(hashes) - set(found):
        for p in sorted(prompt_dir.rglob("*")):
            if p.is_file():
                h = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
                sent = sent_text(p.read_text(encoding="utf-8")) if h in hashes and h not in found else {}
                if sent:
                    found[h] = _info(h, sent, p.stem, f"manifests/prompts/{p.name}")
    return {h: found.get(h, PromptInfo(h)) for h in sorted(hashes)}


def teacher_names(fingerprints: set[str], store=None, mixtures: list[Mixture] = ()) -> dict[str, str]:
    """Teacher names by fingerprint: from the mixtures' manifest.json, else from the store."""
    names = {fp: "" for fp in fingerprints}
    for m in mixtures:
        for fp, name in m.manifest.get("teachers", {}).items():
            if fp in names and name and not names[fp]:
                names[fp] = name
    missing = sorted(fp for fp, n in names.items() if not n)
    if store is not None and store.exists() and missing:
        with store.reader() as con:
            for fp, teacher in con.execute(query("mix/teachers_by_fingerprint"), {"fingerprints": missing}).fetchall():
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


# What each component of a mixture is, in the paper's passage format (§3.2), for s1, s2, s3.
COMPONENT_FORMATS = {
    "d_ori": "original passage: `s1<sep>s2<sep>s3`",
    "d_ner": "NER: `s1<sep>NER(s1)<sep>s2<sep>NER(s2)<sep>s3<sep>NER(s3)`",
    "d_qra": "QRA: `s1<sep>QRA(s1)<sep>s2<sep>QRA(s2)<sep>s3<sep>QRA(s3)`",
    "d_qra_no_sent": "QRA without questions about the attitude or answers with a sentiment word (appendix A.5)",
    "sentence_ori": "one sentence alone: `s`",
    "sentence_ner": "one sentence with its NER: `s<sep>NER(s)`",
    "sentence_qra": "one sentence with its QRA: `s<sep>QRA(s)`",
}
SAMPLE_LICENSE = ("apache-2.0", "the sample corpus shipped with brd (written for brd; Apache-2.0, as brd itself)")


def _components(m: Mixture) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for comp in m.manifest["components"]:
        for c, v in comp.get("by_component", {}).items():
            out[c] = v
    return out


def _languages(mixtures: list[Mixture]) -> list[str]:
    langs = {lang for m in mixtures for lang in m.manifest.get("languages", {}) if lang and lang != "und"}
    return sorted(langs)


def _corpus_files(mixtures: list[Mixture]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for m in mixtures:
        for f in m.manifest.get("corpus_files", []):
            seen.setdefault(f["sha256"], f)
    return sorted(seen.values(), key=lambda f: (f["file"], f["sha256"]))


def _sample_hashes() -> set[str]:
    from ..contracts.identity import file_sha256
    from ..contracts.paths import samples_dir

    return {file_sha256(p) for p in (samples_dir() / "cc100").glob("*") if p.is_file()}


def default_license(mixtures: list[Mixture]) -> tuple[str, str]:
    """(license id, the source corpus's terms): brd's sample corpus is Apache-2.0; for any other
    corpus brd cannot know the terms, and the card says so until --license/--license-note say them."""
    files = _corpus_files(mixtures)
    if files and {f["sha256"] for f in files} <= _sample_hashes():
        return SAMPLE_LICENSE
    return "other", ""


def _prompt_text(info: dict[str, Any]) -> str:
    """The prompt as the teacher saw it, the input shown as a placeholder."""
    slot = "<the task prompt>" if info.get("input") == "task" else "<the sentence>"
    text = str(info.get("template") or "").replace("{input}", slot, 1).rstrip()
    if info.get("mode") == "chat":
        system = f"system: {info['system']}\n\n" if info.get("system") else ""
        return f"{system}user: {text}"
    return text


def render_card(contents: RepoContents) -> str:
    mixtures = contents.mixtures
    license_id, license_note = contents.license or default_license(mixtures)
    langs = _languages(mixtures)
    front = {
        "pretty_name": contents.repo_id.split("/")[1],
        **({"language": langs} if langs else {}),
        "license": license_id,
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
    files = _corpus_files(mixtures)
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        f"# {contents.repo_id.split('/')[1]}",
        "",
        "Training data for a student language model, built with `brd` after *Basic Reading Distillation* "
        "(anonymous ACL submission): a teacher LLM read every sentence of a corpus and wrote named-entity "
        "prose (NER) and a question with its answer (QRA); its outputs are woven into the passages. "
        "Each config is one mixture (`brd mix build NAME`).",
        "",
        "| config | rows | tokens | components | languages | mixture hash |",
        "|---|---:|---:|---|---|---|",
    ]
    for m in mixtures:
        mf = m.manifest
        parts = "; ".join(f"{c}: {v['rows']:,} rows / {v['tokens']:,} tokens" for c, v in _components(m).items())
        mlangs = ", ".join(f"{k} {v:,}" for k, v in mf.get("languages", {}).items()) or "–"
        lines.append(
            f"| `{m.name}` | {mf['rows']:,} | {mf['tokens']:,} | {parts} | {mlangs} | `{mf['mixture_hash']}` |"
        )
    lines += ["", "Load a config:", "", "```python", "from datasets import load_dataset", ""]
    lines += [f'{_ident(m.name)} = load_dataset("{contents.repo_id}", "{m.name}", split="train")' for m in mixtures]
    lines += ["```", "", "## Source corpus and license", ""]
    if files:
        lines.append(
            "The passages are sentences of these files, ingested with `brd ingest` "
            "(name, language, format, sha256 of the bytes):"
        )
        lines.append("")
        lines += [
            f"- `{f['file']}` ({f.get('lang') or '?'}, {f.get('format') or '?'}, `{f['sha256'][:16]}`)" for f in files
        ]
    else:
        lines.append("The rows are task examples, not corpus passages (see each config's components).")
    lines.append("")
    if license_note:
        lines.append(f"License `{license_id}`: {license_note}.")
    else:
        lines.append(
            f"License `{license_id}`: the terms of the source corpus above apply to its text and to the teacher's "
            "outputs about it; the publisher has not stated them (`brd publish --license ID --license-note TEXT`)."
        )
    lines.append("The teacher model's own license may also bind its outputs.")
    lines += ["", "## Configs", ""]
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
    present = {c for m in mixtures for c in _components(m)}
    described = [c for c in COMPONENT_FORMATS if c in present]
    lines += ["", "## Row format (paper §3.2)", ""]
    if described:
        lines.append("Each row's `component` says how its `text` was composed, for sentences s1, s2, s3:")
        lines.append("")
        lines += [f"- `{c}`: {COMPONENT_FORMATS[c]}" for c in described]
        lines += [
            "",
            "A sentence whose annotation is missing or unusable keeps its place with nothing after it; a "
            "passage with no usable annotation has no NER or QRA row.",
        ]
    other = sorted(present - set(COMPONENT_FORMATS))
    if other:
        lines += ["", f"Other components: {', '.join(f'`{c}`' for c in other)} (prompt / completion rows)."]
    lines += [
        "",
        "Columns: `text` (the training text), `passage_id`, `unit_id` (the passage, or the sentence of "
        "sentence-level rows), `component`, `run_ids` (the brd runs behind the row), `prompt_hashes` "
        "(the prompt versions of its annotations).",
        "",
        "## Teacher",
        "",
    ]
    for fp, name in sorted(contents.teachers.items()):
        lines.append(f"- {name or 'a local model'} (fingerprint `{fp}`, a hash of its config and weight files)")
    if not contents.teachers:
        lines.append("- none (no annotations in these mixtures)")
    lines += ["", "## Prompts", "", "Each prompt as the teacher received it (the input marked `<...>`).", ""]
    for h, p in contents.prompts.items():
        if p.template:
            mode = p.mode or "completion"
            how = "one user turn through the teacher's chat template" if mode == "chat" else "the raw text"
            lines += [f"### {p.behaviour or p.name} (`{p.name}`, prompt hash `{h}`)", "", f"Mode {mode}: {how}.", ""]
            lines += ["```text", p.template, "```", ""]
        else:
            lines += [f"### prompt hash `{h}`", "", "The prompt's text was not available where this card was made.", ""]
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


def _ident(name: str) -> str:
    return re.sub(r"\W", "_", name) or "ds"


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


def gather(
    dirs: list[Path], repo_id: str, store=None, license: str | None = None, license_note: str | None = None
) -> RepoContents:
    if not _REPO_ID.match(repo_id or ""):
        raise PublishError(f"--repo-id {repo_id!r}: expected ORG/NAME (letters, digits, '-', '_', '.')")
    if license is not None and not re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", license):
        raise PublishError(f"--license {license!r}: expected a Hub license id such as cc-by-4.0, apache-2.0 or other")
    mixtures = find_mixtures(dirs)
    hashes = {h for m in mixtures for h in m.manifest.get("prompt_hashes", [])}
    fps = {fp for m in mixtures for fp in m.manifest.get("teacher_fingerprints", [])}
    chosen = None
    if license is not None or license_note is not None:
        default_id, default_note = default_license(mixtures)
        chosen = (license or default_id, license_note if license_note is not None else default_note)
    return RepoContents(
        repo_id, mixtures, prompt_infos(hashes, store, mixtures), teacher_names(fps, store, mixtures), chosen
    )


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
