//===- KernelsForwardRows.cu - Reductions and row-wise normalizations -----===//
//
// reduce, softmax / log_softmax, layer_norm / rms_norm and cross_entropy.
// A row that is contiguous in memory is shared by the threads of one
// rowBlock() (warp shuffles, then shared memory across warps), so that reads
// are coalesced; the statistics take one pass each over the row (the second
// pass hits the cache) and accumulate in f32. A softmax over an inner axis
// gives each thread one output and reads across threads.
//
// A reduction whose reduced dimensions are one block (x [outer, reduced,
// inner]: a bias gradient over {0, 1}, a row sum over the last axis) reads x
// in 16-byte vectors: across threads along the kept inner dimension, or
// along the row when inner == 1. When the outputs alone would not fill the
// GPU, the reduced extent is split into chunks (planReduceSplit) whose f32
// partial results are combined in chunk order by a second kernel, so that
// the result is the same on every run. Other layouts take the general
// kernels with index arithmetic. The reference is runtime/cpu/lib/Reduce.cpp,
// CrossEntropy.cpp and Norm.cpp.
//
//===----------------------------------------------------------------------===//

#include "KernelsForward.cuh"

#include <algorithm>
#include <type_traits>

using namespace strata;
using namespace strata::cuda;
using namespace strata::cuda::device;
using detail::ErrorSink;
using detail::ReduceDims;
using detail::reduceVector;
using detail::rowBlock;
using detail::rowGrid;

