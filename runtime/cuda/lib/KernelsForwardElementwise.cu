//===- KernelsForwardElementwise.cu - Elementwise plan kernels ------------===//
//
// Binary ops with broadcasting, unary ops and activations, dtype conversion,
// iota and constants: grid-stride loops over the output, f32 arithmetic,
// rounding to the output's dtype on the store; the common f32 unary ops and
// the conversions move four elements per vector access. The formulas are the
// CPU reference's (runtime/cpu/lib/Elementwise.cpp, Activation.cpp).
//
//===----------------------------------------------------------------------===//

#include "KernelsForward.cuh"

using namespace strata;
using namespace strata::cuda;
using namespace strata::cuda::device;
using detail::ConstantChunk;
using detail::UnaryOp;

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float applyBinary(cpu::BinaryKind kind, float a,
                                             float b) {
  switch (kind) {
  case cpu::BinaryKind::Add:
    return a + b;
  case cpu::BinaryKind::Sub:
    return a - b;
  case cpu::BinaryKind::Mul:
    return a * b;
  case cpu::BinaryKind::Div:
    return a / b;
  case cpu::BinaryKind::Maximum:
    return a >= b ? a : b;
  case cpu::BinaryKind::Minimum:
    return a <= b ? a : b;
  case cpu::BinaryKind::Pow:
    return powf(a, b);
  }
  return 0.0f;
}

__device__ __forceinline__ float applyUnary(UnaryOp op, float x) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  constexpr float kInvSqrt2 = 0.7071067811865476f;
  switch (op) {
  case UnaryOp::Neg:
    return -x;
  case UnaryOp::Exp:
    return expf(x);
  case UnaryOp::Log:
    return logf(x);
  case UnaryOp::Sqrt:
    return sqrtf(x);
  case UnaryOp::Rsqrt:
    return 1.0f / sqrtf(x);
  case UnaryOp::Tanh:
    return tanhf(x);
  case UnaryOp::Sigmoid:
    return 1.0f / (1.0f + expf(-x));
  case UnaryOp::Relu:
    return x > 0.0f ? x : 0.0f;
  case UnaryOp::Abs:
    return fabsf(x);
  case UnaryOp::Silu:
    return x / (1.0f + expf(-x));
  case UnaryOp::GeluErf:
    return 0.5f * x * (1.0f + erff(x * kInvSqrt2));
  case UnaryOp::GeluTanh:
    return 0.5f * x *
           (1.0f + tanhf(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
  }
  return 0.0f;
}

/// Operands with the output's shape need no index arithmetic.
__global__ void binarySameShape(cpu::BinaryKind kind, AnyPtr a, AnyPtr b,
                                AnyPtr out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    store(out, i, applyBinary(kind, load(a, i), load(b, i)));
}

__global__ void binaryStrided(cpu::BinaryKind kind, AnyPtr a, AnyPtr b,
                              AnyPtr out, StridedDims index, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    store(out, i,
          applyBinary(kind, load(a, stridedOffset(index, 0, i)),
                      load(b, stridedOffset(index, 1, i))));
}

/// The common f32 case, four elements per thread with 16-byte accesses.
__global__ void unaryF32x4(UnaryOp op, const float4 *x, float4 *out,
                           int64_t n4) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n4;
       i += int64_t(gridDim.x) * blockDim.x) {
    float4 v = x[i];
    out[i] = make_float4(applyUnary(op, v.x), applyUnary(op, v.y),
                         applyUnary(op, v.z), applyUnary(op, v.w));
  }
}

__global__ void unaryAny(UnaryOp op, AnyPtr x, AnyPtr out, int64_t begin,
                         int64_t n) {
  for (int64_t i = begin + blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
       i < n; i += int64_t(gridDim.x) * blockDim.x)
    store(out, i, applyUnary(op, load(x, i)));
}

/// `v` converted to an output of type T; to I32 as the CPU's cast: toward
/// zero, wrapped to 32 bits (the CPU rejects non-finite values; here they
/// become 0).
template <typename T> __device__ __forceinline__ T convertTo(float v) {
  return fromFloat<T>(v);
}
template <> __device__ __forceinline__ int32_t convertTo<int32_t>(float v) {
  return isfinite(v) && fabsf(v) < 0x1p63f
             ? int32_t(uint32_t(static_cast<long long>(v)))
             : 0;
}

/// Four elements per thread, as one vector load and one vector store.
template <typename In, typename Out>
__global__ void convertX4(const Vec<In, 4> *in, Vec<Out, 4> *out, int64_t n4) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n4;
       i += int64_t(gridDim.x) * blockDim.x) {
    Vec<In, 4> v = in[i];
    Vec<Out, 4> r;
#pragma unroll
    for (int k = 0; k < 4; ++k)
      r.v[k] = convertTo<Out>(toFloat(v.v[k]));
    out[i] = r;
  }
}

/// Elements [begin, n) one by one (unaligned buffers, the tail).
__global__ void convert(DevicePtr in, DevicePtr out, int64_t begin, int64_t n) {
  for (int64_t i = begin + blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
       i < n; i += int64_t(gridDim.x) * blockDim.x) {
    if (out.dtype == kI32)
      static_cast<int32_t *>(out.data)[i] =
          convertTo<int32_t>(load(any(in), i));
    else
      store(any(out), i, load(any(in), i));
  }
}

