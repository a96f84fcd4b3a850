//===- KernelsTrainingTest.cpp - Training plan kernels vs the CPU dispatch ===//
//
// Every gradient, MoE/topk and optimizer kernel of the CUDA table against
// exec::runCpuKernel on the same plan::Kernel: fresh random inputs,
// NaN-poisoned outputs and workspace, sizes that are multiples of no tile,
// f32 and bf16 activations (gradient accumulators and optimizer state stay
// f32, as the plans keep them). The CPU runs on f32 copies of the inputs
// (bf16 inputs are generated representable in bf16). In-place kernels are
// compared on the inputs they update. Also: data errors reported on the
// device, buffers off a 16-byte boundary (the vectorized kernels' other
// paths), run-to-run determinism of the row reductions, the fused "adamw"
// and "cross_entropy" groups against their bodies on the CPU (the latter
// also with dlogits in the logits' buffer), and a CUDA graph capture and
// replay.
//
// Tolerances (relative error ‖got − want‖ / ‖want‖): 1e-5 for f32 results
// (1e-6 for the optimizer steps, which follow the CPU's formula order); 1e-2
// where a bf16 value is involved; 1e-2 for attention_grad of head dim 64/128
// from f32 buffers, which the flash kernels compute from bf16 copies (the
// test's inputs are representable in bf16, so the copies are exact and only
// the kernels' bf16 rounding of P and dS remains).
//
//===----------------------------------------------------------------------===//

#include "strata/Cuda/Kernels.h"
#include "strata/Exec/CpuKernels.h"

// Internal to runtime/cuda: the fused training groups.
#include "FusedTraining.h"

#include "CudaTestUtil.h"
#include "KernelTestUtil.h"
#include "gtest/gtest.h"

#include "llvm/Support/Error.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

using namespace strata;
using namespace strata::cudatest;

namespace {

//===----------------------------------------------------------------------===//
// Tensors and kernels
//===----------------------------------------------------------------------===//

constexpr double kF32Tolerance = 1e-5;
constexpr double kOptimizerTolerance = 1e-6;
constexpr double kBf16Tolerance = 1e-2;

/// Small integers in [-3, 3]: values with many ties (max/min, topk).
Tensor ties(std::mt19937 &rng, plan::DType dtype, std::vector<int64_t> shape) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  std::uniform_int_distribution<int> dist(-3, 3);
  for (int64_t i = 0; i < t.count(); ++i)
    t.values.push_back(float(dist(rng)));
  return t;
}

Tensor scalar(float v, plan::DType dtype = F32) {
  return Tensor{dtype, {1}, {dtype == BF16 ? roundToBf16(v) : v}, {}};
}
Tensor step(int32_t v) { return Tensor{I32, {1}, {}, {v}}; }

//===----------------------------------------------------------------------===//
// Device side
//===----------------------------------------------------------------------===//

/// A stream and a zeroed device error record; a fresh seed per test.
class KernelsTrainingTest : public ::testing::Test {
protected:
  void SetUp() override {
    SKIP_WITHOUT_GPU();
    unsigned seed = std::random_device{}();
    rng.seed(seed);
    std::printf("  seed %u\n", seed);
    ASSERT_CUDA(cudaStreamCreate(&stream));
    ASSERT_CUDA(cudaMalloc(&errors, sizeof(cuda::DeviceErrorRecord)));
    ASSERT_CUDA(cudaMemset(errors, 0, sizeof(cuda::DeviceErrorRecord)));
  }
  void TearDown() override {
    if (errors)
      cudaFree(errors);
    if (stream)
      cudaStreamDestroy(stream);
  }

  /// The device error record, reset to zero.
  cuda::DeviceErrorRecord takeErrorRecord() {
    cuda::DeviceErrorRecord record{};
    EXPECT_EQ(
        cudaMemcpy(&record, errors, sizeof(record), cudaMemcpyDeviceToHost),
        cudaSuccess);
    cudaMemset(errors, 0, sizeof(record));
    return record;
  }

  /// Runs `kernel` on the GPU: uploads the inputs, poisons outputs and
  /// workspace, launches and downloads every buffer.
  Outcome runGpu(const plan::Kernel &kernel, const std::vector<Tensor> &inputs,
                 const std::vector<Spec> &specs) {
    std::vector<std::unique_ptr<DeviceTensor>> ins, outs;
    std::vector<exec::BufferView> inViews, outViews;
    for (const Tensor &t : inputs) {
      ins.push_back(
          std::make_unique<DeviceTensor>(t.dtype, t.shape, inputOffset));
      ins.back()->upload(t);
      inViews.push_back(ins.back()->view());
    }
    for (const Spec &s : specs) {
      outs.push_back(
          std::make_unique<DeviceTensor>(s.dtype, s.shape, outputOffset));
      outViews.push_back(outs.back()->view());
    }
    Outcome result;
    llvm::Expected<size_t> bytes =
        cuda::cudaKernelWorkspace(kernel, inViews, outViews);
    if (!bytes) {
      ADD_FAILURE() << errorText(bytes.takeError());
      return result;
    }
    DeviceTensor workspace(plan::F32, {int64_t(*bytes + 3) / 4});
    cuda::LaunchContext context;
    context.stream = stream;
    context.workspace = workspace.view().data;
    context.workspaceBytes = *bytes;
    context.errors = errors;
    context.kernelIndex = 7;
    std::string err =
        errorText(cuda::launchCudaKernel(kernel, inViews, outViews, context));
    EXPECT_EQ(err, "");
    EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    for (auto &t : outs)
      result.outputs.push_back(t->download());
    for (auto &t : ins)
      result.inputs.push_back(t->download());
    return result;
  }

