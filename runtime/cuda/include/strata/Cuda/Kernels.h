//===- Kernels.h - Runs plan kernels on the GPU -----------------*- C++ -*-===//
//
// The CUDA backend's counterpart of exec::runCpuKernel: maps one plan::Kernel
// (a graph op, its attributes, its buffers) to a launch on a stream. Buffers
// are device pointers (exec::BufferView.data) of dtype F32, BF16 or I32; a
// kernel reads bf16 or f32 inputs and computes in f32, and rounds to its
// output's dtype on the store, so that one kernel serves f32 and bf16 plans.
// The CPU reference (exec::runCpuKernel) defines every kernel's meaning.
//
// Every launch is capturable into a CUDA graph: it only enqueues work on
// `LaunchContext::stream` (no synchronization, no allocation, no reads of
// device memory on the host). A plan error (a wrong shape, dtype or
// attribute) is an llvm::Error located like the CPU's, before anything is
// enqueued. A data error only the device can see (an index out of range) is
// written to LaunchContext::errors by the first kernel that finds it; the
// executor reads the record after the step and reports it.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CUDA_KERNELS_H
#define STRATA_CUDA_KERNELS_H

#include "strata/Cuda/DeviceError.h"
#include "strata/Exec/CpuKernels.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstddef>
#include <cstdint>
#include <cuda_runtime_api.h>

namespace strata::cuda {

class GemmHandle;
class FusedModule;

struct LaunchContext {
  cudaStream_t stream = nullptr;
  /// The cuBLASLt handle for matmuls; its workspace belongs to `stream`.
  GemmHandle *gemm = nullptr;
  /// Device scratch of cudaKernelWorkspace(kernel) bytes (16-byte aligned),
  /// private to this launch until the next one on the stream.
  void *workspace = nullptr;
  size_t workspaceBytes = 0;
  /// Device memory; see DeviceErrorRecord.
  DeviceErrorRecord *errors = nullptr;
  int32_t kernelIndex = 0;
  /// The plan's emitted kernels (fused "elementwise" groups); null when the
  /// plan has none.
  const FusedModule *module = nullptr;
};

/// Whether the CUDA backend implements `kernel.op` with `numInputs` inputs
/// and `numOutputs` outputs (the same counts as checkCpuKernel).
llvm::Error checkCudaKernel(const plan::Kernel &kernel, size_t numInputs,
                            size_t numOutputs);

/// Device scratch (bytes) the launch of `kernel` on these buffers needs; 0
/// for most kernels. Errors as launchCudaKernel's plan errors.
llvm::Expected<size_t>
cudaKernelWorkspace(const plan::Kernel &kernel,
                    llvm::ArrayRef<exec::BufferView> inputs,
                    llvm::ArrayRef<exec::BufferView> outputs);

/// Enqueues `kernel` on context.stream. `inputs`/`outputs` follow
/// Kernel.inputs/outputs with device pointers; in-place kernels (accumulate,
/// zero, adamw_update, sgd_update) write their leading inputs, and an output
/// may alias an input of an elementwise kernel, as on the CPU. Fused kernels
/// are not handled here (the executor runs them).
llvm::Error launchCudaKernel(const plan::Kernel &kernel,
                             llvm::ArrayRef<exec::BufferView> inputs,
                             llvm::ArrayRef<exec::BufferView> outputs,
                             const LaunchContext &context);

} // namespace strata::cuda

#endif // STRATA_CUDA_KERNELS_H
