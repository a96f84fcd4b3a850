//===- CpuTestUtil.h - Shared helpers for the CPU kernel tests -*- C++ -*-===//

#ifndef STRATA_TESTS_CPUKERNELS_CPUTESTUTIL_H
#define STRATA_TESTS_CPUKERNELS_CPUTESTUTIL_H

#include "gtest/gtest.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace strata::cpu::test {

/// Uniform values in [lo, hi), kept away from zero so that no gradient entry
/// vanishes by accident.
inline std::vector<float> randomVector(std::mt19937 &rng, int64_t n,
                                       float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float &x : v) {
    x = dist(rng);
    if (std::fabs(x) < 0.05f)
      x = x < 0 ? -0.05f : 0.05f;
  }
  return v;
}

/// A buffer of NaNs: any element a kernel does not write fails the comparison.
inline std::vector<float> poisoned(int64_t n) {
  return std::vector<float>(n, std::numeric_limits<float>::quiet_NaN());
}

/// L = sum(out * r), accumulated in double.
inline double dotLoss(const std::vector<float> &out,
                      const std::vector<float> &r) {
  double sum = 0.0;
  for (size_t i = 0; i < out.size(); ++i)
    sum += double(out[i]) * r[i];
  return sum;
}

/// dL/dx by central differences, perturbing each element of `x` in place.
/// `loss` recomputes the forward pass from the current contents of `x`.
template <typename LossFn>
std::vector<double> numericGradient(std::vector<float> &x, LossFn loss,
                                    float step = 1e-2f) {
  std::vector<double> grad(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    float saved = x[i];
    float plus = saved + step, minus = saved - step;
    x[i] = plus;
    double lossPlus = loss();
    x[i] = minus;
    double lossMinus = loss();
    x[i] = saved;
    grad[i] = (lossPlus - lossMinus) / (double(plus) - double(minus));
  }
  return grad;
}

/// Every element satisfies |got - want| <= atol + rtol * |want|.
template <typename T, typename U>
void expectAllClose(const std::vector<T> &got, const std::vector<U> &want,
                    double atol, double rtol, const char *what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(double(got[i]), double(want[i]),
                atol + rtol * std::fabs(double(want[i])))
        << what << " at " << i;
}

} // namespace strata::cpu::test

#endif // STRATA_TESTS_CPUKERNELS_CPUTESTUTIL_H
