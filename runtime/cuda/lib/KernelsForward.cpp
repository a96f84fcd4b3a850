//===- KernelsForward.cpp - The forward plan kernels on the GPU -----------===//
//
// Host side of the forward graph ops: the CPU dispatch's checks (the same
// attributes, shapes and messages, runtime/exec/lib/CpuKernelsForward.cpp),
// with float buffers that may each be F32 or BF16, then a launcher of
// KernelsForward*.cu or cuBLASLt. Checks the CPU makes on data (gather and
// one_hot indices, cross_entropy targets) are made on the device and reported
// through LaunchContext::errors, since a launch never reads device memory.
//
//===----------------------------------------------------------------------===//

#include "KernelsForward.h"
#include "KernelTable.h"

#include "strata/Cuda/Attention.h"
#include "strata/Cuda/Gemm.h"
#include "strata/Runtime/PlanFile.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstring>

using namespace strata;
using namespace strata::cuda;
using namespace strata::cuda::detail;
using exec::detail::numElements;
using exec::detail::shapeString;
using llvm::Error;
using llvm::Expected;

namespace {

DevicePtr inPtr(const KernelCall &c, unsigned i) {
  return DevicePtr{const_cast<void *>(c.inputs[i].data),
                   deviceDType(c.inputs[i].dtype)};
}

DevicePtr outPtr(const KernelCall &c, unsigned i) {
  return DevicePtr{c.outputs[i].data, deviceDType(c.outputs[i].dtype)};
}

size_t elementBytes(plan::DType dtype) { return dtype == plan::BF16 ? 2 : 4; }

ErrorSink errorsOf(const LaunchContext &context) {
  return ErrorSink{context.errors, context.kernelIndex};
}

/// Output `output` and the `inputs` are all I32 or all float (each F32 or
/// BF16): the kernels that also move integers.
Error expectSameKind(const KernelCall &c, llvm::ArrayRef<unsigned> inputs,
                     unsigned output) {
  plan::DType outType = c.outputs[output].dtype;
  bool integer = outType == plan::I32;
  if (!integer)
    STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/false, output));
  for (unsigned i : inputs) {
    plan::DType type = c.inputs[i].dtype;
    bool ok =
        integer ? type == plan::I32 : (type == plan::F32 || type == plan::BF16);
    if (ok)
      continue;
    return c.fail("input " + llvm::Twine(i) + " is " +
                  runtime::planDTypeName(type) + " but output " +
                  llvm::Twine(output) + " is " +
                  runtime::planDTypeName(outType));
  }
  return Error::success();
}

/// Inputs `inputs` and output 0 are F32 or BF16.
Error expectFloats(const KernelCall &c, llvm::ArrayRef<unsigned> inputs) {
  for (unsigned i : inputs)
    STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/true, i));
  return expectFloatBuffer(c, /*isInput=*/false, 0);
}

Error expectI32Input(const KernelCall &c, unsigned i) {
  const int32_t *unused;
  return c.i32In(i, unused);
}

Error launched(const KernelCall &c, cudaError_t status) {
  return launchStatus(c, status);
}

/// Row-major element strides of `shape`.
llvm::SmallVector<int64_t> contiguousStrides(llvm::ArrayRef<int64_t> shape) {
  llvm::SmallVector<int64_t> strides(shape.size());
  int64_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= shape[d];
  }
  return strides;
}

/// The index space `dims` read by one or two operands with `strides`, as the
/// launchers take it: dimensions of size 1 dropped, neighbours that are
/// contiguous in every operand merged, at most kMaxDims left.
Error mergeDims(const KernelCall &c, llvm::ArrayRef<int64_t> dims,
                llvm::ArrayRef<llvm::SmallVector<int64_t>> strides,
                StridedDims &index) {
  llvm::SmallVector<int64_t> mergedDims;
  llvm::SmallVector<llvm::SmallVector<int64_t>> mergedStrides(strides.size());
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 1)
      continue;
    bool contiguous = !mergedDims.empty();
    for (size_t op = 0; op < strides.size() && contiguous; ++op)
      contiguous = mergedStrides[op].back() == strides[op][d] * dims[d];
    if (contiguous) {
      mergedDims.back() *= dims[d];
      for (size_t op = 0; op < strides.size(); ++op)
        mergedStrides[op].back() = strides[op][d];
      continue;
    }
    mergedDims.push_back(dims[d]);
    for (size_t op = 0; op < strides.size(); ++op)
      mergedStrides[op].push_back(strides[op][d]);
  }
  if (mergedDims.size() > size_t(kMaxDims))
    return c.fail("needs " + llvm::Twine(mergedDims.size()) +
                  " dimensions of index arithmetic; the CUDA kernels take at "
                  "most " +
                  llvm::Twine(kMaxDims));
  index = StridedDims();
  index.rank = int(mergedDims.size());
  for (size_t d = 0; d < mergedDims.size(); ++d) {
    index.dims[d] = mergedDims[d];
    for (size_t op = 0; op < strides.size(); ++op)
      index.strides[op][d] = mergedStrides[op][d];
  }
  return Error::success();
}

