//===- KernelsForwardTest.cpp - Forward plan kernels vs the CPU dispatch --===//
//
// Every forward kernel of the CUDA table against exec::runCpuKernel on the
// same plan::Kernel: fresh random inputs, NaN-poisoned outputs (-1 for i32),
// sizes that are multiples of no tile, f32 and bf16 buffers. The CPU runs on
// f32 copies of the inputs (bf16 inputs are generated representable in
// bf16), so a bf16 output differs from the reference by its rounding (and
// the f32 arithmetic) only. Also: data errors reported on the device, the
// fused matmul epilogues and matmul_accumulate against their bodies run on
// the CPU, and a CUDA graph capture and replay of several kernels.
//
// Tolerances (relative error ‖got − want‖ / ‖want‖): 1e-5 for f32 results;
// 1e-2 where a bf16 value is involved; 5e-3 for f32 matmuls, which run on
// TF32 tensor cores; 2e-2 for f32 attention of head dim 64/128, which the
// flash kernels compute from bf16 copies.
//
//===----------------------------------------------------------------------===//

#include "strata/Cuda/Gemm.h"
#include "strata/Cuda/Kernels.h"
#include "strata/Exec/CpuKernels.h"

// Internal to runtime/cuda: the fused-kind launchers and their dispatch.
#include "FusedKinds.h"
#include "FusedLaunch.h"

#include "CudaTestUtil.h"
#include "KernelTestUtil.h"
#include "gtest/gtest.h"

#include "llvm/Support/Error.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace strata;
using namespace strata::cudatest;

namespace {

//===----------------------------------------------------------------------===//
// Tensors and kernels
//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// Device side
//===----------------------------------------------------------------------===//

std::string describe(const std::vector<Tensor> &inputs,
                     const std::vector<Spec> &outputs) {
  auto name = [](plan::DType d) {
    return d == F32 ? "f32" : d == BF16 ? "bf16" : "i32";
  };
  auto shape = [](const std::vector<int64_t> &s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i)
      r += (i ? "," : "") + std::to_string(s[i]);
    return r + "]";
  };
  std::string r;
  for (const Tensor &t : inputs)
    r += std::string(name(t.dtype)) + shape(t.shape) + " ";
  r += "->";
  for (const Spec &s : outputs)
    r += std::string(" ") + name(s.dtype) + shape(s.shape);
  return r;
}

/// A stream, a cuBLASLt handle and a zeroed device error record.
class KernelsForwardTest : public ::testing::Test {
protected:
  void SetUp() override {
    SKIP_WITHOUT_GPU();
    unsigned seed = std::random_device{}();
    rng.seed(seed);
    std::printf("  seed %u\n", seed);
    ASSERT_CUDA(cudaStreamCreate(&stream));
    cuda::GemmStatus status = cuda::GemmHandle::create(gemm);
    ASSERT_TRUE(status.ok()) << status.message;
    ASSERT_CUDA(cudaMalloc(&errors, sizeof(cuda::DeviceErrorRecord)));
    ASSERT_CUDA(cudaMemset(errors, 0, sizeof(cuda::DeviceErrorRecord)));
  }
  void TearDown() override {
    gemm.reset();
    if (errors)
      cudaFree(errors);
    if (workspace)
      cudaFree(workspace);
    if (stream)
      cudaStreamDestroy(stream);
  }

  cuda::DeviceErrorRecord errorRecord() {
    cuda::DeviceErrorRecord record{};
    EXPECT_EQ(
        cudaMemcpy(&record, errors, sizeof(record), cudaMemcpyDeviceToHost),
        cudaSuccess);
    return record;
  }

  /// A context whose workspace holds at least `bytes`.
  cuda::LaunchContext context(size_t bytes) {
    if (bytes > workspaceBytes) {
      if (workspace)
        cudaFree(workspace);
      workspace = nullptr;
      EXPECT_EQ(cudaMalloc(&workspace, bytes), cudaSuccess);
      workspaceBytes = bytes;
    }
    cuda::LaunchContext c;
    c.stream = stream;
    c.gemm = gemm.get();
    c.workspace = workspace;
    c.workspaceBytes = workspaceBytes;
    c.errors = errors;
    c.kernelIndex = 7;
    return c;
  }

  /// Runs `kernel` on the GPU: uploads inputs, poisons outputs, launches,
  /// synchronizes, downloads. An error of the launch fails the test.
  std::vector<Tensor> runGpu(const plan::Kernel &kernel,
                             const std::vector<Tensor> &inputs,
                             const std::vector<Spec> &outputs) {
    std::vector<std::unique_ptr<DeviceTensor>> ins, outs;
    std::vector<exec::BufferView> inViews, outViews;
    for (const Tensor &t : inputs) {
      ins.push_back(std::make_unique<DeviceTensor>(t.dtype, t.shape));
      ins.back()->upload(t);
      inViews.push_back(ins.back()->view());
    }
    for (const Spec &s : outputs) {
      outs.push_back(std::make_unique<DeviceTensor>(s.dtype, s.shape));
      outViews.push_back(outs.back()->view());
    }
    llvm::Expected<size_t> bytes =
        cuda::cudaKernelWorkspace(kernel, inViews, outViews);
    if (!bytes) {
      ADD_FAILURE() << errorText(bytes.takeError());
      return {};
    }
    std::string err = errorText(
        cuda::launchCudaKernel(kernel, inViews, outViews, context(*bytes)));
    EXPECT_EQ(err, "");
    EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    std::vector<Tensor> result;
    for (const auto &out : outs)
      result.push_back(out->download());
    return result;
  }

  /// The check of every kernel: GPU and CPU outputs agree within
  /// `tolerance` (relative, exact for i32).
  void expectMatchesCpu(const plan::Kernel &kernel,
                        const std::vector<Tensor> &inputs,
                        const std::vector<Spec> &outputs, double tolerance) {
    std::vector<Tensor> gpu = runGpu(kernel, inputs, outputs);
    std::vector<Tensor> cpu = runCpu(kernel, inputs, outputs).outputs;
    ASSERT_EQ(gpu.size(), cpu.size());
    for (size_t o = 0; o < gpu.size(); ++o) {
      double err = errorOf(gpu[o], cpu[o]);
      std::printf("  %-14s %-50s rel. error %.2e\n", kernel.op().c_str(),
                  describe(inputs, outputs).c_str(), err);
      EXPECT_LE(err, tolerance)
          << kernel.op() << " " << describe(inputs, outputs);
    }
  }

  std::mt19937 rng;
  cudaStream_t stream = nullptr;
  std::unique_ptr<cuda::GemmHandle> gemm;
  cuda::DeviceErrorRecord *errors = nullptr;
  void *workspace = nullptr;
  size_t workspaceBytes = 0;
};

