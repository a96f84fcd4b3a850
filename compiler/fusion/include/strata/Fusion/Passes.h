//===- Passes.h - strata-fuse -----------------------------------*- C++ -*-===//
//
// The kernel-fusion pass on the exec dialect (Passes.td has the description,
// docs/passes.md the details).
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_FUSION_PASSES_H
#define STRATA_FUSION_PASSES_H

#include "strata/Dialect/Exec/IR/ExecDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace strata::fusion {

#define GEN_PASS_DECL
#include "strata/Fusion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "strata/Fusion/Passes.h.inc"

} // namespace strata::fusion

#endif // STRATA_FUSION_PASSES_H
