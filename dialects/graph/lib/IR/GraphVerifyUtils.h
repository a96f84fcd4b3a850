//===- GraphVerifyUtils.h - Checks shared by the graph ops ------*- C++ -*-===//
//
// Operand and attribute checks that type inference and verification of the
// graph ops (GraphOps.cpp) and of the training ops (GraphTrainingOps.cpp)
// share. Each reports "'<op>' op <message>" at `location` when there is one,
// so that inference errors read like the verifier's emitOpError.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_DIALECT_GRAPH_IR_GRAPHVERIFYUTILS_H
#define STRATA_DIALECT_GRAPH_IR_GRAPHVERIFYUTILS_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Value.h"

#include <optional>
#include <string>

namespace strata::graph::detail {

/// Emits "'<op>' op <message>" at `location` when there is one.
template <typename... Args>
mlir::LogicalResult inferError(std::optional<mlir::Location> location,
                               llvm::StringRef opName, Args &&...args) {
  return mlir::emitOptionalError(location, "'", opName, "' op ",
                                 std::forward<Args>(args)...);
}

/// The element types an operand may have.
enum class ElementKind { FloatOrInt, Float, Int, I32 };

/// Whether the element type `type` is of `kind`.
bool hasElementKind(mlir::Type type, ElementKind kind);

/// The type of operand `name` as a ranked tensor whose elements are of `kind`,
/// or a diagnostic.
mlir::FailureOr<mlir::RankedTensorType>
getTensor(std::optional<mlir::Location> location, llvm::StringRef opName,
          llvm::StringRef name, mlir::Value value, ElementKind kind);

/// Like getTensor, and also checks the rank: exactly `rank`, or at least
/// `rank` when `atLeast` is set.
mlir::FailureOr<mlir::RankedTensorType>
getTensorOfRank(std::optional<mlir::Location> location, llvm::StringRef opName,
                llvm::StringRef name, mlir::Value value, ElementKind kind,
                int64_t rank, bool atLeast);

mlir::LogicalResult requireAttr(std::optional<mlir::Location> location,
                                llvm::StringRef opName, mlir::Attribute attr,
                                llvm::StringRef name);

mlir::LogicalResult
requireSameElementType(std::optional<mlir::Location> location,
                       llvm::StringRef opName, llvm::StringRef lhsName,
                       mlir::RankedTensorType lhs, llvm::StringRef rhsName,
                       mlir::RankedTensorType rhs);

/// A dimension as the user reads it in a type: a number or `?`.
std::string formatDim(int64_t dim);

/// Checks that dimensions `lhsDim` and `rhsDim` can be equal; `what` names
/// both in the diagnostic ("<what> differ: 4 vs 5").
mlir::LogicalResult
requireCompatibleDims(std::optional<mlir::Location> location,
                      llvm::StringRef opName, llvm::StringRef what,
                      int64_t lhsDim, int64_t rhsDim);

/// Checks `0 <= axis < rank`. Negative axes are the frontend's spelling; the
/// IR holds them normalized.
mlir::LogicalResult requireAxisInRange(std::optional<mlir::Location> location,
                                       llvm::StringRef opName, int64_t axis,
                                       int64_t rank);

/// Checks that a floating-point attribute is present, finite and > 0.
mlir::LogicalResult requirePositive(std::optional<mlir::Location> location,
                                    llvm::StringRef opName,
                                    mlir::FloatAttr attr, llvm::StringRef name);

/// Checks that an integer attribute is present and > 0, and returns its value.
mlir::FailureOr<int64_t> requirePositive(std::optional<mlir::Location> location,
                                         llvm::StringRef opName,
                                         mlir::IntegerAttr attr,
                                         llvm::StringRef name);

/// Checks that `targets` holds one class index per row of `logits`: rank one
/// less, and the shape of `logits` without its last (class) dimension.
mlir::LogicalResult requireTargetsOf(std::optional<mlir::Location> location,
                                     llvm::StringRef opName,
                                     mlir::RankedTensorType logits,
                                     mlir::RankedTensorType targets);

/// The shape of `input` reduced over `axes` (sorted, unique, in range;
/// dimensions of size 1 kept with `keepdim`), or a diagnostic.
mlir::FailureOr<llvm::SmallVector<int64_t>>
inferReducedShape(std::optional<mlir::Location> location,
                  llvm::StringRef opName, mlir::RankedTensorType input,
                  llvm::ArrayRef<int64_t> axes, bool keepdim);

/// The type of operand `name` of a rotary embedding (graph.rope and its
/// gradient): [B, H, T, Dh] floats with Dh even, rotated by `theta` > 0.
mlir::FailureOr<mlir::RankedTensorType>
getRotaryTensor(std::optional<mlir::Location> location, llvm::StringRef opName,
                llvm::StringRef name, mlir::Value value, mlir::FloatAttr theta);

/// The output shape [B, H, T, Dv] of attention over query [B, H, T, D], key
/// [B, Hkv, S, D] and value [B, Hkv, S, Dv], where H is a multiple of Hkv
/// (grouped-query attention); a diagnostic when the shapes disagree.
mlir::FailureOr<llvm::SmallVector<int64_t>>
inferAttentionShape(std::optional<mlir::Location> location,
                    llvm::StringRef opName, llvm::ArrayRef<int64_t> qs,
                    llvm::ArrayRef<int64_t> ks, llvm::ArrayRef<int64_t> vs);

} // namespace strata::graph::detail

#endif // STRATA_DIALECT_GRAPH_IR_GRAPHVERIFYUTILS_H
