"""Where the SQL files, manifests and sample data live, in a checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent
_CHECKOUT = _PKG.parent


def _resource(name: str) -> Path:
    # A checkout keeps sql/ and manifests/ at the top; a wheel carries them in brd_data/_resources.
    for candidate in (_CHECKOUT / name, _PKG / "_resources" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"brd resource folder {name!r} not found (looked in {_CHECKOUT} and {_PKG / '_resources'})")


def sql_dir() -> Path:
    return _resource("sql")


def manifests_dir() -> Path:
    return _resource("manifests")


def samples_dir() -> Path:
    return _PKG / "samples"
