//===- DeviceUtil.cuh - Device helpers of the plan kernels ------*- CUDA
//-*-===//
//
// Internal to runtime/cuda's .cu files: dtype-erased loads and stores (every
// kernel computes in f32 and rounds to its output's dtype on the store), grid
// sizes for grid-stride loops, and the device error record.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CUDA_LIB_DEVICEUTIL_CUH
#define STRATA_CUDA_LIB_DEVICEUTIL_CUH

#include "GridSize.h"
#include "strata/Cuda/DeviceError.h"

#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace strata::cuda::device {

/// The dtype codes of KernelTable.h's DeviceDType.
enum : int { kF32 = 0, kBF16 = 1, kI32 = 2 };

/// A buffer whose dtype is known only at run time.
struct AnyPtr {
  void *data;
  int dtype;
};

__device__ __forceinline__ float load(const AnyPtr p, int64_t i) {
  switch (p.dtype) {
  case kBF16:
    return __bfloat162float(static_cast<const __nv_bfloat16 *>(p.data)[i]);
  case kI32:
    return float(static_cast<const int32_t *>(p.data)[i]);
  default:
    return static_cast<const float *>(p.data)[i];
  }
}

__device__ __forceinline__ void store(AnyPtr p, int64_t i, float v) {
  switch (p.dtype) {
  case kBF16:
    static_cast<__nv_bfloat16 *>(p.data)[i] = __float2bfloat16_rn(v);
    break;
  case kI32:
    static_cast<int32_t *>(p.data)[i] = int32_t(v);
    break;
  default:
    static_cast<float *>(p.data)[i] = v;
  }
}

/// Typed versions for kernels templated on the element type.
__device__ __forceinline__ float toFloat(float v) { return v; }
__device__ __forceinline__ float toFloat(__nv_bfloat16 v) {
  return __bfloat162float(v);
}
template <typename T> __device__ __forceinline__ T fromFloat(float v);
template <> __device__ __forceinline__ float fromFloat<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 fromFloat<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

/// Records the first data error of a step; later ones are dropped.
__device__ __forceinline__ void reportError(DeviceErrorRecord *record,
                                            int32_t kernel, int32_t code,
                                            int64_t position, int64_t value,
                                            int64_t bound) {
  if (!record)
    return;
  if (atomicCAS(&record->code, 0, code) == 0) {
    record->kernel = kernel;
    record->position = position;
    record->value = value;
    record->bound = bound;
  }
}

} // namespace strata::cuda::device

#endif // STRATA_CUDA_LIB_DEVICEUTIL_CUH