namespace {

constexpr int kThreads = 256;

//===----------------------------------------------------------------------===//
// reduce
//===----------------------------------------------------------------------===//

__device__ __forceinline__ float reduceInit(cpu::ReduceKind kind) {
  if (kind == cpu::ReduceKind::Max)
    return -INFINITY;
  if (kind == cpu::ReduceKind::Min)
    return INFINITY;
  return 0.0f;
}

__device__ __forceinline__ float reduceStep(cpu::ReduceKind kind, float acc,
                                            float v) {
  if (kind == cpu::ReduceKind::Max)
    return v > acc ? v : acc;
  if (kind == cpu::ReduceKind::Min)
    return v < acc ? v : acc;
  return acc + v;
}

__device__ __forceinline__ float reduceFinish(cpu::ReduceKind kind, float acc,
                                              int64_t count) {
  return kind == cpu::ReduceKind::Mean && count > 0 ? acc / float(count) : acc;
}

/// The general layout (several reduced blocks): one output per row of a
/// rowBlock, the reduced elements found by index arithmetic.
__global__ void reduceRows(cpu::ReduceKind kind, AnyPtr x, AnyPtr out,
                           ReduceDims dims) {
  __shared__ float scratch[32 * 8];
  int64_t o = blockIdx.x * int64_t(blockDim.y) + threadIdx.y;
  bool active = o < dims.numOutputs;
  float acc = reduceInit(kind);
  if (active) {
    int64_t base = stridedOffset(dims.kept, 0, o);
    for (int64_t j = threadIdx.x; j < dims.numReduced; j += blockDim.x)
      acc = reduceStep(kind, acc,
                       load(x, base + stridedOffset(dims.reduced, 0, j)));
  }
  if (kind == cpu::ReduceKind::Max)
    acc = rowMax(acc, scratch);
  else if (kind == cpu::ReduceKind::Min)
    acc = -rowMax(-acc, scratch);
  else
    acc = rowSum(acc, scratch);
  if (active && threadIdx.x == 0)
    store(out, o, reduceFinish(kind, acc, dims.numReduced));
}

/// Blocks of (32, kColumnLanes): threadIdx.x picks one of 32 consecutive
/// outputs (consecutive in x too: the innermost dimension is kept),
/// threadIdx.y a share of the reduced elements.
constexpr int kColumnLanes = 8;

__global__ void reduceColumns(cpu::ReduceKind kind, AnyPtr x, AnyPtr out,
                              ReduceDims dims) {
  __shared__ float partial[kColumnLanes][33];
  int64_t o = blockIdx.x * int64_t(32) + threadIdx.x;
  float acc = reduceInit(kind);
  if (o < dims.numOutputs) {
    int64_t base = stridedOffset(dims.kept, 0, o);
    for (int64_t j = threadIdx.y; j < dims.numReduced; j += kColumnLanes)
      acc = reduceStep(kind, acc,
                       load(x, base + stridedOffset(dims.reduced, 0, j)));
  }
  partial[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y != 0 || o >= dims.numOutputs)
    return;
  for (int lane = 1; lane < kColumnLanes; ++lane)
    acc = reduceStep(kind, acc, partial[lane][threadIdx.x]);
  store(out, o, reduceFinish(kind, acc, dims.numReduced));
}

/// A result of a contiguous reduction: the final value of output `o`, or
/// with `partials` the partial result of `chunk`.
__device__ __forceinline__ void
putReduced(cpu::ReduceKind kind, AnyPtr out, float *partials,
           const ReduceDims &dims, int64_t chunk, int64_t o, float acc) {
  if (partials)
    partials[chunk * dims.numOutputs + o] = acc;
  else
    store(out, o, reduceFinish(kind, acc, dims.numReduced));
}

/// The contiguous kernels are instantiated for each Step, the combination
/// of two values (Sum also for Mean, which `kind` finishes), so that no
/// branch on the kind sits in their loops.
///
/// x [outer, numReduced] reduced over its rows (inner == 1): the threads of
/// one row of a rowBlock share it, V elements per load. Grid (row blocks,
/// chunks): blockIdx.y picks the chunk of every row of the block.
template <typename T, int V, cpu::ReduceKind Step>
__global__ void reduceRowsContiguous(cpu::ReduceKind kind, const T *x,
                                     AnyPtr out, float *partials,
                                     ReduceDims dims) {
  __shared__ float scratch[32 * 8];
  int64_t o = blockIdx.x * int64_t(blockDim.y) + threadIdx.y;
  bool active = o < dims.numOutputs;
  float acc = reduceInit(Step);
  if (active) {
    // The chunk's bounds are multiples of V (planReduceSplit), and so is
    // the row length when V > 1 (reduceVector).
    int64_t begin = blockIdx.y * dims.chunkSize;
    int64_t length = min(dims.chunkSize, dims.numReduced - begin);
    const T *row = x + o * dims.numReduced + begin;
    for (int64_t j = threadIdx.x * V; j < length; j += blockDim.x * V) {
      Vec<T, V> v = *reinterpret_cast<const Vec<T, V> *>(row + j);
#pragma unroll
      for (int k = 0; k < V; ++k)
        acc = reduceStep(Step, acc, toFloat(v.v[k]));
    }
  }
  if (Step == cpu::ReduceKind::Max)
    acc = rowMax(acc, scratch);
  else if (Step == cpu::ReduceKind::Min)
    acc = -rowMax(-acc, scratch);
  else
    acc = rowSum(acc, scratch);
  if (active && threadIdx.x == 0)
    putReduced(kind, out, partials, dims, blockIdx.y, o, acc);
}

/// x [outer, numReduced, inner] reduced over its middle dimension (inner >
/// 1): the column reduction of a bias gradient. Blocks of (32,
/// kColumnLanes) threads own a tile of 32 * V columns and one chunk of rows:
/// threadIdx.x loads V consecutive columns of a row (a warp reads 32 * V
/// contiguous elements), threadIdx.y every kColumnLanes-th row of the
/// chunk. The lanes' sums then meet in shared memory, in lane order. Grid
/// (column tiles, chunks, outer), blockIdx.z striding over `outer`.
template <typename T, int V, cpu::ReduceKind Step>
__global__ void reduceColumnsContiguous(cpu::ReduceKind kind, const T *x,
                                        AnyPtr out, float *partials,
                                        ReduceDims dims) {
  __shared__ float tile[kColumnLanes][32 * V];
  int64_t cols = dims.inner, tileBegin = blockIdx.x * int64_t(32 * V);
  int64_t col = tileBegin + threadIdx.x * V;
  int64_t rowBegin = blockIdx.y * dims.chunkSize;
  int64_t rowEnd = min(rowBegin + dims.chunkSize, dims.numReduced);
  for (int64_t a = blockIdx.z; a < dims.outer; a += gridDim.z) {
    float acc[V];
#pragma unroll
    for (int k = 0; k < V; ++k)
      acc[k] = reduceInit(Step);
    // With V > 1, cols is a multiple of V: a vector is in or out whole.
    if (col < cols) {
      int64_t step = kColumnLanes * cols, r = rowBegin + threadIdx.y;
      const T *p = x + (a * dims.numReduced + r) * cols + col;
      auto add = [&](const T *at) {
        Vec<T, V> v = *reinterpret_cast<const Vec<T, V> *>(at);
#pragma unroll
        for (int k = 0; k < V; ++k)
          acc[k] = reduceStep(Step, acc[k], toFloat(v.v[k]));
      };
      // Four rows per iteration: four loads in flight before the sums.
      for (; r + 3 * kColumnLanes < rowEnd; r += 4 * kColumnLanes) {
        Vec<T, V> v[4];
#pragma unroll
        for (int u = 0; u < 4; ++u)
          v[u] = *reinterpret_cast<const Vec<T, V> *>(p + u * step);
#pragma unroll
        for (int u = 0; u < 4; ++u)
#pragma unroll
          for (int k = 0; k < V; ++k)
            acc[k] = reduceStep(Step, acc[k], toFloat(v[u].v[k]));
        p += 4 * step;
      }
      for (; r < rowEnd; r += kColumnLanes, p += step)
        add(p);
    }
#pragma unroll
    for (int k = 0; k < V; ++k)
      tile[threadIdx.y][threadIdx.x * V + k] = acc[k];
    __syncthreads();
    for (int c = threadIdx.y * 32 + threadIdx.x; c < 32 * V;
         c += 32 * kColumnLanes) {
      if (tileBegin + c >= cols)
        break;
      float sum = tile[0][c];
      for (int lane = 1; lane < kColumnLanes; ++lane)
        sum = reduceStep(Step, sum, tile[lane][c]);
      putReduced(kind, out, partials, dims, blockIdx.y,
                 a * cols + tileBegin + c, sum);
    }
    __syncthreads(); // the next `a` reuses the tile
  }
}

/// The second pass of a split reduction: each output's partial results in
/// chunk order.
__global__ void combinePartials(cpu::ReduceKind kind, const float *partials,
                                AnyPtr out, ReduceDims dims) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
       o < dims.numOutputs; o += int64_t(gridDim.x) * blockDim.x) {
    float acc = partials[o];
    for (int64_t chunk = 1; chunk < dims.chunks; ++chunk)
      acc = reduceStep(kind, acc, partials[chunk * dims.numOutputs + o]);
    store(out, o, reduceFinish(kind, acc, dims.numReduced));
  }
}

