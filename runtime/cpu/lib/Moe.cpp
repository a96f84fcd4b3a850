//===- Moe.cpp - moe_dispatch and moe_combine -----------------------------===//
//
// Both ops replay the slot table of moeAssignSlots, so neither needs the
// other's output and the pair stays a pure function of its operands.
//
//===----------------------------------------------------------------------===//

#include "strata/Cpu/Kernels.h"

#include <algorithm>
#include <vector>

using namespace strata::cpu;

int64_t strata::cpu::moeAssignSlots(const int32_t *indices, int64_t numTokens,
                                    int64_t k, int64_t numExperts,
                                    int64_t capacity, int64_t *slots) {
  std::vector<int64_t> used(numExperts, 0);
  int64_t firstBad = -1;
  for (int64_t a = 0; a < numTokens * k; ++a) {
    int64_t e = indices[a];
    if (e < 0 || e >= numExperts) {
      if (firstBad < 0)
        firstBad = a;
      slots[a] = -1;
      continue;
    }
    slots[a] = used[e] < capacity ? used[e]++ : -1;
  }
  return firstBad;
}

int64_t strata::cpu::moeDispatchForward(const float *x, const int32_t *indices,
                                        int64_t numTokens, int64_t dim,
                                        int64_t k, int64_t numExperts,
                                        int64_t capacity, float *out) {
  std::vector<int64_t> slots(numTokens * k);
  int64_t bad =
      moeAssignSlots(indices, numTokens, k, numExperts, capacity, slots.data());
  std::fill_n(out, numExperts * capacity * dim, 0.0f);
  for (int64_t a = 0; a < numTokens * k; ++a)
    if (slots[a] >= 0)
      std::copy_n(x + (a / k) * dim, dim,
                  out + (indices[a] * capacity + slots[a]) * dim);
  return bad;
}

int64_t strata::cpu::moeDispatchBackward(const float *dout,
                                         const int32_t *indices,
                                         int64_t numTokens, int64_t dim,
                                         int64_t k, int64_t numExperts,
                                         int64_t capacity, float *dx) {
  std::vector<int64_t> slots(numTokens * k);
  int64_t bad =
      moeAssignSlots(indices, numTokens, k, numExperts, capacity, slots.data());
  std::fill_n(dx, numTokens * dim, 0.0f);
  for (int64_t a = 0; a < numTokens * k; ++a) {
    if (slots[a] < 0)
      continue;
    const float *src = dout + (indices[a] * capacity + slots[a]) * dim;
    float *dst = dx + (a / k) * dim;
    for (int64_t d = 0; d < dim; ++d)
      dst[d] += src[d];
  }
  return bad;
}

int64_t strata::cpu::moeCombineForward(const float *y, const int32_t *indices,
                                       const float *weights, int64_t numTokens,
                                       int64_t dim, int64_t k,
                                       int64_t numExperts, int64_t capacity,
                                       float *out) {
  std::vector<int64_t> slots(numTokens * k);
  int64_t bad =
      moeAssignSlots(indices, numTokens, k, numExperts, capacity, slots.data());
  std::vector<double> acc(dim);
  for (int64_t n = 0; n < numTokens; ++n) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t j = 0; j < k; ++j) {
      int64_t a = n * k + j;
      if (slots[a] < 0)
        continue;
      const float *src = y + (indices[a] * capacity + slots[a]) * dim;
      for (int64_t d = 0; d < dim; ++d)
        acc[d] += double(weights[a]) * src[d];
    }
    for (int64_t d = 0; d < dim; ++d)
      out[n * dim + d] = float(acc[d]);
  }
  return bad;
}

int64_t strata::cpu::moeCombineBackward(const float *y, const int32_t *indices,
                                        const float *weights, const float *dout,
                                        int64_t numTokens, int64_t dim,
                                        int64_t k, int64_t numExperts,
                                        int64_t capacity, float *dy,
                                        float *dweights) {
  std::vector<int64_t> slots(numTokens * k);
  int64_t bad =
      moeAssignSlots(indices, numTokens, k, numExperts, capacity, slots.data());
  if (dy)
    std::fill_n(dy, numExperts * capacity * dim, 0.0f);
  for (int64_t a = 0; a < numTokens * k; ++a) {
    const float *g = dout + (a / k) * dim;
    if (slots[a] < 0) {
      if (dweights)
        dweights[a] = 0.0f;
      continue;
    }
    int64_t offset = (indices[a] * capacity + slots[a]) * dim;
    // Each kept slot belongs to exactly one assignment: plain stores suffice.
    if (dy)
      for (int64_t d = 0; d < dim; ++d)
        dy[offset + d] = weights[a] * g[d];
    if (dweights) {
      double dot = 0.0;
      for (int64_t d = 0; d < dim; ++d)
        dot += double(g[d]) * y[offset + d];
      dweights[a] = float(dot);
    }
  }
  return bad;
}
