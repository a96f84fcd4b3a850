//===- CpuKernelsForward.cpp - Forward graph ops on the CPU --------------===//
//
// One function per forward graph op (or family): checks dtypes and shapes
// against the op's semantics (dialects/graph GraphOps.td, the same checks as
// compiler/interp), then calls the runtime/cpu kernel.
//
//===----------------------------------------------------------------------===//

#include "CpuKernelsSupport.h"

#include "strata/Runtime/PlanFile.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace strata;
using namespace strata::exec;
using namespace strata::exec::detail;
using llvm::Error;

namespace {
/// Input 0 and output 0 of a kernel that also moves i32 tensors: they share a
/// dtype, the output has `shape`, and both are seen as f32.
Error floatInputOutput(const KernelCall &c, llvm::ArrayRef<int64_t> shape,
                       FloatInput &x, FloatOutput &out) {
  STRATA_RETURN_IF_ERROR(expectSameDType(c, {0}, 0));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, shape));
  STRATA_RETURN_IF_ERROR(x.init(c, 0));
  return out.init(c, 0);
}
} // namespace

Error detail::runBinary(const KernelCall &c) {
  cpu::BinaryKind kind;
  if (!parseBinaryKind(c.op(), kind))
    return c.fail("not a binary kernel");
  STRATA_RETURN_IF_ERROR(expectSameDType(c, {0, 1}, 0));
  if (c.outputs[0].dtype == plan::I32 &&
      (kind == cpu::BinaryKind::Div || kind == cpu::BinaryKind::Pow))
    return c.fail("i32 operands are not supported");
  llvm::SmallVector<int64_t> shape;
  STRATA_RETURN_IF_ERROR(broadcastShapes(c, c.inShape(0), c.inShape(1), shape));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, shape));
  FloatInput a, b;
  FloatOutput out;
  STRATA_RETURN_IF_ERROR(a.init(c, 0));
  STRATA_RETURN_IF_ERROR(b.init(c, 1));
  STRATA_RETURN_IF_ERROR(out.init(c, 0));
  cpu::binaryForward(kind, a.data(), viewOf(c.inShape(0)), b.data(),
                     viewOf(c.inShape(1)), out.data(), viewOf(shape));
  out.finish();
  return Error::success();
}

Error detail::runUnary(const KernelCall &c) {
  const float *x;
  float *y;
  STRATA_RETURN_IF_ERROR(c.f32In(0, x));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, y));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  if (c.op() == "silu") {
    cpu::siluForward(y, x, c.inCount(0));
    return Error::success();
  }
  cpu::UnaryKind kind;
  if (!parseUnaryKind(c.op(), kind))
    return c.fail("not a unary kernel");
  cpu::unaryForward(kind, x, y, c.inCount(0));
  return Error::success();
}

Error detail::runGelu(const KernelCall &c) {
  const float *x;
  float *y;
  cpu::GeluApproximation approx;
  STRATA_RETURN_IF_ERROR(c.f32In(0, x));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, y));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(geluApproximation(c, approx));
  int64_t n = c.inCount(0);
  parallelFor(threadsFor(c.numThreads, n), n, [&](int64_t begin, int64_t end) {
    cpu::geluForward(y + begin, x + begin, end - begin, approx);
  });
  return Error::success();
}

Error detail::runCast(const KernelCall &c) {
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  const BufferView &in = c.inputs[0], &out = c.outputs[0];
  int64_t n = c.inCount(0);
  if (in.dtype == out.dtype) {
    if (n > 0 && in.data != out.data)
      std::memmove(out.data, in.data, n * sizeof(float));
    return Error::success();
  }
  if (in.dtype == plan::I32) {
    const int32_t *x = static_cast<const int32_t *>(in.data);
    float *y = static_cast<float *>(out.data);
    for (int64_t i = 0; i < n; ++i)
      y[i] = float(x[i]);
    return Error::success();
  }
  const float *x = static_cast<const float *>(in.data);
  int32_t *y = static_cast<int32_t *>(out.data);
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i]) || std::fabs(x[i]) >= 0x1p63)
      return c.fail("cannot convert " + llvm::formatv("{0}", x[i]).str() +
                    " at position " + llvm::Twine(i) + " to an integer");
    // Rounds toward zero and wraps to 32 bits, like the interpreter.
    y[i] = int32_t(uint32_t(static_cast<int64_t>(x[i])));
  }
  return Error::success();
}

