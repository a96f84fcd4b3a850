//===- KernelsTrainingGrad.cu - Gradient kernels on the GPU ---------------===//
//
// The elementwise, reduction, normalization and layout gradients
// (KernelsTraining.h; the loss's are in KernelsTrainingLoss.cu). Each mirrors
// its CPU reference in runtime/cpu (the formula order and, where the
// reference accumulates in double, f64 sums; the normalization gradients'
// fast path computes in f32); reductions over rows go through partial sums
// in the workspace and a second pass in a fixed order, so that results do not
// depend on scheduling.
//
//===----------------------------------------------------------------------===//

#include "KernelsTrainingDevice.cuh"

#include <algorithm>
#include <cmath>

using namespace strata::cuda;
using namespace strata::cuda::training;
namespace cpu = strata::cpu;
using device::AnyPtr;
using device::load;
using device::store;

namespace {

constexpr int kThreads = 256;
/// Threads that keep an H100 busy: 132 SMs x 2048.
constexpr int64_t kBusyThreads = 132 * 2048;

cudaError_t lastError() { return cudaGetLastError(); }

//===----------------------------------------------------------------------===//
// binary_grad
//===----------------------------------------------------------------------===//

/// ∂out/∂a (wantA) or ∂out/∂b of cpu::BinaryKind `kind` (Elementwise.cpp's
/// binaryPartials).
__device__ double binaryPartial(int kind, bool wantA, double a, double b) {
  switch (kind) {
  case 0: // add
    return 1.0;
  case 1: // sub
    return wantA ? 1.0 : -1.0;
  case 2: // mul
    return wantA ? b : a;
  case 3: // div
    return wantA ? 1.0 / b : -a / (b * b);
  case 4: { // maximum
    double da = a >= b ? 1.0 : 0.0;
    return wantA ? da : 1.0 - da;
  }
  case 5: { // minimum
    double da = a <= b ? 1.0 : 0.0;
    return wantA ? da : 1.0 - da;
  }
  default: // pow
    if (wantA)
      return b * pow(a, b - 1.0);
    return a > 0.0 ? pow(a, b) * log(a) : 0.0;
  }
}

/// Partial sums over split blockIdx.y of the reduced index range, or the
/// gradient itself when there is one split.
__global__ void binaryGradKernel(int kind, AnyPtr a, AnyPtr b, AnyPtr dout,
                                 BinaryGradSide side, int splits,
                                 double *partials) {
  int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= side.count)
    return;
  int64_t per = (side.reducedCount + splits - 1) / splits;
  int64_t begin = blockIdx.y * per;
  int64_t end = min(side.reducedCount, begin + per);
  int64_t outBase, otherBase;
  mapOffsets(side.kept, j, outBase, otherBase);
  AnyPtr target = side.targetIsA ? a : b, other = side.targetIsA ? b : a;
  double t = load(target, j);
  double acc = 0.0;
  for (int64_t r = begin; r < end; ++r) {
    int64_t outOff, otherOff;
    mapOffsets(side.reduced, r, outOff, otherOff);
    double o = load(other, otherBase + otherOff);
    double p = side.targetIsA ? binaryPartial(kind, true, t, o)
                              : binaryPartial(kind, false, o, t);
    acc += double(load(dout, outBase + outOff)) * p;
  }
  if (splits == 1)
    store(anyPtr(side.grad), j, float(acc));
  else
    partials[int64_t(blockIdx.y) * side.count + j] = acc;
}

/// grad[j] = Σ over splits of partials[split][j], in split order.
__global__ void sumSplitsKernel(const double *partials, int splits,
                                int64_t count, AnyPtr grad) {
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < count;
       j += int64_t(gridDim.x) * blockDim.x) {
    double acc = 0.0;
    for (int split = 0; split < splits; ++split)
      acc += partials[split * count + j];
    store(grad, j, float(acc));
  }
}

//===----------------------------------------------------------------------===//
// unary_grad, gelu_grad
//===----------------------------------------------------------------------===//

