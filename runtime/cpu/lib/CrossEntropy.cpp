//===- CrossEntropy.cpp - softmax, log_softmax and cross_entropy --------===//

#include "strata/Cpu/Kernels.h"

#include <algorithm>
#include <cmath>

using namespace strata::cpu;

namespace {
/// log(sum(exp(x))) of one row, shifted by its max for stability.
double logSumExp(const float *x, int64_t dim) {
  float maxVal = *std::max_element(x, x + dim);
  double sum = 0.0;
  for (int64_t i = 0; i < dim; ++i)
    sum += std::exp(double(x[i]) - maxVal);
  return maxVal + std::log(sum);
}
} // namespace

void strata::cpu::softmaxForward(float *out, const float *x, int64_t rows,
                                 int64_t dim) {
  for (int64_t r = 0; r < rows; ++r) {
    double lse = logSumExp(x + r * dim, dim);
    for (int64_t i = 0; i < dim; ++i)
      out[r * dim + i] = float(std::exp(x[r * dim + i] - lse));
  }
}

void strata::cpu::softmaxBackward(float *dx, const float *dout,
                                  const float *out, int64_t rows, int64_t dim) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *y = out + r * dim, *dy = dout + r * dim;
    double dot = 0.0;
    for (int64_t i = 0; i < dim; ++i)
      dot += double(dy[i]) * y[i];
    for (int64_t i = 0; i < dim; ++i)
      dx[r * dim + i] = float(y[i] * (dy[i] - dot));
  }
}

float strata::cpu::crossEntropyForward(const float *logits,
                                       const int32_t *targets, int64_t rows,
                                       int64_t vocab) {
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = logits + r * vocab;
    total += logSumExp(row, vocab) - row[targets[r]];
  }
  return float(total / rows);
}

void strata::cpu::crossEntropyBackward(float *dlogits, const float *logits,
                                       const int32_t *targets, int64_t rows,
                                       int64_t vocab, float dloss) {
  double scale = double(dloss) / rows;
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = logits + r * vocab;
    double lse = logSumExp(row, vocab);
    for (int64_t i = 0; i < vocab; ++i) {
      double p = std::exp(row[i] - lse) - (i == targets[r] ? 1.0 : 0.0);
      dlogits[r * vocab + i] = float(scale * p);
    }
  }
}

void strata::cpu::logSoftmaxForward(const float *x, float *y, int64_t rows,
                                    int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    double lse = logSumExp(x + r * cols, cols);
    for (int64_t i = 0; i < cols; ++i)
      y[r * cols + i] = float(x[r * cols + i] - lse);
  }
}

void strata::cpu::logSoftmaxBackward(const float *y, const float *dy, float *dx,
                                     int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (int64_t i = 0; i < cols; ++i)
      sum += dy[r * cols + i];
    for (int64_t i = 0; i < cols; ++i)
      dx[r * cols + i] =
          float(dy[r * cols + i] - std::exp(double(y[r * cols + i])) * sum);
  }
}
