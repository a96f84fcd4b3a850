//===- KernelsTraining.cpp - CUDA table of the training kernels -----------===//
//
// Host side of the gradient, MoE/topk and optimizer kernels: each entry
// checks its kernel as the CPU dispatch does (CpuKernelsGrad.cpp,
// CpuKernelsTraining.cpp and the forward checks of topk/moe; the same
// messages, except that float buffers may be f32 or bf16), works out the
// launch parameters and calls a launcher of KernelsTraining*.cu. Nothing here
// reads device memory: the checks the CPU makes on data (indices, targets,
// the optimizer step) happen on the device (DeviceErrorRecord).
//
//===----------------------------------------------------------------------===//

#include "KernelsTraining.h"
#include "KernelTable.h"
#include "KernelsTrainingChecks.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

using namespace strata;
using namespace strata::cuda;
using namespace strata::cuda::detail;
using namespace strata::cuda::training;
using exec::detail::numElements;
using exec::detail::shapeString;
using llvm::Error;
using llvm::Expected;

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

TypedBuffer training::inputBuffer(const KernelCall &call, unsigned i) {
  return {call.inputs[i].data, deviceDType(call.inputs[i].dtype)};
}

TypedBuffer training::outputBuffer(const KernelCall &call, unsigned i) {
  return {call.outputs[i].data, deviceDType(call.outputs[i].dtype)};
}

training::Stream training::streamOf(const LaunchContext &context) {
  return {context.stream, context.errors, context.kernelIndex};
}

namespace {

/// Inputs `ins` and outputs `outs` are f32 or bf16 buffers.
Error floatBuffers(const KernelCall &c, std::initializer_list<unsigned> ins,
                   std::initializer_list<unsigned> outs) {
  for (unsigned i : ins)
    STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/true, i));
  for (unsigned i : outs)
    STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/false, i));
  return Error::success();
}

/// Input i is an i32 buffer (its device pointer).
Error indexInput(const KernelCall &c, unsigned i, const int32_t *&data) {
  return c.i32In(i, data);
}

/// Input i is a one-element f32 or bf16 buffer.
Error scalarInput(const KernelCall &c, unsigned i) {
  STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/true, i));
  return c.expectInCount(i, 1);
}

Error rankLimit(const KernelCall &c, llvm::ArrayRef<int64_t> shape) {
  if (shape.size() <= size_t(kMaxRank))
    return Error::success();
  return c.fail("the CUDA backend supports tensors of rank <= " +
                llvm::Twine(kMaxRank) + ", got " + shapeString(shape));
}

Error status(const KernelCall &c, cudaError_t err) {
  return launchStatus(c, err);
}

/// Row-major strides of a contiguous `shape`.
llvm::SmallVector<int64_t> stridesOf(llvm::ArrayRef<int64_t> shape) {
  llvm::SmallVector<int64_t> strides(shape.size());
  int64_t stride = 1;
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    strides[d] = stride;
    stride *= shape[d];
  }
  return strides;
}

void addDim(IndexMap &map, int64_t dim, int64_t first, int64_t second) {
  map.dims[map.rank] = dim;
  map.first[map.rank] = first;
  map.second[map.rank] = second;
  ++map.rank;
}

int64_t product(llvm::ArrayRef<int64_t> dims) { return numElements(dims); }

/// `map` without its size-1 dims and with neighbours merged where both
/// offsets are contiguous across them: the same offsets for fewer divisions
/// per element (a same-shape operand becomes one dimension).
IndexMap simplified(const IndexMap &map) {
  IndexMap out;
  for (int d = 0; d < map.rank; ++d) {
    if (map.dims[d] == 1)
      continue;
    int last = out.rank - 1;
    if (last >= 0 && out.first[last] == map.first[d] * map.dims[d] &&
        out.second[last] == map.second[d] * map.dims[d]) {
      out.dims[last] *= map.dims[d];
      out.first[last] = map.first[d];
      out.second[last] = map.second[d];
      continue;
    }
    addDim(out, map.dims[d], map.first[d], map.second[d]);
  }
  return out;
}

//===----------------------------------------------------------------------===//
// binary_grad
//===----------------------------------------------------------------------===//

struct BinaryGradArgs {
  int kind;
  BinaryGradSide a, b;
};

