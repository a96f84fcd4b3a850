//===- CpuKernelsTest.cpp - Plan kernel dispatch on the CPU --------------===//
//
// Each kernel on a small case, checked against a direct call of the
// runtime/cpu kernel or a hand computation, plus the error paths.
//
//===----------------------------------------------------------------------===//

#include "strata/Exec/CpuKernels.h"
#include "strata/Cpu/Kernels.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

using namespace strata;
using namespace strata::exec;

namespace {

/// A test buffer: f32, i32 or bf16 storage plus a shape.
struct Buf {
  plan::DType dtype = plan::F32;
  std::vector<int64_t> shape;
  std::vector<float> f;
  std::vector<int32_t> i;
  std::vector<uint16_t> h;

  BufferView view() {
    void *data = dtype == plan::I32    ? static_cast<void *>(i.data())
                 : dtype == plan::BF16 ? static_cast<void *>(h.data())
                                       : static_cast<void *>(f.data());
    return {data, dtype, shape};
  }
  int64_t size() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
};

Buf floats(std::vector<int64_t> shape, std::vector<float> values) {
  Buf b{plan::F32, std::move(shape), std::move(values), {}, {}};
  EXPECT_EQ(int64_t(b.f.size()), b.size());
  return b;
}

Buf ints(std::vector<int64_t> shape, std::vector<int32_t> values) {
  Buf b{plan::I32, std::move(shape), {}, std::move(values), {}};
  EXPECT_EQ(int64_t(b.i.size()), b.size());
  return b;
}

/// Output buffers start poisoned so that an unwritten element shows.
Buf floatOut(std::vector<int64_t> shape) {
  Buf b{plan::F32, std::move(shape), {}, {}, {}};
  b.f.assign(b.size(), std::numeric_limits<float>::quiet_NaN());
  return b;
}

Buf intOut(std::vector<int64_t> shape) {
  Buf b{plan::I32, std::move(shape), {}, {}, {}};
  b.i.assign(b.size(), -12345);
  return b;
}

Buf randomFloats(std::mt19937 &rng, std::vector<int64_t> shape,
                 float lo = -1.0f, float hi = 1.0f) {
  Buf b = floatOut(std::move(shape));
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float &v : b.f)
    v = dist(rng);
  return b;
}

/// Builds a plan::Kernel with attributes.
struct KernelBuilder {
  plan::Kernel kernel;
  explicit KernelBuilder(const std::string &op) {
    kernel.set_op(op);
    kernel.set_location("model.sg:3:7");
  }
  KernelBuilder &i(const std::string &name, int64_t v) {
    (*kernel.mutable_attrs())[name].set_i(v);
    return *this;
  }
  KernelBuilder &f(const std::string &name, double v) {
    (*kernel.mutable_attrs())[name].set_f(v);
    return *this;
  }
  KernelBuilder &s(const std::string &name, const std::string &v) {
    (*kernel.mutable_attrs())[name].set_s(v);
    return *this;
  }
  KernelBuilder &b(const std::string &name, bool v = true) {
    (*kernel.mutable_attrs())[name].set_b(v);
    return *this;
  }
  KernelBuilder &ints(const std::string &name, std::vector<int64_t> v) {
    auto *list = (*kernel.mutable_attrs())[name].mutable_ints();
    for (int64_t x : v)
      list->add_values(x);
    return *this;
  }
  KernelBuilder &floats(const std::string &name, std::vector<double> v) {
    auto *list = (*kernel.mutable_attrs())[name].mutable_floats();
    for (double x : v)
      list->add_values(x);
    return *this;
  }
  operator const plan::Kernel &() const { return kernel; }
};

llvm::Error run(const plan::Kernel &kernel, std::vector<Buf *> inputs,
                std::vector<Buf *> outputs, int threads = 1) {
  std::vector<BufferView> in, out;
  for (Buf *b : inputs)
    in.push_back(b->view());
  for (Buf *b : outputs)
    out.push_back(b->view());
  return runCpuKernel(kernel, in, out, threads);
}

#define EXPECT_OK(expr)                                                        \
  do {                                                                         \
    if (llvm::Error err = (expr))                                              \
      FAIL() << llvm::toString(std::move(err));                                \
  } while (false)

/// The error's message, "" for success.
std::string message(llvm::Error err) {
  return err ? llvm::toString(std::move(err)) : std::string();
}

#define EXPECT_ERROR(expr, substring)                                          \
  do {                                                                         \
    std::string msg = message(expr);                                           \
    EXPECT_NE(msg.find(substring), std::string::npos)                          \
        << "message: '" << msg << "'";                                         \
    EXPECT_EQ(msg.rfind("model.sg:3:7: error: ", 0), 0u)                       \
        << "message: '" << msg << "'";                                         \
  } while (false)

void expectClose(const std::vector<float> &got, const std::vector<float> &want,
                 double tol = 1e-6) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tol + tol * std::fabs(want[i])) << "at " << i;
}