/// Carves 16-byte aligned pieces out of LaunchContext::workspace in a fixed
/// order; with a null base it only adds up the sizes (for the entry's
/// workspace function), so that both walk the same code.
class Scratch {
public:
  explicit Scratch(void *base) : base(static_cast<char *>(base)) {}
  void *take(size_t bytes) {
    size_t at = used;
    used += (bytes + 15) / 16 * 16;
    return base ? base + at : nullptr;
  }
  size_t size() const { return used; }

private:
  char *base;
  size_t used = 0;
};

/// The workspace of the context, checked against what the launch takes.
Error checkedScratch(const KernelCall &c, const LaunchContext &context,
                     size_t needed) {
  if (needed <= context.workspaceBytes && (needed == 0 || context.workspace))
    return Error::success();
  return c.fail("needs " + llvm::Twine(needed) +
                " bytes of workspace, the launch has " +
                llvm::Twine(context.workspaceBytes));
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

Error launchBinaryOp(const KernelCall &c, const LaunchContext &context) {
  cpu::BinaryKind kind;
  if (!exec::detail::parseBinaryKind(c.op(), kind))
    return c.fail("not a binary kernel");
  STRATA_RETURN_IF_ERROR(expectSameKind(c, {0, 1}, 0));
  if (c.outputs[0].dtype == plan::I32 &&
      (kind == cpu::BinaryKind::Div || kind == cpu::BinaryKind::Pow))
    return c.fail("i32 operands are not supported");
  llvm::SmallVector<int64_t> shape;
  STRATA_RETURN_IF_ERROR(
      exec::detail::broadcastShapes(c, c.inShape(0), c.inShape(1), shape));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, shape));
  // Each operand's strides through the broadcast shape (0 where it
  // broadcasts), aligned from the right.
  llvm::SmallVector<int64_t> strides[2];
  for (unsigned i = 0; i < 2; ++i) {
    llvm::ArrayRef<int64_t> in = c.inShape(i);
    llvm::SmallVector<int64_t> own = contiguousStrides(in);
    strides[i].assign(shape.size(), 0);
    for (size_t d = 0; d < in.size(); ++d)
      if (in[d] != 1)
        strides[i][shape.size() - in.size() + d] = own[d];
  }
  StridedDims index;
  STRATA_RETURN_IF_ERROR(mergeDims(c, shape, strides, index));
  return launched(c, launchBinary(kind, inPtr(c, 0), inPtr(c, 1), outPtr(c, 0),
                                  index, c.outCount(0), context.stream));
}

Error launchUnaryOp(const KernelCall &c, const LaunchContext &context) {
  STRATA_RETURN_IF_ERROR(expectFloats(c, {0}));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  UnaryOp op;
  cpu::UnaryKind kind;
  if (c.op() == "silu")
    op = UnaryOp::Silu;
  else if (exec::detail::parseUnaryKind(c.op(), kind))
    op = UnaryOp(int(kind)); // UnaryOp starts with cpu::UnaryKind's values
  else
    return c.fail("not a unary kernel");
  return launched(c, launchUnary(op, inPtr(c, 0), outPtr(c, 0), c.inCount(0),
                                 context.stream));
}

Error launchGelu(const KernelCall &c, const LaunchContext &context) {
  cpu::GeluApproximation approx;
  STRATA_RETURN_IF_ERROR(expectFloats(c, {0}));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(exec::detail::geluApproximation(c, approx));
  UnaryOp op = approx == cpu::GeluApproximation::Tanh ? UnaryOp::GeluTanh
                                                      : UnaryOp::GeluErf;
  return launched(c, launchUnary(op, inPtr(c, 0), outPtr(c, 0), c.inCount(0),
                                 context.stream));
}

/// Input or output `i` has a dtype the kernels know.
Error expectKnownDType(const KernelCall &c, bool isInput, unsigned i) {
  plan::DType dtype = isInput ? c.inputs[i].dtype : c.outputs[i].dtype;
  if (deviceDType(dtype) >= 0)
    return Error::success();
  return c.fail(llvm::Twine(isInput ? "input " : "output ") + llvm::Twine(i) +
                " is " + runtime::planDTypeName(dtype) +
                "; the CUDA backend supports f32, bf16 and i32");
}

Error launchCast(const KernelCall &c, const LaunchContext &context) {
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(expectKnownDType(c, /*isInput=*/true, 0));
  STRATA_RETURN_IF_ERROR(expectKnownDType(c, /*isInput=*/false, 0));
  if (c.inputs[0].data == c.outputs[0].data &&
      c.inputs[0].dtype == c.outputs[0].dtype)
    return Error::success();
  return launched(c, launchConvert(inPtr(c, 0), outPtr(c, 0), c.inCount(0),
                                   context.stream));
}