/// 1e-5 for f32 buffers, 1e-2 when any buffer is bf16.
double toleranceFor(const std::vector<Tensor> &inputs,
                    const std::vector<Spec> &outputs) {
  for (const Tensor &t : inputs)
    if (t.dtype == BF16)
      return 1e-2;
  for (const Spec &s : outputs)
    if (s.dtype == BF16)
      return 1e-2;
  return 1e-5;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

TEST_F(KernelsForwardTest, Binary) {
  struct Shapes {
    std::vector<int64_t> a, b, out;
  };
  const Shapes shapes[] = {
      {{37, 129}, {37, 129}, {37, 129}},
      {{4, 37, 129}, {129}, {4, 37, 129}},
      {{37, 1}, {1, 129}, {37, 129}},
      {{}, {1000}, {1000}},
      {{3, 1, 5, 7}, {2, 1, 7}, {3, 2, 5, 7}},
  };
  for (const char *op :
       {"add", "sub", "mul", "div", "maximum", "minimum", "pow"}) {
    bool positive = std::string(op) == "pow";
    for (const Shapes &s : shapes)
      for (auto [ta, tb, tout] :
           {std::tuple{F32, F32, F32}, std::tuple{BF16, BF16, BF16},
            std::tuple{F32, BF16, F32}}) {
        std::vector<Tensor> in = {random(rng, ta, s.a, positive),
                                  random(rng, tb, s.b)};
        std::vector<Spec> out = {{tout, s.out}};
        expectMatchesCpu(makeKernel(op, 2, 1), in, out, toleranceFor(in, out));
      }
  }
  // Integers move exactly.
  for (const char *op : {"add", "sub", "mul", "maximum", "minimum"}) {
    std::vector<Tensor> in = {random(rng, I32, {37, 129}),
                              random(rng, I32, {129})};
    expectMatchesCpu(makeKernel(op, 2, 1), in,
                     std::vector<Spec>{{I32, {37, 129}}}, 0.0);
  }
}

TEST_F(KernelsForwardTest, BinaryRejectsBadShapes) {
  DeviceTensor a(F32, {3, 4}), b(F32, {5}), out(F32, {3, 4});
  std::string err = errorText(cuda::launchCudaKernel(
      makeKernel("add", 2, 1), {a.view(), b.view()}, {out.view()}, context(0)));
  EXPECT_NE(err.find("test.sg:1:1"), std::string::npos) << err;
  EXPECT_NE(err.find("do not broadcast"), std::string::npos) << err;
}

TEST_F(KernelsForwardTest, Unary) {
  for (const char *op : {"neg", "exp", "log", "sqrt", "rsqrt", "tanh",
                         "sigmoid", "relu", "silu", "abs"}) {
    std::string name = op;
    bool positive = name == "log" || name == "sqrt" || name == "rsqrt";
    for (int64_t n : {1000, 1001, 7})
      for (auto [tin, tout] :
           {std::pair{F32, F32}, std::pair{BF16, BF16}, std::pair{BF16, F32}}) {
        std::vector<Tensor> in = {random(rng, tin, {n}, positive)};
        std::vector<Spec> out = {{tout, {n}}};
        expectMatchesCpu(makeKernel(op, 1, 1), in, out, toleranceFor(in, out));
      }
  }
}

TEST_F(KernelsForwardTest, Gelu) {
  for (const char *approx : {"none", "tanh"})
    for (auto dtype : {F32, BF16}) {
      std::vector<Tensor> in = {random(rng, dtype, {37, 129}, false, 2.0f)};
      std::vector<Spec> out = {{dtype, {37, 129}}};
      expectMatchesCpu(
          makeKernel("gelu", 1, 1, {{"approximate", stringAttr(approx)}}), in,
          out, toleranceFor(in, out));
    }
}

TEST_F(KernelsForwardTest, Cast) {
  // f32 <-> i32 through the CPU reference.
  Tensor x = random(rng, F32, {1001}, false, 100.0f);
  expectMatchesCpu(makeKernel("cast", 1, 1), std::vector<Tensor>{x},
                   std::vector<Spec>{{I32, {1001}}}, 0.0);
  expectMatchesCpu(makeKernel("cast", 1, 1),
                   std::vector<Tensor>{random(rng, I32, {1001})},
                   std::vector<Spec>{{F32, {1001}}}, 0.0);
  // f32 -> bf16 rounds to nearest even; bf16 -> f32 is exact.
  std::vector<Tensor> got =
      runGpu(makeKernel("cast", 1, 1), {x}, {{BF16, {1001}}});
  ASSERT_EQ(got.size(), 1u);
  for (int64_t i = 0; i < 1001; ++i)
    ASSERT_EQ(got[0].values[i], roundToBf16(x.values[i])) << i;
  Tensor y = random(rng, BF16, {1001});
  got = runGpu(makeKernel("cast", 1, 1), {y}, {{F32, {1001}}});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].values, y.values);
}

/// The vectorized conversions (four elements per access, a scalar tail) at
/// sizes around a multiple of 4, every pair of dtypes, and buffers that
/// start off the vectors' alignment.
TEST_F(KernelsForwardTest, CastVectorized) {
  for (int64_t n : {4, 7, 1000, 1003, 100001})
    for (auto [tin, tout] :
         {std::pair{F32, BF16}, std::pair{BF16, F32}, std::pair{F32, F32},
          std::pair{BF16, BF16}, std::pair{I32, I32}, std::pair{BF16, I32},
          std::pair{I32, BF16}, std::pair{I32, F32}}) {
      std::vector<Tensor> in = {random(rng, tin, {n})};
      std::vector<Spec> out = {{tout, {n}}};
      expectMatchesCpu(makeKernel("cast", 1, 1), in, out,
                       tout == BF16 && tin != BF16 ? 1e-2 : 0.0);
    }
  // f32 -> i32 of values that are exact in bf16 too.
  expectMatchesCpu(makeKernel("cast", 1, 1),
                   std::vector<Tensor>{random(rng, F32, {1003}, false, 50.f)},
                   std::vector<Spec>{{I32, {1003}}}, 0.0);
  // Views one element into their buffers: not 16-byte aligned.
  const int64_t n = 1001;
  for (auto [tin, tout] : {std::pair{F32, BF16}, std::pair{BF16, F32}}) {
    Tensor x = random(rng, tin, {n + 1});
    DeviceTensor dx(tin, {n + 1}), dy(tout, {n + 1});
    dx.upload(x);
    const std::vector<int64_t> shape = {n};
    exec::BufferView in = dx.view(), out = dy.view();
    in.data = static_cast<char *>(in.data) + bytesOf(tin);
    out.data = static_cast<char *>(out.data) + bytesOf(tout);
    in.shape = out.shape = shape;
    std::string err = errorText(cuda::launchCudaKernel(
        makeKernel("cast", 1, 1), {in}, {out}, context(0)));
    ASSERT_EQ(err, "");
    ASSERT_CUDA(cudaStreamSynchronize(stream));
    Tensor got = dy.download();
    EXPECT_TRUE(std::isnan(got.values[0])); // untouched
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(got.values[i + 1], roundToBf16(x.values[i + 1])) << i;
  }
}

//===----------------------------------------------------------------------===//
// matmul
//===----------------------------------------------------------------------===//

TEST_F(KernelsForwardTest, Matmul) {
  struct Case {
    std::vector<int64_t> a, b, out;
    bool transA, transB;
  };
  const Case cases[] = {
      {{37, 129}, {129, 65}, {37, 65}, false, false},
      {{37, 129}, {65, 129}, {37, 65}, false, true},
      {{129, 37}, {129, 65}, {37, 65}, true, false},
      {{129, 37}, {65, 129}, {37, 65}, true, true},
      {{3, 37, 129}, {129, 65}, {3, 37, 65}, false, false},
      {{2, 3, 37, 29}, {2, 3, 29, 41}, {2, 3, 37, 41}, false, false},
      {{2, 3, 29, 37}, {2, 3, 41, 29}, {2, 3, 37, 41}, true, true},
      {{2, 1, 37, 29}, {3, 29, 41}, {2, 3, 37, 41}, false, false},
      {{37, 29}, {3, 29, 41}, {3, 37, 41}, false, false},
  };
  for (const Case &c : cases) {
    Attrs attrs;
    if (c.transA)
      attrs["transpose_a"] = unitAttr();
    if (c.transB)
      attrs["transpose_b"] = unitAttr();
    plan::Kernel k = makeKernel("matmul", 2, 1, attrs);
    // f32 runs on TF32 tensor cores (10-bit mantissas).
    for (auto [ta, tb, tout, tol] :
         {std::tuple{F32, F32, F32, 5e-3}, std::tuple{BF16, BF16, BF16, 1e-2},
          std::tuple{BF16, BF16, F32, 1e-3}, std::tuple{F32, BF16, F32, 1e-2},
          std::tuple{F32, F32, BF16, 1e-2}}) {
      std::vector<Tensor> in = {random(rng, ta, c.a), random(rng, tb, c.b)};
      std::vector<Spec> out = {{tout, c.out}};
      expectMatchesCpu(k, in, out, tol);
    }
  }
}

