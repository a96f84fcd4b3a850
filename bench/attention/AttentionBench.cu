//===- AttentionBench.cu - C entry points for bench.py --------------------===//
//
// A plain C ABI over strata::cuda's flash attention so that bench.py can call
// it through ctypes on PyTorch's tensors (device pointers and stream).
//
//===----------------------------------------------------------------------===//

#include "strata/Cuda/Attention.h"

using strata::cuda::AttentionShape;

namespace {
AttentionShape makeShape(int batch, int qHeads, int kvHeads, int qLen,
                         int kvLen, int headDim, int causal, float scale) {
  AttentionShape s;
  s.batch = batch;
  s.qHeads = qHeads;
  s.kvHeads = kvHeads;
  s.qLen = qLen;
  s.kvLen = kvLen;
  s.headDim = s.valueDim = headDim;
  s.causal = causal != 0;
  s.scale = scale;
  return s;
}
} // namespace

extern "C" {

int strataAttentionForward(void *out, void *lse, const void *q, const void *k,
                           const void *v, int batch, int qHeads, int kvHeads,
                           int qLen, int kvLen, int headDim, int causal,
                           float scale, void *stream) {
  return strata::cuda::flashAttentionForward(
      static_cast<__nv_bfloat16 *>(out), static_cast<float *>(lse),
      static_cast<const __nv_bfloat16 *>(q),
      static_cast<const __nv_bfloat16 *>(k),
      static_cast<const __nv_bfloat16 *>(v),
      makeShape(batch, qHeads, kvHeads, qLen, kvLen, headDim, causal, scale),
      static_cast<cudaStream_t>(stream));
}

size_t strataAttentionBackwardWorkspaceSize(int batch, int qHeads, int kvHeads,
                                            int qLen, int kvLen, int headDim) {
  return strata::cuda::flashAttentionBackwardWorkspaceSize(
      makeShape(batch, qHeads, kvHeads, qLen, kvLen, headDim, 0, 1.f));
}

int strataAttentionBackward(void *dq, void *dk, void *dv, const void *dout,
                            const void *q, const void *k, const void *v,
                            const void *out, const void *lse, void *workspace,
                            int batch, int qHeads, int kvHeads, int qLen,
                            int kvLen, int headDim, int causal, float scale,
                            void *stream) {
  using bf16 = __nv_bfloat16;
  return strata::cuda::flashAttentionBackward(
      static_cast<bf16 *>(dq), static_cast<bf16 *>(dk), static_cast<bf16 *>(dv),
      static_cast<const bf16 *>(dout), static_cast<const bf16 *>(q),
      static_cast<const bf16 *>(k), static_cast<const bf16 *>(v),
      static_cast<const bf16 *>(out), static_cast<const float *>(lse),
      workspace,
      makeShape(batch, qHeads, kvHeads, qLen, kvLen, headDim, causal, scale),
      static_cast<cudaStream_t>(stream));
}

} // extern "C"
