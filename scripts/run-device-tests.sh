#!/usr/bin/env bash
# Runs, on a machine with a GPU and the CUDA runtime but no build tools, what
# scripts/build-device-runtime.sh prepared in DIR (default .device): the GPU
# kernel tests, then the CPU-vs-GPU training comparison of every plan there.
#
#   scripts/run-device-tests.sh [DIR] [gtest flags]
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.device}
shift || true
# cuBLASLt may live in the toolkit or in a Python wheel's folder.
lt=$(dirname "$(find / -name 'libcublasLt.so.13*' -not -path '/proc/*' 2>/dev/null | head -1)")
export LD_LIBRARY_PATH=$lt:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
status=0
STRATA_EMITTED_TEST_PLANS=$(ls "$dir"/plans/*_tiny*.plan | tr "\n" ":") \
  "$dir/bin/strata-cuda-tests" --gtest_brief=1 "$@" || status=1
plans=()
for p in "$dir"/plans/*_tiny*.plan "$dir"/plans/mnist_mlp.plan; do
  [ -f "$p" ] || continue
  name=$(basename "$p" .plan)
  tol=2e-2
  case $name in *bf16*) tol=3e-2 ;; esac
  plans+=(--plan "$name=$p:$tol")
done
python3 tests/cuda/compare_devices.py --strata-run "$dir/bin/strata-run" \
  "${plans[@]}" --work-dir /tmp/compare-devices || status=1
exit $status