Error launchIotaOp(const KernelCall &c, const LaunchContext &context) {
  if (c.outShape(0).size() != 1)
    return c.fail("needs a 1-D output, got " + shapeString(c.outShape(0)));
  STRATA_RETURN_IF_ERROR(expectKnownDType(c, /*isInput=*/false, 0));
  return launched(c, launchIota(outPtr(c, 0), c.outCount(0), context.stream));
}

Error launchConstantOp(const KernelCall &c, const LaunchContext &context) {
  llvm::SmallVector<double> values;
  STRATA_RETURN_IF_ERROR(exec::detail::constantValues(c, values));
  STRATA_RETURN_IF_ERROR(expectKnownDType(c, /*isInput=*/false, 0));
  int64_t n = c.outCount(0);
  bool integer = c.outputs[0].dtype == plan::I32;
  if (integer)
    for (double v : values)
      if (v != std::trunc(v) || v < INT32_MIN || v > INT32_MAX)
        return c.fail("value " + llvm::formatv("{0}", v).str() +
                      " is not an i32");
  // The values travel in the kernel parameters (no host memory is read at
  // replay), a chunk per launch.
  ConstantChunk chunk;
  auto set = [&](int j, double v) {
    if (integer)
      chunk.values.i[j] = int32_t(v);
    else
      chunk.values.f[j] = float(v);
  };
  if (values.size() == 1) {
    chunk.count = n;
    chunk.broadcast = true;
    set(0, values[0]);
    return launched(c, launchConstant(outPtr(c, 0), chunk, context.stream));
  }
  for (int64_t offset = 0; offset < n; offset += kConstantChunk) {
    chunk.offset = offset;
    chunk.count = std::min<int64_t>(kConstantChunk, n - offset);
    for (int64_t j = 0; j < chunk.count; ++j)
      set(int(j), values[offset + j]);
    STRATA_RETURN_IF_ERROR(
        launched(c, launchConstant(outPtr(c, 0), chunk, context.stream)));
  }
  return Error::success();
}

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

/// The sizes of a matmul kernel, checked as the CPU's runMatmul does.
struct MatmulDims {
  int64_t m, n, k;
  bool transA, transB;
  llvm::SmallVector<int64_t> aBatch, bBatch, batch;
};

Error matmulDims(const KernelCall &c, MatmulDims &d) {
  STRATA_RETURN_IF_ERROR(expectFloats(c, {0, 1}));
  STRATA_RETURN_IF_ERROR(c.unitAttr("transpose_a", d.transA));
  STRATA_RETURN_IF_ERROR(c.unitAttr("transpose_b", d.transB));
  llvm::ArrayRef<int64_t> as = c.inShape(0), bs = c.inShape(1);
  if (as.size() < 2 || bs.size() < 2)
    return c.fail("operands must have rank >= 2, got " + shapeString(as) +
                  " and " + shapeString(bs));
  d.m = d.transA ? as.back() : as[as.size() - 2];
  d.k = d.transA ? as[as.size() - 2] : as.back();
  int64_t kb = d.transB ? bs.back() : bs[bs.size() - 2];
  d.n = d.transB ? bs[bs.size() - 2] : bs.back();
  if (d.k != kb)
    return c.fail("contracting dimensions differ: " + shapeString(as) +
                  " and " + shapeString(bs));
  d.aBatch.assign(as.begin(), as.end() - 2);
  d.bBatch.assign(bs.begin(), bs.end() - 2);
  STRATA_RETURN_IF_ERROR(
      exec::detail::broadcastShapes(c, d.aBatch, d.bBatch, d.batch));
  llvm::SmallVector<int64_t> outShape(d.batch);
  outShape.append({d.m, d.n});
  return c.expectOutShape(0, outShape);
}

/// Where a matmul's operands and result live on the device: A and B as the
/// GEMM reads them (an f32 operand next to a bf16 one is converted to bf16 in
/// the workspace) and C as it writes it (an f32 product of f32 operands for a
/// bf16 output goes through the workspace).
struct MatmulBuffers {
  GemmInputType inputType;
  GemmOutputType outputType;
  const void *a, *b;
  void *c;
  bool convertA = false, convertB = false, convertC = false;
};

MatmulBuffers matmulBuffers(const KernelCall &c, Scratch &scratch) {
  MatmulBuffers m;
  bool f32A = c.inputs[0].dtype == plan::F32,
       f32B = c.inputs[1].dtype == plan::F32;
  m.inputType = f32A && f32B ? GemmInputType::F32 : GemmInputType::BF16;
  m.a = c.inputs[0].data;
  m.b = c.inputs[1].data;
  m.c = c.outputs[0].data;
  m.outputType = c.outputs[0].dtype == plan::F32 ? GemmOutputType::F32
                                                 : GemmOutputType::BF16;
  if (m.inputType == GemmInputType::BF16) {
    if ((m.convertA = f32A))
      m.a = scratch.take(c.inCount(0) * 2);
    if ((m.convertB = f32B))
      m.b = scratch.take(c.inCount(1) * 2);
  } else if (m.outputType == GemmOutputType::BF16) {
    m.convertC = true;
    m.outputType = GemmOutputType::F32;
    m.c = scratch.take(c.outCount(0) * 4);
  }
  return m;
}

