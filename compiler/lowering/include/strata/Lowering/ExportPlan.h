//===- ExportPlan.h - exec IR -> training plan ------------------*- C++ -*-===//
//
// Builds the strata::plan::Plan (runtime/plan/plan.proto) of a module that
// went through strata-lower-to-exec and strata-memory-plan: one buffer per
// global, input and temporary, one program per step function.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_LOWERING_EXPORTPLAN_H
#define STRATA_LOWERING_EXPORTPLAN_H

#include "plan.pb.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

namespace strata::lowering {

/// Alignment of PARAM/STATE offsets in the persistent region and of INPUT
/// offsets in the input region.
inline constexpr uint64_t kRegionAlignment = 64;

/// Exports `module` (exec dialect, memory planned) as a plan. A module with
/// `exec.step` functions becomes a training plan (programs `grad` and
/// `apply`, optimizer from `exec.training`); otherwise its `exec.model`
/// function becomes the `forward` program. Errors name the location of the
/// op at fault.
llvm::Expected<strata::plan::Plan> exportPlan(mlir::ModuleOp module);

} // namespace strata::lowering

#endif // STRATA_LOWERING_EXPORTPLAN_H