TEST_F(KernelsForwardTest, MatmulWithEmptySum) {
  std::vector<Tensor> in = {random(rng, F32, {5, 0}), random(rng, F32, {0, 7})};
  expectMatchesCpu(makeKernel("matmul", 2, 1), in,
                   std::vector<Spec>{{F32, {5, 7}}}, 0.0);
}

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

TEST_F(KernelsForwardTest, Reduce) {
  const std::vector<int64_t> shape = {7, 37, 129};
  const std::vector<std::vector<int64_t>> axesList = {
      {2}, {0}, {1}, {0, 2}, {0, 1}, {1, 2}, {0, 1, 2}, {-1}};
  for (const char *kind : {"sum", "mean", "max", "min"})
    for (const auto &axes : axesList)
      for (bool keepdim : {false, true})
        for (auto dtype : {F32, BF16}) {
          Attrs attrs = {{"kind", stringAttr(kind)}, {"axes", intsAttr(axes)}};
          if (keepdim)
            attrs["keepdim"] = unitAttr();
          std::vector<int64_t> outShape;
          for (int64_t d = 0; d < 3; ++d) {
            bool reduced = false;
            for (int64_t a : axes)
              reduced |= (a + 3) % 3 == d;
            if (!reduced)
              outShape.push_back(shape[d]);
            else if (keepdim)
              outShape.push_back(1);
          }
          std::vector<Tensor> in = {random(rng, dtype, shape)};
          std::vector<Spec> out = {{dtype, outShape}};
          expectMatchesCpu(makeKernel("reduce", 1, 1, attrs), in, out,
                           toleranceFor(in, out));
        }
  // A large reduction to one value, and integers. Positive values: the sum of
  // a million normal ones can land near zero, where summing in another order
  // than the CPU's is a large relative error of a correct result.
  std::vector<Tensor> big = {random(rng, F32, {1000, 1000}, /*positive=*/true)};
  expectMatchesCpu(
      makeKernel("reduce", 1, 1,
                 {{"kind", stringAttr("sum")}, {"axes", intsAttr({0, 1})}}),
      big, std::vector<Spec>{{F32, {}}}, 1e-5);
  expectMatchesCpu(
      makeKernel("reduce", 1, 1,
                 {{"kind", stringAttr("mean")}, {"axes", intsAttr({0})}}),
      big, std::vector<Spec>{{F32, {1000}}}, 1e-5);
  std::vector<Tensor> ints = {random(rng, I32, {37, 129})};
  for (const char *kind : {"sum", "max", "min"})
    expectMatchesCpu(
        makeKernel("reduce", 1, 1,
                   {{"kind", stringAttr(kind)}, {"axes", intsAttr({0})}}),
        ints, std::vector<Spec>{{I32, {129}}}, 0.0);
}

/// A reduce kernel of `kind` over `axes`, without keepdim.
plan::Kernel reduceKernel(const char *kind, const std::vector<int64_t> &axes) {
  return makeKernel("reduce", 1, 1,
                    {{"kind", stringAttr(kind)}, {"axes", intsAttr(axes)}});
}

/// The shape of x reduced over `axes` (without keepdim).
std::vector<int64_t> keptShape(const std::vector<int64_t> &shape,
                               const std::vector<int64_t> &axes) {
  std::vector<int64_t> kept;
  for (int64_t d = 0; d < int64_t(shape.size()); ++d)
    if (std::find(axes.begin(), axes.end(), d) == axes.end())
      kept.push_back(shape[d]);
  return kept;
}

/// The layouts of the contiguous kernels (x [outer, reduced, inner]) at
/// sizes where the reduced extent is split into chunks whose partial
/// results meet in a second pass: columns (the bias gradients of GPT-2,
/// 16-byte loads), odd column counts (scalar loads), a middle axis with
/// outer > 1, long rows (aligned and odd), and integers.
TEST_F(KernelsForwardTest, ReduceSplit) {
  struct Case {
    std::vector<int64_t> shape, axes;
  };
  const Case cases[] = {
      {{16, 1024, 768}, {0, 1}}, {{3, 2000, 129}, {0, 1}}, {{5, 4099, 37}, {1}},
      {{4, 1000, 64}, {1}},      {{3, 100003}, {1}},       {{2, 65536}, {1}},
      {{2, 50000}, {0, 1}},
  };
  for (const Case &c : cases)
    for (const char *kind : {"sum", "mean", "max", "min"})
      for (auto [tin, tout] : {std::pair{F32, F32}, std::pair{BF16, F32},
                               std::pair{F32, BF16}, std::pair{BF16, BF16}}) {
        std::vector<Tensor> in = {random(rng, tin, c.shape)};
        std::vector<Spec> out = {{tout, keptShape(c.shape, c.axes)}};
        expectMatchesCpu(reduceKernel(kind, c.axes), in, out,
                         toleranceFor(in, out));
      }
  // The largest bias gradient of GPT-2 (the MLP's 3072 columns).
  std::vector<Tensor> big = {random(rng, BF16, {16, 1024, 3072})};
  expectMatchesCpu(reduceKernel("sum", {0, 1}), big,
                   std::vector<Spec>{{F32, {3072}}}, 1e-5);
  // Integers: partial sums stay exact below 2^24.
  for (auto [shape, axes] :
       {std::pair{std::vector<int64_t>{4, 5000, 3}, std::vector<int64_t>{1}},
        std::pair{std::vector<int64_t>{3, 20000}, std::vector<int64_t>{1}},
        std::pair{std::vector<int64_t>{6000, 8}, std::vector<int64_t>{0}}})
    for (const char *kind : {"sum", "max", "min"})
      expectMatchesCpu(reduceKernel(kind, axes),
                       std::vector<Tensor>{random(rng, I32, shape)},
                       std::vector<Spec>{{I32, keptShape(shape, axes)}}, 0.0);
}

/// A split reduction needs workspace for its partial results and gives the
/// same bits on every run (the partials meet in a fixed order).
TEST_F(KernelsForwardTest, ReduceSplitIsDeterministic) {
  for (auto [shape, axes] :
       {std::pair{std::vector<int64_t>{16, 1024, 768},
                  std::vector<int64_t>{0, 1}},
        std::pair{std::vector<int64_t>{3, 100003}, std::vector<int64_t>{1}}}) {
    std::vector<Tensor> in = {random(rng, BF16, shape)};
    std::vector<Spec> out = {{F32, keptShape(shape, axes)}};
    plan::Kernel kernel = reduceKernel("sum", axes);
    DeviceTensor x(BF16, shape), y(F32, out[0].shape);
    llvm::Expected<size_t> bytes =
        cuda::cudaKernelWorkspace(kernel, {x.view()}, {y.view()});
    ASSERT_TRUE(bool(bytes)) << errorText(bytes.takeError());
    EXPECT_GT(*bytes, 0u);
    // Too little workspace is an error, not a wrong result.
    std::string err = errorText(
        cuda::launchCudaKernel(kernel, {x.view()}, {y.view()}, context(0)));
    if (workspaceBytes < *bytes) {
      EXPECT_NE(err.find("bytes of workspace"), std::string::npos) << err;
    }
    std::vector<Tensor> first = runGpu(kernel, in, out);
    std::vector<Tensor> second = runGpu(kernel, in, out);
    ASSERT_EQ(first.size(), 1u);
    ASSERT_EQ(second.size(), 1u);
    ASSERT_EQ(first[0].values.size(), second[0].values.size());
    EXPECT_EQ(std::memcmp(first[0].values.data(), second[0].values.data(),
                          first[0].values.size() * sizeof(float)),
              0);
  }
}