Error detail::runMatmul(const KernelCall &c) {
  const float *a, *b;
  float *out;
  STRATA_RETURN_IF_ERROR(c.f32In(0, a));
  STRATA_RETURN_IF_ERROR(c.f32In(1, b));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, out));
  bool transA, transB;
  STRATA_RETURN_IF_ERROR(c.unitAttr("transpose_a", transA));
  STRATA_RETURN_IF_ERROR(c.unitAttr("transpose_b", transB));
  llvm::ArrayRef<int64_t> as = c.inShape(0), bs = c.inShape(1);
  if (as.size() < 2 || bs.size() < 2)
    return c.fail("operands must have rank >= 2, got " + shapeString(as) +
                  " and " + shapeString(bs));
  int64_t m = transA ? as.back() : as[as.size() - 2];
  int64_t k = transA ? as[as.size() - 2] : as.back();
  int64_t kb = transB ? bs.back() : bs[bs.size() - 2];
  int64_t n = transB ? bs[bs.size() - 2] : bs.back();
  if (k != kb)
    return c.fail("contracting dimensions differ: " + shapeString(as) +
                  " and " + shapeString(bs));
  llvm::ArrayRef<int64_t> aBatch = as.drop_back(2), bBatch = bs.drop_back(2);
  llvm::SmallVector<int64_t> batch;
  STRATA_RETURN_IF_ERROR(broadcastShapes(c, aBatch, bBatch, batch));
  llvm::SmallVector<int64_t> outShape(batch);
  outShape.append({m, n});
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, outShape));

  // A rank-2 right operand is shared by every batch: fold the batch of the
  // left operand into its rows with one kernel call.
  if (bBatch.empty() && !transA) {
    cpu::MatmulShape shape{1, numElements(aBatch) * m, n, k, false, transB};
    cpu::matmulForward(out, a, b, shape, false, c.numThreads);
    return Error::success();
  }
  int64_t numBatches = numElements(batch), rank = batch.size();
  cpu::MatmulShape shape{1, m, n, k, transA, transB};
  llvm::SmallVector<int64_t> index(rank, 0);
  for (int64_t flat = 0; flat < numBatches; ++flat) {
    int64_t rem = flat;
    for (int64_t d = rank - 1; d >= 0; --d) {
      index[d] = rem % batch[d];
      rem /= batch[d];
    }
    // Offset of the batch element `index` in an operand whose batch dims are
    // `dims` (aligned right; size-1 dims broadcast).
    auto offsetIn = [&](llvm::ArrayRef<int64_t> dims) {
      int64_t offset = 0, lead = rank - dims.size();
      for (size_t d = 0; d < dims.size(); ++d)
        offset = offset * dims[d] + (dims[d] == 1 ? 0 : index[lead + d]);
      return offset;
    };
    cpu::matmulForward(out + flat * m * n, a + offsetIn(aBatch) * m * k,
                       b + offsetIn(bBatch) * k * n, shape, false,
                       c.numThreads);
  }
  return Error::success();
}

Error detail::runReduce(const KernelCall &c) {
  cpu::ReduceKind kind;
  llvm::SmallVector<int64_t> axes, shape;
  STRATA_RETURN_IF_ERROR(reduceKind(c, kind));
  STRATA_RETURN_IF_ERROR(reduceAxes(c, c.inShape(0), axes, shape));
  FloatInput x;
  FloatOutput out;
  STRATA_RETURN_IF_ERROR(floatInputOutput(c, shape, x, out));
  cpu::reduceForward(kind, x.data(), viewOf(c.inShape(0)), axes.data(),
                     static_cast<int>(axes.size()), out.data());
  out.finish();
  return Error::success();
}

Error detail::runSoftmax(const KernelCall &c) {
  const float *x;
  float *y;
  int64_t axis;
  STRATA_RETURN_IF_ERROR(c.f32In(0, x));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, y));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(softmaxAxis(c, c.inShape(0).size(), axis));
  bool log = c.op() == "log_softmax";
  alongAxis({x}, y, c.inShape(0), axis,
            [&](llvm::ArrayRef<const float *> in, float *out, int64_t rows,
                int64_t cols) {
              if (log)
                cpu::logSoftmaxForward(in[0], out, rows, cols);
              else
                cpu::softmaxForward(out, in[0], rows, cols);
            });
  return Error::success();
}