/// One side of binary_grad: `target` and `other` broadcast to `shape`.
BinaryGradSide binarySide(llvm::ArrayRef<int64_t> shape,
                          llvm::ArrayRef<int64_t> target,
                          llvm::ArrayRef<int64_t> other, bool targetIsA,
                          TypedBuffer grad) {
  size_t rank = shape.size();
  llvm::SmallVector<int64_t> outStrides = stridesOf(shape);
  llvm::SmallVector<int64_t> otherStrides = stridesOf(other);
  BinaryGradSide side;
  side.grad = grad;
  side.targetIsA = targetIsA;
  side.count = product(target);
  for (size_t d = 0; d < rank; ++d) {
    size_t tLead = rank - target.size(), oLead = rank - other.size();
    int64_t tDim = d < tLead ? 1 : target[d - tLead];
    int64_t oDim = d < oLead ? 1 : other[d - oLead];
    int64_t oStride = oDim == 1 ? 0 : otherStrides[d - oLead];
    if (tDim != 1)
      addDim(side.kept, tDim, outStrides[d], oStride);
    else if (shape[d] != 1)
      addDim(side.reduced, shape[d], outStrides[d], oStride);
  }
  side.reducedCount = 1;
  for (int d = 0; d < side.reduced.rank; ++d)
    side.reducedCount *= side.reduced.dims[d];
  side.kept = simplified(side.kept);
  side.reduced = simplified(side.reduced);
  return side;
}

Error parseBinaryGrad(const KernelCall &c, BinaryGradArgs &args) {
  STRATA_RETURN_IF_ERROR(floatBuffers(c, {0, 1, 2}, {0, 1}));
  std::string name;
  cpu::BinaryKind kind;
  STRATA_RETURN_IF_ERROR(c.stringAttr("kind", name));
  if (!exec::detail::parseBinaryKind(name, kind))
    return c.fail("unknown binary kind '" + name + "'");
  llvm::SmallVector<int64_t> shape;
  STRATA_RETURN_IF_ERROR(
      exec::detail::broadcastShapes(c, c.inShape(0), c.inShape(1), shape));
  STRATA_RETURN_IF_ERROR(c.expectInShape(2, shape));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(1, c.inShape(1)));
  STRATA_RETURN_IF_ERROR(rankLimit(c, shape));
  args.kind = int(kind);
  args.a =
      binarySide(shape, c.inShape(0), c.inShape(1), true, outputBuffer(c, 0));
  args.b =
      binarySide(shape, c.inShape(1), c.inShape(0), false, outputBuffer(c, 1));
  return Error::success();
}

Expected<size_t> binaryGradWorkspaceOf(const KernelCall &c) {
  BinaryGradArgs args;
  STRATA_RETURN_IF_ERROR(parseBinaryGrad(c, args));
  // The sides run one after the other and share the scratch.
  return std::max(binaryGradWorkspace(args.a), binaryGradWorkspace(args.b));
}

Error launchBinaryGrad(const KernelCall &c, const LaunchContext &ctx) {
  BinaryGradArgs args;
  STRATA_RETURN_IF_ERROR(parseBinaryGrad(c, args));
  for (const BinaryGradSide &side : {args.a, args.b})
    if (cudaError_t err = launchBinaryGradSide(
            args.kind, inputBuffer(c, 0), inputBuffer(c, 1), inputBuffer(c, 2),
            side, ctx.workspace, streamOf(ctx)))
      return status(c, err);
  return Error::success();
}

//===----------------------------------------------------------------------===//
// unary_grad, gelu_grad
//===----------------------------------------------------------------------===//

