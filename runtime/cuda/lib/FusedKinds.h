//===- FusedKinds.h - Fused kernels that are one cuBLASLt call --*- C++ -*-===//
//
// Internal to runtime/cuda: the launchers of the fused kinds "matmul_bias"
// (body: matmul, add of a bias over the last dimension) and
// "matmul_bias_gelu" (body: matmul, add, gelu with the tanh approximation) as
// one cuBLASLt matmul with its bias (+ GELU) epilogue (Gemm.h), and of
// "matmul_accumulate" (body: matmul, optionally cast to f32, accumulate into
// a gradient) as one cuBLASLt matmul that adds to the gradient. The executor
// runs the body kernel by kernel instead when a launcher returns an error.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CUDA_LIB_FUSEDKINDS_H
#define STRATA_CUDA_LIB_FUSEDKINDS_H

#include "strata/Cuda/Kernels.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

namespace strata::cuda {

/// Enqueues the fused kernel `fused` (op "fused", attr kind "matmul_bias" or
/// "matmul_bias_gelu") on context.stream as one GEMM. `in`/`out` follow
/// fused.inputs/outputs. The launcher checks the body's pattern itself; it
/// takes y = x·W + b (x [..., K], a rank-2 W [K, N] or, with transpose_b,
/// [N, K], a bias of N elements) with x and W both bf16 (y f32 or bf16) or
/// both f32 (TF32, y f32), a bias of y's dtype, and for "matmul_bias_gelu"
/// gelu(y) with y either local or a group output of gelu's dtype and N a
/// multiple of 8 (cuBLASLt's GELU pre-activation). Anything else is an error
/// that enqueues nothing, so that the caller can run the body instead.
llvm::Error launchMatmulEpilogue(const plan::Kernel &fused,
                                 llvm::ArrayRef<exec::BufferView> in,
                                 llvm::ArrayRef<exec::BufferView> out,
                                 const LaunchContext &context);

/// Enqueues the fused kernel `fused` (op "fused", attr kind
/// "matmul_accumulate") on context.stream as one GEMM with beta = 1:
/// grad += op(A)·op(B), `grad` the group input that the body's accumulate
/// writes in place (f32). The launcher checks the body's pattern itself:
/// matmul of two group inputs, both bf16 or both f32 (TF32), into a local,
/// optionally a cast of it into a local, then accumulate of that into the
/// gradient, which neither operand overlaps; A's and B's batch dimensions
/// are equal (one strided-batched GEMM) or B has rank 2 and A is not
/// transposed (A's leading dimensions fold into rows); the gradient has the
/// product's shape. The product is added in f32: the body of a bf16 plan
/// rounds it to bf16 first, so the two differ by that rounding. Anything
/// else is an error that enqueues nothing, so that the caller can run the
/// body instead.
llvm::Error launchMatmulAccumulate(const plan::Kernel &fused,
                                   llvm::ArrayRef<exec::BufferView> in,
                                   llvm::ArrayRef<exec::BufferView> out,
                                   const LaunchContext &context);

} // namespace strata::cuda

#endif // STRATA_CUDA_LIB_FUSEDKINDS_H