/// cpu::unaryBackward (kind >= 0) and siluBackward (kind -1) in f64.
__global__ void unaryGradKernel(int kind, AnyPtr x, AnyPtr y, AnyPtr dy,
                                AnyPtr dx, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    double v = load(x, i), g = load(dy, i), r = 0.0;
    switch (kind) {
    case -1: { // silu
      double s = 1.0 / (1.0 + exp(-v));
      r = g * s * (1.0 + v * (1.0 - s));
      break;
    }
    case 0: // neg
      r = -g;
      break;
    case 1: // exp
      r = g * double(load(y, i));
      break;
    case 2: // log
      r = g / v;
      break;
    case 3: // sqrt
      r = g * 0.5 / double(load(y, i));
      break;
    case 4: { // rsqrt
      double out = load(y, i);
      r = g * -0.5 * out * out * out;
      break;
    }
    case 5: { // tanh
      double out = load(y, i);
      r = g * (1.0 - out * out);
      break;
    }
    case 6: { // sigmoid
      double out = load(y, i);
      r = g * out * (1.0 - out);
      break;
    }
    case 7: // relu
      r = v > 0.0 ? g : 0.0;
      break;
    default: // abs
      r = v > 0.0 ? g : (v < 0.0 ? -g : 0.0);
      break;
    }
    store(dx, i, float(r));
  }
}

/// cpu::geluBackward in f32 (the f64 transcendental functions would make
/// this memory-bound kernel compute-bound; the f32 ones are within 1e-6).
__global__ void geluGradKernel(AnyPtr x, AnyPtr dy, AnyPtr dx, int64_t n,
                               bool tanhApprox) {
  const float kSqrt2OverPi = 0.7978845608028654f, kInvSqrt2 = 0.70710678f,
              kInvSqrt2Pi = 0.3989422804014327f, kCubic = 0.044715f;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    float xi = load(x, i), grad;
    if (tanhApprox) {
      float u = kSqrt2OverPi * (xi + kCubic * xi * xi * xi);
      float th = tanhf(u);
      float du = kSqrt2OverPi * (1.f + 3.f * kCubic * xi * xi);
      grad = 0.5f * (1.f + th) + 0.5f * xi * (1.f - th * th) * du;
    } else {
      grad = 0.5f * (1.f + erff(xi * kInvSqrt2)) +
             xi * kInvSqrt2Pi * expf(-0.5f * xi * xi);
    }
    store(dx, i, load(dy, i) * grad);
  }
}

//===----------------------------------------------------------------------===//
// reduce_grad
//===----------------------------------------------------------------------===//

__global__ void reduceGradSumKernel(AnyPtr dy, AnyPtr dx, IndexMap map,
                                    int64_t n, double scale) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t o, unused;
    mapOffsets(map, i, o, unused);
    store(dx, i, float(double(load(dy, o)) * scale));
  }
}

/// One block per output: the smallest group index whose x equals y[o] (a
/// block-wide min), then every element of the group is written.
__global__ void reduceGradSelectKernel(AnyPtr x, AnyPtr y, AnyPtr dy, AnyPtr dx,
                                       IndexMap kept, IndexMap reduced,
                                       int64_t reducedCount) {
  __shared__ long long firstOfWarp[32];
  int64_t o = blockIdx.x;
  int64_t base, unused;
  mapOffsets(kept, o, base, unused);
  float want = load(y, o);
  long long first = LLONG_MAX;
  for (int64_t r = threadIdx.x; r < reducedCount; r += blockDim.x) {
    int64_t off;
    mapOffsets(reduced, r, off, unused);
    if (load(x, base + off) == want) {
      first = r;
      break;
    }
  }
  for (int offset = 16; offset > 0; offset >>= 1)
    first = min(first, __shfl_xor_sync(0xffffffffu, first, offset));
  if (threadIdx.x % 32 == 0)
    firstOfWarp[threadIdx.x / 32] = first;
  __syncthreads();
  first = LLONG_MAX;
  for (int w = 0; w < int(blockDim.x + 31) / 32; ++w)
    first = min(first, firstOfWarp[w]);
  float g = load(dy, o);
  for (int64_t r = threadIdx.x; r < reducedCount; r += blockDim.x) {
    int64_t off;
    mapOffsets(reduced, r, off, unused);
    store(dx, base + off, r == first ? g : 0.f);
  }
}

//===----------------------------------------------------------------------===//
// softmax_grad, log_softmax_grad
//===----------------------------------------------------------------------===//

/// One warp per row (an (outer, inner) pair).
__global__ void softmaxGradKernel(AnyPtr y, AnyPtr dy, AnyPtr dx, int64_t outer,
                                  int64_t cols, int64_t inner, bool log) {
  int64_t row = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  int lane = threadIdx.x % 32;
  if (row >= outer * inner)
    return;
  int64_t base = (row / inner) * cols * inner + row % inner;
  double acc = 0.0;
  for (int64_t c = lane; c < cols; c += 32) {
    int64_t i = base + c * inner;
    acc += log ? double(load(dy, i)) : double(load(dy, i)) * load(y, i);
  }
  acc = warpSum(acc);
  for (int64_t c = lane; c < cols; c += 32) {
    int64_t i = base + c * inner;
    double yi = load(y, i), gi = load(dy, i);
    store(dx, i, float(log ? gi - exp(yi) * acc : yi * (gi - acc)));
  }
}

