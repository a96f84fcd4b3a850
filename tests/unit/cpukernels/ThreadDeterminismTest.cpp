//===- ThreadDeterminismTest.cpp - Same bits for any thread count ---------===//
//
// The threaded kernels split rows, columns or element ranges, never a sum, so
// the result must not depend on the thread count: a resumed or re-run CPU
// training run reproduces its losses bit for bit only if this holds.
//
//===----------------------------------------------------------------------===//

#include "CpuTestUtil.h"
#include "strata/Cpu/Kernels.h"

#include <cstring>

using namespace strata::cpu;
using namespace strata::cpu::test;

namespace {

/// Whether two float buffers hold identical bit patterns.
bool sameBits(const std::vector<float> &a, const std::vector<float> &b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(ThreadDeterminism, MatmulForwardAndBackward) {
  std::mt19937 rng(11);
  // Large enough that every thread count below gets work, with sizes that are
  // not multiples of the register tile.
  for (bool transA : {false, true})
    for (bool transB : {false, true}) {
      MatmulShape shape{2, 97, 131, 203, transA, transB};
      int64_t aSize = shape.batch * shape.m * shape.k;
      int64_t bSize = shape.batch * shape.k * shape.n;
      int64_t cSize = shape.batch * shape.m * shape.n;
      std::vector<float> a = randomVector(rng, aSize);
      std::vector<float> b = randomVector(rng, bSize);
      std::vector<float> dc = randomVector(rng, cSize);
      std::vector<float> c1(cSize), da1(aSize), db1(bSize);
      matmulForward(c1.data(), a.data(), b.data(), shape, false, 1);
      matmulBackward(da1.data(), db1.data(), dc.data(), a.data(), b.data(),
                     shape, false, 1);
      for (int threads : {2, 3, 8}) {
        std::vector<float> c(cSize), da(aSize), db(bSize);
        matmulForward(c.data(), a.data(), b.data(), shape, false, threads);
        matmulBackward(da.data(), db.data(), dc.data(), a.data(), b.data(),
                       shape, false, threads);
        EXPECT_TRUE(sameBits(c, c1)) << threads << " threads";
        EXPECT_TRUE(sameBits(da, da1)) << threads << " threads";
        EXPECT_TRUE(sameBits(db, db1)) << threads << " threads";
      }
    }
}

TEST(ThreadDeterminism, CrossEntropyForwardAndBackward) {
  std::mt19937 rng(12);
  const int64_t rows = 300, vocab = 517;
  std::vector<float> logits = randomVector(rng, rows * vocab);
  std::vector<int32_t> targets(rows);
  for (int64_t r = 0; r < rows; ++r)
    targets[r] = int32_t((r * 7919) % vocab);
  float loss1 =
      crossEntropyForward(logits.data(), targets.data(), rows, vocab, 1);
  std::vector<float> dlogits1(rows * vocab);
  crossEntropyBackward(dlogits1.data(), logits.data(), targets.data(), rows,
                       vocab, 0.5f, 1);
  for (int threads : {2, 3, 8}) {
    float loss = crossEntropyForward(logits.data(), targets.data(), rows, vocab,
                                     threads);
    std::vector<float> dlogits(rows * vocab);
    crossEntropyBackward(dlogits.data(), logits.data(), targets.data(), rows,
                         vocab, 0.5f, threads);
    EXPECT_EQ(std::memcmp(&loss, &loss1, sizeof(float)), 0)
        << threads << " threads";
    EXPECT_TRUE(sameBits(dlogits, dlogits1)) << threads << " threads";
  }
}

} // namespace
