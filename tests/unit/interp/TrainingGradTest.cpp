//===- TrainingGradTest.cpp - Gradient ops against finite differences -----===//
//
// Every gradient op of GraphTrainingOps.td, evaluated by the interpreter, is
// compared with central finite differences of its forward op, also evaluated
// by the interpreter, on random non-zero inputs. The loss is a random
// projection L = sum(forward(x) * w), so the gradient op's `grad` is w.
//
//===----------------------------------------------------------------------===//

#include "strata/Interp/GraphInterpreter.h"

#include "strata/Dialect/Graph/IR/GraphDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/FormatVariadic.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

using namespace mlir;
using namespace strata;
using namespace strata::interp;

namespace {

class GradTest : public ::testing::Test {
protected:
  GradTest() {
    DialectRegistry registry;
    registry.insert<graph::GraphDialect, func::FuncDialect>();
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  /// Uniform in ±[low, high] (random sign), so no value sits at a kink.
  Tensor random(llvm::ArrayRef<int64_t> shape, float low = 0.2f,
                float high = 1.5f, bool positive = false) {
    Tensor t(DType::F32, shape);
    std::uniform_real_distribution<float> magnitude(low, high);
    std::bernoulli_distribution sign(0.5);
    for (float &v : t.floats())
      v = magnitude(rng) * (positive || sign(rng) ? 1.0f : -1.0f);
    return t;
  }

  /// Distinct values at least `gap` apart, in random order (max, min and
  /// topk keep their winners under a small perturbation).
  Tensor distinct(llvm::ArrayRef<int64_t> shape, float gap = 0.1f) {
    Tensor t(DType::F32, shape);
    std::vector<float> values(t.numElements());
    for (size_t i = 0; i < values.size(); ++i)
      values[i] = (static_cast<float>(i) - values.size() / 2.0f) * gap + 0.05f;
    std::shuffle(values.begin(), values.end(), rng);
    llvm::copy(values, t.floats().begin());
    return t;
  }

  func::FuncOp lookup(llvm::StringRef name) {
    return module->lookupSymbol<func::FuncOp>(name);
  }

  /// The loss of @forward on `inputs`.
  double loss(llvm::ArrayRef<Tensor> inputs) {
    auto results = evaluate(lookup("forward"), inputs, params);
    if (!results) {
      ADD_FAILURE() << llvm::toString(results.takeError());
      return 0;
    }
    return results->front().floats().front();
  }

  /// Parses `source` (functions @forward -> loss and @backward -> one
  /// gradient per entry of `wrt`, both taking `inputs`) and compares each
  /// gradient of @backward with central differences of @forward with
  /// respect to inputs[wrt[i]].
  void check(llvm::StringRef source, std::vector<Tensor> inputs,
             llvm::ArrayRef<int> wrt, float step = 1e-3f,
             double tolerance = 1e-2) {
    module = parseSourceString<ModuleOp>(source, &context, "grad.mlir");
    ASSERT_TRUE(module) << "parse error";
    auto initialized = initializeParameters(*module, 0);
    ASSERT_TRUE(static_cast<bool>(initialized))
        << llvm::toString(initialized.takeError());
    params = std::move(*initialized);
    auto grads = evaluate(lookup("backward"), inputs, params);
    ASSERT_TRUE(static_cast<bool>(grads)) << llvm::toString(grads.takeError());
    ASSERT_EQ(grads->size(), wrt.size());

    for (auto [n, arg] : llvm::enumerate(wrt)) {
      const Tensor &analytic = (*grads)[n];
      ASSERT_EQ(analytic.shape(), inputs[arg].shape()) << "gradient " << n;
      double diff = 0, norm = 0;
      for (int64_t i = 0; i < inputs[arg].numElements(); ++i) {
        float saved = inputs[arg].floats()[i];
        inputs[arg].floats()[i] = saved + step;
        double plus = loss(inputs);
        inputs[arg].floats()[i] = saved - step;
        double minus = loss(inputs);
        inputs[arg].floats()[i] = saved;
        double numeric = (plus - minus) / (2.0 * step);
        double delta = analytic.floats()[i] - numeric;
        diff += delta * delta;
        norm += numeric * numeric;
        EXPECT_NEAR(analytic.floats()[i], numeric,
                    2e-2 + 2e-2 * std::abs(numeric))
            << "gradient " << n << " (argument " << arg << "), element " << i;
      }
      // Relative error over the whole gradient; a gradient that is all
      // zeros (nothing reaches it) must be zero numerically too.
      if (norm > 1e-6)
        EXPECT_LT(std::sqrt(diff / norm), tolerance) << "gradient " << n;
      else
        EXPECT_LT(std::sqrt(diff), 1e-3) << "gradient " << n;
    }
  }

  std::mt19937 rng{1234};
  MLIRContext context;
  OwningOpRef<ModuleOp> module;
  ParamMap params;
};

Tensor i32(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> v) {
  return Tensor::fromInts(shape, v, DType::I32);
}

/// `sum(y * w)` over all of y's dimensions, as MLIR returning %loss.
std::string projection(llvm::StringRef y, llvm::StringRef w,
                       llvm::StringRef type, int rank) {
  std::string axes;
  for (int d = 0; d < rank; ++d)
    axes += (d ? ", " : "") + std::to_string(d);
  return llvm::formatv(R"(
  %proj = graph.mul {0}, {1} : ({2}, {2}) -> {2}
  %loss = graph.reduce sum %proj axes = [{3}] : {2} -> tensor<f32>
  return %loss : tensor<f32>)",
                       y, w, type, axes)
      .str();
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

TEST_F(GradTest, BinaryGradEveryKindWithBroadcast) {
  for (llvm::StringRef kind :
       {"add", "sub", "mul", "div", "maximum", "minimum", "pow"}) {
    SCOPED_TRACE(kind.str());
    std::string source =
        llvm::formatv(R"(
func.func @forward(%a: tensor<3x4xf32>, %b: tensor<4xf32>, %w: tensor<3x4xf32>) -> tensor<f32> {
  %y = graph.{0} %a, %b : (tensor<3x4xf32>, tensor<4xf32>) -> tensor<3x4xf32>
  {1}
}
func.func @backward(%a: tensor<3x4xf32>, %b: tensor<4xf32>, %w: tensor<3x4xf32>)
    -> (tensor<3x4xf32>, tensor<4xf32>) {
  %da, %db = graph.binary_grad {0} %a, %b, %w
      : (tensor<3x4xf32>, tensor<4xf32>, tensor<3x4xf32>) -> (tensor<3x4xf32>, tensor<4xf32>)
  return %da, %db : tensor<3x4xf32>, tensor<4xf32>
}
)",
                      kind, projection("%y", "%w", "tensor<3x4xf32>", 2))
            .str();
    // pow needs a positive base; maximum/minimum need operands that are
    // never within a step of each other.
    Tensor a = kind == "pow" ? random({3, 4}, 0.5f, 2.0f, /*positive=*/true)
                             : random({3, 4});
    Tensor b = random({4});
    if (kind == "maximum" || kind == "minimum") {
      Tensor values = distinct({4, 4}, 0.1f);
      a = Tensor::fromFloats({3, 4}, values.floats().take_front(12));
      b = Tensor::fromFloats({4}, values.floats().take_back(4));
    }
    check(source, {a, b, random({3, 4})}, {0, 1});
  }
}

TEST_F(GradTest, UnaryGradEveryKind) {
  for (llvm::StringRef kind : {"neg", "exp", "log", "sqrt", "rsqrt", "tanh",
                               "sigmoid", "relu", "silu", "abs"}) {
    SCOPED_TRACE(kind.str());
    std::string source =
        llvm::formatv(R"(
func.func @forward(%x: tensor<2x5xf32>, %w: tensor<2x5xf32>) -> tensor<f32> {
  %y = graph.{0} %x : tensor<2x5xf32>
  {1}
}
func.func @backward(%x: tensor<2x5xf32>, %w: tensor<2x5xf32>) -> tensor<2x5xf32> {
  %y = graph.{0} %x : tensor<2x5xf32>
  %dx = graph.unary_grad {0} %x, %y, %w : tensor<2x5xf32>
  return %dx : tensor<2x5xf32>
}
)",
                      kind, projection("%y", "%w", "tensor<2x5xf32>", 2))
            .str();
    bool positive = kind == "log" || kind == "sqrt" || kind == "rsqrt";
    check(source, {random({2, 5}, 0.3f, 1.5f, positive), random({2, 5})}, {0});
  }
}

