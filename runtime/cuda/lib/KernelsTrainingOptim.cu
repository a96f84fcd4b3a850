//===- KernelsTrainingOptim.cu - State and optimizer kernels on the GPU ---===//
//
// accumulate, global_norm, lr_schedule, AdamW (one or many tensors per
// launch) and SGD. The optimizer steps follow the CPU's formula order
// operation by operation (no fused multiply-adds where the CPU rounds twice,
// f64 where it computes in double), so that parameters stay within an ulp or
// two of the CPU's after a step. The scalars (lr, gradient scale, step) are
// read on the device: nothing here reads device memory on the host.
//
// Multi-tensor launches carry their table of tensors by value as the
// kernel's parameter (kept under the 4 KB every CUDA version takes): a host
// write of a table to device memory would not be replayed by a CUDA graph.
//
//===----------------------------------------------------------------------===//

#include "KernelsTrainingDevice.cuh"

#include <algorithm>

using namespace strata::cuda;
using namespace strata::cuda::training;
namespace cpu = strata::cpu;
using device::AnyPtr;
using device::load;
using device::store;

namespace {

constexpr int kThreads = 256;
/// Elements one block of a multi-tensor kernel handles (a multiple of 4 *
/// kThreads).
constexpr int64_t kBlockElements = kThreads * 16;

cudaError_t lastError() { return cudaGetLastError(); }

/// The tensor that block `block` works on: the last t with firstBlock[t] <=
/// block.
__device__ int tensorOfBlock(const int32_t *firstBlock, int numTensors,
                             int32_t block) {
  int lo = 0, hi = numTensors - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (firstBlock[mid] <= block)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

//===----------------------------------------------------------------------===//
// accumulate
//===----------------------------------------------------------------------===//

/// target += value; with `vector`, the first n / 4 * 4 elements four at a
/// time (both buffers vectorAligned).
__global__ void accumulateKernel(AnyPtr target, AnyPtr value, int64_t n,
                                 bool vector) {
  int64_t stride = int64_t(gridDim.x) * blockDim.x;
  int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t done = 0;
  if (vector) {
    for (int64_t q = first; q < n / 4; q += stride) {
      float4 a = load4(target, 4 * q), b = load4(value, 4 * q);
      store4(target, 4 * q,
             make_float4(__fadd_rn(a.x, b.x), __fadd_rn(a.y, b.y),
                         __fadd_rn(a.z, b.z), __fadd_rn(a.w, b.w)));
    }
    done = n / 4 * 4;
  }
  for (int64_t i = done + first; i < n; i += stride)
    store(target, i, __fadd_rn(load(target, i), load(value, i)));
}

//===----------------------------------------------------------------------===//
// global_norm
//===----------------------------------------------------------------------===//

constexpr int kNormTableSize = 128;

struct NormTable {
  const void *data[kNormTableSize];
  int64_t count[kNormTableSize];
  int32_t firstBlock[kNormTableSize];
  int8_t dtype[kNormTableSize];
  int numTensors;
  /// Index of this launch's first block among all launches' partial sums.
  int64_t partialBase;
};
static_assert(sizeof(NormTable) < 4000, "kernel parameters are <= 4 KB");

__global__ void sumOfSquaresKernel(const __grid_constant__ NormTable table,
                                   double *partials) {
  __shared__ double scratch[32];
  int t = tensorOfBlock(table.firstBlock, table.numTensors, blockIdx.x);
  AnyPtr x{const_cast<void *>(table.data[t]), table.dtype[t]};
  int64_t begin = (blockIdx.x - table.firstBlock[t]) * kBlockElements;
  int64_t end = min(table.count[t], begin + kBlockElements);
  double acc = 0.0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    double v = load(x, i);
    acc += v * v;
  }
  acc = blockSum(acc, scratch);
  if (threadIdx.x == 0)
    partials[table.partialBase + blockIdx.x] = acc;
}

__global__ void normOfPartialsKernel(const double *partials, int64_t count,
                                     AnyPtr out) {
  __shared__ double scratch[32];
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x)
    acc += partials[i];
  acc = blockSum(acc, scratch);
  if (threadIdx.x == 0)
    store(out, 0, float(sqrt(acc)));
}

int64_t blocksOf(int64_t count) { return ceilDiv(count, kBlockElements); }