TEST_F(KernelsForwardTest, Softmax) {
  struct Case {
    std::vector<int64_t> shape;
    int64_t axis;
  };
  const Case cases[] = {{{37, 129}, -1},
                        {{5, 37, 13}, 1},
                        {{3, 50257}, 1},
                        {{37, 3}, 0},
                        {{7}, 0}};
  for (const char *op : {"softmax", "log_softmax"})
    for (const Case &c : cases)
      for (auto dtype : {F32, BF16}) {
        std::vector<Tensor> in = {random(rng, dtype, c.shape, false, 3.0f)};
        std::vector<Spec> out = {{dtype, c.shape}};
        expectMatchesCpu(makeKernel(op, 1, 1, {{"axis", intAttr(c.axis)}}), in,
                         out, toleranceFor(in, out));
      }
}

TEST_F(KernelsForwardTest, Norms) {
  for (auto shape :
       {std::vector<int64_t>{37, 129}, std::vector<int64_t>{4, 1000},
        std::vector<int64_t>{2, 3, 4099}, std::vector<int64_t>{5, 7},
        std::vector<int64_t>{37, 768}, std::vector<int64_t>{3, 5, 4},
        std::vector<int64_t>{2, 4096}})
    for (auto [tx, tw, tout] :
         {std::tuple{F32, F32, F32}, std::tuple{BF16, BF16, BF16},
          std::tuple{BF16, F32, F32}, std::tuple{F32, F32, BF16}}) {
      int64_t dim = shape.back();
      // An offset mean: the variance must not cancel.
      Tensor x = random(rng, tx, shape, false, 2.0f);
      for (float &v : x.values)
        v = tx == BF16 ? roundToBf16(v + 3.0f) : v + 3.0f;
      std::vector<Tensor> ln = {x, random(rng, tw, {dim}),
                                random(rng, tw, {dim})};
      std::vector<Spec> out = {{tout, shape}};
      expectMatchesCpu(
          makeKernel("layer_norm", 3, 1, {{"epsilon", floatAttr(1e-5)}}), ln,
          out, toleranceFor(ln, out));
      std::vector<Tensor> rms = {x, random(rng, tw, {dim})};
      expectMatchesCpu(
          makeKernel("rms_norm", 2, 1, {{"epsilon", floatAttr(1e-6)}}), rms,
          out, toleranceFor(rms, out));
    }
}

TEST_F(KernelsForwardTest, CrossEntropy) {
  using Size = std::pair<int64_t, int64_t>;
  for (auto [rows, vocab] : {Size{37, 1000}, Size{129, 50257 / 8}, Size{1, 7}})
    for (auto [tl, tout] :
         {std::pair{F32, F32}, std::pair{BF16, F32}, std::pair{BF16, BF16}}) {
      std::vector<Tensor> in = {random(rng, tl, {rows, vocab}, false, 2.0f),
                                indices(rng, {rows}, vocab)};
      std::vector<Spec> out = {{tout, {}}};
      expectMatchesCpu(makeKernel("cross_entropy", 2, 1), in, out,
                       toleranceFor(in, out));
    }
}

TEST_F(KernelsForwardTest, CrossEntropyReportsBadTarget) {
  Tensor targets = indices(rng, {37}, 100);
  targets.ints[12] = 100;
  runGpu(makeKernel("cross_entropy", 2, 1),
         {random(rng, F32, {37, 100}), targets}, {{F32, {1}}});
  cuda::DeviceErrorRecord record = errorRecord();
  EXPECT_EQ(record.code, cuda::kIndexOutOfRange);
  EXPECT_EQ(record.kernel, 7);
  EXPECT_EQ(record.position, 12);
  EXPECT_EQ(record.value, 100);
  EXPECT_EQ(record.bound, 100);
}

//===----------------------------------------------------------------------===//
// Layout and indexing
//===----------------------------------------------------------------------===//

TEST_F(KernelsForwardTest, Reshape) {
  for (auto [tin, tout] : {std::pair{F32, F32}, std::pair{I32, I32},
                           std::pair{BF16, BF16}, std::pair{F32, BF16}}) {
    std::vector<Tensor> in = {random(rng, tin, {37, 129})};
    std::vector<Spec> out = {{tout, {129, 37}}};
    expectMatchesCpu(makeKernel("reshape", 1, 1), in, out,
                     tin == tout ? 0.0 : 1e-2);
  }
}

/// A reshape whose output is its input (the memory plan aliases them) does
/// nothing; other ones copy.
TEST_F(KernelsForwardTest, ReshapeInPlace) {
  Tensor x = random(rng, BF16, {37, 129});
  DeviceTensor dx(BF16, x.shape);
  dx.upload(x);
  const std::vector<int64_t> shape = {129, 37};
  exec::BufferView out = dx.view();
  out.shape = shape;
  std::string err = errorText(cuda::launchCudaKernel(
      makeKernel("reshape", 1, 1), {dx.view()}, {out}, context(0)));
  ASSERT_EQ(err, "");
  ASSERT_CUDA(cudaStreamSynchronize(stream));
  EXPECT_EQ(dx.download().values, x.values);
}

TEST_F(KernelsForwardTest, Transpose) {
  struct Case {
    std::vector<int64_t> shape, perm;
  };
  const Case cases[] = {
      // The last axis moves: tiles through shared memory.
      {{3, 37, 5, 19}, {2, 0, 3, 1}},
      {{37, 129}, {1, 0}},
      {{2, 1, 37, 3}, {3, 1, 2, 0}},
      {{3, 37, 65}, {2, 1, 0}},
      {{2, 70, 3, 33}, {0, 3, 2, 1}},
      // The last axis stays: whole rows, 16-byte vectors where the row
      // allows (attention's head split and merge) and narrower ones where
      // not.
      {{3, 37, 5, 19}, {0, 2, 1, 3}},
      {{2, 129, 12, 64}, {0, 2, 1, 3}},
      {{2, 12, 129, 64}, {0, 2, 1, 3}},
      {{2, 5, 3, 6}, {1, 0, 2, 3}},
      {{3, 4, 5, 2, 8}, {4, 2, 0, 1, 3}},
      {{2, 3, 4, 5, 6}, {3, 1, 4, 0, 2}},
      {{7, 5, 4}, {1, 0, 2}},
  };
  for (const Case &c : cases)
    for (auto dtype : {F32, BF16, I32}) {
      std::vector<int64_t> outShape;
      for (int64_t p : c.perm)
        outShape.push_back(c.shape[p]);
      std::vector<Tensor> in = {random(rng, dtype, c.shape)};
      expectMatchesCpu(
          makeKernel("transpose", 1, 1, {{"permutation", intsAttr(c.perm)}}),
          in, std::vector<Spec>{{dtype, outShape}}, 0.0);
    }
  // A dtype conversion on the way goes element by element.
  for (const Case &c : {cases[0], cases[6]})
    for (auto [tin, tout] : {std::pair{F32, BF16}, std::pair{BF16, F32}}) {
      std::vector<int64_t> outShape;
      for (int64_t p : c.perm)
        outShape.push_back(c.shape[p]);
      std::vector<Tensor> in = {random(rng, tin, c.shape)};
      std::vector<Spec> out = {{tout, outShape}};
      expectMatchesCpu(
          makeKernel("transpose", 1, 1, {{"permutation", intsAttr(c.perm)}}),
          in, out, toleranceFor(in, out));
    }
}

