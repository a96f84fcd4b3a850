//===- ExecOps.h - strata.exec ops ------------------------------*- C++ -*-===//

#ifndef STRATA_DIALECT_EXEC_IR_EXECOPS_H
#define STRATA_DIALECT_EXEC_IR_EXECOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "strata/Dialect/Exec/IR/ExecDialect.h"

#define GET_OP_CLASSES
#include "strata/Dialect/Exec/IR/ExecOps.h.inc"

namespace strata::exec {

/// The global buffers a state-writing kernel takes first, as the names of the
/// graph op's symbol attributes in kernel-input order (TRAINING-SPEC §1):
/// `accumulate` and `zero` take [target]; `adamw_update` [param, grad, m, v];
/// `sgd_update` [param, grad, momentum_buffer], the last only when momentum is
/// not 0. Empty for every other kernel.
llvm::ArrayRef<llvm::StringRef> getStateSymbolNames(llvm::StringRef kernel);

/// How many of getStateSymbolNames(kernel) may be missing at the end.
unsigned getNumOptionalStateSymbols(llvm::StringRef kernel);

/// Kernels that compute output element i from element i of each input (after
/// broadcasting) and nothing else: binary and unary arithmetic, `gelu`,
/// `unary_grad` and `gelu_grad`. Their runtime implementations read element i
/// of every input before writing element i of the output, so strata-memory-plan
/// may let one write over an input (docs/exec-dialect.md, "In-place
/// kernels").
bool isElementwiseKernel(llvm::StringRef kernel);

/// The group kinds of exec.fused (docs/exec-dialect.md, "exec.fused").
llvm::ArrayRef<llvm::StringRef> getFusedKinds();

/// Whether `type` can be a buffer: a memref with a static shape and the
/// identity layout.
bool isBufferType(mlir::Type type);

/// Bytes a buffer of `type` occupies: elements times the element size,
/// sub-byte elements rounded up to a byte.
uint64_t getBufferBytes(mlir::MemRefType type);

} // namespace strata::exec

#endif // STRATA_DIALECT_EXEC_IR_EXECOPS_H
