//===- KernelsTraining.h - Launchers of the training kernels ----*- C++ -*-===//
//
// Internal to runtime/cuda: the plain launchers of the gradient, MoE/topk and
// optimizer kernels (KernelsTraining*.cu), called by the host-side checks in
// KernelsTraining.cpp and FusedTraining.cpp. Plain C++ (no LLVM, no device
// code) so that both nvcc and the project's compiler read it.
//
// Every launcher only enqueues work on `Stream::stream` and returns
// cudaGetLastError() (or the first failing CUDA call). Shapes are already
// checked; a float buffer is F32 or BF16 (its DeviceDType travels with it),
// computation is in f32 (f64 where the CPU reference accumulates in double
// and it costs nothing that matters). Scratch memory is the caller's
// `workspace` of the size the matching *Workspace function returns.
//
// Determinism: every kernel gives the same bits run to run except
// gather_grad (f32 atomics: rows that share an index sum in varying order)
// and attention_grad on the flash path (its dq accumulates with f32
// atomics); both stay within f32 rounding of each other.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CUDA_LIB_KERNELSTRAINING_H
#define STRATA_CUDA_LIB_KERNELSTRAINING_H

#include "strata/Cpu/Kernels.h"
#include "strata/Cuda/DeviceError.h"

#include <cstddef>
#include <cstdint>
#include <cuda_runtime_api.h>