Error detail::normShape(const KernelCall &c, unsigned numWeights, int64_t &rows,
                        int64_t &dim) {
  llvm::ArrayRef<int64_t> shape = c.inShape(0);
  if (shape.empty())
    return c.fail("needs an input of rank >= 1");
  dim = shape.back();
  rows = dim ? numElements(shape) / dim : 0;
  for (unsigned i = 1; i <= numWeights; ++i)
    if (c.inCount(i) != dim)
      return c.fail("input " + llvm::Twine(i) + " has shape " +
                    shapeString(c.inShape(i)) + ", expected " +
                    llvm::Twine(dim) + " elements");
  return Error::success();
}

namespace {
/// The operands of layer_norm (x, weight, bias) and rms_norm (x, weight):
/// f32 inputs whose weight and bias are [dim] vectors, an f32 output of x's
/// shape, and epsilon.
struct NormOperands {
  const float *x, *w, *b = nullptr;
  float *out;
  double epsilon;
  int64_t rows, dim;
};

Error normOperands(const KernelCall &c, bool hasBias, NormOperands &ops) {
  STRATA_RETURN_IF_ERROR(c.f32In(0, ops.x));
  STRATA_RETURN_IF_ERROR(c.f32In(1, ops.w));
  if (hasBias)
    STRATA_RETURN_IF_ERROR(c.f32In(2, ops.b));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, ops.out));
  STRATA_RETURN_IF_ERROR(c.floatAttr("epsilon", ops.epsilon));
  STRATA_RETURN_IF_ERROR(normShape(c, hasBias ? 2 : 1, ops.rows, ops.dim));
  return c.expectOutShape(0, c.inShape(0));
}
} // namespace

Error detail::runLayerNorm(const KernelCall &c) {
  NormOperands n;
  STRATA_RETURN_IF_ERROR(normOperands(c, /*hasBias=*/true, n));
  std::vector<float> mean(n.rows), rstd(n.rows);
  cpu::layerNormForward(n.out, mean.data(), rstd.data(), n.x, n.w, n.b, n.rows,
                        n.dim, float(n.epsilon));
  return Error::success();
}

Error detail::runRmsNorm(const KernelCall &c) {
  NormOperands n;
  STRATA_RETURN_IF_ERROR(normOperands(c, /*hasBias=*/false, n));
  std::vector<float> rstd(n.rows);
  cpu::rmsNormForward(n.out, rstd.data(), n.x, n.w, n.rows, n.dim,
                      float(n.epsilon));
  return Error::success();
}

Error detail::runReshape(const KernelCall &c) {
  STRATA_RETURN_IF_ERROR(expectSameDType(c, {0}, 0));
  if (c.outCount(0) != c.inCount(0))
    return c.fail("cannot reshape " + shapeString(c.inShape(0)) + " to " +
                  shapeString(c.outShape(0)));
  // In place (the memory planner's hint for an input that dies here) the
  // reshape is a no-op.
  if (c.inCount(0) > 0 && c.inputs[0].data != c.outputs[0].data)
    std::memmove(c.outputs[0].data, c.inputs[0].data,
                 c.inCount(0) * *runtime::planDTypeSize(c.inputs[0].dtype));
  return Error::success();
}

Error detail::runTranspose(const KernelCall &c) {
  llvm::SmallVector<int64_t> perm, shape;
  STRATA_RETURN_IF_ERROR(transposeShape(c, perm, shape));
  llvm::ArrayRef<int64_t> in = c.inShape(0);
  FloatInput x;
  FloatOutput out;
  STRATA_RETURN_IF_ERROR(floatInputOutput(c, shape, x, out));
  cpu::transposeForward(x.data(), viewOf(in), perm.data(), out.data());
  out.finish();
  return Error::success();
}

Error detail::sliceBounds(const KernelCall &c, llvm::ArrayRef<int64_t> shape,
                          int64_t &axis, int64_t &start, int64_t &end,
                          llvm::SmallVectorImpl<int64_t> &sliced) {
  STRATA_RETURN_IF_ERROR(c.intAttr("axis", axis));
  STRATA_RETURN_IF_ERROR(c.intAttr("start", start));
  STRATA_RETURN_IF_ERROR(c.intAttr("end", end));
  int64_t rank = shape.size();
  if (axis < 0 || axis >= rank)
    return c.fail("axis " + llvm::Twine(axis) + " is out of range for " +
                  shapeString(shape));
  if (start < 0 || start > end || end > shape[axis])
    return c.fail("slice [" + llvm::Twine(start) + ", " + llvm::Twine(end) +
                  ") is out of range for dimension " + llvm::Twine(axis) +
                  " of " + shapeString(shape));
  sliced.assign(shape.begin(), shape.end());
  sliced[axis] = end - start;
  return Error::success();
}