  /// Runs `kernel` on both backends and compares every output, and the
  /// inputs `updated` (in-place kernels), within `tolerance`.
  Outcome expectMatch(const plan::Kernel &kernel,
                      const std::vector<Tensor> &inputs,
                      const std::vector<Spec> &specs, double tolerance,
                      const std::vector<unsigned> &updated = {}) {
    std::string what = kernel.op() + ":";
    for (const Tensor &t : inputs)
      what += " " + dtypeName(t.dtype);
    what += " ->";
    for (const Spec &s : specs)
      what += " " + dtypeName(s.dtype);
    SCOPED_TRACE(what);
    Outcome want = runCpu(kernel, inputs, specs);
    Outcome got = runGpu(kernel, inputs, specs);
    if (got.outputs.size() != specs.size())
      return got;
    for (size_t i = 0; i < specs.size(); ++i) {
      double err = errorOf(got.outputs[i], want.outputs[i]);
      std::printf("  %-40s output %zu rel. error %.2e\n", what.c_str(), i, err);
      EXPECT_LE(err, tolerance) << "output " << i;
    }
    for (unsigned i : updated) {
      double err = errorOf(got.inputs[i], want.inputs[i]);
      std::printf("  %-40s input %u rel. error %.2e\n", what.c_str(), i, err);
      EXPECT_LE(err, tolerance) << "input " << i;
    }
    cuda::DeviceErrorRecord record = takeErrorRecord();
    EXPECT_EQ(record.code, cuda::kNoDeviceError);
    return got;
  }

  /// Runs `kernel` on the GPU and expects an index error at `position`.
  void expectIndexError(const plan::Kernel &kernel,
                        const std::vector<Tensor> &inputs,
                        const std::vector<Spec> &specs, int64_t value,
                        int64_t bound) {
    runGpu(kernel, inputs, specs);
    cuda::DeviceErrorRecord record = takeErrorRecord();
    EXPECT_EQ(record.code, cuda::kIndexOutOfRange);
    EXPECT_EQ(record.kernel, 7);
    EXPECT_EQ(record.value, value);
    EXPECT_EQ(record.bound, bound);
  }

  /// The tolerance of a result computed from or stored as `dtype`.
  static double tolerance(plan::DType dtype) {
    return dtype == BF16 ? kBf16Tolerance : kF32Tolerance;
  }

  std::mt19937 rng;
  cudaStream_t stream = nullptr;
  cuda::DeviceErrorRecord *errors = nullptr;
  /// Bytes past a 256-byte boundary at which runGpu places the inputs and
  /// the outputs (4: not aligned for 16-byte vectors).
  size_t inputOffset = 0, outputOffset = 0;
};

//===----------------------------------------------------------------------===//
// Elementwise gradients
//===----------------------------------------------------------------------===//

TEST_F(KernelsTrainingTest, BinaryGrad) {
  struct Shapes {
    std::vector<int64_t> a, b, out;
  };
  // Same shapes, a bias over rows (b reduced over 1000 rows: split sums), a
  // broadcast on both sides, a scalar.
  std::vector<Shapes> shapes = {{{37, 129}, {37, 129}, {37, 129}},
                                {{1000, 67}, {67}, {1000, 67}},
                                {{5, 1, 33}, {7, 1}, {5, 7, 33}},
                                {{129, 3}, {}, {129, 3}},
                                {{2, 3, 5, 7}, {2, 3, 5, 7}, {2, 3, 5, 7}},
                                {{8, 1, 5, 1}, {3, 1, 7}, {8, 3, 5, 7}}};
  for (const char *kind :
       {"add", "sub", "mul", "div", "maximum", "minimum", "pow"}) {
    for (const Shapes &s : shapes) {
      bool positive = std::string(kind) == "pow" || std::string(kind) == "div";
      Tensor a = random(rng, F32, s.a, positive),
             b = random(rng, F32, s.b, positive),
             dout = random(rng, F32, s.out);
      expectMatch(makeKernel("binary_grad", 3, 2, {{"kind", stringAttr(kind)}}),
                  {a, b, dout}, {{F32, s.a}, {F32, s.b}}, kF32Tolerance);
    }
  }
  // bf16 activations, f32 gradient of the broadcast operand.
  Tensor a = random(rng, BF16, {1000, 67}), b = random(rng, F32, {67}),
         dout = random(rng, BF16, {1000, 67});
  expectMatch(makeKernel("binary_grad", 3, 2, {{"kind", stringAttr("mul")}}),
              {a, b, dout}, {{BF16, {1000, 67}}, {F32, {67}}}, kBf16Tolerance);
}

TEST_F(KernelsTrainingTest, UnaryGrad) {
  for (const char *kind : {"neg", "exp", "log", "sqrt", "rsqrt", "tanh",
                           "sigmoid", "relu", "abs", "silu"}) {
    for (plan::DType dtype : {F32, BF16}) {
      bool positive = std::string(kind) == "log" ||
                      std::string(kind) == "sqrt" ||
                      std::string(kind) == "rsqrt";
      Tensor x = random(rng, dtype, {37, 29}, positive),
             y = random(rng, dtype, {37, 29}),
             dy = random(rng, dtype, {37, 29});
      expectMatch(makeKernel("unary_grad", 3, 1, {{"kind", stringAttr(kind)}}),
                  {x, y, dy}, {{dtype, {37, 29}}}, tolerance(dtype));
    }
  }
}

TEST_F(KernelsTrainingTest, GeluGrad) {
  for (const char *approx : {"none", "tanh"})
    for (plan::DType dtype : {F32, BF16}) {
      Tensor x = random(rng, dtype, {37, 129}, false, 2.f),
             dy = random(rng, dtype, {37, 129});
      expectMatch(
          makeKernel("gelu_grad", 2, 1, {{"approximate", stringAttr(approx)}}),
          {x, dy}, {{dtype, {37, 129}}}, tolerance(dtype));
    }
}

//===----------------------------------------------------------------------===//
// Reductions, softmax, normalization
//===----------------------------------------------------------------------===//

TEST_F(KernelsTrainingTest, ReduceGrad) {
  std::vector<int64_t> shape = {7, 33, 5};
  struct Case {
    std::vector<int64_t> axes;
    bool keepdim;
    std::vector<int64_t> reduced;
  };
  std::vector<Case> cases = {{{1}, false, {7, 5}},
                             {{0, 2}, true, {1, 33, 1}},
                             {{0, 1, 2}, false, {}},
                             {{2}, false, {7, 33}}};
  for (const char *kind : {"sum", "mean", "max", "min"}) {
    for (const Case &c : cases) {
      for (plan::DType dtype : {F32, BF16}) {
        Attrs attrs = {{"kind", stringAttr(kind)}, {"axes", intsAttr(c.axes)}};
        if (c.keepdim)
          attrs["keepdim"] = unitAttr();
        // max/min pick the first element equal to the result: ties matter.
        Tensor x = ties(rng, dtype, shape);
        Tensor y =
            runCpu(makeKernel("reduce", 1, 1, attrs), {x}, {{dtype, c.reduced}})
                .outputs[0];
        y.dtype = dtype;
        for (float &v : y.values)
          v = dtype == BF16 ? roundToBf16(v) : v;
        Tensor dy = random(rng, dtype, c.reduced);
        expectMatch(makeKernel("reduce_grad", 3, 1, attrs), {x, y, dy},
                    {{dtype, shape}}, tolerance(dtype));
      }
    }
  }
}

