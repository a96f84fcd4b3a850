#!/usr/bin/env bash
# Builds what a lent GPU machine runs: strata-run and the GPU tests linked so
# that they need neither LLVM nor protobuf there (-DSTRATA_PORTABLE_RUNTIME=ON,
# build dir build-device), plus the plans of the GPU comparison and the
# benchmark compiled here with build/bin/strata-compile. Everything lands in
# .device/ (git-ignored), which a device call carries:
#
#   scripts/build-device-runtime.sh
#   (device) scripts/run-device-tests.sh .device
set -euo pipefail
cd "$(dirname "$0")/.."
compile=${STRATA_COMPILE:-build/bin/strata-compile}
if [ ! -f build-device/build.ninja ]; then
  cmake -S . -B build-device -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=/usr/lib/llvm-22/bin/clang \
    -DCMAKE_CXX_COMPILER=/usr/lib/llvm-22/bin/clang++ \
    -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld \
    -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir -DSTRATA_PORTABLE_RUNTIME=ON
fi
ninja -C build-device -j"$(nproc)" strata-run strata-cuda-tests
rm -rf .device && mkdir -p .device/bin .device/plans
cp build-device/bin/strata-run build-device/bin/strata-cuda-tests .device/bin/
# Plans: the device comparison's models and the benchmark's GPT-2 124M.
plan() { # name example model flags...
  local name=$1 example=$2 model=$3
  shift 3
  "$compile" "examples/$example" --model "$model" -o ".device/plans/$name.plan" "$@" 2>/dev/null
}
plan gpt2_tiny gpt2.sg gpt2_tiny
plan llama_tiny llama.sg llama_tiny
plan moe_tiny moe.sg moe_tiny
plan mnist_mlp mlp.sg mnist_mlp
if "$compile" --help | grep -q -- --precision; then
  plan gpt2_tiny-bf16 gpt2.sg gpt2_tiny --precision bf16
fi
# bench/gpt2_124m's Strata row: the PyTorch script's step (B=16, T=1024,
# AdamW lr 6e-4, betas 0.9/0.95, weight decay 0.1, clip 1.0).
bench_flags=(--arg B=16 --lr 6e-4 --beta1 0.9 --beta2 0.95 --weight-decay 0.1
  --clip-norm 1)
plan gpt2_124m gpt2.sg gpt2_124m "${bench_flags[@]}"
if "$compile" --help | grep -q -- --precision; then
  plan gpt2_124m-bf16 gpt2.sg gpt2_124m "${bench_flags[@]}" --precision bf16
fi
du -sh .device
