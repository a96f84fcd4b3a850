//===- KernelsForwardLayout.cu - Layout and indexing plan kernels ---------===//
//
// transpose, slice, concat, gather and one_hot. When the dtypes agree, values
// move as bits: whole rows (a transpose that keeps the last axis, a slice or
// a concat piece, a gathered table row) in the widest vector access that
// their sizes and addresses allow, with 32-bit index arithmetic when the
// buffers have fewer than 2^31 vectors; a transpose that moves the last axis
// goes through 32 x 32 tiles in shared memory, so that both its reads and its
// writes are coalesced. Otherwise (a conversion between F32 and BF16 on the
// way) every thread writes output elements in order and reads its source
// through 64-bit index arithmetic. The reference is runtime/cpu/lib/Layout.cpp
// and Indexing.cpp.
//
//===----------------------------------------------------------------------===//

#include "KernelsForward.cuh"

#include <algorithm>

using namespace strata;
using namespace strata::cuda;
using namespace strata::cuda::device;
using detail::ErrorSink;
using detail::kMaxDims;

namespace {

constexpr int kThreads = 256;

//===----------------------------------------------------------------------===//
// Vector and index types
//===----------------------------------------------------------------------===//

/// The widest access (16, 8, 4 or 2 bytes, not narrower than an element)
/// that divides every byte count and address OR'ed into `bits`.
int vectorBytes(uint64_t bits, int elementBytes) {
  for (int bytes = 16; bytes > elementBytes; bytes /= 2)
    if (bits % bytes == 0)
      return bytes;
  return elementBytes;
}

uint64_t addressBits(const void *p) { return reinterpret_cast<uintptr_t>(p); }

int elementBytes(int dtype) { return dtype == kBF16 ? 2 : 4; }

/// Calls `launch(VectorType(), IndexType())` with the unsigned type of
/// `bytes` bytes (uint4 for 16) and uint32_t indices when `narrow` (every
/// index fits in 31 bits), else int64_t.
template <typename Launch>
cudaError_t withVector(int bytes, bool narrow, Launch launch) {
  auto withIndex = [&](auto vector) {
    return narrow ? launch(vector, uint32_t()) : launch(vector, int64_t());
  };
  switch (bytes) {
  case 16:
    return withIndex(uint4());
  case 8:
    return withIndex(uint2());
  case 4:
    return withIndex(uint32_t());
  default:
    return withIndex(uint16_t());
  }
}

constexpr int64_t kNarrowLimit = int64_t(1) << 31;

//===----------------------------------------------------------------------===//
// Rows copied whole
//===----------------------------------------------------------------------===//

/// Rows of `rowVectors` vectors, numbered row-major over `dims`; row `r`
/// starts at Σ index_d · inStrides[d] in the input and Σ index_d ·
/// outStrides[d] in the output (in vectors).
struct RowCopy {
  int rank = 0;
  int64_t dims[kMaxDims] = {};
  int64_t inStrides[kMaxDims] = {}, outStrides[kMaxDims] = {};
  int64_t rowVectors = 0;
  int64_t n = 0; // vectors in all
};

/// One vector per thread and iteration: consecutive threads copy consecutive
/// vectors of a row (coalesced on both sides).
template <typename VecT, typename Index>
__global__ void copyRowVectors(const VecT *in, VecT *out, RowCopy s) {
  Index n = Index(s.n), rowVectors = Index(s.rowVectors);
  for (Index i = blockIdx.x * Index(blockDim.x) + threadIdx.x; i < n;
       i += Index(gridDim.x) * blockDim.x) {
    Index row = i / rowVectors, col = i - row * rowVectors;
    Index from = col, to = col;
    for (int d = s.rank - 1; d >= 0; --d) {
      Index dim = Index(s.dims[d]), next = row / dim, index = row - next * dim;
      from += index * Index(s.inStrides[d]);
      to += index * Index(s.outStrides[d]);
      row = next;
    }
    out[to] = in[from];
  }
}

/// Copies the rows of `s` (strides and row length in elements of
/// `elementBytes`; s.n unused) from `in` to `out`, both of the same dtype.
cudaError_t launchRowCopy(const char *in, char *out, RowCopy s,
                          int elementBytes, cudaStream_t stream) {
  int64_t rows = 1;
  uint64_t bits = addressBits(in) | addressBits(out) |
                  uint64_t(s.rowVectors * elementBytes);
  for (int d = 0; d < s.rank; ++d) {
    rows *= s.dims[d];
    bits |= uint64_t(s.inStrides[d] * elementBytes) |
            uint64_t(s.outStrides[d] * elementBytes);
  }
  int bytes = vectorBytes(bits, elementBytes);
  int perVector = bytes / elementBytes;
  s.rowVectors /= perVector;
  int64_t inEnd = s.rowVectors, outEnd = s.rowVectors;
  for (int d = 0; d < s.rank; ++d) {
    s.inStrides[d] /= perVector;
    s.outStrides[d] /= perVector;
    inEnd += (s.dims[d] - 1) * s.inStrides[d];
    outEnd += (s.dims[d] - 1) * s.outStrides[d];
  }
  s.n = rows * s.rowVectors;
  if (s.n == 0)
    return cudaSuccess;
  bool narrow = std::max({s.n, inEnd, outEnd}) < kNarrowLimit;
  return withVector(bytes, narrow, [&](auto vector, auto index) {
    using VecT = decltype(vector);
    copyRowVectors<VecT, decltype(index)>
        <<<gridFor(s.n), kThreads, 0, stream>>>(
            reinterpret_cast<const VecT *>(in), reinterpret_cast<VecT *>(out),
            s);
    return cudaGetLastError();
  });
}

//===----------------------------------------------------------------------===//
// Transposes that move the last axis
//===----------------------------------------------------------------------===//

/// A transpose seen as batches of [q, p] -> [p, q] matrices: p is the
/// dimension that is contiguous in the input, q the output's last dimension;
/// the other dimensions make the batches (strides in elements).
struct TileTranspose {
  int64_t pExtent = 0, qExtent = 0;
  int64_t pOutStride = 0, qInStride = 0;
  int batchRank = 0;
  int64_t batchDims[kMaxDims] = {};
  int64_t batchIn[kMaxDims] = {}, batchOut[kMaxDims] = {};
  int64_t batches = 1;
};

constexpr int kTile = 32, kTileRows = 8;

/// Blocks of (kTile, kTileRows) threads move a kTile x kTile tile: reads
/// with threadIdx.x along p, writes with threadIdx.x along q. Grid (q tiles,
/// p tiles, batches), y and z striding.
template <typename T>
__global__ void transposeTiles(const T *in, T *out, TileTranspose s) {
  __shared__ T tile[kTile][kTile + 1];
  int64_t q0 = blockIdx.x * int64_t(kTile);
  for (int64_t b = blockIdx.z; b < s.batches; b += gridDim.z) {
    int64_t inBase = 0, outBase = 0, rest = b;
    for (int d = s.batchRank - 1; d >= 0; --d) {
      int64_t index = rest % s.batchDims[d];
      rest /= s.batchDims[d];
      inBase += index * s.batchIn[d];
      outBase += index * s.batchOut[d];
    }
    for (int64_t p0 = blockIdx.y * int64_t(kTile); p0 < s.pExtent;
         p0 += int64_t(gridDim.y) * kTile) {
      int64_t p = p0 + threadIdx.x;
      for (int k = threadIdx.y; k < kTile; k += kTileRows) {
        int64_t q = q0 + k;
        if (p < s.pExtent && q < s.qExtent)
          tile[k][threadIdx.x] = in[inBase + p + q * s.qInStride];
      }
      __syncthreads();
      int64_t q = q0 + threadIdx.x;
      for (int k = threadIdx.y; k < kTile; k += kTileRows) {
        int64_t p = p0 + k;
        if (p < s.pExtent && q < s.qExtent)
          out[outBase + p * s.pOutStride + q] = tile[threadIdx.x][k];
      }
      __syncthreads(); // the next p tile reuses `tile`
    }
  }
}

//===----------------------------------------------------------------------===//
// Element by element (with a dtype conversion)
//===----------------------------------------------------------------------===//

__global__ void permute(DevicePtr in, DevicePtr out, StridedDims index,
                        int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    moveElement(in, stridedOffset(index, 0, i), out, i);
}

__global__ void copyRows(DevicePtr in, int64_t inOffset, int64_t inRowStride,
                         DevicePtr out, int64_t outOffset, int64_t outRowStride,
                         int64_t width, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t row = i / width, col = i % width;
    moveElement(in, inOffset + row * inRowStride + col, out,
                outOffset + row * outRowStride + col);
  }
}