TEST_F(KernelsTrainingTest, SoftmaxGrad) {
  for (const char *op : {"softmax_grad", "log_softmax_grad"})
    for (int64_t axis : {-1, 1, 0})
      for (plan::DType dtype : {F32, BF16}) {
        Tensor y = random(rng, dtype, {4, 37, 9}),
               dy = random(rng, dtype, {4, 37, 9});
        expectMatch(makeKernel(op, 2, 1, {{"axis", intAttr(axis)}}), {y, dy},
                    {{dtype, {4, 37, 9}}}, tolerance(dtype));
      }
}

/// A layer_norm_grad or rms_norm_grad kernel and the specs of its outputs
/// for x and dx of `shape` (dx of `dxType`; dweight, dbias f32).
std::pair<plan::Kernel, std::vector<Spec>>
normGradKernel(const std::string &op, const std::vector<int64_t> &shape,
               plan::DType dxType) {
  bool layer = op == "layer_norm_grad";
  std::vector<int64_t> w = {shape.back()};
  std::vector<Spec> outs = {{dxType, shape}, {F32, w}};
  if (layer)
    outs.push_back({F32, w});
  return {makeKernel(op, 3, layer ? 3 : 2, {{"epsilon", floatAttr(1e-5)}}),
          outs};
}

TEST_F(KernelsTrainingTest, NormGrad) {
  // The one-read path at each compiled row width (4, 64, 256, 300, 512, 768,
  // 1000, 1024; 4099 rows: more than the GPU's warps, so that a lane sums
  // dweight over several rows), its one-column-per-lane variant for short
  // rows that are not whole vectors (129, 250), and the general path (rows
  // longer than 1024, or longer than 256 and not whole vectors).
  std::vector<std::vector<int64_t>> shapes = {
      {37, 129}, {3, 333, 64}, {1, 1000}, {2049, 768}, {5, 4},
      {77, 256}, {21, 300},    {33, 512}, {4099, 768}, {300, 1024},
      {40, 250}, {50, 1028},   {13, 258}};
  for (const char *op : {"layer_norm_grad", "rms_norm_grad"}) {
    for (const std::vector<int64_t> &shape : shapes) {
      for (plan::DType dtype : {F32, BF16}) {
        auto [kernel, outs] = normGradKernel(op, shape, dtype);
        Tensor x = random(rng, dtype, shape), dy = random(rng, dtype, shape);
        // Not centred, as a residual stream: the mean matters.
        for (float &v : x.values)
          v = dtype == BF16 ? roundToBf16(v + 3.f) : v + 3.f;
        Tensor weight = random(rng, F32, {shape.back()});
        expectMatch(kernel, {x, weight, dy}, outs, tolerance(dtype));
      }
    }
    // Mixed precision as the bf16 plans run it: f32 residual stream x, bf16
    // dy, f32 dx (the values are the CPU's exactly: f32 tolerance); and the
    // other way around.
    for (std::vector<int64_t> shape :
         {std::vector<int64_t>{4099, 768}, {37, 129}, {50, 1028}}) {
      Tensor x = random(rng, F32, shape), dy = random(rng, BF16, shape),
             weight = random(rng, F32, {shape.back()});
      auto [kernel, outs] = normGradKernel(op, shape, F32);
      expectMatch(kernel, {x, weight, dy}, outs, kF32Tolerance);
      Tensor xb = random(rng, BF16, shape), dyf = random(rng, F32, shape);
      auto [kernelB, outsB] = normGradKernel(op, shape, BF16);
      expectMatch(kernelB, {xb, weight, dyf}, outsB, kBf16Tolerance);
    }
  }
}

//===----------------------------------------------------------------------===//
// Attention, rope, layout
//===----------------------------------------------------------------------===//

TEST_F(KernelsTrainingTest, AttentionGrad) {
  struct Case {
    int64_t b, hq, hkv, t, s, d;
    bool causal;
  };
  // Flash (D 64/128): GQA, T != S both ways; fallback: D 40 and 24.
  std::vector<Case> cases = {
      {2, 4, 2, 77, 77, 64, true}, {1, 2, 1, 50, 130, 128, false},
      {1, 2, 2, 70, 45, 64, true}, {2, 2, 1, 37, 50, 40, true},
      {1, 3, 3, 50, 30, 24, true}, {1, 2, 1, 33, 70, 40, false}};
  for (const Case &c : cases) {
    bool flash = c.d == 64 || c.d == 128;
    for (plan::DType dtype : {F32, BF16}) {
      std::vector<int64_t> qs = {c.b, c.hq, c.t, c.d},
                           ks = {c.b, c.hkv, c.s, c.d};
      // Representable in bf16 so that the flash path's copies are exact.
      Tensor q = random(rng, BF16, qs), k = random(rng, BF16, ks),
             v = random(rng, BF16, ks), dout = random(rng, BF16, qs);
      for (Tensor *t : {&q, &k, &v, &dout})
        t->dtype = dtype;
      Attrs attrs = {{"scale", floatAttr(1.0 / std::sqrt(double(c.d)))}};
      if (c.causal)
        attrs["causal"] = unitAttr();
      double tol = dtype == BF16 || flash ? kBf16Tolerance : kF32Tolerance;
      expectMatch(makeKernel("attention_grad", 4, 3, attrs), {q, k, v, dout},
                  {{dtype, qs}, {dtype, ks}, {dtype, ks}}, tol);
    }
  }
}

TEST_F(KernelsTrainingTest, RopeGrad) {
  for (plan::DType dtype : {F32, BF16}) {
    Tensor dy = random(rng, dtype, {2, 3, 137, 16});
    expectMatch(makeKernel("rope_grad", 1, 1, {{"theta", floatAttr(10000.0)}}),
                {dy}, {{dtype, {2, 3, 137, 16}}}, tolerance(dtype));
  }
}

