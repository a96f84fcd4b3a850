//===- GemmTest.cpp - cuBLASLt matrix products vs the CPU reference -------===//
//
// Fresh random bf16 inputs for every check, NaN-poisoned outputs (C, the GELU
// pre-activation, the bias gradient), sizes that are not multiples of the
// tiles, every transpose combination, strided batches, each epilogue, f32
// accumulation into C, and the GPT-2 124M shapes. The reference is
// cpu::matmulForward on the same bf16-rounded inputs, with the bias and
// cpu::geluForward / cpu::geluBackward (tanh) applied in f32. Without a CUDA
// device every GPU test reports itself as skipped.
//
//===----------------------------------------------------------------------===//

#include "strata/Cuda/Gemm.h"
#include "strata/Cpu/Kernels.h"

#include "CudaTestUtil.h"
#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace strata;
using cuda::GemmArgs;
using cuda::GemmConfig;
using cuda::GemmEpilogue;
using cuda::GemmOutputType;
using cuda::MatmulShape;

using namespace strata::cudatest;

namespace {

#define ASSERT_GEMM_OK(expr)                                                   \
  do {                                                                         \
    cuda::GemmStatus status_ = (expr);                                         \
    ASSERT_TRUE(status_.ok()) << status_.message;                              \
  } while (false)

int64_t elementBytes(GemmOutputType t) {
  return t == GemmOutputType::F32 ? 4 : 2;
}

/// An owning device allocation of n elements of `type`, poisoned with NaN
/// (all bits set is NaN in both bf16 and f32) so that an element the kernel
/// misses fails the check.
class DeviceBuffer {
public:
  DeviceBuffer(int64_t n, GemmOutputType type) : size(n), type(type) {
    if (cudaMalloc(&ptr, n * elementBytes(type)) == cudaSuccess)
      cudaMemset(ptr, 0xff, n * elementBytes(type));
  }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  void *get() const { return ptr; }
  const __nv_bfloat16 *bf16() const {
    return static_cast<const __nv_bfloat16 *>(ptr);
  }
  int64_t size;
  GemmOutputType type;

private:
  void *ptr = nullptr;
};

/// Copies f32 values into `dst`, converted to its type (bf16 rounds).
void upload(DeviceBuffer &dst, const std::vector<float> &src) {
  ASSERT_EQ(int64_t(src.size()), dst.size);
  if (dst.type == GemmOutputType::F32) {
    ASSERT_CUDA(cudaMemcpy(dst.get(), src.data(), src.size() * 4,
                           cudaMemcpyHostToDevice));
    return;
  }
  std::vector<uint16_t> bits(src.size());
  for (size_t i = 0; i < src.size(); ++i)
    bits[i] = toBf16Bits(src[i]);
  ASSERT_CUDA(cudaMemcpy(dst.get(), bits.data(), bits.size() * 2,
                         cudaMemcpyHostToDevice));
}

std::vector<float> download(const DeviceBuffer &src) {
  std::vector<float> out(src.size);
  if (src.type == GemmOutputType::F32) {
    if (cudaMemcpy(out.data(), src.get(), out.size() * 4,
                   cudaMemcpyDeviceToHost) != cudaSuccess)
      return std::vector<float>(src.size, NAN);
    return out;
  }
  std::vector<uint16_t> bits(src.size);
  if (cudaMemcpy(bits.data(), src.get(), bits.size() * 2,
                 cudaMemcpyDeviceToHost) != cudaSuccess)
    return std::vector<float>(src.size, NAN);
  for (size_t i = 0; i < bits.size(); ++i)
    out[i] = fromBf16Bits(bits[i]);
  return out;
}

double tolerance(GemmOutputType t) {
  return t == GemmOutputType::F32 ? 1e-3 : 1e-2;
}

/// Checks one output and prints its error, which the log then records for
/// passing runs too.
void expectClose(const char *what, const std::vector<float> &got,
                 const std::vector<float> &want, GemmOutputType type) {
  double err = relativeError(got, want);
  std::printf("  %-8s rel. error %.2e\n", what, err);
  EXPECT_LE(err, tolerance(type)) << what;
}

int referenceThreads() {
  return int(std::max(1u, std::thread::hardware_concurrency()));
}

/// Element (i, j) of op(X) for a row-major X stored [rows, cols] of one batch,
/// op(X) = X or Xᵀ.
float opAt(const std::vector<float> &x, int64_t offset, int64_t storedCols,
           bool trans, int64_t i, int64_t j) {
  return trans ? x[offset + j * storedCols + i]
               : x[offset + i * storedCols + j];
}

struct Case {
  const char *name;
  MatmulShape shape;
  GemmOutputType outputType = GemmOutputType::BF16;
  GemmEpilogue epilogue = GemmEpilogue::None;
  bool accumulate = false;
};

/// What gtest (and so ctest's test names) print for a case.
void PrintTo(const Case &c, std::ostream *os) { *os << c.name; }

MatmulShape makeShape(int64_t batch, int64_t m, int64_t n, int64_t k,
                      bool transA, bool transB) {
  MatmulShape s;
  s.batch = batch;
  s.m = m;
  s.n = n;
  s.k = k;
  s.transA = transA;
  s.transB = transB;
  return s;
}

class GemmTest : public ::testing::TestWithParam<Case> {};

TEST_P(GemmTest, MatchesCpuReference) {
  SKIP_WITHOUT_GPU();
  const Case &tc = GetParam();
  const MatmulShape &s = tc.shape;
  GemmOutputType outType = tc.outputType;
  GemmEpilogue epilogue = tc.epilogue;
  unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);