Error gemmStatus(const KernelCall &c, const GemmStatus &status) {
  if (status.ok())
    return Error::success();
  return c.fail("cuBLASLt: " + status.message);
}

/// One GEMM per broadcast batch element, as the CPU does, for batch dims
/// that neither fold into rows nor match.
Error matmulPerBatch(const KernelCall &c, const MatmulDims &d,
                     const MatmulBuffers &m, const LaunchContext &context) {
  size_t inBytes = m.inputType == GemmInputType::F32 ? 4 : 2;
  size_t outBytes = m.outputType == GemmOutputType::F32 ? 4 : 2;
  int64_t numBatches = numElements(d.batch), rank = d.batch.size();
  GemmConfig config;
  config.shape = MatmulShape{1, d.m, d.n, d.k, d.transA, d.transB};
  config.inputType = m.inputType;
  config.outputType = m.outputType;
  llvm::SmallVector<int64_t> index(rank, 0);
  for (int64_t flat = 0; flat < numBatches; ++flat) {
    int64_t rem = flat;
    for (int64_t dim = rank - 1; dim >= 0; --dim) {
      index[dim] = rem % d.batch[dim];
      rem /= d.batch[dim];
    }
    auto offsetIn = [&](llvm::ArrayRef<int64_t> dims) {
      int64_t offset = 0, lead = rank - dims.size();
      for (size_t dim = 0; dim < dims.size(); ++dim)
        offset = offset * dims[dim] + (dims[dim] == 1 ? 0 : index[lead + dim]);
      return offset;
    };
    GemmArgs args;
    args.a = static_cast<const char *>(m.a) +
             offsetIn(d.aBatch) * d.m * d.k * inBytes;
    args.b = static_cast<const char *>(m.b) +
             offsetIn(d.bBatch) * d.k * d.n * inBytes;
    args.c = static_cast<char *>(m.c) + flat * d.m * d.n * outBytes;
    STRATA_RETURN_IF_ERROR(
        gemmStatus(c, context.gemm->matmul(config, args, context.stream)));
  }
  return Error::success();
}

Expected<size_t> matmulWorkspace(const KernelCall &c) {
  MatmulDims d;
  if (Error err = matmulDims(c, d))
    return std::move(err);
  Scratch scratch(nullptr);
  matmulBuffers(c, scratch);
  return scratch.size();
}

Error launchMatmul(const KernelCall &c, const LaunchContext &context) {
  MatmulDims d;
  STRATA_RETURN_IF_ERROR(matmulDims(c, d));
  if (c.outCount(0) == 0)
    return Error::success();
  if (d.k == 0) // an empty sum
    return launched(
        c, cudaMemsetAsync(c.outputs[0].data, 0,
                           c.outCount(0) * elementBytes(c.outputs[0].dtype),
                           context.stream));
  if (!context.gemm)
    return c.fail("needs a cuBLASLt handle (LaunchContext::gemm)");
  Scratch sizes(nullptr);
  matmulBuffers(c, sizes);
  STRATA_RETURN_IF_ERROR(checkedScratch(c, context, sizes.size()));
  Scratch scratch(context.workspace);
  MatmulBuffers m = matmulBuffers(c, scratch);
  DevicePtr bf16A{const_cast<void *>(m.a), kBF16},
      bf16B{const_cast<void *>(m.b), kBF16};
  if (m.convertA)
    STRATA_RETURN_IF_ERROR(launched(
        c, launchConvert(inPtr(c, 0), bf16A, c.inCount(0), context.stream)));
  if (m.convertB)
    STRATA_RETURN_IF_ERROR(launched(
        c, launchConvert(inPtr(c, 1), bf16B, c.inCount(1), context.stream)));

  GemmConfig config;
  config.inputType = m.inputType;
  config.outputType = m.outputType;
  GemmArgs args;
  args.a = m.a;
  args.b = m.b;
  args.c = m.c;
  if (d.bBatch.empty() && !d.transA) {
    // A rank-2 right operand is shared by every batch: one GEMM over the
    // batches' rows.
    config.shape =
        MatmulShape{1, numElements(d.aBatch) * d.m, d.n, d.k, false, d.transB};
    STRATA_RETURN_IF_ERROR(
        gemmStatus(c, context.gemm->matmul(config, args, context.stream)));
  } else if (d.aBatch == d.bBatch) {
    config.shape =
        MatmulShape{numElements(d.batch), d.m, d.n, d.k, d.transA, d.transB};
    STRATA_RETURN_IF_ERROR(
        gemmStatus(c, context.gemm->matmul(config, args, context.stream)));
  } else {
    STRATA_RETURN_IF_ERROR(matmulPerBatch(c, d, m, context));
  }
  if (m.convertC)
    return launched(c, launchConvert(DevicePtr{m.c, kF32}, outPtr(c, 0),
                                     c.outCount(0), context.stream));
  return Error::success();
}

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