TEST_F(KernelsTrainingTest, SliceGrad) {
  for (plan::DType dtype : {F32, BF16}) {
    Tensor dy = random(rng, dtype, {7, 16, 5});
    expectMatch(makeKernel("slice_grad", 1, 1,
                           {{"axis", intAttr(1)},
                            {"start", intAttr(4)},
                            {"end", intAttr(20)}}),
                {dy}, {{dtype, {7, 33, 5}}}, tolerance(dtype));
  }
}

TEST_F(KernelsTrainingTest, GatherGrad) {
  for (plan::DType dtype : {F32, BF16}) {
    Tensor dout = random(rng, dtype, {37, 5, 16});
    // 185 rows into 50: most indices repeat.
    Tensor idx = indices(rng, {37, 5}, 50);
    expectMatch(makeKernel("gather_grad", 2, 1), {dout, idx},
                {{dtype, {50, 16}}}, tolerance(dtype));
  }
  Tensor dout = random(rng, F32, {4, 8});
  Tensor idx{I32, {4}, {}, {0, 3, 9, 1}};
  expectIndexError(makeKernel("gather_grad", 2, 1), {dout, idx},
                   {{F32, {9, 8}}}, 9, 9);
}

TEST_F(KernelsTrainingTest, CrossEntropyGrad) {
  // Vocabularies shorter than a vector (5, 7), rows that start off a 16-byte
  // boundary (129, 1001, 50257), GPT-2's padded 50304, and f32 rows too
  // long to keep in shared memory (60000).
  for (std::vector<int64_t> shape : {std::vector<int64_t>{37, 1000},
                                     {2, 3, 129},
                                     {3, 50257},
                                     {4, 7},
                                     {3, 5},
                                     {6, 1001},
                                     {5, 50304},
                                     {2, 60000}}) {
    for (plan::DType dtype : {F32, BF16}) {
      Tensor logits = random(rng, dtype, shape, false, 3.f);
      std::vector<int64_t> rows(shape.begin(), shape.end() - 1);
      Tensor targets = indices(rng, rows, shape.back());
      expectMatch(makeKernel("cross_entropy_grad", 3, 1),
                  {logits, targets, scalar(1.7f)}, {{dtype, shape}},
                  tolerance(dtype));
    }
  }
  // dlogits of the other dtype (no 16-byte stores).
  for (std::vector<int64_t> shape :
       {std::vector<int64_t>{5, 50304}, {6, 1001}, {4, 7}}) {
    std::vector<int64_t> rows(shape.begin(), shape.end() - 1);
    Tensor targets = indices(rng, rows, shape.back());
    expectMatch(makeKernel("cross_entropy_grad", 3, 1),
                {random(rng, BF16, shape, false, 3.f), targets, scalar(1.f)},
                {{F32, shape}}, kF32Tolerance);
    expectMatch(makeKernel("cross_entropy_grad", 3, 1),
                {random(rng, F32, shape, false, 3.f), targets, scalar(1.f)},
                {{BF16, shape}}, kBf16Tolerance);
  }
  Tensor logits = random(rng, F32, {3, 10});
  Tensor targets{I32, {3}, {}, {1, -2, 4}};
  expectIndexError(makeKernel("cross_entropy_grad", 3, 1),
                   {logits, targets, scalar(1.f)}, {{F32, {3, 10}}}, -2, 10);
}

//===----------------------------------------------------------------------===//
// MoE and top-k
//===----------------------------------------------------------------------===//

TEST_F(KernelsTrainingTest, MoeKernels) {
  // 37 tokens, top-2 of 5 experts with 12 slots each: some assignments are
  // dropped.
  const int64_t tokens = 37, k = 2, experts = 5, capacity = 12, dim = 24;
  for (plan::DType dtype : {F32, BF16}) {
    Tensor idx = indices(rng, {tokens, k}, experts);
    Tensor x = random(rng, dtype, {tokens, dim});
    Tensor y = random(rng, dtype, {experts, capacity, dim});
    Tensor w = random(rng, dtype, {tokens, k});
    Tensor dTokens = random(rng, dtype, {tokens, dim});
    Tensor dSlots = random(rng, dtype, {experts, capacity, dim});
    double tol = tolerance(dtype);
    expectMatch(makeKernel("moe_dispatch", 2, 1,
                           {{"num_experts", intAttr(experts)},
                            {"capacity", intAttr(capacity)}}),
                {x, idx}, {{dtype, {experts, capacity, dim}}}, tol);
    expectMatch(makeKernel("moe_combine", 3, 1), {y, idx, w},
                {{dtype, {tokens, dim}}}, tol);
    expectMatch(makeKernel("moe_dispatch_grad", 2, 1), {dSlots, idx},
                {{dtype, {tokens, dim}}}, tol);
    expectMatch(makeKernel("moe_combine_grad", 4, 2), {y, idx, w, dTokens},
                {{dtype, {experts, capacity, dim}}, {dtype, {tokens, k}}}, tol);
  }
  Tensor idx{I32, {2, 2}, {}, {0, 1, 5, 2}};
  expectIndexError(makeKernel("moe_combine", 3, 1),
                   {random(rng, F32, {3, 4, 8}), idx, random(rng, F32, {2, 2})},
                   {{F32, {2, 8}}}, 5, 3);
}

TEST_F(KernelsTrainingTest, Topk) {
  struct Case {
    std::vector<int64_t> shape;
    int64_t k;
  };
  for (const Case &c : {Case{{37, 129}, 5}, Case{{16, 8}, 8},
                        Case{{3, 7, 2000}, 3}, Case{{5, 64}, 1}}) {
    for (plan::DType dtype : {F32, BF16}) {
      std::vector<int64_t> out = c.shape;
      out.back() = c.k;
      // Ties decide by the lower index, as on the CPU.
      Tensor x = ties(rng, dtype, c.shape);
      expectMatch(makeKernel("topk", 1, 2, {{"k", intAttr(c.k)}}), {x},
                  {{dtype, out}, {I32, out}}, 0.0);
      x = random(rng, dtype, c.shape);
      expectMatch(makeKernel("topk", 1, 2, {{"k", intAttr(c.k)}}), {x},
                  {{dtype, out}, {I32, out}}, 0.0);
    }
  }
}