  int64_t an = s.batch * s.m * s.k, bn = s.batch * s.k * s.n,
          cn = s.batch * s.m * s.n;
  int64_t auxLd = cuda::gemmAuxLeadingDim(s.n);
  std::vector<float> a = randomBf16(rng, an), b = randomBf16(rng, bn);
  GemmOutputType bf16 = GemmOutputType::BF16;
  DeviceBuffer dA(an, bf16), dB(bn, bf16), dC(cn, outType);
  upload(dA, a);
  upload(dB, b);

  // want = op(A)·op(B) [+ C0], in f32 on the bf16 inputs.
  std::vector<float> want(cn, 0.f);
  if (tc.accumulate) {
    want = randomBf16(rng, cn);
    upload(dC, want);
  }
  cpu::matmulForward(want.data(), a.data(), b.data(), s, tc.accumulate,
                     referenceThreads());

  std::unique_ptr<cuda::GemmHandle> handle;
  ASSERT_GEMM_OK(cuda::GemmHandle::create(handle));
  GemmConfig config{s, outType, epilogue, tc.accumulate};
  GemmArgs args;
  args.a = dA.bf16();
  args.b = dB.bf16();
  args.c = dC.get();

  std::vector<float> bias, aux, wantAux, wantBiasGrad;
  bool usesBias = epilogue == GemmEpilogue::Bias ||
                  epilogue == GemmEpilogue::BiasGelu ||
                  epilogue == GemmEpilogue::BiasGeluNoAux;
  bool usesAux = epilogue == GemmEpilogue::BiasGelu ||
                 epilogue == GemmEpilogue::DGelu ||
                 epilogue == GemmEpilogue::DGeluBiasGrad;
  int64_t biasGradLen = epilogue == GemmEpilogue::BiasGradA ? s.m : s.n;
  DeviceBuffer dBias(s.n, outType), dAux(s.batch * s.m * auxLd, outType),
      dBiasGrad(biasGradLen, outType);
  if (usesBias) {
    bias = randomBf16(rng, s.n);
    upload(dBias, bias);
    args.bias = dBias.get();
  }
  if (usesAux)
    args.aux = dAux.get();
  args.biasGrad = dBiasGrad.get();

