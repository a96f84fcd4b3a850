//===- OptimizerTest.cpp - SGD, sumOfSquares and lr schedules ------------===//

#include "CpuTestUtil.h"
#include "strata/Cpu/Kernels.h"

using namespace strata::cpu;
using namespace strata::cpu::test;

TEST(SgdTest, PlainStepWithScaleAndDecay) {
  std::vector<float> param = {1.0f, -2.0f}, grad = {4.0f, 2.0f};
  // g = 0.5 * grad + 0.1 * param = (2.1, 0.8); param -= 0.1 * g.
  sgdUpdate(param.data(), grad.data(), nullptr, 2, 0.1f, 0.5f, 0.0f, 0.1f);
  expectAllClose(param, std::vector<double>{0.79, -2.08}, 1e-6, 1e-6, "param");
}

TEST(SgdTest, MomentumMatchesTheFormula) {
  std::mt19937 rng(61);
  int64_t n = 5;
  float lr = 0.05f, scale = 0.7f, momentum = 0.9f, wd = 0.01f;
  auto param = randomVector(rng, n);
  std::vector<float> buf(n, 0.0f);
  std::vector<double> refParam(param.begin(), param.end()), refBuf(n, 0.0);
  for (int step = 0; step < 3; ++step) {
    auto grad = randomVector(rng, n);
    sgdUpdate(param.data(), grad.data(), buf.data(), n, lr, scale, momentum,
              wd);
    for (int64_t i = 0; i < n; ++i) {
      double g = double(grad[i]) * scale + wd * refParam[i];
      refBuf[i] = momentum * refBuf[i] + g;
      refParam[i] -= lr * refBuf[i];
    }
    expectAllClose(param, refParam, 1e-6, 1e-5, "param");
    expectAllClose(buf, refBuf, 1e-6, 1e-5, "buf");
  }
}

TEST(SumOfSquaresTest, AccumulatesInDouble) {
  std::vector<float> x = {3.0f, -4.0f, 0.5f};
  EXPECT_DOUBLE_EQ(sumOfSquares(x.data(), 3), 25.25);
  EXPECT_EQ(sumOfSquares(x.data(), 0), 0.0);
}

TEST(LearningRateTest, ConstantWithAndWithoutWarmup) {
  LrSchedule s;
  s.baseLr = 0.1;
  EXPECT_DOUBLE_EQ(learningRate(s, 1), 0.1);
  EXPECT_DOUBLE_EQ(learningRate(s, 1000), 0.1);
  s.warmupSteps = 4;
  EXPECT_DOUBLE_EQ(learningRate(s, 1), 0.025);
  EXPECT_DOUBLE_EQ(learningRate(s, 3), 0.075);
  EXPECT_DOUBLE_EQ(learningRate(s, 4), 0.1);
  EXPECT_DOUBLE_EQ(learningRate(s, 5), 0.1);
}

TEST(LearningRateTest, CosineDecaysToMinAndStays) {
  LrSchedule s;
  s.kind = LrScheduleKind::Cosine;
  s.baseLr = 1.0;
  s.minLr = 0.1;
  s.warmupSteps = 2;
  s.totalSteps = 6;
  EXPECT_DOUBLE_EQ(learningRate(s, 1), 0.5);
  EXPECT_DOUBLE_EQ(learningRate(s, 2), 1.0);
  // p = (step - 2) / 4.
  EXPECT_NEAR(learningRate(s, 3), 0.1 + 0.45 * (1 + std::cos(M_PI / 4)), 1e-12);
  EXPECT_NEAR(learningRate(s, 4), 0.55, 1e-12);
  EXPECT_NEAR(learningRate(s, 6), 0.1, 1e-12);
  EXPECT_NEAR(learningRate(s, 100), 0.1, 1e-12);
}

TEST(LearningRateTest, CosineEdgeCases) {
  LrSchedule s;
  s.kind = LrScheduleKind::Cosine;
  s.baseLr = 2.0;
  // No warmup, total 0: max(1, total - warmup) = 1, so step 1 is at the end.
  EXPECT_NEAR(learningRate(s, 1), 0.0, 1e-12);
  // Step 0 (before the first step) clamps to the start of the decay.
  EXPECT_NEAR(learningRate(s, 0), 2.0, 1e-12);
  // total <= warmup: the decay is one step long.
  s.warmupSteps = 3;
  s.totalSteps = 2;
  s.minLr = 0.5;
  EXPECT_NEAR(learningRate(s, 3), 2.0, 1e-12);
  EXPECT_NEAR(learningRate(s, 4), 0.5, 1e-12);
  // Without warmup and with total = 10, step 5 is at p = 0.5.
  s.warmupSteps = 0;
  s.totalSteps = 10;
  EXPECT_NEAR(learningRate(s, 5), 0.5 + 0.75, 1e-12);
}
