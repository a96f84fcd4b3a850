#!/usr/bin/env bash
# Runs the GPT-2 124M training-step benchmark on the GPU machine. From the
# repository root:
#   bench/gpt2_124m/run.sh [--modes eager,compile,max-autotune] [--steps N]
# Default modes: eager and torch.compile (default mode). max-autotune
# (max-autotune-no-cudagraphs) adds several minutes of compilation.
set -euo pipefail
# Inductor's caches go under /tmp: the checkout may be read-only or shared.
export TORCHINDUCTOR_CACHE_DIR="${TORCHINDUCTOR_CACHE_DIR:-/tmp/torchinductor-cache}"
export TRITON_CACHE_DIR="${TRITON_CACHE_DIR:-/tmp/triton-cache}"
export PYTHONUNBUFFERED=1
exec python3 "$(dirname "${BASH_SOURCE[0]}")/bench.py" "$@"
