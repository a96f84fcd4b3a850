//===- GraphShapes.cpp - Shape rules of strata.graph ----------------------===//

#include "strata/Dialect/Graph/IR/GraphShapes.h"

#include "mlir/IR/BuiltinTypeInterfaces.h"

using namespace mlir;

namespace strata::graph {

bool areCompatibleDims(int64_t lhs, int64_t rhs) {
  return lhs == rhs || ShapedType::isDynamic(lhs) || ShapedType::isDynamic(rhs);
}

int64_t mergeDims(int64_t lhs, int64_t rhs) {
  return ShapedType::isDynamic(lhs) ? rhs : lhs;
}

std::optional<int64_t> broadcastDims(int64_t lhs, int64_t rhs) {
  if (lhs == rhs)
    return lhs;
  if (lhs == 1)
    return rhs;
  if (rhs == 1)
    return lhs;
  // A `?` facing a static size other than 1 must be that size at run time
  // (or 1, which stretches to it); two `?`s were handled as equal above.
  if (ShapedType::isDynamic(lhs))
    return rhs;
  if (ShapedType::isDynamic(rhs))
    return lhs;
  return std::nullopt;
}

std::optional<SmallVector<int64_t>> broadcastShapes(ArrayRef<int64_t> lhs,
                                                    ArrayRef<int64_t> rhs) {
  if (lhs.size() < rhs.size())
    std::swap(lhs, rhs);
  SmallVector<int64_t> result(lhs);
  size_t offset = lhs.size() - rhs.size();
  for (auto [i, dim] : llvm::enumerate(rhs)) {
    std::optional<int64_t> merged = broadcastDims(lhs[offset + i], dim);
    if (!merged)
      return std::nullopt;
    result[offset + i] = *merged;
  }
  return result;
}

std::optional<int64_t> getNumElements(ArrayRef<int64_t> shape) {
  if (ShapedType::isDynamicShape(shape))
    return std::nullopt;
  return ShapedType::getNumElements(shape);
}

bool isPermutation(ArrayRef<int64_t> permutation, int64_t rank) {
  if (static_cast<int64_t>(permutation.size()) != rank)
    return false;
  SmallVector<bool> seen(rank, false);
  for (int64_t dim : permutation) {
    if (dim < 0 || dim >= rank || seen[dim])
      return false;
    seen[dim] = true;
  }
  return true;
}

} // namespace strata::graph
