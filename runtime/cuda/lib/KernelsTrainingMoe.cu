//===- KernelsTrainingMoe.cu - MoE routing and top-k on the GPU -----------===//
//
// moe_dispatch, moe_combine, their gradients, topk and topk_grad
// (KernelsTraining.h). The MoE kernels replay cpu::moeAssignSlots: an
// assignment's slot is the number of earlier assignments to its expert, when
// that is below the capacity. One block per expert computes its slots with a
// block-wide prefix count over the assignments in order, so that the table is
// the CPU's exactly and the same on every run.
//
//===----------------------------------------------------------------------===//

#include "KernelsTrainingDevice.cuh"

#include <climits>

using namespace strata::cuda;
using namespace strata::cuda::training;
namespace cpu = strata::cpu;
using device::AnyPtr;
using device::load;
using device::store;

namespace {

constexpr int kThreads = 256;

cudaError_t lastError() { return cudaGetLastError(); }

size_t elementBytes(int dtype) { return dtype == device::kBF16 ? 2 : 4; }

/// Block e < experts writes the slots of expert e's assignments; block
/// `experts` marks the assignments with an invalid expert id (slot -1) and
/// reports the first it sees.
__global__ void assignSlotsKernel(MoeRouting routing, int32_t *slots,
                                  DeviceErrorRecord *errors,
                                  int32_t kernelIndex) {
  __shared__ int32_t warpCounts[kThreads / 32];
  int64_t assignments = routing.tokens * routing.k;
  int64_t expert = blockIdx.x;
  if (expert == routing.experts) {
    for (int64_t a = threadIdx.x; a < assignments; a += blockDim.x) {
      int64_t e = routing.indices[a];
      if (e < 0 || e >= routing.experts) {
        slots[a] = -1;
        device::reportError(errors, kernelIndex, kIndexOutOfRange, a, e,
                            routing.experts);
      }
    }
    return;
  }
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  int64_t used = 0;
  for (int64_t start = 0; start < assignments; start += blockDim.x) {
    int64_t a = start + threadIdx.x;
    bool mine = a < assignments && routing.indices[a] == expert;
    unsigned mask = __ballot_sync(0xffffffffu, mine);
    if (lane == 0)
      warpCounts[warp] = __popc(mask);
    __syncthreads();
    int64_t before = used + __popc(mask & ((1u << lane) - 1));
    int32_t total = 0;
    for (int w = 0; w < kThreads / 32; ++w) {
      if (w < warp)
        before += warpCounts[w];
      total += warpCounts[w];
    }
    if (mine)
      slots[a] = before < routing.capacity ? int32_t(before) : -1;
    used += total;
    __syncthreads(); // warpCounts is rewritten by the next chunk
  }
}

cudaError_t assignSlots(const MoeRouting &routing, int32_t *slots,
                        const Stream &s) {
  if (routing.tokens * routing.k == 0)
    return cudaSuccess;
  assignSlotsKernel<<<unsigned(routing.experts + 1), kThreads, 0, s.stream>>>(
      routing, slots, s.errors, s.kernelIndex);
  return lastError();
}

/// out[(e * capacity + slot) * dim + d] = x[token * dim + d] for each kept
/// assignment (the rest of out is zeroed before).
__global__ void dispatchKernel(AnyPtr x, AnyPtr out, MoeRouting routing,
                               const int32_t *slots, int64_t dim) {
  int64_t n = routing.tokens * routing.k * dim;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t a = i / dim, d = i % dim;
    int32_t slot = slots[a];
    if (slot < 0)
      continue;
    int64_t row = int64_t(routing.indices[a]) * routing.capacity + slot;
    store(out, row * dim + d, load(x, (a / routing.k) * dim + d));
  }
}

/// out[token, d] = Σ_j weights[a] * y[slot row of a, d] in f64 (Moe.cpp).
__global__ void combineKernel(AnyPtr y, AnyPtr weights, AnyPtr out,
                              MoeRouting routing, const int32_t *slots,
                              int64_t dim) {
  int64_t n = routing.tokens * dim;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t token = i / dim, d = i % dim;
    double acc = 0.0;
    for (int64_t j = 0; j < routing.k; ++j) {
      int64_t a = token * routing.k + j;
      if (slots[a] < 0)
        continue;
      int64_t row = int64_t(routing.indices[a]) * routing.capacity + slots[a];
      acc += double(load(weights, a)) * load(y, row * dim + d);
    }
    store(out, i, float(acc));
  }
}

/// dx[token, d] = Σ_j dout[slot row of a, d], in j order as Moe.cpp adds.
__global__ void dispatchGradKernel(AnyPtr dout, AnyPtr dx, MoeRouting routing,
                                   const int32_t *slots, int64_t dim) {
  int64_t n = routing.tokens * dim;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t token = i / dim, d = i % dim;
    float acc = 0.f;
    for (int64_t j = 0; j < routing.k; ++j) {
      int64_t a = token * routing.k + j;
      if (slots[a] < 0)
        continue;
      int64_t row = int64_t(routing.indices[a]) * routing.capacity + slots[a];
      acc = __fadd_rn(acc, load(dout, row * dim + d));
    }
    store(dx, i, acc);
  }
}

