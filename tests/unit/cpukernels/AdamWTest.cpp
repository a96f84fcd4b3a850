//===- AdamWTest.cpp - AdamW against hand-computed steps -----------------===//

#include "CpuTestUtil.h"
#include "strata/Cpu/Kernels.h"

using namespace strata::cpu;
using namespace strata::cpu::test;

TEST(AdamWTest, MatchesHandComputedSteps) {
  AdamWConfig config;
  config.learningRate = 0.1f;
  config.beta1 = 0.9f;
  config.beta2 = 0.99f;
  config.epsilon = 1e-8f;
  config.weightDecay = 0.1f;
  std::vector<float> param = {1.0f, -2.0f}, m = {0, 0}, v = {0, 0};

  // Step 1, g = (0.5, -1): m = 0.1 g, v = 0.01 g^2, mhat = g, vhat = g^2, so
  // the Adam direction is sign(g) (up to eps).
  // p0 = 1 - 0.1 * (1 + 0.1 * 1) = 0.89; p1 = -2 - 0.1 * (-1 + 0.1 * -2) =
  // -1.88.
  std::vector<float> g1 = {0.5f, -1.0f};
  adamwUpdate(param.data(), g1.data(), m.data(), v.data(), 2, 1, config);
  expectAllClose(param, std::vector<double>{0.89, -1.88}, 1e-6, 1e-6, "p1");
  expectAllClose(m, std::vector<double>{0.05, -0.1}, 1e-7, 1e-6, "m1");
  expectAllClose(v, std::vector<double>{0.0025, 0.01}, 1e-8, 1e-6, "v1");

  // Step 2, g = (0.5, 2): m0 = 0.09*0.5... computed in full below.
  std::vector<float> g2 = {0.5f, 2.0f};
  adamwUpdate(param.data(), g2.data(), m.data(), v.data(), 2, 2, config);
  double m0 = 0.9 * 0.05 + 0.1 * 0.5, v0 = 0.99 * 0.0025 + 0.01 * 0.25;
  double m1 = 0.9 * -0.1 + 0.1 * 2.0, v1 = 0.99 * 0.01 + 0.01 * 4.0;
  double c1 = 1 - 0.81, c2 = 1 - 0.9801;
  double p0 = 0.89 - 0.1 * (m0 / c1 / (std::sqrt(v0 / c2) + 1e-8) + 0.1 * 0.89);
  double p1 =
      -1.88 - 0.1 * (m1 / c1 / (std::sqrt(v1 / c2) + 1e-8) + 0.1 * -1.88);
  expectAllClose(param, std::vector<double>{p0, p1}, 1e-6, 1e-6, "p2");
  expectAllClose(m, std::vector<double>{m0, m1}, 1e-7, 1e-6, "m2");
  expectAllClose(v, std::vector<double>{v0, v1}, 1e-8, 1e-6, "v2");
}

TEST(AdamWTest, ZeroGradientOnlyDecays) {
  AdamWConfig config;
  config.learningRate = 0.01f;
  config.weightDecay = 0.5f;
  std::vector<float> param = {3.0f}, grad = {0.0f}, m = {0}, v = {0};
  adamwUpdate(param.data(), grad.data(), m.data(), v.data(), 1, 1, config);
  EXPECT_NEAR(param[0], 3.0 * (1 - 0.01 * 0.5), 1e-6);
}

TEST(AdamWTest, GradScaleScalesTheGradient) {
  AdamWConfig scaled, plain;
  scaled.learningRate = plain.learningRate = 0.05f;
  scaled.weightDecay = plain.weightDecay = 0.1f;
  scaled.gradScale = 0.25f;
  std::vector<float> grad = {0.8f, -2.0f, 4.0f}, quarter = {0.2f, -0.5f, 1.0f};
  std::vector<float> p1 = {1.0f, -0.5f, 2.0f}, m1(3, 0.0f), v1(3, 0.0f);
  std::vector<float> p2 = p1, m2(3, 0.0f), v2(3, 0.0f);
  for (int64_t step = 1; step <= 3; ++step) {
    adamwUpdate(p1.data(), grad.data(), m1.data(), v1.data(), 3, step, scaled);
    adamwUpdate(p2.data(), quarter.data(), m2.data(), v2.data(), 3, step,
                plain);
  }
  expectAllClose(p1, p2, 1e-6, 1e-6, "param");
  expectAllClose(m1, m2, 1e-7, 1e-6, "m");
  expectAllClose(v1, v2, 1e-8, 1e-6, "v");

  // First step by hand: m = 0.1 g, v = 0.001 g², so mhat/sqrt(vhat) = sign(g).
  AdamWConfig c;
  c.learningRate = 0.1f;
  c.weightDecay = 0.0f;
  c.gradScale = 0.5f;
  std::vector<float> p = {1.0f}, g = {-3.0f}, m = {0.0f}, v = {0.0f};
  adamwUpdate(p.data(), g.data(), m.data(), v.data(), 1, 1, c);
  EXPECT_NEAR(m[0], 0.1 * -1.5, 1e-7);
  // 1 - beta2 is rounded to f32 (0.00099999), hence the tolerance.
  EXPECT_NEAR(v[0], 0.001 * 2.25, 1e-7);
  EXPECT_NEAR(p[0], 1.1, 1e-6);
}
