#!/usr/bin/env bash
# Strata's one entry point for setting up, building and checking the project.
#
#   ./build.sh demo   install what is missing, build, compile the tiny GPT-2 and train it on text every
#                     Debian machine has (the licenses in /usr/share/common-licenses)
#   ./build.sh test   install what is missing, build, run every test (ctest: lit + GoogleTest + fuzzer +
#                     the PyTorch comparison, which needs Debian's python3-torch)
#   ./build.sh build  install what is missing and build only
#
# Idempotent: a second run installs nothing and rebuilds only what changed. Quiet when all is there.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build_dir="${STRATA_BUILD_DIR:-$here/build}"
llvm_prefix=/usr/lib/llvm-22

# Debian packages the build and the tests need. Keep in sync with README.md.
packages=(
  cmake ninja-build python3
  clang-22 lld-22 libclang-rt-22-dev
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  libprotobuf-dev protobuf-compiler libabsl-dev libgtest-dev libgmock-dev
)

# Only the tests need these: the PyTorch comparison runs on Debian's python3-torch.
test_packages=(python3-torch python3-numpy)

log() { printf '[strata] %s\n' "$*" >&2; }

install_missing() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

configure() {
  if [ -f "$build_dir/build.ninja" ]; then return 0; fi
  log "configuring in $build_dir"
  cmake -S "$here" -B "$build_dir" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER="$llvm_prefix/bin/clang" \
    -DCMAKE_CXX_COMPILER="$llvm_prefix/bin/clang++" \
    -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld \
    -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld \
    -DMLIR_DIR="$llvm_prefix/lib/cmake/mlir" >/dev/null
}

build() {
  install_missing
  configure
  log "building"
  # Ninja prints one line per step; keep only errors and warnings visible.
  if ! ninja -C "$build_dir" >"$build_dir/build.log" 2>&1; then
    grep -E "error|FAILED|warning" "$build_dir/build.log" | head -60 >&2 || true
    tail -40 "$build_dir/build.log" >&2
    log "build failed; full log: $build_dir/build.log"
    exit 1
  fi
  if grep -q "warning:" "$build_dir/build.log"; then
    grep -A3 "warning:" "$build_dir/build.log" | head -40 >&2
  fi
}

case "${1:-demo}" in
  build)
    build
    ;;
  demo)
    build
    # Train the byte-level tiny GPT-2 (examples/gpt2.sg, model gpt2_tiny) on the license texts that the
    # base-files package puts on every Debian machine: ~300 KB of English, ~60 s on 2 cores.
    text="$build_dir/demo-text.txt"
    cat /usr/share/common-licenses/* >"$text"
    log "compiling examples/gpt2.sg (model gpt2_tiny) into $build_dir/gpt2_tiny.plan"
    "$build_dir/bin/strata-compile" "$here/examples/gpt2.sg" --model gpt2_tiny \
      --lr 1e-2 --schedule cosine --warmup-steps 30 --total-steps 1200 --min-lr 1e-3 \
      --beta2 0.99 --clip-norm 1 -o "$build_dir/gpt2_tiny.plan"
    log "training it on $text (loss curve: $build_dir/demo-loss.csv)"
    "$build_dir/bin/strata-run" "$build_dir/gpt2_tiny.plan" --text "$text" --steps 1200 \
      --log-every 100 --log-csv "$build_dir/demo-loss.csv" --checkpoint "$build_dir/gpt2_tiny.ckpt"
    ;;
  test)
    packages+=("${test_packages[@]}")
    build
    log "running tests"
    cd "$build_dir"
    ctest --output-on-failure -j"$(nproc)"
    ;;
  *)
    echo "usage: $0 [demo|test|build]" >&2
    exit 2
    ;;
esac
