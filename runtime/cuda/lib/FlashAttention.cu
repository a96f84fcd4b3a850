//===- FlashAttention.cu - Fused attention, forward and backward ----------===//
//
// Flash attention (Dao et al., FlashAttention-2) on the tensor cores with
// mma.sync.m16n8k16 (bf16 operands, f32 accumulators). The score matrix never
// reaches device memory: the forward pass keeps a running row max and row sum
// (online softmax) and saves one logsumexp per query row; the backward pass
// recomputes the probabilities from it.
//
// Tiles: a block is 4 warps (128 threads) and works on 64 x 64 tiles of the
// score matrix. Every warp owns 16 rows of the tile, so that each row's
// softmax statistics live in one warp (one quad of 4 lanes per row) and need
// no shared memory. Operand tiles are staged in shared memory with cp.async
// and read into mma fragments with ldmatrix.
//
// Fragment layouts of mma.m16n8k16 (g = lane / 4, c = lane % 4), which every
// index computation below follows:
//   A 16x16 (row-major): a0 = (g, 2c..2c+1), a1 = (g+8, 2c..), a2 = (g,
//   2c+8..),
//                        a3 = (g+8, 2c+8..)
//   B 16x8  (k x n):     b0 = (k 2c..2c+1, n g), b1 = (k 2c+8..2c+9, n g)
//   C 16x8  (f32):       c0,c1 = (g, 2c..2c+1), c2,c3 = (g+8, 2c..2c+1)
// The C fragments of two neighbouring 16x8 tiles hold exactly the A fragment
// of the 16x16 tile they form (after rounding to bf16), so a product computed
// by one mma feeds the next one without leaving registers.
//
//===----------------------------------------------------------------------===//

#include "strata/Cuda/Attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

using namespace strata::cuda;
using bf16 = __nv_bfloat16;

namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
/// Rows (queries in the forward pass, keys in the backward pass) per block;
/// 16 per warp, one mma row tile.
constexpr int kBlockRows = 16 * kWarps;
/// Columns of the score tile a block handles per step.
constexpr int kBlockCols = 64;
constexpr float kLog2e = 1.4426950408889634f;

/// Shared-memory tiles are row-major with each row padded by 8 bf16 (16
/// bytes): the 8 row addresses of one ldmatrix then fall into 8 different
/// groups of 4 banks instead of one.
template <int Cols> __host__ __device__ constexpr int paddedStride() {
  return Cols + 8;
}

struct ForwardParams {
  bf16 *out;
  float *lse;
  const bf16 *q, *k, *v;
  int qHeads, kvHeads, qLen, kvLen;
  float scaleLog2; // softmax scale * log2(e): the kernels use exp2.
};

struct BackwardParams {
  float *dqAccum; // [B,Hq,T,D] f32, zeroed; dq before the final scaling.
  bf16 *dk, *dv;
  const bf16 *q, *k, *v, *dout;
  const float *lse, *delta;
  int qHeads, kvHeads, qLen, kvLen;
  float scale, scaleLog2;
};

//===----------------------------------------------------------------------===//
// PTX wrappers
//===----------------------------------------------------------------------===//

__device__ uint32_t smemAddress(const void *p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

/// 16-byte asynchronous copy global -> shared; writes zeros when !valid (the
/// source is then not read, but must still be a mapped address).
__device__ void copyAsync16(void *dst, const void *src, bool valid) {
  asm volatile(
      "cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smemAddress(dst)),
      "l"(src), "r"(valid ? 16 : 0));
}
/// As copyAsync16 for one 4-byte word.
__device__ void copyAsync4(void *dst, const void *src, bool valid) {
  asm volatile(
      "cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smemAddress(dst)),
      "l"(src), "r"(valid ? 4 : 0));
}
__device__ void copyAsyncCommit() { asm volatile("cp.async.commit_group;\n"); }
__device__ void copyAsyncWaitAll() {
  asm volatile("cp.async.wait_group 0;\n" ::: "memory");
}

/// Four 8x8 bf16 matrices; lane i gives the address of row i % 8 of matrix
/// i / 8 and receives, for matrix m, register m = (row g, columns 2c..2c+1).
__device__ void loadMatrixX4(uint32_t (&r)[4], const bf16 *p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smemAddress(p)));
}
/// As loadMatrixX4, transposed: register m = (rows 2c..2c+1, column g).
__device__ void loadMatrixX4Trans(uint32_t (&r)[4], const bf16 *p) {
  asm volatile(
      "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
      : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
      : "r"(smemAddress(p)));
}

