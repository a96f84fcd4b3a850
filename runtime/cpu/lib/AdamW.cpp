//===- AdamW.cpp - AdamW optimizer step ----------------------------------===//

#include "strata/Cpu/Kernels.h"

#include <cmath>

using namespace strata::cpu;

void strata::cpu::adamwUpdate(float *param, const float *grad, float *m,
                              float *v, int64_t n, int64_t step,
                              const AdamWConfig &c) {
  double biasCorrection1 = 1.0 - std::pow(double(c.beta1), double(step));
  double biasCorrection2 = 1.0 - std::pow(double(c.beta2), double(step));
  for (int64_t i = 0; i < n; ++i) {
    float g = grad[i] * c.gradScale;
    m[i] = c.beta1 * m[i] + (1.0f - c.beta1) * g;
    v[i] = c.beta2 * v[i] + (1.0f - c.beta2) * g * g;
    double mHat = m[i] / biasCorrection1, vHat = v[i] / biasCorrection2;
    // Decoupled decay: applied to the parameter, not folded into the gradient.
    param[i] -= float(c.learningRate * (mHat / (std::sqrt(vHat) + c.epsilon) +
                                        c.weightDecay * double(param[i])));
  }
}
