//===- KernelsForwardAttention.cu - rope and the attention fallback -------===//
//
// Rotary embedding, and a simple attention for the shapes and dtypes the
// flash kernels (FlashAttention.cu) do not take: one block per query row,
// the scores recomputed in each of three passes (row max, row sum,
// probability-weighted values), all in f32. The reference is
// runtime/cpu/lib/Rope.cpp and Attention.cpp.
//
//===----------------------------------------------------------------------===//

#include "KernelsForward.cuh"

using namespace strata;
using namespace strata::cuda;
using namespace strata::cuda::device;

namespace {

constexpr int kThreads = 256;
constexpr int kAttentionThreads = 128;
constexpr int kValuesPerThread =
    int(detail::kFallbackMaxValueDim / kAttentionThreads);

/// One thread per rotated pair (x[i], x[i + Dh/2]). The angle is computed in
/// double, as on the CPU: t * theta^(-2i/Dh) reaches thousands of radians.
__global__ void rope(AnyPtr x, AnyPtr out, int64_t seqLen, int64_t headDim,
                     double theta, int64_t n) {
  int64_t half = headDim / 2;
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < n;
       p += int64_t(gridDim.x) * blockDim.x) {
    int64_t i = p % half, row = p / half, t = row % seqLen;
    double angle = double(t) * pow(theta, -2.0 * double(i) / double(headDim));
    double s, c;
    sincos(angle, &s, &c);
    int64_t base = row * headDim;
    float x0 = load(x, base + i), x1 = load(x, base + i + half);
    store(out, base + i, float(x0 * c - x1 * s));
    store(out, base + i + half, float(x1 * c + x0 * s));
  }
}

__device__ float score(const float *q, AnyPtr k, int64_t kRow, int64_t headDim,
                       float scale) {
  float dot = 0.0f;
  for (int64_t d = 0; d < headDim; ++d)
    dot += q[d] * load(k, kRow + d);
  return scale * dot;
}

/// Block b handles query row b of [B, Hq, T]. Dynamic shared memory: the
/// query row (headDim floats), then one probability per thread.
__global__ void attentionRows(AnyPtr q, AnyPtr k, AnyPtr v, AnyPtr out,
                              cpu::AttentionShape s) {
  extern __shared__ float shared[];
  __shared__ float scratch[32];
  float *query = shared, *probs = shared + s.headDim;
  int64_t row = blockIdx.x, t = row % s.qLen, bh = row / s.qLen;
  int64_t b = bh / s.qHeads, h = bh % s.qHeads;
  int64_t kvHead = b * s.kvHeads + h / (s.qHeads / s.kvHeads);
  int64_t kBase = kvHead * s.kvLen * s.headDim;
  int64_t vBase = kvHead * s.kvLen * s.valueDim;
  int64_t oBase = row * s.valueDim;
  for (int64_t d = threadIdx.x; d < s.headDim; d += blockDim.x)
    query[d] = load(q, row * s.headDim + d);
  __syncthreads();

  int64_t visible = s.kvLen;
  if (s.causal)
    visible = min(s.kvLen, t + s.kvLen - s.qLen + 1);
  if (visible <= 0) {
    for (int64_t d = threadIdx.x; d < s.valueDim; d += blockDim.x)
      store(out, oBase + d, 0.0f);
    return;
  }
  float maxVal = -INFINITY;
  for (int64_t j = threadIdx.x; j < visible; j += blockDim.x)
    maxVal = fmaxf(maxVal,
                   score(query, k, kBase + j * s.headDim, s.headDim, s.scale));
  maxVal = rowMax(maxVal, scratch);
  float sum = 0.0f;
  for (int64_t j = threadIdx.x; j < visible; j += blockDim.x)
    sum += expf(score(query, k, kBase + j * s.headDim, s.headDim, s.scale) -
                maxVal);
  float inverse = 1.0f / rowSum(sum, scratch);

  float acc[kValuesPerThread] = {};
  for (int64_t start = 0; start < visible; start += blockDim.x) {
    int64_t j = start + threadIdx.x;
    __syncthreads(); // the previous chunk's probabilities are consumed
    probs[threadIdx.x] =
        j < visible
            ? expf(score(query, k, kBase + j * s.headDim, s.headDim, s.scale) -
                   maxVal) *
                  inverse
            : 0.0f;
    __syncthreads();
    int64_t count = min(int64_t(blockDim.x), visible - start);
    for (int64_t c = 0; c < count; ++c) {
      float p = probs[c];
      int64_t vRow = vBase + (start + c) * s.valueDim;
#pragma unroll
      for (int i = 0; i < kValuesPerThread; ++i) {
        int64_t d = threadIdx.x + i * int64_t(blockDim.x);
        if (d < s.valueDim)
          acc[i] += p * load(v, vRow + d);
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kValuesPerThread; ++i) {
    int64_t d = threadIdx.x + i * int64_t(blockDim.x);
    if (d < s.valueDim)
      store(out, oBase + d, acc[i]);
  }
}

} // namespace

cudaError_t detail::launchRope(DevicePtr x, DevicePtr out, int64_t batchHeads,
                               int64_t seqLen, int64_t headDim, float theta,
                               cudaStream_t stream) {
  int64_t n = batchHeads * seqLen * (headDim / 2);
  if (n == 0)
    return cudaSuccess;
  rope<<<gridFor(n), kThreads, 0, stream>>>(any(x), any(out), seqLen, headDim,
                                            double(theta), n);
  return cudaGetLastError();
}

cudaError_t detail::launchAttentionFallback(DevicePtr q, DevicePtr k,
                                            DevicePtr v, DevicePtr out,
                                            const cpu::AttentionShape &s,
                                            cudaStream_t stream) {
  int64_t rows = s.batch * s.qHeads * s.qLen;
  if (rows == 0 || s.valueDim == 0)
    return cudaSuccess;
  if (s.valueDim > kFallbackMaxValueDim || s.kvHeads == 0)
    return cudaErrorInvalidValue;
  size_t sharedBytes = size_t(s.headDim + kAttentionThreads) * sizeof(float);
  if (sharedBytes > 48 * 1024) // the query row must fit in shared memory
    return cudaErrorInvalidValue;
  attentionRows<<<unsigned(rows), kAttentionThreads, sharedBytes, stream>>>(
      any(q), any(k), any(v), any(out), s);
  return cudaGetLastError();
}
