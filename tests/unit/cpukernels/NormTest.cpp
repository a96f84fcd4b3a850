//===- NormTest.cpp - layer_norm and rms_norm -----------------------------===//

#include "CpuTestUtil.h"
#include "strata/Cpu/Kernels.h"

using namespace strata::cpu;
using namespace strata::cpu::test;

TEST(LayerNormTest, ForwardMatchesFormula) {
  std::mt19937 rng(3);
  int64_t rows = 3, dim = 5;
  auto x = randomVector(rng, rows * dim), w = randomVector(rng, dim),
       b = randomVector(rng, dim);
  auto out = poisoned(rows * dim), mean = poisoned(rows), rstd = poisoned(rows);
  layerNormForward(out.data(), mean.data(), rstd.data(), x.data(), w.data(),
                   b.data(), rows, dim, 1e-5f);
  for (int64_t r = 0; r < rows; ++r) {
    double mu = 0, var = 0;
    for (int64_t i = 0; i < dim; ++i)
      mu += x[r * dim + i] / double(dim);
    for (int64_t i = 0; i < dim; ++i)
      var += (x[r * dim + i] - mu) * (x[r * dim + i] - mu) / dim;
    for (int64_t i = 0; i < dim; ++i)
      EXPECT_NEAR(out[r * dim + i],
                  (x[r * dim + i] - mu) / std::sqrt(var + 1e-5) * w[i] + b[i],
                  1e-5);
  }
}

TEST(LayerNormTest, BackwardMatchesFiniteDifferences) {
  std::mt19937 rng(4);
  int64_t rows = 3, dim = 7;
  auto x = randomVector(rng, rows * dim), w = randomVector(rng, dim),
       b = randomVector(rng, dim), r = randomVector(rng, rows * dim);
  std::vector<float> mean(rows), rstd(rows);
  auto loss = [&] {
    std::vector<float> out(rows * dim);
    layerNormForward(out.data(), mean.data(), rstd.data(), x.data(), w.data(),
                     b.data(), rows, dim, 1e-5f);
    return dotLoss(out, r);
  };
  loss();
  auto dx = poisoned(x.size()), dw = poisoned(dim), db = poisoned(dim);
  layerNormBackward(dx.data(), dw.data(), db.data(), r.data(), x.data(),
                    w.data(), mean.data(), rstd.data(), rows, dim);
  expectAllClose(dx, numericGradient(x, loss, 1e-3f), 2e-3, 2e-2, "dx");
  expectAllClose(dw, numericGradient(w, loss), 1e-3, 1e-3, "dw");
  expectAllClose(db, numericGradient(b, loss), 1e-3, 1e-3, "db");
}

TEST(RmsNormTest, ForwardAndBackward) {
  std::mt19937 rng(5);
  int64_t rows = 4, dim = 9;
  auto x = randomVector(rng, rows * dim), w = randomVector(rng, dim),
       r = randomVector(rng, rows * dim);
  std::vector<float> rstd(rows);
  auto out = poisoned(rows * dim);
  rmsNormForward(out.data(), rstd.data(), x.data(), w.data(), rows, dim, 1e-6f);
  for (int64_t row = 0; row < rows; ++row) {
    double ms = 0;
    for (int64_t i = 0; i < dim; ++i)
      ms += double(x[row * dim + i]) * x[row * dim + i] / dim;
    for (int64_t i = 0; i < dim; ++i)
      EXPECT_NEAR(out[row * dim + i],
                  x[row * dim + i] / std::sqrt(ms + 1e-6) * w[i], 1e-5);
  }
  auto loss = [&] {
    std::vector<float> o(rows * dim);
    rmsNormForward(o.data(), rstd.data(), x.data(), w.data(), rows, dim, 1e-6f);
    return dotLoss(o, r);
  };
  loss();
  auto dx = poisoned(x.size()), dw = poisoned(dim);
  rmsNormBackward(dx.data(), dw.data(), r.data(), x.data(), w.data(),
                  rstd.data(), rows, dim);
  expectAllClose(dx, numericGradient(x, loss, 1e-3f), 2e-3, 2e-2, "dx");
  expectAllClose(dw, numericGradient(w, loss), 1e-3, 1e-3, "dw");
}
