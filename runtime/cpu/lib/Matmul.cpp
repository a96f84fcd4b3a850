//===- Matmul.cpp - Packed, register-blocked matmul, forward and backward -===//
//
// The GotoBLAS/BLIS loop nest: a [kKc x kNc] panel of op(B) and a
// [kMc x kKc] block of op(A) are copied ("packed") into strips laid out in the
// order the micro-kernel reads them, whatever the transposes; the micro-kernel
// keeps a [kMr x kNr] tile of C in registers over the whole K block.
//
// Numerics: every element of C is one float chain c = c + a·b over p = 0..K-1
// in order, starting from C (or 0), each product and sum rounded (no fused
// multiply-add): the triple loop's rounding, bit for bit. It depends neither on
// the thread that computes the element nor on its tile (edges are zero-padded
// and go through the same micro-kernel), so the result is the same for any
// thread count, and the same as before this kernel was blocked.
//
//===----------------------------------------------------------------------===//

#include "strata/Cpu/Kernels.h"

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

using namespace strata::cpu;

namespace {
// Register tile kMr x kNr: 12 accumulators of 8 floats plus two B vectors and
// one broadcast fit the 16 AVX registers. A kKc-deep strip of packed A
// (6 KiB) and of packed B (16 KiB) stay in L1, the packed A block in L2.
constexpr int64_t kMr = 6, kNr = 16;
constexpr int64_t kKc = 256, kMc = 72, kNc = 3072;
/// Fewer multiply-adds than this per thread cost more to start than they save.
constexpr int64_t kMinWorkPerThread = int64_t(1) << 20;

/// Eight floats (the GCC/Clang vector extension: element-wise arithmetic,
/// scalars broadcast).
using Vec8 = float __attribute__((vector_size(32)));

// On x86-64 the micro-kernel is compiled twice and picked once at load time:
// for x86-64-v3 (AVX2) machines and for the baseline.
#if defined(__x86_64__) && defined(__ELF__)
#define STRATA_MICROKERNEL_CLONES                                              \
  __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define STRATA_MICROKERNEL_CLONES
#endif

/// tile[kMr][kNr] += a[p][0..kMr) ⊗ b[p][0..kNr) for p in [0, kc), in order.
STRATA_MICROKERNEL_CLONES
void microKernel(int64_t kc, const float *a, const float *b, float *tile) {
  // Separate roundings, like the triple loop (see the file comment).
#pragma clang fp contract(off)
  Vec8 acc[kMr][2];
  std::memcpy(acc, tile, sizeof acc);
  for (int64_t p = 0; p < kc; ++p, a += kMr, b += kNr) {
    Vec8 b0, b1;
    std::memcpy(&b0, b, sizeof b0);
    std::memcpy(&b1, b + 8, sizeof b1);
    for (int64_t i = 0; i < kMr; ++i) {
      acc[i][0] += a[i] * b0;
      acc[i][1] += a[i] * b1;
    }
  }
  std::memcpy(tile, acc, sizeof acc);
}

int64_t roundUp(int64_t x, int64_t multiple) {
  return (x + multiple - 1) / multiple * multiple;
}

/// The region of C one thread computes: rows [r0, r1), columns [c0, c1).
struct Region {
  int64_t r0, r1, c0, c1;
};

/// C[region] (=|+=) op(A)·op(B) for one product.
void matmulRegion(float *c, const float *a, const float *b,
                  const MatmulShape &s, bool accumulate, Region r) {
  int64_t m = s.m, n = s.n, k = s.k;
  if (k == 0) {
    if (!accumulate)
      for (int64_t i = r.r0; i < r.r1; ++i)
        std::fill(c + i * n + r.c0, c + i * n + r.c1, 0.0f);
    return;
  }
  auto opA = [&](int64_t i, int64_t p) {
    return s.transA ? a[p * m + i] : a[i * k + p];
  };
  auto opB = [&](int64_t p, int64_t j) {
    return s.transB ? b[j * k + p] : b[p * n + j];
  };
  std::vector<float> packedA(kMc * kKc),
      packedB(kKc * roundUp(std::min(kNc, r.c1 - r.c0), kNr));
  float tile[kMr * kNr];
  for (int64_t jc = r.c0; jc < r.c1; jc += kNc) {
    int64_t nc = std::min(kNc, r.c1 - jc);
    for (int64_t pc = 0; pc < k; pc += kKc) {
      int64_t kc = std::min(kKc, k - pc);
      // packedB[strip][p][0..kNr): columns jc + strip·kNr + j, zero past c1.
      for (int64_t js = 0; js < nc; js += kNr)
        for (int64_t p = 0; p < kc; ++p)
          for (int64_t j = 0; j < kNr; ++j)
            packedB[js * kc + p * kNr + j] =
                js + j < nc ? opB(pc + p, jc + js + j) : 0.0f;
      bool overwrite = !accumulate && pc == 0;
      for (int64_t ic = r.r0; ic < r.r1; ic += kMc) {
        int64_t mc = std::min(kMc, r.r1 - ic);
        // packedA[strip][p][0..kMr): rows ic + strip·kMr + i, zero past r1.
        for (int64_t is = 0; is < mc; is += kMr)
          for (int64_t p = 0; p < kc; ++p)
            for (int64_t i = 0; i < kMr; ++i)
              packedA[is * kc + p * kMr + i] =
                  is + i < mc ? opA(ic + is + i, pc + p) : 0.0f;
        for (int64_t jr = 0; jr < nc; jr += kNr) {
          int64_t cols = std::min(kNr, nc - jr);
          for (int64_t ir = 0; ir < mc; ir += kMr) {
            int64_t rows = std::min(kMr, mc - ir);
            std::fill(tile, tile + kMr * kNr, 0.0f);
            if (!overwrite)
              for (int64_t i = 0; i < rows; ++i) {
                const float *cRow = c + (ic + ir + i) * n + jc + jr;
                std::copy(cRow, cRow + cols, tile + i * kNr);
              }
            microKernel(kc, packedA.data() + ir * kc, packedB.data() + jr * kc,
                        tile);
            for (int64_t i = 0; i < rows; ++i)
              std::copy(tile + i * kNr, tile + i * kNr + cols,
                        c + (ic + ir + i) * n + jc + jr);
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
  // Split the dimension with more register tiles into whole tiles.
  bool splitRows = (m + kMr - 1) / kMr >= (n + kNr - 1) / kNr;
  int64_t unit = splitRows ? kMr : kNr, extent = splitRows ? m : n;
  int64_t units = (extent + unit - 1) / unit;
  int64_t threads = std::clamp<int64_t>(
      std::min<int64_t>(numThreads, m * n * k / kMinWorkPerThread), 1,
      std::max<int64_t>(units, 1));
  int64_t unitsPer = (units + threads - 1) / threads;
  for (int64_t bi = 0; bi < shape.batch; ++bi) {
    float *cb = c + bi * m * n;
    const float *ab = a + bi * m * k, *bb = b + bi * k * n;
    auto region = [&](int64_t t) {
      int64_t begin = std::min(extent, t * unitsPer * unit),
              end = std::min(extent, (t + 1) * unitsPer * unit);
      return splitRows ? Region{begin, end, 0, n} : Region{0, m, begin, end};
    };
    std::vector<std::thread> pool;
    for (int64_t t = 1; t < threads; ++t)
      pool.emplace_back(matmulRegion, cb, ab, bb, std::cref(shape), accumulate,
                        region(t));
    matmulRegion(cb, ab, bb, shape, accumulate, region(0));
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
