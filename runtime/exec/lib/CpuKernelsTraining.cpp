//===- CpuKernelsTraining.cpp - State and optimizer ops on the CPU -------===//
//
// accumulate, zero, global_norm, lr_schedule, adamw_update and sgd_update
// (TRAINING-SPEC §1). The stateful ones update their leading inputs (the
// STATE/PARAM buffers) in place and have no outputs; the scalar operands
// (lr, scale, step) are one-element buffers.
//
//===----------------------------------------------------------------------===//

#include "CpuKernelsSupport.h"

#include <cmath>
#include <cstring>

using namespace strata;
using namespace strata::exec;
using namespace strata::exec::detail;
using llvm::Error;

Error detail::runAccumulate(const KernelCall &c) {
  const float *value;
  const float *targetIn;
  STRATA_RETURN_IF_ERROR(c.f32In(0, targetIn));
  STRATA_RETURN_IF_ERROR(c.f32In(1, value));
  STRATA_RETURN_IF_ERROR(c.expectInShape(1, c.inShape(0)));
  float *target = static_cast<float *>(c.inputs[0].data);
  int64_t n = c.inCount(0);
  for (int64_t i = 0; i < n; ++i)
    target[i] += value[i];
  return Error::success();
}

Error detail::runZero(const KernelCall &c) {
  if (c.inCount(0) > 0)
    std::memset(c.inputs[0].data, 0, c.inCount(0) * sizeof(float));
  return Error::success();
}

Error detail::runGlobalNorm(const KernelCall &c) {
  float *norm;
  STRATA_RETURN_IF_ERROR(c.f32Out(0, norm));
  STRATA_RETURN_IF_ERROR(c.expectOutCount(0, 1));
  double sum = 0.0;
  for (unsigned i = 0; i < c.inputs.size(); ++i) {
    const float *g;
    STRATA_RETURN_IF_ERROR(c.f32In(i, g));
    sum += cpu::sumOfSquares(g, c.inCount(i));
  }
  *norm = float(std::sqrt(sum));
  return Error::success();
}

Error detail::runLrSchedule(const KernelCall &c) {
  const int32_t *step;
  float *lr;
  STRATA_RETURN_IF_ERROR(c.i32In(0, step));
  STRATA_RETURN_IF_ERROR(c.f32Out(0, lr));
  cpu::LrSchedule schedule;
  STRATA_RETURN_IF_ERROR(lrScheduleOf(c, schedule));
  *lr = float(cpu::learningRate(schedule, *step));
  return Error::success();
}

namespace {
/// Inputs [first, first + count) are f32 buffers of input `first`'s shape.
Error sameShapeFloats(const KernelCall &c, unsigned first, unsigned count,
                      llvm::SmallVectorImpl<float *> &data) {
  for (unsigned i = first; i < first + count; ++i) {
    const float *p;
    STRATA_RETURN_IF_ERROR(c.f32In(i, p));
    STRATA_RETURN_IF_ERROR(c.expectInShape(i, c.inShape(first)));
    data.push_back(static_cast<float *>(c.inputs[i].data));
  }
  return Error::success();
}

/// Input i is a one-element f32 buffer.
Error scalarFloat(const KernelCall &c, unsigned i, float &value) {
  const float *p;
  STRATA_RETURN_IF_ERROR(c.f32In(i, p));
  STRATA_RETURN_IF_ERROR(c.expectInCount(i, 1));
  value = *p;
  return Error::success();
}
} // namespace

Error detail::runAdamwUpdate(const KernelCall &c) {
  llvm::SmallVector<float *> state; // param, grad, m, v
  STRATA_RETURN_IF_ERROR(sameShapeFloats(c, 0, 4, state));
  cpu::AdamWConfig config;
  double beta1, beta2, epsilon, weightDecay = 0.0;
  STRATA_RETURN_IF_ERROR(c.floatAttr("beta1", beta1));
  STRATA_RETURN_IF_ERROR(c.floatAttr("beta2", beta2));
  STRATA_RETURN_IF_ERROR(c.floatAttr("epsilon", epsilon));
  STRATA_RETURN_IF_ERROR(c.optionalFloatAttr("weight_decay", weightDecay));
  config.beta1 = float(beta1);
  config.beta2 = float(beta2);
  config.epsilon = float(epsilon);
  config.weightDecay = float(weightDecay);
  STRATA_RETURN_IF_ERROR(scalarFloat(c, 4, config.learningRate));
  STRATA_RETURN_IF_ERROR(scalarFloat(c, 5, config.gradScale));
  const int32_t *step;
  STRATA_RETURN_IF_ERROR(c.i32In(6, step));
  STRATA_RETURN_IF_ERROR(c.expectInCount(6, 1));
  if (*step < 1)
    return c.fail("step " + llvm::Twine(*step) + " must be >= 1");
  // Elements are independent: any split gives the same bits.
  int64_t n = c.inCount(0);
  parallelFor(threadsFor(c.numThreads, n), n, [&](int64_t begin, int64_t end) {
    cpu::adamwUpdate(state[0] + begin, state[1] + begin, state[2] + begin,
                     state[3] + begin, end - begin, *step, config);
  });
  return Error::success();
}

Error detail::runSgdUpdate(const KernelCall &c) {
  bool hasBuffer = c.inputs.size() == 5;
  llvm::SmallVector<float *> state; // param, grad[, momentum_buffer]
  STRATA_RETURN_IF_ERROR(sameShapeFloats(c, 0, hasBuffer ? 3 : 2, state));
  double momentum = 0.0, weightDecay = 0.0;
  STRATA_RETURN_IF_ERROR(c.optionalFloatAttr("momentum", momentum));
  STRATA_RETURN_IF_ERROR(c.optionalFloatAttr("weight_decay", weightDecay));
  float lr, scale;
  unsigned scalars = hasBuffer ? 3 : 2;
  STRATA_RETURN_IF_ERROR(scalarFloat(c, scalars, lr));
  STRATA_RETURN_IF_ERROR(scalarFloat(c, scalars + 1, scale));
  cpu::sgdUpdate(state[0], state[1], hasBuffer ? state[2] : nullptr,
                 c.inCount(0), lr, scale, float(momentum), float(weightDecay));
  return Error::success();
}
