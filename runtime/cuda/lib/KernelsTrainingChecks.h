//===- KernelsTrainingChecks.h - Checks the groups share --------*- C++ -*-===//
//
// Internal to runtime/cuda's host side: the checks of KernelsTraining.cpp
// that FusedTraining.cpp runs on the kernels of a group's body, turning a
// plan kernel into the parameters of a KernelsTraining.h launcher.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CUDA_LIB_KERNELSTRAININGCHECKS_H
#define STRATA_CUDA_LIB_KERNELSTRAININGCHECKS_H

#include "KernelTable.h"
#include "KernelsTraining.h"

namespace strata::cuda::training {

/// An adamw_update kernel's tensor and shared operands.
llvm::Error parseAdamwUpdate(const detail::KernelCall &call,
                             AdamwTensor &tensor, AdamwShared &shared);

/// The operands of cross_entropy (`withGrad` false: logits, targets
/// -> loss) or cross_entropy_grad (logits, targets, dloss -> dlogits).
struct CrossEntropyOperands {
  TypedBuffer logits, dloss, out;
  const int32_t *targets = nullptr;
  int64_t rows = 0, vocab = 0;
};
llvm::Error parseCrossEntropy(const detail::KernelCall &call, bool withGrad,
                              CrossEntropyOperands &operands);

/// The launcher's view of input/output `i` of `call`.
TypedBuffer inputBuffer(const detail::KernelCall &call, unsigned i);
TypedBuffer outputBuffer(const detail::KernelCall &call, unsigned i);
Stream streamOf(const LaunchContext &context);

} // namespace strata::cuda::training

#endif // STRATA_CUDA_LIB_KERNELSTRAININGCHECKS_H
