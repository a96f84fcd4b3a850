#!/usr/bin/env bash
# Builds and runs the GPU kernel tests (tests/unit/cuda) on a machine that has
# CUDA but neither MLIR nor an installed GoogleTest, such as the lent H100:
# nvcc for the .cu sources, g++ for the rest, GoogleTest from its sources.
#
#   tests/unit/cuda/run-on-device.sh GTEST_SRC_DIR [gtest flags]
#
# GTEST_SRC_DIR is a copy of /usr/src/googletest/googletest (Debian's
# libgtest-dev ships it). On a machine with the full toolchain, ctest runs the
# same tests as strata-cuda-tests.
set -euo pipefail
gtest=${1:?usage: $0 GTEST_SRC_DIR [gtest flags]}
shift
cuda=/usr/local/cuda
out=${TMPDIR:-/tmp}/strata-cuda-tests
mkdir -p "$out"
lt=$(dirname "$(find / -name 'libcublasLt.so*' -not -path '/proc/*' 2>/dev/null | head -1)")
inc="-Iruntime/cuda/include -Iruntime/cpu/include -Itests/unit/cuda -I$cuda/include -I$gtest/include -I$gtest"
"$cuda/bin/nvcc" -std=c++17 -O3 -gencode=arch=compute_90a,code=sm_90a $inc \
  -c runtime/cuda/lib/FlashAttention.cu -o "$out/FlashAttention.o" &
srcs="$gtest/src/gtest-all.cc $gtest/src/gtest_main.cc runtime/cuda/lib/Gemm.cpp
      $(ls tests/unit/cuda/*Test.cpp runtime/cpu/lib/*.cpp)"
printf '%s\n' $srcs | xargs -P "$(nproc)" -I{} sh -c \
  'g++ -std=c++17 -O2 '"$inc"' -c {} -o '"$out"'/$(echo {} | tr / _).o'
wait
g++ "$out"/*.o -L"$lt" -L$cuda/lib64 -Wl,-rpath,"$lt" -Wl,-rpath,$cuda/lib64 \
  -lcublasLt -lcudart -lpthread -o "$out/strata-cuda-tests"
"$out/strata-cuda-tests" "$@"
