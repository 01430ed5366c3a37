"""What brd prints: one progress display per stage in the user's words, and none of the
libraries' own bars and log lines (datasets' "Adding EOS", transformers' "Loading weights", the
GGUF conversion) unless the user asks for them with `--verbose` (or BRD_VERBOSE=1).

The libraries read their switches from the environment when they are imported, so `quiet_libraries`
runs at the command line's start, before any of them loads; child processes (the study's stages,
the vLLM server) inherit the same environment.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator

VERBOSE_ENV = "BRD_VERBOSE"
# Each library's own switch; a value the user set is kept.
_QUIET = {
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",  # datasets: map/filter/packing bars
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # huggingface_hub, and transformers' loading bars through it
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "DATASETS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",  # its fork warning
}


def verbose_terminal() -> bool:
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


_set_here: set[str] = set()


def quiet_libraries(verbose: bool | None = None) -> None:
    """Set the libraries' quiet switches; with `verbose`, mark the process verbose and take back
    the switches this function set."""
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
    if verbose_terminal():
        for key in _set_here:
            os.environ.pop(key, None)
        _set_here.clear()
        return
    for key, value in _QUIET.items():
        if key not in os.environ:
            os.environ[key] = value
            _set_here.add(key)


@contextlib.contextmanager
def quiet_tqdm(*modules) -> Iterator[None]:
    """Silence the `tqdm` that these modules imported for themselves (e.g. transformers' GGUF
    loader, which ignores the switches above), for the block."""
    if verbose_terminal():
        yield
        return
    saved = [(m, m.tqdm) for m in modules if hasattr(m, "tqdm")]
    for m, bar in saved:
        m.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        for m, bar in saved:
            m.tqdm = bar