/// The reduction's merged layout and, when the reduced dimensions form one
/// block, its split (planReduceSplit); `workspace` gets the bytes of the
/// partial results.
Error reduceDims(const KernelCall &c, cpu::ReduceKind &kind, ReduceDims &dims,
                 size_t &workspace) {
  llvm::SmallVector<int64_t> axes, shape;
  STRATA_RETURN_IF_ERROR(exec::detail::reduceKind(c, kind));
  STRATA_RETURN_IF_ERROR(
      exec::detail::reduceAxes(c, c.inShape(0), axes, shape));
  STRATA_RETURN_IF_ERROR(expectSameKind(c, {0}, 0));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, shape));
  // Consecutive dimensions that are all kept or all reduced merge (x is
  // contiguous); dimensions of size 1 drop out.
  llvm::ArrayRef<int64_t> in = c.inShape(0);
  llvm::SmallVector<int64_t> strides = contiguousStrides(in);
  llvm::SmallVector<int64_t> groupDims[2], groupStrides[2];
  dims = ReduceDims();
  dims.numOutputs = 1;
  dims.numReduced = 1;
  int last = -1; // 0: kept, 1: reduced
  for (size_t d = 0; d < in.size(); ++d) {
    int reduced = llvm::is_contained(axes, int64_t(d)) ? 1 : 0;
    (reduced ? dims.numReduced : dims.numOutputs) *= in[d];
    if (in[d] == 1)
      continue;
    if (reduced == last) {
      groupDims[reduced].back() *= in[d];
      groupStrides[reduced].back() = strides[d];
    } else {
      groupDims[reduced].push_back(in[d]);
      groupStrides[reduced].push_back(strides[d]);
    }
    last = reduced;
  }
  dims.innerKept = last == 0;
  for (int reduced = 0; reduced < 2; ++reduced) {
    StridedDims &index = reduced ? dims.reduced : dims.kept;
    if (groupDims[reduced].size() > size_t(kMaxDims))
      return c.fail("the reduction has more than " + llvm::Twine(kMaxDims) +
                    " separate groups of dimensions");
    index.rank = int(groupDims[reduced].size());
    for (int d = 0; d < index.rank; ++d) {
      index.dims[d] = groupDims[reduced][d];
      index.strides[0][d] = groupStrides[reduced][d];
    }
  }
  // One reduced block: x is [outer, reduced, inner], the kept groups before
  // and after it (at most one each, since groups alternate).
  if (dims.reduced.rank == 1) {
    dims.contiguous = true;
    int64_t reducedStride = dims.reduced.strides[0][0];
    for (int d = 0; d < dims.kept.rank; ++d)
      (dims.kept.strides[0][d] > reducedStride ? dims.outer : dims.inner) *=
          dims.kept.dims[d];
  }
  workspace = planReduceSplit(dims, int(elementBytes(c.inputs[0].dtype)));
  return Error::success();
}

Expected<size_t> reduceWorkspace(const KernelCall &c) {
  cpu::ReduceKind kind;
  ReduceDims dims;
  size_t workspace;
  if (Error err = reduceDims(c, kind, dims, workspace))
    return std::move(err);
  return workspace;
}

Error launchReduceOp(const KernelCall &c, const LaunchContext &context) {
  cpu::ReduceKind kind;
  ReduceDims dims;
  size_t workspace;
  STRATA_RETURN_IF_ERROR(reduceDims(c, kind, dims, workspace));
  STRATA_RETURN_IF_ERROR(checkedScratch(c, context, workspace));
  return launched(c, launchReduce(kind, inPtr(c, 0), outPtr(c, 0), dims,
                                  static_cast<float *>(context.workspace),
                                  context.stream));
}

Error launchSoftmaxOp(const KernelCall &c, const LaunchContext &context) {
  int64_t axis;
  STRATA_RETURN_IF_ERROR(expectFloats(c, {0}));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(
      exec::detail::softmaxAxis(c, c.inShape(0).size(), axis));
  llvm::ArrayRef<int64_t> shape = c.inShape(0);
  int64_t outer = numElements(shape.take_front(axis)),
          inner = numElements(shape.drop_front(axis + 1));
  return launched(c, launchSoftmax(c.op() == "log_softmax", inPtr(c, 0),
                                   outPtr(c, 0), outer, shape[axis], inner,
                                   context.stream));
}

