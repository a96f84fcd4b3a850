//===- Indexing.cpp - gather and topk -------------------------------------===//

#include "strata/Cpu/Kernels.h"

#include <algorithm>
#include <numeric>
#include <vector>

using namespace strata::cpu;

int64_t strata::cpu::gatherForward(const float *table, int64_t numRows,
                                   int64_t rowSize, const int32_t *indices,
                                   int64_t n, float *out) {
  int64_t firstBad = -1;
  for (int64_t i = 0; i < n; ++i) {
    int64_t row = indices[i];
    if (row < 0 || row >= numRows) {
      if (firstBad < 0)
        firstBad = i;
      std::fill_n(out + i * rowSize, rowSize, 0.0f);
      continue;
    }
    std::copy_n(table + row * rowSize, rowSize, out + i * rowSize);
  }
  return firstBad;
}

int64_t strata::cpu::gatherBackward(const float *dout, const int32_t *indices,
                                    int64_t n, int64_t rowSize, float *dtable,
                                    int64_t numRows) {
  int64_t firstBad = -1;
  for (int64_t i = 0; i < n; ++i) {
    int64_t row = indices[i];
    if (row < 0 || row >= numRows) {
      if (firstBad < 0)
        firstBad = i;
      continue;
    }
    for (int64_t c = 0; c < rowSize; ++c)
      dtable[row * rowSize + c] += dout[i * rowSize + c];
  }
  return firstBad;
}

void strata::cpu::topkForward(const float *x, int64_t rows, int64_t cols,
                              int64_t k, float *values, int32_t *indices) {
  std::vector<int32_t> order(cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = x + r * cols;
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int32_t a, int32_t b) {
                        return row[a] > row[b] || (row[a] == row[b] && a < b);
                      });
    for (int64_t j = 0; j < k; ++j) {
      values[r * k + j] = row[order[j]];
      indices[r * k + j] = order[j];
    }
  }
}

int64_t strata::cpu::topkBackward(const float *dvalues, const int32_t *indices,
                                  int64_t rows, int64_t cols, int64_t k,
                                  float *dx) {
  std::fill_n(dx, rows * cols, 0.0f);
  int64_t firstBad = -1;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < k; ++j) {
      int64_t position = r * k + j, col = indices[position];
      if (col < 0 || col >= cols) {
        if (firstBad < 0)
          firstBad = position;
        continue;
      }
      dx[r * cols + col] += dvalues[position];
    }
  }
  return firstBad;
}