//===----------------------------------------------------------------------===//
// layer_norm_grad, rms_norm_grad
//===----------------------------------------------------------------------===//

/// Rows of the dw/db partial sums: a chunk of rows per block row of the
/// column kernel, enough chunks to fill the GPU.
int64_t normChunks(int64_t rows, int64_t dim) {
  int64_t chunks = ceilDiv(kBusyThreads, std::max<int64_t>(dim, 1));
  return std::max<int64_t>(1, std::min<int64_t>({chunks, rows, 1024}));
}

/// One warp per row: the row statistics as the CPU's forward pass computes
/// them (f64 sums, rounded to f32), then dx (Norm.cpp's layerNormBackward or
/// rmsNormBackward). Saves mean and rstd for the column pass.
__global__ void normGradRowsKernel(AnyPtr x, AnyPtr w, AnyPtr dy, AnyPtr dx,
                                   int64_t rows, int64_t dim, float epsilon,
                                   bool layer, float *meanOut, float *rstdOut) {
  int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  int lane = threadIdx.x % 32;
  if (r >= rows)
    return;
  int64_t base = r * dim;
  float mean = 0.f, rstd;
  if (layer) {
    double sum = 0.0;
    for (int64_t i = lane; i < dim; i += 32)
      sum += load(x, base + i);
    double mu = warpSum(sum) / dim;
    double var = 0.0;
    for (int64_t i = lane; i < dim; i += 32) {
      double d = double(load(x, base + i)) - mu;
      var += d * d;
    }
    var = warpSum(var) / dim;
    mean = float(mu);
    rstd = float(1.0 / sqrt(var + epsilon));
  } else {
    double sumSq = 0.0;
    for (int64_t i = lane; i < dim; i += 32) {
      double xi = load(x, base + i);
      sumSq += xi * xi;
    }
    rstd = float(1.0 / sqrt(warpSum(sumSq) / dim + epsilon));
  }
  // dnorm = dy * w; dx = rstd * (dnorm - mean(dnorm) - xhat * mean(dnorm *
  // xhat)), without the mean(dnorm) term for rms_norm.
  double dnormSum = 0.0, dnormXhatSum = 0.0;
  for (int64_t i = lane; i < dim; i += 32) {
    float xi = load(x, base + i);
    double xhat = layer ? double(__fmul_rn(__fsub_rn(xi, mean), rstd))
                        : double(xi) * rstd;
    double dnorm = double(load(dy, base + i)) * load(w, i);
    dnormSum += dnorm;
    dnormXhatSum += dnorm * xhat;
  }
  double dnormMean = layer ? warpSum(dnormSum) / dim : 0.0;
  double dnormXhatMean = warpSum(dnormXhatSum) / dim;
  for (int64_t i = lane; i < dim; i += 32) {
    float xi = load(x, base + i);
    double xhat = layer ? double(__fmul_rn(__fsub_rn(xi, mean), rstd))
                        : double(xi) * rstd;
    double dnorm = double(load(dy, base + i)) * load(w, i);
    store(dx, base + i,
          float(double(rstd) * (dnorm - dnormMean - xhat * dnormXhatMean)));
  }
  if (lane == 0) {
    meanOut[r] = mean;
    rstdOut[r] = rstd;
  }
}

/// Partial dw (and db) of the rows of chunk blockIdx.y, one thread per
/// column.
__global__ void normGradColumnsKernel(AnyPtr x, AnyPtr dy, int64_t rows,
                                      int64_t dim, bool layer,
                                      const float *mean, const float *rstd,
                                      int64_t chunks, double *dwPartial,
                                      double *dbPartial) {
  int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= dim)
    return;
  int64_t per = (rows + chunks - 1) / chunks;
  int64_t begin = blockIdx.y * per, end = min(rows, begin + per);
  double dw = 0.0, db = 0.0;
  for (int64_t r = begin; r < end; ++r) {
    float xi = load(x, r * dim + j);
    double xhat = layer ? double(__fmul_rn(__fsub_rn(xi, mean[r]), rstd[r]))
                        : double(xi) * rstd[r];
    double g = load(dy, r * dim + j);
    dw += g * xhat;
    db += g;
  }
  dwPartial[blockIdx.y * dim + j] = dw;
  if (layer)
    dbPartial[blockIdx.y * dim + j] = db;
}

// The fast path: one warp per row, the row's x and dy read once into
// registers. Lane l owns the columns (k * 32 + l) * V + [0, V) of every row
// for k < K, so it also sums dweight and dbias of those columns over all the
// rows its warp handles; at the end the block adds its warps' sums in shared
// memory and writes one partial row per block, and normPartialsKernel adds
// the blocks' rows.

