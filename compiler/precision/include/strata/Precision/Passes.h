//===- Passes.h - strata-autocast -------------------------------*- C++ -*-===//
//
// Mixed precision as a graph pass: bf16 matmuls and attention, f32 norms,
// softmaxes, reductions and residual stream (Passes.td has the description,
// docs/passes.md the rules).
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_PRECISION_PASSES_H
#define STRATA_PRECISION_PASSES_H

#include "mlir/Pass/Pass.h"

#include <memory>

namespace strata::precision {

#define GEN_PASS_DECL
#include "strata/Precision/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "strata/Precision/Passes.h.inc"

} // namespace strata::precision

#endif // STRATA_PRECISION_PASSES_H