//===----------------------------------------------------------------------===//
// lr_schedule
//===----------------------------------------------------------------------===//

/// cpu::learningRate, in f64.
__global__ void lrScheduleKernel(const int32_t *stepPtr, AnyPtr lr,
                                 cpu::LrSchedule s) {
  int64_t step = *stepPtr;
  double rate;
  if (s.warmupSteps > 0 && step <= s.warmupSteps) {
    rate = s.baseLr * double(step) / double(s.warmupSteps);
  } else if (s.kind == cpu::LrScheduleKind::Constant) {
    rate = s.baseLr;
  } else {
    double decaySteps = double(
        s.totalSteps - s.warmupSteps > 1 ? s.totalSteps - s.warmupSteps : 1);
    double progress =
        fmin(fmax(double(step - s.warmupSteps) / decaySteps, 0.0), 1.0);
    rate = s.minLr + 0.5 * (s.baseLr - s.minLr) *
                         (1.0 + cos(3.14159265358979323846 * progress));
  }
  store(lr, 0, float(rate));
}

//===----------------------------------------------------------------------===//
// AdamW
//===----------------------------------------------------------------------===//

constexpr int kAdamwTableSize = 72;

struct AdamwTable {
  void *param[kAdamwTableSize];
  const void *grad[kAdamwTableSize];
  void *m[kAdamwTableSize];
  void *v[kAdamwTableSize];
  int64_t count[kAdamwTableSize];
  float weightDecay[kAdamwTableSize];
  int32_t firstBlock[kAdamwTableSize];
  /// DeviceDTypes of param, grad, m and v.
  int8_t dtype[4][kAdamwTableSize];
  int numTensors;
  float beta1, beta2, epsilon;
  AnyPtr lr, gradScale;
  const int32_t *step;
};
static_assert(sizeof(AdamwTable) < 4000, "kernel parameters are <= 4 KB");

/// The scalars of one tensor's AdamW step.
struct AdamwScalars {
  float beta1, beta2, epsilon, lr, gradScale, weightDecay;
  double biasCorrection1, biasCorrection2;
};

/// One element of cpu::adamwUpdate, operation by operation (no contracted
/// multiply-adds): the gradient `grad` updates m, v and the parameter p.
__device__ __forceinline__ void adamwElement(const AdamwScalars &c, float grad,
                                             float &m, float &v, float &p) {
  float g = __fmul_rn(grad, c.gradScale);
  m = __fadd_rn(__fmul_rn(c.beta1, m), __fmul_rn(__fsub_rn(1.0f, c.beta1), g));
  v = __fadd_rn(__fmul_rn(c.beta2, v),
                __fmul_rn(__fmul_rn(__fsub_rn(1.0f, c.beta2), g), g));
  double mHat = __ddiv_rn(double(m), c.biasCorrection1);
  double vHat = __ddiv_rn(double(v), c.biasCorrection2);
  double step = __ddiv_rn(mHat, __dadd_rn(__dsqrt_rn(vHat), double(c.epsilon)));
  double update =
      __dmul_rn(double(c.lr),
                __dadd_rn(step, __dmul_rn(double(c.weightDecay), double(p))));
  p = __fsub_rn(p, float(update));
}

/// The four-element version of adamwElement.
__device__ __forceinline__ void adamwQuad(const AdamwScalars &c, float4 grad,
                                          float4 &m, float4 &v, float4 &p) {
  adamwElement(c, grad.x, m.x, v.x, p.x);
  adamwElement(c, grad.y, m.y, v.y, p.y);
  adamwElement(c, grad.z, m.z, v.z, p.z);
  adamwElement(c, grad.w, m.w, v.w, p.w);
}

