#!/usr/bin/env bash
# Runs the GPT-2 124M training-step benchmark on the GPU machine. From the
# repository root:
#   bench/gpt2_124m/run.sh [--modes eager,compile,max-autotune] [--steps N]
#       [--strata-run PATH --strata-plan PATH]
# Default modes: eager and torch.compile (default mode). max-autotune
# (max-autotune-no-cudagraphs) adds several minutes of compilation.
#
# The Strata row needs a strata-run with the CUDA backend and the plan of the
# same step, compiled where strata-compile is (scripts/build-device-runtime.sh
# puts both into .device/):
#   strata-compile examples/gpt2.sg --model gpt2_124m --arg B=16 \
#     --precision bf16 --lr 6e-4 --beta1 0.9 --beta2 0.95 --weight-decay 0.1 \
#     --clip-norm 1 -o gpt2_124m.plan
set -euo pipefail
# Inductor's caches go under /tmp: the checkout may be read-only or shared.
export TORCHINDUCTOR_CACHE_DIR="${TORCHINDUCTOR_CACHE_DIR:-/tmp/torchinductor-cache}"
export TRITON_CACHE_DIR="${TRITON_CACHE_DIR:-/tmp/triton-cache}"
export PYTHONUNBUFFERED=1
exec python3 "$(dirname "${BASH_SOURCE[0]}")/bench.py" "$@"
