//===- GraphShapesTest.cpp - broadcast and shape rules --------------------===//

#include "strata/Dialect/Graph/IR/GraphShapes.h"

#include "mlir/IR/BuiltinTypeInterfaces.h"

#include <gtest/gtest.h>

using namespace strata::graph;
using llvm::SmallVector;

namespace {

constexpr int64_t kDyn = mlir::ShapedType::kDynamic;

TEST(GraphShapes, BroadcastDimsFollowsNumPy) {
  EXPECT_EQ(broadcastDims(4, 4), 4);
  EXPECT_EQ(broadcastDims(1, 4), 4);
  EXPECT_EQ(broadcastDims(4, 1), 4);
  EXPECT_EQ(broadcastDims(3, 4), std::nullopt);
}

TEST(GraphShapes, BroadcastDimsWithDynamic) {
  // `?` yields `?` unless the other side is static and not 1.
  EXPECT_EQ(broadcastDims(kDyn, kDyn), kDyn);
  EXPECT_EQ(broadcastDims(kDyn, 1), kDyn);
  EXPECT_EQ(broadcastDims(1, kDyn), kDyn);
  EXPECT_EQ(broadcastDims(kDyn, 5), 5);
  EXPECT_EQ(broadcastDims(5, kDyn), 5);
}

TEST(GraphShapes, BroadcastShapesAlignsTrailingDims) {
  auto shape = broadcastShapes({2, 1, 8}, {4, 1});
  ASSERT_TRUE(shape);
  EXPECT_EQ(*shape, (SmallVector<int64_t>{2, 4, 8}));
  shape = broadcastShapes({}, {3, kDyn});
  ASSERT_TRUE(shape);
  EXPECT_EQ(*shape, (SmallVector<int64_t>{3, kDyn}));
  EXPECT_FALSE(broadcastShapes({2, 3}, {4, 3}));
}

TEST(GraphShapes, MergeAndCompatibility) {
  EXPECT_TRUE(areCompatibleDims(kDyn, 3));
  EXPECT_TRUE(areCompatibleDims(3, 3));
  EXPECT_FALSE(areCompatibleDims(2, 3));
  EXPECT_EQ(mergeDims(kDyn, 3), 3);
  EXPECT_EQ(mergeDims(3, kDyn), 3);
}

TEST(GraphShapes, NumElementsAndPermutations) {
  EXPECT_EQ(getNumElements({2, 3, 4}), 24);
  EXPECT_EQ(getNumElements({}), 1);
  EXPECT_EQ(getNumElements({2, kDyn}), std::nullopt);
  EXPECT_TRUE(isPermutation({2, 0, 1}, 3));
  EXPECT_FALSE(isPermutation({0, 0, 1}, 3));
  EXPECT_FALSE(isPermutation({0, 1}, 3));
  EXPECT_FALSE(isPermutation({0, 3, 1}, 3));
  EXPECT_FALSE(isPermutation({-1, 0, 1}, 3));
}

} // namespace