Error detail::runSlice(const KernelCall &c) {
  int64_t axis, start, end;
  llvm::SmallVector<int64_t> shape;
  STRATA_RETURN_IF_ERROR(sliceBounds(c, c.inShape(0), axis, start, end, shape));
  FloatInput x;
  FloatOutput out;
  STRATA_RETURN_IF_ERROR(floatInputOutput(c, shape, x, out));
  cpu::sliceForward(x.data(), viewOf(c.inShape(0)), static_cast<int>(axis),
                    start, end, out.data());
  out.finish();
  return Error::success();
}

Error detail::runConcat(const KernelCall &c) {
  int64_t axis;
  llvm::SmallVector<int64_t> shape;
  STRATA_RETURN_IF_ERROR(concatShape(c, axis, shape));
  llvm::SmallVector<unsigned> all;
  for (unsigned i = 0; i < c.inputs.size(); ++i)
    all.push_back(i);
  STRATA_RETURN_IF_ERROR(expectSameDType(c, all, 0));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, shape));
  std::vector<FloatInput> inputs(c.inputs.size());
  llvm::SmallVector<const float *> pointers;
  llvm::SmallVector<cpu::Shape> shapes;
  for (unsigned i = 0; i < c.inputs.size(); ++i) {
    STRATA_RETURN_IF_ERROR(inputs[i].init(c, i));
    pointers.push_back(inputs[i].data());
    shapes.push_back(viewOf(c.inShape(i)));
  }
  FloatOutput out;
  STRATA_RETURN_IF_ERROR(out.init(c, 0));
  cpu::concatForward(pointers.data(), shapes.data(),
                     static_cast<int>(pointers.size()), static_cast<int>(axis),
                     out.data());
  out.finish();
  return Error::success();
}

Error detail::runGather(const KernelCall &c) {
  const int32_t *indices;
  STRATA_RETURN_IF_ERROR(c.i32In(1, indices));
  llvm::ArrayRef<int64_t> table = c.inShape(0);
  if (table.empty())
    return c.fail("the table must have rank >= 1");
  llvm::SmallVector<int64_t> shape(c.inShape(1));
  shape.append(table.begin() + 1, table.end());
  FloatInput x;
  FloatOutput out;
  STRATA_RETURN_IF_ERROR(floatInputOutput(c, shape, x, out));
  int64_t numRows = table.front();
  int64_t bad = cpu::gatherForward(
      x.data(), numRows, numElements(table) / std::max<int64_t>(numRows, 1),
      indices, c.inCount(1), out.data());
  if (bad >= 0)
    return c.badIndex("index", 1, bad, numRows);
  out.finish();
  return Error::success();
}

Error detail::runIota(const KernelCall &c) {
  if (c.outShape(0).size() != 1)
    return c.fail("needs a 1-D output, got " + shapeString(c.outShape(0)));
  int64_t n = c.outCount(0);
  if (c.outputs[0].dtype == plan::I32) {
    int32_t *out = static_cast<int32_t *>(c.outputs[0].data);
    for (int64_t i = 0; i < n; ++i)
      out[i] = int32_t(i);
  } else {
    float *out = static_cast<float *>(c.outputs[0].data);
    for (int64_t i = 0; i < n; ++i)
      out[i] = float(i);
  }
  return Error::success();
}

Error detail::runOneHot(const KernelCall &c) {
  const int32_t *indices;
  float *out;
  int64_t classes;
  STRATA_RETURN_IF_ERROR(c.i32In(0, indices));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, out));
  STRATA_RETURN_IF_ERROR(c.intAttr("num_classes", classes));
  llvm::SmallVector<int64_t> shape(c.inShape(0));
  shape.push_back(classes);
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, shape));
  int64_t n = c.inCount(0);
  for (int64_t i = 0; i < n; ++i)
    if (indices[i] < 0 || indices[i] >= classes)
      return c.badIndex("index", 0, i, classes);
  std::fill_n(out, n * classes, 0.0f);
  for (int64_t i = 0; i < n; ++i)
    out[i * classes + indices[i]] = 1.0f;
  return Error::success();
}

Error detail::ropeOperands(const KernelCall &c, const float *&in, float *&out,
                           double &theta) {
  STRATA_RETURN_IF_ERROR(c.f32In(0, in));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, out));
  STRATA_RETURN_IF_ERROR(c.floatAttr("theta", theta));
  llvm::ArrayRef<int64_t> s = c.inShape(0);
  if (s.size() != 4 || s[3] % 2 != 0)
    return c.fail("needs an input [B, H, T, Dh] with Dh even, got " +
                  shapeString(s));
  return c.expectOutShape(0, s);
}