TEST_F(KernelsForwardTest, Slice) {
  struct Case {
    std::vector<int64_t> shape;
    int64_t axis, start, end;
  };
  const Case cases[] = {
      {{5, 37, 7}, 0, 1, 4},
      {{5, 37, 7}, 1, 1, 36},
      {{5, 37, 7}, 2, 1, 6},
      // Attention's q, k, v out of one projection: 16-byte rows.
      {{2, 37, 2304}, 2, 768, 1536},
      {{2, 37, 96}, 2, 64, 96},
      {{3, 40, 24}, 2, 2, 22},
  };
  for (auto dtype : {F32, BF16, I32})
    for (const Case &c : cases) {
      std::vector<int64_t> outShape = c.shape;
      outShape[c.axis] = c.end - c.start;
      std::vector<Tensor> in = {random(rng, dtype, c.shape)};
      expectMatchesCpu(makeKernel("slice", 1, 1,
                                  {{"axis", intAttr(c.axis)},
                                   {"start", intAttr(c.start)},
                                   {"end", intAttr(c.end)}}),
                       in, std::vector<Spec>{{dtype, outShape}}, 0.0);
    }
  std::vector<Tensor> in = {random(rng, F32, {2, 37, 96})};
  expectMatchesCpu(
      makeKernel(
          "slice", 1, 1,
          {{"axis", intAttr(2)}, {"start", intAttr(32)}, {"end", intAttr(64)}}),
      in, std::vector<Spec>{{BF16, {2, 37, 32}}}, 1e-2);
}

TEST_F(KernelsForwardTest, Concat) {
  struct Case {
    std::vector<int64_t> shape; // with the axis's extent replaced
    int64_t axis;
    std::vector<int64_t> widths;
  };
  const Case cases[] = {
      {{5, 7, 3}, 0, {3, 1, 17}},   {{5, 7, 3}, 1, {3, 1, 17}},
      {{5, 7, 3}, 2, {3, 1, 17}},   {{2, 37, 0}, 2, {768, 768, 768}},
      {{2, 37, 0}, 2, {64, 8, 24}}, {{3, 0, 64}, 1, {5, 1, 7}},
  };
  for (auto dtype : {F32, BF16, I32})
    for (const Case &c : cases) {
      std::vector<Tensor> in;
      std::vector<int64_t> outShape = c.shape;
      outShape[c.axis] = 0;
      for (int64_t width : c.widths) {
        std::vector<int64_t> shape = c.shape;
        shape[c.axis] = width;
        outShape[c.axis] += width;
        in.push_back(random(rng, dtype, shape));
      }
      expectMatchesCpu(makeKernel("concat", 3, 1, {{"axis", intAttr(c.axis)}}),
                       in, std::vector<Spec>{{dtype, outShape}}, 0.0);
    }
  std::vector<Tensor> mixed = {random(rng, F32, {2, 5, 8}),
                               random(rng, BF16, {2, 5, 4})};
  expectMatchesCpu(makeKernel("concat", 2, 1, {{"axis", intAttr(2)}}), mixed,
                   std::vector<Spec>{{BF16, {2, 5, 12}}}, 1e-2);
}

TEST_F(KernelsForwardTest, Gather) {
  // Rows of odd sizes (element moves) and of 16-byte multiples (the
  // embedding tables).
  for (int64_t rowSize : {37, 768, 20})
    for (auto dtype : {F32, BF16, I32}) {
      std::vector<Tensor> in = {random(rng, dtype, {100, rowSize}),
                                indices(rng, {5, 13}, 100)};
      expectMatchesCpu(makeKernel("gather", 2, 1), in,
                       std::vector<Spec>{{dtype, {5, 13, rowSize}}}, 0.0);
    }
  std::vector<Tensor> vec = {random(rng, F32, {1000}),
                             indices(rng, {129}, 1000)};
  expectMatchesCpu(makeKernel("gather", 2, 1), vec,
                   std::vector<Spec>{{F32, {129}}}, 0.0);
  std::vector<Tensor> mixed = {random(rng, F32, {100, 64}),
                               indices(rng, {37}, 100)};
  expectMatchesCpu(makeKernel("gather", 2, 1), mixed,
                   std::vector<Spec>{{BF16, {37, 64}}}, 1e-2);
}

TEST_F(KernelsForwardTest, GatherReportsBadIndex) {
  // Rows of 9 floats move element by element, rows of 64 as 16-byte vectors.
  for (int64_t rowSize : {9, 64}) {
    Tensor idx = indices(rng, {20}, 100);
    idx.ints[13] = -3;
    idx.ints[17] = 100;
    ASSERT_CUDA(cudaMemset(errors, 0, sizeof(cuda::DeviceErrorRecord)));
    std::vector<Tensor> got =
        runGpu(makeKernel("gather", 2, 1),
               {random(rng, F32, {100, rowSize}), idx}, {{F32, {20, rowSize}}});
    cuda::DeviceErrorRecord record = errorRecord();
    EXPECT_EQ(record.code, cuda::kIndexOutOfRange);
    EXPECT_EQ(record.kernel, 7);
    EXPECT_TRUE(record.position == 13 || record.position == 17);
    EXPECT_EQ(record.value, record.position == 13 ? -3 : 100);
    EXPECT_EQ(record.bound, 100);
    ASSERT_EQ(got.size(), 1u);
    for (int64_t c = 0; c < rowSize; ++c) {
      EXPECT_EQ(got[0].values[13 * rowSize + c], 0.0f);
      EXPECT_EQ(got[0].values[17 * rowSize + c], 0.0f);
    }
  }
}

TEST_F(KernelsForwardTest, Iota) {
  for (auto dtype : {F32, I32})
    expectMatchesCpu(makeKernel("iota", 0, 1), std::vector<Tensor>{},
                     std::vector<Spec>{{dtype, {1000}}}, 0.0);
}

TEST_F(KernelsForwardTest, OneHot) {
  std::vector<Tensor> in = {indices(rng, {3, 37}, 129)};
  expectMatchesCpu(makeKernel("one_hot", 1, 1, {{"num_classes", intAttr(129)}}),
                   in, std::vector<Spec>{{F32, {3, 37, 129}}}, 0.0);
  Tensor bad = in[0];
  bad.ints[40] = 129;
  runGpu(makeKernel("one_hot", 1, 1, {{"num_classes", intAttr(129)}}), {bad},
         {{BF16, {3, 37, 129}}});
  cuda::DeviceErrorRecord record = errorRecord();
  EXPECT_EQ(record.code, cuda::kIndexOutOfRange);
  EXPECT_EQ(record.position, 40);
  EXPECT_EQ(record.value, 129);
  EXPECT_EQ(record.bound, 129);
}

TEST_F(KernelsForwardTest, Constant) {
  plan::Attribute one;
  one.mutable_floats()->add_values(2.5);
  for (auto dtype : {F32, BF16})
    expectMatchesCpu(makeKernel("constant", 0, 1, {{"value", one}}),
                     std::vector<Tensor>{}, std::vector<Spec>{{dtype, {37, 5}}},
                     0.0);
  // More values than one launch's parameters hold.
  std::vector<int64_t> values;
  for (int64_t i = 0; i < 2000; ++i)
    values.push_back(i * 7 - 5000);
  expectMatchesCpu(makeKernel("constant", 0, 1, {{"value", intsAttr(values)}}),
                   std::vector<Tensor>{}, std::vector<Spec>{{I32, {2000}}},
                   0.0);
  plan::Attribute floats;
  for (int64_t i = 0; i < 1001; ++i)
    floats.mutable_floats()->add_values(0.25 * i);
  expectMatchesCpu(makeKernel("constant", 0, 1, {{"value", floats}}),
                   std::vector<Tensor>{}, std::vector<Spec>{{F32, {7, 143}}},
                   0.0);
}

//===----------------------------------------------------------------------===//
// rope, attention
//===----------------------------------------------------------------------===//

TEST_F(KernelsForwardTest, Rope) {
  for (auto dtype : {F32, BF16}) {
    std::vector<Tensor> in = {random(rng, dtype, {2, 3, 37, 64})};
    std::vector<Spec> out = {{dtype, {2, 3, 37, 64}}};
    expectMatchesCpu(makeKernel("rope", 1, 1, {{"theta", floatAttr(1e4)}}), in,
                     out, toleranceFor(in, out));
  }
  std::vector<Tensor> in = {random(rng, F32, {1, 2, 1000, 6})};
  expectMatchesCpu(makeKernel("rope", 1, 1, {{"theta", floatAttr(500.0)}}), in,
                   std::vector<Spec>{{F32, {1, 2, 1000, 6}}}, 1e-5);
}