/// Launches the contiguous reduction's first pass with x's element type T.
template <typename T>
cudaError_t launchReduceContiguous(cpu::ReduceKind kind, const T *x, AnyPtr out,
                                   float *partials, const ReduceDims &dims,
                                   cudaStream_t stream) {
  constexpr int kVector = 16 / sizeof(T);
  int64_t rowElements = dims.inner > 1 ? dims.inner : dims.numReduced;
  bool vector =
      reduceVector(rowElements, sizeof(T)) == kVector && alignedTo(x, 16);
  auto launch = [&](auto step, auto width) {
    constexpr cpu::ReduceKind Step = decltype(step)::value;
    constexpr int V = decltype(width)::value;
    if (dims.inner > 1) {
      dim3 grid(unsigned((dims.inner + 32 * V - 1) / (32 * V)),
                unsigned(dims.chunks),
                unsigned(std::min<int64_t>(dims.outer, 65535)));
      reduceColumnsContiguous<T, V, Step>
          <<<grid, dim3(32, kColumnLanes), 0, stream>>>(kind, x, out, partials,
                                                        dims);
    } else {
      dim3 block = rowBlock(std::min(dims.chunkSize, dims.numReduced));
      dim3 grid(rowGrid(dims.numOutputs, block), unsigned(dims.chunks));
      reduceRowsContiguous<T, V, Step>
          <<<grid, block, 0, stream>>>(kind, x, out, partials, dims);
    }
    return cudaGetLastError();
  };
  auto withStep = [&](auto width) {
    using Kind = cpu::ReduceKind;
    if (kind == Kind::Max)
      return launch(std::integral_constant<Kind, Kind::Max>(), width);
    if (kind == Kind::Min)
      return launch(std::integral_constant<Kind, Kind::Min>(), width);
    return launch(std::integral_constant<Kind, Kind::Sum>(), width);
  };
  if (vector)
    return withStep(std::integral_constant<int, kVector>());
  return withStep(std::integral_constant<int, 1>());
}