cpu::Shape shapeOf(const Buf &b) {
  return {b.shape.data(), static_cast<int>(b.shape.size())};
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

TEST(CpuKernelsTest, BinaryBroadcastsLikeTheCpuKernel) {
  std::mt19937 rng(1);
  Buf a = randomFloats(rng, {2, 3}), b = randomFloats(rng, {3}, 0.5f, 2.0f);
  for (auto [op, kind] : {std::pair{"add", cpu::BinaryKind::Add},
                          {"sub", cpu::BinaryKind::Sub},
                          {"mul", cpu::BinaryKind::Mul},
                          {"div", cpu::BinaryKind::Div},
                          {"maximum", cpu::BinaryKind::Maximum},
                          {"minimum", cpu::BinaryKind::Minimum},
                          {"pow", cpu::BinaryKind::Pow}}) {
    Buf out = floatOut({2, 3});
    Buf pos = randomFloats(rng, {2, 3}, 0.1f, 2.0f);
    EXPECT_OK(run(KernelBuilder(op), {&pos, &b}, {&out}));
    std::vector<float> want(6);
    cpu::binaryForward(kind, pos.f.data(), shapeOf(pos), b.f.data(), shapeOf(b),
                       want.data(), shapeOf(out));
    expectClose(out.f, want);
  }
  Buf wrong = floatOut({3, 2});
  EXPECT_ERROR(run(KernelBuilder("add"), {&a, &b}, {&wrong}),
               "output 0 has shape [3, 2], expected [2, 3]");
}

TEST(CpuKernelsTest, BinaryOnIntegers) {
  Buf a = ints({2, 2}, {1, -2, 3, 4}), b = ints({2}, {10, 20});
  Buf out = intOut({2, 2});
  EXPECT_OK(run(KernelBuilder("add"), {&a, &b}, {&out}));
  EXPECT_EQ(out.i, (std::vector<int32_t>{11, 18, 13, 24}));
  EXPECT_OK(run(KernelBuilder("maximum"), {&a, &b}, {&out}));
  EXPECT_EQ(out.i, (std::vector<int32_t>{10, 20, 10, 20}));
  EXPECT_ERROR(run(KernelBuilder("div"), {&a, &b}, {&out}),
               "i32 operands are not supported");
  Buf f = floats({2}, {1, 2});
  EXPECT_ERROR(run(KernelBuilder("add"), {&a, &f}, {&out}),
               "input 1 is f32 but output 0 is i32");
}

TEST(CpuKernelsTest, UnaryAndActivations) {
  std::mt19937 rng(2);
  Buf x = randomFloats(rng, {2, 5}, 0.1f, 2.0f);
  for (auto [op, kind] : {std::pair{"neg", cpu::UnaryKind::Neg},
                          {"exp", cpu::UnaryKind::Exp},
                          {"log", cpu::UnaryKind::Log},
                          {"sqrt", cpu::UnaryKind::Sqrt},
                          {"rsqrt", cpu::UnaryKind::Rsqrt},
                          {"tanh", cpu::UnaryKind::Tanh},
                          {"sigmoid", cpu::UnaryKind::Sigmoid},
                          {"relu", cpu::UnaryKind::Relu},
                          {"abs", cpu::UnaryKind::Abs}}) {
    Buf out = floatOut({2, 5});
    EXPECT_OK(run(KernelBuilder(op), {&x}, {&out}));
    std::vector<float> want(10);
    cpu::unaryForward(kind, x.f.data(), want.data(), 10);
    expectClose(out.f, want);
  }
  Buf out = floatOut({2, 5});
  std::vector<float> want(10);
  EXPECT_OK(run(KernelBuilder("silu"), {&x}, {&out}));
  cpu::siluForward(want.data(), x.f.data(), 10);
  expectClose(out.f, want);
  EXPECT_OK(run(KernelBuilder("gelu").s("approximate", "tanh"), {&x}, {&out}));
  cpu::geluForward(want.data(), x.f.data(), 10, cpu::GeluApproximation::Tanh);
  expectClose(out.f, want);
  EXPECT_OK(run(KernelBuilder("gelu"), {&x}, {&out}));
  cpu::geluForward(want.data(), x.f.data(), 10, cpu::GeluApproximation::None);
  expectClose(out.f, want);
  EXPECT_ERROR(
      run(KernelBuilder("gelu").s("approximate", "fast"), {&x}, {&out}),
      "unknown gelu approximation 'fast'");
}

TEST(CpuKernelsTest, CastBetweenF32AndI32) {
  Buf x = floats({4}, {-1.7f, 2.9f, 0.0f, 100.0f});
  Buf i = intOut({4});
  EXPECT_OK(run(KernelBuilder("cast"), {&x}, {&i}));
  EXPECT_EQ(i.i, (std::vector<int32_t>{-1, 2, 0, 100}));
  Buf back = floatOut({4});
  EXPECT_OK(run(KernelBuilder("cast"), {&i}, {&back}));
  expectClose(back.f, {-1, 2, 0, 100});
  Buf copy = floatOut({4});
  EXPECT_OK(run(KernelBuilder("cast"), {&x}, {&copy}));
  expectClose(copy.f, x.f);
  Buf nan = floats({1}, {std::numeric_limits<float>::quiet_NaN()});
  Buf one = intOut({1});
  EXPECT_ERROR(run(KernelBuilder("cast"), {&nan}, {&one}), "to an integer");
}

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

/// C[b] = op(A[b]) op(B[b]) by the definition, on explicit batch index maps.
std::vector<float> referenceMatmul(const Buf &a, const Buf &b, bool transA,
                                   bool transB, int64_t m, int64_t n, int64_t k,
                                   const std::vector<int64_t> &aBatchOf,
                                   const std::vector<int64_t> &bBatchOf) {
  std::vector<float> c;
  for (size_t batch = 0; batch < aBatchOf.size(); ++batch) {
    const float *ab = a.f.data() + aBatchOf[batch] * m * k;
    const float *bb = b.f.data() + bBatchOf[batch] * k * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t p = 0; p < k; ++p)
          sum += double(transA ? ab[p * m + i] : ab[i * k + p]) *
                 (transB ? bb[j * k + p] : bb[p * n + j]);
        c.push_back(float(sum));
      }
  }
  return c;
}

TEST(CpuKernelsTest, MatmulTransposesAndBroadcastsBatches) {
  std::mt19937 rng(3);
  // A [2, 1, 4, 3] read transposed (m = 3, k = 4); B [3, 5, 4] read
  // transposed (n = 5): the batch [2, 1] x [3] broadcasts to [2, 3].
  Buf a = randomFloats(rng, {2, 1, 4, 3}), b = randomFloats(rng, {3, 5, 4});
  Buf out = floatOut({2, 3, 3, 5});
  EXPECT_OK(run(KernelBuilder("matmul").b("transpose_a").b("transpose_b"),
                {&a, &b}, {&out}, 2));
  expectClose(out.f,
              referenceMatmul(a, b, true, true, 3, 5, 4, {0, 0, 0, 1, 1, 1},
                              {0, 1, 2, 0, 1, 2}),
              1e-5);

  // A rank-2 right operand is shared by every batch of the left one.
  Buf a2 = randomFloats(rng, {2, 3, 4}), b2 = randomFloats(rng, {4, 5});
  Buf out2 = floatOut({2, 3, 5});
  EXPECT_OK(run(KernelBuilder("matmul").b("transpose_a", false), {&a2, &b2},
                {&out2}, 3));
  expectClose(out2.f,
              referenceMatmul(a2, b2, false, false, 3, 5, 4, {0, 1}, {0, 0}),
              1e-5);

  Buf b3 = randomFloats(rng, {5, 4});
  EXPECT_ERROR(run(KernelBuilder("matmul"), {&a2, &b3}, {&out2}),
               "contracting dimensions differ");
}

//===----------------------------------------------------------------------===//
// Reductions and normalization
//===----------------------------------------------------------------------===//

TEST(CpuKernelsTest, ReduceWithAndWithoutKeepdim) {
  Buf x = floatOut({2, 3, 2});
  std::iota(x.f.begin(), x.f.end(), 0.0f);
  Buf keep = floatOut({1, 3, 1});
  EXPECT_OK(run(KernelBuilder("reduce")
                    .s("kind", "sum")
                    .ints("axes", {2, 0})
                    .b("keepdim"),
                {&x}, {&keep}));
  // x[a, b, c] = 6a + 2b + c: the sum over a and c is 4 * 2b + 14.
  expectClose(keep.f, {14, 22, 30});
  Buf mean = floatOut({2, 2});
  EXPECT_OK(run(KernelBuilder("reduce").s("kind", "mean").ints("axes", {-2}),
                {&x}, {&mean}));
  expectClose(mean.f, {2, 3, 8, 9});
  Buf max = floatOut({});
  EXPECT_OK(
      run(KernelBuilder("reduce").s("kind", "max").ints("axes", {0, 1, 2}),
          {&x}, {&max}));
  expectClose(max.f, {11});
  Buf xi = ints({2, 2}, {1, 5, -3, 2});
  Buf mini = intOut({2});
  EXPECT_OK(run(KernelBuilder("reduce").s("kind", "min").ints("axes", {1}),
                {&xi}, {&mini}));
  EXPECT_EQ(mini.i, (std::vector<int32_t>{1, -3}));
  EXPECT_ERROR(run(KernelBuilder("reduce").s("kind", "sum").ints("axes", {3}),
                   {&x}, {&max}),
               "axis 3 is out of range");
  EXPECT_ERROR(run(KernelBuilder("reduce").s("kind", "prod").ints("axes", {0}),
                   {&x}, {&max}),
               "unknown reduce kind 'prod'");
  EXPECT_ERROR(run(KernelBuilder("reduce").s("kind", "sum"), {&x}, {&max}),
               "missing integer list attribute 'axes'");
}

