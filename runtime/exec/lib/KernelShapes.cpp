//===- KernelShapes.cpp - Attribute and shape checks of plan kernels ------===//
//
// The checks the CPU dispatch and the CUDA dispatch (runtime/cuda) share, so
// that a plan error reads the same on either device (CpuKernelsSupport.h).
//
//===----------------------------------------------------------------------===//

#include "CpuKernelsSupport.h"

#include "llvm/ADT/Twine.h"

#include <cmath>
#include <cstdint>

using namespace strata;
using namespace strata::exec;
using namespace strata::exec::detail;
using llvm::Error;

Error detail::transposeShape(const KernelCall &c,
                             llvm::SmallVectorImpl<int64_t> &perm,
                             llvm::SmallVectorImpl<int64_t> &shape) {
  STRATA_RETURN_IF_ERROR(c.intsAttr("permutation", perm));
  llvm::ArrayRef<int64_t> in = c.inShape(0);
  llvm::SmallVector<bool> seen(in.size(), false);
  if (perm.size() != in.size())
    return c.fail("permutation has " + llvm::Twine(perm.size()) +
                  " entries for an input of shape " + shapeString(in));
  shape.clear();
  for (int64_t p : perm) {
    if (p < 0 || p >= int64_t(in.size()) || seen[p])
      return c.fail("permutation is not a permutation of [0, " +
                    llvm::Twine(in.size()) + ")");
    seen[p] = true;
    shape.push_back(in[p]);
  }
  return Error::success();
}

Error detail::concatShape(const KernelCall &c, int64_t &axis,
                          llvm::SmallVectorImpl<int64_t> &shape) {
  STRATA_RETURN_IF_ERROR(c.intAttr("axis", axis));
  llvm::ArrayRef<int64_t> first = c.inShape(0);
  if (axis < 0 || axis >= int64_t(first.size()))
    return c.fail("axis " + llvm::Twine(axis) + " is out of range for " +
                  shapeString(first));
  shape.assign(first.begin(), first.end());
  shape[axis] = 0;
  for (unsigned i = 0; i < c.inputs.size(); ++i) {
    llvm::ArrayRef<int64_t> s = c.inShape(i);
    if (s.size() != first.size())
      return c.fail("input " + llvm::Twine(i) + " has rank " +
                    llvm::Twine(s.size()) + ", expected " +
                    llvm::Twine(first.size()));
    for (size_t d = 0; d < s.size(); ++d)
      if (int64_t(d) != axis && s[d] != first[d])
        return c.fail("inputs disagree on dimension " + llvm::Twine(d) + ": " +
                      shapeString(first) + " and " + shapeString(s));
    shape[axis] += s[axis];
  }
  return Error::success();
}

Error detail::constantValues(const KernelCall &c,
                             llvm::SmallVectorImpl<double> &values) {
  if (!c.hasAttr("value"))
    return c.fail("missing attribute 'value'");
  const plan::Attribute &attr = c.kernel.attrs().at("value");
  values.clear();
  if (attr.value_case() == plan::Attribute::kFloats)
    values.assign(attr.floats().values().begin(), attr.floats().values().end());
  else if (attr.value_case() == plan::Attribute::kInts)
    for (int64_t v : attr.ints().values())
      values.push_back(double(v));
  else
    return c.fail("attribute 'value' must be a list of floats or integers");
  if (values.size() != 1 && int64_t(values.size()) != c.outCount(0))
    return c.fail("attribute 'value' has " + llvm::Twine(values.size()) +
                  " elements for an output of shape " +
                  shapeString(c.outShape(0)));
  return Error::success();
}

Error detail::crossEntropyDims(const KernelCall &c, int64_t &rows,
                               int64_t &vocab) {
  llvm::ArrayRef<int64_t> ls = c.inShape(0);
  if (ls.empty())
    return c.fail("logits must have rank >= 1");
  vocab = ls.back();
  rows = vocab ? c.inCount(0) / vocab : 0;
  if (c.inCount(1) != rows)
    return c.fail("targets " + shapeString(c.inShape(1)) +
                  " do not match logits " + shapeString(ls));
  return Error::success();
}

