//===- LayoutTest.cpp - log_softmax, transpose, slice, concat -------------===//

#include "CpuTestUtil.h"
#include "strata/Cpu/Kernels.h"

using namespace strata::cpu;
using namespace strata::cpu::test;

TEST(LogSoftmaxTest, ForwardAndBackward) {
  std::mt19937 rng(41);
  int64_t rows = 3, cols = 7, n = rows * cols;
  auto x = randomVector(rng, n, -3.0f, 3.0f), r = randomVector(rng, n);
  auto y = poisoned(n), soft = poisoned(n);
  logSoftmaxForward(x.data(), y.data(), rows, cols);
  softmaxForward(soft.data(), x.data(), rows, cols);
  std::vector<double> want(n);
  for (int64_t i = 0; i < n; ++i)
    want[i] = std::log(double(soft[i]));
  expectAllClose(y, want, 1e-5, 1e-5, "log_softmax");
  auto loss = [&] {
    std::vector<float> o(n);
    logSoftmaxForward(x.data(), o.data(), rows, cols);
    return dotLoss(o, r);
  };
  auto dx = poisoned(n);
  logSoftmaxBackward(y.data(), r.data(), dx.data(), rows, cols);
  expectAllClose(dx, numericGradient(x, loss, 1e-3f), 1e-3, 1e-2, "dx");
}

TEST(TransposeTest, ForwardAndInverseRoundTrip) {
  std::mt19937 rng(42);
  int64_t dims[] = {2, 3, 4}, perm[] = {2, 0, 1}, inverse[] = {1, 2, 0};
  int64_t outDims[] = {4, 2, 3};
  auto x = randomVector(rng, 24);
  auto out = poisoned(24), back = poisoned(24);
  transposeForward(x.data(), Shape{dims, 3}, perm, out.data());
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k)
        EXPECT_EQ(out[(k * 2 + i) * 3 + j], x[(i * 3 + j) * 4 + k]);
  transposeForward(out.data(), Shape{outDims, 3}, inverse, back.data());
  expectAllClose(back, x, 0, 0, "round trip");
}

TEST(SliceTest, ForwardAndBackward) {
  std::mt19937 rng(43);
  int64_t dims[] = {2, 5, 3};
  Shape shape{dims, 3};
  auto x = randomVector(rng, 30), r = randomVector(rng, 12);
  auto out = poisoned(12);
  sliceForward(x.data(), shape, 1, 1, 3, out.data());
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      for (int k = 0; k < 3; ++k)
        EXPECT_EQ(out[(i * 2 + j) * 3 + k], x[(i * 5 + j + 1) * 3 + k]);
  auto loss = [&] {
    std::vector<float> o(12);
    sliceForward(x.data(), shape, 1, 1, 3, o.data());
    return dotLoss(o, r);
  };
  auto dx = poisoned(30);
  sliceBackward(r.data(), shape, 1, 1, 3, dx.data());
  expectAllClose(dx, numericGradient(x, loss, 1e-3f), 1e-4, 1e-3, "dx");
}

TEST(ConcatTest, ForwardAndBackwardBySlices) {
  std::mt19937 rng(44);
  int64_t aDims[] = {2, 1, 3}, bDims[] = {2, 4, 3}, outDims[] = {2, 5, 3};
  auto a = randomVector(rng, 6), b = randomVector(rng, 24);
  const float *inputs[] = {a.data(), b.data()};
  Shape shapes[] = {Shape{aDims, 3}, Shape{bDims, 3}};
  auto out = poisoned(30);
  concatForward(inputs, shapes, 2, 1, out.data());
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 5; ++j)
      for (int k = 0; k < 3; ++k)
        EXPECT_EQ(out[(i * 5 + j) * 3 + k],
                  j == 0 ? a[i * 3 + k] : b[(i * 4 + j - 1) * 3 + k]);
  // The backward pass of each input is a slice of dout.
  auto da = poisoned(6), db = poisoned(24);
  sliceForward(out.data(), Shape{outDims, 3}, 1, 0, 1, da.data());
  sliceForward(out.data(), Shape{outDims, 3}, 1, 1, 5, db.data());
  expectAllClose(da, a, 0, 0, "a");
  expectAllClose(db, b, 0, 0, "b");
}