/// c += a * b for one 16x8x16 tile.
__device__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                         uint32_t b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
               "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/// 2^x on the special-function unit (inputs here are <= 0 or -inf, where
/// its approximation error is a few ulp); exp2f adds range handling the
/// softmax does not need.
__device__ float fastExp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

/// Two floats as a bf16 pair, `lo` in the low half (the lower column).
__device__ uint32_t packBf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t *>(&v);
}

//===----------------------------------------------------------------------===//
// Fragment loads from padded shared-memory tiles
//===----------------------------------------------------------------------===//

/// A fragment of the 16x16 block at (row0, col0) of a row-major tile.
template <int Stride>
__device__ void loadA(uint32_t (&a)[4], const bf16 *tile, int row0, int col0) {
  int lane = threadIdx.x % 32;
  int row = row0 + lane % 8 + 8 * ((lane / 8) % 2);
  int col = col0 + 8 * (lane / 16);
  loadMatrixX4(a, tile + row * Stride + col);
}

/// A fragment of the 16x16 block at (row0, col0) of A, from a tile holding Aᵀ
/// (row-major, so A's columns are its rows).
template <int Stride>
__device__ void loadATransposed(uint32_t (&a)[4], const bf16 *tileT, int row0,
                                int col0) {
  int lane = threadIdx.x % 32;
  int row = col0 + lane % 8 + 8 * (lane / 16);
  int col = row0 + 8 * ((lane / 8) % 2);
  loadMatrixX4Trans(a, tileT + row * Stride + col);
}

/// B fragments (k0..k0+15) x (n0..n0+15) from a tile stored n-major (row n
/// holds B[., n], as K does for Q·Kᵀ): b[0], b[1] for columns n0..n0+7 and
/// b[2], b[3] for n0+8..n0+15.
template <int Stride>
__device__ void loadBFromRowsN(uint32_t (&b)[4], const bf16 *tile, int k0,
                               int n0) {
  int lane = threadIdx.x % 32;
  int row = n0 + lane % 8 + 8 * (lane / 16);
  int col = k0 + 8 * ((lane / 8) % 2);
  loadMatrixX4(b, tile + row * Stride + col);
}

/// As loadBFromRowsN, from a tile stored k-major (row k holds B[k, .], as V
/// does for P·V).
template <int Stride>
__device__ void loadBFromRowsK(uint32_t (&b)[4], const bf16 *tile, int k0,
                               int n0) {
  int lane = threadIdx.x % 32;
  int row = k0 + lane % 8 + 8 * ((lane / 8) % 2);
  int col = n0 + 8 * (lane / 16);
  loadMatrixX4Trans(b, tile + row * Stride + col);
}

/// The A fragment of the 16x16 block whose two 16x8 halves are the
/// accumulators `left` and `right`, rounded to bf16.
__device__ void accumulatorsToA(uint32_t (&a)[4], const float (&left)[4],
                                const float (&right)[4]) {
  a[0] = packBf16(left[0], left[1]);
  a[1] = packBf16(left[2], left[3]);
  a[2] = packBf16(right[0], right[1]);
  a[3] = packBf16(right[2], right[3]);
}

/// Starts copying rows [row0, row0 + kBlockRows) of a [numRows, D] matrix
/// into a padded tile; rows past numRows become zeros.
template <int D>
__device__ void loadTileAsync(bf16 *tile, const bf16 *matrix, int row0,
                              int numRows) {
  constexpr int kChunksPerRow = D / 8; // 16-byte chunks
  for (int i = threadIdx.x; i < kBlockRows * kChunksPerRow; i += kThreads) {
    int row = i / kChunksPerRow, col = (i % kChunksPerRow) * 8;
    bool valid = row0 + row < numRows;
    const bf16 *src = matrix + size_t(valid ? row0 + row : 0) * D + col;
    copyAsync16(tile + row * paddedStride<D>() + col, src, valid);
  }
}

/// Whether query t sees key s (t, s may lie past the ends: those are never
/// seen).
template <bool Causal> __device__ bool sees(int t, int s, int qLen, int kvLen) {
  return t < qLen && s < kvLen && (!Causal || s <= t + (kvLen - qLen));
}