/// cpu::adamwUpdate on the block's chunk of its tensor: four elements at a
/// time where all four buffers are vectorAligned (all of a thread's loads
/// issued before its first store), one at a time otherwise and for the
/// chunk's last n % 4 elements.
__global__ void __launch_bounds__(kThreads)
    adamwKernel(const __grid_constant__ AdamwTable table) {
  __shared__ double biasCorrections[2];
  int64_t step = *table.step;
  if (step < 1)
    return;
  if (threadIdx.x == 0) {
    biasCorrections[0] = 1.0 - pow(double(table.beta1), double(step));
    biasCorrections[1] = 1.0 - pow(double(table.beta2), double(step));
  }
  __syncthreads();
  int t = tensorOfBlock(table.firstBlock, table.numTensors, blockIdx.x);
  AnyPtr param{table.param[t], table.dtype[0][t]};
  AnyPtr grad{const_cast<void *>(table.grad[t]), table.dtype[1][t]};
  AnyPtr m{table.m[t], table.dtype[2][t]}, v{table.v[t], table.dtype[3][t]};
  AdamwScalars c{table.beta1,
                 table.beta2,
                 table.epsilon,
                 load(table.lr, 0),
                 load(table.gradScale, 0),
                 table.weightDecay[t],
                 biasCorrections[0],
                 biasCorrections[1]};
  int64_t begin = (blockIdx.x - table.firstBlock[t]) * kBlockElements;
  int64_t end = min(table.count[t], begin + kBlockElements);
  int64_t done = begin;
  if (vectorAligned(param.data, param.dtype) &&
      vectorAligned(grad.data, grad.dtype) && vectorAligned(m.data, m.dtype) &&
      vectorAligned(v.data, v.dtype)) {
    // begin is a multiple of kBlockElements, hence of 4.
    constexpr int kQuads = kBlockElements / (4 * kThreads);
    int64_t quads = (end - begin) / 4;
    float4 gq[kQuads], mq[kQuads], vq[kQuads], pq[kQuads];
#pragma unroll
    for (int u = 0; u < kQuads; ++u) {
      int64_t q = threadIdx.x + u * kThreads, i = begin + 4 * q;
      if (q < quads) {
        gq[u] = load4(grad, i);
        mq[u] = load4(m, i);
        vq[u] = load4(v, i);
        pq[u] = load4(param, i);
      }
    }
#pragma unroll
    for (int u = 0; u < kQuads; ++u) {
      int64_t q = threadIdx.x + u * kThreads, i = begin + 4 * q;
      if (q < quads) {
        adamwQuad(c, gq[u], mq[u], vq[u], pq[u]);
        store4(m, i, mq[u]);
        store4(v, i, vq[u]);
        store4(param, i, pq[u]);
      }
    }
    done = begin + 4 * quads;
  }
  for (int64_t i = done + threadIdx.x; i < end; i += kThreads) {
    float mi = load(m, i), vi = load(v, i), p = load(param, i);
    adamwElement(c, load(grad, i), mi, vi, p);
    store(m, i, mi);
    store(v, i, vi);
    store(param, i, p);
  }
}

//===----------------------------------------------------------------------===//
// SGD
//===----------------------------------------------------------------------===//

/// cpu::sgdUpdate.
__global__ void sgdKernel(AnyPtr param, AnyPtr grad, AnyPtr buffer,
                          AnyPtr lrPtr, AnyPtr scalePtr, int64_t n,
                          float momentum, float weightDecay) {
  float lr = load(lrPtr, 0), scale = load(scalePtr, 0);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    float p = load(param, i);
    float g =
        __fadd_rn(__fmul_rn(load(grad, i), scale), __fmul_rn(weightDecay, p));
    if (buffer.data) {
      g = __fadd_rn(__fmul_rn(momentum, load(buffer, i)), g);
      store(buffer, i, g);
    }
    store(param, i, __fsub_rn(p, __fmul_rn(lr, g)));
  }
}

} // namespace

//===----------------------------------------------------------------------===//
// Launchers
//===----------------------------------------------------------------------===//

cudaError_t training::launchAccumulate(TypedBuffer target, TypedBuffer value,
                                       int64_t n, const Stream &s) {
  if (n == 0)
    return cudaSuccess;
  bool vector = vectorAligned(target) && vectorAligned(value);
  accumulateKernel<<<gridFor(vector ? ceilDiv(n, 4) : n), kThreads, 0,
                     s.stream>>>(anyPtr(target), anyPtr(value), n, vector);
  return lastError();
}

size_t training::globalNormWorkspace(const NormTensor *tensors,
                                     int numTensors) {
  int64_t blocks = 0;
  for (int i = 0; i < numTensors; ++i)
    blocks += blocksOf(tensors[i].count);
  return alignedBytes(size_t(blocks) * 8);
}