TEST(CpuKernelsTest, SoftmaxOnANonLastAxis) {
  Buf x = floats({3, 2}, {0, 1, 1, 0, 2, -1});
  Buf y = floatOut({3, 2});
  EXPECT_OK(run(KernelBuilder("softmax").i("axis", 0), {&x}, {&y}));
  std::vector<float> want(6);
  for (int c = 0; c < 2; ++c) {
    double sum = 0;
    for (int r = 0; r < 3; ++r)
      sum += std::exp(x.f[r * 2 + c]);
    for (int r = 0; r < 3; ++r)
      want[r * 2 + c] = float(std::exp(x.f[r * 2 + c]) / sum);
  }
  expectClose(y.f, want);
  Buf ly = floatOut({3, 2});
  EXPECT_OK(run(KernelBuilder("log_softmax").i("axis", 0), {&x}, {&ly}));
  for (float &v : want)
    v = std::log(v);
  expectClose(ly.f, want, 1e-5);
  // The last axis, given as -1.
  EXPECT_OK(run(KernelBuilder("softmax").i("axis", -1), {&x}, {&y}));
  std::vector<float> rows(6);
  cpu::softmaxForward(rows.data(), x.f.data(), 3, 2);
  expectClose(y.f, rows);
  EXPECT_ERROR(run(KernelBuilder("softmax").i("axis", 2), {&x}, {&y}),
               "axis 2 is out of range");
}

TEST(CpuKernelsTest, LayerNormAndRmsNorm) {
  std::mt19937 rng(4);
  Buf x = randomFloats(rng, {2, 3, 4}), w = randomFloats(rng, {4}),
      b = randomFloats(rng, {4});
  Buf out = floatOut({2, 3, 4});
  EXPECT_OK(run(KernelBuilder("layer_norm").f("epsilon", 1e-5), {&x, &w, &b},
                {&out}));
  std::vector<float> want(24), mean(6), rstd(6);
  cpu::layerNormForward(want.data(), mean.data(), rstd.data(), x.f.data(),
                        w.f.data(), b.f.data(), 6, 4, 1e-5f);
  expectClose(out.f, want);
  EXPECT_OK(
      run(KernelBuilder("rms_norm").f("epsilon", 1e-6), {&x, &w}, {&out}));
  cpu::rmsNormForward(want.data(), rstd.data(), x.f.data(), w.f.data(), 6, 4,
                      1e-6f);
  expectClose(out.f, want);
  Buf w3 = randomFloats(rng, {3});
  EXPECT_ERROR(
      run(KernelBuilder("rms_norm").f("epsilon", 1e-6), {&x, &w3}, {&out}),
      "input 1 has shape [3], expected 4 elements");
}

//===----------------------------------------------------------------------===//
// Layout and indexing
//===----------------------------------------------------------------------===//

TEST(CpuKernelsTest, ReshapeTransposeSliceConcat) {
  Buf x = floatOut({2, 3});
  std::iota(x.f.begin(), x.f.end(), 0.0f);
  Buf r = floatOut({3, 2});
  EXPECT_OK(run(KernelBuilder("reshape"), {&x}, {&r}));
  expectClose(r.f, x.f);
  Buf bad = floatOut({4});
  EXPECT_ERROR(run(KernelBuilder("reshape"), {&x}, {&bad}),
               "cannot reshape [2, 3] to [4]");

  Buf t = floatOut({3, 2});
  EXPECT_OK(
      run(KernelBuilder("transpose").ints("permutation", {1, 0}), {&x}, {&t}));
  expectClose(t.f, {0, 3, 1, 4, 2, 5});
  Buf ti = ints({2, 3}, {0, 1, 2, 3, 4, 5}), tio = intOut({3, 2});
  EXPECT_OK(run(KernelBuilder("transpose").ints("permutation", {1, 0}), {&ti},
                {&tio}));
  EXPECT_EQ(tio.i, (std::vector<int32_t>{0, 3, 1, 4, 2, 5}));
  EXPECT_ERROR(
      run(KernelBuilder("transpose").ints("permutation", {0, 0}), {&x}, {&t}),
      "not a permutation");

  Buf s = floatOut({2, 2});
  EXPECT_OK(run(KernelBuilder("slice").i("axis", 1).i("start", 1).i("end", 3),
                {&x}, {&s}));
  expectClose(s.f, {1, 2, 4, 5});
  EXPECT_ERROR(
      run(KernelBuilder("slice").i("axis", 1).i("start", 1).i("end", 4), {&x},
          {&s}),
      "slice [1, 4) is out of range");

  Buf y = floats({2, 1}, {9, 8}), c = floatOut({2, 4});
  EXPECT_OK(run(KernelBuilder("concat").i("axis", 1), {&x, &y}, {&c}));
  expectClose(c.f, {0, 1, 2, 9, 3, 4, 5, 8});
  Buf ci = intOut({4, 3});
  EXPECT_OK(run(KernelBuilder("concat").i("axis", 0), {&ti, &ti}, {&ci}));
  EXPECT_EQ(ci.i, (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5}));
  Buf y3 = floatOut({3, 1});
  EXPECT_ERROR(run(KernelBuilder("concat").i("axis", 1), {&x, &y3}, {&c}),
               "inputs disagree on dimension 0");
}

TEST(CpuKernelsTest, GatherIotaOneHot) {
  Buf table = floats({3, 2}, {0, 1, 10, 11, 20, 21});
  Buf idx = ints({2, 2}, {2, 0, 1, 2}), out = floatOut({2, 2, 2});
  EXPECT_OK(run(KernelBuilder("gather"), {&table, &idx}, {&out}));
  expectClose(out.f, {20, 21, 0, 1, 10, 11, 20, 21});
  Buf badIdx = ints({2, 2}, {2, 0, 3, 2});
  EXPECT_ERROR(run(KernelBuilder("gather"), {&table, &badIdx}, {&out}),
               "index 3 at position 2 is out of range [0, 3)");
  Buf fIdx = floats({2, 2}, {0, 0, 0, 0});
  EXPECT_ERROR(run(KernelBuilder("gather"), {&table, &fIdx}, {&out}),
               "input 1 must be i32, got f32");

  Buf iota = intOut({5});
  EXPECT_OK(run(KernelBuilder("iota"), {}, {&iota}));
  EXPECT_EQ(iota.i, (std::vector<int32_t>{0, 1, 2, 3, 4}));

  Buf oh = floatOut({3, 4}), cls = ints({3}, {3, 0, 1});
  EXPECT_OK(run(KernelBuilder("one_hot").i("num_classes", 4), {&cls}, {&oh}));
  expectClose(oh.f, {0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0});
  Buf badCls = ints({3}, {3, -1, 1});
  EXPECT_ERROR(
      run(KernelBuilder("one_hot").i("num_classes", 4), {&badCls}, {&oh}),
      "index -1 at position 1 is out of range [0, 4)");
}