/// dy[slot row of a, d] = weights[a] * dout[token, d] (each kept slot has one
/// assignment; the rest of dy is zeroed before).
__global__ void combineGradYKernel(AnyPtr weights, AnyPtr dout, AnyPtr dy,
                                   MoeRouting routing, const int32_t *slots,
                                   int64_t dim) {
  int64_t n = routing.tokens * routing.k * dim;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t a = i / dim, d = i % dim;
    int32_t slot = slots[a];
    if (slot < 0)
      continue;
    int64_t row = int64_t(routing.indices[a]) * routing.capacity + slot;
    store(dy, row * dim + d,
          __fmul_rn(load(weights, a), load(dout, (a / routing.k) * dim + d)));
  }
}

/// One warp per assignment: dweights[a] = dout[token] · y[slot row] (f64), 0
/// for a dropped assignment.
__global__ void combineGradWeightsKernel(AnyPtr y, AnyPtr dout, AnyPtr dweights,
                                         MoeRouting routing,
                                         const int32_t *slots, int64_t dim) {
  int64_t a = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  int lane = threadIdx.x % 32;
  if (a >= routing.tokens * routing.k)
    return;
  int32_t slot = slots[a];
  double dot = 0.0;
  if (slot >= 0) {
    int64_t row = int64_t(routing.indices[a]) * routing.capacity + slot;
    int64_t token = a / routing.k;
    for (int64_t d = lane; d < dim; d += 32)
      dot += double(load(dout, token * dim + d)) * load(y, row * dim + d);
    dot = warpSum(dot);
  }
  if (lane == 0)
    store(dweights, a, float(dot));
}

//===----------------------------------------------------------------------===//
// topk
//===----------------------------------------------------------------------===//

/// Whether (v1, i1) comes before (v2, i2): larger value, then smaller index;
/// index INT_MAX is "no element" and comes last.
__device__ __forceinline__ bool before(float v1, int i1, float v2, int i2) {
  if (i2 == INT_MAX)
    return i1 != INT_MAX;
  if (i1 == INT_MAX)
    return false;
  return v1 > v2 || (v1 == v2 && i1 < i2);
}

/// One block per row, k rounds: round j picks the first element (in the
/// order above) after the one round j - 1 picked.
__global__ void topkKernel(AnyPtr x, AnyPtr values, int32_t *indices,
                           int64_t cols, int64_t k) {
  __shared__ float warpValue[32];
  __shared__ int warpIndex[32];
  int64_t r = blockIdx.x;
  int64_t base = r * cols;
  float lastValue = 0.f;
  int lastIndex = -1;
  for (int64_t j = 0; j < k; ++j) {
    float bestValue = 0.f;
    int bestIndex = INT_MAX;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      float v = load(x, base + c);
      bool after = lastIndex < 0 || before(lastValue, lastIndex, v, int(c));
      if (after && before(v, int(c), bestValue, bestIndex)) {
        bestValue = v;
        bestIndex = int(c);
      }
    }
    for (int offset = 16; offset > 0; offset >>= 1) {
      float v = __shfl_xor_sync(0xffffffffu, bestValue, offset);
      int i = __shfl_xor_sync(0xffffffffu, bestIndex, offset);
      if (before(v, i, bestValue, bestIndex)) {
        bestValue = v;
        bestIndex = i;
      }
    }
    if (threadIdx.x % 32 == 0) {
      warpValue[threadIdx.x / 32] = bestValue;
      warpIndex[threadIdx.x / 32] = bestIndex;
    }
    __syncthreads();
    for (int w = 0; w < int(blockDim.x / 32); ++w)
      if (before(warpValue[w], warpIndex[w], bestValue, bestIndex)) {
        bestValue = warpValue[w];
        bestIndex = warpIndex[w];
      }
    __syncthreads(); // the shared slots are rewritten next round
    if (threadIdx.x == 0) {
      store(values, r * k + j, bestValue);
      indices[r * k + j] = bestIndex;
    }
    lastValue = bestValue;
    lastIndex = bestIndex;
  }
}

__global__ void topkGradKernel(AnyPtr dvalues, const int32_t *indices,
                               AnyPtr dx, int64_t rows, int64_t cols, int64_t k,
                               DeviceErrorRecord *errors, int32_t kernelIndex) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
       i < rows * cols; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t r = i / cols, c = i % cols;
    float acc = 0.f;
    for (int64_t j = 0; j < k; ++j) {
      int64_t col = indices[r * k + j];
      if (col == c)
        acc = __fadd_rn(acc, load(dvalues, r * k + j));
      else if (c == 0 && (col < 0 || col >= cols))
        device::reportError(errors, kernelIndex, kIndexOutOfRange, r * k + j,
                            col, cols);
    }
    store(dx, i, acc);
  }
}

} // namespace