TEST_F(KernelsForwardTest, Attention) {
  struct Case {
    int64_t batch, qHeads, kvHeads, qLen, kvLen, headDim, valueDim;
    bool causal;
  };
  const Case cases[] = {
      // The flash kernels (head dims 64 and 128).
      {2, 4, 2, 37, 37, 64, 64, true},
      {1, 3, 3, 129, 129, 128, 128, false},
      {2, 2, 1, 37, 100, 64, 64, true},
      // The fallback: other head dims, Dv != Dh.
      {2, 4, 2, 37, 37, 40, 40, true},
      {1, 2, 2, 29, 300, 24, 48, true},
      {1, 1, 1, 5, 3, 8, 8, true}, // queries that see no key
  };
  for (const Case &c : cases)
    for (auto dtype : {F32, BF16}) {
      Attrs attrs = {{"scale", floatAttr(1.0 / std::sqrt(double(c.headDim)))}};
      if (c.causal)
        attrs["causal"] = unitAttr();
      std::vector<Tensor> in = {
          random(rng, dtype, {c.batch, c.qHeads, c.qLen, c.headDim}),
          random(rng, dtype, {c.batch, c.kvHeads, c.kvLen, c.headDim}),
          random(rng, dtype, {c.batch, c.kvHeads, c.kvLen, c.valueDim})};
      std::vector<Spec> out = {
          {dtype, {c.batch, c.qHeads, c.qLen, c.valueDim}}};
      bool flash =
          c.headDim == c.valueDim && (c.headDim == 64 || c.headDim == 128);
      double tol = flash ? 2e-2 : toleranceFor(in, out);
      expectMatchesCpu(makeKernel("attention", 3, 1, attrs), in, out, tol);
    }
}

//===----------------------------------------------------------------------===//
// Fused matmul epilogues
//===----------------------------------------------------------------------===//

/// A fused group: x (id 0), w (1), bias (2) -> product (local 10) -> sum (11)
/// [-> gelu (12)]; `sumIsOutput` makes the sum a group output too.
plan::Kernel fusedMatmul(bool gelu, bool sumIsOutput, bool transB) {
  plan::Kernel fused;
  fused.set_op("fused");
  fused.set_location("test.sg:2:1");
  (*fused.mutable_attrs())["kind"] =
      stringAttr(gelu ? "matmul_bias_gelu" : "matmul_bias");
  for (int id : {0, 1, 2})
    fused.add_inputs(id);
  plan::Kernel *mm = fused.add_body();
  mm->set_op("matmul");
  mm->add_inputs(0);
  mm->add_inputs(1);
  mm->add_outputs(10);
  if (transB)
    (*mm->mutable_attrs())["transpose_b"] = unitAttr();
  plan::Kernel *add = fused.add_body();
  add->set_op("add");
  add->add_inputs(10);
  add->add_inputs(2);
  add->add_outputs(11);
  fused.add_locals(10);
  if (!gelu) {
    fused.add_outputs(11);
    return fused;
  }
  plan::Kernel *act = fused.add_body();
  act->set_op("gelu");
  act->add_inputs(11);
  act->add_outputs(12);
  (*act->mutable_attrs())["approximate"] = stringAttr("tanh");
  if (sumIsOutput)
    fused.add_outputs(11);
  else
    fused.add_locals(11);
  fused.add_outputs(12);
  return fused;
}

TEST_F(KernelsForwardTest, MatmulEpilogues) {
  const int64_t k = 129, n = 96;
  for (bool gelu : {false, true})
    for (bool sumIsOutput : {false, true}) {
      if (!gelu && !sumIsOutput)
        continue;
      for (bool transB : {false, true})
        for (auto [tin, tout, tol] :
             {std::tuple{BF16, BF16, 1e-2}, std::tuple{BF16, F32, 1e-3},
              std::tuple{F32, F32, 5e-3}}) {
          plan::Kernel fused = fusedMatmul(gelu, sumIsOutput, transB);
          Tensor x = random(rng, tin, {2, 37, k});
          Tensor w = random(rng, tin,
                            transB ? std::vector<int64_t>{n, k}
                                   : std::vector<int64_t>{k, n});
          Tensor bias = random(rng, tout, {n});
          // The reference: the body kernel by kernel on the CPU.
          std::map<int, Tensor> cpu = {{0, x}, {1, w}, {2, bias}};
          for (const plan::Kernel &body : fused.body()) {
            std::vector<Tensor> ins;
            for (int id : body.inputs())
              ins.push_back(cpu.at(id));
            plan::Kernel kernel = body;
            kernel.clear_inputs();
            kernel.clear_outputs();
            for (int i = 0; i < body.inputs_size(); ++i)
              kernel.add_inputs(i);
            kernel.add_outputs(body.inputs_size());
            cpu[body.outputs(0)] =
                runCpu(kernel, ins, {{F32, {2, 37, n}}}).outputs.front();
          }
          // The GPU: one launch.
          DeviceTensor dx(tin, x.shape), dw(tin, w.shape), db(tout, bias.shape);
          dx.upload(x);
          dw.upload(w);
          db.upload(bias);
          std::vector<std::unique_ptr<DeviceTensor>> outs;
          std::vector<exec::BufferView> outViews;
          for (int id : fused.outputs()) {
            (void)id;
            outs.push_back(std::make_unique<DeviceTensor>(
                tout, std::vector<int64_t>{2, 37, n}));
            outViews.push_back(outs.back()->view());
          }
          std::string err = errorText(cuda::launchMatmulEpilogue(
              fused, {dx.view(), dw.view(), db.view()}, outViews, context(0)));
          ASSERT_EQ(err, "");
          ASSERT_CUDA(cudaStreamSynchronize(stream));
          for (int o = 0; o < fused.outputs_size(); ++o) {
            double e = errorOf(outs[o]->download(), cpu.at(fused.outputs(o)));
            std::printf("  %s%s%s %s -> %s output %d rel. error %.2e\n",
                        gelu ? "matmul_bias_gelu" : "matmul_bias",
                        sumIsOutput && gelu ? " (aux)" : "",
                        transB ? " transB" : "", tin == F32 ? "f32" : "bf16",
                        tout == F32 ? "f32" : "bf16", o, e);
            EXPECT_LE(e, tol);
          }
        }
    }
}

TEST_F(KernelsForwardTest, MatmulEpilogueRejectsOtherPatterns) {
  DeviceTensor x(BF16, {37, 64}), w(BF16, {64, 20}), bias(BF16, {20}),
      sum(BF16, {37, 20}), out(BF16, {37, 20});
  // The GELU input as an output needs N % 8 == 0.
  std::string err = errorText(cuda::launchMatmulEpilogue(
      fusedMatmul(true, true, false), {x.view(), w.view(), bias.view()},
      {sum.view(), out.view()}, context(0)));
  EXPECT_NE(err.find("multiple of 8"), std::string::npos) << err;
  // Mixed operand types.
  DeviceTensor w32(F32, {64, 20});
  err = errorText(cuda::launchMatmulEpilogue(
      fusedMatmul(false, true, false), {x.view(), w32.view(), bias.view()},
      {out.view()}, context(0)));
  EXPECT_NE(err.find("both bf16 or both f32"), std::string::npos) << err;
}

//===----------------------------------------------------------------------===//
// Fused matmul_accumulate (weight gradients)
//===----------------------------------------------------------------------===//

