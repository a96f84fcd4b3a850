//===- CrossEntropyTest.cpp - softmax and cross_entropy -------------------===//

#include "CpuTestUtil.h"
#include "strata/Cpu/Kernels.h"

using namespace strata::cpu;
using namespace strata::cpu::test;

TEST(SoftmaxTest, ForwardAndBackward) {
  std::mt19937 rng(6);
  int64_t rows = 3, dim = 11;
  auto x = randomVector(rng, rows * dim, -3.0f, 3.0f),
       r = randomVector(rng, rows * dim);
  auto y = poisoned(rows * dim);
  softmaxForward(y.data(), x.data(), rows, dim);
  for (int64_t row = 0; row < rows; ++row) {
    double sum = 0;
    for (int64_t i = 0; i < dim; ++i)
      sum += std::exp(double(x[row * dim + i]));
    for (int64_t i = 0; i < dim; ++i)
      EXPECT_NEAR(y[row * dim + i], std::exp(double(x[row * dim + i])) / sum,
                  1e-6);
  }
  auto loss = [&] {
    std::vector<float> o(rows * dim);
    softmaxForward(o.data(), x.data(), rows, dim);
    return dotLoss(o, r);
  };
  auto dx = poisoned(x.size());
  softmaxBackward(dx.data(), r.data(), y.data(), rows, dim);
  expectAllClose(dx, numericGradient(x, loss, 1e-3f), 1e-3, 1e-2, "dx");
}

TEST(CrossEntropyTest, ForwardMatchesHandComputation) {
  // Row 0: logits (0, ln 2, ln 3) -> softmax (1/6, 2/6, 3/6), target 2.
  // Row 1: logits (1, 1, 1) -> 1/3 each, target 0.
  std::vector<float> logits = {0.0f, std::log(2.0f), std::log(3.0f),
                               1.0f, 1.0f,           1.0f};
  std::vector<int32_t> targets = {2, 0};
  float loss = crossEntropyForward(logits.data(), targets.data(), 2, 3);
  EXPECT_NEAR(loss, (std::log(2.0) + std::log(3.0)) / 2, 1e-6);

  auto d = poisoned(6);
  crossEntropyBackward(d.data(), logits.data(), targets.data(), 2, 3);
  std::vector<double> want = {1.0 / 12,          2.0 / 12, (0.5 - 1) / 2,
                              (1.0 / 3 - 1) / 2, 1.0 / 6,  1.0 / 6};
  expectAllClose(d, want, 1e-6, 1e-5, "dlogits");
}

TEST(CrossEntropyTest, BackwardMatchesFiniteDifferences) {
  std::mt19937 rng(7);
  int64_t rows = 5, vocab = 13;
  auto logits = randomVector(rng, rows * vocab, -2.0f, 2.0f);
  std::vector<int32_t> targets(rows);
  for (int64_t r = 0; r < rows; ++r)
    targets[r] = int32_t(rng() % vocab);
  float dloss = 1.7f;
  auto loss = [&] {
    return double(dloss) *
           crossEntropyForward(logits.data(), targets.data(), rows, vocab);
  };
  auto d = poisoned(logits.size());
  crossEntropyBackward(d.data(), logits.data(), targets.data(), rows, vocab,
                       dloss);
  expectAllClose(d, numericGradient(logits, loss, 1e-2f), 2e-4, 1e-2,
                 "dlogits");
}
