//===- Matmul.cpp - Blocked matmul, forward and backward -----------------===//

#include "strata/Cpu/Kernels.h"

#include <algorithm>
#include <thread>
#include <vector>

using namespace strata::cpu;

namespace {
// Block sizes keep a [kBlockK x kBlockN] panel of op(B) in L1/L2 while the rows
// of a row block stream over it.
constexpr int64_t kBlockM = 32, kBlockN = 128, kBlockK = 64;

/// Rows [rowBegin, rowEnd) of one product. op(B)'s panel is copied into `panel`
/// so that the inner loop is contiguous whatever transB is.
void matmulRows(float *c, const float *a, const float *b, const MatmulShape &s,
                bool accumulate, int64_t rowBegin, int64_t rowEnd,
                std::vector<float> &panel) {
  int64_t m = s.m, n = s.n, k = s.k;
  if (!accumulate)
    std::fill(c + rowBegin * n, c + rowEnd * n, 0.0f);
  for (int64_t j0 = 0; j0 < n; j0 += kBlockN) {
    int64_t nj = std::min(kBlockN, n - j0);
    for (int64_t p0 = 0; p0 < k; p0 += kBlockK) {
      int64_t np = std::min(kBlockK, k - p0);
      for (int64_t p = 0; p < np; ++p)
        for (int64_t j = 0; j < nj; ++j)
          panel[p * nj + j] =
              s.transB ? b[(j0 + j) * k + p0 + p] : b[(p0 + p) * n + j0 + j];
      for (int64_t i0 = rowBegin; i0 < rowEnd; i0 += kBlockM) {
        int64_t iEnd = std::min(i0 + kBlockM, rowEnd);
        for (int64_t i = i0; i < iEnd; ++i) {
          float *cRow = c + i * n + j0;
          for (int64_t p = 0; p < np; ++p) {
            float aip = s.transA ? a[(p0 + p) * m + i] : a[i * k + p0 + p];
            const float *bRow = panel.data() + p * nj;
            for (int64_t j = 0; j < nj; ++j)
              cRow[j] += aip * bRow[j];
          }
        }
      }
    }
  }
}
} // namespace

void strata::cpu::matmulForward(float *c, const float *a, const float *b,
                                const MatmulShape &shape, bool accumulate,
                                int numThreads) {
  int64_t m = shape.m, n = shape.n, k = shape.k;
  for (int64_t bi = 0; bi < shape.batch; ++bi) {
    float *cb = c + bi * m * n;
    const float *ab = a + bi * m * k, *bb = b + bi * k * n;
    int64_t threads = std::max<int64_t>(1, std::min<int64_t>(numThreads, m));
    int64_t rowsPer = (m + threads - 1) / threads;
    auto work = [&](int64_t begin, int64_t end) {
      std::vector<float> panel(kBlockK * kBlockN);
      matmulRows(cb, ab, bb, shape, accumulate, begin, end, panel);
    };
    if (threads == 1) {
      work(0, m);
      continue;
    }
    std::vector<std::thread> pool;
    for (int64_t t = 0; t < threads; ++t) {
      int64_t begin = t * rowsPer, end = std::min(m, begin + rowsPer);
      if (begin < end)
        pool.emplace_back(work, begin, end);
    }
    for (std::thread &th : pool)
      th.join();
  }
}

// With C = op(A)·op(B): dop(A) = dC·op(B)ᵀ and dop(B) = op(A)ᵀ·dC. Each is one
// forward product whose flags read A, B, dC in their stored layouts, written
// directly in the stored layout of A (resp. B).
void strata::cpu::matmulBackward(float *da, float *db, const float *dc,
                                 const float *a, const float *b,
                                 const MatmulShape &shape, bool accumulate,
                                 int numThreads) {
  int64_t m = shape.m, n = shape.n, k = shape.k;
  for (int64_t bi = 0; bi < shape.batch; ++bi) {
    const float *dcb = dc + bi * m * n;
    const float *ab = a + bi * m * k, *bb = b + bi * k * n;
    if (da) {
      float *dab = da + bi * m * k;
      if (!shape.transA) // dA[M,K] = dC · op(B)ᵀ
        matmulForward(dab, dcb, bb, {1, m, k, n, false, !shape.transB},
                      accumulate, numThreads);
      else // dA[K,M] = op(B) · dCᵀ
        matmulForward(dab, bb, dcb, {1, k, m, n, shape.transB, true},
                      accumulate, numThreads);
    }
    if (db) {
      float *dbb = db + bi * k * n;
      if (!shape.transB) // dB[K,N] = op(A)ᵀ · dC
        matmulForward(dbb, ab, dcb, {1, k, n, m, !shape.transA, false},
                      accumulate, numThreads);
      else // dB[N,K] = dCᵀ · op(A)
        matmulForward(dbb, dcb, ab, {1, n, k, m, true, shape.transA},
                      accumulate, numThreads);
    }
  }
}