Error detail::runRope(const KernelCall &c) {
  const float *x;
  float *out;
  double theta;
  STRATA_RETURN_IF_ERROR(ropeOperands(c, x, out, theta));
  llvm::ArrayRef<int64_t> s = c.inShape(0);
  cpu::ropeForward(out, x, s[0], s[1], s[2], s[3], float(theta));
  return Error::success();
}

Error detail::attentionShapeOf(const KernelCall &c,
                               cpu::AttentionShape &shape) {
  llvm::ArrayRef<int64_t> qs = c.inShape(0), ks = c.inShape(1),
                          vs = c.inShape(2);
  if (qs.size() != 4 || ks.size() != 4 || vs.size() != 4)
    return c.fail("query, key and value must have rank 4");
  if (qs[0] != ks[0] || qs[0] != vs[0] || ks[1] != vs[1] || ks[2] != vs[2] ||
      qs[3] != ks[3] || ks[1] == 0 || qs[1] % ks[1] != 0)
    return c.fail("incompatible shapes " + shapeString(qs) + ", " +
                  shapeString(ks) + ", " + shapeString(vs));
  double scale;
  bool causal;
  STRATA_RETURN_IF_ERROR(c.floatAttr("scale", scale));
  STRATA_RETURN_IF_ERROR(c.unitAttr("causal", causal));
  shape.batch = qs[0];
  shape.qHeads = qs[1];
  shape.kvHeads = ks[1];
  shape.qLen = qs[2];
  shape.kvLen = ks[2];
  shape.headDim = qs[3];
  shape.valueDim = vs[3];
  shape.causal = causal;
  shape.scale = float(scale);
  return Error::success();
}

void detail::parallelOverBatches(
    int numThreads, const cpu::AttentionShape &shape,
    llvm::function_ref<void(const AttentionBatches &)> body) {
  int64_t qSize = shape.qHeads * shape.qLen * shape.headDim,
          kSize = shape.kvHeads * shape.kvLen * shape.headDim,
          vSize = shape.kvHeads * shape.kvLen * shape.valueDim,
          oSize = shape.qHeads * shape.qLen * shape.valueDim;
  // A group (one batch, one kv head and the query heads that read it) is
  // contiguous in every operand and independent of the others, so the groups
  // are the units of work: the same sums in the same order for any split.
  int64_t groupSize = shape.qHeads / shape.kvHeads;
  cpu::AttentionShape group = shape;
  group.batch = shape.batch * shape.kvHeads;
  group.qHeads = groupSize;
  group.kvHeads = 1;
  qSize /= shape.kvHeads;
  kSize /= shape.kvHeads;
  vSize /= shape.kvHeads;
  oSize /= shape.kvHeads;
  parallelFor(numThreads, group.batch, [&](int64_t begin, int64_t end) {
    AttentionBatches batches{group, begin * qSize, begin * kSize, begin * vSize,
                             begin * oSize};
    batches.shape.batch = end - begin;
    body(batches);
  });
}

Error detail::runAttention(const KernelCall &c) {
  const float *q, *k, *v;
  float *out;
  cpu::AttentionShape s;
  STRATA_RETURN_IF_ERROR(c.f32In(0, q));
  STRATA_RETURN_IF_ERROR(c.f32In(1, k));
  STRATA_RETURN_IF_ERROR(c.f32In(2, v));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, out));
  STRATA_RETURN_IF_ERROR(attentionShapeOf(c, s));
  STRATA_RETURN_IF_ERROR(
      c.expectOutShape(0, {s.batch, s.qHeads, s.qLen, s.valueDim}));
  parallelOverBatches(c.numThreads, s, [&](const AttentionBatches &b) {
    cpu::attentionForward(out + b.o, q + b.q, k + b.k, v + b.v, b.shape);
  });
  return Error::success();
}

Error detail::runTopk(const KernelCall &c) {
  const float *x;
  float *values;
  int32_t *indices;
  int64_t k;
  STRATA_RETURN_IF_ERROR(c.f32In(0, x));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, values));
  STRATA_RETURN_IF_ERROR(c.i32Out(1, indices));
  int64_t rows, cols;
  STRATA_RETURN_IF_ERROR(topkShape(c, k, rows, cols));
  cpu::topkForward(x, rows, cols, k, values, indices);
  return Error::success();
}