TEST_F(GradTest, GeluGradBothApproximations) {
  for (llvm::StringRef approx : {"none", "tanh"}) {
    SCOPED_TRACE(approx.str());
    std::string source =
        llvm::formatv(R"(
func.func @forward(%x: tensor<2x5xf32>, %w: tensor<2x5xf32>) -> tensor<f32> {
  %y = graph.gelu %x approximate = {0} : tensor<2x5xf32>
  {1}
}
func.func @backward(%x: tensor<2x5xf32>, %w: tensor<2x5xf32>) -> tensor<2x5xf32> {
  %dx = graph.gelu_grad %x, %w approximate = {0} : tensor<2x5xf32>
  return %dx : tensor<2x5xf32>
}
)",
                      approx, projection("%y", "%w", "tensor<2x5xf32>", 2))
            .str();
    check(source, {random({2, 5}), random({2, 5})}, {0});
  }
}

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

TEST_F(GradTest, ReduceGradEveryKind) {
  for (llvm::StringRef kind : {"sum", "mean", "max", "min"}) {
    SCOPED_TRACE(kind.str());
    // Axes 0 and 2 without keepdim, then axis 1 with keepdim.
    std::string source = llvm::formatv(R"(
func.func @forward(%x: tensor<2x3x4xf32>, %w: tensor<3xf32>, %w2: tensor<2x1x4xf32>) -> tensor<f32> {
  %y = graph.reduce {0} %x axes = [0, 2] : tensor<2x3x4xf32> -> tensor<3xf32>
  %z = graph.reduce {0} %x axes = [1] keepdim : tensor<2x3x4xf32> -> tensor<2x1x4xf32>
  %py = graph.mul %y, %w : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %pz = graph.mul %z, %w2 : (tensor<2x1x4xf32>, tensor<2x1x4xf32>) -> tensor<2x1x4xf32>
  %ly = graph.reduce sum %py axes = [0] : tensor<3xf32> -> tensor<f32>
  %lz = graph.reduce sum %pz axes = [0, 1, 2] : tensor<2x1x4xf32> -> tensor<f32>
  %loss = graph.add %ly, %lz : (tensor<f32>, tensor<f32>) -> tensor<f32>
  return %loss : tensor<f32>
}
func.func @backward(%x: tensor<2x3x4xf32>, %w: tensor<3xf32>, %w2: tensor<2x1x4xf32>) -> tensor<2x3x4xf32> {
  %y = graph.reduce {0} %x axes = [0, 2] : tensor<2x3x4xf32> -> tensor<3xf32>
  %z = graph.reduce {0} %x axes = [1] keepdim : tensor<2x3x4xf32> -> tensor<2x1x4xf32>
  %dy = graph.reduce_grad {0} %x, %y, %w axes = [0, 2]
      : (tensor<2x3x4xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<2x3x4xf32>
  %dz = graph.reduce_grad {0} %x, %z, %w2 axes = [1] keepdim
      : (tensor<2x3x4xf32>, tensor<2x1x4xf32>, tensor<2x1x4xf32>) -> tensor<2x3x4xf32>
  %dx = graph.add %dy, %dz : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  return %dx : tensor<2x3x4xf32>
}
)",
                                       kind)
                             .str();
    check(source, {distinct({2, 3, 4}), random({3}), random({2, 1, 4})}, {0});
  }
}