Error launchUnaryGradEntry(const KernelCall &c, const LaunchContext &ctx) {
  STRATA_RETURN_IF_ERROR(floatBuffers(c, {0, 1, 2}, {0}));
  STRATA_RETURN_IF_ERROR(c.expectInShape(1, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(c.expectInShape(2, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  std::string name;
  STRATA_RETURN_IF_ERROR(c.stringAttr("kind", name));
  int kind = -1; // silu
  if (name != "silu") {
    cpu::UnaryKind unary;
    if (!exec::detail::parseUnaryKind(name, unary))
      return c.fail("unknown unary kind '" + name + "'");
    kind = int(unary);
  }
  return status(c, launchUnaryGrad(kind, inputBuffer(c, 0), inputBuffer(c, 1),
                                   inputBuffer(c, 2), outputBuffer(c, 0),
                                   c.inCount(0), streamOf(ctx)));
}

Error launchGeluGradEntry(const KernelCall &c, const LaunchContext &ctx) {
  STRATA_RETURN_IF_ERROR(floatBuffers(c, {0, 1}, {0}));
  STRATA_RETURN_IF_ERROR(c.expectInShape(1, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  cpu::GeluApproximation approx;
  STRATA_RETURN_IF_ERROR(exec::detail::geluApproximation(c, approx));
  return status(c, launchGeluGrad(inputBuffer(c, 0), inputBuffer(c, 1),
                                  outputBuffer(c, 0), c.inCount(0),
                                  approx == cpu::GeluApproximation::Tanh,
                                  streamOf(ctx)));
}

//===----------------------------------------------------------------------===//
// reduce_grad
//===----------------------------------------------------------------------===//

Error launchReduceGradEntry(const KernelCall &c, const LaunchContext &ctx) {
  STRATA_RETURN_IF_ERROR(floatBuffers(c, {0, 1, 2}, {0}));
  cpu::ReduceKind kind;
  llvm::SmallVector<int64_t> axes, reduced;
  STRATA_RETURN_IF_ERROR(exec::detail::reduceKind(c, kind));
  STRATA_RETURN_IF_ERROR(
      exec::detail::reduceAxes(c, c.inShape(0), axes, reduced));
  STRATA_RETURN_IF_ERROR(c.expectInShape(1, reduced));
  STRATA_RETURN_IF_ERROR(c.expectInShape(2, reduced));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  llvm::ArrayRef<int64_t> shape = c.inShape(0);
  STRATA_RETURN_IF_ERROR(rankLimit(c, shape));
  // The reduced output's strides for kept dims (0 for reduced ones), as
  // Reduce.cpp's reducedStrides; keepdim only inserts 1s.
  llvm::SmallVector<int64_t> xStrides = stridesOf(shape);
  llvm::SmallVector<int64_t> outStrides(shape.size(), 0);
  int64_t stride = 1, reducedCount = 1;
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    if (llvm::is_contained(axes, d)) {
      reducedCount *= shape[d];
      continue;
    }
    outStrides[d] = stride;
    stride *= shape[d];
  }
  int64_t keptCount = stride;
  training::Stream s = streamOf(ctx);
  if (kind == cpu::ReduceKind::Sum || kind == cpu::ReduceKind::Mean) {
    IndexMap map;
    for (size_t d = 0; d < shape.size(); ++d)
      addDim(map, shape[d], outStrides[d], 0);
    double scale =
        kind == cpu::ReduceKind::Mean ? 1.0 / double(reducedCount) : 1.0;
    return status(c,
                  launchReduceGradSum(inputBuffer(c, 2), outputBuffer(c, 0),
                                      simplified(map), c.inCount(0), scale, s));
  }
  IndexMap kept, group;
  for (size_t d = 0; d < shape.size(); ++d)
    addDim(llvm::is_contained(axes, int64_t(d)) ? group : kept, shape[d],
           xStrides[d], 0);
  return status(c, launchReduceGradSelect(inputBuffer(c, 0), inputBuffer(c, 1),
                                          inputBuffer(c, 2), outputBuffer(c, 0),
                                          simplified(kept), simplified(group),
                                          keptCount, reducedCount, s));
}

//===----------------------------------------------------------------------===//
// softmax_grad, log_softmax_grad
//===----------------------------------------------------------------------===//

Error launchSoftmaxGradEntry(const KernelCall &c, const LaunchContext &ctx) {
  STRATA_RETURN_IF_ERROR(floatBuffers(c, {0, 1}, {0}));
  STRATA_RETURN_IF_ERROR(c.expectInShape(1, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  int64_t axis;
  llvm::ArrayRef<int64_t> shape = c.inShape(0);
  STRATA_RETURN_IF_ERROR(exec::detail::softmaxAxis(c, shape.size(), axis));
  return status(
      c, launchSoftmaxGrad(inputBuffer(c, 0), inputBuffer(c, 1),
                           outputBuffer(c, 0), product(shape.take_front(axis)),
                           shape[axis], product(shape.drop_front(axis + 1)),
                           c.op() == "log_softmax_grad", streamOf(ctx)));
}

//===----------------------------------------------------------------------===//
// layer_norm_grad, rms_norm_grad
//===----------------------------------------------------------------------===//

struct NormGradArgs {
  double epsilon;
  int64_t rows, dim;
};

Error parseNormGrad(const KernelCall &c, NormGradArgs &args) {
  bool hasBias = c.op() == "layer_norm_grad";
  if (hasBias)
    STRATA_RETURN_IF_ERROR(floatBuffers(c, {0, 1, 2}, {0, 1, 2}));
  else
    STRATA_RETURN_IF_ERROR(floatBuffers(c, {0, 1, 2}, {0, 1}));
  return exec::detail::normGradShape(c, args.epsilon, args.rows, args.dim);
}

Expected<size_t> normGradWorkspaceOf(const KernelCall &c) {
  NormGradArgs args;
  STRATA_RETURN_IF_ERROR(parseNormGrad(c, args));
  return normGradWorkspace(args.rows, args.dim);
}

Error launchNormGradEntry(const KernelCall &c, const LaunchContext &ctx) {
  NormGradArgs args;
  STRATA_RETURN_IF_ERROR(parseNormGrad(c, args));
  TypedBuffer db;
  if (c.op() == "layer_norm_grad")
    db = outputBuffer(c, 2);
  return status(c, launchNormGrad(inputBuffer(c, 0), inputBuffer(c, 1),
                                  inputBuffer(c, 2), outputBuffer(c, 0),
                                  outputBuffer(c, 1), db, args.rows, args.dim,
                                  float(args.epsilon), ctx.workspace,
                                  streamOf(ctx)));
}

//===----------------------------------------------------------------------===//
// attention_grad
//===----------------------------------------------------------------------===//

Error parseAttentionGrad(const KernelCall &c, cpu::AttentionShape &s) {
  STRATA_RETURN_IF_ERROR(floatBuffers(c, {0, 1, 2, 3}, {0, 1, 2}));
  STRATA_RETURN_IF_ERROR(exec::detail::attentionShapeOf(c, s));
  STRATA_RETURN_IF_ERROR(
      c.expectInShape(3, {s.batch, s.qHeads, s.qLen, s.valueDim}));
  for (unsigned i = 0; i < 3; ++i)
    STRATA_RETURN_IF_ERROR(c.expectOutShape(i, c.inShape(i)));
  return Error::success();
}

Expected<size_t> attentionGradWorkspaceOf(const KernelCall &c) {
  cpu::AttentionShape s;
  STRATA_RETURN_IF_ERROR(parseAttentionGrad(c, s));
  return attentionGradWorkspace(s, inputBuffer(c, 0), inputBuffer(c, 1),
                                inputBuffer(c, 2), inputBuffer(c, 3),
                                outputBuffer(c, 0), outputBuffer(c, 1),
                                outputBuffer(c, 2));
}

Error launchAttentionGradEntry(const KernelCall &c, const LaunchContext &ctx) {
  cpu::AttentionShape s;
  STRATA_RETURN_IF_ERROR(parseAttentionGrad(c, s));
  return status(c, launchAttentionGrad(inputBuffer(c, 0), inputBuffer(c, 1),
                                       inputBuffer(c, 2), inputBuffer(c, 3),
                                       outputBuffer(c, 0), outputBuffer(c, 1),
                                       outputBuffer(c, 2), s, ctx.workspace,
                                       streamOf(ctx)));
}

//===----------------------------------------------------------------------===//
// rope_grad, slice_grad, gather_grad
//===----------------------------------------------------------------------===//

Error launchRopeGradEntry(const KernelCall &c, const LaunchContext &ctx) {
  // CpuKernelsForward.cpp's ropeOperands, for f32 or bf16 buffers.
  STRATA_RETURN_IF_ERROR(floatBuffers(c, {0}, {0}));
  double theta;
  STRATA_RETURN_IF_ERROR(c.floatAttr("theta", theta));
  llvm::ArrayRef<int64_t> s = c.inShape(0);
  if (s.size() != 4 || s[3] % 2 != 0)
    return c.fail("needs an input [B, H, T, Dh] with Dh even, got " +
                  shapeString(s));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, s));
  return status(c,
                launchRopeGrad(inputBuffer(c, 0), outputBuffer(c, 0), s[0],
                               s[1], s[2], s[3], float(theta), streamOf(ctx)));
}

Error launchSliceGradEntry(const KernelCall &c, const LaunchContext &ctx) {
  STRATA_RETURN_IF_ERROR(floatBuffers(c, {0}, {0}));
  int64_t axis, start, end;
  llvm::SmallVector<int64_t> sliced;
  llvm::ArrayRef<int64_t> shape = c.outShape(0);
  STRATA_RETURN_IF_ERROR(
      exec::detail::sliceBounds(c, shape, axis, start, end, sliced));
  STRATA_RETURN_IF_ERROR(c.expectInShape(0, sliced));
  return status(c, launchSliceGrad(inputBuffer(c, 0), outputBuffer(c, 0),
                                   product(shape.take_front(axis)), shape[axis],
                                   product(shape.drop_front(axis + 1)), start,
                                   end, streamOf(ctx)));
}

struct GatherGradArgs {
  const int32_t *indices;
  int64_t numRows, rowSize;
};

Error parseGatherGrad(const KernelCall &c, GatherGradArgs &args) {
  STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/true, 0));
  STRATA_RETURN_IF_ERROR(indexInput(c, 1, args.indices));
  STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/false, 0));
  return exec::detail::gatherGradShape(c, args.numRows, args.rowSize);
}

Expected<size_t> gatherGradWorkspaceOf(const KernelCall &c) {
  GatherGradArgs args;
  STRATA_RETURN_IF_ERROR(parseGatherGrad(c, args));
  return gatherGradWorkspace(outputBuffer(c, 0), args.numRows, args.rowSize);
}

Error launchGatherGradEntry(const KernelCall &c, const LaunchContext &ctx) {
  GatherGradArgs args;
  STRATA_RETURN_IF_ERROR(parseGatherGrad(c, args));
  return status(c,
                launchGatherGrad(inputBuffer(c, 0), args.indices,
                                 outputBuffer(c, 0), c.inCount(1), args.rowSize,
                                 args.numRows, ctx.workspace, streamOf(ctx)));
}

//===----------------------------------------------------------------------===//
// cross_entropy_grad
//===----------------------------------------------------------------------===//

Error launchCrossEntropyGradEntry(const KernelCall &c,
                                  const LaunchContext &ctx) {
  CrossEntropyOperands ops;
  STRATA_RETURN_IF_ERROR(parseCrossEntropy(c, /*withGrad=*/true, ops));
  return status(c, launchCrossEntropy(ops.logits, ops.targets, ops.dloss,
                                      ops.out, TypedBuffer(), ops.rows,
                                      ops.vocab, nullptr, streamOf(ctx)));
}

//===----------------------------------------------------------------------===//
// moe_dispatch, moe_combine and their gradients
//===----------------------------------------------------------------------===//

struct MoeArgs {
  MoeRouting routing;
  int64_t dim = 0;
};

Error parseMoeDispatch(const KernelCall &c, MoeArgs &args) {
  STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/true, 0));
  STRATA_RETURN_IF_ERROR(indexInput(c, 1, args.routing.indices));
  STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/false, 0));
  int64_t experts, capacity;
  STRATA_RETURN_IF_ERROR(exec::detail::moeDispatchShape(c, experts, capacity));
  llvm::ArrayRef<int64_t> xs = c.inShape(0), is = c.inShape(1);
  args.routing = {args.routing.indices, is[0], is[1], experts, capacity};
  args.dim = xs[1];
  return Error::success();
}

