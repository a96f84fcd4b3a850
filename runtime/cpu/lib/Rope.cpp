//===- Rope.cpp - Rotary position embedding, forward and backward --------===//
//
// Rotate-half convention (Llama / Hugging Face): the pair (x[i], x[i + Dh/2])
// at position t rotates by angle t * theta^(-2i/Dh). The backward pass is the
// inverse (transposed) rotation.
//
//===----------------------------------------------------------------------===//

#include "strata/Cpu/Kernels.h"

#include <cmath>

using namespace strata::cpu;

namespace {
/// Applies the rotation by `sign` * angle to every pair of every row.
void rotate(float *out, const float *x, int64_t batch, int64_t heads,
            int64_t seqLen, int64_t headDim, float theta, double sign) {
  int64_t half = headDim / 2;
  for (int64_t bh = 0; bh < batch * heads; ++bh) {
    for (int64_t t = 0; t < seqLen; ++t) {
      const float *xr = x + (bh * seqLen + t) * headDim;
      float *outr = out + (bh * seqLen + t) * headDim;
      for (int64_t i = 0; i < half; ++i) {
        double angle = t * std::pow(double(theta), -2.0 * i / headDim);
        double c = std::cos(angle), s = sign * std::sin(angle);
        double x0 = xr[i], x1 = xr[i + half];
        outr[i] = float(x0 * c - x1 * s);
        outr[i + half] = float(x1 * c + x0 * s);
      }
    }
  }
}
} // namespace

void strata::cpu::ropeForward(float *out, const float *x, int64_t batch,
                              int64_t heads, int64_t seqLen, int64_t headDim,
                              float theta) {
  rotate(out, x, batch, heads, seqLen, headDim, theta, 1.0);
}

void strata::cpu::ropeBackward(float *dx, const float *dout, int64_t batch,
                               int64_t heads, int64_t seqLen, int64_t headDim,
                               float theta) {
  rotate(dx, dout, batch, heads, seqLen, headDim, theta, -1.0);
}
