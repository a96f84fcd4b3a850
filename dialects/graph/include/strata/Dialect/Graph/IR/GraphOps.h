//===- GraphOps.h - strata.graph ops ----------------------------*- C++ -*-===//

#ifndef STRATA_DIALECT_GRAPH_IR_GRAPHOPS_H
#define STRATA_DIALECT_GRAPH_IR_GRAPHOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "strata/Dialect/Graph/IR/GraphDialect.h"

namespace strata::graph::detail {

/// Whether written result types agree with inferred ones: same element types
/// and compatible shapes, so either side may know a dimension the other has
/// as `?`.
bool areCompatibleResultTypes(mlir::TypeRange lhs, mlir::TypeRange rhs);

/// inferReturnTypes of the broadcasting binary ops (graph.add and friends).
llvm::LogicalResult
inferBroadcastOp(llvm::StringRef opName, std::optional<mlir::Location> location,
                 mlir::Value lhs, mlir::Value rhs,
                 llvm::SmallVectorImpl<mlir::Type> &inferredReturnTypes);

/// inferReturnTypes of the unary float ops whose result has the input's type.
llvm::LogicalResult
inferSameFloatType(llvm::StringRef opName,
                   std::optional<mlir::Location> location, mlir::Value input,
                   llvm::SmallVectorImpl<mlir::Type> &inferredReturnTypes);

} // namespace strata::graph::detail

#include "strata/Dialect/Graph/IR/GraphInterfaces.h.inc"

#define GET_OP_CLASSES
#include "strata/Dialect/Graph/IR/GraphOps.h.inc"

#endif // STRATA_DIALECT_GRAPH_IR_GRAPHOPS_H