constexpr int kNormWarps = kThreads / 32;
/// The longest rows of the fast path: 8 groups of 4 columns per lane.
constexpr int64_t kNormFastDim = 1024;

/// Blocks of the fast kernel resident per SM: the register file holds two
/// blocks up to K = 6 (x, dy, dweight and dbias take 16 K registers).
__host__ __device__ constexpr int normFastBlocksPerSm(int groups) {
  return groups <= 6 ? 2 : 1;
}

/// V consecutive elements from element i (a multiple of V).
template <int V>
__device__ __forceinline__ void loadRun(const AnyPtr p, int64_t i,
                                        float (&out)[V]) {
  if constexpr (V == 4) {
    float4 v = load4(p, i);
    out[0] = v.x;
    out[1] = v.y;
    out[2] = v.z;
    out[3] = v.w;
  } else {
    out[0] = load(p, i);
  }
}

/// V consecutive floats of shared memory (16-byte aligned when V is 4).
template <int V>
__device__ __forceinline__ void loadSharedRun(const float *p, float (&out)[V]) {
  if constexpr (V == 4) {
    float4 v = *reinterpret_cast<const float4 *>(p);
    out[0] = v.x;
    out[1] = v.y;
    out[2] = v.z;
    out[3] = v.w;
  } else {
    out[0] = *p;
  }
}

template <int V>
__device__ __forceinline__ void storeRun(AnyPtr p, int64_t i,
                                         const float (&v)[V]) {
  if constexpr (V == 4)
    store4(p, i, make_float4(v[0], v[1], v[2], v[3]));
  else
    store(p, i, v[0]);
}

/// partial[blockIdx.x, c] = Σ over the block's warps of `acc` (each lane's
/// columns), in warp order. `sums` holds kNormWarps x dim floats.
template <int V, int K>
__device__ void writeBlockPartial(const float (&acc)[K][V], float *sums,
                                  int dim, float *partial) {
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  __syncthreads(); // `sums` may still be read by the previous call
#pragma unroll
  for (int k = 0; k < K; ++k) {
    int c = (k * 32 + lane) * V;
    if (c < dim)
#pragma unroll
      for (int j = 0; j < V; ++j)
        sums[warp * dim + c + j] = acc[k][j];
  }
  __syncthreads();
  for (int c = threadIdx.x; c < dim; c += blockDim.x) {
    float total = 0.f;
    for (int w = 0; w < kNormWarps; ++w)
      total += sums[w * dim + c];
    partial[int64_t(blockIdx.x) * dim + c] = total;
  }
}

/// dx of the block's rows (r = blockIdx.x * warps + warp, then every
/// gridDim.x * warps), and the block's partial dw (and db) sums. The row
/// statistics and dx in f32 (Norm.cpp's formulas; the CPU sums in f64, which
/// differs by a few f32 ulps). Needs (1 + kNormWarps) * dim floats of
/// dynamic shared memory: the weight and the warps' column sums.
template <int V, int K>
__global__ void __launch_bounds__(kThreads, normFastBlocksPerSm(K))
    normGradFastKernel(AnyPtr x, AnyPtr w, AnyPtr dy, AnyPtr dx, int64_t rows,
                       int dim, float epsilon, bool layer, float *dwPartial,
                       float *dbPartial) {
  extern __shared__ float4 normShared[];
  float *weight = reinterpret_cast<float *>(normShared), *sums = weight + dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x)
    weight[i] = load(w, i);
  __syncthreads();
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  float dwAcc[K][V], dbAcc[K][V];
#pragma unroll
  for (int k = 0; k < K; ++k)
