//===- FusedTraining.h - The training groups as single launches -*- C++ -*-===//
//
// Internal to runtime/cuda: how the CUDA backend runs the fused kernels of
// kinds "adamw" and "cross_entropy" (plan.proto's Kernel.body) as one launch
// each, instead of body kernel by body kernel:
//
//   - "adamw": a body of adamw_update kernels becomes one multi-tensor AdamW
//     launch (a few when the body has more tensors than one kernel parameter
//     table holds). Same bits as the body run kernel by kernel.
//   - "cross_entropy": cross_entropy then cross_entropy_grad on the same
//     logits and targets read the logits once for the loss and dlogits.
//
// Each launcher checks the body itself (every body kernel with the checks
// and messages of its own CUDA kernel, the pattern, every body buffer being
// an input or output of the group) and returns an llvm::Error without
// enqueueing anything when the group does not fit; the executor then runs
// the body kernel by kernel. Both are capturable into a CUDA graph like any
// plan kernel.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CUDA_LIB_FUSEDTRAINING_H
#define STRATA_CUDA_LIB_FUSEDTRAINING_H

#include "strata/Cuda/Kernels.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstddef>

namespace strata::cuda {

/// Runs a fused "adamw" kernel as multi-tensor AdamW launches. Needs no
/// workspace. All body kernels must share the lr, gradient scale and step
/// buffers and beta1/beta2/epsilon (weight_decay may differ).
llvm::Error launchAdamwGroup(const plan::Kernel &fused,
                             llvm::ArrayRef<exec::BufferView> in,
                             llvm::ArrayRef<exec::BufferView> out,
                             const LaunchContext &context);

/// Device scratch (bytes) launchCrossEntropyGroup needs in
/// LaunchContext::workspace: the per-row losses, summed in a fixed order.
/// Errors as launchCrossEntropyGroup's.
llvm::Expected<size_t>
crossEntropyGroupWorkspace(const plan::Kernel &fused,
                           llvm::ArrayRef<exec::BufferView> in,
                           llvm::ArrayRef<exec::BufferView> out);

/// Runs a fused "cross_entropy" kernel (body: cross_entropy, then
/// cross_entropy_grad of the same logits and targets; the loss and dlogits
/// outputs of the group) as one pass over the logits. dlogits may share the
/// logits' storage (the same address and dtype: each row of logits is read
/// in full before any of its dlogits is written), so that a memory plan may
/// give both one buffer; any other overlap is not allowed.
llvm::Error launchCrossEntropyGroup(const plan::Kernel &fused,
                                    llvm::ArrayRef<exec::BufferView> in,
                                    llvm::ArrayRef<exec::BufferView> out,
                                    const LaunchContext &context);

} // namespace strata::cuda

#endif // STRATA_CUDA_LIB_FUSEDTRAINING_H
