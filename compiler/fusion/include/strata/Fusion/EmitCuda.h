//===- EmitCuda.h - CUDA C++ of the elementwise groups ----------*- C++ -*-===//
//
// Turns every exec.fused "elementwise" group of a module into an
// `extern "C" __global__` function (docs/passes.md, "CUDA emission"):
//
//   extern "C" __global__ void NAME(const T0 *in0, ..., T *out0, ...,
//                                   long long n)
//
// with the group's inputs, then its outputs, each typed by its element type
// (`float`, `__nv_bfloat16`); a grid-stride loop over [0, n) that loads each
// input at element i (broadcast index math baked in as constants), computes
// in f32, rounds bf16 intermediates as the kernel-by-kernel run would, and
// rounds each output to its type on store.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_FUSION_EMITCUDA_H
#define STRATA_FUSION_EMITCUDA_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <string>

namespace strata::fusion {

/// The emitted source of a module's elementwise groups.
struct CudaSource {
  /// One translation unit: a preamble of device helpers, then the functions.
  std::string source;
  /// Distinct functions: groups that differ only in their locations share
  /// one.
  unsigned numFunctions = 0;
  /// Elementwise groups, each of which now names its function.
  unsigned numGroups = 0;
};

/// Emits the functions of every elementwise group of `module` and sets each
/// group's `function` attribute. Fails, with a diagnostic at the kernel, on a
/// kernel it cannot emit.
mlir::FailureOr<CudaSource> emitCudaKernels(mlir::ModuleOp module);

} // namespace strata::fusion

#endif // STRATA_FUSION_EMITCUDA_H