Error detail::topkShape(const KernelCall &c, int64_t &k, int64_t &rows,
                        int64_t &cols) {
  STRATA_RETURN_IF_ERROR(c.intAttr("k", k));
  llvm::ArrayRef<int64_t> in = c.inShape(0);
  if (in.empty() || k < 0 || k > in.back())
    return c.fail("k = " + llvm::Twine(k) + " is out of range for " +
                  shapeString(in));
  llvm::SmallVector<int64_t> shape(in);
  shape.back() = k;
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, shape));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(1, shape));
  cols = in.back();
  rows = cols ? c.inCount(0) / cols : 0;
  return Error::success();
}

Error detail::topkGradShape(const KernelCall &c, int64_t &rows, int64_t &cols,
                            int64_t &k) {
  llvm::ArrayRef<int64_t> gs = c.inShape(0), xs = c.outShape(0);
  STRATA_RETURN_IF_ERROR(c.expectInShape(1, gs));
  if (gs.empty() || xs.size() != gs.size() ||
      gs.drop_back() != xs.drop_back() || gs.back() > xs.back())
    return c.fail("grad " + shapeString(gs) + " is not the top-k of an input " +
                  shapeString(xs));
  cols = xs.back();
  k = gs.back();
  rows = numElements(xs.drop_back());
  return Error::success();
}

Error detail::lrScheduleOf(const KernelCall &c, cpu::LrSchedule &schedule) {
  STRATA_RETURN_IF_ERROR(c.expectInCount(0, 1));
  STRATA_RETURN_IF_ERROR(c.expectOutCount(0, 1));
  std::string kind;
  STRATA_RETURN_IF_ERROR(c.stringAttr("kind", kind));
  if (kind == "constant")
    schedule.kind = cpu::LrScheduleKind::Constant;
  else if (kind == "cosine")
    schedule.kind = cpu::LrScheduleKind::Cosine;
  else
    return c.fail("unknown schedule kind '" + kind + "'");
  STRATA_RETURN_IF_ERROR(c.floatAttr("base_lr", schedule.baseLr));
  STRATA_RETURN_IF_ERROR(
      c.optionalIntAttr("warmup_steps", schedule.warmupSteps));
  STRATA_RETURN_IF_ERROR(c.optionalIntAttr("total_steps", schedule.totalSteps));
  STRATA_RETURN_IF_ERROR(c.optionalFloatAttr("min_lr", schedule.minLr));
  return Error::success();
}

Error detail::normGradShape(const KernelCall &c, double &epsilon, int64_t &rows,
                            int64_t &dim) {
  bool hasBias = c.op() == "layer_norm_grad";
  STRATA_RETURN_IF_ERROR(c.floatAttr("epsilon", epsilon));
  STRATA_RETURN_IF_ERROR(normShape(c, 1, rows, dim));
  STRATA_RETURN_IF_ERROR(c.expectInShape(2, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(0, c.inShape(0)));
  STRATA_RETURN_IF_ERROR(c.expectOutShape(1, c.inShape(1)));
  if (hasBias)
    STRATA_RETURN_IF_ERROR(c.expectOutShape(2, c.inShape(1)));
  return Error::success();
}

Error detail::gatherGradShape(const KernelCall &c, int64_t &numRows,
                              int64_t &rowSize) {
  llvm::ArrayRef<int64_t> table = c.outShape(0);
  if (table.empty())
    return c.fail("the table gradient must have rank >= 1");
  llvm::SmallVector<int64_t> shape(c.inShape(1));
  shape.append(table.begin() + 1, table.end());
  STRATA_RETURN_IF_ERROR(c.expectInShape(0, shape));
  numRows = table.front();
  rowSize = numElements(table.drop_front());
  return Error::success();
}

Error detail::moeDispatchShape(const KernelCall &c, int64_t &experts,
                               int64_t &capacity) {
  STRATA_RETURN_IF_ERROR(c.intAttr("num_experts", experts));
  STRATA_RETURN_IF_ERROR(c.intAttr("capacity", capacity));
  llvm::ArrayRef<int64_t> xs = c.inShape(0), is = c.inShape(1);
  if (xs.size() != 2 || is.size() != 2 || xs[0] != is[0])
    return c.fail("needs input [N, D] and indices [N, k], got " +
                  shapeString(xs) + " and " + shapeString(is));
  if (experts < 0 || capacity < 0)
    return c.fail("num_experts and capacity must be >= 0");
  return c.expectOutShape(0, {experts, capacity, xs[1]});
}