cudaError_t training::launchGlobalNorm(const NormTensor *tensors,
                                       int numTensors, TypedBuffer out,
                                       void *workspace, const Stream &s) {
  double *partials = static_cast<double *>(workspace);
  NormTable table{};
  int64_t partialCount = 0;
  auto flush = [&]() -> cudaError_t {
    int64_t blocks = table.firstBlock[table.numTensors - 1] +
                     blocksOf(table.count[table.numTensors - 1]);
    if (blocks > INT32_MAX)
      return cudaErrorInvalidValue;
    sumOfSquaresKernel<<<unsigned(blocks), kThreads, 0, s.stream>>>(table,
                                                                    partials);
    partialCount += blocks;
    table.partialBase = partialCount;
    table.numTensors = 0;
    return lastError();
  };
  for (int i = 0; i < numTensors; ++i) {
    if (tensors[i].count == 0)
      continue;
    int n = table.numTensors;
    table.data[n] = tensors[i].data.data;
    table.dtype[n] = int8_t(tensors[i].data.dtype);
    table.count[n] = tensors[i].count;
    table.firstBlock[n] =
        n == 0
            ? 0
            : int32_t(table.firstBlock[n - 1] + blocksOf(table.count[n - 1]));
    table.numTensors = n + 1;
    if (table.numTensors == kNormTableSize)
      if (cudaError_t err = flush())
        return err;
  }
  if (table.numTensors > 0)
    if (cudaError_t err = flush())
      return err;
  normOfPartialsKernel<<<1, 1024, 0, s.stream>>>(partials, partialCount,
                                                 anyPtr(out));
  return lastError();
}

cudaError_t training::launchLrSchedule(const int32_t *step, TypedBuffer lr,
                                       const cpu::LrSchedule &schedule,
                                       const Stream &s) {
  lrScheduleKernel<<<1, 1, 0, s.stream>>>(step, anyPtr(lr), schedule);
  return lastError();
}

int training::adamwTensorsPerLaunch() { return kAdamwTableSize; }

cudaError_t training::launchAdamw(const AdamwTensor *tensors, int numTensors,
                                  const AdamwShared &shared, const Stream &s) {
  AdamwTable table{};
  table.beta1 = shared.beta1;
  table.beta2 = shared.beta2;
  table.epsilon = shared.epsilon;
  table.lr = anyPtr(shared.lr);
  table.gradScale = anyPtr(shared.gradScale);
  table.step = shared.step;
  auto flush = [&]() -> cudaError_t {
    int last = table.numTensors - 1;
    int64_t blocks = table.firstBlock[last] + blocksOf(table.count[last]);
    if (blocks > INT32_MAX)
      return cudaErrorInvalidValue;
    adamwKernel<<<unsigned(blocks), kThreads, 0, s.stream>>>(table);
    table.numTensors = 0;
    return lastError();
  };
  for (int i = 0; i < numTensors; ++i) {
    const AdamwTensor &tensor = tensors[i];
    if (tensor.count == 0)
      continue;
    int n = table.numTensors;
    table.param[n] = tensor.param.data;
    table.grad[n] = tensor.grad.data;
    table.m[n] = tensor.m.data;
    table.v[n] = tensor.v.data;
    table.dtype[0][n] = int8_t(tensor.param.dtype);
    table.dtype[1][n] = int8_t(tensor.grad.dtype);
    table.dtype[2][n] = int8_t(tensor.m.dtype);
    table.dtype[3][n] = int8_t(tensor.v.dtype);
    table.count[n] = tensor.count;
    table.weightDecay[n] = tensor.weightDecay;
    table.firstBlock[n] =
        n == 0
            ? 0
            : int32_t(table.firstBlock[n - 1] + blocksOf(table.count[n - 1]));
    table.numTensors = n + 1;
    if (table.numTensors == kAdamwTableSize)
      if (cudaError_t err = flush())
        return err;
  }
  if (table.numTensors > 0)
    return flush();
  return cudaSuccess;
}

cudaError_t training::launchSgd(TypedBuffer param, TypedBuffer grad,
                                TypedBuffer momentumBuffer, TypedBuffer lr,
                                TypedBuffer gradScale, int64_t n,
                                float momentum, float weightDecay,
                                const Stream &s) {
  if (n == 0)
    return cudaSuccess;
  sgdKernel<<<gridFor(n), kThreads, 0, s.stream>>>(
      anyPtr(param), anyPtr(grad), anyPtr(momentumBuffer), anyPtr(lr),
      anyPtr(gradScale), n, momentum, weightDecay);
  return lastError();
}
