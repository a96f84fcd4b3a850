//===- FlashAttentionTest.cpp - GPU flash attention vs the CPU reference --===//
//
// Fresh random bf16 inputs for every check, NaN-poisoned outputs, sizes that
// are not multiples of the 64-row tile; the CPU reference runs in f32/f64 on
// the same bf16-rounded inputs. Without a CUDA device every GPU test reports
// itself as skipped.
//
//===----------------------------------------------------------------------===//

#include "strata/Cpu/Kernels.h"
#include "strata/Cuda/Attention.h"

#include "CudaTestUtil.h"
#include "gtest/gtest.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ostream>
#include <random>
#include <string>
#include <vector>

using namespace strata;
using cuda::AttentionShape;

using namespace strata::cudatest;

namespace {

/// An owning device allocation, poisoned with NaN (all bits set is NaN in
/// both bf16 and f32) so that an element the kernel misses fails the check.
template <typename T> class DeviceBuffer {
public:
  explicit DeviceBuffer(int64_t n) : size(n) {
    if (cudaMalloc(reinterpret_cast<void **>(&ptr), n * sizeof(T)) ==
        cudaSuccess)
      cudaMemset(ptr, 0xff, n * sizeof(T));
  }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  T *get() const { return ptr; }
  int64_t size;

private:
  T *ptr = nullptr;
};

void upload(DeviceBuffer<__nv_bfloat16> &dst, const std::vector<float> &src) {
  std::vector<uint16_t> bits(src.size());
  for (size_t i = 0; i < src.size(); ++i)
    bits[i] = toBf16Bits(src[i]);
  ASSERT_EQ(int64_t(src.size()), dst.size);
  ASSERT_CUDA(cudaMemcpy(dst.get(), bits.data(), bits.size() * 2,
                         cudaMemcpyHostToDevice));
}

std::vector<float> download(const DeviceBuffer<__nv_bfloat16> &src) {
  std::vector<uint16_t> bits(src.size);
  std::vector<float> out(src.size);
  if (cudaMemcpy(bits.data(), src.get(), bits.size() * 2,
                 cudaMemcpyDeviceToHost) != cudaSuccess)
    return std::vector<float>(src.size, NAN);
  for (size_t i = 0; i < bits.size(); ++i)
    out[i] = fromBf16Bits(bits[i]);
  return out;
}

constexpr double kTolerance = 1e-2; // bf16 outputs

/// Checks one output and prints its error, which the log then records for
/// passing runs too.
void expectClose(const char *what, const std::vector<float> &got,
                 const std::vector<float> &want) {
  double err = relativeError(got, want);
  std::printf("  %-4s rel. error %.2e\n", what, err);
  EXPECT_LE(err, kTolerance) << what;
}

struct Case {
  const char *name;
  AttentionShape shape;
};

/// What gtest (and so ctest's test names) print for a case.
void PrintTo(const Case &c, std::ostream *os) { *os << c.name; }

AttentionShape makeShape(int64_t batch, int64_t qHeads, int64_t kvHeads,
                         int64_t qLen, int64_t kvLen, int64_t headDim,
                         bool causal) {
  AttentionShape s;
  s.batch = batch;
  s.qHeads = qHeads;
  s.kvHeads = kvHeads;
  s.qLen = qLen;
  s.kvLen = kvLen;
  s.headDim = s.valueDim = headDim;
  s.causal = causal;
  s.scale = 1.f / std::sqrt(float(headDim));
  return s;
}

class FlashAttentionTest : public ::testing::TestWithParam<Case> {};

TEST_P(FlashAttentionTest, ForwardMatchesCpuReference) {
  SKIP_WITHOUT_GPU();
  const AttentionShape &s = GetParam().shape;
  unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  int64_t qn = s.batch * s.qHeads * s.qLen * s.headDim;
  int64_t kvn = s.batch * s.kvHeads * s.kvLen * s.headDim;
  std::vector<float> q = randomBf16(rng, qn), k = randomBf16(rng, kvn),
                     v = randomBf16(rng, kvn);

  DeviceBuffer<__nv_bfloat16> dQ(qn), dK(kvn), dV(kvn), dOut(qn);
  DeviceBuffer<float> dLse(s.batch * s.qHeads * s.qLen);
  upload(dQ, q);
  upload(dK, k);
  upload(dV, v);
  ASSERT_CUDA(cuda::flashAttentionForward(dOut.get(), dLse.get(), dQ.get(),
                                          dK.get(), dV.get(), s, nullptr));
  ASSERT_CUDA(cudaDeviceSynchronize());

  std::vector<float> want(qn);
  cpu::attentionForward(want.data(), q.data(), k.data(), v.data(), s);
  expectClose("out", download(dOut), want);

  // Every row's logsumexp is written: finite, or -inf for a row that sees no
  // key.
  std::vector<float> lse(dLse.size);
  ASSERT_CUDA(cudaMemcpy(lse.data(), dLse.get(), lse.size() * 4,
                         cudaMemcpyDeviceToHost));
  for (float x : lse)
    ASSERT_FALSE(std::isnan(x) || x == INFINITY) << "lse";
}

TEST_P(FlashAttentionTest, BackwardMatchesCpuReference) {
  SKIP_WITHOUT_GPU();
  const AttentionShape &s = GetParam().shape;
  unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  int64_t qn = s.batch * s.qHeads * s.qLen * s.headDim;
  int64_t kvn = s.batch * s.kvHeads * s.kvLen * s.headDim;
  std::vector<float> q = randomBf16(rng, qn), k = randomBf16(rng, kvn),
                     v = randomBf16(rng, kvn), dout = randomBf16(rng, qn);

  DeviceBuffer<__nv_bfloat16> dQ(qn), dK(kvn), dV(kvn), dOut(qn), dDout(qn);
  DeviceBuffer<__nv_bfloat16> dDq(qn), dDk(kvn), dDv(kvn);
  DeviceBuffer<float> dLse(s.batch * s.qHeads * s.qLen);
  DeviceBuffer<unsigned char> workspace(
      cuda::flashAttentionBackwardWorkspaceSize(s));
  upload(dQ, q);
  upload(dK, k);
  upload(dV, v);
  upload(dDout, dout);
  ASSERT_CUDA(cuda::flashAttentionForward(dOut.get(), dLse.get(), dQ.get(),
                                          dK.get(), dV.get(), s, nullptr));
  ASSERT_CUDA(cuda::flashAttentionBackward(
      dDq.get(), dDk.get(), dDv.get(), dDout.get(), dQ.get(), dK.get(),
      dV.get(), dOut.get(), dLse.get(), workspace.get(), s, nullptr));
  ASSERT_CUDA(cudaDeviceSynchronize());

  std::vector<float> wantDq(qn), wantDk(kvn), wantDv(kvn);
  cpu::attentionBackward(wantDq.data(), wantDk.data(), wantDv.data(),
                         dout.data(), q.data(), k.data(), v.data(), s);
  expectClose("dq", download(dDq), wantDq);
  expectClose("dk", download(dDk), wantDk);
  expectClose("dv", download(dDv), wantDv);
}

// T = S not a multiple of 64, T != S both ways (with T > S, the first causal
// rows see no key), grouped-query and multi-query heads, both head sizes,
// batch > 1.
INSTANTIATE_TEST_SUITE_P(
    Shapes, FlashAttentionTest,
    ::testing::Values(
        Case{"Square100D64", makeShape(1, 1, 1, 100, 100, 64, false)},
        Case{"Square100D64Causal", makeShape(1, 1, 1, 100, 100, 64, true)},
        Case{"Gqa200D64Causal", makeShape(2, 4, 2, 200, 200, 64, true)},
        Case{"ShortQueries77x150D128Causal",
             makeShape(1, 2, 1, 77, 150, 128, true)},
        Case{"LongQueries150x77D64Causal",
             makeShape(2, 2, 2, 150, 77, 64, true)},
        Case{"Mqa129D128", makeShape(2, 6, 1, 129, 129, 128, false)},
        Case{"Tiles256D128Causal", makeShape(1, 2, 2, 256, 256, 128, true)},
        Case{"Cross70x190D128", makeShape(3, 3, 1, 70, 190, 128, false)}),
    [](const ::testing::TestParamInfo<Case> &info) {
      return std::string(info.param.name);
    });

TEST(FlashAttentionShapes, RejectsUnsupportedShapes) {
  // Checked before anything is enqueued: no device needed.
  AttentionShape s = makeShape(1, 3, 2, 16, 16, 64, false);
  EXPECT_FALSE(cuda::flashAttentionSupports(s)); // 3 heads over 2 groups
  s = makeShape(1, 2, 1, 16, 16, 96, false);
  EXPECT_FALSE(cuda::flashAttentionSupports(s)); // head size
  s.headDim = 64;
  s.valueDim = 128;
  EXPECT_FALSE(cuda::flashAttentionSupports(s)); // value size differs
  EXPECT_EQ(cuda::flashAttentionForward(nullptr, nullptr, nullptr, nullptr,
                                        nullptr, s, nullptr),
            cudaErrorInvalidValue);
  EXPECT_TRUE(
      cuda::flashAttentionSupports(makeShape(2, 4, 2, 100, 37, 128, true)));
}

} // namespace
