//===- Reduce.cpp - sum, mean, max and min over axes ----------------------===//

#include "ShapeUtil.h"
#include "strata/Cpu/Kernels.h"

#include <limits>
#include <vector>

using namespace strata::cpu;
using namespace strata::cpu::detail;

namespace {
/// Strides that map an element of x to its output position: the contiguous
/// strides of the output for kept dims, 0 for reduced ones.
std::vector<int64_t> reducedStrides(Shape shape, const int64_t *axes,
                                    int numAxes) {
  std::vector<int64_t> strides(shape.rank, 0);
  int64_t stride = 1;
  for (int d = shape.rank - 1, ax = numAxes - 1; d >= 0; --d) {
    if (ax >= 0 && axes[ax] == d) {
      --ax;
      continue;
    }
    strides[d] = stride;
    stride *= shape.dims[d];
  }
  return strides;
}

int64_t reducedCount(Shape shape, const int64_t *axes, int numAxes) {
  int64_t n = 1;
  for (int i = 0; i < numAxes; ++i)
    n *= shape.dims[axes[i]];
  return n;
}

/// Element count of the output (not n / reducedCount: the reduced extent may
/// be empty).
int64_t keptCount(Shape shape, const int64_t *axes, int numAxes) {
  int64_t n = 1;
  for (int d = 0, ax = 0; d < shape.rank; ++d) {
    if (ax < numAxes && axes[ax] == d) {
      ++ax;
      continue;
    }
    n *= shape.dims[d];
  }
  return n;
}
} // namespace

void strata::cpu::reduceForward(ReduceKind kind, const float *x, Shape shape,
                                const int64_t *axes, int numAxes, float *out) {
  std::vector<int64_t> strides = reducedStrides(shape, axes, numAxes);
  int64_t count = reducedCount(shape, axes, numAxes);
  int64_t n = shape.numElements();
  double init = 0.0;
  if (kind == ReduceKind::Max)
    init = -std::numeric_limits<double>::infinity();
  if (kind == ReduceKind::Min)
    init = std::numeric_limits<double>::infinity();
  int64_t keptN = keptCount(shape, axes, numAxes);
  std::vector<double> acc(keptN, init);
  for (int64_t i = 0; i < n; ++i) {
    double v = x[i];
    double &a = acc[offsetOf(i, shape, strides.data())];
    if (kind == ReduceKind::Max)
      a = v > a ? v : a;
    else if (kind == ReduceKind::Min)
      a = v < a ? v : a;
    else
      a += v;
  }
  for (int64_t o = 0; o < keptN; ++o)
    out[o] =
        float(kind == ReduceKind::Mean && count > 0 ? acc[o] / count : acc[o]);
}

void strata::cpu::reduceBackward(ReduceKind kind, const float *x, Shape shape,
                                 const int64_t *axes, int numAxes,
                                 const float *out, const float *dout,
                                 float *dx) {
  std::vector<int64_t> strides = reducedStrides(shape, axes, numAxes);
  int64_t count = reducedCount(shape, axes, numAxes);
  int64_t n = shape.numElements();
  if (kind == ReduceKind::Sum || kind == ReduceKind::Mean) {
    double scale = kind == ReduceKind::Mean ? 1.0 / double(count) : 1.0;
    for (int64_t i = 0; i < n; ++i)
      dx[i] = float(dout[offsetOf(i, shape, strides.data())] * scale);
    return;
  }
  // Max/Min: the first element (row-major) equal to the forward result.
  std::vector<char> taken(keptCount(shape, axes, numAxes), 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t o = offsetOf(i, shape, strides.data());
    bool first = !taken[o] && x[i] == out[o];
    taken[o] |= first;
    dx[i] = first ? dout[o] : 0.0f;
  }
}