/// moe_combine (inputs y, indices, weights) and moe_combine_grad (also dout).
Error parseMoeCombine(const KernelCall &c, MoeArgs &args) {
  bool grad = c.op() == "moe_combine_grad";
  STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/true, 0));
  STRATA_RETURN_IF_ERROR(indexInput(c, 1, args.routing.indices));
  STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/true, 2));
  if (grad) {
    STRATA_RETURN_IF_ERROR(floatBuffers(c, {3}, {0, 1}));
  } else {
    STRATA_RETURN_IF_ERROR(floatBuffers(c, {}, {0}));
  }
  int64_t experts, capacity, dim, tokens, k;
  STRATA_RETURN_IF_ERROR(
      exec::detail::moeCombineShape(c, experts, capacity, dim, tokens, k));
  if (grad) {
    STRATA_RETURN_IF_ERROR(c.expectInShape(3, {tokens, dim}));
    STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
    STRATA_RETURN_IF_ERROR(c.expectOutShape(1, c.inShape(2)));
  } else {
    STRATA_RETURN_IF_ERROR(c.expectOutShape(0, {tokens, dim}));
  }
  args.routing = {args.routing.indices, tokens, k, experts, capacity};
  args.dim = dim;
  return Error::success();
}

Error parseMoeDispatchGrad(const KernelCall &c, MoeArgs &args) {
  STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/true, 0));
  STRATA_RETURN_IF_ERROR(indexInput(c, 1, args.routing.indices));
  STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/false, 0));
  llvm::ArrayRef<int64_t> gs = c.inShape(0), is = c.inShape(1);
  if (gs.size() != 3 || is.size() != 2)
    return c.fail("needs grad [E, C, D] and indices [N, k], got " +
                  shapeString(gs) + " and " + shapeString(is));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, {is[0], gs[2]}));
  args.routing = {args.routing.indices, is[0], is[1], gs[0], gs[1]};
  args.dim = gs[2];
  return Error::success();
}