/// A matmul_accumulate group: A (id 0), B (1) and the f32 gradient (2, an
/// input written in place) -> the product (local 10) [-> its f32 cast (local
/// 11)] -> accumulate into the gradient. No outputs.
plan::Kernel fusedMatmulAccumulate(bool withCast, bool transA, bool transB) {
  plan::Kernel fused;
  fused.set_op("fused");
  fused.set_location("test.sg:3:1");
  (*fused.mutable_attrs())["kind"] = stringAttr("matmul_accumulate");
  for (int id : {0, 1, 2})
    fused.add_inputs(id);
  plan::Kernel *mm = fused.add_body();
  mm->set_op("matmul");
  mm->add_inputs(0);
  mm->add_inputs(1);
  mm->add_outputs(10);
  if (transA)
    (*mm->mutable_attrs())["transpose_a"] = unitAttr();
  if (transB)
    (*mm->mutable_attrs())["transpose_b"] = unitAttr();
  fused.add_locals(10);
  int value = 10;
  if (withCast) {
    plan::Kernel *convert = fused.add_body();
    convert->set_op("cast");
    convert->add_inputs(10);
    convert->add_outputs(11);
    fused.add_locals(11);
    value = 11;
  }
  plan::Kernel *acc = fused.add_body();
  acc->set_op("accumulate");
  acc->add_inputs(2);
  acc->add_inputs(value);
  return fused;
}

/// The body of a matmul_accumulate group run kernel by kernel by the CPU
/// dispatch, as a backend without its one-kernel form runs it: the product
/// in a `productType` buffer (bf16: rounded as a bf16 local holds it), the
/// cast (if any) to f32, the accumulate into a copy of `grad`, returned.
std::vector<float> runAccumulateBodyOnCpu(const plan::Kernel &fused,
                                          const Tensor &a, const Tensor &b,
                                          const Tensor &grad,
                                          plan::DType productType) {
  // Buffers by id; bf16 ones hold bits. The operands are bf16-representable,
  // so their f32 copies are what the CPU computes from either way.
  std::vector<float> af = a.values, bf = b.values, gf = grad.values;
  std::vector<float> product32(grad.count()), cast32(grad.count());
  std::vector<uint16_t> product16(grad.count());
  std::map<int, exec::BufferView> views = {
      {0, {af.data(), F32, a.shape}},
      {1, {bf.data(), F32, b.shape}},
      {2, {gf.data(), F32, grad.shape}},
      {10, productType == BF16
               ? exec::BufferView{product16.data(), BF16, grad.shape}
               : exec::BufferView{product32.data(), F32, grad.shape}},
      {11, {cast32.data(), F32, grad.shape}}};
  for (const plan::Kernel &kernel : fused.body()) {
    std::vector<exec::BufferView> in, out;
    for (int id : kernel.inputs())
      in.push_back(views.at(id));
    for (int id : kernel.outputs())
      out.push_back(views.at(id));
    std::string err =
        errorText(exec::runCpuKernel(kernel, in, out, /*numThreads=*/1));
    EXPECT_EQ(err, "") << "the CPU body failed at '" << kernel.op() << "'";
  }
  return gf;
}

/// One case of the weight-gradient GEMM: operand shapes and transposes.
struct AccumulateCase {
  const char *what;
  std::vector<int64_t> a, b, grad;
  bool transA, transB;
};

/// 2-D weight gradients (xᵀ·dy and the other transposes), a 3-D A whose
/// leading dimensions fold into rows, and strided batches (the MoE experts'
/// weight gradients); sizes that are multiples of no tile.
const AccumulateCase kAccumulateCases[] = {
    {"xT.dy", {300, 37}, {300, 129}, {37, 129}, true, false},
    {"x.w", {37, 300}, {300, 129}, {37, 129}, false, false},
    {"x.wT", {37, 300}, {129, 300}, {37, 129}, false, true},
    {"xT.wT", {300, 37}, {129, 300}, {37, 129}, true, true},
    {"3-D A folds", {3, 37, 100}, {100, 129}, {3, 37, 129}, false, false},
    {"batched xT.dy", {3, 100, 37}, {3, 100, 129}, {3, 37, 129}, true, false},
    {"batched x.wT", {2, 37, 100}, {2, 129, 100}, {2, 37, 129}, false, true},
};

// The one GEMM against the body run on the CPU, the gradient pre-filled with
// random values (so that a GEMM that overwrote it would fail): within the
// body's own bf16 rounding of the product (bf16 plans: 1e-2), and, against
// the body with an f32 product, within the GEMM's arithmetic (bf16 operands:
// 1e-4, which a product rounded to bf16 would not meet; f32 operands run on
// TF32 tensor cores: 5e-3).
TEST_F(KernelsForwardTest, MatmulAccumulate) {
  struct Types {
    plan::DType operands, product;
    bool withCast;
    double tolBody, tolExact;
  };
  const Types types[] = {{BF16, BF16, true, 1e-2, 1e-4},
                         {BF16, F32, false, 1e-4, 1e-4},
                         {F32, F32, false, 5e-3, 5e-3}};
  for (const AccumulateCase &c : kAccumulateCases)
    for (const Types &t : types) {
      plan::Kernel fused =
          fusedMatmulAccumulate(t.withCast, c.transA, c.transB);
      int64_t k = c.transA ? c.a[c.a.size() - 2] : c.a.back();
      Tensor a = random(rng, t.operands, c.a), b = random(rng, t.operands, c.b);
      // Gradient entries of the product's size (std sqrt(K)).
      Tensor grad = random(rng, F32, c.grad, false, std::sqrt(float(k)));
      std::vector<float> body =
          runAccumulateBodyOnCpu(fused, a, b, grad, t.product);
      std::vector<float> exact = runAccumulateBodyOnCpu(fused, a, b, grad, F32);

      DeviceTensor da(t.operands, a.shape), db(t.operands, b.shape),
          dg(F32, grad.shape);
      da.upload(a);
      db.upload(b);
      dg.upload(grad);
      std::string err = errorText(cuda::launchMatmulAccumulate(
          fused, {da.view(), db.view(), dg.view()}, {}, context(0)));
      ASSERT_EQ(err, "") << c.what;
      ASSERT_CUDA(cudaStreamSynchronize(stream));
      std::vector<float> got = dg.download().values;
      double eBody = relativeError(got, body),
             eExact = relativeError(got, exact),
             eOverwrite = relativeError(grad.values, body);
      std::printf("  matmul_accumulate %-14s %s operands, %s product%s: rel. "
                  "error %.2e vs the body, %.2e vs the f32 product\n",
                  c.what, t.operands == F32 ? "f32" : "bf16",
                  t.product == F32 ? "f32" : "bf16",
                  t.withCast ? " + cast" : "", eBody, eExact);
      EXPECT_LE(eBody, t.tolBody) << c.what;
      EXPECT_LE(eExact, t.tolExact) << c.what;
      // The check can tell an accumulation from the pre-filled gradient.
      EXPECT_GT(eOverwrite, 0.1) << c.what;
    }
}

// The dispatch of the fused kinds reaches the launcher; a second launch adds
// the product again.
TEST_F(KernelsForwardTest, MatmulAccumulateTwiceThroughTheDispatch) {
  plan::Kernel fused = fusedMatmulAccumulate(true, true, false);
  Tensor a = random(rng, BF16, {200, 64}), b = random(rng, BF16, {200, 96});
  Tensor grad = random(rng, F32, {64, 96});
  std::vector<float> once = runAccumulateBodyOnCpu(fused, a, b, grad, F32);
  Tensor after = grad;
  after.values = once;
  std::vector<float> twice = runAccumulateBodyOnCpu(fused, a, b, after, F32);
  DeviceTensor da(BF16, a.shape), db(BF16, b.shape), dg(F32, grad.shape);
  da.upload(a);
  db.upload(b);
  dg.upload(grad);
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(errorText(cuda::launchFusedKind("matmul_accumulate", fused,
                                              {da.view(), db.view(), dg.view()},
                                              {}, context(0))),
              "");
  ASSERT_CUDA(cudaStreamSynchronize(stream));
  EXPECT_LE(relativeError(dg.download().values, twice), 1e-4);
}

