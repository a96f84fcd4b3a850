//===- KernelsForward.h - Launchers of the forward plan kernels -*- C++ -*-===//
//
// Internal to runtime/cuda: the plain launchers of the KernelsForward*.cu
// files, called by KernelsForward.cpp (and FusedKinds.cpp) once the plan's
// attributes, dtypes and shapes are checked. Plain C++ (no LLVM): nvcc
// compiles the .cu side with g++.
//
// Every launcher only enqueues work on `stream` and returns
// cudaGetLastError(); sizes are element counts, already checked (a launcher
// with no work returns cudaSuccess without launching). Buffers are
// dtype-erased (DevicePtr); float kernels read F32 or BF16 and compute in f32,
// and the layout kernels move I32 too. Shapes reach the device as at most
// kMaxDims dimensions, after the host merged the dimensions that are
// contiguous in every operand (mergeDims in KernelsForward.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CUDA_LIB_KERNELSFORWARD_H
#define STRATA_CUDA_LIB_KERNELSFORWARD_H

#include "strata/Cpu/Kernels.h"
#include "strata/Cuda/DeviceError.h"

#include <cstdint>
#include <cuda_runtime_api.h>

namespace strata::cuda::detail {

/// A device buffer and its DeviceDType (KernelTable.h).
struct DevicePtr {
  void *data;
  int dtype;
};

inline constexpr int kMaxDims = 8;

/// An index space of `rank` dimensions and, for each operand that reads it,
/// the element stride of every dimension (0 where the operand broadcasts).
struct StridedDims {
  int rank = 0;
  int64_t dims[kMaxDims] = {};
  int64_t strides[2][kMaxDims] = {};
};

/// Elementwise functions of one input: cpu::UnaryKind's, then these.
enum class UnaryOp : int {
  Neg,
  Exp,
  Log,
  Sqrt,
  Rsqrt,
  Tanh,
  Sigmoid,
  Relu,
  Abs,
  Silu,
  GeluErf,
  GeluTanh,
};

/// Where the diagnostics of a data error go (LaunchContext's fields).
struct ErrorSink {
  DeviceErrorRecord *record;
  int32_t kernel;
};

//===----------------------------------------------------------------------===//
// KernelsForwardElementwise.cu
//===----------------------------------------------------------------------===//

/// out[i] = a[offset_0(i)] ⊙ b[offset_1(i)] over the `n` elements of
/// `index.dims` (row-major), offsets through index.strides[0] / [1].
cudaError_t launchBinary(cpu::BinaryKind kind, DevicePtr a, DevicePtr b,
                         DevicePtr out, const StridedDims &index, int64_t n,
                         cudaStream_t stream);
cudaError_t launchUnary(UnaryOp op, DevicePtr x, DevicePtr out, int64_t n,
                        cudaStream_t stream);
/// Converts between any two dtypes: float to I32 rounds toward zero and wraps
/// to 32 bits (non-finite values become 0); equal dtypes copy the bits.
cudaError_t launchConvert(DevicePtr in, DevicePtr out, int64_t n,
                          cudaStream_t stream);
/// out[i] = i.
cudaError_t launchIota(DevicePtr out, int64_t n, cudaStream_t stream);

/// Values of a constant passed by value to the kernel: float outputs read
/// `f`, I32 outputs `i`. A kernel parameter block holds at most 4 KiB.
inline constexpr int kConstantChunk = 960;
struct ConstantChunk {
  int64_t offset = 0;     // first output element of this chunk
  int64_t count = 0;      // elements written
  bool broadcast = false; // one value (values[0]) for all `count` elements
  union {
    float f[kConstantChunk];
    int32_t i[kConstantChunk];
  } values = {};
};
cudaError_t launchConstant(DevicePtr out, const ConstantChunk &chunk,
                           cudaStream_t stream);

//===----------------------------------------------------------------------===//
// KernelsForwardLayout.cu
//===----------------------------------------------------------------------===//

/// out[i] = in[offset_0(i)]: a transpose (index = the output's dims, strides[0]
/// the input's strides permuted).
cudaError_t launchPermute(DevicePtr in, DevicePtr out, const StridedDims &index,
                          int64_t n, cudaStream_t stream);
/// Copies the [outer, width] block of `in` whose rows are `inRowStride`
/// elements apart, starting at `inOffset`, to `out` at `outOffset` with rows
/// `outRowStride` apart: slice and each input of a concat.
cudaError_t launchCopyRows(DevicePtr in, int64_t inOffset, int64_t inRowStride,
                           DevicePtr out, int64_t outOffset,
                           int64_t outRowStride, int64_t outer, int64_t width,
                           cudaStream_t stream);
/// out[i, :] = table[indices[i], :] for n indices of rows of rowSize; an index
/// outside [0, numRows) writes a zero row and is reported.
cudaError_t launchGather(DevicePtr table, int64_t numRows, int64_t rowSize,
                         const int32_t *indices, int64_t n, DevicePtr out,
                         ErrorSink errors, cudaStream_t stream);
/// out[i, c] = indices[i] == c over n x classes; a bad index writes a zero
/// row and is reported.
cudaError_t launchOneHot(const int32_t *indices, int64_t n, int64_t classes,
                         DevicePtr out, ErrorSink errors, cudaStream_t stream);

//===----------------------------------------------------------------------===//
// KernelsForwardRows.cu: reductions and row-wise normalizations.
//===----------------------------------------------------------------------===//

/// A reduction after merging: x's offset is Σ kept index · kept.strides +
/// Σ reduced index · reduced.strides (strides[0] of each; dims row-major).
/// `innerKept`: the last dimension of x is kept (a column reduction, read
/// coalesced across outputs) rather than reduced (a row reduction).
///
/// `contiguous`: the reduced dimensions are one block, x is [outer,
/// numReduced, inner] and out [outer, inner]; the kernels then read with
/// vector loads and no index arithmetic. A contiguous reduction may be split
/// into `chunks` pieces of `chunkSize` reduced elements each (the last one
/// shorter), whose f32 partial results go to the workspace ([chunk][output])
/// before a second pass combines them in chunk order: the same bits on every
/// run.
struct ReduceDims {
  StridedDims kept, reduced;
  int64_t numOutputs = 0, numReduced = 0;
  bool innerKept = false;
  bool contiguous = false;
  int64_t outer = 1, inner = 1;
  int64_t chunks = 1, chunkSize = 0;
};

/// About the number of blocks that fill an H100 (132 SMs, 8 blocks of 256
/// threads each): a split reduction makes about this many.
inline constexpr int64_t kSplitTargetBlocks = 132 * 8;
/// A chunk of a column reduction holds at least this many rows (8 per
/// thread), one of a row reduction this many elements (8 per thread of 1024).
inline constexpr int64_t kMinChunkRows = 64;
inline constexpr int64_t kMinChunkElements = 8192;

/// The elements of x that a thread of a contiguous reduction loads at once:
/// 16 bytes when the rows allow it.
inline int reduceVector(int64_t rowElements, int elementBytes) {
  int vector = 16 / elementBytes;
  return rowElements % vector == 0 ? vector : 1;
}

/// Chooses `dims.chunks` and `dims.chunkSize` of a contiguous reduction from
/// its shape and x's element size alone (the workspace is sized before any
/// buffer exists; the split does not depend on pointers, so neither do the
/// bits). Returns the workspace bytes of the partial results (0 when not
/// split).
inline size_t planReduceSplit(ReduceDims &dims, int elementBytes) {
  dims.chunks = 1;
  dims.chunkSize = dims.numReduced;
  if (!dims.contiguous || dims.numOutputs == 0 || dims.numReduced == 0)
    return 0;
  int64_t parallel, most;
  if (dims.inner > 1) {
    // Blocks of 8 rows by 32 vectors of columns.
    int64_t tile = 32 * reduceVector(dims.inner, elementBytes);
    parallel = dims.outer * ((dims.inner + tile - 1) / tile);
    most = dims.numReduced / kMinChunkRows;
  } else {
    // About one block per output.
    parallel = dims.outer;
    most = dims.numReduced / kMinChunkElements;
  }
  int64_t chunks = kSplitTargetBlocks / parallel;
  if (chunks > most)
    chunks = most;
  if (chunks <= 1)
    return 0;
  // Chunks of a row reduction start at multiples of 16 elements, so that
  // every vector load stays aligned.
  int64_t size = (dims.numReduced + chunks - 1) / chunks;
  if (dims.inner == 1)
    size = (size + 15) / 16 * 16;
  dims.chunkSize = size;
  dims.chunks = (dims.numReduced + size - 1) / size;
  if (dims.chunks <= 1) {
    dims.chunks = 1;
    dims.chunkSize = dims.numReduced;
    return 0;
  }
  return size_t(dims.chunks) * size_t(dims.numOutputs) * sizeof(float);
}

/// `partials`: the workspace of planReduceSplit's size (null when 0).
cudaError_t launchReduce(cpu::ReduceKind kind, DevicePtr x, DevicePtr out,
                         const ReduceDims &dims, float *partials,
                         cudaStream_t stream);
/// softmax / log_softmax over `cols` of x seen as [outer, cols, inner].
cudaError_t launchSoftmax(bool log, DevicePtr x, DevicePtr out, int64_t outer,
                          int64_t cols, int64_t inner, cudaStream_t stream);
/// layer_norm (bias.data != null) or rms_norm (bias.data == null) of x
/// [rows, dim].
cudaError_t launchNorm(DevicePtr x, DevicePtr weight, DevicePtr bias,
                       DevicePtr out, int64_t rows, int64_t dim, float epsilon,
                       cudaStream_t stream);
/// loss[0] = mean over rows of logsumexp(logits[r]) - logits[r, targets[r]];
/// `rowLoss` is [rows] f32 scratch. A target outside [0, vocab) is reported.
cudaError_t launchCrossEntropy(DevicePtr logits, const int32_t *targets,
                               DevicePtr loss, float *rowLoss, int64_t rows,
                               int64_t vocab, ErrorSink errors,
                               cudaStream_t stream);

//===----------------------------------------------------------------------===//
// KernelsForwardAttention.cu
//===----------------------------------------------------------------------===//

/// Rotary embedding of x [B*H, T, Dh] (cpu::ropeForward).
cudaError_t launchRope(DevicePtr x, DevicePtr out, int64_t batchHeads,
                       int64_t seqLen, int64_t headDim, float theta,
                       cudaStream_t stream);
/// The largest valueDim attentionFallback handles.
inline constexpr int64_t kFallbackMaxValueDim = 512;
/// Attention for any shape (cpu::attentionForward), one block per query row,
/// in f32: for the head dims and dtypes the flash kernels do not take.
cudaError_t launchAttentionFallback(DevicePtr q, DevicePtr k, DevicePtr v,
                                    DevicePtr out,
                                    const cpu::AttentionShape &shape,
                                    cudaStream_t stream);

} // namespace strata::cuda::detail

#endif // STRATA_CUDA_LIB_KERNELSFORWARD_H
