#!/usr/bin/env bash
# CPU training throughput of the example models, and the per-kernel split.
#
#   bench/cpu_training/run.sh [build-dir] [threads]
#
# Compiles mnist_mlp, gpt2_tiny, llama_tiny, moe_tiny and gpt2_124m (--arg B=1)
# with <build-dir>/bin/strata-compile, trains each with strata-run on synthetic
# data, and prints one table. Then builds kernel_bench.cpp straight from
# runtime/cpu and prints the per-kernel timings at GPT-2 124M's shapes; its
# first line (a 2048^3 matmulForward) is the machine's matmul rate, the floor
# reference. See README.md for the formulas.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:-$root/build}"
threads="${2:-$(nproc)}"
cxx="${CXX:-/usr/lib/llvm-22/bin/clang++}"
work="$(mktemp -d /tmp/strata-cpu-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# name file steps tokens/step(B*T) layers d T extra-args: layers/d/T feed the
# attention term.
models=(
  "mnist_mlp  mlp.sg   20 32   0  0   0"
  "gpt2_tiny  gpt2.sg  20 512  2  64  64"
  "llama_tiny llama.sg 20 512  2  64  64"
  "moe_tiny   moe.sg   20 128  2  64  32"
  "gpt2_124m  gpt2.sg  2  1024 12 768 1024 --arg B=1"
)

"$cxx" -O3 -std=c++17 -I"$root/runtime/cpu/include" "$here/kernel_bench.cpp" \
  "$root"/runtime/cpu/lib/*.cpp -o "$work/kernel_bench" -lpthread
floor=$("$work/kernel_bench" "$threads" --floor-only | awk '/floor/ {print $(NF-1)}')

printf '%-11s %12s %12s %10s %10s %10s\n' model params tokens/step ms/step tokens/s GFLOP/s
for entry in "${models[@]}"; do
  read -r name file steps tokens layers d t extra <<<"$entry"
  "$build/bin/strata-compile" "$root/examples/$file" --model "$name" ${extra:-} \
    -o "$work/$name.plan" 2>"$work/$name.compile"
  params=$(sed -n 's/.* parameters (\([0-9]*\) values).*/\1/p' "$work/$name.compile")
  "$build/bin/strata-run" "$work/$name.plan" --steps "$steps" --threads "$threads" \
    --log-csv "$work/$name.csv" >/dev/null 2>&1
  # Steps after the first (warm-up); step time from elapsed_s differences.
  awk -F, -v name="$name" -v params="$params" -v perStep="$tokens" \
    -v L="$layers" -v d="$d" -v T="$t" '
    NR == 2 { first = $5 }
    NR > 2 { last = $5; n++ }
    END {
      ms = 1000 * (last - first) / n
      flops = (6 * params + 12 * L * d * T) * perStep
      printf "%-11s %12d %12.0f %10.1f %10.0f %10.2f\n", name, params, perStep, ms,
             perStep / (ms / 1000), flops / (ms / 1000) / 1e9
    }' "$work/$name.csv"
done
echo "matmul floor (2048^3 matmulForward, $threads threads): $floor GFLOP/s"
echo
"$work/kernel_bench" "$threads"