Error parseMoe(const KernelCall &c, MoeArgs &args) {
  if (c.op() == "moe_dispatch")
    return parseMoeDispatch(c, args);
  if (c.op() == "moe_dispatch_grad")
    return parseMoeDispatchGrad(c, args);
  return parseMoeCombine(c, args);
}

Expected<size_t> moeWorkspaceOf(const KernelCall &c) {
  MoeArgs args;
  STRATA_RETURN_IF_ERROR(parseMoe(c, args));
  return moeWorkspace(args.routing);
}

Error launchMoeEntry(const KernelCall &c, const LaunchContext &ctx) {
  MoeArgs args;
  STRATA_RETURN_IF_ERROR(parseMoe(c, args));
  training::Stream s = streamOf(ctx);
  cudaError_t err;
  if (c.op() == "moe_dispatch")
    err = launchMoeDispatch(inputBuffer(c, 0), outputBuffer(c, 0), args.routing,
                            args.dim, ctx.workspace, s);
  else if (c.op() == "moe_dispatch_grad")
    err = launchMoeDispatchGrad(inputBuffer(c, 0), outputBuffer(c, 0),
                                args.routing, args.dim, ctx.workspace, s);
  else if (c.op() == "moe_combine")
    err = launchMoeCombine(inputBuffer(c, 0), inputBuffer(c, 2),
                           outputBuffer(c, 0), args.routing, args.dim,
                           ctx.workspace, s);
  else
    err = launchMoeCombineGrad(inputBuffer(c, 0), inputBuffer(c, 2),
                               inputBuffer(c, 3), outputBuffer(c, 0),
                               outputBuffer(c, 1), args.routing, args.dim,
                               ctx.workspace, s);
  return status(c, err);
}

