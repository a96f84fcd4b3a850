//===- Passes.h - graph -> exec lowering passes -----------------*- C++ -*-===//

#ifndef STRATA_LOWERING_PASSES_H
#define STRATA_LOWERING_PASSES_H

#include "strata/Dialect/Exec/IR/ExecDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace strata::lowering {

#define GEN_PASS_DECL
#include "strata/Lowering/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "strata/Lowering/Passes.h.inc"

} // namespace strata::lowering

#endif // STRATA_LOWERING_PASSES_H