TEST(CpuKernelsTest, TopkAndConstant) {
  Buf x = floats({2, 4}, {1, 4, 2, 3, 0, -1, 5, 5});
  Buf values = floatOut({2, 2}), indices = intOut({2, 2});
  EXPECT_OK(run(KernelBuilder("topk").i("k", 2), {&x}, {&values, &indices}));
  expectClose(values.f, {4, 3, 5, 5});
  EXPECT_EQ(indices.i, (std::vector<int32_t>{1, 3, 2, 3}));
  EXPECT_ERROR(run(KernelBuilder("topk").i("k", 5), {&x}, {&values, &indices}),
               "k = 5 is out of range");

  Buf splat = floatOut({2, 2});
  EXPECT_OK(
      run(KernelBuilder("constant").floats("value", {0.5}), {}, {&splat}));
  expectClose(splat.f, {0.5, 0.5, 0.5, 0.5});
  Buf list = intOut({3});
  EXPECT_OK(
      run(KernelBuilder("constant").ints("value", {7, -1, 3}), {}, {&list}));
  EXPECT_EQ(list.i, (std::vector<int32_t>{7, -1, 3}));
  EXPECT_ERROR(
      run(KernelBuilder("constant").floats("value", {1, 2}), {}, {&list}),
      "attribute 'value' has 2 elements");
}

//===----------------------------------------------------------------------===//
// Rope, attention, MoE, cross entropy
//===----------------------------------------------------------------------===//

TEST(CpuKernelsTest, RopeAndAttention) {
  std::mt19937 rng(5);
  Buf x = randomFloats(rng, {2, 2, 3, 4}), out = floatOut({2, 2, 3, 4});
  EXPECT_OK(run(KernelBuilder("rope").f("theta", 10000.0), {&x}, {&out}));
  std::vector<float> want(48);
  cpu::ropeForward(want.data(), x.f.data(), 2, 2, 3, 4, 10000.0f);
  expectClose(out.f, want);
  Buf odd = randomFloats(rng, {1, 1, 2, 3}), oddOut = floatOut({1, 1, 2, 3});
  EXPECT_ERROR(run(KernelBuilder("rope").f("theta", 1e4), {&odd}, {&oddOut}),
               "Dh even");

  // Grouped-query, causal, 3 batches over 2 threads.
  Buf q = randomFloats(rng, {3, 4, 5, 3}), k = randomFloats(rng, {3, 2, 5, 3}),
      v = randomFloats(rng, {3, 2, 5, 2});
  Buf o = floatOut({3, 4, 5, 2});
  EXPECT_OK(run(KernelBuilder("attention").f("scale", 0.5).b("causal"),
                {&q, &k, &v}, {&o}, 2));
  cpu::AttentionShape s{3, 4, 2, 5, 5, 3, 2, true, 0.5f};
  std::vector<float> ref(o.f.size());
  cpu::attentionForward(ref.data(), q.f.data(), k.f.data(), v.f.data(), s);
  expectClose(o.f, ref);
  Buf k3 = randomFloats(rng, {3, 3, 5, 3});
  EXPECT_ERROR(
      run(KernelBuilder("attention").f("scale", 0.5), {&q, &k3, &v}, {&o}),
      "incompatible shapes");
}

TEST(CpuKernelsTest, MoeDispatchAndCombine) {
  std::mt19937 rng(6);
  Buf x = randomFloats(rng, {4, 3}),
      idx = ints({4, 2}, {0, 1, 1, 2, 0, 2, 1, 0});
  Buf d = floatOut({3, 2, 3});
  EXPECT_OK(
      run(KernelBuilder("moe_dispatch").i("num_experts", 3).i("capacity", 2),
          {&x, &idx}, {&d}));
  std::vector<float> want(18);
  cpu::moeDispatchForward(x.f.data(), idx.i.data(), 4, 3, 2, 3, 2, want.data());
  expectClose(d.f, want);

  Buf w = randomFloats(rng, {4, 2}), y = randomFloats(rng, {3, 2, 3});
  Buf comb = floatOut({4, 3});
  EXPECT_OK(run(KernelBuilder("moe_combine"), {&y, &idx, &w}, {&comb}));
  std::vector<float> wantC(12);
  cpu::moeCombineForward(y.f.data(), idx.i.data(), w.f.data(), 4, 3, 2, 3, 2,
                         wantC.data());
  expectClose(comb.f, wantC);

  Buf badIdx = ints({4, 2}, {0, 1, 1, 2, 0, 7, 1, 0});
  EXPECT_ERROR(
      run(KernelBuilder("moe_dispatch").i("num_experts", 3).i("capacity", 2),
          {&x, &badIdx}, {&d}),
      "expert id 7 at position 5 is out of range [0, 3)");
  EXPECT_ERROR(run(KernelBuilder("moe_combine"), {&y, &badIdx, &w}, {&comb}),
               "expert id 7 at position 5");
}

TEST(CpuKernelsTest, CrossEntropy) {
  std::mt19937 rng(7);
  Buf logits = randomFloats(rng, {2, 3, 5}),
      targets = ints({2, 3}, {0, 4, 2, 1, 1, 3});
  Buf loss = floatOut({});
  EXPECT_OK(run(KernelBuilder("cross_entropy"), {&logits, &targets}, {&loss}));
  EXPECT_FLOAT_EQ(loss.f[0], cpu::crossEntropyForward(logits.f.data(),
                                                      targets.i.data(), 6, 5));
  Buf bad = ints({2, 3}, {0, 4, 2, 5, 1, 3});
  EXPECT_ERROR(run(KernelBuilder("cross_entropy"), {&logits, &bad}, {&loss}),
               "target 5 at position 3 is out of range [0, 5)");
  Buf short_ = ints({5}, {0, 0, 0, 0, 0});
  EXPECT_ERROR(run(KernelBuilder("cross_entropy"), {&logits, &short_}, {&loss}),
               "do not match logits");
}

//===----------------------------------------------------------------------===//
// Gradient kernels
//===----------------------------------------------------------------------===//

TEST(CpuKernelsTest, BinaryUnaryGeluGrad) {
  std::mt19937 rng(8);
  Buf a = randomFloats(rng, {2, 3}, 0.2f, 2.0f), b = randomFloats(rng, {3});
  Buf g = randomFloats(rng, {2, 3});
  Buf da = floatOut({2, 3}), db = floatOut({3});
  EXPECT_OK(run(KernelBuilder("binary_grad").s("kind", "pow"), {&a, &b, &g},
                {&da, &db}));
  std::vector<float> wantA(6), wantB(3);
  cpu::binaryBackward(cpu::BinaryKind::Pow, a.f.data(), shapeOf(a), b.f.data(),
                      shapeOf(b), g.f.data(), shapeOf(g), wantA.data(),
                      wantB.data());
  expectClose(da.f, wantA);
  expectClose(db.f, wantB);

  Buf x = randomFloats(rng, {2, 3}), y = floatOut({2, 3}),
      dx = floatOut({2, 3});
  cpu::unaryForward(cpu::UnaryKind::Tanh, x.f.data(), y.f.data(), 6);
  EXPECT_OK(
      run(KernelBuilder("unary_grad").s("kind", "tanh"), {&x, &y, &g}, {&dx}));
  std::vector<float> want(6);
  cpu::unaryBackward(cpu::UnaryKind::Tanh, x.f.data(), y.f.data(), g.f.data(),
                     want.data(), 6);
  expectClose(dx.f, want);
  EXPECT_OK(
      run(KernelBuilder("unary_grad").s("kind", "silu"), {&x, &y, &g}, {&dx}));
  cpu::siluBackward(want.data(), g.f.data(), x.f.data(), 6);
  expectClose(dx.f, want);
  EXPECT_ERROR(
      run(KernelBuilder("unary_grad").s("kind", "cube"), {&x, &y, &g}, {&dx}),
      "unknown unary kind 'cube'");

  EXPECT_OK(run(KernelBuilder("gelu_grad").s("approximate", "tanh"), {&x, &g},
                {&dx}));
  cpu::geluBackward(want.data(), g.f.data(), x.f.data(), 6,
                    cpu::GeluApproximation::Tanh);
  expectClose(dx.f, want);
}