#pragma unroll
    for (int j = 0; j < V; ++j)
      dwAcc[k][j] = dbAcc[k][j] = 0.f;
  for (int64_t r = int64_t(blockIdx.x) * kNormWarps + warp; r < rows;
       r += int64_t(gridDim.x) * kNormWarps) {
    int64_t base = r * dim;
    float xv[K][V], gv[K][V];
#pragma unroll
    for (int k = 0; k < K; ++k) {
      int c = (k * 32 + lane) * V;
      if (c < dim) {
        loadRun<V>(x, base + c, xv[k]);
        loadRun<V>(dy, base + c, gv[k]);
      } else {
#pragma unroll
        for (int j = 0; j < V; ++j)
          xv[k][j] = gv[k][j] = 0.f;
      }
    }
    // Out-of-row elements are 0 in x and dy; they must stay out of the
    // variance (x - mean), hence the explicit checks.
    float mean = 0.f;
    if (layer) {
      float sum = 0.f;
#pragma unroll
      for (int k = 0; k < K; ++k)
#pragma unroll
        for (int j = 0; j < V; ++j)
          sum += xv[k][j];
      mean = warpSum(sum) / float(dim);
    }
    float squares = 0.f;
#pragma unroll
    for (int k = 0; k < K; ++k)
      if ((k * 32 + lane) * V < dim)
#pragma unroll
        for (int j = 0; j < V; ++j) {
          float d = xv[k][j] - mean;
          squares += d * d;
        }
    float rstd = 1.f / sqrtf(warpSum(squares) / float(dim) + epsilon);
    // dnorm = dy * w; dx = rstd * (dnorm - mean(dnorm) - xhat *
    // mean(dnorm * xhat)), without the mean(dnorm) term for rms_norm (whose
    // mean is 0 here).
    float dnormSum = 0.f, dnormXhatSum = 0.f;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      int c = (k * 32 + lane) * V;
      if (c < dim) {
        float wv[V];
        loadSharedRun<V>(weight + c, wv);
#pragma unroll
        for (int j = 0; j < V; ++j) {
          float xhat = (xv[k][j] - mean) * rstd;
          float dnorm = gv[k][j] * wv[j];
          dnormSum += dnorm;
          dnormXhatSum += dnorm * xhat;
          dwAcc[k][j] += gv[k][j] * xhat;
          dbAcc[k][j] += gv[k][j];
        }
      }
    }
    float dnormMean = layer ? warpSum(dnormSum) / float(dim) : 0.f;
    float dnormXhatMean = warpSum(dnormXhatSum) / float(dim);
#pragma unroll
    for (int k = 0; k < K; ++k) {
      int c = (k * 32 + lane) * V;
      if (c < dim) {
        float wv[V], out[V];
        loadSharedRun<V>(weight + c, wv);
#pragma unroll
        for (int j = 0; j < V; ++j) {
          float xhat = (xv[k][j] - mean) * rstd;
          float dnorm = gv[k][j] * wv[j];
          out[j] = rstd * (dnorm - dnormMean - xhat * dnormXhatMean);
        }
        storeRun<V>(dx, base + c, out);
      }
    }
  }
  writeBlockPartial<V, K>(dwAcc, sums, dim, dwPartial);
  if (layer)
    writeBlockPartial<V, K>(dbAcc, sums, dim, dbPartial);
}

/// dw (blockIdx.y 0) or db (1) = Σ over `blocks` block partials, in f64: 32
/// columns per block, 8 strided runs of blocks per column added in a fixed
/// order.
__global__ void normPartialsKernel(const float *dwPartial,
                                   const float *dbPartial, int64_t blocks,
                                   int dim, AnyPtr dw, AnyPtr db) {
  __shared__ double runs[kNormWarps][32];
  const float *partial = blockIdx.y ? dbPartial : dwPartial;
  int lane = threadIdx.x % 32, run = threadIdx.x / 32;
  int c = blockIdx.x * 32 + lane;
  double acc = 0.0;
  if (c < dim)
    for (int64_t b = run; b < blocks; b += kNormWarps)
      acc += partial[b * dim + c];
  runs[run][lane] = acc;
  __syncthreads();
  if (run == 0 && c < dim) {
    double total = 0.0;
    for (int i = 0; i < kNormWarps; ++i)
      total += runs[i][lane];
    store(blockIdx.y ? db : dw, c, float(total));
  }
}

//===----------------------------------------------------------------------===//
// rope_grad, slice_grad, gather_grad
//===----------------------------------------------------------------------===//

/// One thread per rotated pair; the angle in f64 as Rope.cpp computes it
/// (positions times frequencies reach thousands of radians).
__global__ void ropeGradKernel(AnyPtr dy, AnyPtr dx, int64_t rowsTimesHalf,
                               int64_t seqLen, int64_t headDim, double theta) {
  int64_t half = headDim / 2;
  for (int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
       p < rowsTimesHalf; p += int64_t(gridDim.x) * blockDim.x) {
    int64_t row = p / half, i = p % half, t = row % seqLen;
    double angle = t * pow(theta, -2.0 * i / headDim);
    double s, c;
    sincos(angle, &s, &c);
    s = -s; // the inverse rotation
    double x0 = load(dy, row * headDim + i),
           x1 = load(dy, row * headDim + i + half);
    store(dx, row * headDim + i, float(x0 * c - x1 * s));
    store(dx, row * headDim + i + half, float(x1 * c + x0 * s));
  }
}

