#!/usr/bin/env bash
# Builds the bench library with nvcc, then runs bench.py. From the repository root:
#   bench/attention/run.sh [build dir]
set -euo pipefail
out="${1:-/tmp/strata-attention-bench}"
mkdir -p "$out"
nvcc="${NVCC:-/usr/local/cuda/bin/nvcc}"
"$nvcc" -std=c++17 -O3 -lineinfo -gencode=arch=compute_90a,code=sm_90a \
  -shared -Xcompiler -fPIC \
  -Iruntime/cuda/include -Iruntime/cpu/include \
  runtime/cuda/lib/FlashAttention.cu bench/attention/AttentionBench.cu \
  -o "$out/libstrata_attention_bench.so"
python3 bench/attention/bench.py "$out/libstrata_attention_bench.so"