TEST(CpuKernelsTest, ReduceGradWithKeepdim) {
  Buf x = floats({2, 3}, {1, 5, 2, 7, 0, 7});
  Buf y = floats({2, 1}, {5, 7}), g = floats({2, 1}, {10, 20});
  Buf dx = floatOut({2, 3});
  EXPECT_OK(run(KernelBuilder("reduce_grad")
                    .s("kind", "max")
                    .ints("axes", {1})
                    .b("keepdim"),
                {&x, &y, &g}, {&dx}));
  // The first maximum of each row takes the gradient.
  expectClose(dx.f, {0, 10, 0, 20, 0, 0});
  Buf ym = floats({3}, {4, 2.5, 4.5}), gm = floats({3}, {2, 4, 6});
  EXPECT_OK(
      run(KernelBuilder("reduce_grad").s("kind", "mean").ints("axes", {0}),
          {&x, &ym, &gm}, {&dx}));
  expectClose(dx.f, {1, 2, 3, 1, 2, 3});
  EXPECT_ERROR(run(KernelBuilder("reduce_grad")
                       .s("kind", "mean")
                       .ints("axes", {0})
                       .b("keepdim"),
                   {&x, &ym, &gm}, {&dx}),
               "input 1 has shape [3], expected [1, 3]");
}

TEST(CpuKernelsTest, SoftmaxGradOnANonLastAxis) {
  std::mt19937 rng(9);
  // Softmax over axis 0 of [3, 2]: column c is the row softmax of
  // (x[0, c], x[1, c], x[2, c]).
  Buf y = floats({3, 2}, {0.2f, 0.5f, 0.3f, 0.1f, 0.5f, 0.4f});
  Buf g = randomFloats(rng, {3, 2}), dx = floatOut({3, 2});
  EXPECT_OK(run(KernelBuilder("softmax_grad").i("axis", 0), {&y, &g}, {&dx}));
  std::vector<float> want(6);
  for (int c = 0; c < 2; ++c) {
    float yc[3], gc[3], dc[3];
    for (int r = 0; r < 3; ++r)
      yc[r] = y.f[r * 2 + c], gc[r] = g.f[r * 2 + c];
    cpu::softmaxBackward(dc, gc, yc, 1, 3);
    for (int r = 0; r < 3; ++r)
      want[r * 2 + c] = dc[r];
  }
  expectClose(dx.f, want);

  Buf ly = floats({3, 2}, {-1, -2, -0.5f, -3, -2, -0.1f});
  EXPECT_OK(
      run(KernelBuilder("log_softmax_grad").i("axis", 0), {&ly, &g}, {&dx}));
  for (int c = 0; c < 2; ++c) {
    float yc[3], gc[3], dc[3];
    for (int r = 0; r < 3; ++r)
      yc[r] = ly.f[r * 2 + c], gc[r] = g.f[r * 2 + c];
    cpu::logSoftmaxBackward(yc, gc, dc, 1, 3);
    for (int r = 0; r < 3; ++r)
      want[r * 2 + c] = dc[r];
  }
  expectClose(dx.f, want);
}

TEST(CpuKernelsTest, NormGrads) {
  std::mt19937 rng(10);
  Buf x = randomFloats(rng, {3, 4}), w = randomFloats(rng, {4}),
      g = randomFloats(rng, {3, 4});
  Buf dx = floatOut({3, 4}), dw = floatOut({4}), db = floatOut({4});
  EXPECT_OK(run(KernelBuilder("layer_norm_grad").f("epsilon", 1e-5),
                {&x, &w, &g}, {&dx, &dw, &db}));
  std::vector<float> out(12), mean(3), rstd(3), bias(4, 0.0f), wantX(12),
      wantW(4), wantB(4);
  cpu::layerNormForward(out.data(), mean.data(), rstd.data(), x.f.data(),
                        w.f.data(), bias.data(), 3, 4, 1e-5f);
  cpu::layerNormBackward(wantX.data(), wantW.data(), wantB.data(), g.f.data(),
                         x.f.data(), w.f.data(), mean.data(), rstd.data(), 3,
                         4);
  expectClose(dx.f, wantX);
  expectClose(dw.f, wantW);
  expectClose(db.f, wantB);

  Buf dx2 = floatOut({3, 4}), dw2 = floatOut({4});
  EXPECT_OK(run(KernelBuilder("rms_norm_grad").f("epsilon", 1e-6), {&x, &w, &g},
                {&dx2, &dw2}));
  cpu::rmsNormForward(out.data(), rstd.data(), x.f.data(), w.f.data(), 3, 4,
                      1e-6f);
  cpu::rmsNormBackward(wantX.data(), wantW.data(), g.f.data(), x.f.data(),
                       w.f.data(), rstd.data(), 3, 4);
  expectClose(dx2.f, wantX);
  expectClose(dw2.f, wantW);
}

TEST(CpuKernelsTest, AttentionAndRopeGrad) {
  std::mt19937 rng(11);
  Buf q = randomFloats(rng, {2, 2, 3, 4}), k = randomFloats(rng, {2, 1, 4, 4}),
      v = randomFloats(rng, {2, 1, 4, 2}), g = randomFloats(rng, {2, 2, 3, 2});
  Buf dq = floatOut({2, 2, 3, 4}), dk = floatOut({2, 1, 4, 4}),
      dv = floatOut({2, 1, 4, 2});
  EXPECT_OK(run(KernelBuilder("attention_grad").f("scale", 0.5).b("causal"),
                {&q, &k, &v, &g}, {&dq, &dk, &dv}, 2));
  cpu::AttentionShape s{2, 2, 1, 3, 4, 4, 2, true, 0.5f};
  std::vector<float> wq(dq.f.size()), wk(dk.f.size()), wv(dv.f.size());
  cpu::attentionBackward(wq.data(), wk.data(), wv.data(), g.f.data(),
                         q.f.data(), k.f.data(), v.f.data(), s);
  expectClose(dq.f, wq);
  expectClose(dk.f, wk);
  expectClose(dv.f, wv);

  Buf dx = floatOut({2, 2, 3, 4});
  EXPECT_OK(run(KernelBuilder("rope_grad").f("theta", 500.0), {&q}, {&dx}));
  std::vector<float> want(dx.f.size());
  cpu::ropeBackward(want.data(), q.f.data(), 2, 2, 3, 4, 500.0f);
  expectClose(dx.f, want);
}

