//===- GridSize.h - Launch shapes of grid-stride kernels --------*- C++ -*-===//
//
// Internal to runtime/cuda; plain C++, shared by the .cu files and the host
// code that launches emitted kernels.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CUDA_LIB_GRIDSIZE_H
#define STRATA_CUDA_LIB_GRIDSIZE_H

#include <cstdint>

namespace strata::cuda {

/// Blocks of `threads` for a grid-stride loop over `n` elements: enough to
/// fill an H100 (132 SMs) several times over, never more than needed.
inline unsigned gridFor(int64_t n, int threads = 256) {
  int64_t blocks = (n + threads - 1) / threads;
  const int64_t cap = 132 * 16;
  if (blocks > cap)
    blocks = cap;
  return unsigned(blocks < 1 ? 1 : blocks);
}

} // namespace strata::cuda

#endif // STRATA_CUDA_LIB_GRIDSIZE_H