TEST_F(GradTest, SoftmaxAndLogSoftmaxGradAlongEveryAxis) {
  for (llvm::StringRef op : {"softmax", "log_softmax"}) {
    for (int axis : {0, 1, 2}) {
      SCOPED_TRACE(op.str() + " axis " + std::to_string(axis));
      std::string source =
          llvm::formatv(R"(
func.func @forward(%x: tensor<2x3x4xf32>, %w: tensor<2x3x4xf32>) -> tensor<f32> {
  %y = graph.{0} %x axis = {1} : tensor<2x3x4xf32>
  {2}
}
func.func @backward(%x: tensor<2x3x4xf32>, %w: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %y = graph.{0} %x axis = {1} : tensor<2x3x4xf32>
  %dx = graph.{0}_grad %y, %w axis = {1} : tensor<2x3x4xf32>
  return %dx : tensor<2x3x4xf32>
}
)",
                        op, axis,
                        projection("%y", "%w", "tensor<2x3x4xf32>", 3))
              .str();
      check(source, {random({2, 3, 4}), random({2, 3, 4})}, {0});
    }
  }
}

TEST_F(GradTest, LayerNormGrad) {
  std::string source = R"(
func.func @forward(%x: tensor<3x6xf32>, %g: tensor<6xf32>, %b: tensor<6xf32>, %w: tensor<3x6xf32>) -> tensor<f32> {
  %y = graph.layer_norm %x, %g, %b epsilon = 1.0e-5
      : (tensor<3x6xf32>, tensor<6xf32>, tensor<6xf32>) -> tensor<3x6xf32>
)" + projection("%y", "%w", "tensor<3x6xf32>", 2) +
                       R"(
}
func.func @backward(%x: tensor<3x6xf32>, %g: tensor<6xf32>, %b: tensor<6xf32>, %w: tensor<3x6xf32>)
    -> (tensor<3x6xf32>, tensor<6xf32>, tensor<6xf32>) {
  %dx, %dg, %db = graph.layer_norm_grad %x, %g, %w epsilon = 1.0e-5
      : (tensor<3x6xf32>, tensor<6xf32>, tensor<3x6xf32>)
      -> (tensor<3x6xf32>, tensor<6xf32>, tensor<6xf32>)
  return %dx, %dg, %db : tensor<3x6xf32>, tensor<6xf32>, tensor<6xf32>
}
)";
  check(source, {random({3, 6}), random({6}), random({6}), random({3, 6})},
        {0, 1, 2});
}