TEST(CpuKernelsTest, GatherSliceTopkGrad) {
  Buf g = floats({3, 2}, {1, 2, 3, 4, 5, 6}), idx = ints({3}, {2, 0, 2});
  Buf dt = floatOut({4, 2});
  EXPECT_OK(run(KernelBuilder("gather_grad"), {&g, &idx}, {&dt}));
  expectClose(dt.f, {3, 4, 0, 0, 6, 8, 0, 0});
  Buf bad = ints({3}, {2, 4, 2});
  EXPECT_ERROR(run(KernelBuilder("gather_grad"), {&g, &bad}, {&dt}),
               "index 4 at position 1 is out of range [0, 4)");

  Buf dx = floatOut({3, 4});
  EXPECT_OK(
      run(KernelBuilder("slice_grad").i("axis", 1).i("start", 1).i("end", 3),
          {&g}, {&dx}));
  expectClose(dx.f, {0, 1, 2, 0, 0, 3, 4, 0, 0, 5, 6, 0});

  Buf tv = floats({2, 2}, {1, 2, 3, 4}), ti = ints({2, 2}, {3, 0, 1, 1});
  Buf tdx = floatOut({2, 4});
  EXPECT_OK(run(KernelBuilder("topk_grad"), {&tv, &ti}, {&tdx}));
  expectClose(tdx.f, {2, 0, 0, 1, 0, 7, 0, 0});
  Buf tbad = ints({2, 2}, {3, 0, 4, 1});
  EXPECT_ERROR(run(KernelBuilder("topk_grad"), {&tv, &tbad}, {&tdx}),
               "index 4 at position 2 is out of range [0, 4)");
}

TEST(CpuKernelsTest, CrossEntropyAndMoeGrads) {
  std::mt19937 rng(12);
  Buf logits = randomFloats(rng, {4, 5}), targets = ints({4}, {1, 0, 4, 4});
  Buf dloss = floats({}, {0.5f}), dl = floatOut({4, 5});
  EXPECT_OK(run(KernelBuilder("cross_entropy_grad"),
                {&logits, &targets, &dloss}, {&dl}));
  std::vector<float> want(20);
  cpu::crossEntropyBackward(want.data(), logits.f.data(), targets.i.data(), 4,
                            5, 0.5f);
  expectClose(dl.f, want);
  Buf badT = ints({4}, {1, 0, -2, 4});
  EXPECT_ERROR(
      run(KernelBuilder("cross_entropy_grad"), {&logits, &badT, &dloss}, {&dl}),
      "target -2 at position 2 is out of range [0, 5)");

  Buf idx = ints({3, 2}, {0, 1, 1, 0, 1, 1});
  Buf gd = randomFloats(rng, {2, 2, 4}), dx = floatOut({3, 4});
  EXPECT_OK(run(KernelBuilder("moe_dispatch_grad"), {&gd, &idx}, {&dx}));
  std::vector<float> wantX(12);
  cpu::moeDispatchBackward(gd.f.data(), idx.i.data(), 3, 4, 2, 2, 2,
                           wantX.data());
  expectClose(dx.f, wantX);

  Buf y = randomFloats(rng, {2, 2, 4}), w = randomFloats(rng, {3, 2}),
      g = randomFloats(rng, {3, 4});
  Buf dy = floatOut({2, 2, 4}), dw = floatOut({3, 2});
  EXPECT_OK(
      run(KernelBuilder("moe_combine_grad"), {&y, &idx, &w, &g}, {&dy, &dw}));
  std::vector<float> wantY(16), wantW(6);
  cpu::moeCombineBackward(y.f.data(), idx.i.data(), w.f.data(), g.f.data(), 3,
                          4, 2, 2, 2, wantY.data(), wantW.data());
  expectClose(dy.f, wantY);
  expectClose(dw.f, wantW);
  Buf badE = ints({3, 2}, {0, 1, 1, 0, 2, 1});
  EXPECT_ERROR(run(KernelBuilder("moe_dispatch_grad"), {&gd, &badE}, {&dx}),
               "expert id 2 at position 4 is out of range [0, 2)");
}

//===----------------------------------------------------------------------===//
// Training state and optimizer kernels
//===----------------------------------------------------------------------===//

TEST(CpuKernelsTest, AccumulateZeroGlobalNorm) {
  Buf target = floats({3}, {1, 2, 3}), value = floats({3}, {0.5, -2, 1});
  EXPECT_OK(run(KernelBuilder("accumulate"), {&target, &value}, {}));
  expectClose(target.f, {1.5, 0, 4});
  Buf other = floats({2}, {0, 0});
  EXPECT_ERROR(run(KernelBuilder("accumulate"), {&target, &other}, {}),
               "input 1 has shape [2], expected [3]");

  Buf a = floats({2}, {3, 0}), b = floats({1, 1}, {4});
  Buf norm = floatOut({});
  EXPECT_OK(run(KernelBuilder("global_norm"), {&a, &b}, {&norm}));
  expectClose(norm.f, {5});

  EXPECT_OK(run(KernelBuilder("zero"), {&target}, {}));
  expectClose(target.f, {0, 0, 0});
}

TEST(CpuKernelsTest, LrSchedule) {
  Buf lr = floatOut({});
  auto cosine = [] {
    return KernelBuilder("lr_schedule")
        .s("kind", "cosine")
        .f("base_lr", 1.0)
        .i("warmup_steps", 2)
        .i("total_steps", 6)
        .f("min_lr", 0.1);
  };
  Buf step = ints({}, {1});
  EXPECT_OK(run(cosine(), {&step}, {&lr}));
  expectClose(lr.f, {0.5});
  step.i[0] = 4;
  EXPECT_OK(run(cosine(), {&step}, {&lr}));
  expectClose(lr.f, {0.55});
  EXPECT_OK(
      run(KernelBuilder("lr_schedule").s("kind", "constant").f("base_lr", 0.01),
          {&step}, {&lr}));
  expectClose(lr.f, {0.01});
  EXPECT_ERROR(
      run(KernelBuilder("lr_schedule").s("kind", "linear").f("base_lr", 0.01),
          {&step}, {&lr}),
      "unknown schedule kind 'linear'");
  EXPECT_ERROR(
      run(KernelBuilder("lr_schedule").s("kind", "constant"), {&step}, {&lr}),
      "missing float attribute 'base_lr'");
}