//===----------------------------------------------------------------------===//
// softmax, log_softmax
//===----------------------------------------------------------------------===//

__global__ void softmaxRows(bool log, AnyPtr x, AnyPtr out, int64_t rows,
                            int64_t cols) {
  __shared__ float scratch[32 * 8];
  int64_t r = blockIdx.x * int64_t(blockDim.y) + threadIdx.y;
  bool active = r < rows;
  int64_t base = r * cols;
  float maxVal = -INFINITY;
  if (active)
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x)
      maxVal = fmaxf(maxVal, load(x, base + i));
  maxVal = rowMax(maxVal, scratch);
  float sum = 0.0f;
  if (active)
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x)
      sum += expf(load(x, base + i) - maxVal);
  sum = rowSum(sum, scratch);
  if (!active)
    return;
  float logSum = logf(sum), inverse = 1.0f / sum;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    float shifted = load(x, base + i) - maxVal;
    store(out, base + i, log ? shifted - logSum : expf(shifted) * inverse);
  }
}

/// One thread per (outer, inner) position; consecutive threads read
/// consecutive inner positions.
__global__ void softmaxStrided(bool log, AnyPtr x, AnyPtr out, int64_t outer,
                               int64_t cols, int64_t inner) {
  int64_t n = outer * inner;
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < n;
       p += int64_t(gridDim.x) * blockDim.x) {
    int64_t base = (p / inner) * cols * inner + p % inner;
    float maxVal = -INFINITY, sum = 0.0f;
    for (int64_t i = 0; i < cols; ++i)
      maxVal = fmaxf(maxVal, load(x, base + i * inner));
    for (int64_t i = 0; i < cols; ++i)
      sum += expf(load(x, base + i * inner) - maxVal);
    float logSum = logf(sum), inverse = 1.0f / sum;
    for (int64_t i = 0; i < cols; ++i) {
      float shifted = load(x, base + i * inner) - maxVal;
      store(out, base + i * inner,
            log ? shifted - logSum : expf(shifted) * inverse);
    }
  }
}

//===----------------------------------------------------------------------===//
// layer_norm, rms_norm
//===----------------------------------------------------------------------===//

__global__ void normRows(AnyPtr x, AnyPtr weight, AnyPtr bias, AnyPtr out,
                         int64_t rows, int64_t dim, float epsilon) {
  __shared__ float scratch[32 * 8];
  int64_t r = blockIdx.x * int64_t(blockDim.y) + threadIdx.y;
  bool active = r < rows, layerNorm = bias.data != nullptr;
  int64_t base = r * dim;
  float mean = 0.0f;
  if (layerNorm) {
    float sum = 0.0f;
    if (active)
      for (int64_t i = threadIdx.x; i < dim; i += blockDim.x)
        sum += load(x, base + i);
    mean = rowSum(sum, scratch) / float(dim);
  }
  // Σ (x - mean)² for layer_norm (two passes: no cancellation), Σ x² for
  // rms_norm (mean = 0).
  float squares = 0.0f;
  if (active)
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
      float d = load(x, base + i) - mean;
      squares += d * d;
    }
  squares = rowSum(squares, scratch);
  if (!active)
    return;
  float rstd = 1.0f / sqrtf(squares / float(dim) + epsilon);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    float v = (load(x, base + i) - mean) * rstd * load(weight, i);
    if (layerNorm)
      v += load(bias, i);
    store(out, base + i, v);
  }
}