Error detail::runMoeDispatch(const KernelCall &c) {
  const float *x;
  const int32_t *indices;
  float *out;
  int64_t experts, capacity;
  STRATA_RETURN_IF_ERROR(c.f32In(0, x));
  STRATA_RETURN_IF_ERROR(c.i32In(1, indices));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, out));
  STRATA_RETURN_IF_ERROR(moeDispatchShape(c, experts, capacity));
  llvm::ArrayRef<int64_t> xs = c.inShape(0), is = c.inShape(1);
  int64_t bad = cpu::moeDispatchForward(x, indices, xs[0], xs[1], is[1],
                                        experts, capacity, out);
  if (bad >= 0)
    return c.badIndex("expert id", 1, bad, experts);
  return Error::success();
}

Error detail::moeCombineShape(const KernelCall &c, int64_t &experts,
                              int64_t &capacity, int64_t &dim, int64_t &tokens,
                              int64_t &k) {
  llvm::ArrayRef<int64_t> ys = c.inShape(0), is = c.inShape(1),
                          ws = c.inShape(2);
  if (ys.size() != 3 || is.size() != 2 || ws != is)
    return c.fail("needs expert_outputs [E, C, D] and indices, weights "
                  "[N, k], got " +
                  shapeString(ys) + ", " + shapeString(is) + ", " +
                  shapeString(ws));
  experts = ys[0];
  capacity = ys[1];
  dim = ys[2];
  tokens = is[0];
  k = is[1];
  return Error::success();
}

Error detail::runMoeCombine(const KernelCall &c) {
  const float *y, *w;
  const int32_t *indices;
  float *out;
  int64_t experts, capacity, dim, tokens, k;
  STRATA_RETURN_IF_ERROR(c.f32In(0, y));
  STRATA_RETURN_IF_ERROR(c.i32In(1, indices));
  STRATA_RETURN_IF_ERROR(c.f32In(2, w));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, out));
  STRATA_RETURN_IF_ERROR(moeCombineShape(c, experts, capacity, dim, tokens, k));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, {tokens, dim}));
  int64_t bad = cpu::moeCombineForward(y, indices, w, tokens, dim, k, experts,
                                       capacity, out);
  if (bad >= 0)
    return c.badIndex("expert id", 1, bad, experts);
  return Error::success();
}

Error detail::crossEntropyShape(const KernelCall &c, int64_t &rows,
                                int64_t &vocab) {
  STRATA_RETURN_IF_ERROR(crossEntropyDims(c, rows, vocab));
  const int32_t *targets = static_cast<const int32_t *>(c.inputs[1].data);
  for (int64_t r = 0; r < rows; ++r)
    if (targets[r] < 0 || targets[r] >= vocab)
      return c.badIndex("target", 1, r, vocab);
  return Error::success();
}

Error detail::runCrossEntropy(const KernelCall &c) {
  const float *logits;
  const int32_t *targets;
  float *loss;
  int64_t rows, vocab;
  STRATA_RETURN_IF_ERROR(c.f32In(0, logits));
  STRATA_RETURN_IF_ERROR(c.i32In(1, targets));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, loss));
  STRATA_RETURN_IF_ERROR(c.expectOutCount(0, 1));
  STRATA_RETURN_IF_ERROR(crossEntropyShape(c, rows, vocab));
  *loss = cpu::crossEntropyForward(logits, targets, rows, vocab, c.numThreads);
  return Error::success();
}

Error detail::runConstant(const KernelCall &c) {
  llvm::SmallVector<double> values;
  STRATA_RETURN_IF_ERROR(constantValues(c, values));
  int64_t n = c.outCount(0);
  auto valueAt = [&](int64_t i) { return values[values.size() == 1 ? 0 : i]; };
  if (c.outputs[0].dtype == plan::F32) {
    float *out = static_cast<float *>(c.outputs[0].data);
    for (int64_t i = 0; i < n; ++i)
      out[i] = float(valueAt(i));
    return Error::success();
  }
  int32_t *out = static_cast<int32_t *>(c.outputs[0].data);
  for (int64_t i = 0; i < n; ++i) {
    double v = valueAt(i);
    if (v != std::trunc(v) || v < INT32_MIN || v > INT32_MAX)
      return c.fail("value " + llvm::formatv("{0}", v).str() +
                    " is not an i32");
    out[i] = int32_t(v);
  }
  return Error::success();
}