//===----------------------------------------------------------------------===//
// topk, topk_grad
//===----------------------------------------------------------------------===//

Error launchTopkEntry(const KernelCall &c, const LaunchContext &ctx) {
  int32_t *indices;
  int64_t k;
  STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/true, 0));
  STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/false, 0));
  STRATA_RETURN_IF_ERROR(c.i32Out(1, indices));
  int64_t rows, cols;
  STRATA_RETURN_IF_ERROR(exec::detail::topkShape(c, k, rows, cols));
  return status(c, launchTopk(inputBuffer(c, 0), outputBuffer(c, 0), indices,
                              rows, cols, k, streamOf(ctx)));
}

Error launchTopkGradEntry(const KernelCall &c, const LaunchContext &ctx) {
  const int32_t *indices;
  STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/true, 0));
  STRATA_RETURN_IF_ERROR(indexInput(c, 1, indices));
  STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/false, 0));
  int64_t rows, cols, k;
  STRATA_RETURN_IF_ERROR(exec::detail::topkGradShape(c, rows, cols, k));
  return status(c,
                launchTopkGrad(inputBuffer(c, 0), indices, outputBuffer(c, 0),
                               rows, cols, k, streamOf(ctx)));
}

//===----------------------------------------------------------------------===//
// accumulate, zero, global_norm, lr_schedule
//===----------------------------------------------------------------------===//

Error launchAccumulateEntry(const KernelCall &c, const LaunchContext &ctx) {
  STRATA_RETURN_IF_ERROR(floatBuffers(c, {0, 1}, {}));
  STRATA_RETURN_IF_ERROR(c.expectInShape(1, c.inShape(0)));
  return status(c, launchAccumulate(inputBuffer(c, 0), inputBuffer(c, 1),
                                    c.inCount(0), streamOf(ctx)));
}

Error launchZeroEntry(const KernelCall &c, const LaunchContext &ctx) {
  size_t bytes =
      size_t(c.inCount(0)) * (c.inputs[0].dtype == plan::BF16 ? 2 : 4);
  if (bytes == 0)
    return Error::success();
  return status(c, cudaMemsetAsync(c.inputs[0].data, 0, bytes, ctx.stream));
}

Error parseGlobalNorm(const KernelCall &c,
                      llvm::SmallVectorImpl<NormTensor> &tensors) {
  STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/false, 0));
  STRATA_RETURN_IF_ERROR(c.expectOutCount(0, 1));
  for (unsigned i = 0; i < c.inputs.size(); ++i) {
    STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/true, i));
    NormTensor tensor;
    tensor.data = inputBuffer(c, i);
    tensor.count = c.inCount(i);
    tensors.push_back(tensor);
  }
  return Error::success();
}