TEST_F(KernelsTrainingTest, TopkGrad) {
  const int64_t rows = 37, cols = 129, k = 5;
  for (plan::DType dtype : {F32, BF16}) {
    Tensor idx{I32, {rows, k}, {}, {}};
    std::vector<int32_t> order(cols);
    for (int64_t r = 0; r < rows; ++r) {
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      idx.ints.insert(idx.ints.end(), order.begin(), order.begin() + k);
    }
    Tensor dvalues = random(rng, dtype, {rows, k});
    expectMatch(makeKernel("topk_grad", 2, 1), {dvalues, idx},
                {{dtype, {rows, cols}}}, tolerance(dtype));
  }
  Tensor idx{I32, {2, 2}, {}, {0, 1, 4, 2}};
  expectIndexError(makeKernel("topk_grad", 2, 1),
                   {random(rng, F32, {2, 2}), idx}, {{F32, {2, 4}}}, 4, 4);
}

//===----------------------------------------------------------------------===//
// State and optimizer kernels
//===----------------------------------------------------------------------===//

TEST_F(KernelsTrainingTest, AccumulateAndZero) {
  // Whole vectors and a tail of 1-3 elements; a grid-stride loop of several
  // turns (1000003).
  for (std::vector<int64_t> shape :
       {std::vector<int64_t>{1000, 3}, {1003}, {2}, {1000003}}) {
    for (plan::DType dtype : {F32, BF16}) {
      Tensor target = random(rng, F32, shape),
             value = random(rng, dtype, shape);
      expectMatch(makeKernel("accumulate", 2, 0), {target, value}, {},
                  kF32Tolerance, {0});
      // A bf16 accumulator: each sum rounded to bf16.
      Tensor bf16Target = random(rng, BF16, shape);
      expectMatch(makeKernel("accumulate", 2, 0), {bf16Target, value}, {},
                  kBf16Tolerance, {0});
      expectMatch(makeKernel("zero", 1, 0), {random(rng, dtype, shape)}, {},
                  0.0, {0});
    }
  }
}

TEST_F(KernelsTrainingTest, GlobalNorm) {
  // Mixed sizes and dtypes, and more tensors than one launch's table.
  std::vector<Tensor> inputs = {
      random(rng, F32, {37, 129}), random(rng, F32, {1000}),
      random(rng, BF16, {5, 7}), random(rng, F32, {})};
  expectMatch(makeKernel("global_norm", int(inputs.size()), 1), inputs,
              {{F32, {1}}}, kF32Tolerance);
  std::vector<Tensor> many;
  for (int i = 0; i < 300; ++i)
    many.push_back(random(rng, F32, {1 + i * 37 % 501}));
  expectMatch(makeKernel("global_norm", int(many.size()), 1), many, {{F32, {}}},
              kF32Tolerance);
  expectMatch(makeKernel("global_norm", 0, 1), {}, {{F32, {1}}}, 0.0);
}

TEST_F(KernelsTrainingTest, LrSchedule) {
  for (const char *kind : {"constant", "cosine"})
    for (int32_t s : {1, 5, 10, 11, 57, 200, 1000}) {
      Attrs attrs = {{"kind", stringAttr(kind)},
                     {"base_lr", floatAttr(6e-4)},
                     {"warmup_steps", intAttr(10)},
                     {"total_steps", intAttr(200)},
                     {"min_lr", floatAttr(6e-5)}};
      expectMatch(makeKernel("lr_schedule", 1, 1, attrs), {step(s)},
                  {{F32, {1}}}, 1e-7);
    }
}

Attrs adamwAttrs(double weightDecay) {
  return {{"beta1", floatAttr(0.9)},
          {"beta2", floatAttr(0.95)},
          {"epsilon", floatAttr(1e-8)},
          {"weight_decay", floatAttr(weightDecay)}};
}

/// param, grad, m, v (v >= 0) of `shape`, then lr, scale and step.
std::vector<Tensor> adamwInputs(std::mt19937 &rng, std::vector<int64_t> shape,
                                plan::DType gradType, int32_t stepValue) {
  return {random(rng, F32, shape),
          random(rng, gradType, shape),
          random(rng, F32, shape, false, 0.1f),
          random(rng, F32, shape, true, 0.01f),
          scalar(1e-3f),
          scalar(0.7f),
          step(stepValue)};
}

TEST_F(KernelsTrainingTest, AdamwUpdate) {
  for (int32_t s : {1, 3, 1000}) {
    expectMatch(makeKernel("adamw_update", 7, 0, adamwAttrs(0.1)),
                adamwInputs(rng, {37, 129}, F32, s), {}, kOptimizerTolerance,
                {0, 2, 3});
  }
  // bf16 gradient: the same values on both sides, f32 state.
  expectMatch(makeKernel("adamw_update", 7, 0, adamwAttrs(0.0)),
              adamwInputs(rng, {1000}, BF16, 2), {}, kOptimizerTolerance,
              {0, 2, 3});
}

TEST_F(KernelsTrainingTest, SgdUpdate) {
  for (double momentum : {0.0, 0.9}) {
    Attrs attrs = {{"momentum", floatAttr(momentum)},
                   {"weight_decay", floatAttr(0.01)}};
    std::vector<Tensor> inputs = {random(rng, F32, {37, 129}),
                                  random(rng, F32, {37, 129})};
    if (momentum != 0.0)
      inputs.push_back(random(rng, F32, {37, 129}));
    inputs.push_back(scalar(0.05f));
    inputs.push_back(scalar(0.5f));
    std::vector<unsigned> updated = {0};
    if (momentum != 0.0)
      updated.push_back(2);
    expectMatch(makeKernel("sgd_update", int(inputs.size()), 0, attrs), inputs,
                {}, kOptimizerTolerance, updated);
  }
}

//===----------------------------------------------------------------------===//
// Vectorized kernels: alignment and determinism
//===----------------------------------------------------------------------===//