Error launchNormOp(const KernelCall &c, const LaunchContext &context) {
  bool hasBias = c.op() == "layer_norm";
  double epsilon;
  int64_t rows, dim;
  STRATA_RETURN_IF_ERROR(hasBias ? expectFloats(c, {0, 1, 2})
                                 : expectFloats(c, {0, 1}));
  STRATA_RETURN_IF_ERROR(c.floatAttr("epsilon", epsilon));
  STRATA_RETURN_IF_ERROR(
      exec::detail::normShape(c, hasBias ? 2 : 1, rows, dim));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  DevicePtr bias = hasBias ? inPtr(c, 2) : DevicePtr{nullptr, kF32};
  return launched(c, launchNorm(inPtr(c, 0), inPtr(c, 1), bias, outPtr(c, 0),
                                rows, dim, float(epsilon), context.stream));
}

/// The CPU's checks without the target values, which the kernel checks on
/// the device.
Error crossEntropyOperands(const KernelCall &c, int64_t &rows, int64_t &vocab) {
  STRATA_RETURN_IF_ERROR(expectFloats(c, {0}));
  STRATA_RETURN_IF_ERROR(expectI32Input(c, 1));
  STRATA_RETURN_IF_ERROR(c.expectOutCount(0, 1));
  return exec::detail::crossEntropyDims(c, rows, vocab);
}

Expected<size_t> crossEntropyWorkspace(const KernelCall &c) {
  int64_t rows, vocab;
  if (Error err = crossEntropyOperands(c, rows, vocab))
    return std::move(err);
  return size_t(rows) * sizeof(float);
}

Error launchCrossEntropyOp(const KernelCall &c, const LaunchContext &context) {
  int64_t rows, vocab;
  STRATA_RETURN_IF_ERROR(crossEntropyOperands(c, rows, vocab));
  STRATA_RETURN_IF_ERROR(checkedScratch(c, context, rows * sizeof(float)));
  return launched(c, launchCrossEntropy(
                         inPtr(c, 0),
                         static_cast<const int32_t *>(c.inputs[1].data),
                         outPtr(c, 0), static_cast<float *>(context.workspace),
                         rows, vocab, errorsOf(context), context.stream));
}

//===----------------------------------------------------------------------===//
// Layout and indexing
//===----------------------------------------------------------------------===//

Error launchReshape(const KernelCall &c, const LaunchContext &context) {
  STRATA_RETURN_IF_ERROR(expectSameKind(c, {0}, 0));
  if (c.outCount(0) != c.inCount(0))
    return c.fail("cannot reshape " + shapeString(c.inShape(0)) + " to " +
                  shapeString(c.outShape(0)));
  const exec::BufferView &in = c.inputs[0], &out = c.outputs[0];
  if (c.inCount(0) == 0 || (in.data == out.data && in.dtype == out.dtype))
    return Error::success();
  if (in.dtype == out.dtype)
    return launched(c,
                    cudaMemcpyAsync(out.data, in.data,
                                    c.inCount(0) * elementBytes(in.dtype),
                                    cudaMemcpyDeviceToDevice, context.stream));
  return launched(c, launchConvert(inPtr(c, 0), outPtr(c, 0), c.inCount(0),
                                   context.stream));
}

Error launchTranspose(const KernelCall &c, const LaunchContext &context) {
  llvm::SmallVector<int64_t> perm, shape;
  STRATA_RETURN_IF_ERROR(exec::detail::transposeShape(c, perm, shape));
  llvm::ArrayRef<int64_t> in = c.inShape(0);
  STRATA_RETURN_IF_ERROR(expectSameKind(c, {0}, 0));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, shape));
  llvm::SmallVector<int64_t> inStrides = contiguousStrides(in);
  llvm::SmallVector<int64_t> readStrides[1];
  for (int64_t p : perm)
    readStrides[0].push_back(inStrides[p]);
  StridedDims index;
  STRATA_RETURN_IF_ERROR(mergeDims(c, shape, readStrides, index));
  return launched(c, launchPermute(inPtr(c, 0), outPtr(c, 0), index,
                                   c.outCount(0), context.stream));
}

Error launchSlice(const KernelCall &c, const LaunchContext &context) {
  int64_t axis, start, end;
  llvm::SmallVector<int64_t> shape;
  STRATA_RETURN_IF_ERROR(
      exec::detail::sliceBounds(c, c.inShape(0), axis, start, end, shape));
  STRATA_RETURN_IF_ERROR(expectSameKind(c, {0}, 0));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, shape));
  llvm::ArrayRef<int64_t> in = c.inShape(0);
  int64_t outer = numElements(in.take_front(axis)),
          inner = numElements(in.drop_front(axis + 1));
  int64_t width = (end - start) * inner;
  return launched(c, launchCopyRows(inPtr(c, 0), start * inner,
                                    in[axis] * inner, outPtr(c, 0), 0, width,
                                    outer, width, context.stream));
}