Expected<size_t> globalNormWorkspaceOf(const KernelCall &c) {
  llvm::SmallVector<NormTensor> tensors;
  STRATA_RETURN_IF_ERROR(parseGlobalNorm(c, tensors));
  return globalNormWorkspace(tensors.data(), int(tensors.size()));
}

Error launchGlobalNormEntry(const KernelCall &c, const LaunchContext &ctx) {
  llvm::SmallVector<NormTensor> tensors;
  STRATA_RETURN_IF_ERROR(parseGlobalNorm(c, tensors));
  return status(c, launchGlobalNorm(tensors.data(), int(tensors.size()),
                                    outputBuffer(c, 0), ctx.workspace,
                                    streamOf(ctx)));
}

Error launchLrScheduleEntry(const KernelCall &c, const LaunchContext &ctx) {
  const int32_t *step;
  STRATA_RETURN_IF_ERROR(indexInput(c, 0, step));
  STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/false, 0));
  cpu::LrSchedule schedule;
  STRATA_RETURN_IF_ERROR(exec::detail::lrScheduleOf(c, schedule));
  return status(
      c, launchLrSchedule(step, outputBuffer(c, 0), schedule, streamOf(ctx)));
}

//===----------------------------------------------------------------------===//
// adamw_update, sgd_update
//===----------------------------------------------------------------------===//

/// Inputs [first, first + count) are float buffers of input `first`'s shape.
Error sameShapeFloats(const KernelCall &c, unsigned first, unsigned count) {
  for (unsigned i = first; i < first + count; ++i) {
    STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/true, i));
    STRATA_RETURN_IF_ERROR(c.expectInShape(i, c.inShape(first)));
  }
  return Error::success();
}

Error launchAdamwEntry(const KernelCall &c, const LaunchContext &ctx) {
  AdamwTensor tensor;
  AdamwShared shared;
  STRATA_RETURN_IF_ERROR(parseAdamwUpdate(c, tensor, shared));
  return status(c, launchAdamw(&tensor, 1, shared, streamOf(ctx)));
}

Error launchSgdEntry(const KernelCall &c, const LaunchContext &ctx) {
  bool hasBuffer = c.inputs.size() == 5;
  STRATA_RETURN_IF_ERROR(sameShapeFloats(c, 0, hasBuffer ? 3 : 2));
  double momentum = 0.0, weightDecay = 0.0;
  STRATA_RETURN_IF_ERROR(c.optionalFloatAttr("momentum", momentum));
  STRATA_RETURN_IF_ERROR(c.optionalFloatAttr("weight_decay", weightDecay));
  // checkCpuKernel's arity check of sgd_update.
  if (!hasBuffer && momentum != 0.0)
    return c.fail("momentum " + llvm::formatv("{0}", momentum).str() +
                  " needs a momentum buffer (5 inputs)");
  unsigned scalars = hasBuffer ? 3 : 2;
  STRATA_RETURN_IF_ERROR(scalarInput(c, scalars));
  STRATA_RETURN_IF_ERROR(scalarInput(c, scalars + 1));
  return status(c,
                launchSgd(inputBuffer(c, 0), inputBuffer(c, 1),
                          hasBuffer ? inputBuffer(c, 2) : TypedBuffer(),
                          inputBuffer(c, scalars), inputBuffer(c, scalars + 1),
                          c.inCount(0), float(momentum), float(weightDecay),
                          streamOf(ctx)));
}

