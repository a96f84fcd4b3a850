//===- Passes.h - strata-autodiff -------------------------------*- C++ -*-===//
//
// The training-step pass: reverse-mode gradients of a model's loss and the
// optimizer update (Passes.td has the description, docs/passes.md the
// details).
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_AUTODIFF_PASSES_H
#define STRATA_AUTODIFF_PASSES_H

#include "mlir/Pass/Pass.h"

#include <memory>

namespace strata::autodiff {

#define GEN_PASS_DECL
#include "strata/Autodiff/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "strata/Autodiff/Passes.h.inc"

} // namespace strata::autodiff

#endif // STRATA_AUTODIFF_PASSES_H