TEST_F(GradTest, RmsNormGrad) {
  std::string source = R"(
func.func @forward(%x: tensor<3x6xf32>, %g: tensor<6xf32>, %w: tensor<3x6xf32>) -> tensor<f32> {
  %y = graph.rms_norm %x, %g epsilon = 1.0e-5
      : (tensor<3x6xf32>, tensor<6xf32>) -> tensor<3x6xf32>
)" + projection("%y", "%w", "tensor<3x6xf32>", 2) +
                       R"(
}
func.func @backward(%x: tensor<3x6xf32>, %g: tensor<6xf32>, %w: tensor<3x6xf32>)
    -> (tensor<3x6xf32>, tensor<6xf32>) {
  %dx, %dg = graph.rms_norm_grad %x, %g, %w epsilon = 1.0e-5
      : (tensor<3x6xf32>, tensor<6xf32>, tensor<3x6xf32>) -> (tensor<3x6xf32>, tensor<6xf32>)
  return %dx, %dg : tensor<3x6xf32>, tensor<6xf32>
}
)";
  check(source, {random({3, 6}), random({6}), random({3, 6})}, {0, 1});
}

//===----------------------------------------------------------------------===//
// Transformer ops
//===----------------------------------------------------------------------===//

TEST_F(GradTest, AttentionGradCausalGroupedQuery) {
  for (llvm::StringRef causal : {"", "causal"}) {
    SCOPED_TRACE(causal.empty() ? "full" : "causal");
    std::string source =
        llvm::formatv(R"(
func.func @forward(%q: tensor<1x4x3x4xf32>, %k: tensor<1x2x5x4xf32>, %v: tensor<1x2x5x2xf32>,
                   %w: tensor<1x4x3x2xf32>) -> tensor<f32> {
  %y = graph.attention %q, %k, %v scale = 5.000000e-01 {0}
      : (tensor<1x4x3x4xf32>, tensor<1x2x5x4xf32>, tensor<1x2x5x2xf32>) -> tensor<1x4x3x2xf32>
  {1}
}
func.func @backward(%q: tensor<1x4x3x4xf32>, %k: tensor<1x2x5x4xf32>, %v: tensor<1x2x5x2xf32>,
                    %w: tensor<1x4x3x2xf32>)
    -> (tensor<1x4x3x4xf32>, tensor<1x2x5x4xf32>, tensor<1x2x5x2xf32>) {
  %dq, %dk, %dv = graph.attention_grad %q, %k, %v, %w scale = 5.000000e-01 {0}
      : (tensor<1x4x3x4xf32>, tensor<1x2x5x4xf32>, tensor<1x2x5x2xf32>, tensor<1x4x3x2xf32>)
      -> (tensor<1x4x3x4xf32>, tensor<1x2x5x4xf32>, tensor<1x2x5x2xf32>)
  return %dq, %dk, %dv : tensor<1x4x3x4xf32>, tensor<1x2x5x4xf32>, tensor<1x2x5x2xf32>
}
)",
                      causal, projection("%y", "%w", "tensor<1x4x3x2xf32>", 4))
            .str();
    check(source,
          {random({1, 4, 3, 4}), random({1, 2, 5, 4}), random({1, 2, 5, 2}),
           random({1, 4, 3, 2})},
          {0, 1, 2});
  }
}