/// normRows for x and out of element types TX and TO whose rows are
/// multiples of 4 elements (aligned): each thread takes 4 consecutive
/// elements per step, in one vector load (and store).
template <typename TX, typename TO>
__global__ void normRowsX4(const TX *x, AnyPtr weight, AnyPtr bias, TO *out,
                           int64_t rows, int64_t dim, float epsilon) {
  constexpr int V = 4;
  __shared__ float scratch[32 * 8];
  int64_t r = blockIdx.x * int64_t(blockDim.y) + threadIdx.y;
  bool active = r < rows, layerNorm = bias.data != nullptr;
  const TX *row = x + r * dim;
  auto loadX = [&](int64_t i) {
    return *reinterpret_cast<const Vec<TX, V> *>(row + i);
  };
  float mean = 0.0f;
  if (layerNorm) {
    float sum = 0.0f;
    if (active)
      for (int64_t i = threadIdx.x * V; i < dim; i += blockDim.x * V) {
        Vec<TX, V> v = loadX(i);
#pragma unroll
        for (int k = 0; k < V; ++k)
          sum += toFloat(v.v[k]);
      }
    mean = rowSum(sum, scratch) / float(dim);
  }
  float squares = 0.0f;
  if (active)
    for (int64_t i = threadIdx.x * V; i < dim; i += blockDim.x * V) {
      Vec<TX, V> v = loadX(i);
#pragma unroll
      for (int k = 0; k < V; ++k) {
        float d = toFloat(v.v[k]) - mean;
        squares += d * d;
      }
    }
  squares = rowSum(squares, scratch);
  if (!active)
    return;
  float rstd = 1.0f / sqrtf(squares / float(dim) + epsilon);
  for (int64_t i = threadIdx.x * V; i < dim; i += blockDim.x * V) {
    Vec<TX, V> v = loadX(i);
    Vec<TO, V> result;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      float y = (toFloat(v.v[k]) - mean) * rstd * load(weight, i + k);
      if (layerNorm)
        y += load(bias, i + k);
      result.v[k] = fromFloat<TO>(y);
    }
    *reinterpret_cast<Vec<TO, V> *>(out + r * dim + i) = result;
  }
}

/// Launches normRowsX4 for output type TO.
template <typename TX, typename TO>
void launchNormX4(const TX *x, AnyPtr weight, AnyPtr bias, void *out,
                  int64_t rows, int64_t dim, float epsilon,
                  cudaStream_t stream) {
  dim3 block = rowBlock(dim / 4);
  normRowsX4<TX, TO><<<rowGrid(rows, block), block, 0, stream>>>(
      x, weight, bias, static_cast<TO *>(out), rows, dim, epsilon);
}

//===----------------------------------------------------------------------===//
// cross_entropy
//===----------------------------------------------------------------------===//

__global__ void crossEntropyRows(AnyPtr logits, const int32_t *targets,
                                 float *rowLoss, int64_t rows, int64_t vocab,
                                 ErrorSink errors) {
  __shared__ float scratch[32 * 8];
  int64_t r = blockIdx.x * int64_t(blockDim.y) + threadIdx.y;
  bool active = r < rows;
  int64_t base = r * vocab;
  float maxVal = -INFINITY;
  if (active)
    for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x)
      maxVal = fmaxf(maxVal, load(logits, base + i));
  maxVal = rowMax(maxVal, scratch);
  float sum = 0.0f;
  if (active)
    for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x)
      sum += expf(load(logits, base + i) - maxVal);
  sum = rowSum(sum, scratch);
  if (!active || threadIdx.x != 0)
    return;
  int64_t target = targets[r];
  if (target < 0 || target >= vocab) {
    reportError(errors.record, errors.kernel, kIndexOutOfRange, r, target,
                vocab);
    rowLoss[r] = 0.0f;
    return;
  }
  rowLoss[r] = logf(sum) + maxVal - load(logits, base + target);
}

/// The mean of the row losses, summed in a fixed order (the same bits on
/// every run).
__global__ void meanOfRows(const float *rowLoss, int64_t rows, AnyPtr loss) {
  __shared__ float scratch[32];
  float sum = 0.0f;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x)
    sum += rowLoss[r];
  sum = rowSum(sum, scratch);
  if (threadIdx.x == 0)
    store(loss, 0, sum / float(rows));
}

} // namespace

