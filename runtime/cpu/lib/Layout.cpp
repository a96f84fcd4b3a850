//===- Layout.cpp - transpose, slice and concat ---------------------------===//

#include "ShapeUtil.h"
#include "strata/Cpu/Kernels.h"

#include <algorithm>
#include <vector>

using namespace strata::cpu;
using namespace strata::cpu::detail;

void strata::cpu::transposeForward(const float *x, Shape shape,
                                   const int64_t *perm, float *out) {
  std::vector<int64_t> inStrides = contiguousStrides(shape);
  std::vector<int64_t> outDims(shape.rank), readStrides(shape.rank);
  for (int d = 0; d < shape.rank; ++d) {
    outDims[d] = shape.dims[perm[d]];
    readStrides[d] = inStrides[perm[d]];
  }
  Shape outShape{outDims.data(), shape.rank};
  int64_t n = shape.numElements();
  for (int64_t i = 0; i < n; ++i)
    out[i] = x[offsetOf(i, outShape, readStrides.data())];
}

void strata::cpu::sliceForward(const float *x, Shape shape, int axis,
                               int64_t start, int64_t end, float *out) {
  int64_t outer = extent(shape, 0, axis),
          inner = extent(shape, axis + 1, shape.rank);
  int64_t len = shape.dims[axis], width = (end - start) * inner;
  for (int64_t o = 0; o < outer; ++o)
    std::copy_n(x + (o * len + start) * inner, width, out + o * width);
}

void strata::cpu::sliceBackward(const float *dout, Shape shape, int axis,
                                int64_t start, int64_t end, float *dx) {
  int64_t outer = extent(shape, 0, axis),
          inner = extent(shape, axis + 1, shape.rank);
  int64_t len = shape.dims[axis], width = (end - start) * inner;
  std::fill_n(dx, shape.numElements(), 0.0f);
  for (int64_t o = 0; o < outer; ++o)
    std::copy_n(dout + o * width, width, dx + (o * len + start) * inner);
}

void strata::cpu::concatForward(const float *const *inputs, const Shape *shapes,
                                int count, int axis, float *out) {
  int64_t outer = extent(shapes[0], 0, axis);
  for (int64_t o = 0; o < outer; ++o) {
    for (int i = 0; i < count; ++i) {
      int64_t width = extent(shapes[i], axis, shapes[i].rank);
      out = std::copy_n(inputs[i] + o * width, width, out);
    }
  }
}
