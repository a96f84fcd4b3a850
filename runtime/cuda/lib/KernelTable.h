//===- KernelTable.h - The CUDA backend's kernel table ----------*- C++ -*-===//
//
// Internal to runtime/cuda. Host side of the plan kernels: each entry parses
// and checks one kernel's attributes and buffers through exec's KernelCall
// (the same checks, messages and locations as the CPU dispatch) and then
// calls a launcher of a .cu file. The .cu files hold device code and plain
// launchers only (no LLVM headers: nvcc compiles them with g++ as host
// compiler); the .cpp files (built by the project's C++ compiler) hold the
// checks. KernelDispatch.cpp looks ops up in the union of the tables.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CUDA_LIB_KERNELTABLE_H
#define STRATA_CUDA_LIB_KERNELTABLE_H

#include "CpuKernelsSupport.h"
#include "strata/Cuda/Kernels.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

namespace strata::cuda::detail {

using exec::detail::KernelCall;

inline constexpr int kVariadicInputs = -1;

struct CudaKernelEntry {
  const char *op;
  int minInputs;
  int maxInputs; // kVariadicInputs: any number >= minInputs
  int numOutputs;
  llvm::Error (*launch)(const KernelCall &call, const LaunchContext &context);
  /// Device scratch the launch needs; null when none.
  llvm::Expected<size_t> (*workspace)(const KernelCall &call);
};

/// KernelsForward.cpp: the forward graph ops (elementwise, matmul, layout,
/// normalizations, attention, cross_entropy, ...).
llvm::ArrayRef<CudaKernelEntry> forwardKernels();
/// KernelsTraining.cpp: gradient ops, moe/topk and the optimizer ops.
llvm::ArrayRef<CudaKernelEntry> trainingKernels();

/// Device dtype codes the .cu launchers take (DeviceUtil.cuh).
enum DeviceDType : int { kF32 = 0, kBF16 = 1, kI32 = 2 };

/// The device dtype of a plan dtype; -1 for one the backend has no kernels
/// for.
inline int deviceDType(plan::DType dtype) {
  switch (dtype) {
  case plan::F32:
    return kF32;
  case plan::BF16:
    return kBF16;
  case plan::I32:
    return kI32;
  default:
    return -1;
  }
}

/// Input (`isInput`) or output `i` of `call` must be F32 or BF16.
llvm::Error expectFloatBuffer(const KernelCall &call, bool isInput, unsigned i);

/// Turns a failed launch (cudaGetLastError() after it) into a located error.
llvm::Error launchStatus(const KernelCall &call, cudaError_t status);

} // namespace strata::cuda::detail

#endif // STRATA_CUDA_LIB_KERNELTABLE_H