size_t training::moeWorkspace(const MoeRouting &routing) {
  return alignedBytes(size_t(routing.tokens * routing.k) * 4);
}

cudaError_t training::launchMoeDispatch(TypedBuffer x, TypedBuffer out,
                                        const MoeRouting &routing, int64_t dim,
                                        void *workspace, const Stream &s) {
  int32_t *slots = static_cast<int32_t *>(workspace);
  size_t outBytes = size_t(routing.experts * routing.capacity * dim) *
                    elementBytes(out.dtype);
  if (outBytes > 0)
    if (cudaError_t err = cudaMemsetAsync(out.data, 0, outBytes, s.stream))
      return err;
  if (cudaError_t err = assignSlots(routing, slots, s))
    return err;
  int64_t n = routing.tokens * routing.k * dim;
  if (n > 0)
    dispatchKernel<<<gridFor(n), kThreads, 0, s.stream>>>(
        anyPtr(x), anyPtr(out), routing, slots, dim);
  return lastError();
}

cudaError_t training::launchMoeCombine(TypedBuffer y, TypedBuffer weights,
                                       TypedBuffer out,
                                       const MoeRouting &routing, int64_t dim,
                                       void *workspace, const Stream &s) {
  int32_t *slots = static_cast<int32_t *>(workspace);
  if (cudaError_t err = assignSlots(routing, slots, s))
    return err;
  int64_t n = routing.tokens * dim;
  if (n > 0)
    combineKernel<<<gridFor(n), kThreads, 0, s.stream>>>(
        anyPtr(y), anyPtr(weights), anyPtr(out), routing, slots, dim);
  return lastError();
}

cudaError_t training::launchMoeDispatchGrad(TypedBuffer dout, TypedBuffer dx,
                                            const MoeRouting &routing,
                                            int64_t dim, void *workspace,
                                            const Stream &s) {
  int32_t *slots = static_cast<int32_t *>(workspace);
  if (cudaError_t err = assignSlots(routing, slots, s))
    return err;
  int64_t n = routing.tokens * dim;
  if (n > 0)
    dispatchGradKernel<<<gridFor(n), kThreads, 0, s.stream>>>(
        anyPtr(dout), anyPtr(dx), routing, slots, dim);
  return lastError();
}

cudaError_t training::launchMoeCombineGrad(TypedBuffer y, TypedBuffer weights,
                                           TypedBuffer dout, TypedBuffer dy,
                                           TypedBuffer dweights,
                                           const MoeRouting &routing,
                                           int64_t dim, void *workspace,
                                           const Stream &s) {
  int32_t *slots = static_cast<int32_t *>(workspace);
  size_t dyBytes =
      size_t(routing.experts * routing.capacity * dim) * elementBytes(dy.dtype);
  if (dyBytes > 0)
    if (cudaError_t err = cudaMemsetAsync(dy.data, 0, dyBytes, s.stream))
      return err;
  if (cudaError_t err = assignSlots(routing, slots, s))
    return err;
  int64_t assignments = routing.tokens * routing.k;
  if (assignments * dim > 0)
    combineGradYKernel<<<gridFor(assignments * dim), kThreads, 0, s.stream>>>(
        anyPtr(weights), anyPtr(dout), anyPtr(dy), routing, slots, dim);
  if (assignments > 0)
    combineGradWeightsKernel<<<unsigned(ceilDiv(assignments * 32, kThreads)),
                               kThreads, 0, s.stream>>>(
        anyPtr(y), anyPtr(dout), anyPtr(dweights), routing, slots, dim);
  return lastError();
}

cudaError_t training::launchTopk(TypedBuffer x, TypedBuffer values,
                                 int32_t *indices, int64_t rows, int64_t cols,
                                 int64_t k, const Stream &s) {
  if (rows == 0 || k == 0)
    return cudaSuccess;
  if (rows > INT32_MAX || cols >= INT_MAX)
    return cudaErrorInvalidValue;
  int threads = cols <= 64 ? 32 : cols <= 1024 ? 128 : 512;
  topkKernel<<<unsigned(rows), threads, 0, s.stream>>>(
      anyPtr(x), anyPtr(values), indices, cols, k);
  return lastError();
}

cudaError_t training::launchTopkGrad(TypedBuffer dvalues,
                                     const int32_t *indices, TypedBuffer dx,
                                     int64_t rows, int64_t cols, int64_t k,
                                     const Stream &s) {
  if (rows * cols == 0)
    return cudaSuccess;
  topkGradKernel<<<gridFor(rows * cols), kThreads, 0, s.stream>>>(
      anyPtr(dvalues), indices, anyPtr(dx), rows, cols, k, s.errors,
      s.kernelIndex);
  return lastError();
}