//===----------------------------------------------------------------------===//
// gather, one_hot
//===----------------------------------------------------------------------===//

/// Same dtypes: vectors of table rows.
template <typename VecT, typename Index>
__global__ void gatherVectors(const VecT *table, int64_t numRows,
                              int64_t rowVectors, const int32_t *indices,
                              VecT *out, int64_t n, ErrorSink errors) {
  Index width = Index(rowVectors);
  for (Index i = blockIdx.x * Index(blockDim.x) + threadIdx.x; i < Index(n);
       i += Index(gridDim.x) * blockDim.x) {
    Index position = i / width, col = i - position * width;
    int64_t row = indices[position];
    if (row < 0 || row >= numRows) {
      if (col == 0)
        reportError(errors.record, errors.kernel, kIndexOutOfRange, position,
                    row, numRows);
      out[i] = VecT(); // zero bits: 0 in every dtype
      continue;
    }
    out[i] = table[Index(row) * width + col];
  }
}

__global__ void gather(DevicePtr table, int64_t numRows, int64_t rowSize,
                       const int32_t *indices, DevicePtr out, int64_t n,
                       ErrorSink errors) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t position = i / rowSize, col = i % rowSize;
    int64_t row = indices[position];
    if (row < 0 || row >= numRows) {
      if (col == 0)
        reportError(errors.record, errors.kernel, kIndexOutOfRange, position,
                    row, numRows);
      store(any(out), i, 0.0f);
      continue;
    }
    moveElement(table, row * rowSize + col, out, i);
  }
}