// What does not match the one-GEMM form is an error naming why, and enqueues
// nothing: the gradient keeps its bits.
TEST_F(KernelsForwardTest, MatmulAccumulateRejectsOtherPatterns) {
  Tensor grad = random(rng, F32, {37, 20});
  DeviceTensor x(BF16, {64, 37}), dy(BF16, {64, 20}), x32(F32, {64, 37}),
      g(F32, {37, 20}), g16(BF16, {37, 20});
  x.upload(random(rng, BF16, {64, 37}));
  dy.upload(random(rng, BF16, {64, 20}));
  x32.upload(random(rng, F32, {64, 37}));
  g.upload(grad);
  auto expectRejected = [&](const plan::Kernel &fused,
                            std::vector<exec::BufferView> in,
                            llvm::StringRef message) {
    std::string err =
        errorText(cuda::launchMatmulAccumulate(fused, in, {}, context(0)));
    EXPECT_NE(err.find(message.str()), std::string::npos) << err;
    ASSERT_CUDA(cudaStreamSynchronize(stream));
    Tensor after = g.download();
    EXPECT_EQ(std::memcmp(after.values.data(), grad.values.data(),
                          grad.values.size() * sizeof(float)),
              0)
        << "the gradient changed after: " << err;
  };
  plan::Kernel fused = fusedMatmulAccumulate(true, true, false);
  // Mixed operand types run as the body (which converts one operand).
  expectRejected(fused, {x32.view(), dy.view(), g.view()},
                 "both bf16 or both f32");
  // A bf16 gradient.
  expectRejected(fused, {x.view(), dy.view(), g16.view()},
                 "the gradient must be f32");
  // A gradient of another shape.
  DeviceTensor gT(F32, {20, 37});
  expectRejected(fused, {x.view(), dy.view(), gT.view()},
                 "the gradient has shape");
  // Broadcast batch dimensions.
  DeviceTensor a3(BF16, {3, 64, 37}), b3(BF16, {1, 64, 20}),
      g3(F32, {3, 37, 20});
  expectRejected(fused, {a3.view(), b3.view(), g3.view()},
                 "only equal batch dimensions");
  // The gradient is an operand.
  DeviceTensor sq(F32, {37, 37});
  expectRejected(fusedMatmulAccumulate(false, false, false),
                 {sq.view(), sq.view(), sq.view()},
                 "reads the buffer it accumulates into");
  // Another body.
  plan::Kernel other = fused;
  other.mutable_body(1)->set_op("neg");
  expectRejected(other, {x.view(), dy.view(), g.view()},
                 "the body is not matmul, [cast,] accumulate");
  // The accumulate adds something else than the product.
  plan::Kernel wrong = fused;
  wrong.mutable_body(2)->set_inputs(1, 10);
  expectRejected(wrong, {x.view(), dy.view(), g.view()},
                 "the accumulate must add the product");
}

//===----------------------------------------------------------------------===//
// CUDA graphs
//===----------------------------------------------------------------------===//

/// Kernels captured into a CUDA graph and replayed give the results of the
/// direct launches: no launch synchronizes, allocates or reads device memory.
TEST_F(KernelsForwardTest, CapturesIntoGraph) {
  const int64_t rows = 37, dim = 64, vocab = 1000;
  Tensor x = random(rng, BF16, {rows, dim}),
         w = random(rng, BF16, {dim, vocab}), gamma = random(rng, F32, {dim}),
         beta = random(rng, F32, {dim});
  Tensor targets = indices(rng, {rows}, vocab);
  DeviceTensor dx(BF16, x.shape), dw(BF16, w.shape), dg(F32, {dim}),
      db(F32, {dim}), dt(I32, {rows}), normed(BF16, {rows, dim}),
      logits(F32, {rows, vocab}), loss(F32, {}), scaled(F32, {rows, vocab});
  dx.upload(x);
  dw.upload(w);
  dg.upload(gamma);
  db.upload(beta);
  dt.upload(targets);
  plan::Kernel ln =
      makeKernel("layer_norm", 3, 1, {{"epsilon", floatAttr(1e-5)}});
  plan::Kernel mm = makeKernel("matmul", 2, 1);
  plan::Kernel ce = makeKernel("cross_entropy", 2, 1);
  plan::Attribute half;
  half.mutable_floats()->add_values(0.5);
  plan::Kernel constant = makeKernel("constant", 0, 1, {{"value", half}});
  plan::Kernel mul = makeKernel("mul", 2, 1);
  DeviceTensor dhalf(F32, {});
  // A reduction split into chunks (partial results in the workspace) and a
  // transpose of whole rows.
  Tensor big = random(rng, BF16, {4096, 96});
  DeviceTensor dbig(BF16, big.shape), columnSums(F32, {96}),
      swapped(BF16, {8, 512, 96});
  dbig.upload(big);
  plan::Kernel sum = reduceKernel("sum", {0});
  plan::Kernel transpose =
      makeKernel("transpose", 1, 1, {{"permutation", intsAttr({1, 0, 2})}});
  exec::BufferView bigAs3d = dbig.view();
  const std::vector<int64_t> shape3d = {512, 8, 96};
  bigAs3d.shape = shape3d;
  cuda::LaunchContext ctx = context(1 << 20);
  auto step = [&] {
    std::string err;
    err += errorText(cuda::launchCudaKernel(
        ln, {dx.view(), dg.view(), db.view()}, {normed.view()}, ctx));
    err += errorText(cuda::launchCudaKernel(mm, {normed.view(), dw.view()},
                                            {logits.view()}, ctx));
    err += errorText(cuda::launchCudaKernel(ce, {logits.view(), dt.view()},
                                            {loss.view()}, ctx));
    err += errorText(cuda::launchCudaKernel(constant, {}, {dhalf.view()}, ctx));
    err += errorText(cuda::launchCudaKernel(mul, {logits.view(), dhalf.view()},
                                            {scaled.view()}, ctx));
    err += errorText(
        cuda::launchCudaKernel(sum, {dbig.view()}, {columnSums.view()}, ctx));
    err += errorText(
        cuda::launchCudaKernel(transpose, {bigAs3d}, {swapped.view()}, ctx));
    return err;
  };
  // Direct launches (they also make the cuBLASLt plan), then the graph.
  ASSERT_EQ(step(), "");
  ASSERT_CUDA(cudaStreamSynchronize(stream));
  Tensor directLoss = loss.download(), directScaled = scaled.download();
  Tensor directSums = columnSums.download(), directSwapped = swapped.download();
  ASSERT_CUDA(cudaMemset(loss.data(), 0xff, 4));
  ASSERT_CUDA(cudaMemset(scaled.data(), 0xff, rows * vocab * 4));
  ASSERT_CUDA(cudaMemset(columnSums.data(), 0xff, 96 * 4));
  ASSERT_CUDA(cudaMemset(swapped.data(), 0xff, big.count() * 2));
  cudaGraph_t graph = nullptr;
  ASSERT_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  std::string err = step();
  ASSERT_CUDA(cudaStreamEndCapture(stream, &graph));
  ASSERT_EQ(err, "");
  cudaGraphExec_t exec = nullptr;
  ASSERT_CUDA(cudaGraphInstantiate(&exec, graph, 0));
  for (int replay = 0; replay < 2; ++replay)
    ASSERT_CUDA(cudaGraphLaunch(exec, stream));
  ASSERT_CUDA(cudaStreamSynchronize(stream));
  EXPECT_EQ(loss.download().values, directLoss.values);
  EXPECT_EQ(scaled.download().values, directScaled.values);
  EXPECT_EQ(columnSums.download().values, directSums.values);
  EXPECT_EQ(swapped.download().values, directSwapped.values);
  EXPECT_FALSE(std::isnan(directSums.values[0]));
  EXPECT_FALSE(std::isnan(directLoss.values[0]));
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}

} // namespace
