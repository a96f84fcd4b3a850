//===- ReduceTest.cpp - sum, mean, max, min over axes ---------------------===//

#include "CpuTestUtil.h"
#include "strata/Cpu/Kernels.h"

using namespace strata::cpu;
using namespace strata::cpu::test;

namespace {
const ReduceKind kReduceKinds[] = {ReduceKind::Sum, ReduceKind::Mean,
                                   ReduceKind::Max, ReduceKind::Min};
const int64_t kDims[] = {3, 4, 5};
const Shape kShape{kDims, 3};
} // namespace

TEST(ReduceTest, ForwardMatchesNaiveOverOuterAxes) {
  // Reduce axes {0, 2} of [3,4,5]: out[j] over i, l.
  std::mt19937 rng(31);
  auto x = randomVector(rng, 60);
  int64_t axes[] = {0, 2};
  for (ReduceKind kind : kReduceKinds) {
    auto out = poisoned(4);
    reduceForward(kind, x.data(), kShape, axes, 2, out.data());
    std::vector<double> want(4);
    for (int j = 0; j < 4; ++j) {
      double sum = 0, mx = -1e30, mn = 1e30;
      for (int i = 0; i < 3; ++i)
        for (int l = 0; l < 5; ++l) {
          double v = x[(i * 4 + j) * 5 + l];
          sum += v, mx = std::max(mx, v), mn = std::min(mn, v);
        }
      want[j] = kind == ReduceKind::Sum    ? sum
                : kind == ReduceKind::Mean ? sum / 15
                : kind == ReduceKind::Max  ? mx
                                           : mn;
    }
    expectAllClose(out, want, 1e-6, 1e-6, "reduce forward");
  }
}

TEST(ReduceTest, BackwardMatchesFiniteDifferences) {
  std::vector<std::vector<int64_t>> axisSets = {{1}, {0, 2}, {0, 1, 2}, {}};
  for (ReduceKind kind : kReduceKinds) {
    for (const auto &axes : axisSets) {
      std::mt19937 rng(32);
      int64_t outN = 60;
      for (int64_t a : axes)
        outN /= kDims[a];
      auto x = randomVector(rng, 60), r = randomVector(rng, outN);
      int numAxes = int(axes.size());
      auto out = poisoned(outN);
      reduceForward(kind, x.data(), kShape, axes.data(), numAxes, out.data());
      auto loss = [&] {
        std::vector<float> o(outN);
        reduceForward(kind, x.data(), kShape, axes.data(), numAxes, o.data());
        return dotLoss(o, r);
      };
      auto dx = poisoned(60);
      reduceBackward(kind, x.data(), kShape, axes.data(), numAxes, out.data(),
                     r.data(), dx.data());
      expectAllClose(dx, numericGradient(x, loss, 1e-3f), 1e-3, 1e-2, "dx");
    }
  }
}

TEST(ReduceTest, MaxGradientGoesToFirstTie) {
  int64_t dims[] = {2, 3};
  std::vector<float> x = {1, 2, 2, 5, 5, 5}, dout = {10, 20};
  int64_t axes[] = {1};
  for (ReduceKind kind : {ReduceKind::Max, ReduceKind::Min}) {
    auto out = poisoned(2), dx = poisoned(6);
    reduceForward(kind, x.data(), Shape{dims, 2}, axes, 1, out.data());
    reduceBackward(kind, x.data(), Shape{dims, 2}, axes, 1, out.data(),
                   dout.data(), dx.data());
    std::vector<float> want = kind == ReduceKind::Max
                                  ? std::vector<float>{0, 10, 0, 20, 0, 0}
                                  : std::vector<float>{10, 0, 0, 20, 0, 0};
    expectAllClose(dx, want, 0, 0, "dx");
  }
}