TEST(CpuKernelsTest, AdamwUpdateMatchesTheCpuKernel) {
  std::mt19937 rng(13);
  Buf param = randomFloats(rng, {2, 3}), grad = randomFloats(rng, {2, 3});
  Buf m = randomFloats(rng, {2, 3}), v = randomFloats(rng, {2, 3}, 0.0f, 1.0f);
  Buf lr = floats({}, {0.01f}), scale = floats({}, {0.5f}),
      step = ints({}, {3});
  cpu::AdamWConfig config;
  config.learningRate = 0.01f;
  config.beta1 = 0.8f;
  config.beta2 = 0.95f;
  config.epsilon = 1e-6f;
  config.weightDecay = 0.1f;
  config.gradScale = 0.5f;
  std::vector<float> wantP = param.f, wantM = m.f, wantV = v.f;
  cpu::adamwUpdate(wantP.data(), grad.f.data(), wantM.data(), wantV.data(), 6,
                   3, config);
  auto adamw = KernelBuilder("adamw_update")
                   .f("beta1", 0.8)
                   .f("beta2", 0.95)
                   .f("epsilon", 1e-6)
                   .f("weight_decay", 0.1);
  EXPECT_OK(run(adamw, {&param, &grad, &m, &v, &lr, &scale, &step}, {}));
  expectClose(param.f, wantP);
  expectClose(m.f, wantM);
  expectClose(v.f, wantV);
  step.i[0] = 0;
  EXPECT_ERROR(run(adamw, {&param, &grad, &m, &v, &lr, &scale, &step}, {}),
               "step 0 must be >= 1");
  Buf fstep = floats({}, {1});
  EXPECT_ERROR(run(adamw, {&param, &grad, &m, &v, &lr, &scale, &fstep}, {}),
               "input 6 must be i32, got f32");
}

TEST(CpuKernelsTest, SgdUpdateWithAndWithoutMomentum) {
  Buf param = floats({2}, {1, -2}), grad = floats({2}, {4, 2});
  Buf lr = floats({}, {0.1f}), scale = floats({}, {0.5f});
  EXPECT_OK(run(KernelBuilder("sgd_update").f("weight_decay", 0.1),
                {&param, &grad, &lr, &scale}, {}));
  // g = 0.5 grad + 0.1 param = (2.1, 0.8).
  expectClose(param.f, {0.79f, -2.08f});

  Buf p = floats({2}, {1, -2}), buf = floats({2}, {1, 1});
  EXPECT_OK(run(KernelBuilder("sgd_update").f("momentum", 0.9),
                {&p, &grad, &buf, &lr, &scale}, {}));
  // buf = 0.9 + 0.5 grad = (2.9, 1.9).
  expectClose(buf.f, {2.9f, 1.9f});
  expectClose(p.f, {0.71f, -2.19f});
  EXPECT_ERROR(run(KernelBuilder("sgd_update").f("momentum", 0.9),
                   {&p, &grad, &lr, &scale}, {}),
               "needs a momentum buffer");
}

//===----------------------------------------------------------------------===//
// Dispatch errors
//===----------------------------------------------------------------------===//

TEST(CpuKernelsTest, UnknownKernelAndWrongCounts) {
  Buf x = floats({2}, {1, 2}), out = floatOut({2});
  EXPECT_ERROR(run(KernelBuilder("frobnicate"), {&x}, {&out}),
               "unknown kernel 'frobnicate'");
  EXPECT_ERROR(run(KernelBuilder("add"), {&x}, {&out}),
               "add: takes 2 inputs, got 1");
  EXPECT_ERROR(run(KernelBuilder("exp"), {&x}, {&out, &out}),
               "exp: has 1 outputs, got 2");
  EXPECT_ERROR(run(KernelBuilder("sgd_update"), {&x, &x, &x}, {}),
               "takes 4 or 5 inputs, got 3");
  EXPECT_ERROR(run(KernelBuilder("concat").i("axis", 0), {}, {&out}),
               "takes at least 1 inputs, got 0");

  EXPECT_EQ(message(checkCpuKernel(KernelBuilder("layer_norm_grad"), 3, 3)),
            "");
  EXPECT_ERROR(checkCpuKernel(KernelBuilder("layer_norm_grad"), 3, 2),
               "has 3 outputs, got 2");
  EXPECT_ERROR(checkCpuKernel(KernelBuilder("nope"), 0, 0),
               "unknown kernel 'nope'");
}

TEST(CpuKernelsTest, WrongDTypes) {
  Buf x = floats({2}, {1, 2});
  Buf half = floats({2}, {1, 2});
  half.dtype = plan::F16;
  Buf out = floatOut({2});
  EXPECT_ERROR(run(KernelBuilder("exp"), {&half}, {&out}),
               "input 0 is f16; the CPU backend supports f32, bf16 and i32");
  Buf iout = intOut({2});
  EXPECT_ERROR(run(KernelBuilder("exp"), {&x}, {&iout}),
               "exp: output 0 must be f32, got i32");
  Buf xi = ints({2}, {1, 2});
  EXPECT_ERROR(run(KernelBuilder("tanh"), {&xi}, {&out}),
               "input 0 must be f32, got i32");
  EXPECT_ERROR(run(KernelBuilder("softmax").s("axis", "0"), {&x}, {&out}),
               "attribute 'axis' must be an integer");
}

//===----------------------------------------------------------------------===//
// bf16 buffers
//===----------------------------------------------------------------------===//

/// A bf16 buffer holding `values` rounded to bf16.
Buf bf16s(std::vector<int64_t> shape, const std::vector<float> &values) {
  Buf b{plan::BF16, std::move(shape), {}, {}, {}};
  EXPECT_EQ(int64_t(values.size()), b.size());
  for (float v : values)
    b.h.push_back(floatToBf16(v));
  return b;
}

/// A bf16 output buffer poisoned with NaN.
Buf bf16Out(std::vector<int64_t> shape) {
  Buf b{plan::BF16, std::move(shape), {}, {}, {}};
  b.h.assign(b.size(), 0x7fc0);
  return b;
}

std::vector<float> valuesOf(const Buf &b) {
  std::vector<float> values;
  for (uint16_t bits : b.h)
    values.push_back(bf16ToFloat(bits));
  return values;
}

/// `values` rounded to bf16 and back.
std::vector<float> roundedToBf16(const std::vector<float> &values) {
  std::vector<float> rounded;
  for (float v : values)
    rounded.push_back(bf16ToFloat(floatToBf16(v)));
  return rounded;
}

TEST(CpuKernelsTest, Bf16RoundsToNearestEven) {
  EXPECT_EQ(floatToBf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16ToFloat(0x3f80), 1.0f);
  // 1 + 2^-8 lies halfway between 1 (even) and 1 + 2^-7 (odd).
  EXPECT_EQ(floatToBf16(1.0f + 0x1p-8f), 0x3f80);
  // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
  EXPECT_EQ(floatToBf16(1.0f + 3 * 0x1p-8f), 0x3f82);
  EXPECT_EQ(floatToBf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
  EXPECT_EQ(floatToBf16(-2.0f), 0xc000);
  EXPECT_EQ(floatToBf16(-0.0f), 0x8000);
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::infinity()), 0x7f80);
  // The largest f32 is nearer 2^128 than the largest bf16: infinity.
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_TRUE(std::isnan(
      bf16ToFloat(floatToBf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(-std::nanf("")))));
}

TEST(CpuKernelsTest, CastBetweenF32Bf16AndI32) {
  Buf x = floats({4}, {1.0f + 0x1p-8f, -3.14159f, 257.0f, 1e-3f});
  Buf h = bf16Out({4});
  EXPECT_OK(run(KernelBuilder("cast"), {&x}, {&h}));
  EXPECT_EQ(valuesOf(h), roundedToBf16(x.f));
  EXPECT_EQ(valuesOf(h)[0], 1.0f);
  Buf back = floatOut({4});
  EXPECT_OK(run(KernelBuilder("cast"), {&h}, {&back}));
  EXPECT_EQ(back.f, valuesOf(h));

  Buf i = ints({3}, {257, -7, 1 << 20});
  Buf hi = bf16Out({3});
  EXPECT_OK(run(KernelBuilder("cast"), {&i}, {&hi}));
  EXPECT_EQ(valuesOf(hi), (std::vector<float>{256, -7, float(1 << 20)}));
  Buf io = intOut({3});
  EXPECT_OK(run(KernelBuilder("cast"), {&hi}, {&io}));
  EXPECT_EQ(io.i, (std::vector<int32_t>{256, -7, 1 << 20}));
}

