//===- KernelsForward.cuh - Device helpers of the forward kernels -*- CUDA -*-//
//
// Internal to the KernelsForward*.cu files: strided index arithmetic, vector
// accesses, moves that keep integers exact, and the sums and maxima over the
// threads that share one row.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CUDA_LIB_KERNELSFORWARD_CUH
#define STRATA_CUDA_LIB_KERNELSFORWARD_CUH

#include "DeviceUtil.cuh"
#include "KernelsForward.h"

namespace strata::cuda::device {

using detail::DevicePtr;
using detail::StridedDims;

__host__ __device__ __forceinline__ AnyPtr any(DevicePtr p) {
  return AnyPtr{p.data, p.dtype};
}

/// The offset in operand `which` of the element at row-major position `flat`
/// of `index.dims`.
__device__ __forceinline__ int64_t stridedOffset(const StridedDims &index,
                                                 int which, int64_t flat) {
  int64_t offset = 0;
  for (int d = index.rank - 1; d >= 0; --d) {
    int64_t dim = index.dims[d];
    offset += (flat % dim) * index.strides[which][d];
    flat /= dim;
  }
  return offset;
}

/// N elements that move as one vector access (at most 16 bytes, aligned to
/// its size): the loads and stores of the vectorized kernels.
template <typename T, int N> struct alignas(sizeof(T) * N) Vec { T v[N]; };

/// toFloat (DeviceUtil.cuh) of the integer elements some kernels also read.
__device__ __forceinline__ float toFloat(int32_t v) { return float(v); }

/// Whether `p` is aligned to `bytes`.
__host__ __device__ __forceinline__ bool alignedTo(const void *p, int bytes) {
  return reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

/// out[o] = in[i]; the bits are copied when the dtypes agree (exact for I32
/// beyond 2^24), else converted through f32.
__device__ __forceinline__ void moveElement(DevicePtr in, int64_t i,
                                            DevicePtr out, int64_t o) {
  if (in.dtype == out.dtype) {
    if (in.dtype == kBF16)
      static_cast<uint16_t *>(out.data)[o] =
          static_cast<const uint16_t *>(in.data)[i];
    else
      static_cast<uint32_t *>(out.data)[o] =
          static_cast<const uint32_t *>(in.data)[i];
    return;
  }
  store(any(out), o, load(any(in), i));
}

__device__ __forceinline__ float warpSum(float v) {
  for (int offset = 16; offset > 0; offset /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ __forceinline__ float warpMax(float v) {
  for (int offset = 16; offset > 0; offset /= 2)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

/// The row kernels' blocks are (32 * warpsPerRow, rowsPerBlock): threadIdx.y
/// picks the row, the blockDim.x threads of a row share its work. Every
/// thread of the block must call these (they synchronize when a row spans
/// several warps); every thread of a row gets the result. `scratch` holds 32
/// floats per row of the block.
template <bool IsMax>
__device__ __forceinline__ float rowReduce(float v, float *scratch) {
  v = IsMax ? warpMax(v) : warpSum(v);
  int warps = blockDim.x / 32;
  if (warps == 1)
    return v;
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  float *mine = scratch + threadIdx.y * 32;
  __syncthreads(); // an earlier reduction may still read `scratch`
  if (lane == 0)
    mine[warp] = v;
  __syncthreads();
  float identity = IsMax ? -INFINITY : 0.0f;
  v = lane < warps ? mine[lane] : identity;
  return IsMax ? warpMax(v) : warpSum(v);
}

__device__ __forceinline__ float rowSum(float v, float *scratch) {
  return rowReduce<false>(v, scratch);
}
__device__ __forceinline__ float rowMax(float v, float *scratch) {
  return rowReduce<true>(v, scratch);
}

} // namespace strata::cuda::device

namespace strata::cuda::detail {

/// The block shape of a row kernel over rows of `cols` elements: a power of
/// two of warps per row (about 8 elements per thread, at most 32 warps) and
/// enough rows per block for 256 threads.
inline dim3 rowBlock(int64_t cols) {
  int warps = 1;
  while (warps < 32 && int64_t(warps) * 32 * 8 < cols)
    warps *= 2;
  int rowsPerBlock = warps >= 8 ? 1 : 8 / warps;
  return dim3(32 * warps, rowsPerBlock);
}

/// Blocks for `rows` rows of blocks shaped `block`.
inline unsigned rowGrid(int64_t rows, dim3 block) {
  return unsigned((rows + block.y - 1) / block.y);
}

} // namespace strata::cuda::detail

#endif // STRATA_CUDA_LIB_KERNELSFORWARD_CUH