TEST_F(GradTest, RopeGrad) {
  std::string source = R"(
func.func @forward(%x: tensor<2x2x3x4xf32>, %w: tensor<2x2x3x4xf32>) -> tensor<f32> {
  %y = graph.rope %x theta = 1.0e4 : tensor<2x2x3x4xf32>
)" + projection("%y", "%w", "tensor<2x2x3x4xf32>", 4) +
                       R"(
}
func.func @backward(%x: tensor<2x2x3x4xf32>, %w: tensor<2x2x3x4xf32>) -> tensor<2x2x3x4xf32> {
  %dx = graph.rope_grad %w theta = 1.0e4 : tensor<2x2x3x4xf32>
  return %dx : tensor<2x2x3x4xf32>
}
)";
  check(source, {random({2, 2, 3, 4}), random({2, 2, 3, 4})}, {0});
}

//===----------------------------------------------------------------------===//
// Indexing, loss and MoE
//===----------------------------------------------------------------------===//

TEST_F(GradTest, GatherGradSumsRepeatedRows) {
  std::string source = R"(
func.func @forward(%t: tensor<5x3xf32>, %i: tensor<2x3xi32>, %w: tensor<2x3x3xf32>) -> tensor<f32> {
  %y = graph.gather %t[%i] : (tensor<5x3xf32>, tensor<2x3xi32>) -> tensor<2x3x3xf32>
)" + projection("%y", "%w", "tensor<2x3x3xf32>", 3) +
                       R"(
}
func.func @backward(%t: tensor<5x3xf32>, %i: tensor<2x3xi32>, %w: tensor<2x3x3xf32>) -> tensor<5x3xf32> {
  %dt = graph.gather_grad %w[%i] : (tensor<2x3x3xf32>, tensor<2x3xi32>) -> tensor<5x3xf32>
  return %dt : tensor<5x3xf32>
}
)";
  // Row 1 appears three times, row 2 never.
  check(source,
        {random({5, 3}), i32({2, 3}, {1, 0, 1, 4, 3, 1}), random({2, 3, 3})},
        {0});
}

TEST_F(GradTest, SliceGrad) {
  std::string source = R"(
func.func @forward(%x: tensor<3x6xf32>, %w: tensor<3x3xf32>) -> tensor<f32> {
  %y = graph.slice %x axis = 1 start = 1 end = 4 : tensor<3x6xf32> -> tensor<3x3xf32>
)" + projection("%y", "%w", "tensor<3x3xf32>", 2) +
                       R"(
}
func.func @backward(%x: tensor<3x6xf32>, %w: tensor<3x3xf32>) -> tensor<3x6xf32> {
  %dx = graph.slice_grad %w axis = 1 start = 1 end = 4 : tensor<3x3xf32> -> tensor<3x6xf32>
  return %dx : tensor<3x6xf32>
}
)";
  check(source, {random({3, 6}), random({3, 3})}, {0});
}

TEST_F(GradTest, CrossEntropyGradScalesByLossGradient) {
  std::string source = R"(
func.func @forward(%l: tensor<2x3x5xf32>, %t: tensor<2x3xi32>, %w: tensor<f32>) -> tensor<f32> {
  %ce = graph.cross_entropy %l, %t : (tensor<2x3x5xf32>, tensor<2x3xi32>) -> tensor<f32>
  %loss = graph.mul %ce, %w : (tensor<f32>, tensor<f32>) -> tensor<f32>
  return %loss : tensor<f32>
}
func.func @backward(%l: tensor<2x3x5xf32>, %t: tensor<2x3xi32>, %w: tensor<f32>) -> tensor<2x3x5xf32> {
  %dl = graph.cross_entropy_grad %l, %t, %w
      : (tensor<2x3x5xf32>, tensor<2x3xi32>, tensor<f32>) -> tensor<2x3x5xf32>
  return %dl : tensor<2x3x5xf32>
}
)";
  check(source,
        {random({2, 3, 5}), i32({2, 3}, {0, 4, 2, 2, 1, 3}),
         Tensor::scalar(1.7f)},
        {0});
}

