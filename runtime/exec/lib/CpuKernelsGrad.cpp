//===- CpuKernelsGrad.cpp - Gradient graph ops on the CPU ----------------===//
//
// The *_grad kernels strata-autodiff emits (TRAINING-SPEC §1). Operands
// follow the op's order; every output is overwritten (gather_grad and the
// other scatter-style gradients zero their output first).
//
//===----------------------------------------------------------------------===//

#include "CpuKernelsSupport.h"

#include <algorithm>
#include <vector>

using namespace strata;
using namespace strata::exec;
using namespace strata::exec::detail;
using llvm::Error;

Error detail::runBinaryGrad(const KernelCall &c) {
  const float *a, *b, *dout;
  float *da, *db;
  STRATA_RETURN_IF_ERROR(c.f32In(0, a));
  STRATA_RETURN_IF_ERROR(c.f32In(1, b));
  STRATA_RETURN_IF_ERROR(c.f32In(2, dout));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, da));
  STRATA_RETURN_IF_ERROR(c.f32Out(1, db));
  std::string name;
  cpu::BinaryKind kind;
  STRATA_RETURN_IF_ERROR(c.stringAttr("kind", name));
  if (!parseBinaryKind(name, kind))
    return c.fail("unknown binary kind '" + name + "'");
  llvm::SmallVector<int64_t> shape;
  STRATA_RETURN_IF_ERROR(broadcastShapes(c, c.inShape(0), c.inShape(1), shape));
  STRATA_RETURN_IF_ERROR(c.expectInShape(2, shape));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(1, c.inShape(1)));
  cpu::binaryBackward(kind, a, viewOf(c.inShape(0)), b, viewOf(c.inShape(1)),
                      dout, viewOf(shape), da, db);
  return Error::success();
}

Error detail::runUnaryGrad(const KernelCall &c) {
  const float *x, *y, *dy;
  float *dx;
  STRATA_RETURN_IF_ERROR(c.f32In(0, x));
  STRATA_RETURN_IF_ERROR(c.f32In(1, y));
  STRATA_RETURN_IF_ERROR(c.f32In(2, dy));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, dx));
  STRATA_RETURN_IF_ERROR(c.expectInShape(1, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(c.expectInShape(2, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  std::string name;
  STRATA_RETURN_IF_ERROR(c.stringAttr("kind", name));
  if (name == "silu") {
    cpu::siluBackward(dx, dy, x, c.inCount(0));
    return Error::success();
  }
  cpu::UnaryKind kind;
  if (!parseUnaryKind(name, kind))
    return c.fail("unknown unary kind '" + name + "'");
  cpu::unaryBackward(kind, x, y, dy, dx, c.inCount(0));
  return Error::success();
}

Error detail::runGeluGrad(const KernelCall &c) {
  const float *x, *dy;
  float *dx;
  cpu::GeluApproximation approx;
  STRATA_RETURN_IF_ERROR(c.f32In(0, x));
  STRATA_RETURN_IF_ERROR(c.f32In(1, dy));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, dx));
  STRATA_RETURN_IF_ERROR(c.expectInShape(1, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(geluApproximation(c, approx));
  int64_t n = c.inCount(0);
  parallelFor(threadsFor(c.numThreads, n), n, [&](int64_t begin, int64_t end) {
    cpu::geluBackward(dx + begin, dy + begin, x + begin, end - begin, approx);
  });
  return Error::success();
}

Error detail::runReduceGrad(const KernelCall &c) {
  const float *x, *y, *dy;
  float *dx;
  cpu::ReduceKind kind;
  llvm::SmallVector<int64_t> axes, shape;
  STRATA_RETURN_IF_ERROR(c.f32In(0, x));
  STRATA_RETURN_IF_ERROR(c.f32In(1, y));
  STRATA_RETURN_IF_ERROR(c.f32In(2, dy));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, dx));
  STRATA_RETURN_IF_ERROR(reduceKind(c, kind));
  STRATA_RETURN_IF_ERROR(reduceAxes(c, c.inShape(0), axes, shape));
  STRATA_RETURN_IF_ERROR(c.expectInShape(1, shape));
  STRATA_RETURN_IF_ERROR(c.expectInShape(2, shape));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  // keepdim only inserts 1s: the reduced buffers have the same layout.
  cpu::reduceBackward(kind, x, viewOf(c.inShape(0)), axes.data(),
                      static_cast<int>(axes.size()), y, dy, dx);
  return Error::success();
}

Error detail::runSoftmaxGrad(const KernelCall &c) {
  const float *y, *dy;
  float *dx;
  int64_t axis;
  STRATA_RETURN_IF_ERROR(c.f32In(0, y));
  STRATA_RETURN_IF_ERROR(c.f32In(1, dy));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, dx));
  STRATA_RETURN_IF_ERROR(c.expectInShape(1, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(softmaxAxis(c, c.inShape(0).size(), axis));
  bool log = c.op() == "log_softmax_grad";
  alongAxis({y, dy}, dx, c.inShape(0), axis,
            [&](llvm::ArrayRef<const float *> in, float *out, int64_t rows,
                int64_t cols) {
              if (log)
                cpu::logSoftmaxBackward(in[0], in[1], out, rows, cols);
              else
                cpu::softmaxBackward(out, in[1], in[0], rows, cols);
            });
  return Error::success();
}

namespace {
/// The operands of layer_norm_grad and rms_norm_grad: f32 inputs x, w ([dim])
/// and dy (x's shape); f32 outputs dx (x's shape), dw and, for
/// layer_norm_grad, db (w's shape); epsilon.
struct NormGradOperands {
  const float *x, *w, *dy;
  float *dx, *dw, *db = nullptr;
  double epsilon;
  int64_t rows, dim;
};

Error normGradOperands(const KernelCall &c, bool hasBias,
                       NormGradOperands &ops) {
  STRATA_RETURN_IF_ERROR(c.f32In(0, ops.x));
  STRATA_RETURN_IF_ERROR(c.f32In(1, ops.w));
  STRATA_RETURN_IF_ERROR(c.f32In(2, ops.dy));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, ops.dx));
  STRATA_RETURN_IF_ERROR(c.f32Out(1, ops.dw));
  if (hasBias)
    STRATA_RETURN_IF_ERROR(c.f32Out(2, ops.db));
  return normGradShape(c, ops.epsilon, ops.rows, ops.dim);
}
} // namespace

