//===- MatmulTest.cpp - Blocked matmul vs triple loop and finite diffs ---===//

#include "CpuTestUtil.h"
#include "strata/Cpu/Kernels.h"

using namespace strata::cpu;
using namespace strata::cpu::test;

namespace {
/// The reference: C = op(A)·op(B) by the textbook triple loop, in double.
std::vector<double> naiveMatmul(const std::vector<float> &a,
                                const std::vector<float> &b,
                                const MatmulShape &s) {
  std::vector<double> c(s.batch * s.m * s.n, 0.0);
  for (int64_t bi = 0; bi < s.batch; ++bi)
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t j = 0; j < s.n; ++j)
        for (int64_t p = 0; p < s.k; ++p) {
          float av = s.transA ? a[bi * s.m * s.k + p * s.m + i]
                              : a[bi * s.m * s.k + i * s.k + p];
          float bv = s.transB ? b[bi * s.k * s.n + j * s.k + p]
                              : b[bi * s.k * s.n + p * s.n + j];
          c[bi * s.m * s.n + i * s.n + j] += double(av) * bv;
        }
  return c;
}

class MatmulTest : public ::testing::TestWithParam<std::pair<bool, bool>> {};
} // namespace

TEST_P(MatmulTest, ForwardMatchesNaive) {
  std::mt19937 rng(1);
  // Not multiples of any block size; k crosses one K block, n one N block.
  MatmulShape s{2, 37, 131, 70, GetParam().first, GetParam().second};
  auto a = randomVector(rng, s.batch * s.m * s.k);
  auto b = randomVector(rng, s.batch * s.k * s.n);
  std::vector<double> want = naiveMatmul(a, b, s);
  for (int threads : {1, 3}) {
    auto c = poisoned(s.batch * s.m * s.n);
    matmulForward(c.data(), a.data(), b.data(), s, false, threads);
    expectAllClose(c, want, 1e-4, 1e-5, "C");
  }
  // Accumulate adds onto what is there.
  std::vector<float> c(s.batch * s.m * s.n, 1.0f);
  matmulForward(c.data(), a.data(), b.data(), s, true, 2);
  for (double &w : want)
    w += 1.0;
  expectAllClose(c, want, 1e-4, 1e-5, "C += AB");
}

TEST_P(MatmulTest, BackwardMatchesFiniteDifferences) {
  std::mt19937 rng(2);
  MatmulShape s{2, 5, 7, 6, GetParam().first, GetParam().second};
  auto a = randomVector(rng, s.batch * s.m * s.k);
  auto b = randomVector(rng, s.batch * s.k * s.n);
  auto r = randomVector(rng, s.batch * s.m * s.n);
  auto loss = [&] {
    std::vector<float> c(r.size());
    matmulForward(c.data(), a.data(), b.data(), s);
    return dotLoss(c, r);
  };
  auto da = poisoned(a.size()), db = poisoned(b.size());
  matmulBackward(da.data(), db.data(), r.data(), a.data(), b.data(), s);
  expectAllClose(da, numericGradient(a, loss), 1e-3, 1e-3, "dA");
  expectAllClose(db, numericGradient(b, loss), 1e-3, 1e-3, "dB");

  // Accumulating twice doubles the gradient (a tied parameter used twice).
  std::vector<float> da2(a.size(), 0.0f), db2(b.size(), 0.0f);
  for (int i = 0; i < 2; ++i)
    matmulBackward(da2.data(), db2.data(), r.data(), a.data(), b.data(), s,
                   true, 2);
  for (float &x : da)
    x *= 2;
  for (float &x : db)
    x *= 2;
  expectAllClose(da2, da, 1e-5, 1e-5, "dA accumulated");
  expectAllClose(db2, db, 1e-5, 1e-5, "dB accumulated");
}

INSTANTIATE_TEST_SUITE_P(Transposes, MatmulTest,
                         ::testing::Values(std::make_pair(false, false),
                                           std::make_pair(true, false),
                                           std::make_pair(false, true),
                                           std::make_pair(true, true)));
