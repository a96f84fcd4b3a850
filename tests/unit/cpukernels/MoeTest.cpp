//===- MoeTest.cpp - moe_dispatch and moe_combine -------------------------===//

#include "CpuTestUtil.h"
#include "strata/Cpu/Kernels.h"

using namespace strata::cpu;
using namespace strata::cpu::test;

namespace {
// 5 tokens, top-2 over 3 experts of capacity 2. Walking (n, j) in order,
// expert 0 fills with (0,0), (1,1) and drops (3,0); expert 1 takes (0,1),
// (2,0) and drops (4,1); expert 2 takes (1,0), (2,1) and drops (4,0), (3,1).
constexpr int64_t N = 5, D = 3, K = 2, E = 3, C = 2;
const std::vector<int32_t> kIndices = {0, 1, 2, 0, 1, 2, 0, 2, 2, 1};
const std::vector<int64_t> kSlots = {0, 0, 0, 1, 1, 1, -1, -1, -1, -1};
} // namespace

TEST(MoeTest, SlotsFollowTheDocumentedOrder) {
  std::vector<int64_t> slots(N * K, 99);
  EXPECT_EQ(moeAssignSlots(kIndices.data(), N, K, E, C, slots.data()), -1);
  EXPECT_EQ(slots, kSlots);
}

TEST(MoeTest, DispatchCombineRoundTripDropsOverCapacity) {
  std::mt19937 rng(61);
  auto x = randomVector(rng, N * D), w = randomVector(rng, N * K);
  auto dispatched = poisoned(E * C * D), out = poisoned(N * D);
  EXPECT_EQ(moeDispatchForward(x.data(), kIndices.data(), N, D, K, E, C,
                               dispatched.data()),
            -1);
  EXPECT_EQ(moeCombineForward(dispatched.data(), kIndices.data(), w.data(), N,
                              D, K, E, C, out.data()),
            -1);
  // Identity experts: out[n] = x[n] · Σ_j (kept) w[n, j].
  std::vector<double> want(N * D);
  for (int64_t n = 0; n < N; ++n) {
    double wsum = 0;
    for (int64_t j = 0; j < K; ++j)
      if (kSlots[n * K + j] >= 0)
        wsum += w[n * K + j];
    for (int64_t d = 0; d < D; ++d)
      want[n * D + d] = wsum * x[n * D + d];
  }
  expectAllClose(out, want, 1e-6, 1e-6, "round trip");
  // Expert 1's slots hold tokens 0 and 2.
  for (int64_t d = 0; d < D; ++d) {
    EXPECT_EQ(dispatched[(1 * C + 0) * D + d], x[0 * D + d]);
    EXPECT_EQ(dispatched[(1 * C + 1) * D + d], x[2 * D + d]);
  }
}

TEST(MoeTest, BackwardMatchesFiniteDifferences) {
  std::mt19937 rng(62);
  auto x = randomVector(rng, N * D), y = randomVector(rng, E * C * D);
  auto w = randomVector(rng, N * K);
  auto rDispatch = randomVector(rng, E * C * D),
       rCombine = randomVector(rng, N * D);
  auto dispatchLoss = [&] {
    std::vector<float> o(E * C * D);
    moeDispatchForward(x.data(), kIndices.data(), N, D, K, E, C, o.data());
    return dotLoss(o, rDispatch);
  };
  auto combineLoss = [&] {
    std::vector<float> o(N * D);
    moeCombineForward(y.data(), kIndices.data(), w.data(), N, D, K, E, C,
                      o.data());
    return dotLoss(o, rCombine);
  };
  auto dx = poisoned(N * D), dy = poisoned(E * C * D), dw = poisoned(N * K);
  moeDispatchBackward(rDispatch.data(), kIndices.data(), N, D, K, E, C,
                      dx.data());
  moeCombineBackward(y.data(), kIndices.data(), w.data(), rCombine.data(), N, D,
                     K, E, C, dy.data(), dw.data());
  expectAllClose(dx, numericGradient(x, dispatchLoss, 1e-3f), 1e-4, 1e-3, "dx");
  expectAllClose(dy, numericGradient(y, combineLoss, 1e-3f), 1e-4, 1e-3, "dy");
  expectAllClose(dw, numericGradient(w, combineLoss, 1e-3f), 1e-4, 1e-3, "dw");
}

TEST(MoeTest, BadExpertIsReportedAndDropped) {
  std::vector<int32_t> idx = {0, 3, -1, 1};
  std::vector<float> x = {1, 2}, w = {1, 1, 1, 1};
  auto dispatched = poisoned(2 * 1 * 1), out = poisoned(2);
  EXPECT_EQ(moeDispatchForward(x.data(), idx.data(), 2, 1, 2, 2, 1,
                               dispatched.data()),
            1);
  expectAllClose(dispatched, std::vector<float>{1, 2}, 0, 0, "dispatched");
  EXPECT_EQ(moeCombineForward(dispatched.data(), idx.data(), w.data(), 2, 1, 2,
                              2, 1, out.data()),
            1);
  expectAllClose(out, std::vector<float>{1, 2}, 0, 0, "combined");
}