Error detail::runLayerNormGrad(const KernelCall &c) {
  NormGradOperands n;
  STRATA_RETURN_IF_ERROR(normGradOperands(c, /*hasBias=*/true, n));
  // The forward pass is recomputed for its row statistics (the op keeps no
  // saved mean/rstd); the zero bias does not affect them.
  std::vector<float> out(n.rows * n.dim), mean(n.rows), rstd(n.rows),
      bias(n.dim, 0.0f);
  cpu::layerNormForward(out.data(), mean.data(), rstd.data(), n.x, n.w,
                        bias.data(), n.rows, n.dim, float(n.epsilon));
  cpu::layerNormBackward(n.dx, n.dw, n.db, n.dy, n.x, n.w, mean.data(),
                         rstd.data(), n.rows, n.dim);
  return Error::success();
}

Error detail::runRmsNormGrad(const KernelCall &c) {
  NormGradOperands n;
  STRATA_RETURN_IF_ERROR(normGradOperands(c, /*hasBias=*/false, n));
  std::vector<float> out(n.rows * n.dim), rstd(n.rows);
  cpu::rmsNormForward(out.data(), rstd.data(), n.x, n.w, n.rows, n.dim,
                      float(n.epsilon));
  cpu::rmsNormBackward(n.dx, n.dw, n.dy, n.x, n.w, rstd.data(), n.rows, n.dim);
  return Error::success();
}

Error detail::runAttentionGrad(const KernelCall &c) {
  const float *q, *k, *v, *dout;
  float *dq, *dk, *dv;
  cpu::AttentionShape s;
  STRATA_RETURN_IF_ERROR(c.f32In(0, q));
  STRATA_RETURN_IF_ERROR(c.f32In(1, k));
  STRATA_RETURN_IF_ERROR(c.f32In(2, v));
  STRATA_RETURN_IF_ERROR(c.f32In(3, dout));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, dq));
  STRATA_RETURN_IF_ERROR(c.f32Out(1, dk));
  STRATA_RETURN_IF_ERROR(c.f32Out(2, dv));
  STRATA_RETURN_IF_ERROR(attentionShapeOf(c, s));
  STRATA_RETURN_IF_ERROR(
      c.expectInShape(3, {s.batch, s.qHeads, s.qLen, s.valueDim}));
  for (unsigned i = 0; i < 3; ++i)
    STRATA_RETURN_IF_ERROR(c.expectOutShape(i, c.inShape(i)));
  parallelOverBatches(c.numThreads, s, [&](const AttentionBatches &b) {
    cpu::attentionBackward(dq + b.q, dk + b.k, dv + b.v, dout + b.o, q + b.q,
                           k + b.k, v + b.v, b.shape);
  });
  return Error::success();
}

Error detail::runRopeGrad(const KernelCall &c) {
  const float *dy;
  float *dx;
  double theta;
  STRATA_RETURN_IF_ERROR(ropeOperands(c, dy, dx, theta));
  llvm::ArrayRef<int64_t> s = c.inShape(0);
  cpu::ropeBackward(dx, dy, s[0], s[1], s[2], s[3], float(theta));
  return Error::success();
}

