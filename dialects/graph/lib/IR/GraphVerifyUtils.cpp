//===- GraphVerifyUtils.cpp - Checks shared by the graph ops --------------===//

#include "GraphVerifyUtils.h"

#include "strata/Dialect/Graph/IR/GraphShapes.h"

#include "llvm/ADT/STLExtras.h"

#include <cmath>

using namespace mlir;

namespace strata::graph::detail {

bool hasElementKind(Type type, ElementKind kind) {
  switch (kind) {
  case ElementKind::FloatOrInt:
    return isa<FloatType>(type) || type.isSignlessInteger();
  case ElementKind::Float:
    return isa<FloatType>(type);
  case ElementKind::Int:
    return type.isSignlessInteger();
  case ElementKind::I32:
    return type.isSignlessInteger(32);
  }
  llvm_unreachable("unknown element kind");
}

static StringRef describe(ElementKind kind) {
  switch (kind) {
  case ElementKind::FloatOrInt:
    return "a ranked tensor of floats or integers";
  case ElementKind::Float:
    return "a ranked tensor of floats";
  case ElementKind::Int:
    return "a ranked tensor of integers";
  case ElementKind::I32:
    return "a ranked tensor of i32";
  }
  llvm_unreachable("unknown element kind");
}

FailureOr<RankedTensorType> getTensor(std::optional<Location> location,
                                      StringRef opName, StringRef name,
                                      Value value, ElementKind kind) {
  if (!value)
    return inferError(location, opName, "is missing operand '", name, "'");
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || !hasElementKind(type.getElementType(), kind))
    return inferError(location, opName, "expects ", name, " to be ",
                      describe(kind), ", got ", value.getType());
  return type;
}

FailureOr<RankedTensorType> getTensorOfRank(std::optional<Location> location,
                                            StringRef opName, StringRef name,
                                            Value value, ElementKind kind,
                                            int64_t rank, bool atLeast) {
  FailureOr<RankedTensorType> type =
      getTensor(location, opName, name, value, kind);
  if (failed(type))
    return failure();
  if (atLeast ? type->getRank() < rank : type->getRank() != rank)
    return inferError(location, opName, "expects ", name, " to have rank ",
                      atLeast ? "at least " : "", rank, ", got ", *type);
  return type;
}

LogicalResult requireAttr(std::optional<Location> location, StringRef opName,
                          Attribute attr, StringRef name) {
  if (!attr)
    return inferError(location, opName, "requires attribute '", name, "'");
  return success();
}

LogicalResult requireSameElementType(std::optional<Location> location,
                                     StringRef opName, StringRef lhsName,
                                     RankedTensorType lhs, StringRef rhsName,
                                     RankedTensorType rhs) {
  if (lhs.getElementType() == rhs.getElementType())
    return success();
  return inferError(location, opName, "expects ", lhsName, " and ", rhsName,
                    " to have the same element type, got ", lhs, " and ", rhs);
}

std::string formatDim(int64_t dim) {
  return ShapedType::isDynamic(dim) ? "?" : std::to_string(dim);
}

LogicalResult requireCompatibleDims(std::optional<Location> location,
                                    StringRef opName, StringRef what,
                                    int64_t lhsDim, int64_t rhsDim) {
  if (areCompatibleDims(lhsDim, rhsDim))
    return success();
  return inferError(location, opName, what, " differ: ", formatDim(lhsDim),
                    " vs ", formatDim(rhsDim));
}

LogicalResult requireAxisInRange(std::optional<Location> location,
                                 StringRef opName, int64_t axis, int64_t rank) {
  if (axis >= 0 && axis < rank)
    return success();
  return inferError(location, opName, "axis ", axis,
                    " is out of range for rank ", rank);
}

LogicalResult requirePositive(std::optional<Location> location,
                              StringRef opName, FloatAttr attr,
                              StringRef name) {
  if (failed(requireAttr(location, opName, attr, name)))
    return failure();
  double value = attr.getValueAsDouble();
  if (std::isfinite(value) && value > 0)
    return success();
  return inferError(location, opName, "expects ", name, " > 0, got ", value);
}