__global__ void sliceGradKernel(AnyPtr dy, AnyPtr dx, int64_t n, int64_t len,
                                int64_t inner, int64_t start, int64_t end) {
  int64_t width = end - start;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t in = i % inner, a = (i / inner) % len, o = i / (inner * len);
    float v = 0.f;
    if (a >= start && a < end)
      v = load(dy, (o * width + a - start) * inner + in);
    store(dx, i, v);
  }
}

__global__ void gatherGradKernel(AnyPtr dout, const int32_t *indices,
                                 float *dtable, int64_t n, int64_t rowSize,
                                 int64_t numRows, DeviceErrorRecord *errors,
                                 int32_t kernelIndex) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
       e < n * rowSize; e += int64_t(gridDim.x) * blockDim.x) {
    int64_t i = e / rowSize, c = e % rowSize;
    int64_t row = indices[i];
    if (row < 0 || row >= numRows) {
      if (c == 0)
        device::reportError(errors, kernelIndex, kIndexOutOfRange, i, row,
                            numRows);
      continue;
    }
    atomicAdd(dtable + row * rowSize + c, float(load(dout, e)));
  }
}

__global__ void convertKernel(const float *in, AnyPtr out, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    store(out, i, in[i]);
}

} // namespace

//===----------------------------------------------------------------------===//
// Launchers
//===----------------------------------------------------------------------===//

int training::binaryGradSplits(const BinaryGradSide &side) {
  if (side.reducedCount <= 1)
    return 1;
  int64_t splits =
      std::min(ceilDiv(kBusyThreads, std::max<int64_t>(side.count, 1)),
               ceilDiv(side.reducedCount, 64));
  return int(std::clamp<int64_t>(splits, 1, 4096));
}

size_t training::binaryGradWorkspace(const BinaryGradSide &side) {
  int splits = binaryGradSplits(side);
  return splits == 1 ? 0 : alignedBytes(size_t(splits) * side.count * 8);
}

cudaError_t training::launchBinaryGradSide(int kind, TypedBuffer a,
                                           TypedBuffer b, TypedBuffer dout,
                                           const BinaryGradSide &side,
                                           void *workspace, const Stream &s) {
  if (side.count == 0)
    return cudaSuccess;
  int splits = binaryGradSplits(side);
  double *partials = static_cast<double *>(workspace);
  dim3 grid(unsigned(ceilDiv(side.count, kThreads)), unsigned(splits));
  binaryGradKernel<<<grid, kThreads, 0, s.stream>>>(
      kind, anyPtr(a), anyPtr(b), anyPtr(dout), side, splits, partials);
  if (splits > 1)
    sumSplitsKernel<<<gridFor(side.count), kThreads, 0, s.stream>>>(
        partials, splits, side.count, anyPtr(side.grad));
  return lastError();
}

cudaError_t training::launchUnaryGrad(int kind, TypedBuffer x, TypedBuffer y,
                                      TypedBuffer dy, TypedBuffer dx, int64_t n,
                                      const Stream &s) {
  if (n == 0)
    return cudaSuccess;
  unaryGradKernel<<<gridFor(n), kThreads, 0, s.stream>>>(
      kind, anyPtr(x), anyPtr(y), anyPtr(dy), anyPtr(dx), n);
  return lastError();
}

cudaError_t training::launchGeluGrad(TypedBuffer x, TypedBuffer dy,
                                     TypedBuffer dx, int64_t n, bool tanhApprox,
                                     const Stream &s) {
  if (n == 0)
    return cudaSuccess;
  geluGradKernel<<<gridFor(n), kThreads, 0, s.stream>>>(
      anyPtr(x), anyPtr(dy), anyPtr(dx), n, tanhApprox);
  return lastError();
}

cudaError_t training::launchReduceGradSum(TypedBuffer dy, TypedBuffer dx,
                                          const IndexMap &map, int64_t n,
                                          double scale, const Stream &s) {
  if (n == 0)
    return cudaSuccess;
  reduceGradSumKernel<<<gridFor(n), kThreads, 0, s.stream>>>(
      anyPtr(dy), anyPtr(dx), map, n, scale);
  return lastError();
}

cudaError_t
training::launchReduceGradSelect(TypedBuffer x, TypedBuffer y, TypedBuffer dy,
                                 TypedBuffer dx, const IndexMap &kept,
                                 const IndexMap &reduced, int64_t keptCount,
                                 int64_t reducedCount, const Stream &s) {
  if (keptCount == 0 || reducedCount == 0)
    return cudaSuccess;
  if (keptCount > INT32_MAX)
    return cudaErrorInvalidValue;
  reduceGradSelectKernel<<<unsigned(keptCount), kThreads, 0, s.stream>>>(
      anyPtr(x), anyPtr(y), anyPtr(dy), anyPtr(dx), kept, reduced,
      reducedCount);
  return lastError();
}