/// One past the last key that any of the queries [0, tEnd) sees.
template <bool Causal> __device__ int keyEnd(int tEnd, int qLen, int kvLen) {
  if (!Causal)
    return kvLen;
  return max(0, min(kvLen, tEnd + (kvLen - qLen)));
}

//===----------------------------------------------------------------------===//
// Forward
//===----------------------------------------------------------------------===//

/// Grid (query tiles, B * Hq). Warp w owns query rows 16w..16w+15 of the
/// block's tile: it keeps their Q fragments, score tile, softmax statistics
/// and output accumulator in registers. K and V tiles are shared by the four
/// warps and double-buffered: the copy of tile n+1 runs during the math of
/// tile n.
/// For D = 64 the registers are capped so that 4 blocks share a
/// multiprocessor.
template <int D, bool Causal>
__global__ void __launch_bounds__(kThreads, D == 64 ? 4 : 1)
    flashForwardKernel(ForwardParams p) {
  constexpr int kStride = paddedStride<D>();
  constexpr int kTile = kBlockRows * kStride;
  extern __shared__ __align__(16) unsigned char smem[];
  // Q, then two (K, V) buffers: tile n lives in buffer n % 2.
  bf16 *sQ = reinterpret_cast<bf16 *>(smem);
  auto sK = [&](int n) { return sQ + (1 + 2 * (n % 2)) * kTile; };
  auto sV = [&](int n) { return sQ + (2 + 2 * (n % 2)) * kTile; };

  // Causal tiles near the end see the most keys: start those first.
  int qTile = gridDim.x - 1 - blockIdx.x;
  int bh = blockIdx.y, batch = bh / p.qHeads, head = bh % p.qHeads;
  int kvHead = head / (p.qHeads / p.kvHeads);
  const bf16 *q = p.q + size_t(bh) * p.qLen * D;
  const bf16 *k = p.k + size_t(batch * p.kvHeads + kvHead) * p.kvLen * D;
  const bf16 *v = p.v + size_t(batch * p.kvHeads + kvHead) * p.kvLen * D;
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  int g = lane / 4, c = lane % 4;
  int t0 = qTile * kBlockRows;
  // This thread's two query rows: t (accumulator entries 0, 1) and t + 8.
  int tRow[2] = {t0 + 16 * warp + g, t0 + 16 * warp + g + 8};

  int numKeys = keyEnd<Causal>(t0 + kBlockRows, p.qLen, p.kvLen);
  int numKeyTiles = (numKeys + kBlockCols - 1) / kBlockCols;

  loadTileAsync<D>(sQ, q, t0, p.qLen);
  if (numKeyTiles > 0) {
    loadTileAsync<D>(sK(0), k, 0, p.kvLen);
    loadTileAsync<D>(sV(0), v, 0, p.kvLen);
  }
  copyAsyncCommit();

  uint32_t qFrag[D / 16][4];
  float acc[D / 8][4] = {};
  // Running max of the scores (log2 units) and running sum of exp2(score -
  // max), for rows tRow[0] and tRow[1]; the sum is this lane's share only.
  float rowMax[2] = {-INFINITY, -INFINITY}, rowSum[2] = {0.f, 0.f};

  for (int n = 0; n < numKeyTiles; ++n) {
    // After this barrier tile n has landed and every warp is done with tile
    // n - 1, whose buffers the next copy overwrites.
    copyAsyncWaitAll();
    __syncthreads();
    if (n == 0) {
      for (int kk = 0; kk < D / 16; ++kk)
        loadA<kStride>(qFrag[kk], sQ, 16 * warp, 16 * kk);
    }
    if (n + 1 < numKeyTiles) {
      loadTileAsync<D>(sK(n + 1), k, (n + 1) * kBlockCols, p.kvLen);
      loadTileAsync<D>(sV(n + 1), v, (n + 1) * kBlockCols, p.kvLen);
    }
    copyAsyncCommit();
    const bf16 *tileK = sK(n), *tileV = sV(n);

    // Scores of this warp's 16 rows against the 64 keys: 8 tiles of 16x8.
    float score[8][4] = {};
    for (int kk = 0; kk < D / 16; ++kk) {
      for (int j = 0; j < 8; j += 2) {
        uint32_t b[4];
        loadBFromRowsN<kStride>(b, tileK, 16 * kk, 8 * j);
        mma16816(score[j], qFrag[kk], b[0], b[1]);
        mma16816(score[j + 1], qFrag[kk], b[2], b[3]);
      }
    }

    int s0 = n * kBlockCols;
    bool needMask = s0 + kBlockCols > p.kvLen ||
                    (Causal && s0 + kBlockCols - 1 > t0 + p.kvLen - p.qLen);
    for (int j = 0; j < 8; ++j) {
      for (int e = 0; e < 4; ++e) {
        int s = s0 + 8 * j + 2 * c + e % 2;
        bool visible =
            !needMask || sees<Causal>(tRow[e / 2], s, p.qLen, p.kvLen);
        score[j][e] = visible ? score[j][e] * p.scaleLog2 : -INFINITY;
      }
    }

    // Online softmax: rescale what was accumulated under the old row max.
    for (int r = 0; r < 2; ++r) {
      float tileMax = -INFINITY;
      for (int j = 0; j < 8; ++j)
        tileMax = fmaxf(tileMax, fmaxf(score[j][2 * r], score[j][2 * r + 1]));
      // The four lanes of a quad hold the row's 64 columns between them.
      tileMax = fmaxf(tileMax, __shfl_xor_sync(0xffffffff, tileMax, 1));
      tileMax = fmaxf(tileMax, __shfl_xor_sync(0xffffffff, tileMax, 2));
      float newMax = fmaxf(rowMax[r], tileMax);
      // A row that has seen no key yet keeps max -inf; subtracting 0 then
      // keeps exp2(-inf) = 0 instead of exp2(-inf + inf) = NaN.
      float base = newMax == -INFINITY ? 0.f : newMax;
      float rescale = fastExp2(rowMax[r] - base);
      rowMax[r] = newMax;
      rowSum[r] *= rescale;
      for (int j = 0; j < D / 8; ++j) {
        acc[j][2 * r] *= rescale;
        acc[j][2 * r + 1] *= rescale;
      }
      for (int j = 0; j < 8; ++j) {
        for (int e = 2 * r; e < 2 * r + 2; ++e) {
          score[j][e] = fastExp2(score[j][e] - base);
          rowSum[r] += score[j][e];
        }
      }
    }

    // acc += P · V: P (16 x 64 keys) straight from the score registers.
    for (int kk = 0; kk < kBlockCols / 16; ++kk) {
      uint32_t a[4];
      accumulatorsToA(a, score[2 * kk], score[2 * kk + 1]);
      for (int j = 0; j < D / 8; j += 2) {
        uint32_t b[4];
        loadBFromRowsK<kStride>(b, tileV, 16 * kk, 8 * j);
        mma16816(acc[j], a, b[0], b[1]);
        mma16816(acc[j + 1], a, b[2], b[3]);
      }
    }
  }

  copyAsyncWaitAll(); // a block that saw no key never waited for its Q copy

  bf16 *out = p.out + size_t(bh) * p.qLen * D;
  float *lse = p.lse + size_t(bh) * p.qLen;
  for (int r = 0; r < 2; ++r) {
    float sum = rowSum[r];
    sum += __shfl_xor_sync(0xffffffff, sum, 1);
    sum += __shfl_xor_sync(0xffffffff, sum, 2);
    if (tRow[r] >= p.qLen)
      continue;
    // A row that sees no key has sum 0: output zeros, logsumexp -inf.
    float inv = sum > 0.f ? 1.f / sum : 0.f;
    for (int j = 0; j < D / 8; ++j) {
      *reinterpret_cast<uint32_t *>(out + size_t(tRow[r]) * D + 8 * j + 2 * c) =
          packBf16(acc[j][2 * r] * inv, acc[j][2 * r + 1] * inv);
    }
    if (c == 0)
      lse[tRow[r]] = sum > 0.f ? (rowMax[r] + log2f(sum)) / kLog2e : -INFINITY;
  }
}

