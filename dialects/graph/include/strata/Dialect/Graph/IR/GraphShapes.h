//===- GraphShapes.h - Shape rules of strata.graph --------------*- C++ -*-===//
//
// The shape arithmetic that the graph ops share (and that passes such as
// autodiff need again to undo a broadcast). Shapes are MLIR shapes: a
// dimension is a size >= 0 or ShapedType::kDynamic (`?`). None of these
// functions reports errors; callers know which op to blame.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_DIALECT_GRAPH_IR_GRAPHSHAPES_H
#define STRATA_DIALECT_GRAPH_IR_GRAPHSHAPES_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace strata::graph {

/// Whether two dimensions can describe the same extent: equal, or either is
/// dynamic.
bool areCompatibleDims(int64_t lhs, int64_t rhs);

/// The more precise of two compatible dimensions (a static one over `?`).
int64_t mergeDims(int64_t lhs, int64_t rhs);

/// Broadcasts one pair of dimensions by NumPy's rule: 1 stretches; `?` matches
/// anything and yields `?` unless the other side is static and not 1. Returns
/// nullopt for two different static sizes, neither of them 1.
std::optional<int64_t> broadcastDims(int64_t lhs, int64_t rhs);

/// Broadcasts two shapes, trailing dimensions aligned. Returns nullopt when
/// some aligned pair does not broadcast.
std::optional<llvm::SmallVector<int64_t>>
broadcastShapes(llvm::ArrayRef<int64_t> lhs, llvm::ArrayRef<int64_t> rhs);

/// The number of elements of a static shape, or nullopt when a dimension is
/// dynamic.
std::optional<int64_t> getNumElements(llvm::ArrayRef<int64_t> shape);

/// Whether `permutation` holds each of 0..rank-1 exactly once.
bool isPermutation(llvm::ArrayRef<int64_t> permutation, int64_t rank);

} // namespace strata::graph

#endif // STRATA_DIALECT_GRAPH_IR_GRAPHSHAPES_H
