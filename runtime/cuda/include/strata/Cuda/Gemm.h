//===- Gemm.h - Matrix products through cuBLASLt ----------------*- C++ -*-===//
//
// The training step's matrix products: C[M,N] = op(A)·op(B) with bf16 A and B
// (f32 accumulation, a bf16 or f32 C) or f32 A and B (TF32 tensor cores, f32
// accumulation and C), through cuBLASLt, with its fused
// epilogues where they fit (bias, bias + GELU saving the pre-activation, the
// GELU and bias gradients). Shapes and layouts are the CPU reference's
// (cpu::MatmulShape): row-major, A stored [M,K] ([K,M] when transA), B stored
// [K,N] ([N,K] when transB), C [M,N], `batch` consecutive matrices of each
// operand. The reference is cpu::matmulForward (+ bias, cpu::geluForward /
// cpu::geluBackward with the tanh approximation).
//
// cuBLASLt is column-major. A row-major [R,C] matrix is, in the same memory,
// the column-major [C,R] matrix: its transpose. So the row-major product
// C = op(A)·op(B) is computed as the column-major product
// Cᵀ = op(B)ᵀ·op(A)ᵀ: cuBLASLt's A is our B, its B is our A, its (m, n) are our
// (N, M), and each operand keeps its own transpose flag. Under that swap
// cuBLASLt's "rows of D" are our columns N, so its per-row bias and bias
// gradient are our per-column ones, and its BGRADA/BGRADB exchange names
// (GemmEpilogue::BiasGradB is cuBLASLt's BGRADA).
//
// Every pointer is a device pointer. A GemmHandle only enqueues work on the
// stream of each call; it is not thread-safe, and its one workspace is shared
// by its calls, so calls on different streams must not overlap in time (use
// one handle per concurrent stream).
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CUDA_GEMM_H
#define STRATA_CUDA_GEMM_H

#include "strata/Cpu/Kernels.h"

#include <cstddef>
#include <cstdint>
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>
#include <map>
#include <memory>
#include <string>
#include <tuple>

namespace strata::cuda {

using cpu::MatmulShape;

/// The element type of C (and of the bias, the GELU pre-activation and the
/// bias gradient, which cuBLASLt keeps in C's type).
enum class GemmOutputType { BF16, F32 };

/// The element type of A and B. F32 operands are multiplied on the tensor
/// cores in TF32 (CUBLAS_COMPUTE_32F_FAST_TF32: 10-bit mantissas, f32
/// accumulation; about 1e-3 relative error) and need an F32 C.
enum class GemmInputType { BF16, F32 };

/// What happens to P = op(A)·op(B) (scaled by alpha) before it is stored. The
/// bias and bias-gradient vectors are contiguous, in C's type; `aux` is the
/// GELU pre-activation, [batch][M][gemmAuxLeadingDim(N)] in C's type (its
/// padding columns are not written).
enum class GemmEpilogue {
  None,
  /// C = P + bias[N] (broadcast over rows and batches).
  Bias,
  /// aux = P + bias[N]; C = gelu_tanh(aux). The forward of
  /// gelu(x·W + b) that keeps what the backward needs.
  BiasGelu,
  /// C = gelu_tanh(P + bias[N]), the pre-activation not kept.
  BiasGeluNoAux,
  /// C = P * gelu_tanh'(aux), aux read: the backward through the GELU.
  DGelu,
  /// DGelu, and also biasGrad[N] = Σ_m C[m, n]. batch == 1 only.
  DGeluBiasGrad,
  /// C = P, and biasGrad[M] = Σ_k op(A)[m, k] (cuBLASLt's BGRADB). For the
  /// weight gradient dW = dyᵀ·x of a [out, in] weight: A = dy, transA.
  /// batch == 1 only.
  BiasGradA,
  /// C = P, and biasGrad[N] = Σ_k op(B)[k, n] (cuBLASLt's BGRADA). For the
  /// weight gradient dW = xᵀ·dy of an [in, out] weight: B = dy. batch == 1.
  BiasGradB,
};

/// What a call computes; also the key of the handle's plan cache.
struct GemmConfig {
  MatmulShape shape;
  GemmOutputType outputType = GemmOutputType::BF16;
  GemmEpilogue epilogue = GemmEpilogue::None;
  /// C = P + C (beta = 1) instead of C = P: gradient accumulation. The bias
  /// gradient of the bias-gradient epilogues is overwritten, not accumulated.
  bool accumulate = false;
  GemmInputType inputType = GemmInputType::BF16;
};

/// The buffers of one call. Which of bias, aux and biasGrad are used depends
/// on the epilogue; the others are ignored. `a` and `b` hold
/// GemmConfig::inputType elements.
struct GemmArgs {
  void *c = nullptr;
  const void *a = nullptr;
  const void *b = nullptr;
  const void *bias = nullptr;
  void *aux = nullptr;
  void *biasGrad = nullptr;
  float alpha = 1.0f;
};

/// Success, or what went wrong with cuBLASLt's (or the CUDA runtime's) status
/// and message.
struct GemmStatus {
  cublasStatus_t code = CUBLAS_STATUS_SUCCESS;
  std::string message;

  bool ok() const { return code == CUBLAS_STATUS_SUCCESS; }
};

/// Leading dimension (in elements) of the GELU pre-activation buffer for a
/// product with N columns: cuBLASLt wants it divisible by 8.
int64_t gemmAuxLeadingDim(int64_t n);

/// A cuBLASLt handle, its workspace, and one plan per distinct GemmConfig
/// (and operand alignment): descriptors and the heuristic's algorithm are
/// made on the first call of a shape and reused after.
class GemmHandle {
public:
  /// 32 MiB is what cuBLAS recommends on Hopper.
  static constexpr size_t kDefaultWorkspaceBytes = size_t(32) << 20;

  /// Creates the cuBLASLt handle and allocates the workspace on the current
  /// device.
  static GemmStatus create(std::unique_ptr<GemmHandle> &handle,
                           size_t workspaceBytes = kDefaultWorkspaceBytes);
  ~GemmHandle();
  GemmHandle(const GemmHandle &) = delete;
  GemmHandle &operator=(const GemmHandle &) = delete;

  /// Enqueues C = epilogue(alpha · op(A)·op(B) [+ C]) on `stream`. Invalid
  /// configurations are rejected before anything is enqueued, with
  /// CUBLAS_STATUS_INVALID_VALUE; combinations cuBLASLt has no kernel for
  /// come back as CUBLAS_STATUS_NOT_SUPPORTED.
  GemmStatus matmul(const GemmConfig &config, const GemmArgs &args,
                    cudaStream_t stream);

  /// Plans made so far (one heuristic query each).
  size_t numPlans() const { return plans.size(); }

private:
  struct Plan;
  /// Config fields, then the alignments of a, b, c, bias/biasGrad and aux.
  using PlanKey = std::tuple<int64_t, int64_t, int64_t, int64_t, bool, bool,
                             int, int, int, bool, int, int, int, int, int>;

  GemmHandle() = default;
  GemmStatus makePlan(const GemmConfig &config, const GemmArgs &args,
                      Plan &plan);

  cublasLtHandle_t lt = nullptr;
  void *workspace = nullptr;
  size_t workspaceBytes = 0;
  std::map<PlanKey, std::unique_ptr<Plan>> plans;
};

} // namespace strata::cuda

#endif // STRATA_CUDA_GEMM_H