//===----------------------------------------------------------------------===//
// Backward
//===----------------------------------------------------------------------===//

/// delta[row] = dot(dout[row], out[row]), the softmax-gradient correction
/// sum_s P[t,s] dP[t,s]. One warp per row.
template <int D>
__global__ void rowDotKernel(float *delta, const bf16 *dout, const bf16 *out,
                             int64_t numRows) {
  int64_t row = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  int lane = threadIdx.x % 32;
  if (row >= numRows)
    return;
  float sum = 0.f;
  for (int d = 2 * lane; d < D; d += 64) {
    float2 a = __bfloat1622float2(
        *reinterpret_cast<const __nv_bfloat162 *>(dout + row * D + d));
    float2 b = __bfloat1622float2(
        *reinterpret_cast<const __nv_bfloat162 *>(out + row * D + d));
    sum += a.x * b.x + a.y * b.y;
  }
  for (int offset = 16; offset > 0; offset /= 2)
    sum += __shfl_xor_sync(0xffffffff, sum, offset);
  if (lane == 0)
    delta[row] = sum;
}

/// dq = scale * dqAccum, rounded to bf16.
__global__ void scaleToBf16Kernel(bf16 *dst, const float *src, float scale,
                                  int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = __float2bfloat16_rn(src[i] * scale);
}