// A kernel with bf16 buffers computes what the f32 kernel computes on the
// bf16 values, rounded once at the end.
TEST(CpuKernelsTest, Bf16BuffersRunTheF32Kernel) {
  std::mt19937 rng(11);
  Buf a = randomFloats(rng, {2, 3, 4}), b = randomFloats(rng, {4, 5});
  Buf ah = bf16s(a.shape, a.f), bh = bf16s(b.shape, b.f);
  Buf a32 = floats(a.shape, valuesOf(ah)), b32 = floats(b.shape, valuesOf(bh));
  Buf want = floatOut({2, 3, 5});
  EXPECT_OK(run(KernelBuilder("matmul"), {&a32, &b32}, {&want}));

  Buf out = bf16Out({2, 3, 5});
  EXPECT_OK(run(KernelBuilder("matmul"), {&ah, &bh}, {&out}, 2));
  EXPECT_EQ(valuesOf(out), roundedToBf16(want.f));
  // Mixed: bf16 operands, an f32 result (no rounding).
  Buf wide = floatOut({2, 3, 5});
  EXPECT_OK(run(KernelBuilder("matmul"), {&ah, &bh}, {&wide}));
  EXPECT_EQ(wide.f, want.f);

  // Checks still see the shapes and report as for f32.
  Buf wrong = bf16Out({2, 3, 4});
  EXPECT_ERROR(run(KernelBuilder("matmul"), {&ah, &bh}, {&wrong}),
               "output 0 has shape [2, 3, 4]");
  // The reductions read bf16 and accumulate in f32.
  Buf sum = floatOut({2});
  EXPECT_OK(run(KernelBuilder("reduce").s("kind", "sum").ints("axes", {1, 2}),
                {&ah}, {&sum}));
  for (int batch = 0; batch < 2; ++batch) {
    float expected = 0;
    for (int j = 0; j < 12; ++j)
      expected += a32.f[batch * 12 + j];
    EXPECT_NEAR(sum.f[batch], expected, 1e-5);
  }
}

TEST(CpuKernelsTest, Bf16OutputMayAliasItsInput) {
  Buf x = bf16s({3}, {1.5f, -2.0f, 0.25f}), y = bf16s({3}, {0.5f, 1.0f, 4.0f});
  BufferView xv = x.view(), yv = y.view();
  EXPECT_OK(runCpuKernel(KernelBuilder("add"), {xv, yv}, {xv}, 1));
  EXPECT_EQ(valuesOf(x), (std::vector<float>{2.0f, -1.0f, 4.25f}));
}

// strata-memory-plan puts a reshape's output over an input that dies at it:
// the reshape then leaves the bytes as they are. A bf16 reshape copies bits,
// NaN payloads included, without a round trip through f32.
TEST(CpuKernelsTest, ReshapeInPlaceAndOfBf16CopiesBits) {
  std::vector<int64_t> flat = {6}, flatH = {4};
  Buf x = floats({2, 3}, {0, 1, 2, 3, 4, 5});
  BufferView in = x.view(), out = {in.data, plan::F32, flat};
  EXPECT_OK(runCpuKernel(KernelBuilder("reshape"), {in}, {out}, 1));
  EXPECT_EQ(x.f, (std::vector<float>{0, 1, 2, 3, 4, 5}));

  Buf h = bf16s({2, 2}, {1.0f, -3.5f, 0.0f, 2.0f});
  h.h[2] = 0x7fc1; // A NaN whose payload a conversion could drop.
  std::vector<uint16_t> bits = h.h;
  Buf r = bf16Out({4});
  EXPECT_OK(run(KernelBuilder("reshape"), {&h}, {&r}));
  EXPECT_EQ(r.h, bits);
  BufferView hv = h.view(), same = {hv.data, plan::BF16, flatH};
  EXPECT_OK(runCpuKernel(KernelBuilder("reshape"), {hv}, {same}, 1));
  EXPECT_EQ(h.h, bits);
}

// The cross_entropy group's gradient may lie over its logits
// (docs/memory-plan.md): written in place, it equals the gradient written
// elsewhere, in f32 and in bf16, on one thread and on several.
TEST(CpuKernelsTest, CrossEntropyGradMayOverwriteItsLogits) {
  std::mt19937 rng(12);
  constexpr int64_t kRows = 64, kVocab = 2048;
  Buf logits = randomFloats(rng, {kRows, kVocab}, -4.0f, 4.0f);
  std::vector<int32_t> labels(kRows);
  for (int32_t &label : labels)
    label = int32_t(rng() % kVocab);
  Buf targets = ints({kRows}, labels), dloss = floats({}, {0.75f});
  for (int threads : {1, 4}) {
    SCOPED_TRACE(threads);
    Buf want = floatOut({kRows, kVocab});
    EXPECT_OK(run(KernelBuilder("cross_entropy_grad"),
                  {&logits, &targets, &dloss}, {&want}, threads));
    Buf inPlace = logits;
    BufferView view = inPlace.view();
    EXPECT_OK(runCpuKernel(KernelBuilder("cross_entropy_grad"),
                           {view, targets.view(), dloss.view()}, {view},
                           threads));
    EXPECT_EQ(inPlace.f, want.f);

    Buf h = bf16s(logits.shape, logits.f);
    Buf wantH = bf16Out({kRows, kVocab});
    EXPECT_OK(run(KernelBuilder("cross_entropy_grad"), {&h, &targets, &dloss},
                  {&wantH}, threads));
    BufferView hv = h.view();
    EXPECT_OK(runCpuKernel(KernelBuilder("cross_entropy_grad"),
                           {hv, targets.view(), dloss.view()}, {hv}, threads));
    EXPECT_EQ(h.h, wantH.h);
  }
}

TEST(CpuKernelsTest, Bf16StateIsUpdatedInPlace) {
  Buf target = bf16s({2}, {1.0f, 256.0f}), value = floats({2}, {0.5f, 1.0f});
  EXPECT_OK(run(KernelBuilder("accumulate"), {&target, &value}, {}));
  // 256 + 1 rounds to 256 (even) in bf16.
  EXPECT_EQ(valuesOf(target), (std::vector<float>{1.5f, 256.0f}));
  EXPECT_OK(run(KernelBuilder("zero"), {&target}, {}));
  EXPECT_EQ(valuesOf(target), (std::vector<float>{0.0f, 0.0f}));
}

TEST(CpuKernelsTest, UnknownLocationIsSaid) {
  plan::Kernel kernel;
  kernel.set_op("bogus");
  std::string msg = message(checkCpuKernel(kernel, 0, 0));
  EXPECT_EQ(msg.rfind("<unknown location>: error: unknown kernel 'bogus'", 0),
            0u)
      << msg;
}

} // namespace
