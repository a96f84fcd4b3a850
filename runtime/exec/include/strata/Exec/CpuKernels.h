//===- CpuKernels.h - Runs plan kernels on the CPU --------------*- C++ -*-===//
//
// The CPU backend of the executor: maps one plan::Kernel (a graph op name,
// its attributes and its buffers) to the reference kernels of runtime/cpu.
// MLIR-free; shapes come from the buffers, attributes from Kernel.attrs
// (names as in the graph dialect's ODS, enums as their keywords, unit
// attributes as b = true, absent = false).
//
// Buffers are F32, BF16 or I32; the kernels compute in f32 and i32, and a
// kernel with BF16 buffers runs on f32 copies of them (see runCpuKernel).
// Every error a plan or its data can cause (a wrong
// dtype or shape, an index out of range, an unknown kernel) is an llvm::Error
// whose message starts with the kernel's source location, never a crash.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_EXEC_CPUKERNELS_H
#define STRATA_EXEC_CPUKERNELS_H

#include "plan.pb.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace strata::exec {

/// A buffer as a kernel sees it: contiguous row-major data of `shape`.
struct BufferView {
  void *data = nullptr;
  plan::DType dtype = plan::DTYPE_UNSPECIFIED;
  llvm::ArrayRef<int64_t> shape;
};

/// The f32 value of a bf16 number (its bits): exact.
inline float bf16ToFloat(uint16_t bits) {
  uint32_t word = uint32_t(bits) << 16;
  float value;
  std::memcpy(&value, &word, sizeof(value));
  return value;
}

/// The bf16 number nearest to `value`, ties to even (as CUDA's
/// __float2bfloat16_rn); a NaN stays a (quiet) NaN of the same sign.
inline uint16_t floatToBf16(float value) {
  uint32_t word;
  std::memcpy(&word, &value, sizeof(word));
  if ((word & 0x7fffffffu) > 0x7f800000u)
    return uint16_t((word >> 16) | 0x0040u);
  word += 0x7fffu + ((word >> 16) & 1u);
  return uint16_t(word >> 16);
}

/// Runs one plan kernel on the CPU. `inputs`/`outputs` follow
/// Kernel.inputs/outputs. Kernels that update state (accumulate, zero,
/// adamw_update, sgd_update) write their leading inputs in place. An output
/// may alias an input of an elementwise kernel (in-place reuse by the memory
/// planner). `numThreads` bounds the threads a kernel may use. A kernel
/// with BF16 buffers runs on f32 copies of them; its BF16 outputs and the
/// BF16 inputs it updates in place are rounded back to the nearest bf16
/// (ties to even) when it succeeds.
llvm::Error runCpuKernel(const plan::Kernel &kernel,
                         llvm::ArrayRef<BufferView> inputs,
                         llvm::ArrayRef<BufferView> outputs, int numThreads);

/// Whether `kernel.op` names a kernel the CPU backend implements, with
/// `numInputs` inputs and `numOutputs` outputs.
llvm::Error checkCpuKernel(const plan::Kernel &kernel, size_t numInputs,
                           size_t numOutputs);

} // namespace strata::exec

#endif // STRATA_EXEC_CPUKERNELS_H