/// Grid (key tiles, B * Hkv). The block owns 64 keys of one key/value head
/// and walks over every query tile of every query head of its group that sees
/// them, so dk and dv are complete when it finishes (no atomics). Warp w owns
/// keys 16w..16w+15: it computes the transposed tiles Sᵀ = K Qᵀ and dPᵀ =
/// V dOᵀ (16 keys x 64 queries) so that Pᵀ and dSᵀ feed dv += Pᵀ dO and
/// dk += dSᵀ Q from registers. dq needs a sum over all keys: the block
/// stages dSᵀ in shared memory, computes its 64 x D share dS K (warp w
/// owning queries 16w..16w+15) and adds it to an f32 accumulator with atomics.
/// For D = 64 the registers are capped so that 3 blocks share a
/// multiprocessor.
template <int D, bool Causal>
__global__ void __launch_bounds__(kThreads, D == 64 ? 3 : 1)
    flashBackwardKernel(BackwardParams p) {
  constexpr int kStride = paddedStride<D>();
  constexpr int kTile = kBlockRows * kStride;
  constexpr int kDsStride = paddedStride<kBlockCols>();
  // K, V, then two buffers of (Q, dO, lse, delta) for one query tile: the
  // copy of the next query tile runs during the math of this one.
  constexpr int kQueryBufferBytes =
      2 * kTile * sizeof(bf16) + 2 * kBlockCols * sizeof(float);
  extern __shared__ __align__(16) unsigned char smem[];
  bf16 *sK = reinterpret_cast<bf16 *>(smem);
  bf16 *sV = sK + kTile;
  unsigned char *queryBuffers = smem + 2 * kTile * sizeof(bf16);
  bf16 *sDsT = reinterpret_cast<bf16 *>(
      queryBuffers + 2 * kQueryBufferBytes); // [64 keys][64 queries]
  struct QueryTile {
    bf16 *q, *dout;
    float *lse, *delta;
  };
  auto queryBuffer = [&](int i) {
    unsigned char *base = queryBuffers + (i % 2) * kQueryBufferBytes;
    bf16 *q = reinterpret_cast<bf16 *>(base);
    float *lse = reinterpret_cast<float *>(q + 2 * kTile);
    return QueryTile{q, q + kTile, lse, lse + kBlockCols};
  };

  int keyTile = blockIdx.x;
  int bkv = blockIdx.y, batch = bkv / p.kvHeads, kvHead = bkv % p.kvHeads;
  int groupSize = p.qHeads / p.kvHeads;
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  int g = lane / 4, c = lane % 4;
  int s0 = keyTile * kBlockRows;
  // This thread's two keys: s (accumulator entries 0, 1) and s + 8.
  int sRow[2] = {s0 + 16 * warp + g, s0 + 16 * warp + g + 8};

  const bf16 *k = p.k + size_t(bkv) * p.kvLen * D;
  const bf16 *v = p.v + size_t(bkv) * p.kvLen * D;
  loadTileAsync<D>(sK, k, s0, p.kvLen);
  loadTileAsync<D>(sV, v, s0, p.kvLen);

  // Iteration i visits query tile firstTile + i % tilesPerHead of the
  // group's query head i / tilesPerHead. The first query that sees key s0 is
  // s0 - (S - T).
  int firstTile = (Causal ? max(0, s0 - (p.kvLen - p.qLen)) : 0) / kBlockCols;
  int tilesPerHead = max(0, (p.qLen + kBlockCols - 1) / kBlockCols - firstTile);
  int numIterations = groupSize * tilesPerHead;
  auto headOf = [&](int i) {
    return batch * p.qHeads + kvHead * groupSize + i / tilesPerHead;
  };
  auto firstQueryOf = [&](int i) {
    return (firstTile + i % tilesPerHead) * kBlockCols;
  };
  auto loadQueryTileAsync = [&](int i) {
    QueryTile tile = queryBuffer(i);
    size_t head = headOf(i);
    int t0 = firstQueryOf(i);
    loadTileAsync<D>(tile.q, p.q + head * p.qLen * D, t0, p.qLen);
    loadTileAsync<D>(tile.dout, p.dout + head * p.qLen * D, t0, p.qLen);
    for (int row = threadIdx.x; row < kBlockCols; row += kThreads) {
      bool valid = t0 + row < p.qLen;
      size_t src = head * p.qLen + (valid ? t0 + row : 0);
      copyAsync4(tile.lse + row, p.lse + src, valid);
      copyAsync4(tile.delta + row, p.delta + src, valid);
    }
  };
  if (numIterations > 0)
    loadQueryTileAsync(0);
  copyAsyncCommit();

  float dk[D / 8][4] = {}, dv[D / 8][4] = {};
  for (int it = 0; it < numIterations; ++it) {
    // After this barrier tile `it` has landed and every warp is done with
    // iteration it - 1 (its buffer, which the next copy overwrites, and dSᵀ).
    copyAsyncWaitAll();
    __syncthreads();
    if (it + 1 < numIterations)
      loadQueryTileAsync(it + 1);
    copyAsyncCommit();
    QueryTile tile = queryBuffer(it);
    int t0 = firstQueryOf(it);
    float *dqAccum = p.dqAccum + size_t(headOf(it)) * p.qLen * D;

    // Sᵀ = K Qᵀ for this warp's 16 keys, then Pᵀ = exp(scale Sᵀ - lse).
    float pT[8][4] = {};
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t a[4];
      loadA<kStride>(a, sK, 16 * warp, 16 * kk);
      for (int j = 0; j < 8; j += 2) {
        uint32_t b[4];
        loadBFromRowsN<kStride>(b, tile.q, 16 * kk, 8 * j);
        mma16816(pT[j], a, b[0], b[1]);
        mma16816(pT[j + 1], a, b[2], b[3]);
      }
    }
    for (int j = 0; j < 8; ++j) {
      for (int e = 0; e < 4; ++e) {
        int col = 8 * j + 2 * c + e % 2;
        bool visible = sees<Causal>(t0 + col, sRow[e / 2], p.qLen, p.kvLen);
        pT[j][e] =
            visible ? fastExp2(pT[j][e] * p.scaleLog2 - tile.lse[col] * kLog2e)
                    : 0.f;
      }
    }

    // dv += Pᵀ dO.
    for (int kk = 0; kk < kBlockCols / 16; ++kk) {
      uint32_t a[4];
      accumulatorsToA(a, pT[2 * kk], pT[2 * kk + 1]);
      for (int j = 0; j < D / 8; j += 2) {
        uint32_t b[4];
        loadBFromRowsK<kStride>(b, tile.dout, 16 * kk, 8 * j);
        mma16816(dv[j], a, b[0], b[1]);
        mma16816(dv[j + 1], a, b[2], b[3]);
      }
    }

    // dPᵀ = V dOᵀ, then dSᵀ = Pᵀ (dPᵀ - delta) (without the scale).
    float dsT[8][4] = {};
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t a[4];
      loadA<kStride>(a, sV, 16 * warp, 16 * kk);
      for (int j = 0; j < 8; j += 2) {
        uint32_t b[4];
        loadBFromRowsN<kStride>(b, tile.dout, 16 * kk, 8 * j);
        mma16816(dsT[j], a, b[0], b[1]);
        mma16816(dsT[j + 1], a, b[2], b[3]);
      }
    }
    for (int j = 0; j < 8; ++j) {
      for (int e = 0; e < 4; ++e) {
        int col = 8 * j + 2 * c + e % 2;
        dsT[j][e] = pT[j][e] * (dsT[j][e] - tile.delta[col]);
      }
    }

    // dk += dSᵀ Q; stage dSᵀ for dq.
    for (int kk = 0; kk < kBlockCols / 16; ++kk) {
      uint32_t a[4];
      accumulatorsToA(a, dsT[2 * kk], dsT[2 * kk + 1]);
      for (int j = 0; j < D / 8; j += 2) {
        uint32_t b[4];
        loadBFromRowsK<kStride>(b, tile.q, 16 * kk, 8 * j);
        mma16816(dk[j], a, b[0], b[1]);
        mma16816(dk[j + 1], a, b[2], b[3]);
      }
    }
    for (int j = 0; j < 8; ++j) {
      for (int r = 0; r < 2; ++r) {
        int row = 16 * warp + g + 8 * r, col = 8 * j + 2 * c;
        *reinterpret_cast<uint32_t *>(sDsT + row * kDsStride + col) =
            packBf16(dsT[j][2 * r], dsT[j][2 * r + 1]);
      }
    }
    __syncthreads();

    // dq[queries 16w..16w+15] += dS K over the block's 64 keys, in column
    // chunks of 64 to bound the registers held.
    for (int d0 = 0; d0 < D; d0 += 64) {
      float dq[8][4] = {};
      for (int kk = 0; kk < kBlockRows / 16; ++kk) {
        uint32_t a[4];
        loadATransposed<kDsStride>(a, sDsT, 16 * warp, 16 * kk);
        for (int j = 0; j < 8; j += 2) {
          uint32_t b[4];
          loadBFromRowsK<kStride>(b, sK, 16 * kk, d0 + 8 * j);
          mma16816(dq[j], a, b[0], b[1]);
          mma16816(dq[j + 1], a, b[2], b[3]);
        }
      }
      // One 16-byte atomic per lane and tile: lanes c and c ^ 1 swap halves
      // so that the even lane holds 4 columns of row g and the odd lane 4
      // columns of row g + 8.
      bool even = c % 2 == 0;
      int t = t0 + 16 * warp + g + (even ? 0 : 8);
      for (int j = 0; j < 8; ++j) {
        float send0 = even ? dq[j][2] : dq[j][0];
        float send1 = even ? dq[j][3] : dq[j][1];
        float got0 = __shfl_xor_sync(0xffffffff, send0, 1);
        float got1 = __shfl_xor_sync(0xffffffff, send1, 1);
        float4 sum = even ? make_float4(dq[j][0], dq[j][1], got0, got1)
                          : make_float4(got0, got1, dq[j][2], dq[j][3]);
        int col = d0 + 8 * j + 2 * (c & ~1);
        if (t < p.qLen)
          atomicAdd(reinterpret_cast<float4 *>(dqAccum + size_t(t) * D + col),
                    sum);
      }
    }
  }

  bf16 *dkOut = p.dk + size_t(bkv) * p.kvLen * D;
  bf16 *dvOut = p.dv + size_t(bkv) * p.kvLen * D;
  for (int r = 0; r < 2; ++r) {
    if (sRow[r] >= p.kvLen)
      continue;
    for (int j = 0; j < D / 8; ++j) {
      size_t offset = size_t(sRow[r]) * D + 8 * j + 2 * c;
      *reinterpret_cast<uint32_t *>(dkOut + offset) =
          packBf16(dk[j][2 * r] * p.scale, dk[j][2 * r + 1] * p.scale);
      *reinterpret_cast<uint32_t *>(dvOut + offset) =
          packBf16(dv[j][2 * r], dv[j][2 * r + 1]);
    }
  }
}