namespace strata::cuda::training {

/// A device buffer and its DeviceDType (KernelTable.h).
struct TypedBuffer {
  void *data = nullptr;
  int dtype = 0;
};

/// Where a launch goes and where it reports data errors.
struct Stream {
  cudaStream_t stream = nullptr;
  DeviceErrorRecord *errors = nullptr;
  int32_t kernelIndex = 0;
};

/// The largest tensor rank of the shape-generic kernels (binary_grad,
/// reduce_grad).
inline constexpr int kMaxRank = 8;

/// Maps a flat index over `dims` (row-major) to two offsets, Σ c[d] *
/// first[d] and Σ c[d] * second[d], with c the index's coordinates: how a
/// gradient kernel finds the elements of two operands that one iteration
/// touches.
struct IndexMap {
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t first[kMaxRank] = {};
  int64_t second[kMaxRank] = {};
};

/// Bytes of an aligned sub-buffer of a workspace: rounds up to 16.
inline size_t alignedBytes(size_t bytes) { return (bytes + 15) / 16 * 16; }

//===----------------------------------------------------------------------===//
// Gradients (KernelsTrainingGrad.cu, cross entropy in KernelsTrainingLoss.cu)
//===----------------------------------------------------------------------===//

/// The gradient of one operand ("target") of a broadcasting binary op: for
/// each element j of the target (`count` of them) the sum over `reduced` of
/// dout * ∂out/∂target. `kept` maps j to (offset in dout, offset in the other
/// operand); `reduced` maps the index over the broadcast dimensions the same
/// way. `targetIsA` says which partial derivative (cpu::BinaryKind order).
struct BinaryGradSide {
  TypedBuffer grad;
  int64_t count = 0;
  IndexMap kept, reduced;
  int64_t reducedCount = 1;
  bool targetIsA = true;
};

/// Splits of a binary_grad side's reduction (partial sums in the workspace);
/// 1 when the side needs no workspace.
int binaryGradSplits(const BinaryGradSide &side);
size_t binaryGradWorkspace(const BinaryGradSide &side);
cudaError_t launchBinaryGradSide(int kind, TypedBuffer a, TypedBuffer b,
                                 TypedBuffer dout, const BinaryGradSide &side,
                                 void *workspace, const Stream &s);

/// unary_grad of `kind` (cpu::UnaryKind; -1 for silu).
cudaError_t launchUnaryGrad(int kind, TypedBuffer x, TypedBuffer y,
                            TypedBuffer dy, TypedBuffer dx, int64_t n,
                            const Stream &s);
/// gelu_grad; `tanhApprox` selects the tanh approximation.
cudaError_t launchGeluGrad(TypedBuffer x, TypedBuffer dy, TypedBuffer dx,
                           int64_t n, bool tanhApprox, const Stream &s);

/// reduce_grad of sum or mean: dx[i] = dy[map(i)] * scale, with `map` over
/// x's dims (`first`: the reduced output's offset).
cudaError_t launchReduceGradSum(TypedBuffer dy, TypedBuffer dx,
                                const IndexMap &map, int64_t n, double scale,
                                const Stream &s);
/// reduce_grad of max or min: for each of the `keptCount` outputs o, the
/// first x element (row-major) of its group equal to y[o] gets dy[o], the
/// others 0. `kept` maps o to (x offset, -), `reduced` the index within the
/// group to (x offset, -).
cudaError_t launchReduceGradSelect(TypedBuffer x, TypedBuffer y, TypedBuffer dy,
                                   TypedBuffer dx, const IndexMap &kept,
                                   const IndexMap &reduced, int64_t keptCount,
                                   int64_t reducedCount, const Stream &s);

/// softmax_grad or log_softmax_grad (`log`) along an axis of length `cols`:
/// rows are (outer, inner) pairs, elements of a row `inner` apart.
cudaError_t launchSoftmaxGrad(TypedBuffer y, TypedBuffer dy, TypedBuffer dx,
                              int64_t outer, int64_t cols, int64_t inner,
                              bool log, const Stream &s);

/// layer_norm_grad (db set) or rms_norm_grad (db.data null) over [rows, dim]:
/// row statistics are recomputed; dw and db are summed over row chunks into
/// the workspace and then over the chunks, in a fixed order. Rows of up to
/// 1024 elements in whole 16-byte vectors (dim % 4 == 0, x, dy and dx
/// aligned), or of up to 256 elements, take a one-read path that computes in
/// f32; other rows a slower general one in f64. Both give the same bits run
/// to run.
size_t normGradWorkspace(int64_t rows, int64_t dim);
cudaError_t launchNormGrad(TypedBuffer x, TypedBuffer w, TypedBuffer dy,
                           TypedBuffer dx, TypedBuffer dw, TypedBuffer db,
                           int64_t rows, int64_t dim, float epsilon,
                           void *workspace, const Stream &s);

/// rope_grad: the inverse rotation of dy [B, H, T, Dh].
cudaError_t launchRopeGrad(TypedBuffer dy, TypedBuffer dx, int64_t batch,
                           int64_t heads, int64_t seqLen, int64_t headDim,
                           float theta, const Stream &s);

/// slice_grad: dx [outer, len, inner] is dy [outer, end - start, inner] at
/// [start, end) of the middle dimension and zero elsewhere.
cudaError_t launchSliceGrad(TypedBuffer dy, TypedBuffer dx, int64_t outer,
                            int64_t len, int64_t inner, int64_t start,
                            int64_t end, const Stream &s);

/// gather_grad: dtable [numRows, rowSize] = Σ over i with indices[i] = row of
/// dout[i]. f32 atomics; a bf16 table is accumulated in the workspace.
size_t gatherGradWorkspace(TypedBuffer dtable, int64_t numRows,
                           int64_t rowSize);
cudaError_t launchGatherGrad(TypedBuffer dout, const int32_t *indices,
                             TypedBuffer dtable, int64_t n, int64_t rowSize,
                             int64_t numRows, void *workspace, const Stream &s);

/// cross_entropy_grad, and with `loss.data` set also cross_entropy's mean
/// loss from the same pass over the logits (the fused "cross_entropy"
/// group). The per-row losses go to the workspace (crossEntropyWorkspace
/// bytes, only needed with a loss) and are summed in a fixed order.
/// (KernelsTrainingLoss.cu.)
///
/// dlogits may be the logits' own buffer (dlogits.data == logits.data) when
/// both have the same dtype: every row is read in full before any of it is
/// written. Buffers that overlap otherwise (another offset or element size)
/// are not allowed.
///
/// A row of up to ~227 KB is copied to shared memory so that the logits are
/// read once; that needs a larger dynamic shared memory limit, which the
/// launcher sets on its first launch outside a CUDA graph capture (a launch
/// under capture before any eager one reads the row twice instead, to the
/// same bits).
size_t crossEntropyWorkspace(int64_t rows);
cudaError_t launchCrossEntropy(TypedBuffer logits, const int32_t *targets,
                               TypedBuffer dloss, TypedBuffer dlogits,
                               TypedBuffer loss, int64_t rows, int64_t vocab,
                               void *workspace, const Stream &s);

//===----------------------------------------------------------------------===//
// attention_grad (KernelsTrainingAttention.cu)
//===----------------------------------------------------------------------===//

/// Flash attention (bf16, D 64/128) when the shape allows it, with f32
/// operands converted to bf16 in the workspace; otherwise a simple f32 kernel.
size_t attentionGradWorkspace(const cpu::AttentionShape &shape, TypedBuffer q,
                              TypedBuffer k, TypedBuffer v, TypedBuffer dout,
                              TypedBuffer dq, TypedBuffer dk, TypedBuffer dv);
cudaError_t launchAttentionGrad(TypedBuffer q, TypedBuffer k, TypedBuffer v,
                                TypedBuffer dout, TypedBuffer dq,
                                TypedBuffer dk, TypedBuffer dv,
                                const cpu::AttentionShape &shape,
                                void *workspace, const Stream &s);

//===----------------------------------------------------------------------===//
// MoE routing and top-k (KernelsTrainingMoe.cu)
//===----------------------------------------------------------------------===//

/// The routing every MoE kernel replays (cpu::moeAssignSlots): `tokens` x
/// `k` expert ids, `experts` experts of `capacity` slots.
struct MoeRouting {
  const int32_t *indices = nullptr;
  int64_t tokens = 0, k = 0, experts = 0, capacity = 0;
};

/// The slot table (int32 per assignment) every MoE kernel needs.
size_t moeWorkspace(const MoeRouting &routing);
cudaError_t launchMoeDispatch(TypedBuffer x, TypedBuffer out,
                              const MoeRouting &routing, int64_t dim,
                              void *workspace, const Stream &s);
cudaError_t launchMoeCombine(TypedBuffer y, TypedBuffer weights,
                             TypedBuffer out, const MoeRouting &routing,
                             int64_t dim, void *workspace, const Stream &s);
cudaError_t launchMoeDispatchGrad(TypedBuffer dout, TypedBuffer dx,
                                  const MoeRouting &routing, int64_t dim,
                                  void *workspace, const Stream &s);
cudaError_t launchMoeCombineGrad(TypedBuffer y, TypedBuffer weights,
                                 TypedBuffer dout, TypedBuffer dy,
                                 TypedBuffer dweights,
                                 const MoeRouting &routing, int64_t dim,
                                 void *workspace, const Stream &s);

/// topk over rows of `cols`: values descending, ties by lower index.
cudaError_t launchTopk(TypedBuffer x, TypedBuffer values, int32_t *indices,
                       int64_t rows, int64_t cols, int64_t k, const Stream &s);
/// topk_grad: dx[r, c] = Σ_j [indices[r, j] = c] dvalues[r, j].
cudaError_t launchTopkGrad(TypedBuffer dvalues, const int32_t *indices,
                           TypedBuffer dx, int64_t rows, int64_t cols,
                           int64_t k, const Stream &s);

//===----------------------------------------------------------------------===//
// State and optimizer kernels (KernelsTrainingOptim.cu)
//===----------------------------------------------------------------------===//

/// target += value over n elements (target is written in place).
cudaError_t launchAccumulate(TypedBuffer target, TypedBuffer value, int64_t n,
                             const Stream &s);

/// One operand of global_norm.
struct NormTensor {
  TypedBuffer data;
  int64_t count = 0;
};
/// global_norm: sqrt(Σ x²) over every element of every tensor, partial sums
/// (f64) per block in the workspace, summed in a fixed order.
size_t globalNormWorkspace(const NormTensor *tensors, int numTensors);
cudaError_t launchGlobalNorm(const NormTensor *tensors, int numTensors,
                             TypedBuffer out, void *workspace, const Stream &s);

/// lr_schedule (cpu::learningRate) of the step the device buffer holds.
cudaError_t launchLrSchedule(const int32_t *step, TypedBuffer lr,
                             const cpu::LrSchedule &schedule, const Stream &s);

/// One tensor of a (multi-tensor) AdamW step.
struct AdamwTensor {
  TypedBuffer param, grad, m, v;
  int64_t count = 0;
  float weightDecay = 0.f;
};
/// What the tensors of one AdamW launch share: the hyperparameters and the
/// device scalars lr, gradScale (f32 or bf16, one element) and step (i32).
struct AdamwShared {
  float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;
  TypedBuffer lr, gradScale;
  const int32_t *step = nullptr;
};
/// AdamW (cpu::adamwUpdate, the same formula order) over all `tensors`, as
/// few launches as the kernel parameter table allows (the table travels by
/// value, nothing is written to device memory by the host). A step < 1
/// leaves everything unchanged.
cudaError_t launchAdamw(const AdamwTensor *tensors, int numTensors,
                        const AdamwShared &shared, const Stream &s);
/// The tensors one launch of launchAdamw takes.
int adamwTensorsPerLaunch();

/// sgd_update (cpu::sgdUpdate); momentumBuffer.data null without momentum.
cudaError_t launchSgd(TypedBuffer param, TypedBuffer grad,
                      TypedBuffer momentumBuffer, TypedBuffer lr,
                      TypedBuffer gradScale, int64_t n, float momentum,
                      float weightDecay, const Stream &s);

} // namespace strata::cuda::training

#endif // STRATA_CUDA_LIB_KERNELSTRAINING_H
