//===- ShapeUtil.h - Index arithmetic for the shape-generic kernels -*- C++
//-*-//
//
// Internal to runtime/cpu. The kernels favour one obvious loop over flat
// output indices, decomposed per element; speed is not the goal here.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CPU_LIB_SHAPEUTIL_H
#define STRATA_CPU_LIB_SHAPEUTIL_H

#include "strata/Cpu/Kernels.h"

#include <vector>

namespace strata::cpu::detail {

/// Row-major element strides of a contiguous array of `shape`.
inline std::vector<int64_t> contiguousStrides(Shape shape) {
  std::vector<int64_t> strides(shape.rank);
  int64_t stride = 1;
  for (int d = shape.rank - 1; d >= 0; --d) {
    strides[d] = stride;
    stride *= shape.dims[d];
  }
  return strides;
}

/// Strides of `in` read through the broadcast shape of rank `outRank`: dims are
/// aligned from the right, and missing or size-1 dims get stride 0.
inline std::vector<int64_t> broadcastStrides(Shape in, int outRank) {
  std::vector<int64_t> inStrides = contiguousStrides(in);
  std::vector<int64_t> strides(outRank, 0);
  for (int d = 0; d < in.rank; ++d)
    if (in.dims[d] != 1)
      strides[outRank - in.rank + d] = inStrides[d];
  return strides;
}

/// The offset `Σ_d index[d] * strides[d]` of the element at row-major position
/// `flat` in `shape`.
inline int64_t offsetOf(int64_t flat, Shape shape, const int64_t *strides) {
  int64_t offset = 0;
  for (int d = shape.rank - 1; d >= 0; --d) {
    offset += (flat % shape.dims[d]) * strides[d];
    flat /= shape.dims[d];
  }
  return offset;
}

/// Product of shape.dims[begin, end).
inline int64_t extent(Shape shape, int begin, int end) {
  int64_t n = 1;
  for (int d = begin; d < end; ++d)
    n *= shape.dims[d];
  return n;
}

} // namespace strata::cpu::detail

#endif // STRATA_CPU_LIB_SHAPEUTIL_H