TEST_F(KernelsTrainingTest, UnalignedBuffers) {
  // Buffers 4 bytes past a 16-byte boundary, as views into a larger buffer
  // can be: the vectorized kernels take their one-element paths, or (cross
  // entropy) peel each row's unaligned head and tail. With only the inputs
  // or only the outputs shifted, dlogits rows start at another offset from a
  // 16-byte boundary than the logits rows.
  for (auto [in, out] : {std::pair<size_t, size_t>{4, 4}, {4, 0}, {0, 4}}) {
    inputOffset = in;
    outputOffset = out;
    SCOPED_TRACE("input offset " + std::to_string(in) + ", output offset " +
                 std::to_string(out));
    for (plan::DType dtype : {F32, BF16}) {
      for (std::vector<int64_t> shape :
           {std::vector<int64_t>{77, 768}, {33, 128}}) {
        for (const char *op : {"layer_norm_grad", "rms_norm_grad"}) {
          auto [kernel, outs] = normGradKernel(op, shape, dtype);
          expectMatch(kernel,
                      {random(rng, dtype, shape),
                       random(rng, F32, {shape.back()}),
                       random(rng, dtype, shape)},
                      outs, tolerance(dtype));
        }
      }
      for (std::vector<int64_t> shape :
           {std::vector<int64_t>{4, 50304}, {6, 1001}, {3, 5}}) {
        Tensor targets = indices(rng, {shape[0]}, shape.back());
        expectMatch(
            makeKernel("cross_entropy_grad", 3, 1),
            {random(rng, dtype, shape, false, 3.f), targets, scalar(1.f)},
            {{dtype, shape}}, tolerance(dtype));
      }
      expectMatch(makeKernel("accumulate", 2, 0),
                  {random(rng, F32, {1003}), random(rng, dtype, {1003})}, {},
                  kF32Tolerance, {0});
      expectMatch(makeKernel("adamw_update", 7, 0, adamwAttrs(0.1)),
                  adamwInputs(rng, {1003}, dtype, 3), {}, kOptimizerTolerance,
                  {0, 2, 3});
    }
  }
  inputOffset = outputOffset = 0;
}

TEST_F(KernelsTrainingTest, NormGradIsDeterministic) {
  // Both paths, twice on the same inputs: the same bits (dweight and dbias
  // are sums over rows in a fixed order).
  for (const char *op : {"layer_norm_grad", "rms_norm_grad"}) {
    for (std::vector<int64_t> shape :
         {std::vector<int64_t>{4099, 768}, {50, 1028}, {40, 250}}) {
      auto [kernel, outs] = normGradKernel(op, shape, F32);
      std::vector<Tensor> inputs = {random(rng, F32, shape),
                                    random(rng, F32, {shape.back()}),
                                    random(rng, BF16, shape)};
      Outcome first = runGpu(kernel, inputs, outs);
      Outcome second = runGpu(kernel, inputs, outs);
      ASSERT_EQ(first.outputs.size(), outs.size());
      ASSERT_EQ(second.outputs.size(), outs.size());
      for (size_t i = 0; i < outs.size(); ++i)
        EXPECT_EQ(first.outputs[i].values, second.outputs[i].values)
            << op << " output " << i << " of " << shape.back() << " columns";
    }
  }
}

//===----------------------------------------------------------------------===//
// Fused groups
//===----------------------------------------------------------------------===//

/// Device buffers of a fused kernel's inputs and outputs, in order.
struct GroupBuffers {
  std::vector<std::unique_ptr<DeviceTensor>> ins, outs;
  std::vector<exec::BufferView> inViews, outViews;

  void addInput(const Tensor &t) {
    ins.push_back(std::make_unique<DeviceTensor>(t.dtype, t.shape));
    ins.back()->upload(t);
    inViews.push_back(ins.back()->view());
  }
  void addOutput(const Spec &s) {
    outs.push_back(std::make_unique<DeviceTensor>(s.dtype, s.shape));
    outViews.push_back(outs.back()->view());
  }
};

TEST_F(KernelsTrainingTest, AdamwGroup) {
  // 150 tensors (more than one launch's table) sharing lr, scale and step,
  // with per-tensor weight decay. Group inputs: the shared scalars (ids
  // 0-2), then param, grad, m, v of each tensor.
  plan::Kernel fused =
      makeKernel("fused", 0, 0, {{"kind", stringAttr("adamw")}});
  GroupBuffers buffers;
  std::vector<std::vector<Tensor>> bodies;
  std::vector<Tensor> shared = {scalar(3e-4f), scalar(0.9f), step(4)};
  for (int i = 0; i < 3; ++i) {
    fused.add_inputs(i);
    buffers.addInput(shared[i]);
  }
  for (int t = 0; t < 150; ++t) {
    std::vector<int64_t> shape = {1 + (t * 997) % 3001};
    if (t == 7)
      shape = {129, 1000}; // several blocks per tensor
    std::vector<Tensor> inputs =
        adamwInputs(rng, shape, t % 3 == 0 ? BF16 : F32, 4);
    int first = 3 + 4 * t;
    plan::Kernel *body = fused.add_body();
    *body = makeKernel("adamw_update", 0, 0, adamwAttrs(t % 2 ? 0.1 : 0.0));
    for (int j = 0; j < 4; ++j) {
      body->add_inputs(first + j);
      fused.add_inputs(first + j);
      buffers.addInput(inputs[j]);
    }
    for (int j = 0; j < 3; ++j)
      body->add_inputs(j);
    inputs.resize(4);
    bodies.push_back(inputs);
  }
  cuda::LaunchContext context;
  context.stream = stream;
  context.errors = errors;
  ASSERT_EQ(
      errorText(cuda::launchAdamwGroup(fused, buffers.inViews, {}, context)),
      "");
  ASSERT_CUDA(cudaStreamSynchronize(stream));
  double worst = 0;
  for (int t = 0; t < 150; ++t) {
    std::vector<Tensor> inputs = bodies[t];
    inputs.insert(inputs.end(), shared.begin(), shared.end());
    Outcome want = runCpu(fused.body(t), inputs, {});
    for (int j : {0, 2, 3}) {
      double err =
          errorOf(buffers.ins[3 + 4 * t + j]->download(), want.inputs[j]);
      worst = std::max(worst, err);
      EXPECT_LE(err, kOptimizerTolerance) << "tensor " << t << " input " << j;
    }
  }
  std::printf("  adamw group: worst rel. error %.2e\n", worst);

  // A body that does not fit the pattern is refused before any launch.
  plan::Kernel bad = fused;
  bad.mutable_body(3)->set_op("sgd_update");
  EXPECT_NE(
      errorText(cuda::launchAdamwGroup(bad, buffers.inViews, {}, context)), "");
}

