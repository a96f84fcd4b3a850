//===- Activation.cpp - gelu and silu, forward and backward --------------===//

#include "strata/Cpu/Kernels.h"

#include <cmath>

using namespace strata::cpu;

namespace {
constexpr double kSqrt2OverPi = 0.7978845608028654; // sqrt(2 / pi)
constexpr double kInvSqrt2 = 0.7071067811865476;    // 1 / sqrt(2)
constexpr double kInvSqrt2Pi = 0.3989422804014327;  // 1 / sqrt(2 pi)
constexpr double kGeluCubic = 0.044715;

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
} // namespace

void strata::cpu::geluForward(float *out, const float *x, int64_t n,
                              GeluApproximation approx) {
  for (int64_t i = 0; i < n; ++i) {
    double xi = x[i];
    if (approx == GeluApproximation::Tanh)
      out[i] = float(
          0.5 * xi *
          (1.0 + std::tanh(kSqrt2OverPi * (xi + kGeluCubic * xi * xi * xi))));
    else
      out[i] = float(0.5 * xi * (1.0 + std::erf(xi * kInvSqrt2)));
  }
}

void strata::cpu::geluBackward(float *dx, const float *dout, const float *x,
                               int64_t n, GeluApproximation approx) {
  for (int64_t i = 0; i < n; ++i) {
    double xi = x[i], grad;
    if (approx == GeluApproximation::Tanh) {
      double u = kSqrt2OverPi * (xi + kGeluCubic * xi * xi * xi);
      double th = std::tanh(u);
      double du = kSqrt2OverPi * (1.0 + 3.0 * kGeluCubic * xi * xi);
      grad = 0.5 * (1.0 + th) + 0.5 * xi * (1.0 - th * th) * du;
    } else {
      // d/dx x * Phi(x) = Phi(x) + x * phi(x).
      grad = 0.5 * (1.0 + std::erf(xi * kInvSqrt2)) +
             xi * kInvSqrt2Pi * std::exp(-0.5 * xi * xi);
    }
    dx[i] = float(dout[i] * grad);
  }
}

void strata::cpu::siluForward(float *out, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = float(x[i] * sigmoid(x[i]));
}

void strata::cpu::siluBackward(float *dx, const float *dout, const float *x,
                               int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    double s = sigmoid(x[i]);
    dx[i] = float(dout[i] * s * (1.0 + x[i] * (1.0 - s)));
  }
}