cudaError_t training::launchSoftmaxGrad(TypedBuffer y, TypedBuffer dy,
                                        TypedBuffer dx, int64_t outer,
                                        int64_t cols, int64_t inner, bool log,
                                        const Stream &s) {
  int64_t rows = outer * inner;
  if (rows == 0 || cols == 0)
    return cudaSuccess;
  softmaxGradKernel<<<unsigned(ceilDiv(rows * 32, kThreads)), kThreads, 0,
                      s.stream>>>(anyPtr(y), anyPtr(dy), anyPtr(dx), outer,
                                  cols, inner, log);
  return lastError();
}

namespace {

/// Groups of V columns per lane (the fast kernel's K) for rows of `dim`: the
/// smallest compiled one that covers the row, 0 when none does.
int normFastGroups(int64_t dim, int vector) {
  if (vector == 1)
    return dim <= 8 * 32 ? 8 : 0;
  int64_t groups = ceilDiv(dim, 32 * vector);
  for (int k : {1, 2, 4, 6, 8})
    if (groups <= k)
      return k;
  return 0;
}

/// Blocks of the fast kernel: every warp of the GPU busy, at most a warp per
/// row.
int64_t normFastBlocks(int64_t rows, int groups) {
  return std::min<int64_t>(ceilDiv(rows, kNormWarps),
                           132 * normFastBlocksPerSm(groups));
}

/// The fast kernel's vector width for these buffers: 4 for rows of whole
/// aligned vectors up to kNormFastDim, 1 for short rows, 0 when the general
/// path runs.
int normFastVector(TypedBuffer x, TypedBuffer dy, TypedBuffer dx, int64_t dim) {
  if (dim % 4 == 0 && dim <= kNormFastDim && vectorAligned(x) &&
      vectorAligned(dy) && vectorAligned(dx))
    return 4;
  return dim <= 8 * 32 ? 1 : 0;
}

template <int V, int K>
void launchNormGradFast(AnyPtr x, AnyPtr w, AnyPtr dy, AnyPtr dx, int64_t rows,
                        int dim, float epsilon, bool layer, float *dwPartial,
                        float *dbPartial, cudaStream_t s) {
  size_t shared = size_t(1 + kNormWarps) * dim * sizeof(float);
  normGradFastKernel<V, K>
      <<<unsigned(normFastBlocks(rows, K)), kThreads, shared, s>>>(
          x, w, dy, dx, rows, dim, epsilon, layer, dwPartial, dbPartial);
}

} // namespace

size_t training::normGradWorkspace(int64_t rows, int64_t dim) {
  // The general path's statistics and chunk sums, or the fast path's block
  // partials: which one runs depends on the buffers' alignment too.
  int64_t chunks = normChunks(rows, dim);
  size_t general = 2 * alignedBytes(size_t(rows) * 4) +
                   2 * alignedBytes(size_t(chunks) * dim * 8);
  size_t fast = 2 * alignedBytes(size_t(normFastBlocks(rows, 1)) * dim * 4);
  return std::max(general, fast);
}

