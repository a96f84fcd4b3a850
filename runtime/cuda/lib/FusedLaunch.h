//===- FusedLaunch.h - One-kernel forms of fused groups ---------*- C++ -*-===//
//
// Internal to runtime/cuda. The fused kinds other than "elementwise" (whose
// kernels the compiler emits) run as one hand-written launch or cuBLASLt
// call: "matmul_bias", "matmul_bias_gelu" (cuBLASLt epilogues),
// "matmul_accumulate" (a GEMM adding to the gradient), "adamw" (multi-tensor
// update), "cross_entropy" (loss and gradient in one pass). A
// kind without such a form, or a body that does not match its form, is an
// error here; the device then runs the body kernel by kernel.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CUDA_LIB_FUSEDLAUNCH_H
#define STRATA_CUDA_LIB_FUSEDLAUNCH_H

#include "strata/Cuda/Kernels.h"

namespace strata::cuda {

llvm::Error launchFusedKind(llvm::StringRef kind, const plan::Kernel &fused,
                            llvm::ArrayRef<exec::BufferView> inputs,
                            llvm::ArrayRef<exec::BufferView> outputs,
                            const LaunchContext &context);

/// Device scratch the one-kernel form of `fused` needs (0 when it needs none
/// or the group has no such form).
size_t fusedKindWorkspace(llvm::StringRef kind, const plan::Kernel &fused,
                          llvm::ArrayRef<exec::BufferView> inputs,
                          llvm::ArrayRef<exec::BufferView> outputs);

} // namespace strata::cuda

#endif // STRATA_CUDA_LIB_FUSEDLAUNCH_H