Error detail::runGatherGrad(const KernelCall &c) {
  const float *dout;
  const int32_t *indices;
  float *dtable;
  STRATA_RETURN_IF_ERROR(c.f32In(0, dout));
  STRATA_RETURN_IF_ERROR(c.i32In(1, indices));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, dtable));
  int64_t numRows, rowSize;
  STRATA_RETURN_IF_ERROR(gatherGradShape(c, numRows, rowSize));
  std::fill_n(dtable, c.outCount(0), 0.0f);
  int64_t bad = cpu::gatherBackward(dout, indices, c.inCount(1), rowSize,
                                    dtable, numRows);
  if (bad >= 0)
    return c.badIndex("index", 1, bad, numRows);
  return Error::success();
}

Error detail::runSliceGrad(const KernelCall &c) {
  const float *dy;
  float *dx;
  int64_t axis, start, end;
  llvm::SmallVector<int64_t> shape;
  STRATA_RETURN_IF_ERROR(c.f32In(0, dy));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, dx));
  STRATA_RETURN_IF_ERROR(
      sliceBounds(c, c.outShape(0), axis, start, end, shape));
  STRATA_RETURN_IF_ERROR(c.expectInShape(0, shape));
  cpu::sliceBackward(dy, viewOf(c.outShape(0)), static_cast<int>(axis), start,
                     end, dx);
  return Error::success();
}

Error detail::runCrossEntropyGrad(const KernelCall &c) {
  const float *logits, *dloss;
  const int32_t *targets;
  float *dlogits;
  int64_t rows, vocab;
  STRATA_RETURN_IF_ERROR(c.f32In(0, logits));
  STRATA_RETURN_IF_ERROR(c.i32In(1, targets));
  STRATA_RETURN_IF_ERROR(c.f32In(2, dloss));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, dlogits));
  STRATA_RETURN_IF_ERROR(c.expectInCount(2, 1));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(crossEntropyShape(c, rows, vocab));
  cpu::crossEntropyBackward(dlogits, logits, targets, rows, vocab, *dloss,
                            c.numThreads);
  return Error::success();
}

Error detail::runMoeDispatchGrad(const KernelCall &c) {
  const float *dout;
  const int32_t *indices;
  float *dx;
  STRATA_RETURN_IF_ERROR(c.f32In(0, dout));
  STRATA_RETURN_IF_ERROR(c.i32In(1, indices));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, dx));
  llvm::ArrayRef<int64_t> gs = c.inShape(0), is = c.inShape(1);
  if (gs.size() != 3 || is.size() != 2)
    return c.fail("needs grad [E, C, D] and indices [N, k], got " +
                  shapeString(gs) + " and " + shapeString(is));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, {is[0], gs[2]}));
  int64_t bad = cpu::moeDispatchBackward(dout, indices, is[0], gs[2], is[1],
                                         gs[0], gs[1], dx);
  if (bad >= 0)
    return c.badIndex("expert id", 1, bad, gs[0]);
  return Error::success();
}

Error detail::runMoeCombineGrad(const KernelCall &c) {
  const float *y, *w, *dout;
  const int32_t *indices;
  float *dy, *dw;
  int64_t experts, capacity, dim, tokens, k;
  STRATA_RETURN_IF_ERROR(c.f32In(0, y));
  STRATA_RETURN_IF_ERROR(c.i32In(1, indices));
  STRATA_RETURN_IF_ERROR(c.f32In(2, w));
  STRATA_RETURN_IF_ERROR(c.f32In(3, dout));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, dy));
  STRATA_RETURN_IF_ERROR(c.f32Out(1, dw));
  STRATA_RETURN_IF_ERROR(moeCombineShape(c, experts, capacity, dim, tokens, k));
  STRATA_RETURN_IF_ERROR(c.expectInShape(3, {tokens, dim}));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(1, c.inShape(2)));
  int64_t bad = cpu::moeCombineBackward(y, indices, w, dout, tokens, dim, k,
                                        experts, capacity, dy, dw);
  if (bad >= 0)
    return c.badIndex("expert id", 1, bad, experts);
  return Error::success();
}

Error detail::runTopkGrad(const KernelCall &c) {
  const float *dvalues;
  const int32_t *indices;
  float *dx;
  STRATA_RETURN_IF_ERROR(c.f32In(0, dvalues));
  STRATA_RETURN_IF_ERROR(c.i32In(1, indices));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, dx));
  int64_t rows, cols, k;
  STRATA_RETURN_IF_ERROR(topkGradShape(c, rows, cols, k));
  int64_t bad = cpu::topkBackward(dvalues, indices, rows, cols, k, dx);
  if (bad >= 0)
    return c.badIndex("index", 1, bad, cols);
  return Error::success();
}
