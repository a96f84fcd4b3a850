//===- Optimizer.cpp - SGD step, gradient norm and lr schedules ----------===//
//
// The optimizer pieces besides AdamW (AdamW.cpp). Formulas follow PyTorch's
// torch.optim.SGD and nanoGPT's warmup + cosine schedule.
//
//===----------------------------------------------------------------------===//

#include "strata/Cpu/Kernels.h"

#include <algorithm>
#include <cmath>

using namespace strata::cpu;

void strata::cpu::sgdUpdate(float *param, const float *grad,
                            float *momentumBuffer, int64_t n, float lr,
                            float gradScale, float momentum,
                            float weightDecay) {
  for (int64_t i = 0; i < n; ++i) {
    float g = grad[i] * gradScale + weightDecay * param[i];
    if (momentumBuffer) {
      momentumBuffer[i] = momentum * momentumBuffer[i] + g;
      g = momentumBuffer[i];
    }
    param[i] -= lr * g;
  }
}

double strata::cpu::sumOfSquares(const float *x, int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i)
    sum += double(x[i]) * x[i];
  return sum;
}

double strata::cpu::learningRate(const LrSchedule &s, int64_t step) {
  if (s.warmupSteps > 0 && step <= s.warmupSteps)
    return s.baseLr * double(step) / double(s.warmupSteps);
  if (s.kind == LrScheduleKind::Constant)
    return s.baseLr;
  double decaySteps =
      double(std::max<int64_t>(1, s.totalSteps - s.warmupSteps));
  double progress =
      std::clamp(double(step - s.warmupSteps) / decaySteps, 0.0, 1.0);
  return s.minLr +
         0.5 * (s.baseLr - s.minLr) * (1.0 + std::cos(M_PI * progress));
}
