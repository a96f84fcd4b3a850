//===- KernelsTrainingLoss.cu - cross_entropy's gradient on the GPU -------===//
//
// cross_entropy_grad, and with it the fused "cross_entropy" group's loss
// (KernelsTraining.h). One block per row of logits:
//
//   1. one pass over the row in 16-byte vectors (8 bf16 or 4 f32 logits)
//      keeps an online max and Σ exp(x - max) per thread and, when the row
//      fits in shared memory, copies it there;
//   2. the block combines the (max, sum) pairs in a fixed order: the row's
//      logsumexp;
//   3. one pass writes dlogits from the copy (or from the logits again).
//
// Every logit of a row is read before any dlogit of that row is written
// (step 2 is a block barrier, and the target's logit is read before it), and
// a block touches only its own row: dlogits may be the logits' own buffer.
//
//===----------------------------------------------------------------------===//

#include "KernelsTrainingDevice.cuh"

#include <algorithm>
#include <cmath>

using namespace strata::cuda;
using namespace strata::cuda::training;
using device::AnyPtr;
using device::fromFloat;
using device::load;
using device::store;
using device::toFloat;

namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr int kMaxThreads = 1024;
/// Vectors a thread loads before it uses the first: memory requests in
/// flight.
constexpr int kUnroll = 4;

cudaError_t lastError() { return cudaGetLastError(); }

/// exp(x) for x <= 0 within about 1e-6 relative: one multiply and the
/// hardware's exp2 (expf's range reduction would double this
/// instruction-bound kernel's arithmetic).
__device__ __forceinline__ float expOf(float x) { return exp2f(x * kLog2e); }

/// Elements of T in 16 bytes.
template <typename T> constexpr int kVector = int(16 / sizeof(T));

/// 16 bytes as 8 bf16.
union Bf16x8 {
  uint4 word;
  __nv_bfloat162 pair[4];
};

template <typename T>
__device__ __forceinline__ void unpack(uint4 word, float (&v)[kVector<T>]) {
  if constexpr (sizeof(T) == 4) {
    v[0] = __uint_as_float(word.x);
    v[1] = __uint_as_float(word.y);
    v[2] = __uint_as_float(word.z);
    v[3] = __uint_as_float(word.w);
  } else {
    Bf16x8 in;
    in.word = word;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      float2 f = __bfloat1622float2(in.pair[i]);
      v[2 * i] = f.x;
      v[2 * i + 1] = f.y;
    }
  }
}

template <typename T>
__device__ __forceinline__ uint4 pack(const float (&v)[kVector<T>]) {
  if constexpr (sizeof(T) == 4) {
    return make_uint4(__float_as_uint(v[0]), __float_as_uint(v[1]),
                      __float_as_uint(v[2]), __float_as_uint(v[3]));
  } else {
    Bf16x8 out;
#pragma unroll
    for (int i = 0; i < 4; ++i)
      out.pair[i] = __floats2bfloat162_rn(v[2 * i], v[2 * i + 1]);
    return out.word;
  }
}

/// Adds `v` to an online softmax state: m the max so far, s = Σ exp(x - m).
template <int N>
__device__ __forceinline__ void addToLse(float &m, float &s,
                                         const float (&v)[N]) {
  float top = v[0];
#pragma unroll
  for (int j = 1; j < N; ++j)
    top = fmaxf(top, v[j]);
  float next = fmaxf(m, top);
  if (next == -INFINITY) // nothing but -inf so far
    return;
  float acc = 0.f;
#pragma unroll
  for (int j = 0; j < N; ++j)
    acc += expOf(v[j] - next);
  s = s * expOf(m - next) + acc;
  m = next;
}

/// Combines two (max, Σ exp(x - max)) pairs of an online softmax.
__device__ __forceinline__ void combineLse(float &m, float &s, float m2,
                                           float s2) {
  float mm = fmaxf(m, m2);
  if (mm == -INFINITY)
    return;
  s = s * expf(m - mm) + s2 * expf(m2 - mm);
  m = mm;
}