  switch (epilogue) {
  case GemmEpilogue::None:
    break;
  case GemmEpilogue::Bias:
  case GemmEpilogue::BiasGelu:
  case GemmEpilogue::BiasGeluNoAux:
    for (int64_t r = 0; r < s.batch * s.m; ++r)
      for (int64_t n = 0; n < s.n; ++n)
        want[r * s.n + n] += bias[n];
    if (epilogue != GemmEpilogue::Bias) {
      wantAux = want;
      cpu::geluForward(want.data(), wantAux.data(), cn,
                       cpu::GeluApproximation::Tanh);
    }
    break;
  case GemmEpilogue::DGelu:
  case GemmEpilogue::DGeluBiasGrad: {
    // The pre-activation that a BiasGelu forward would have saved.
    aux = randomBf16(rng, cn);
    std::vector<float> padded(dAux.size, 0.f);
    for (int64_t r = 0; r < s.batch * s.m; ++r)
      std::copy_n(&aux[r * s.n], s.n, &padded[r * auxLd]);
    upload(dAux, padded);
    std::vector<float> product = want;
    cpu::geluBackward(want.data(), product.data(), aux.data(), cn,
                      cpu::GeluApproximation::Tanh);
    if (epilogue == GemmEpilogue::DGeluBiasGrad) {
      wantBiasGrad.assign(s.n, 0.f);
      for (int64_t r = 0; r < s.m; ++r)
        for (int64_t n = 0; n < s.n; ++n)
          wantBiasGrad[n] += want[r * s.n + n];
    }
    break;
  }
  case GemmEpilogue::BiasGradA:
    wantBiasGrad.assign(s.m, 0.f);
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t kk = 0; kk < s.k; ++kk)
        wantBiasGrad[i] += opAt(a, 0, s.transA ? s.m : s.k, s.transA, i, kk);
    break;
  case GemmEpilogue::BiasGradB:
    wantBiasGrad.assign(s.n, 0.f);
    for (int64_t kk = 0; kk < s.k; ++kk)
      for (int64_t j = 0; j < s.n; ++j)
        wantBiasGrad[j] += opAt(b, 0, s.transB ? s.k : s.n, s.transB, kk, j);
    break;
  }

  ASSERT_GEMM_OK(handle->matmul(config, args, nullptr));
  ASSERT_CUDA(cudaGetLastError());
  ASSERT_CUDA(cudaDeviceSynchronize());

  expectClose("c", download(dC), want, outType);
  if (epilogue == GemmEpilogue::BiasGelu) {
    std::vector<float> padded = download(dAux), got(cn);
    for (int64_t r = 0; r < s.batch * s.m; ++r)
      std::copy_n(&padded[r * auxLd], s.n, &got[r * s.n]);
    expectClose("aux", got, wantAux, outType);
  }
  if (!wantBiasGrad.empty())
    expectClose("biasGrad", download(dBiasGrad), wantBiasGrad, outType);
}

// Shapes that are not multiples of 8, 16 or 64 (rows of odd byte length too),
// all four transpose combinations, strided batches, each epilogue, f32 output
// with and without accumulation, and the GPT-2 124M products (B·T = 8192
// tokens, d = 768): c_attn, c_fc + GELU, the backward through c_proj + GELU,
// a weight gradient, and the tied lm_head on 256 tokens.
INSTANTIATE_TEST_SUITE_P(
    Shapes, GemmTest,
    ::testing::Values(
        Case{"Odd77x50x93", makeShape(1, 77, 50, 93, false, false)},
        Case{"Odd77x50x93TransA", makeShape(1, 77, 50, 93, true, false)},
        Case{"Odd77x50x93TransB", makeShape(1, 77, 50, 93, false, true)},
        Case{"Odd77x50x93TransAB", makeShape(1, 77, 50, 93, true, true)},
        Case{"Odd37x45x29F32", makeShape(1, 37, 45, 29, false, false),
             GemmOutputType::F32},
        Case{"Odd37x45x29TransABF32", makeShape(1, 37, 45, 29, true, true),
             GemmOutputType::F32},
        Case{"Batch3x65x33x40", makeShape(3, 65, 33, 40, false, false)},
        Case{"Batch3x65x33x40TransA", makeShape(3, 65, 33, 40, true, false)},
        Case{"Batch4x100x72x64TransB", makeShape(4, 100, 72, 64, false, true)},
        Case{"Batch2x70x90x51TransABF32", makeShape(2, 70, 90, 51, true, true),
             GemmOutputType::F32},
        Case{"Accumulate130x70x200F32", makeShape(1, 130, 70, 200, true, false),
             GemmOutputType::F32, GemmEpilogue::None, true},
        Case{"Accumulate130x70x200Bf16",
             makeShape(1, 130, 70, 200, false, true), GemmOutputType::BF16,
             GemmEpilogue::None, true},
        Case{"Bias200x130x96", makeShape(1, 200, 130, 96, false, false),
             GemmOutputType::BF16, GemmEpilogue::Bias},
        Case{"Bias200x130x96TransBF32", makeShape(1, 200, 130, 96, false, true),
             GemmOutputType::F32, GemmEpilogue::Bias},
        Case{"BiasBatch2x50x64x40", makeShape(2, 50, 64, 40, false, false),
             GemmOutputType::BF16, GemmEpilogue::Bias},
        Case{"BiasGelu130x203x72", makeShape(1, 130, 203, 72, false, false),
             GemmOutputType::BF16, GemmEpilogue::BiasGelu},
        Case{"BiasGelu130x200x72TransB",
             makeShape(1, 130, 200, 72, false, true), GemmOutputType::BF16,
             GemmEpilogue::BiasGelu},
        Case{"BiasGeluBatch2x64x96x48", makeShape(2, 64, 96, 48, false, false),
             GemmOutputType::BF16, GemmEpilogue::BiasGelu},
        Case{"BiasGeluNoAux130x203x72",
             makeShape(1, 130, 203, 72, false, false), GemmOutputType::F32,
             GemmEpilogue::BiasGeluNoAux},
        Case{"DGelu150x200x88TransB", makeShape(1, 150, 200, 88, false, true),
             GemmOutputType::BF16, GemmEpilogue::DGelu},
        Case{"DGeluBiasGrad150x200x88TransB",
             makeShape(1, 150, 200, 88, false, true), GemmOutputType::BF16,
             GemmEpilogue::DGeluBiasGrad},
        Case{"BiasGradA96x80x130TransAF32",
             makeShape(1, 96, 80, 130, true, false), GemmOutputType::F32,
             GemmEpilogue::BiasGradA},
        Case{"BiasGradB96x80x130TransAF32",
             makeShape(1, 96, 80, 130, true, false), GemmOutputType::F32,
             GemmEpilogue::BiasGradB},
        Case{"BiasGradB96x80x130TransAF32Accumulate",
             makeShape(1, 96, 80, 130, true, false), GemmOutputType::F32,
             GemmEpilogue::BiasGradB, true},
        Case{"Gpt2Qkv8192x2304x768Bias",
             makeShape(1, 8192, 2304, 768, false, false), GemmOutputType::BF16,
             GemmEpilogue::Bias},
        Case{"Gpt2Fc8192x3072x768BiasGelu",
             makeShape(1, 8192, 3072, 768, false, false), GemmOutputType::BF16,
             GemmEpilogue::BiasGelu},
        Case{"Gpt2FcBackward8192x3072x768DGeluBiasGrad",
             makeShape(1, 8192, 3072, 768, false, true), GemmOutputType::BF16,
             GemmEpilogue::DGeluBiasGrad},
        Case{"Gpt2ProjWeightGrad3072x768x8192",
             makeShape(1, 3072, 768, 8192, true, false), GemmOutputType::F32,
             GemmEpilogue::BiasGradB, true},
        Case{"Gpt2LmHead256x50304x768",
             makeShape(1, 256, 50304, 768, false, true)}),
    [](const ::testing::TestParamInfo<Case> &info) {
      return std::string(info.param.name);
    });