/// Converts the first n / 4 * 4 elements four at a time when both buffers
/// are aligned for it; returns the number converted.
template <typename In, typename Out>
int64_t convertVectors(const void *in, void *out, int64_t n,
                       cudaStream_t stream) {
  int64_t n4 = n / 4;
  if (n4 == 0 || !alignedTo(in, 4 * sizeof(In)) ||
      !alignedTo(out, 4 * sizeof(Out)))
    return 0;
  convertX4<In, Out><<<gridFor(n4), kThreads, 0, stream>>>(
      static_cast<const Vec<In, 4> *>(in), static_cast<Vec<Out, 4> *>(out), n4);
  return n4 * 4;
}

__global__ void iota(AnyPtr out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    if (out.dtype == kI32)
      static_cast<int32_t *>(out.data)[i] = int32_t(i);
    else
      store(out, i, float(i));
  }
}

__global__ void constantFill(AnyPtr out, ConstantChunk chunk) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
       j < chunk.count; j += int64_t(gridDim.x) * blockDim.x) {
    int64_t from = chunk.broadcast ? 0 : j;
    if (out.dtype == kI32)
      static_cast<int32_t *>(out.data)[chunk.offset + j] = chunk.values.i[from];
    else
      store(out, chunk.offset + j, chunk.values.f[from]);
  }
}

} // namespace

cudaError_t detail::launchBinary(cpu::BinaryKind kind, DevicePtr a, DevicePtr b,
                                 DevicePtr out, const StridedDims &index,
                                 int64_t n, cudaStream_t stream) {
  if (n == 0)
    return cudaSuccess;
  bool sameShape = index.rank <= 1 &&
                   (index.rank == 0 ||
                    (index.strides[0][0] == 1 && index.strides[1][0] == 1));
  if (sameShape)
    binarySameShape<<<gridFor(n), kThreads, 0, stream>>>(kind, any(a), any(b),
                                                         any(out), n);
  else
    binaryStrided<<<gridFor(n), kThreads, 0, stream>>>(kind, any(a), any(b),
                                                       any(out), index, n);
  return cudaGetLastError();
}

cudaError_t detail::launchUnary(UnaryOp op, DevicePtr x, DevicePtr out,
                                int64_t n, cudaStream_t stream) {
  if (n == 0)
    return cudaSuccess;
  int64_t begin = 0;
  bool aligned = (reinterpret_cast<uintptr_t>(x.data) |
                  reinterpret_cast<uintptr_t>(out.data)) %
                     16 ==
                 0;
  if (x.dtype == kF32 && out.dtype == kF32 && aligned && n >= 4) {
    int64_t n4 = n / 4;
    unaryF32x4<<<gridFor(n4), kThreads, 0, stream>>>(
        op, static_cast<const float4 *>(x.data),
        static_cast<float4 *>(out.data), n4);
    begin = n4 * 4;
  }
  if (begin < n)
    unaryAny<<<gridFor(n - begin), kThreads, 0, stream>>>(op, any(x), any(out),
                                                          begin, n);
  return cudaGetLastError();
}

cudaError_t detail::launchConvert(DevicePtr in, DevicePtr out, int64_t n,
                                  cudaStream_t stream) {
  if (n == 0)
    return cudaSuccess;
  if (in.dtype == out.dtype) {
    if (in.data == out.data)
      return cudaSuccess;
    return cudaMemcpyAsync(out.data, in.data, n * (in.dtype == kBF16 ? 2 : 4),
                           cudaMemcpyDeviceToDevice, stream);
  }
  int64_t begin = 0;
  auto pair = [&](int from, int to) {
    return in.dtype == from && out.dtype == to;
  };
  if (pair(kF32, kBF16))
    begin = convertVectors<float, __nv_bfloat16>(in.data, out.data, n, stream);
  else if (pair(kBF16, kF32))
    begin = convertVectors<__nv_bfloat16, float>(in.data, out.data, n, stream);
  else if (pair(kF32, kI32))
    begin = convertVectors<float, int32_t>(in.data, out.data, n, stream);
  else if (pair(kI32, kF32))
    begin = convertVectors<int32_t, float>(in.data, out.data, n, stream);
  else if (pair(kBF16, kI32))
    begin =
        convertVectors<__nv_bfloat16, int32_t>(in.data, out.data, n, stream);
  else if (pair(kI32, kBF16))
    begin =
        convertVectors<int32_t, __nv_bfloat16>(in.data, out.data, n, stream);
  if (begin < n)
    convert<<<gridFor(n - begin), kThreads, 0, stream>>>(in, out, begin, n);
  return cudaGetLastError();
}

cudaError_t detail::launchIota(DevicePtr out, int64_t n, cudaStream_t stream) {
  if (n == 0)
    return cudaSuccess;
  iota<<<gridFor(n), kThreads, 0, stream>>>(any(out), n);
  return cudaGetLastError();
}

cudaError_t detail::launchConstant(DevicePtr out, const ConstantChunk &chunk,
                                   cudaStream_t stream) {
  if (chunk.count == 0)
    return cudaSuccess;
  constantFill<<<gridFor(chunk.count), kThreads, 0, stream>>>(any(out), chunk);
  return cudaGetLastError();
}
