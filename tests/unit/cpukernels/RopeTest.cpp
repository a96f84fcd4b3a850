//===- RopeTest.cpp - Rotary position embedding ---------------------------===//

#include "CpuTestUtil.h"
#include "strata/Cpu/Kernels.h"

using namespace strata::cpu;
using namespace strata::cpu::test;

TEST(RopeTest, ForwardRotatesHalves) {
  // One head, Dh = 4: pairs (0, 2) and (1, 3); at t the angles are t * 1 and
  // t * theta^(-1/2) = t / 10 for theta = 100.
  int64_t seqLen = 3, headDim = 4;
  std::vector<float> x = {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4};
  auto out = poisoned(x.size());
  ropeForward(out.data(), x.data(), 1, 1, seqLen, headDim, 100.0f);
  std::vector<double> want;
  for (int64_t t = 0; t < seqLen; ++t) {
    double a0 = t * 1.0, a1 = t * 0.1;
    std::vector<double> row = {1 * std::cos(a0) - 3 * std::sin(a0),
                               2 * std::cos(a1) - 4 * std::sin(a1),
                               3 * std::cos(a0) + 1 * std::sin(a0),
                               4 * std::cos(a1) + 2 * std::sin(a1)};
    want.insert(want.end(), row.begin(), row.end());
  }
  expectAllClose(out, want, 1e-5, 1e-5, "rope");
}

TEST(RopeTest, BackwardMatchesFiniteDifferences) {
  std::mt19937 rng(11);
  int64_t batch = 2, heads = 3, seqLen = 5, headDim = 6;
  int64_t n = batch * heads * seqLen * headDim;
  auto x = randomVector(rng, n), r = randomVector(rng, n);
  auto loss = [&] {
    std::vector<float> o(n);
    ropeForward(o.data(), x.data(), batch, heads, seqLen, headDim, 10000.0f);
    return dotLoss(o, r);
  };
  auto dx = poisoned(n);
  ropeBackward(dx.data(), r.data(), batch, heads, seqLen, headDim, 10000.0f);
  expectAllClose(dx, numericGradient(x, loss), 1e-3, 1e-3, "dx");
}