TEST(GemmHandleTest, ReusesPlansAcrossBuffers) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(std::random_device{}());
  MatmulShape s = makeShape(1, 96, 40, 56, false, true);
  std::unique_ptr<cuda::GemmHandle> handle;
  ASSERT_GEMM_OK(cuda::GemmHandle::create(handle));
  GemmOutputType bf16 = GemmOutputType::BF16;
  for (int i = 0; i < 3; ++i) {
    std::vector<float> a = randomBf16(rng, s.m * s.k),
                       b = randomBf16(rng, s.n * s.k), want(s.m * s.n);
    DeviceBuffer dA(a.size(), bf16), dB(b.size(), bf16), dC(want.size(), bf16);
    upload(dA, a);
    upload(dB, b);
    GemmArgs args;
    args.a = dA.bf16();
    args.b = dB.bf16();
    args.c = dC.get();
    ASSERT_GEMM_OK(handle->matmul(GemmConfig{s}, args, nullptr));
    ASSERT_CUDA(cudaDeviceSynchronize());
    cpu::matmulForward(want.data(), a.data(), b.data(), s);
    expectClose("c", download(dC), want, bf16);
  }
  // cudaMalloc aligns every buffer to 256 bytes: one plan for all three.
  EXPECT_EQ(handle->numPlans(), 1u);
}

TEST(GemmHandleTest, RejectsInvalidCalls) {
  SKIP_WITHOUT_GPU();
  std::unique_ptr<cuda::GemmHandle> handle;
  ASSERT_GEMM_OK(cuda::GemmHandle::create(handle));
  DeviceBuffer dA(64, GemmOutputType::BF16), dC(64, GemmOutputType::BF16);
  GemmArgs args;
  args.a = args.b = dA.bf16();
  args.c = dC.get();
  GemmConfig config{makeShape(1, 8, 8, 0, false, false)};
  cuda::GemmStatus status = handle->matmul(config, args, nullptr);
  EXPECT_EQ(status.code, CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_NE(status.message.find("sizes"), std::string::npos) << status.message;

  config.shape.k = 8;
  config.epilogue = GemmEpilogue::BiasGelu; // no bias, no aux
  EXPECT_EQ(handle->matmul(config, args, nullptr).code,
            CUBLAS_STATUS_INVALID_VALUE);
  config.epilogue = GemmEpilogue::BiasGradB; // batched bias gradient
  config.shape.batch = 2;
  args.biasGrad = dC.get();
  EXPECT_EQ(handle->matmul(config, args, nullptr).code,
            CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(handle->numPlans(), 0u);
}

} // namespace