/// One block per row (see the file comment). `cached`: the launch has
/// (vocab + kVector<TIn>) logits of dynamic shared memory for the row.
/// `vectorOut`: dlogits rows start at the same offset from a 16-byte
/// boundary as the logits rows and TOut is as wide as TIn, so that a vector
/// of logits maps to a 16-byte store. dlogits = dloss / rows * (softmax -
/// onehot(target)); with `rowLoss` set also the row's loss lse -
/// logits[target].
template <typename TIn, typename TOut>
__global__ void __launch_bounds__(kMaxThreads)
    crossEntropyKernel(const TIn *logits, const int32_t *targets, AnyPtr dloss,
                       TOut *dlogits, int64_t rows, int64_t vocab, bool cached,
                       bool vectorOut, double *rowLoss,
                       DeviceErrorRecord *errors, int32_t kernelIndex) {
  constexpr int V = kVector<TIn>;
  extern __shared__ uint4 rowCache[];
  __shared__ float maxOf[32], sumOf[32];
  int64_t r = blockIdx.x;
  int t = threadIdx.x, threads = blockDim.x;
  const TIn *row = logits + r * vocab;
  // The row is a scalar head up to the first 16-byte boundary, whole
  // vectors, and a scalar tail (head and tail shorter than V <= threads).
  int phase = int(reinterpret_cast<uintptr_t>(row) % 16 / sizeof(TIn));
  int64_t head = min(int64_t((V - phase) % V), vocab);
  int64_t vectors = (vocab - head) / V, tail = head + vectors * V;
  // Element i of the row is element i + phase of the cache: its vectors are
  // 16-byte aligned too.
  TIn *cache = reinterpret_cast<TIn *>(rowCache) + phase;
  const uint4 *rowVectors = reinterpret_cast<const uint4 *>(row + head);
  uint4 *cacheVectors = reinterpret_cast<uint4 *>(cache + head);

  // 1. Online max and sum, copying the row.
  float m = -INFINITY, s = 0.f;
  auto addScalar = [&](int64_t i) {
    TIn x = row[i];
    if (cached)
      cache[i] = x;
    float v[1] = {toFloat(x)};
    addToLse(m, s, v);
  };
  if (t < head)
    addScalar(t);
  if (tail + t < vocab)
    addScalar(tail + t);
  int64_t k = t;
  for (; k + (kUnroll - 1) * threads < vectors; k += kUnroll * threads) {
    uint4 words[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
      words[u] = rowVectors[k + u * threads];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      if (cached)
        cacheVectors[k + u * threads] = words[u];
      float v[V];
      unpack<TIn>(words[u], v);
      addToLse(m, s, v);
    }
  }
  for (; k < vectors; k += threads) {
    uint4 word = rowVectors[k];
    if (cached)
      cacheVectors[k] = word;
    float v[V];
    unpack<TIn>(word, v);
    addToLse(m, s, v);
  }
  int64_t target = targets[r];
  bool valid = target >= 0 && target < vocab;
  float targetLogit = 0.f;
  if (t == 0) {
    if (valid)
      targetLogit = toFloat(row[target]);
    else
      device::reportError(errors, kernelIndex, kIndexOutOfRange, r, target,
                          vocab);
  }

  // 2. The row's logsumexp, combined in a fixed order.
  for (int offset = 16; offset > 0; offset >>= 1) {
    float m2 = __shfl_xor_sync(0xffffffffu, m, offset);
    float s2 = __shfl_xor_sync(0xffffffffu, s, offset);
    combineLse(m, s, m2, s2);
  }
  if (t % 32 == 0) {
    maxOf[t / 32] = m;
    sumOf[t / 32] = s;
  }
  __syncthreads(); // also: the whole row is read (and cached)
  m = maxOf[0];
  s = sumOf[0];
  for (int w = 1; w < threads / 32; ++w)
    combineLse(m, s, maxOf[w], sumOf[w]);
  float lse = m + logf(s);
  if (rowLoss && t == 0)
    rowLoss[r] = valid ? double(m) + log(double(s)) - double(targetLogit) : 0.0;
  if (!dlogits)
    return;

  // 3. dlogits.
  float scale = float(double(load(dloss, 0)) / rows);
  TOut *out = dlogits + r * vocab;
  auto grad = [&](float x, int64_t i) {
    return scale * (expOf(x - lse) - (i == target ? 1.f : 0.f));
  };
  auto writeScalar = [&](int64_t i) {
    out[i] = fromFloat<TOut>(grad(toFloat(cached ? cache[i] : row[i]), i));
  };
  if (t < head)
    writeScalar(t);
  if (tail + t < vocab)
    writeScalar(tail + t);
  const uint4 *source = cached ? cacheVectors : rowVectors;
  auto write = [&](int64_t k, uint4 word) {
    float v[V];
    unpack<TIn>(word, v);
    int64_t first = head + k * V;
#pragma unroll
    for (int j = 0; j < V; ++j)
      v[j] = grad(v[j], first + j);
    if constexpr (sizeof(TIn) == sizeof(TOut)) {
      if (vectorOut) {
        *reinterpret_cast<uint4 *>(out + first) = pack<TOut>(v);
        return;
      }
    }
#pragma unroll
    for (int j = 0; j < V; ++j)
      out[first + j] = fromFloat<TOut>(v[j]);
  };
  k = t;
  for (; k + (kUnroll - 1) * threads < vectors; k += kUnroll * threads) {
    uint4 words[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
      words[u] = source[k + u * threads];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
      write(k + u * threads, words[u]);
  }
  for (; k < vectors; k += threads)
    write(k, source[k]);
}

/// loss = Σ rowLoss / rows, summed by one block in a fixed order.
__global__ void meanLossKernel(const double *rowLoss, int64_t rows,
                               AnyPtr loss) {
  __shared__ double scratch[32];
  double acc = 0.0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x)
    acc += rowLoss[r];
  acc = blockSum(acc, scratch);
  if (threadIdx.x == 0)
    store(loss, 0, float(acc / rows));
}

