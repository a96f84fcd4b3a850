//===- IndexingTest.cpp - gather and topk ---------------------------------===//

#include "CpuTestUtil.h"
#include "strata/Cpu/Kernels.h"

#include <algorithm>
#include <numeric>

using namespace strata::cpu;
using namespace strata::cpu::test;

TEST(GatherTest, ForwardAndScatterAddBackward) {
  std::mt19937 rng(51);
  int64_t rows = 5, rowSize = 3, n = 6;
  std::vector<int32_t> idx = {4, 0, 4, 2, 0, 4}; // Repeats accumulate.
  auto table = randomVector(rng, rows * rowSize), r = randomVector(rng, n * 3);
  auto out = poisoned(n * rowSize);
  EXPECT_EQ(
      gatherForward(table.data(), rows, rowSize, idx.data(), n, out.data()),
      -1);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < rowSize; ++c)
      EXPECT_EQ(out[i * rowSize + c], table[idx[i] * rowSize + c]);
  auto loss = [&] {
    std::vector<float> o(n * rowSize);
    gatherForward(table.data(), rows, rowSize, idx.data(), n, o.data());
    return dotLoss(o, r);
  };
  std::vector<float> dtable(rows * rowSize, 0.0f);
  EXPECT_EQ(
      gatherBackward(r.data(), idx.data(), n, rowSize, dtable.data(), rows),
      -1);
  expectAllClose(dtable, numericGradient(table, loss, 1e-3f), 1e-4, 1e-3,
                 "dtable");
}

TEST(GatherTest, BadIndexIsReportedNotRead) {
  std::vector<float> table = {1, 2, 3, 4};
  std::vector<int32_t> idx = {1, 2, -1};
  auto out = poisoned(6);
  EXPECT_EQ(gatherForward(table.data(), 2, 2, idx.data(), 3, out.data()), 1);
  expectAllClose(out, std::vector<float>{3, 4, 0, 0, 0, 0}, 0, 0, "out");
  std::vector<float> dtable(4, 0.0f), dout = {1, 1, 1, 1, 1, 1};
  EXPECT_EQ(gatherBackward(dout.data(), idx.data(), 3, 2, dtable.data(), 2), 1);
  expectAllClose(dtable, std::vector<float>{0, 0, 1, 1}, 0, 0, "dtable");
}

TEST(TopkTest, DescendingWithTiesByLowerIndex) {
  std::vector<float> x = {1, 3, 2, 3, 0, //
                          5, 5, 5, 1, 5};
  std::vector<float> values(6, -1);
  std::vector<int32_t> indices(6, -1);
  topkForward(x.data(), 2, 5, 3, values.data(), indices.data());
  expectAllClose(values, std::vector<float>{3, 3, 2, 5, 5, 5}, 0, 0, "values");
  EXPECT_EQ(indices, (std::vector<int32_t>{1, 3, 2, 0, 1, 2}));
}

TEST(TopkTest, MatchesFullSortOnRandomRows) {
  std::mt19937 rng(52);
  int64_t rows = 4, cols = 9, k = 4;
  auto x = randomVector(rng, rows * cols);
  auto values = poisoned(rows * k);
  std::vector<int32_t> indices(rows * k, -1);
  topkForward(x.data(), rows, cols, k, values.data(), indices.data());
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> row(x.begin() + r * cols, x.begin() + (r + 1) * cols);
    std::sort(row.begin(), row.end(), std::greater<float>());
    for (int64_t j = 0; j < k; ++j) {
      EXPECT_EQ(values[r * k + j], row[j]);
      EXPECT_EQ(x[r * cols + indices[r * k + j]], row[j]);
    }
  }
}

TEST(TopkTest, BackwardMatchesFiniteDifferences) {
  std::mt19937 rng(53);
  int64_t rows = 3, cols = 7, k = 3;
  // Distinct values 0.1 apart: a step of 1e-3 never reorders a row.
  std::vector<float> x(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int> order(cols);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    for (int64_t c = 0; c < cols; ++c)
      x[r * cols + c] = 0.1f * float(order[c]) - 0.3f;
  }
  auto r = randomVector(rng, rows * k);
  auto loss = [&] {
    std::vector<float> values(rows * k);
    std::vector<int32_t> indices(rows * k);
    topkForward(x.data(), rows, cols, k, values.data(), indices.data());
    return dotLoss(values, r);
  };
  std::vector<float> values(rows * k);
  std::vector<int32_t> indices(rows * k);
  topkForward(x.data(), rows, cols, k, values.data(), indices.data());
  auto dx = poisoned(rows * cols);
  EXPECT_EQ(topkBackward(r.data(), indices.data(), rows, cols, k, dx.data()),
            -1);
  expectAllClose(dx, numericGradient(x, loss, 1e-3f), 1e-4, 1e-3, "dx");
}

TEST(TopkTest, BackwardSumsRepeatsAndReportsBadIndex) {
  std::vector<float> dvalues = {1, 2, 3, 4};
  std::vector<int32_t> indices = {2, 2, 0, 5};
  auto dx = poisoned(6);
  EXPECT_EQ(topkBackward(dvalues.data(), indices.data(), 2, 3, 2, dx.data()),
            3);
  expectAllClose(dx, std::vector<float>{0, 0, 3, 3, 0, 0}, 0, 0, "dx");
}