//===----------------------------------------------------------------------===//
// Launchers
//===----------------------------------------------------------------------===//

int ceilDiv(int64_t a, int64_t b) { return int((a + b - 1) / b); }

template <int D, bool Causal>
cudaError_t launchForward(const ForwardParams &params, const AttentionShape &s,
                          cudaStream_t stream) {
  auto kernel = flashForwardKernel<D, Causal>;
  int smemBytes = 5 * kBlockRows * paddedStride<D>() * sizeof(bf16);
  if (cudaError_t err = cudaFuncSetAttribute(
          kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smemBytes))
    return err;
  dim3 grid(ceilDiv(s.qLen, kBlockRows), s.batch * s.qHeads);
  kernel<<<grid, kThreads, smemBytes, stream>>>(params);
  return cudaGetLastError();
}

template <int D, bool Causal>
cudaError_t launchBackward(const BackwardParams &params,
                           const AttentionShape &s, cudaStream_t stream) {
  auto kernel = flashBackwardKernel<D, Causal>;
  int smemBytes = 6 * kBlockRows * paddedStride<D>() * sizeof(bf16) +
                  4 * kBlockCols * sizeof(float) +
                  kBlockRows * paddedStride<kBlockCols>() * sizeof(bf16);
  if (cudaError_t err = cudaFuncSetAttribute(
          kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smemBytes))
    return err;
  dim3 grid(ceilDiv(s.kvLen, kBlockRows), s.batch * s.kvHeads);
  kernel<<<grid, kThreads, smemBytes, stream>>>(params);
  return cudaGetLastError();
}