cudaError_t detail::launchReduce(cpu::ReduceKind kind, DevicePtr x,
                                 DevicePtr out, const ReduceDims &dims,
                                 float *partials, cudaStream_t stream) {
  if (dims.numOutputs == 0)
    return cudaSuccess;
  if (dims.contiguous && dims.numReduced > 0) {
    float *firstPass = dims.chunks > 1 ? partials : nullptr;
    cudaError_t err;
    if (x.dtype == kBF16)
      err = launchReduceContiguous(kind,
                                   static_cast<const __nv_bfloat16 *>(x.data),
                                   any(out), firstPass, dims, stream);
    else if (x.dtype == kI32)
      err = launchReduceContiguous(kind, static_cast<const int32_t *>(x.data),
                                   any(out), firstPass, dims, stream);
    else
      err = launchReduceContiguous(kind, static_cast<const float *>(x.data),
                                   any(out), firstPass, dims, stream);
    if (err != cudaSuccess || dims.chunks <= 1)
      return err;
    combinePartials<<<gridFor(dims.numOutputs), kThreads, 0, stream>>>(
        kind, partials, any(out), dims);
  } else if (dims.innerKept) {
    unsigned blocks = unsigned((dims.numOutputs + 31) / 32);
    reduceColumns<<<blocks, dim3(32, kColumnLanes), 0, stream>>>(
        kind, any(x), any(out), dims);
  } else {
    dim3 block = rowBlock(dims.numReduced);
    reduceRows<<<rowGrid(dims.numOutputs, block), block, 0, stream>>>(
        kind, any(x), any(out), dims);
  }
  return cudaGetLastError();
}

cudaError_t detail::launchSoftmax(bool log, DevicePtr x, DevicePtr out,
                                  int64_t outer, int64_t cols, int64_t inner,
                                  cudaStream_t stream) {
  if (outer * cols * inner == 0)
    return cudaSuccess;
  if (inner == 1) {
    dim3 block = rowBlock(cols);
    softmaxRows<<<rowGrid(outer, block), block, 0, stream>>>(
        log, any(x), any(out), outer, cols);
  } else {
    softmaxStrided<<<gridFor(outer * inner), kThreads, 0, stream>>>(
        log, any(x), any(out), outer, cols, inner);
  }
  return cudaGetLastError();
}

cudaError_t detail::launchNorm(DevicePtr x, DevicePtr weight, DevicePtr bias,
                               DevicePtr out, int64_t rows, int64_t dim,
                               float epsilon, cudaStream_t stream) {
  if (rows * dim == 0)
    return cudaSuccess;
  bool vector = dim % 4 == 0 && x.dtype != kI32 && out.dtype != kI32 &&
                alignedTo(x.data, x.dtype == kBF16 ? 8 : 16) &&
                alignedTo(out.data, out.dtype == kBF16 ? 8 : 16);
  if (!vector) {
    dim3 block = rowBlock(dim);
    normRows<<<rowGrid(rows, block), block, 0, stream>>>(
        any(x), any(weight), any(bias), any(out), rows, dim, epsilon);
    return cudaGetLastError();
  }
  const void *xData = x.data;
  AnyPtr w = any(weight), b = any(bias);
  bool bf16In = x.dtype == kBF16, bf16Out = out.dtype == kBF16;
  if (bf16In && bf16Out)
    launchNormX4<__nv_bfloat16, __nv_bfloat16>(
        static_cast<const __nv_bfloat16 *>(xData), w, b, out.data, rows, dim,
        epsilon, stream);
  else if (bf16In)
    launchNormX4<__nv_bfloat16, float>(
        static_cast<const __nv_bfloat16 *>(xData), w, b, out.data, rows, dim,
        epsilon, stream);
  else if (bf16Out)
    launchNormX4<float, __nv_bfloat16>(static_cast<const float *>(xData), w, b,
                                       out.data, rows, dim, epsilon, stream);
  else
    launchNormX4<float, float>(static_cast<const float *>(xData), w, b,
                               out.data, rows, dim, epsilon, stream);
  return cudaGetLastError();
}

cudaError_t detail::launchCrossEntropy(DevicePtr logits, const int32_t *targets,
                                       DevicePtr loss, float *rowLoss,
                                       int64_t rows, int64_t vocab,
                                       ErrorSink errors, cudaStream_t stream) {
  if (rows > 0) {
    dim3 block = rowBlock(vocab);
    crossEntropyRows<<<rowGrid(rows, block), block, 0, stream>>>(
        any(logits), targets, rowLoss, rows, vocab, errors);
  }
  meanOfRows<<<1, 1024, 0, stream>>>(rowLoss, rows, any(loss));
  return cudaGetLastError();
}