TEST_F(GradTest, MoeDispatchGradWithDroppedAssignments) {
  std::string source = R"(
func.func @forward(%x: tensor<4x3xf32>, %i: tensor<4x2xi32>, %w: tensor<3x2x3xf32>) -> tensor<f32> {
  %y = graph.moe_dispatch %x, %i num_experts = 3 capacity = 2
      : (tensor<4x3xf32>, tensor<4x2xi32>) -> tensor<3x2x3xf32>
)" + projection("%y", "%w", "tensor<3x2x3xf32>", 3) +
                       R"(
}
func.func @backward(%x: tensor<4x3xf32>, %i: tensor<4x2xi32>, %w: tensor<3x2x3xf32>) -> tensor<4x3xf32> {
  %dx = graph.moe_dispatch_grad %w, %i : (tensor<3x2x3xf32>, tensor<4x2xi32>) -> tensor<4x3xf32>
  return %dx : tensor<4x3xf32>
}
)";
  // Expert 0 is chosen three times with capacity 2: the last is dropped.
  check(source,
        {random({4, 3}), i32({4, 2}, {0, 1, 0, 2, 1, 0, 2, 1}),
         random({3, 2, 3})},
        {0});
}

TEST_F(GradTest, MoeCombineGrad) {
  std::string source = R"(
func.func @forward(%e: tensor<3x2x3xf32>, %i: tensor<4x2xi32>, %p: tensor<4x2xf32>, %w: tensor<4x3xf32>) -> tensor<f32> {
  %y = graph.moe_combine %e, %i, %p
      : (tensor<3x2x3xf32>, tensor<4x2xi32>, tensor<4x2xf32>) -> tensor<4x3xf32>
)" + projection("%y", "%w", "tensor<4x3xf32>", 2) +
                       R"(
}
func.func @backward(%e: tensor<3x2x3xf32>, %i: tensor<4x2xi32>, %p: tensor<4x2xf32>, %w: tensor<4x3xf32>)
    -> (tensor<3x2x3xf32>, tensor<4x2xf32>) {
  %de, %dp = graph.moe_combine_grad %e, %i, %p, %w
      : (tensor<3x2x3xf32>, tensor<4x2xi32>, tensor<4x2xf32>, tensor<4x3xf32>)
      -> (tensor<3x2x3xf32>, tensor<4x2xf32>)
  return %de, %dp : tensor<3x2x3xf32>, tensor<4x2xf32>
}
)";
  check(source,
        {random({3, 2, 3}), i32({4, 2}, {0, 1, 0, 2, 1, 0, 2, 1}),
         random({4, 2}), random({4, 3})},
        {0, 2});
}

TEST_F(GradTest, TopKGrad) {
  std::string source = R"(
func.func @forward(%x: tensor<3x5xf32>, %w: tensor<3x2xf32>) -> tensor<f32> {
  %v, %i = graph.topk %x k = 2 : tensor<3x5xf32> -> (tensor<3x2xf32>, tensor<3x2xi32>)
)" + projection("%v", "%w", "tensor<3x2xf32>", 2) +
                       R"(
}
func.func @backward(%x: tensor<3x5xf32>, %w: tensor<3x2xf32>) -> tensor<3x5xf32> {
  %v, %i = graph.topk %x k = 2 : tensor<3x5xf32> -> (tensor<3x2xf32>, tensor<3x2xi32>)
  %dx = graph.topk_grad %w, %i : (tensor<3x2xf32>, tensor<3x2xi32>) -> tensor<3x5xf32>
  return %dx : tensor<3x5xf32>
}
)";
  check(source, {distinct({3, 5}), random({3, 2})}, {0});
}

TEST_F(GradTest, BadIndexIsALocatedError) {
  module = parseSourceString<ModuleOp>(R"(
func.func @f(%w: tensor<2x3xf32>, %i: tensor<2xi32>) -> tensor<4x3xf32> {
  %dt = graph.gather_grad %w[%i] : (tensor<2x3xf32>, tensor<2xi32>) -> tensor<4x3xf32>
  return %dt : tensor<4x3xf32>
}
)",
                                       &context, "bad.mlir");
  ASSERT_TRUE(module);
  ParamMap none;
  auto result = evaluate(*module->getOps<func::FuncOp>().begin(),
                         {Tensor(DType::F32, {2, 3}), i32({2}, {1, 4})}, none);
  ASSERT_FALSE(static_cast<bool>(result));
  EXPECT_EQ(llvm::toString(result.takeError()),
            "bad.mlir:3:9: error: graph.gather_grad: index 4 at position 1 is "
            "out of range [0, 4)");
}

} // namespace