FailureOr<int64_t> requirePositive(std::optional<Location> location,
                                   StringRef opName, IntegerAttr attr,
                                   StringRef name) {
  if (failed(requireAttr(location, opName, attr, name)))
    return failure();
  int64_t value = attr.getInt();
  if (value <= 0)
    return inferError(location, opName, "expects ", name, " > 0, got ", value);
  return value;
}

LogicalResult requireTargetsOf(std::optional<Location> location,
                               StringRef opName, RankedTensorType logits,
                               RankedTensorType targets) {
  if (targets.getRank() + 1 != logits.getRank())
    return inferError(location, opName,
                      "expects logits to have one more dimension (the "
                      "classes) than targets, got ",
                      logits, " and ", targets);
  for (auto [dim, sizes] : llvm::enumerate(
           llvm::zip_equal(logits.getShape().drop_back(), targets.getShape())))
    if (!areCompatibleDims(std::get<0>(sizes), std::get<1>(sizes)))
      return inferError(
          location, opName, "dimension ", dim,
          " of logits and targets differ: ", formatDim(std::get<0>(sizes)),
          " vs ", formatDim(std::get<1>(sizes)));
  return success();
}

FailureOr<SmallVector<int64_t>>
inferReducedShape(std::optional<Location> location, StringRef opName,
                  RankedTensorType input, ArrayRef<int64_t> axes,
                  bool keepdim) {
  for (auto [i, axis] : llvm::enumerate(axes)) {
    if (failed(requireAxisInRange(location, opName, axis, input.getRank())))
      return failure();
    if (i > 0 && axes[i - 1] >= axis)
      return inferError(location, opName,
                        "expects axes sorted and unique, got [",
                        llvm::make_range(axes.begin(), axes.end()), "]");
  }
  SmallVector<int64_t> shape;
  for (auto [dim, size] : llvm::enumerate(input.getShape())) {
    if (!llvm::is_contained(axes, static_cast<int64_t>(dim)))
      shape.push_back(size);
    else if (keepdim)
      shape.push_back(1);
  }
  return shape;
}

FailureOr<RankedTensorType> getRotaryTensor(std::optional<Location> location,
                                            StringRef opName, StringRef name,
                                            Value value, FloatAttr theta) {
  FailureOr<RankedTensorType> type = getTensorOfRank(
      location, opName, name, value, ElementKind::Float, 4, /*atLeast=*/false);
  if (failed(type) || failed(requirePositive(location, opName, theta, "theta")))
    return failure();
  int64_t headDim = type->getDimSize(3);
  if (!ShapedType::isDynamic(headDim) && headDim % 2 != 0)
    return inferError(location, opName,
                      "expects an even head dimension (it rotates pairs), "
                      "got ",
                      headDim);
  return type;
}

FailureOr<SmallVector<int64_t>>
inferAttentionShape(std::optional<Location> location, StringRef opName,
                    ArrayRef<int64_t> qs, ArrayRef<int64_t> ks,
                    ArrayRef<int64_t> vs) {
  if (failed(requireCompatibleDims(
          location, opName, "batch sizes of query and key", qs[0], ks[0])) ||
      failed(requireCompatibleDims(
          location, opName, "batch sizes of query and value", qs[0], vs[0])) ||
      failed(requireCompatibleDims(
          location, opName, "head counts of key and value", ks[1], vs[1])) ||
      failed(requireCompatibleDims(location, opName,
                                   "sequence lengths of key and value", ks[2],
                                   vs[2])) ||
      failed(requireCompatibleDims(
          location, opName, "head dimensions of query and key", qs[3], ks[3])))
    return failure();
  int64_t queryHeads = qs[1], kvHeads = mergeDims(ks[1], vs[1]);
  if (!ShapedType::isDynamic(queryHeads) && !ShapedType::isDynamic(kvHeads) &&
      (kvHeads == 0 || queryHeads % kvHeads != 0))
    return inferError(location, opName, "expects the query heads (", queryHeads,
                      ") to be a multiple of the key/value heads (", kvHeads,
                      ")");
  int64_t batch = mergeDims(mergeDims(qs[0], ks[0]), vs[0]);
  return SmallVector<int64_t>{batch, queryHeads, qs[2], vs[3]};
}

} // namespace strata::graph::detail
