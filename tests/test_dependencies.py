"""pyproject.toml's dependencies match what brd imports: nothing imported goes undeclared, and
nothing declared goes unused unless the list says which run-time need it serves."""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
import tomllib

from tests.conftest import REPO

# Declared for what brd's imports need at run time, not imported by brd itself (see the comments
# in pyproject.toml).
RUNTIME_ONLY = {"aiofiles", "aiosqlite", "openai", "accelerate", "gguf"}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imported_distributions() -> set[str]:
    modules: set[str] = set()
    for package in ("brd_data", "brd_train"):
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    third = {m for m in modules if m not in sys.stdlib_module_names and m not in ("brd_data", "brd_train")}
    by_module = md.packages_distributions()
    out = set()
    for m in third:
        dists = by_module.get(m)
        assert dists, f"{m} is imported but no installed distribution provides it"
        out.add(dists[0].lower().replace("_", "-"))
    return out


def test_declared_dependencies_match_the_imports():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_name(r) for r in project["dependencies"]}
    extras = {_name(r) for reqs in project["optional-dependencies"].values() for r in reqs}
    imported = _imported_distributions()
    missing = imported - declared - extras
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"
    unused = declared - imported - RUNTIME_ONLY
    assert not unused, f"declared but never imported (remove, or list in RUNTIME_ONLY with why): {sorted(unused)}"
    assert len(project["dependencies"]) == len(declared), "a dependency is declared twice"