Error launchConcat(const KernelCall &c, const LaunchContext &context) {
  int64_t axis;
  llvm::SmallVector<int64_t> shape;
  STRATA_RETURN_IF_ERROR(exec::detail::concatShape(c, axis, shape));
  llvm::SmallVector<unsigned> all;
  for (unsigned i = 0; i < c.inputs.size(); ++i)
    all.push_back(i);
  STRATA_RETURN_IF_ERROR(expectSameKind(c, all, 0));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, shape));
  int64_t outer = numElements(llvm::ArrayRef(shape).take_front(axis));
  int64_t outWidth = numElements(llvm::ArrayRef(shape).drop_front(axis));
  int64_t offset = 0;
  for (unsigned i = 0; i < c.inputs.size(); ++i) {
    int64_t width = numElements(c.inShape(i).drop_front(axis));
    STRATA_RETURN_IF_ERROR(
        launched(c, launchCopyRows(inPtr(c, i), 0, width, outPtr(c, 0), offset,
                                   outWidth, outer, width, context.stream)));
    offset += width;
  }
  return Error::success();
}

Error launchGatherOp(const KernelCall &c, const LaunchContext &context) {
  STRATA_RETURN_IF_ERROR(expectI32Input(c, 1));
  llvm::ArrayRef<int64_t> table = c.inShape(0);
  if (table.empty())
    return c.fail("the table must have rank >= 1");
  llvm::SmallVector<int64_t> shape(c.inShape(1));
  shape.append(table.begin() + 1, table.end());
  STRATA_RETURN_IF_ERROR(expectSameKind(c, {0}, 0));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, shape));
  return launched(
      c,
      launchGather(inPtr(c, 0), table.front(), numElements(table.drop_front()),
                   static_cast<const int32_t *>(c.inputs[1].data), c.inCount(1),
                   outPtr(c, 0), errorsOf(context), context.stream));
}

Error launchOneHotOp(const KernelCall &c, const LaunchContext &context) {
  int64_t classes;
  STRATA_RETURN_IF_ERROR(expectI32Input(c, 0));
  STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/false, 0));
  STRATA_RETURN_IF_ERROR(c.intAttr("num_classes", classes));
  llvm::SmallVector<int64_t> shape(c.inShape(0));
  shape.push_back(classes);
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, shape));
  return launched(c,
                  launchOneHot(static_cast<const int32_t *>(c.inputs[0].data),
                               c.inCount(0), classes, outPtr(c, 0),
                               errorsOf(context), context.stream));
}

//===----------------------------------------------------------------------===//
// rope, attention
//===----------------------------------------------------------------------===//

Error launchRopeOp(const KernelCall &c, const LaunchContext &context) {
  double theta;
  STRATA_RETURN_IF_ERROR(expectFloats(c, {0}));
  STRATA_RETURN_IF_ERROR(c.floatAttr("theta", theta));
  llvm::ArrayRef<int64_t> s = c.inShape(0);
  if (s.size() != 4 || s[3] % 2 != 0)
    return c.fail("needs an input [B, H, T, Dh] with Dh even, got " +
                  shapeString(s));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, s));
  return launched(c, launchRope(inPtr(c, 0), outPtr(c, 0), s[0] * s[1], s[2],
                                s[3], float(theta), context.stream));
}

Error attentionShape(const KernelCall &c, AttentionShape &s) {
  STRATA_RETURN_IF_ERROR(expectFloats(c, {0, 1, 2}));
  STRATA_RETURN_IF_ERROR(exec::detail::attentionShapeOf(c, s));
  return c.expectOutShape(0, {s.batch, s.qHeads, s.qLen, s.valueDim});
}

/// The flash kernels' bf16 operands and output, converted copies in the
/// workspace for f32 buffers, and the row logsumexp they write.
struct FlashBuffers {
  const __nv_bfloat16 *q, *k, *v;
  __nv_bfloat16 *out;
  float *lse;
};

FlashBuffers flashBuffers(const KernelCall &c, const AttentionShape &s,
                          Scratch &scratch) {
  auto operand = [&](unsigned i) {
    if (c.inputs[i].dtype == plan::BF16)
      return static_cast<const __nv_bfloat16 *>(c.inputs[i].data);
    return static_cast<const __nv_bfloat16 *>(scratch.take(c.inCount(i) * 2));
  };
  FlashBuffers f;
  f.q = operand(0);
  f.k = operand(1);
  f.v = operand(2);
  f.out = c.outputs[0].dtype == plan::BF16
              ? static_cast<__nv_bfloat16 *>(c.outputs[0].data)
              : static_cast<__nv_bfloat16 *>(scratch.take(c.outCount(0) * 2));
  f.lse = static_cast<float *>(
      scratch.take(s.batch * s.qHeads * s.qLen * sizeof(float)));
  return f;
}

Expected<size_t> attentionWorkspace(const KernelCall &c) {
  AttentionShape s;
  if (Error err = attentionShape(c, s))
    return std::move(err);
  if (!flashAttentionSupports(s))
    return size_t(0);
  Scratch scratch(nullptr);
  flashBuffers(c, s, scratch);
  return scratch.size();
}

