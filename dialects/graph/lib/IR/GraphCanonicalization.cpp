//===- GraphCanonicalization.cpp - strata.graph folders -------------------===//
//
// The folds of docs/graph-dialect.md, "Canonicalization". A fold replaces a
// result only with a value of exactly the result's type: inferred ops accept
// a written result type more refined than the inferred one, so "same shape"
// is not enough.
//
//===----------------------------------------------------------------------===//

#include "strata/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;
using namespace strata::graph;

/// Whether `attr` is a splat constant whose every element is 0 (`isOne`
/// false) or 1 (`isOne` true), of a float or integer type.
static bool isSplatOf(Attribute attr, bool isOne) {
  auto splat = dyn_cast_if_present<SplatElementsAttr>(attr);
  if (!splat)
    return false;
  Type elementType = splat.getElementType();
  if (isa<FloatType>(elementType)) {
    APFloat value = splat.getSplatValue<APFloat>();
    return isOne ? value.isExactlyValue(1.0) : value.isZero();
  }
  if (elementType.isSignlessInteger()) {
    APInt value = splat.getSplatValue<APInt>();
    return isOne ? value.isOne() : value.isZero();
  }
  return false;
}

/// `value` when it has exactly `type`, so that it may replace a result of
/// that type; null otherwise.
static Value sameTypeOrNull(Value value, Type type) {
  return value.getType() == type ? value : Value();
}

//===----------------------------------------------------------------------===//
// Constants and the identity elements of the binary ops
//===----------------------------------------------------------------------===//

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValueAttr(); }

OpFoldResult AddOp::fold(FoldAdaptor adaptor) {
  // Signed zeros are not distinguished: x + 0 is x for training purposes.
  if (isSplatOf(adaptor.getRhs(), /*isOne=*/false))
    if (Value x = sameTypeOrNull(getLhs(), getType()))
      return x;
  if (isSplatOf(adaptor.getLhs(), /*isOne=*/false))
    if (Value x = sameTypeOrNull(getRhs(), getType()))
      return x;
  return {};
}

OpFoldResult SubOp::fold(FoldAdaptor adaptor) {
  if (isSplatOf(adaptor.getRhs(), /*isOne=*/false))
    return sameTypeOrNull(getLhs(), getType());
  return {};
}

OpFoldResult MulOp::fold(FoldAdaptor adaptor) {
  if (isSplatOf(adaptor.getRhs(), /*isOne=*/true))
    if (Value x = sameTypeOrNull(getLhs(), getType()))
      return x;
  if (isSplatOf(adaptor.getLhs(), /*isOne=*/true))
    if (Value x = sameTypeOrNull(getRhs(), getType()))
      return x;
  return {};
}

OpFoldResult DivOp::fold(FoldAdaptor adaptor) {
  if (isSplatOf(adaptor.getRhs(), /*isOne=*/true))
    return sameTypeOrNull(getLhs(), getType());
  return {};
}

//===----------------------------------------------------------------------===//
// Cast, reshape, transpose, slice, concat
//===----------------------------------------------------------------------===//

OpFoldResult CastOp::fold(FoldAdaptor) {
  return sameTypeOrNull(getInput(), getType());
}

/// A reshape between equal types is the identity when at most one dimension
/// is dynamic: the element count then pins that dimension. With two `?`s,
/// `?x?` -> `?x?` may regroup (2x6 -> 3x4), so it stays.
static bool isIdentityReshape(Type from, Type to) {
  if (from != to)
    return false;
  auto type = cast<RankedTensorType>(to);
  return llvm::count_if(type.getShape(), ShapedType::isDynamic) <= 1;
}

OpFoldResult ReshapeOp::fold(FoldAdaptor adaptor) {
  // reshape(reshape(x)) -> reshape(x): both keep row-major element order.
  if (auto inner = getInput().getDefiningOp<ReshapeOp>()) {
    getInputMutable().assign(inner.getInput());
    if (isIdentityReshape(getInput().getType(), getType()))
      return getInput();
    return getResult();
  }
  if (isIdentityReshape(getInput().getType(), getType()))
    return getInput();
  auto resultType = cast<RankedTensorType>(getType());
  if (auto constant =
          dyn_cast_if_present<DenseElementsAttr>(adaptor.getInput()))
    if (resultType.hasStaticShape())
      return constant.reshape(resultType);
  return {};
}

OpFoldResult TransposeOp::fold(FoldAdaptor adaptor) {
  ArrayRef<int64_t> permutation = getPermutation();
  // transpose(transpose(x, inner), outer) = transpose(x, inner o outer).
  if (auto inner = getInput().getDefiningOp<TransposeOp>()) {
    ArrayRef<int64_t> innerPermutation = inner.getPermutation();
    SmallVector<int64_t> composed;
    for (int64_t dim : permutation)
      composed.push_back(innerPermutation[dim]);
    if (llvm::equal(composed, llvm::seq<int64_t>(0, composed.size())))
      if (Value x = sameTypeOrNull(inner.getInput(), getType()))
        return x;
    getInputMutable().assign(inner.getInput());
    setPermutation(composed);
    return getResult();
  }
  if (llvm::equal(permutation, llvm::seq<int64_t>(0, permutation.size())))
    if (Value x = sameTypeOrNull(getInput(), getType()))
      return x;
  auto resultType = cast<RankedTensorType>(getType());
  if (auto splat = dyn_cast_if_present<SplatElementsAttr>(adaptor.getInput()))
    if (resultType.hasStaticShape())
      return splat.resizeSplat(resultType);
  return {};
}

OpFoldResult SliceOp::fold(FoldAdaptor) {
  auto inputType = cast<RankedTensorType>(getInput().getType());
  int64_t end = getEndAttr().getInt();
  if (getStartAttr().getInt() == 0 &&
      end == inputType.getDimSize(getAxisAttr().getInt()))
    return sameTypeOrNull(getInput(), getType());
  return {};
}

OpFoldResult ConcatOp::fold(FoldAdaptor) {
  if (getInputs().size() == 1)
    return sameTypeOrNull(getInputs().front(), getType());
  return {};
}
