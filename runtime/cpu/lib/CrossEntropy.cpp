//===- CrossEntropy.cpp - softmax, log_softmax and cross_entropy --------===//

#include "strata/Cpu/Kernels.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <vector>

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

/// Runs `body(begin, end)` over [0, rows) split into contiguous ranges, one
/// std::thread each, when the rows hold enough work to pay for the threads.
template <typename Body>
void forRowRanges(int numThreads, int64_t rows, int64_t rowSize, Body body) {
  int64_t threads =
      std::clamp<int64_t>(std::min<int64_t>(numThreads, rows * rowSize >> 16),
                          1, std::max<int64_t>(rows, 1));
  int64_t per = (rows + threads - 1) / threads;
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t)
    pool.emplace_back(body, std::min(rows, t * per),
                      std::min(rows, (t + 1) * per));
  body(0, std::min(rows, per));
  for (std::thread &th : pool)
    th.join();
}

/// Rows [begin, end) of dlogits = scale * (softmax(logits) - onehot(targets)).
/// In place (dlogits == logits) too: element i of a row is read, by
/// logSumExp and then by its own update, before it is overwritten.
void crossEntropyGradRows(float *dlogits, const float *logits,
                          const int32_t *targets, int64_t begin, int64_t end,
                          int64_t vocab, double scale) {
  for (int64_t r = begin; r < end; ++r) {
    const float *row = logits + r * vocab;
    double lse = logSumExp(row, vocab);
    for (int64_t i = 0; i < vocab; ++i) {
      double p = std::exp(row[i] - lse) - (i == targets[r] ? 1.0 : 0.0);
      dlogits[r * vocab + i] = float(scale * p);
    }
  }
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
                                       int64_t vocab, int numThreads) {
  // Per-row losses in parallel, summed in row order: the same bits for any
  // thread count.
  std::vector<double> rowLoss(rows);
  forRowRanges(numThreads, rows, vocab, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float *row = logits + r * vocab;
      rowLoss[r] = logSumExp(row, vocab) - row[targets[r]];
    }
  });
  double total = 0.0;
  for (double loss : rowLoss)
    total += loss;
  return float(total / rows);
}

void strata::cpu::crossEntropyBackward(float *dlogits, const float *logits,
                                       const int32_t *targets, int64_t rows,
                                       int64_t vocab, float dloss,
                                       int numThreads) {
  double scale = double(dloss) / rows;
  forRowRanges(numThreads, rows, vocab, [&](int64_t begin, int64_t end) {
    crossEntropyGradRows(dlogits, logits, targets, begin, end, vocab, scale);
  });
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
