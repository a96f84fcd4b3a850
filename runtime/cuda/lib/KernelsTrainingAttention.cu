//===- KernelsTrainingAttention.cu - attention_grad on the GPU ------------===//
//
// attention_grad takes (q, k, v, dout) and recomputes the forward pass, as
// the CPU's does. Shapes the flash kernels support (Attention.h: head size 64
// or 128) run flashAttentionForward into the workspace (out, lse) and then
// flashAttentionBackward, with f32 operands converted to bf16 in the
// workspace and bf16 results converted back: an f32 plan gets bf16 accuracy
// for attention gradients, as for attention itself. Other shapes run a
// simple f32 kernel pair: one block per query row (lse, the row's
// dot(dout, out) and dq), then one block per key row (dk and dv, summed over
// the query heads of its group).
//
//===----------------------------------------------------------------------===//

#include "KernelsTrainingDevice.cuh"
#include "strata/Cuda/Attention.h"

#include <tuple>

using namespace strata::cuda;
using namespace strata::cuda::training;
namespace cpu = strata::cpu;
using device::AnyPtr;
using device::load;
using device::store;
using bf16 = __nv_bfloat16;

namespace {

constexpr int kThreads = 128;

/// Byte offsets of the flash path's buffers in the workspace; `none` for
/// an operand that is already bf16 (used in place).
struct FlashLayout {
  static constexpr size_t none = ~size_t(0);
  size_t q = none, k = none, v = none, dout = none, dq = none, dk = none,
         dv = none, out = 0, lse = 0, backward = 0, total = 0;
};

FlashLayout flashLayout(const cpu::AttentionShape &s, TypedBuffer q,
                        TypedBuffer k, TypedBuffer v, TypedBuffer dout,
                        TypedBuffer dq, TypedBuffer dk, TypedBuffer dv) {
  size_t qElems = size_t(s.batch * s.qHeads * s.qLen * s.headDim);
  size_t kvElems = size_t(s.batch * s.kvHeads * s.kvLen * s.headDim);
  FlashLayout l;
  auto take = [&](size_t bytes) {
    size_t at = l.total;
    l.total += alignedBytes(bytes);
    return at;
  };
  auto bf16Copy = [&](TypedBuffer b, size_t elems) {
    return b.dtype == device::kBF16 ? FlashLayout::none : take(elems * 2);
  };
  l.q = bf16Copy(q, qElems);
  l.k = bf16Copy(k, kvElems);
  l.v = bf16Copy(v, kvElems);
  l.dout = bf16Copy(dout, qElems);
  l.dq = bf16Copy(dq, qElems);
  l.dk = bf16Copy(dk, kvElems);
  l.dv = bf16Copy(dv, kvElems);
  l.out = take(qElems * 2);
  l.lse = take(size_t(s.batch * s.qHeads * s.qLen) * 4);
  l.backward = take(flashAttentionBackwardWorkspaceSize(s));
  return l;
}

__global__ void convertKernel(AnyPtr in, AnyPtr out, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    store(out, i, load(in, i));
}

cudaError_t convert(TypedBuffer in, TypedBuffer out, int64_t n,
                    cudaStream_t stream) {
  if (n > 0)
    convertKernel<<<gridFor(n), 256, 0, stream>>>(anyPtr(in), anyPtr(out), n);
  return cudaGetLastError();
}

//===----------------------------------------------------------------------===//
// The f32 fallback
//===----------------------------------------------------------------------===//

/// Keys query t sees (Attention.cpp's visibleKeys).
__device__ int64_t visibleKeys(const cpu::AttentionShape &s, int64_t t) {
  if (!s.causal)
    return s.kvLen;
  return max(int64_t(0), min(t + (s.kvLen - s.qLen) + 1, s.kvLen));
}

__device__ float dot(AnyPtr a, int64_t aBase, AnyPtr b, int64_t bBase,
                     int64_t n) {
  float acc = 0.f;
  for (int64_t d = 0; d < n; ++d)
    acc += load(a, aBase + d) * load(b, bBase + d);
  return acc;
}

/// One block per query row (b, h, t): lse and delta = Σ_s P dP (saved for
/// the key pass) and dq = scale Σ_s P (dP - delta) k_s. Shared memory: the
/// dq accumulator (headDim floats) and a tile of dS (blockDim floats).
__global__ void attentionGradQueryKernel(AnyPtr q, AnyPtr k, AnyPtr v,
                                         AnyPtr dout, AnyPtr dq,
                                         cpu::AttentionShape s, float *lseOut,
                                         float *deltaOut) {
  extern __shared__ float shared[];
  float *dqAcc = shared, *dsTile = shared + s.headDim;
  __shared__ float maxOf[32], sumOf[32], scratch[32];
  int64_t row = blockIdx.x; // (b * qHeads + h) * qLen + t
  int64_t t = row % s.qLen, bh = row / s.qLen;
  int64_t b = bh / s.qHeads, h = bh % s.qHeads;
  int64_t kvHead = b * s.kvHeads + h / (s.qHeads / s.kvHeads);
  int64_t qBase = row * s.headDim, oBase = row * s.valueDim;
  int64_t kBase = kvHead * s.kvLen * s.headDim;
  int64_t vBase = kvHead * s.kvLen * s.valueDim;
  int64_t visible = visibleKeys(s, t);

  float m = -INFINITY, sum = 0.f;
  for (int64_t j = threadIdx.x; j < visible; j += blockDim.x) {
    float score = s.scale * dot(q, qBase, k, kBase + j * s.headDim, s.headDim);
    if (score > m) {
      sum = sum * expf(m - score) + 1.f;
      m = score;
    } else {
      sum += expf(score - m);
    }
  }
  for (int offset = 16; offset > 0; offset >>= 1) {
    float m2 = __shfl_xor_sync(0xffffffffu, m, offset);
    float s2 = __shfl_xor_sync(0xffffffffu, sum, offset);
    float mm = fmaxf(m, m2);
    if (mm != -INFINITY) {
      sum = sum * expf(m - mm) + s2 * expf(m2 - mm);
      m = mm;
    }
  }
  if (threadIdx.x % 32 == 0) {
    maxOf[threadIdx.x / 32] = m;
    sumOf[threadIdx.x / 32] = sum;
  }
  __syncthreads();
  m = maxOf[0];
  sum = sumOf[0];
  for (int w = 1; w < int(blockDim.x / 32); ++w) {
    float mm = fmaxf(m, maxOf[w]);
    if (mm != -INFINITY) {
      sum = sum * expf(m - mm) + sumOf[w] * expf(maxOf[w] - mm);
      m = mm;
    }
  }
  float lse = visible > 0 ? m + logf(sum) : -INFINITY;

  float delta = 0.f;
  for (int64_t j = threadIdx.x; j < visible; j += blockDim.x) {
    float score = s.scale * dot(q, qBase, k, kBase + j * s.headDim, s.headDim);
    float dp = dot(dout, oBase, v, vBase + j * s.valueDim, s.valueDim);
    delta += expf(score - lse) * dp;
  }
  delta = blockSum(delta, scratch);

  for (int64_t d = threadIdx.x; d < s.headDim; d += blockDim.x)
    dqAcc[d] = 0.f;
  for (int64_t tile = 0; tile < visible; tile += blockDim.x) {
    int64_t j = tile + threadIdx.x;
    __syncthreads();
    if (j < visible) {
      float score =
          s.scale * dot(q, qBase, k, kBase + j * s.headDim, s.headDim);
      float dp = dot(dout, oBase, v, vBase + j * s.valueDim, s.valueDim);
      dsTile[threadIdx.x] = s.scale * expf(score - lse) * (dp - delta);
    }
    __syncthreads();
    int64_t count = min(int64_t(blockDim.x), visible - tile);
    for (int64_t d = threadIdx.x; d < s.headDim; d += blockDim.x) {
      float acc = dqAcc[d];
      for (int64_t jj = 0; jj < count; ++jj)
        acc += dsTile[jj] * load(k, kBase + (tile + jj) * s.headDim + d);
      dqAcc[d] = acc;
    }
  }
  __syncthreads();
  for (int64_t d = threadIdx.x; d < s.headDim; d += blockDim.x)
    store(dq, qBase + d, dqAcc[d]);
  if (threadIdx.x == 0) {
    lseOut[row] = lse;
    deltaOut[row] = delta;
  }
}

/// One block per key row (b, kvHead, j): dv = Σ P dout_t and dk = scale Σ P
/// (dP - delta_t) q_t over the (query head, t) pairs of its group that see
/// it. Shared memory: the dk and dv accumulators and tiles of P and dS.
__global__ void attentionGradKeyKernel(AnyPtr q, AnyPtr k, AnyPtr v,
                                       AnyPtr dout, AnyPtr dk, AnyPtr dv,
                                       cpu::AttentionShape s, const float *lse,
                                       const float *delta) {
  extern __shared__ float shared[];
  float *dkAcc = shared, *dvAcc = dkAcc + s.headDim,
        *pTile = dvAcc + s.valueDim, *dsTile = pTile + blockDim.x;
  int64_t keyRow = blockIdx.x; // (b * kvHeads + g) * kvLen + j
  int64_t j = keyRow % s.kvLen, bg = keyRow / s.kvLen;
  int64_t b = bg / s.kvHeads, g = bg % s.kvHeads;
  int64_t group = s.qHeads / s.kvHeads;
  int64_t kBase = keyRow * s.headDim, vBase = keyRow * s.valueDim;
  int64_t pairs = group * s.qLen;
  for (int64_t d = threadIdx.x; d < s.headDim; d += blockDim.x)
    dkAcc[d] = 0.f;
  for (int64_t d = threadIdx.x; d < s.valueDim; d += blockDim.x)
    dvAcc[d] = 0.f;
  for (int64_t tile = 0; tile < pairs; tile += blockDim.x) {
    int64_t pair = tile + threadIdx.x;
    __syncthreads();
    if (pair < pairs) {
      int64_t h = g * group + pair / s.qLen, t = pair % s.qLen;
      int64_t row = (b * s.qHeads + h) * s.qLen + t;
      float p = 0.f, ds = 0.f;
      if (j < visibleKeys(s, t)) {
        float score = s.scale * dot(q, row * s.headDim, k, kBase, s.headDim);
        float dp = dot(dout, row * s.valueDim, v, vBase, s.valueDim);
        p = expf(score - lse[row]);
        ds = s.scale * p * (dp - delta[row]);
      }
      pTile[threadIdx.x] = p;
      dsTile[threadIdx.x] = ds;
    }
    __syncthreads();
    int64_t count = min(int64_t(blockDim.x), pairs - tile);
    for (int64_t d = threadIdx.x; d < s.headDim + s.valueDim; d += blockDim.x) {
      bool isK = d < s.headDim;
      int64_t dd = isK ? d : d - s.headDim;
      float acc = isK ? dkAcc[dd] : dvAcc[dd];
      for (int64_t i = 0; i < count; ++i) {
        int64_t pr = tile + i;
        int64_t h = g * group + pr / s.qLen, t = pr % s.qLen;
        int64_t row = (b * s.qHeads + h) * s.qLen + t;
        acc += isK ? dsTile[i] * load(q, row * s.headDim + dd)
                   : pTile[i] * load(dout, row * s.valueDim + dd);
      }
      if (isK)
        dkAcc[dd] = acc;
      else
        dvAcc[dd] = acc;
    }
  }
  __syncthreads();
  for (int64_t d = threadIdx.x; d < s.headDim; d += blockDim.x)
    store(dk, kBase + d, dkAcc[d]);
  for (int64_t d = threadIdx.x; d < s.valueDim; d += blockDim.x)
    store(dv, vBase + d, dvAcc[d]);
}

} // namespace