/// Whether `kernel` may be launched with `bytes` of dynamic shared memory.
/// Raises the kernel's limit past the default 48 KB when the device allows
/// it, but not while `stream` is being captured into a CUDA graph (the
/// executor's first, eager run of a plan raises it; a capture without one
/// runs the kernel without the cache, to the same bits).
template <typename Kernel>
bool allowDynamicShared(Kernel *kernel, size_t bytes, cudaStream_t stream) {
  cudaFuncAttributes attributes;
  if (cudaFuncGetAttributes(&attributes, kernel) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  if (bytes <= size_t(attributes.maxDynamicSharedSizeBytes))
    return true;
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  int device = 0, optIn = 0;
  if (cudaStreamIsCapturing(stream, &capture) != cudaSuccess ||
      capture != cudaStreamCaptureStatusNone || cudaGetDevice(&device) ||
      cudaDeviceGetAttribute(&optIn, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                             device)) {
    cudaGetLastError();
    return false;
  }
  int most = optIn - int(attributes.sharedSizeBytes);
  if (bytes > size_t(std::max(most, 0)))
    return false;
  if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           most) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return true;
}

template <typename TIn, typename TOut>
void launchTyped(TypedBuffer logits, const int32_t *targets, TypedBuffer dloss,
                 TypedBuffer dlogits, int64_t rows, int64_t vocab,
                 double *rowLoss, const Stream &s) {
  constexpr int V = kVector<TIn>;
  auto *kernel = crossEntropyKernel<TIn, TOut>;
  size_t cacheBytes = alignedBytes(size_t(vocab + V) * sizeof(TIn));
  bool cached = allowDynamicShared(kernel, cacheBytes, s.stream);
  bool vectorOut = sizeof(TIn) == sizeof(TOut) &&
                   reinterpret_cast<uintptr_t>(logits.data) % 16 ==
                       reinterpret_cast<uintptr_t>(dlogits.data) % 16;
  // Enough threads for a few vectors each; with a cache of more than half an
  // SM's shared memory only one block fits on an SM, so it takes them all.
  int64_t vectors = vocab / V;
  int threads = vectors >= 4096
                    ? (cached && cacheBytes > 112 * 1024 ? kMaxThreads : 512)
                : vectors >= 512 ? 256
                                 : 128;
  kernel<<<unsigned(rows), threads, cached ? cacheBytes : 0, s.stream>>>(
      static_cast<const TIn *>(logits.data), targets, anyPtr(dloss),
      static_cast<TOut *>(dlogits.data), rows, vocab, cached, vectorOut,
      rowLoss, s.errors, s.kernelIndex);
}

} // namespace

size_t training::crossEntropyWorkspace(int64_t rows) {
  return alignedBytes(size_t(rows) * 8);
}

cudaError_t training::launchCrossEntropy(TypedBuffer logits,
                                         const int32_t *targets,
                                         TypedBuffer dloss, TypedBuffer dlogits,
                                         TypedBuffer loss, int64_t rows,
                                         int64_t vocab, void *workspace,
                                         const Stream &s) {
  double *rowLoss = loss.data ? static_cast<double *>(workspace) : nullptr;
  if (rows > 0 && vocab > 0) {
    if (rows > INT32_MAX)
      return cudaErrorInvalidValue;
    bool inBf16 = logits.dtype == device::kBF16,
         outBf16 = dlogits.dtype == device::kBF16;
    auto launch = inBf16 ? (outBf16 ? launchTyped<__nv_bfloat16, __nv_bfloat16>
                                    : launchTyped<__nv_bfloat16, float>)
                         : (outBf16 ? launchTyped<float, __nv_bfloat16>
                                    : launchTyped<float, float>);
    launch(logits, targets, dloss, dlogits, rows, vocab, rowLoss, s);
  }
  if (rowLoss)
    meanLossKernel<<<1, 1024, 0, s.stream>>>(rowLoss, rows, anyPtr(loss));
  return lastError();
}