/// A fused "cross_entropy" kernel: inputs logits (0), targets (1), dloss
/// (2); outputs loss (3), dlogits (4).
plan::Kernel crossEntropyGroup() {
  plan::Kernel fused =
      makeKernel("fused", 3, 2, {{"kind", stringAttr("cross_entropy")}});
  plan::Kernel *loss = fused.add_body();
  *loss = makeKernel("cross_entropy", 2, 1);
  loss->set_outputs(0, 3);
  plan::Kernel *grad = fused.add_body();
  *grad = makeKernel("cross_entropy_grad", 3, 1);
  grad->set_outputs(0, 4);
  return fused;
}

TEST_F(KernelsTrainingTest, CrossEntropyGroup) {
  // Rows that start off a 16-byte boundary (50257) and GPT-2's padded
  // vocabulary; dlogits in its own buffer or in the logits' (the memory
  // planner may reuse it: every row is read before it is written); each
  // launch twice, to the same bits.
  plan::Kernel fused = crossEntropyGroup();
  for (std::vector<int64_t> shape :
       {std::vector<int64_t>{37, 5000}, {9, 50257}, {9, 50304}, {3, 60000}}) {
    for (plan::DType dtype : {F32, BF16}) {
      for (bool inPlace : {false, true}) {
        SCOPED_TRACE(dtypeName(dtype) + " " + std::to_string(shape.back()) +
                     (inPlace ? " in place" : ""));
        Tensor logits = random(rng, dtype, shape, false, 3.f);
        Tensor targets = indices(rng, {shape[0]}, shape.back());
        Tensor dloss = scalar(1.f);
        Tensor wantLoss =
            runCpu(fused.body(0), {logits, targets}, {{F32, {}}}).outputs[0];
        Tensor wantGrad =
            runCpu(fused.body(1), {logits, targets, dloss}, {{F32, shape}})
                .outputs[0];
        std::vector<Tensor> loss, grad;
        for (int run = 0; run < 2; ++run) {
          GroupBuffers buffers;
          for (const Tensor &t : {logits, targets, dloss})
            buffers.addInput(t);
          buffers.addOutput({F32, {}});
          if (inPlace)
            buffers.outViews.push_back(buffers.inViews[0]);
          else
            buffers.addOutput({dtype, shape});
          llvm::Expected<size_t> bytes = cuda::crossEntropyGroupWorkspace(
              fused, buffers.inViews, buffers.outViews);
          ASSERT_TRUE(bool(bytes)) << errorText(bytes.takeError());
          DeviceTensor workspace(F32, {int64_t(*bytes / 4 + 1)});
          cuda::LaunchContext context;
          context.stream = stream;
          context.errors = errors;
          context.workspace = workspace.view().data;
          context.workspaceBytes = *bytes;
          ASSERT_EQ(errorText(cuda::launchCrossEntropyGroup(
                        fused, buffers.inViews, buffers.outViews, context)),
                    "");
          ASSERT_CUDA(cudaStreamSynchronize(stream));
          loss.push_back(buffers.outs[0]->download());
          grad.push_back(inPlace ? buffers.ins[0]->download()
                                 : buffers.outs[1]->download());
        }
        double lossErr = errorOf(loss[0], wantLoss);
        double gradErr = errorOf(grad[0], wantGrad);
        std::printf("  cross_entropy group %s %lld%s: loss %.2e, dlogits "
                    "%.2e\n",
                    dtypeName(dtype).c_str(), (long long)shape.back(),
                    inPlace ? " in place" : "", lossErr, gradErr);
        EXPECT_LE(lossErr, kF32Tolerance);
        EXPECT_LE(gradErr, tolerance(dtype));
        EXPECT_EQ(loss[0].values, loss[1].values) << "not deterministic";
        EXPECT_EQ(grad[0].values, grad[1].values) << "not deterministic";
        EXPECT_EQ(takeErrorRecord().code, cuda::kNoDeviceError);
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// CUDA graphs
//===----------------------------------------------------------------------===//

/// Kernels with workspaces, memsets, several launches and device scalars,
/// captured into a graph and replayed twice: the same results as two CPU
/// runs (layer_norm_grad and cross_entropy_grad are pure functions;
/// accumulate and adamw_update apply twice). cross_entropy_grad's row cache
/// needs a shared memory limit that is not raised under capture: captured
/// before any eager launch, it reads the logits twice instead.
TEST_F(KernelsTrainingTest, CapturesIntoCudaGraph) {
  Tensor x = random(rng, F32, {129, 67}), w = random(rng, F32, {67}),
         dy = random(rng, F32, {129, 67});
  std::vector<Tensor> adamw = adamwInputs(rng, {3000}, F32, 2);
  Tensor target = random(rng, F32, {3000}), value = random(rng, F32, {3000});
  Tensor q = random(rng, BF16, {1, 2, 70, 64}),
         k = random(rng, BF16, {1, 2, 70, 64}),
         v = random(rng, BF16, {1, 2, 70, 64}),
         dout = random(rng, BF16, {1, 2, 70, 64});
  for (Tensor *t : {&q, &k, &v, &dout})
    t->dtype = F32;

  plan::Kernel norm =
      makeKernel("layer_norm_grad", 3, 3, {{"epsilon", floatAttr(1e-5)}});
  plan::Kernel update = makeKernel("adamw_update", 7, 0, adamwAttrs(0.1));
  plan::Kernel acc = makeKernel("accumulate", 2, 0);
  plan::Kernel attn =
      makeKernel("attention_grad", 4, 3,
                 {{"scale", floatAttr(0.125)}, {"causal", unitAttr()}});
  plan::Kernel norms = makeKernel("global_norm", 2, 1);
  plan::Kernel loss = makeKernel("cross_entropy_grad", 3, 1);
  Tensor logits = random(rng, BF16, {4, 50304}, false, 3.f),
         targets = indices(rng, {4}, 50304), dloss = scalar(1.f);

  GroupBuffers normBufs, stepBufs, accBufs, attnBufs, normsBufs, lossBufs;
  for (const Tensor &t : {x, w, dy})
    normBufs.addInput(t);
  for (const Spec &s :
       std::vector<Spec>{{F32, {129, 67}}, {F32, {67}}, {F32, {67}}})
    normBufs.addOutput(s);
  for (const Tensor &t : adamw)
    stepBufs.addInput(t);
  accBufs.addInput(target);
  accBufs.addInput(value);
  for (const Tensor &t : {q, k, v, dout})
    attnBufs.addInput(t);
  for (int i = 0; i < 3; ++i)
    attnBufs.addOutput({F32, {1, 2, 70, 64}});
  normsBufs.addInput(x);
  normsBufs.addInput(dy);
  normsBufs.addOutput({F32, {1}});
  for (const Tensor &t : {logits, targets, dloss})
    lossBufs.addInput(t);
  lossBufs.addOutput({BF16, {4, 50304}});

  struct Launch {
    const plan::Kernel *kernel;
    GroupBuffers *buffers;
    std::unique_ptr<DeviceTensor> workspace;
    size_t bytes = 0;
  };
  std::vector<Launch> launches;
  for (auto [kernel, buffers] :
       {std::pair{&norm, &normBufs}, std::pair{&update, &stepBufs},
        std::pair{&acc, &accBufs}, std::pair{&attn, &attnBufs},
        std::pair{&norms, &normsBufs}, std::pair{&loss, &lossBufs}}) {
    llvm::Expected<size_t> bytes =
        cuda::cudaKernelWorkspace(*kernel, buffers->inViews, buffers->outViews);
    ASSERT_TRUE(bool(bytes)) << errorText(bytes.takeError());
    launches.push_back({kernel, buffers,
                        std::make_unique<DeviceTensor>(
                            F32, std::vector<int64_t>{int64_t(*bytes / 4 + 1)}),
                        *bytes});
  }

  ASSERT_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  for (Launch &l : launches) {
    cuda::LaunchContext context;
    context.stream = stream;
    context.errors = errors;
    context.workspace = l.workspace->view().data;
    context.workspaceBytes = l.bytes;
    EXPECT_EQ(errorText(cuda::launchCudaKernel(*l.kernel, l.buffers->inViews,
                                               l.buffers->outViews, context)),
              "")
        << l.kernel->op();
  }
  cudaGraph_t graph = nullptr;
  ASSERT_CUDA(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec = nullptr;
  ASSERT_CUDA(cudaGraphInstantiate(&exec, graph, 0));
  ASSERT_CUDA(cudaGraphLaunch(exec, stream));
  ASSERT_CUDA(cudaGraphLaunch(exec, stream));
  ASSERT_CUDA(cudaStreamSynchronize(stream));
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);

  Outcome wantNorm =
      runCpu(norm, {x, w, dy}, {{F32, {129, 67}}, {F32, {67}}, {F32, {67}}});
  for (int i = 0; i < 3; ++i)
    EXPECT_LE(errorOf(normBufs.outs[i]->download(), wantNorm.outputs[i]),
              kF32Tolerance);
  Outcome wantStep = runCpu(update, runCpu(update, adamw, {}).inputs, {});
  for (int j : {0, 2, 3})
    EXPECT_LE(errorOf(stepBufs.ins[j]->download(), wantStep.inputs[j]),
              kOptimizerTolerance);
  Outcome wantAcc = runCpu(acc, runCpu(acc, {target, value}, {}).inputs, {});
  EXPECT_LE(errorOf(accBufs.ins[0]->download(), wantAcc.inputs[0]),
            kF32Tolerance);
  Outcome wantAttn = runCpu(
      attn, {q, k, v, dout},
      {{F32, {1, 2, 70, 64}}, {F32, {1, 2, 70, 64}}, {F32, {1, 2, 70, 64}}});
  for (int i = 0; i < 3; ++i)
    EXPECT_LE(errorOf(attnBufs.outs[i]->download(), wantAttn.outputs[i]),
              kBf16Tolerance);
  Outcome wantNorms = runCpu(norms, {x, dy}, {{F32, {1}}});
  EXPECT_LE(errorOf(normsBufs.outs[0]->download(), wantNorms.outputs[0]),
            kF32Tolerance);
  Outcome wantLoss =
      runCpu(loss, {logits, targets, dloss}, {{F32, {4, 50304}}});
  EXPECT_LE(errorOf(lossBufs.outs[0]->download(), wantLoss.outputs[0]),
            kBf16Tolerance);
  EXPECT_EQ(takeErrorRecord().code, cuda::kNoDeviceError);
}

//===----------------------------------------------------------------------===//
// Plan errors (checked on the host: no device needed)
//===----------------------------------------------------------------------===//

TEST(KernelsTrainingChecks, PlanErrorsMatchTheCpu) {
  std::vector<int64_t> a = {3, 4}, b = {5}, dout = {3, 4};
  std::vector<float> storage(64);
  auto view = [&](const std::vector<int64_t> &shape) {
    return exec::BufferView{storage.data(), F32, shape};
  };
  plan::Kernel kernel =
      makeKernel("binary_grad", 3, 2, {{"kind", stringAttr("add")}});
  std::vector<exec::BufferView> ins = {view(a), view(b), view(dout)},
                                outs = {view(a), view(b)};
  std::string cpu = errorText(exec::runCpuKernel(kernel, ins, outs, 1));
  llvm::Expected<size_t> gpu = cuda::cudaKernelWorkspace(kernel, ins, outs);
  ASSERT_FALSE(bool(gpu));
  std::string message = errorText(gpu.takeError());
  EXPECT_NE(cpu, "");
  EXPECT_NE(message.find("do not broadcast"), std::string::npos) << message;
  EXPECT_NE(cpu.find("do not broadcast"), std::string::npos) << cpu;

  // i32 where a float buffer belongs.
  plan::Kernel zero = makeKernel("softmax_grad", 2, 1, {{"axis", intAttr(0)}});
  std::vector<exec::BufferView> softIns = {view(a), view(a)};
  std::vector<exec::BufferView> softOuts = {{storage.data(), I32, a}};
  cuda::LaunchContext context;
  EXPECT_NE(errorText(cuda::launchCudaKernel(zero, softIns, softOuts, context))
                .find("must be f32 or bf16"),
            std::string::npos);
}

} // namespace