Error launchAttention(const KernelCall &c, const LaunchContext &context) {
  AttentionShape s;
  STRATA_RETURN_IF_ERROR(attentionShape(c, s));
  if (!flashAttentionSupports(s)) {
    if (s.valueDim > kFallbackMaxValueDim)
      return c.fail("value head dim " + llvm::Twine(s.valueDim) +
                    " is larger than the CUDA backend's " +
                    llvm::Twine(kFallbackMaxValueDim));
    return launched(c, launchAttentionFallback(inPtr(c, 0), inPtr(c, 1),
                                               inPtr(c, 2), outPtr(c, 0), s,
                                               context.stream));
  }
  Scratch sizes(nullptr);
  flashBuffers(c, s, sizes);
  STRATA_RETURN_IF_ERROR(checkedScratch(c, context, sizes.size()));
  Scratch scratch(context.workspace);
  FlashBuffers f = flashBuffers(c, s, scratch);
  const __nv_bfloat16 *operands[] = {f.q, f.k, f.v};
  for (unsigned i = 0; i < 3; ++i)
    if (c.inputs[i].dtype != plan::BF16)
      STRATA_RETURN_IF_ERROR(launched(
          c, launchConvert(
                 inPtr(c, i),
                 DevicePtr{const_cast<__nv_bfloat16 *>(operands[i]), kBF16},
                 c.inCount(i), context.stream)));
  STRATA_RETURN_IF_ERROR(
      launched(c, flashAttentionForward(f.out, f.lse, f.q, f.k, f.v, s,
                                        context.stream)));
  if (c.outputs[0].dtype != plan::BF16)
    return launched(c, launchConvert(DevicePtr{f.out, kBF16}, outPtr(c, 0),
                                     c.outCount(0), context.stream));
  return Error::success();
}

const CudaKernelEntry kForwardKernels[] = {
    {"add", 2, 2, 1, launchBinaryOp, nullptr},
    {"sub", 2, 2, 1, launchBinaryOp, nullptr},
    {"mul", 2, 2, 1, launchBinaryOp, nullptr},
    {"div", 2, 2, 1, launchBinaryOp, nullptr},
    {"maximum", 2, 2, 1, launchBinaryOp, nullptr},
    {"minimum", 2, 2, 1, launchBinaryOp, nullptr},
    {"pow", 2, 2, 1, launchBinaryOp, nullptr},
    {"neg", 1, 1, 1, launchUnaryOp, nullptr},
    {"exp", 1, 1, 1, launchUnaryOp, nullptr},
    {"log", 1, 1, 1, launchUnaryOp, nullptr},
    {"sqrt", 1, 1, 1, launchUnaryOp, nullptr},
    {"rsqrt", 1, 1, 1, launchUnaryOp, nullptr},
    {"tanh", 1, 1, 1, launchUnaryOp, nullptr},
    {"sigmoid", 1, 1, 1, launchUnaryOp, nullptr},
    {"relu", 1, 1, 1, launchUnaryOp, nullptr},
    {"silu", 1, 1, 1, launchUnaryOp, nullptr},
    {"abs", 1, 1, 1, launchUnaryOp, nullptr},
    {"gelu", 1, 1, 1, launchGelu, nullptr},
    {"cast", 1, 1, 1, launchCast, nullptr},
    {"matmul", 2, 2, 1, launchMatmul, matmulWorkspace},
    {"reduce", 1, 1, 1, launchReduceOp, reduceWorkspace},
    {"softmax", 1, 1, 1, launchSoftmaxOp, nullptr},
    {"log_softmax", 1, 1, 1, launchSoftmaxOp, nullptr},
    {"layer_norm", 3, 3, 1, launchNormOp, nullptr},
    {"rms_norm", 2, 2, 1, launchNormOp, nullptr},
    {"reshape", 1, 1, 1, launchReshape, nullptr},
    {"transpose", 1, 1, 1, launchTranspose, nullptr},
    {"slice", 1, 1, 1, launchSlice, nullptr},
    {"concat", 1, kVariadicInputs, 1, launchConcat, nullptr},
    {"gather", 2, 2, 1, launchGatherOp, nullptr},
    {"iota", 0, 0, 1, launchIotaOp, nullptr},
    {"one_hot", 1, 1, 1, launchOneHotOp, nullptr},
    {"rope", 1, 1, 1, launchRopeOp, nullptr},
    {"attention", 3, 3, 1, launchAttention, attentionWorkspace},
    {"cross_entropy", 2, 2, 1, launchCrossEntropyOp, crossEntropyWorkspace},
    {"constant", 0, 0, 1, launchConstantOp, nullptr},
};

} // namespace

llvm::ArrayRef<CudaKernelEntry> strata::cuda::detail::forwardKernels() {
  return kForwardKernels;
}