/// The one place that turns the run-time head size and mask into template
/// arguments.
cudaError_t forwardFor(const ForwardParams &params, const AttentionShape &s,
                       cudaStream_t stream) {
  if (s.headDim == 64)
    return s.causal ? launchForward<64, true>(params, s, stream)
                    : launchForward<64, false>(params, s, stream);
  return s.causal ? launchForward<128, true>(params, s, stream)
                  : launchForward<128, false>(params, s, stream);
}

cudaError_t backwardFor(const BackwardParams &params, const AttentionShape &s,
                        cudaStream_t stream) {
  if (s.headDim == 64)
    return s.causal ? launchBackward<64, true>(params, s, stream)
                    : launchBackward<64, false>(params, s, stream);
  return s.causal ? launchBackward<128, true>(params, s, stream)
                  : launchBackward<128, false>(params, s, stream);
}

} // namespace

bool strata::cuda::flashAttentionSupports(const AttentionShape &s) {
  return s.batch > 0 && s.qHeads > 0 && s.kvHeads > 0 &&
         s.qHeads % s.kvHeads == 0 && s.qLen > 0 && s.kvLen > 0 &&
         s.headDim == s.valueDim && (s.headDim == 64 || s.headDim == 128) &&
         s.qLen <= INT32_MAX && s.kvLen <= INT32_MAX &&
         s.batch * s.qHeads <= 65535;
}

