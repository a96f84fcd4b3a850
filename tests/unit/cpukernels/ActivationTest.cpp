//===- ActivationTest.cpp - gelu and silu ---------------------------------===//

#include "CpuTestUtil.h"
#include "strata/Cpu/Kernels.h"

using namespace strata::cpu;
using namespace strata::cpu::test;

TEST(GeluTest, ForwardKnownValues) {
  std::vector<float> x = {-1.0f, 0.5f, 2.0f};
  auto out = poisoned(3);
  geluForward(out.data(), x.data(), 3, GeluApproximation::None);
  // x * Phi(x) from the normal table.
  expectAllClose(out, std::vector<double>{-0.15865525, 0.34573123, 1.95449974},
                 1e-6, 1e-6, "gelu");
  geluForward(out.data(), x.data(), 3, GeluApproximation::Tanh);
  expectAllClose(out, std::vector<double>{-0.15880801, 0.34571401, 1.95459769},
                 1e-6, 1e-6, "gelu tanh");
}

TEST(GeluTest, BackwardMatchesFiniteDifferences) {
  for (GeluApproximation approx :
       {GeluApproximation::None, GeluApproximation::Tanh}) {
    std::mt19937 rng(8);
    int64_t n = 23;
    auto x = randomVector(rng, n, -3.0f, 3.0f), r = randomVector(rng, n);
    auto loss = [&] {
      std::vector<float> o(n);
      geluForward(o.data(), x.data(), n, approx);
      return dotLoss(o, r);
    };
    auto dx = poisoned(n);
    geluBackward(dx.data(), r.data(), x.data(), n, approx);
    expectAllClose(dx, numericGradient(x, loss, 1e-3f), 1e-3, 1e-2, "dx");
  }
}

TEST(SiluTest, ForwardAndBackward) {
  std::mt19937 rng(9);
  int64_t n = 19;
  auto x = randomVector(rng, n, -4.0f, 4.0f), r = randomVector(rng, n);
  auto out = poisoned(n);
  siluForward(out.data(), x.data(), n);
  for (int64_t i = 0; i < n; ++i)
    EXPECT_NEAR(out[i], x[i] / (1.0 + std::exp(-double(x[i]))), 1e-6);
  auto loss = [&] {
    std::vector<float> o(n);
    siluForward(o.data(), x.data(), n);
    return dotLoss(o, r);
  };
  auto dx = poisoned(n);
  siluBackward(dx.data(), r.data(), x.data(), n);
  expectAllClose(dx, numericGradient(x, loss, 1e-3f), 1e-3, 1e-2, "dx");
}