__global__ void oneHot(const int32_t *indices, int64_t classes, AnyPtr out,
                       int64_t n, ErrorSink errors) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t position = i / classes, col = i % classes;
    int64_t index = indices[position];
    if ((index < 0 || index >= classes) && col == 0)
      reportError(errors.record, errors.kernel, kIndexOutOfRange, position,
                  index, classes);
    store(out, i, index == col ? 1.0f : 0.0f);
  }
}

/// The tiled transpose of `index` (as launchPermute's), whose last dimension
/// is not contiguous in the input.
template <typename T>
cudaError_t launchTransposeTiles(const T *in, T *out, const StridedDims &index,
                                 cudaStream_t stream) {
  int last = index.rank - 1, p = 0;
  while (index.strides[0][p] != 1)
    ++p;
  int64_t outStrides[kMaxDims], stride = 1;
  for (int d = last; d >= 0; --d) {
    outStrides[d] = stride;
    stride *= index.dims[d];
  }
  TileTranspose s;
  s.pExtent = index.dims[p];
  s.qExtent = index.dims[last];
  s.pOutStride = outStrides[p];
  s.qInStride = index.strides[0][last];
  for (int d = 0; d < last; ++d) {
    if (d == p)
      continue;
    s.batchDims[s.batchRank] = index.dims[d];
    s.batchIn[s.batchRank] = index.strides[0][d];
    s.batchOut[s.batchRank] = outStrides[d];
    s.batches *= index.dims[d];
    ++s.batchRank;
  }
  dim3 grid(unsigned((s.qExtent + kTile - 1) / kTile),
            unsigned(std::min<int64_t>((s.pExtent + kTile - 1) / kTile, 65535)),
            unsigned(std::min<int64_t>(s.batches, 65535)));
  transposeTiles<T><<<grid, dim3(kTile, kTileRows), 0, stream>>>(in, out, s);
  return cudaGetLastError();
}

} // namespace