cudaError_t strata::cuda::flashAttentionForward(bf16 *out, float *lse,
                                                const bf16 *q, const bf16 *k,
                                                const bf16 *v,
                                                const AttentionShape &s,
                                                cudaStream_t stream) {
  if (!flashAttentionSupports(s))
    return cudaErrorInvalidValue;
  ForwardParams params{out,
                       lse,
                       q,
                       k,
                       v,
                       int(s.qHeads),
                       int(s.kvHeads),
                       int(s.qLen),
                       int(s.kvLen),
                       s.scale * kLog2e};
  return forwardFor(params, s, stream);
}

size_t
strata::cuda::flashAttentionBackwardWorkspaceSize(const AttentionShape &s) {
  size_t rows = size_t(s.batch) * s.qHeads * s.qLen;
  size_t deltaBytes = (rows * sizeof(float) + 15) / 16 * 16;
  return deltaBytes + rows * s.headDim * sizeof(float);
}

cudaError_t strata::cuda::flashAttentionBackward(
    bf16 *dq, bf16 *dk, bf16 *dv, const bf16 *dout, const bf16 *q,
    const bf16 *k, const bf16 *v, const bf16 *out, const float *lse,
    void *workspace, const AttentionShape &s, cudaStream_t stream) {
  if (!flashAttentionSupports(s))
    return cudaErrorInvalidValue;
  int64_t rows = s.batch * s.qHeads * s.qLen;
  float *delta = static_cast<float *>(workspace);
  float *dqAccum = reinterpret_cast<float *>(
      static_cast<char *>(workspace) + (rows * sizeof(float) + 15) / 16 * 16);
  int64_t dqElements = rows * s.headDim;

  if (cudaError_t err =
          cudaMemsetAsync(dqAccum, 0, dqElements * sizeof(float), stream))
    return err;
  constexpr int kRowDotThreads = 256;
  int rowDotBlocks = ceilDiv(rows * 32, kRowDotThreads);
  if (s.headDim == 64)
    rowDotKernel<64>
        <<<rowDotBlocks, kRowDotThreads, 0, stream>>>(delta, dout, out, rows);
  else
    rowDotKernel<128>
        <<<rowDotBlocks, kRowDotThreads, 0, stream>>>(delta, dout, out, rows);
  if (cudaError_t err = cudaGetLastError())
    return err;

  BackwardParams params{dqAccum,
                        dk,
                        dv,
                        q,
                        k,
                        v,
                        dout,
                        lse,
                        delta,
                        int(s.qHeads),
                        int(s.kvHeads),
                        int(s.qLen),
                        int(s.kvLen),
                        s.scale,
                        s.scale * kLog2e};
  if (cudaError_t err = backwardFor(params, s, stream))
    return err;

  int scaleBlocks = int(std::min<int64_t>(ceilDiv(dqElements, 256), 4096));
  scaleToBf16Kernel<<<scaleBlocks, 256, 0, stream>>>(dq, dqAccum, s.scale,
                                                     dqElements);
  return cudaGetLastError();
}