cudaError_t training::launchNormGrad(TypedBuffer x, TypedBuffer w,
                                     TypedBuffer dy, TypedBuffer dx,
                                     TypedBuffer dw, TypedBuffer db,
                                     int64_t rows, int64_t dim, float epsilon,
                                     void *workspace, const Stream &s) {
  bool layer = db.data != nullptr;
  if (rows == 0 || dim == 0) {
    // No rows: the weight gradients are sums over nothing.
    if (dim > 0) {
      size_t bytes = size_t(dim) * (dw.dtype == 1 ? 2 : 4);
      if (cudaError_t err = cudaMemsetAsync(dw.data, 0, bytes, s.stream))
        return err;
      if (layer)
        return cudaMemsetAsync(db.data, 0, bytes, s.stream);
    }
    return cudaSuccess;
  }
  if (int vector = normFastVector(x, dy, dx, dim)) {
    // The fast path: dx and the block partials, then their sums.
    int groups = normFastGroups(dim, vector);
    int64_t blocks = normFastBlocks(rows, groups);
    float *dwPartial = static_cast<float *>(workspace);
    float *dbPartial =
        reinterpret_cast<float *>(static_cast<char *>(workspace) +
                                  alignedBytes(size_t(blocks) * dim * 4));
    auto launch = vector == 1   ? launchNormGradFast<1, 8>
                  : groups == 1 ? launchNormGradFast<4, 1>
                  : groups == 2 ? launchNormGradFast<4, 2>
                  : groups == 4 ? launchNormGradFast<4, 4>
                  : groups == 6 ? launchNormGradFast<4, 6>
                                : launchNormGradFast<4, 8>;
    launch(anyPtr(x), anyPtr(w), anyPtr(dy), anyPtr(dx), rows, int(dim),
           epsilon, layer, dwPartial, dbPartial, s.stream);
    dim3 grid(unsigned(ceilDiv(dim, 32)), layer ? 2 : 1);
    normPartialsKernel<<<grid, kThreads, 0, s.stream>>>(
        dwPartial, dbPartial, blocks, int(dim), anyPtr(dw), anyPtr(db));
    return lastError();
  }
  int64_t chunks = normChunks(rows, dim);
  char *p = static_cast<char *>(workspace);
  float *mean = reinterpret_cast<float *>(p);
  p += alignedBytes(size_t(rows) * 4);
  float *rstd = reinterpret_cast<float *>(p);
  p += alignedBytes(size_t(rows) * 4);
  double *dwPartial = reinterpret_cast<double *>(p);
  p += alignedBytes(size_t(chunks) * dim * 8);
  double *dbPartial = reinterpret_cast<double *>(p);
  normGradRowsKernel<<<unsigned(ceilDiv(rows * 32, kThreads)), kThreads, 0,
                       s.stream>>>(anyPtr(x), anyPtr(w), anyPtr(dy), anyPtr(dx),
                                   rows, dim, epsilon, layer, mean, rstd);
  dim3 grid(unsigned(ceilDiv(dim, kThreads)), unsigned(chunks));
  normGradColumnsKernel<<<grid, kThreads, 0, s.stream>>>(
      anyPtr(x), anyPtr(dy), rows, dim, layer, mean, rstd, chunks, dwPartial,
      dbPartial);
  sumSplitsKernel<<<gridFor(dim), kThreads, 0, s.stream>>>(
      dwPartial, int(chunks), dim, anyPtr(dw));
  if (layer)
    sumSplitsKernel<<<gridFor(dim), kThreads, 0, s.stream>>>(
        dbPartial, int(chunks), dim, anyPtr(db));
  return lastError();
}

cudaError_t training::launchRopeGrad(TypedBuffer dy, TypedBuffer dx,
                                     int64_t batch, int64_t heads,
                                     int64_t seqLen, int64_t headDim,
                                     float theta, const Stream &s) {
  int64_t pairs = batch * heads * seqLen * (headDim / 2);
  if (pairs == 0)
    return cudaSuccess;
  ropeGradKernel<<<gridFor(pairs), kThreads, 0, s.stream>>>(
      anyPtr(dy), anyPtr(dx), pairs, seqLen, headDim, double(theta));
  return lastError();
}

cudaError_t training::launchSliceGrad(TypedBuffer dy, TypedBuffer dx,
                                      int64_t outer, int64_t len, int64_t inner,
                                      int64_t start, int64_t end,
                                      const Stream &s) {
  int64_t n = outer * len * inner;
  if (n == 0)
    return cudaSuccess;
  sliceGradKernel<<<gridFor(n), kThreads, 0, s.stream>>>(
      anyPtr(dy), anyPtr(dx), n, len, inner, start, end);
  return lastError();
}

size_t training::gatherGradWorkspace(TypedBuffer dtable, int64_t numRows,
                                     int64_t rowSize) {
  return dtable.dtype == 0 ? 0 : alignedBytes(size_t(numRows) * rowSize * 4);
}

cudaError_t training::launchGatherGrad(TypedBuffer dout, const int32_t *indices,
                                       TypedBuffer dtable, int64_t n,
                                       int64_t rowSize, int64_t numRows,
                                       void *workspace, const Stream &s) {
  int64_t tableSize = numRows * rowSize;
  bool direct = dtable.dtype == 0;
  float *acc = direct ? static_cast<float *>(dtable.data)
                      : static_cast<float *>(workspace);
  if (tableSize > 0)
    if (cudaError_t err =
            cudaMemsetAsync(acc, 0, size_t(tableSize) * 4, s.stream))
      return err;
  if (n * rowSize > 0)
    gatherGradKernel<<<gridFor(n * rowSize), kThreads, 0, s.stream>>>(
        anyPtr(dout), indices, acc, n, rowSize, numRows, s.errors,
        s.kernelIndex);
  if (!direct && tableSize > 0)
    convertKernel<<<gridFor(tableSize), kThreads, 0, s.stream>>>(
        acc, anyPtr(dtable), tableSize);
  return lastError();
}
