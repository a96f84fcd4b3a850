//===- Attention.h - Fused flash attention on the GPU -----------*- C++ -*-===//
//
// Flash-attention forward and backward for Hopper (sm_90a): bf16 inputs and
// outputs, f32 accumulation on the tensor cores, causal or not, grouped-query
// heads. Layout and causal convention are the CPU reference's
// (cpu::AttentionShape): q [B,Hq,T,D], k and v [B,Hkv,S,D], out [B,Hq,T,D],
// contiguous; query head h reads key/value head h / (Hq / Hkv); with `causal`,
// query t sees keys s <= t + (S - T), and a query that sees no key outputs
// zeros. The reference is cpu::attentionForward/attentionBackward.
//
// Every pointer is a device pointer. The functions only enqueue work on
// `stream` and return the launch status; an unsupported shape returns
// cudaErrorInvalidValue before anything is enqueued.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CUDA_ATTENTION_H
#define STRATA_CUDA_ATTENTION_H

#include "strata/Cpu/Kernels.h"

#include <cstddef>
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

namespace strata::cuda {

using cpu::AttentionShape;

/// Whether the kernels handle `shape`: headDim == valueDim, either 64 or 128;
/// qHeads a positive multiple of kvHeads; all sizes positive.
bool flashAttentionSupports(const AttentionShape &shape);

/// out = softmax(scale * q kᵀ [+ causal mask]) v. Also writes, for each query
/// row, lse [B,Hq,T] (f32) = log(sum_s exp(scale * q·k_s)) over the keys the
/// row sees (-inf for a row that sees none); the backward pass needs it.
cudaError_t
flashAttentionForward(__nv_bfloat16 *out, float *lse, const __nv_bfloat16 *q,
                      const __nv_bfloat16 *k, const __nv_bfloat16 *v,
                      const AttentionShape &shape, cudaStream_t stream);

/// Bytes of device scratch memory flashAttentionBackward needs for `shape`
/// (f32 dq accumulator and the per-row dot(dout, out)).
size_t flashAttentionBackwardWorkspaceSize(const AttentionShape &shape);

/// dq, dk, dv from dout and the forward's out and lse. dk and dv sum over the
/// query heads of a group. Every element of dq, dk and dv is written.
/// `workspace` holds flashAttentionBackwardWorkspaceSize(shape) bytes, 16-byte
/// aligned; its contents on entry do not matter.
cudaError_t flashAttentionBackward(
    __nv_bfloat16 *dq, __nv_bfloat16 *dk, __nv_bfloat16 *dv,
    const __nv_bfloat16 *dout, const __nv_bfloat16 *q, const __nv_bfloat16 *k,
    const __nv_bfloat16 *v, const __nv_bfloat16 *out, const float *lse,
    void *workspace, const AttentionShape &shape, cudaStream_t stream);

} // namespace strata::cuda

#endif // STRATA_CUDA_ATTENTION_H
