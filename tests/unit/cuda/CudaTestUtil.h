//===- CudaTestUtil.h - Shared helpers of the GPU kernel tests --*- C++ -*-===//
//
// Skipping without a device, bf16 rounding on the host, random bf16 inputs and
// the relative error every GPU kernel is judged by (‖got − want‖ / ‖want‖).
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_TESTS_UNIT_CUDA_CUDATESTUTIL_H
#define STRATA_TESTS_UNIT_CUDA_CUDATESTUTIL_H

#include "gtest/gtest.h"

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace strata::cudatest {

/// Empty when a CUDA device can run kernels, else why not.
inline std::string whyNoGpu() {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess)
    return std::string("no usable CUDA device: ") + cudaGetErrorString(err);
  if (count == 0)
    return "no CUDA device";
  return "";
}

/// Round to nearest even, as the GPU's conversions do; NaN stays NaN.
inline uint16_t toBf16Bits(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  if (std::isnan(x))
    return 0x7fc0;
  bits += 0x7fff + ((bits >> 16) & 1);
  return uint16_t(bits >> 16);
}

inline float fromBf16Bits(uint16_t b) {
  uint32_t bits = uint32_t(b) << 16;
  float x;
  std::memcpy(&x, &bits, 4);
  return x;
}

inline float roundToBf16(float x) { return fromBf16Bits(toBf16Bits(x)); }

/// Normal(0, 1) values, already representable in bf16.
inline std::vector<float> randomBf16(std::mt19937 &rng, int64_t n) {
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<float> v(n);
  for (float &x : v)
    x = roundToBf16(dist(rng));
  return v;
}

/// ‖got − want‖ / ‖want‖; infinity when any element of `got` is NaN.
inline double relativeError(const std::vector<float> &got,
                            const std::vector<float> &want) {
  double diff = 0.0, norm = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i]))
      return INFINITY;
    double d = double(got[i]) - want[i];
    diff += d * d;
    norm += double(want[i]) * want[i];
  }
  return std::sqrt(diff / norm);
}

} // namespace strata::cudatest

#define SKIP_WITHOUT_GPU()                                                     \
  do {                                                                         \
    std::string why = ::strata::cudatest::whyNoGpu();                          \
    if (!why.empty())                                                          \
      GTEST_SKIP() << why;                                                     \
  } while (false)

#define ASSERT_CUDA(expr) ASSERT_EQ((expr), cudaSuccess) << #expr

#endif // STRATA_TESTS_UNIT_CUDA_CUDATESTUTIL_H