cudaError_t detail::launchPermute(DevicePtr in, DevicePtr out,
                                  const StridedDims &index, int64_t n,
                                  cudaStream_t stream) {
  if (n == 0)
    return cudaSuccess;
  if (in.dtype == out.dtype) {
    int last = index.rank - 1;
    if (index.rank == 0 || index.strides[0][last] == 1) {
      // The last axis stays: copy rows of it. The output's rows are
      // contiguous, one after the other.
      RowCopy s;
      s.rank = std::max(last, 0);
      s.rowVectors = index.rank == 0 ? 1 : index.dims[last];
      int64_t stride = s.rowVectors;
      for (int d = s.rank - 1; d >= 0; --d) {
        s.dims[d] = index.dims[d];
        s.inStrides[d] = index.strides[0][d];
        s.outStrides[d] = stride;
        stride *= index.dims[d];
      }
      return launchRowCopy(static_cast<const char *>(in.data),
                           static_cast<char *>(out.data), s,
                           elementBytes(in.dtype), stream);
    }
    if (in.dtype == kBF16)
      return launchTransposeTiles(static_cast<const uint16_t *>(in.data),
                                  static_cast<uint16_t *>(out.data), index,
                                  stream);
    return launchTransposeTiles(static_cast<const uint32_t *>(in.data),
                                static_cast<uint32_t *>(out.data), index,
                                stream);
  }
  permute<<<gridFor(n), kThreads, 0, stream>>>(in, out, index, n);
  return cudaGetLastError();
}

cudaError_t detail::launchCopyRows(DevicePtr in, int64_t inOffset,
                                   int64_t inRowStride, DevicePtr out,
                                   int64_t outOffset, int64_t outRowStride,
                                   int64_t outer, int64_t width,
                                   cudaStream_t stream) {
  int64_t n = outer * width;
  if (n == 0)
    return cudaSuccess;
  if (in.dtype == out.dtype) {
    int bytes = elementBytes(in.dtype);
    RowCopy s;
    s.rank = 1;
    s.dims[0] = outer;
    s.inStrides[0] = inRowStride;
    s.outStrides[0] = outRowStride;
    s.rowVectors = width;
    return launchRowCopy(static_cast<const char *>(in.data) + inOffset * bytes,
                         static_cast<char *>(out.data) + outOffset * bytes, s,
                         bytes, stream);
  }
  copyRows<<<gridFor(n), kThreads, 0, stream>>>(
      in, inOffset, inRowStride, out, outOffset, outRowStride, width, n);
  return cudaGetLastError();
}

cudaError_t detail::launchGather(DevicePtr table, int64_t numRows,
                                 int64_t rowSize, const int32_t *indices,
                                 int64_t n, DevicePtr out, ErrorSink errors,
                                 cudaStream_t stream) {
  int64_t total = n * rowSize;
  if (total == 0)
    return cudaSuccess;
  if (table.dtype == out.dtype) {
    int element = elementBytes(table.dtype);
    int bytes = vectorBytes(addressBits(table.data) | addressBits(out.data) |
                                uint64_t(rowSize * element),
                            element);
    int64_t rowVectors = rowSize / (bytes / element);
    int64_t vectors = n * rowVectors;
    bool narrow = std::max(vectors, numRows * rowVectors) < kNarrowLimit;
    return withVector(bytes, narrow, [&](auto vector, auto index) {
      using VecT = decltype(vector);
      gatherVectors<VecT, decltype(index)>
          <<<gridFor(vectors), kThreads, 0, stream>>>(
              static_cast<const VecT *>(table.data), numRows, rowVectors,
              indices, static_cast<VecT *>(out.data), vectors, errors);
      return cudaGetLastError();
    });
  }
  gather<<<gridFor(total), kThreads, 0, stream>>>(table, numRows, rowSize,
                                                  indices, out, total, errors);
  return cudaGetLastError();
}

cudaError_t detail::launchOneHot(const int32_t *indices, int64_t n,
                                 int64_t classes, DevicePtr out,
                                 ErrorSink errors, cudaStream_t stream) {
  int64_t total = n * classes;
  if (total == 0)
    return cudaSuccess;
  oneHot<<<gridFor(total), kThreads, 0, stream>>>(indices, classes, any(out),
                                                  total, errors);
  return cudaGetLastError();
}
