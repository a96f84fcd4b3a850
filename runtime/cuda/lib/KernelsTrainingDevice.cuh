//===- KernelsTrainingDevice.cuh - Device helpers of the training kernels -===//
//
// Internal to the KernelsTraining*.cu files: index maps, warp and block
// reductions, vectorized loads and stores of four elements, and the
// conversion of a launcher's TypedBuffer to DeviceUtil's AnyPtr.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CUDA_LIB_KERNELSTRAININGDEVICE_CUH
#define STRATA_CUDA_LIB_KERNELSTRAININGDEVICE_CUH

#include "DeviceUtil.cuh"
#include "KernelsTraining.h"

#include <cfloat>
#include <cstdint>

namespace strata::cuda::training {

__host__ __device__ inline device::AnyPtr anyPtr(TypedBuffer b) {
  return {b.data, b.dtype};
}

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Whether load4/store4 may address `b`: its start is aligned to four
/// elements (16 bytes of f32, 8 of bf16). Plan buffers are; views into the
/// middle of one need not be.
__host__ __device__ inline bool vectorAligned(const void *data, int dtype) {
  return reinterpret_cast<uintptr_t>(data) %
             (dtype == device::kBF16 ? 8 : 16) ==
         0;
}
inline bool vectorAligned(TypedBuffer b) {
  return vectorAligned(b.data, b.dtype);
}

/// Four bf16 values as one 8-byte word.
union Bf16x4 {
  uint2 word;
  __nv_bfloat162 pair[2];
};

/// Elements i..i+3 of an f32 or bf16 buffer in one load; i is a multiple of
/// 4 and the buffer vectorAligned.
__device__ __forceinline__ float4 load4(const device::AnyPtr p, int64_t i) {
  if (p.dtype == device::kBF16) {
    Bf16x4 v;
    v.word = *reinterpret_cast<const uint2 *>(
        static_cast<const __nv_bfloat16 *>(p.data) + i);
    float2 lo = __bfloat1622float2(v.pair[0]),
           hi = __bfloat1622float2(v.pair[1]);
    return make_float4(lo.x, lo.y, hi.x, hi.y);
  }
  return *reinterpret_cast<const float4 *>(static_cast<const float *>(p.data) +
                                           i);
}

/// Stores elements i..i+3 (load4's conditions), rounding to bf16 as store.
__device__ __forceinline__ void store4(device::AnyPtr p, int64_t i, float4 v) {
  if (p.dtype == device::kBF16) {
    Bf16x4 out;
    out.pair[0] = __floats2bfloat162_rn(v.x, v.y);
    out.pair[1] = __floats2bfloat162_rn(v.z, v.w);
    *reinterpret_cast<uint2 *>(static_cast<__nv_bfloat16 *>(p.data) + i) =
        out.word;
    return;
  }
  *reinterpret_cast<float4 *>(static_cast<float *>(p.data) + i) = v;
}

/// The two offsets of `flat` under `map` (IndexMap's doc).
__device__ __forceinline__ void mapOffsets(const IndexMap &map, int64_t flat,
                                           int64_t &first, int64_t &second) {
  first = 0;
  second = 0;
  for (int d = map.rank - 1; d >= 0; --d) {
    int64_t c = flat % map.dims[d];
    flat /= map.dims[d];
    first += c * map.first[d];
    second += c * map.second[d];
  }
}

template <typename T> __device__ __forceinline__ T warpSum(T v) {
  for (int offset = 16; offset > 0; offset >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

/// The sum of `v` over the block, returned to every thread. `scratch` holds
/// 32 elements of shared memory; the fixed shape of the tree makes the result
/// the same on every run.
template <typename T> __device__ T blockSum(T v, T *scratch) {
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  int warps = (blockDim.x + 31) / 32;
  v = warpSum(v);
  __syncthreads(); // scratch may still be read by a previous call
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : T(0);
  return warpSum(v);
}

} // namespace strata::cuda::training

#endif // STRATA_CUDA_LIB_KERNELSTRAININGDEVICE_CUH