size_t training::attentionGradWorkspace(const cpu::AttentionShape &s,
                                        TypedBuffer q, TypedBuffer k,
                                        TypedBuffer v, TypedBuffer dout,
                                        TypedBuffer dq, TypedBuffer dk,
                                        TypedBuffer dv) {
  if (flashAttentionSupports(s))
    return flashLayout(s, q, k, v, dout, dq, dk, dv).total;
  return 2 * alignedBytes(size_t(s.batch * s.qHeads * s.qLen) * 4);
}

cudaError_t training::launchAttentionGrad(TypedBuffer q, TypedBuffer k,
                                          TypedBuffer v, TypedBuffer dout,
                                          TypedBuffer dq, TypedBuffer dk,
                                          TypedBuffer dv,
                                          const cpu::AttentionShape &s,
                                          void *workspace, const Stream &st) {
  int64_t qElems = s.batch * s.qHeads * s.qLen * s.headDim;
  int64_t kvElems = s.batch * s.kvHeads * s.kvLen * s.headDim;
  char *ws = static_cast<char *>(workspace);
  if (flashAttentionSupports(s)) {
    FlashLayout l = flashLayout(s, q, k, v, dout, dq, dk, dv);
    // The bf16 view of an operand: itself, or its copy in the workspace.
    auto bf16View = [&](TypedBuffer b, size_t at) {
      return at == FlashLayout::none ? b : TypedBuffer{ws + at, device::kBF16};
    };
    TypedBuffer q16 = bf16View(q, l.q), k16 = bf16View(k, l.k),
                v16 = bf16View(v, l.v), dout16 = bf16View(dout, l.dout),
                dq16 = bf16View(dq, l.dq), dk16 = bf16View(dk, l.dk),
                dv16 = bf16View(dv, l.dv);
    for (auto [from, to, n] :
         {std::tuple{q, q16, qElems}, std::tuple{k, k16, kvElems},
          std::tuple{v, v16, kvElems}, std::tuple{dout, dout16, qElems}})
      if (from.data != to.data)
        if (cudaError_t err = convert(from, to, n, st.stream))
          return err;
    bf16 *out = reinterpret_cast<bf16 *>(ws + l.out);
    float *lse = reinterpret_cast<float *>(ws + l.lse);
    auto p = [](TypedBuffer b) { return static_cast<bf16 *>(b.data); };
    if (cudaError_t err = flashAttentionForward(out, lse, p(q16), p(k16),
                                                p(v16), s, st.stream))
      return err;
    if (cudaError_t err = flashAttentionBackward(
            p(dq16), p(dk16), p(dv16), p(dout16), p(q16), p(k16), p(v16), out,
            lse, ws + l.backward, s, st.stream))
      return err;
    for (auto [from, to, n] :
         {std::tuple{dq16, dq, qElems}, std::tuple{dk16, dk, kvElems},
          std::tuple{dv16, dv, kvElems}})
      if (from.data != to.data)
        if (cudaError_t err = convert(from, to, n, st.stream))
          return err;
    return cudaGetLastError();
  }

  int64_t rows = s.batch * s.qHeads * s.qLen;
  int64_t keyRows = s.batch * s.kvHeads * s.kvLen;
  if (rows > INT32_MAX || keyRows > INT32_MAX)
    return cudaErrorInvalidValue;
  float *lse = reinterpret_cast<float *>(ws);
  float *delta = reinterpret_cast<float *>(ws + alignedBytes(size_t(rows) * 4));
  if (rows > 0) {
    size_t smem = (s.headDim + kThreads) * sizeof(float);
    attentionGradQueryKernel<<<unsigned(rows), kThreads, smem, st.stream>>>(
        anyPtr(q), anyPtr(k), anyPtr(v), anyPtr(dout), anyPtr(dq), s, lse,
        delta);
  }
  if (keyRows > 0) {
    size_t smem = (s.headDim + s.valueDim + 2 * kThreads) * sizeof(float);
    attentionGradKeyKernel<<<unsigned(keyRows), kThreads, smem, st.stream>>>(
        anyPtr(q), anyPtr(k), anyPtr(v), anyPtr(dout), anyPtr(dk), anyPtr(dv),
        s, lse, delta);
  }
  return cudaGetLastError();
}