const CudaKernelEntry kTrainingKernels[] = {
    // Gradient ops.
    {"binary_grad", 3, 3, 2, launchBinaryGrad, binaryGradWorkspaceOf},
    {"unary_grad", 3, 3, 1, launchUnaryGradEntry, nullptr},
    {"gelu_grad", 2, 2, 1, launchGeluGradEntry, nullptr},
    {"reduce_grad", 3, 3, 1, launchReduceGradEntry, nullptr},
    {"softmax_grad", 2, 2, 1, launchSoftmaxGradEntry, nullptr},
    {"log_softmax_grad", 2, 2, 1, launchSoftmaxGradEntry, nullptr},
    {"layer_norm_grad", 3, 3, 3, launchNormGradEntry, normGradWorkspaceOf},
    {"rms_norm_grad", 3, 3, 2, launchNormGradEntry, normGradWorkspaceOf},
    {"attention_grad", 4, 4, 3, launchAttentionGradEntry,
     attentionGradWorkspaceOf},
    {"rope_grad", 1, 1, 1, launchRopeGradEntry, nullptr},
    {"gather_grad", 2, 2, 1, launchGatherGradEntry, gatherGradWorkspaceOf},
    {"slice_grad", 1, 1, 1, launchSliceGradEntry, nullptr},
    {"cross_entropy_grad", 3, 3, 1, launchCrossEntropyGradEntry, nullptr},
    {"moe_dispatch_grad", 2, 2, 1, launchMoeEntry, moeWorkspaceOf},
    {"moe_combine_grad", 4, 4, 2, launchMoeEntry, moeWorkspaceOf},
    {"topk_grad", 2, 2, 1, launchTopkGradEntry, nullptr},
    // MoE routing and top-k.
    {"topk", 1, 1, 2, launchTopkEntry, nullptr},
    {"moe_dispatch", 2, 2, 1, launchMoeEntry, moeWorkspaceOf},
    {"moe_combine", 3, 3, 1, launchMoeEntry, moeWorkspaceOf},
    // Training state and optimizer ops.
    {"accumulate", 2, 2, 0, launchAccumulateEntry, nullptr},
    {"zero", 1, 1, 0, launchZeroEntry, nullptr},
    {"global_norm", 0, kVariadicInputs, 1, launchGlobalNormEntry,
     globalNormWorkspaceOf},
    {"lr_schedule", 1, 1, 1, launchLrScheduleEntry, nullptr},
    {"adamw_update", 7, 7, 0, launchAdamwEntry, nullptr},
    {"sgd_update", 4, 5, 0, launchSgdEntry, nullptr},
};

} // namespace

//===----------------------------------------------------------------------===//
// The checks the fused groups share
//===----------------------------------------------------------------------===//

Error training::parseAdamwUpdate(const KernelCall &c, AdamwTensor &tensor,
                                 AdamwShared &shared) {
  STRATA_RETURN_IF_ERROR(sameShapeFloats(c, 0, 4)); // param, grad, m, v
  double beta1, beta2, epsilon, weightDecay = 0.0;
  STRATA_RETURN_IF_ERROR(c.floatAttr("beta1", beta1));
  STRATA_RETURN_IF_ERROR(c.floatAttr("beta2", beta2));
  STRATA_RETURN_IF_ERROR(c.floatAttr("epsilon", epsilon));
  STRATA_RETURN_IF_ERROR(c.optionalFloatAttr("weight_decay", weightDecay));
  STRATA_RETURN_IF_ERROR(scalarInput(c, 4));
  STRATA_RETURN_IF_ERROR(scalarInput(c, 5));
  STRATA_RETURN_IF_ERROR(indexInput(c, 6, shared.step));
  STRATA_RETURN_IF_ERROR(c.expectInCount(6, 1));
  tensor.param = inputBuffer(c, 0);
  tensor.grad = inputBuffer(c, 1);
  tensor.m = inputBuffer(c, 2);
  tensor.v = inputBuffer(c, 3);
  tensor.count = c.inCount(0);
  tensor.weightDecay = float(weightDecay);
  shared.beta1 = float(beta1);
  shared.beta2 = float(beta2);
  shared.epsilon = float(epsilon);
  shared.lr = inputBuffer(c, 4);
  shared.gradScale = inputBuffer(c, 5);
  return Error::success();
}

Error training::parseCrossEntropy(const KernelCall &c, bool withGrad,
                                  CrossEntropyOperands &ops) {
  STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/true, 0));
  STRATA_RETURN_IF_ERROR(indexInput(c, 1, ops.targets));
  if (withGrad) {
    STRATA_RETURN_IF_ERROR(scalarInput(c, 2));
    STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/false, 0));
    STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  } else {
    STRATA_RETURN_IF_ERROR(expectFloatBuffer(c, /*isInput=*/false, 0));
    STRATA_RETURN_IF_ERROR(c.expectOutCount(0, 1));
  }
  // CpuKernelsForward.cpp's crossEntropyShape without its reading of the
  // targets, which the kernel checks on the device.
  llvm::ArrayRef<int64_t> ls = c.inShape(0);
  if (ls.empty())
    return c.fail("logits must have rank >= 1");
  ops.vocab = ls.back();
  ops.rows = ops.vocab ? c.inCount(0) / ops.vocab : 0;
  if (c.inCount(1) != ops.rows)
    return c.fail("targets " + shapeString(c.inShape(1)) +
                  " do not match logits " + shapeString(ls));
  ops.logits = inputBuffer(c, 0);
  ops.dloss = withGrad ? inputBuffer(c, 2) : TypedBuffer();
  ops.out = outputBuffer(c, 0);
  return Error::success();
}

llvm::ArrayRef<CudaKernelEntry> strata::cuda::detail::trainingKernels() {
  return kTrainingKernels;
}
