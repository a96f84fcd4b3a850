//===- ExportPlan.h - exec IR -> training plan ------------------*- C++ -*-===//
//
// Builds the strata::plan::Plan (runtime/plan/plan.proto) of a module that
// went through strata-lower-to-exec (and strata-fuse) and strata-memory-plan:
// one buffer per global, input, temporary and fused-kernel local, one program
// per step function.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_LOWERING_EXPORTPLAN_H
#define STRATA_LOWERING_EXPORTPLAN_H

#include "plan.pb.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>

namespace strata::lowering {

/// Alignment of PARAM/STATE offsets in the persistent region and of INPUT
/// offsets in the input region.
inline constexpr uint64_t kRegionAlignment = 64;

/// "file:line:col" of the model source `loc` points into: the innermost file
/// location (code inside a def points at the def's line; a fused location at
/// its first), or "" when there is none.
std::string formatSourceLocation(mlir::Location loc);

/// The keyword of a string or graph enum attribute as the plan spells it
/// ("tanh" for `#graph.gelu_approx<tanh>`), or nullopt for any other
/// attribute.
std::optional<std::string> getAttrKeyword(mlir::Attribute attr);

/// Exports `module` (exec dialect, memory planned) as a plan. A module with
/// `exec.step` functions becomes a training plan (programs `grad` and
/// `apply`, optimizer from `exec.training`); otherwise its `exec.model`
/// function becomes the `forward` program. An exec.fused becomes a kernel
/// "fused" with its body and LOCAL buffers (an elementwise group needs the
/// `function` the CUDA emitter names). `cuda`, when given, becomes
/// Plan.cuda. Errors name the location of the op at fault.
llvm::Expected<strata::plan::Plan>
exportPlan(mlir::ModuleOp module,
           const strata::plan::DeviceCode *cuda = nullptr);

} // namespace strata::lowering

#endif // STRATA_LOWERING_EXPORTPLAN_H
