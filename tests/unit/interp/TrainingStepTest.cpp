//===- TrainingStepTest.cpp - State and optimizer ops in the interpreter --===//
//
// graph.state, graph.accumulate/zero, graph.global_norm, graph.lr_schedule and
// the optimizer updates, run through evaluateStep and checked against hand
// computations of the formulas in docs/graph-dialect.md (PyTorch's AdamW and
// SGD).
//
//===----------------------------------------------------------------------===//

#include "strata/Interp/GraphInterpreter.h"

#include "strata/Dialect/Graph/IR/GraphDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <vector>

using namespace mlir;
using namespace strata;
using namespace strata::interp;

namespace {

class StepTest : public ::testing::Test {
protected:
  StepTest() {
    DialectRegistry registry;
    registry.insert<graph::GraphDialect, func::FuncDialect>();
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  /// Parses `source` and initializes its params and states (seed 0).
  void load(llvm::StringRef source) {
    module = parseSourceString<ModuleOp>(source, &context, "step.mlir");
    ASSERT_TRUE(module) << "parse error";
    auto initialized = initializeParameters(*module, 0);
    ASSERT_TRUE(static_cast<bool>(initialized))
        << llvm::toString(initialized.takeError());
    state = std::move(*initialized);
  }

  /// Runs function `name` with evaluateStep, expecting success.
  llvm::SmallVector<Tensor> step(llvm::StringRef name,
                                 llvm::ArrayRef<Tensor> inputs) {
    auto func = module->lookupSymbol<func::FuncOp>(name);
    EXPECT_TRUE(func) << name.str();
    auto results = evaluateStep(func, inputs, state);
    if (!results) {
      ADD_FAILURE() << llvm::toString(results.takeError());
      return {};
    }
    return *results;
  }

  std::vector<float> values(llvm::StringRef name) {
    llvm::ArrayRef<float> v = state[name].floats();
    return std::vector<float>(v.begin(), v.end());
  }

  void set(llvm::StringRef name, llvm::ArrayRef<float> v) {
    ASSERT_EQ(static_cast<int64_t>(v.size()), state[name].numElements());
    llvm::copy(v, state[name].floats().begin());
  }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
  ParamMap state;
};

Tensor f32(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<float> v) {
  return Tensor::fromFloats(shape, v);
}
Tensor step32(int64_t step) { return Tensor::fromInts({}, {step}, DType::I32); }

constexpr llvm::StringLiteral kModel = R"(
graph.param @w : tensor<4xf32> = normal(0.0, 1.0)
graph.param @b : tensor<2xf32> = ones
graph.state @w.grad : tensor<4xf32> {kind = "grad", state_of = @w}
graph.state @w.m : tensor<4xf32> {kind = "adam_m", state_of = @w}
graph.state @w.v : tensor<4xf32> {kind = "adam_v", state_of = @w}
graph.state @b.grad : tensor<2xf32> {kind = "grad", state_of = @b}
graph.state @b.momentum : tensor<2xf32> {kind = "momentum", state_of = @b}

func.func @grad(%dw: tensor<4xf32>) -> tensor<4xf32> {
  graph.accumulate @w.grad, %dw : tensor<4xf32>
  %g = graph.param_ref @w.grad : tensor<4xf32>
  return %g : tensor<4xf32>
}

func.func @norm() -> tensor<f32> {
  %gw = graph.param_ref @w.grad : tensor<4xf32>
  %gb = graph.param_ref @b.grad : tensor<2xf32>
  %n = graph.global_norm %gw, %gb : tensor<4xf32>, tensor<2xf32>
  return %n : tensor<f32>
}

func.func @adamw(%lr: tensor<f32>, %scale: tensor<f32>, %step: tensor<i32>) {
  graph.adamw_update @w, @w.grad, @w.m, @w.v, %lr, %scale, %step
      beta1 = 0.9 beta2 = 0.99 epsilon = 1.0e-3 weight_decay = 0.1
  graph.zero @w.grad
  return
}

func.func @sgd(%lr: tensor<f32>, %scale: tensor<f32>) {
  graph.sgd_update @b, @b.grad, @b.momentum, %lr, %scale momentum = 0.5 weight_decay = 0.2
  return
}

func.func @sgd_plain(%lr: tensor<f32>, %scale: tensor<f32>) {
  graph.sgd_update @b, @b.grad, %lr, %scale momentum = 0.0 weight_decay = 0.0
  return
}
)";

TEST_F(StepTest, StatesStartAtZero) {
  load(kModel);
  for (llvm::StringRef name :
       {"w.grad", "w.m", "w.v", "b.grad", "b.momentum"}) {
    ASSERT_TRUE(state.count(name)) << name.str();
    for (float v : values(name))
      EXPECT_EQ(v, 0.0f) << name.str();
  }
  EXPECT_EQ(values("b"), (std::vector<float>{1, 1}));
}

TEST_F(StepTest, AccumulateAddsAndZeroClears) {
  load(kModel);
  step("grad", {f32({4}, {1, 2, 3, 4})});
  auto results = step("grad", {f32({4}, {0.5f, -2, 0, 1})});
  // The param_ref after the accumulate reads the new value.
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(std::vector<float>(results[0].floats().begin(),
                               results[0].floats().end()),
            (std::vector<float>{1.5f, 0, 3, 5}));
  EXPECT_EQ(values("w.grad"), (std::vector<float>{1.5f, 0, 3, 5}));
}

TEST_F(StepTest, GlobalNormOverAllOperands) {
  load(kModel);
  set("w.grad", {1, 2, 3, 4});
  set("b.grad", {-2, 1});
  auto results = step("norm", {});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FLOAT_EQ(results[0].floats().front(), std::sqrt(35.0f));
}

/// PyTorch AdamW on one element, in double.
struct AdamWRef {
  double beta1 = 0.9, beta2 = 0.99, epsilon = 1e-3, weightDecay = 0.1;
  double param, m = 0, v = 0;

  void step(double grad, double lr, double scale, int64_t t) {
    double g = grad * scale;
    param *= 1 - lr * weightDecay;
    m = beta1 * m + (1 - beta1) * g;
    v = beta2 * v + (1 - beta2) * g * g;
    double mHat = m / (1 - std::pow(beta1, t));
    double vHat = v / (1 - std::pow(beta2, t));
    param -= lr * mHat / (std::sqrt(vHat) + epsilon);
  }
};

TEST_F(StepTest, AdamWMatchesTheFormulaOverTwoSteps) {
  load(kModel);
  std::vector<float> param0 = values("w");
  std::vector<AdamWRef> ref(4);
  for (size_t i = 0; i < 4; ++i)
    ref[i].param = param0[i];
  std::vector<std::vector<float>> grads = {{0.5f, -1, 2, 0.25f},
                                           {-0.3f, 0.7f, 1.5f, -2}};
  const float lr = 0.05f, scale = 0.5f;
  for (int64_t t = 1; t <= 2; ++t) {
    set("w.grad", grads[t - 1]);
    step("adamw", {Tensor::scalar(lr), Tensor::scalar(scale), step32(t)});
    for (size_t i = 0; i < 4; ++i)
      ref[i].step(grads[t - 1][i], lr, scale, t);
    std::vector<float> param = values("w"), m = values("w.m"),
                       v = values("w.v");
    for (size_t i = 0; i < 4; ++i) {
      EXPECT_NEAR(param[i], ref[i].param, 1e-5) << "step " << t << " " << i;
      EXPECT_NEAR(m[i], ref[i].m, 1e-6) << "step " << t << " " << i;
      EXPECT_NEAR(v[i], ref[i].v, 1e-6) << "step " << t << " " << i;
    }
    // The apply function zeroes the gradient after the update.
    EXPECT_EQ(values("w.grad"), (std::vector<float>(4, 0.0f)));
  }
}

TEST_F(StepTest, SgdWithMomentumAndWeightDecayMatchesTheFormula) {
  load(kModel);
  double param[2] = {1, 1}, buf[2] = {0, 0};
  std::vector<std::vector<float>> grads = {{0.4f, -1}, {1, 0.5f}};
  const float lr = 0.1f, scale = 2.0f;
  for (const std::vector<float> &grad : grads) {
    set("b.grad", grad);
    step("sgd", {Tensor::scalar(lr), Tensor::scalar(scale)});
    for (int i = 0; i < 2; ++i) {
      double g = grad[i] * scale + 0.2 * param[i];
      buf[i] = 0.5 * buf[i] + g;
      param[i] -= lr * buf[i];
    }
    std::vector<float> p = values("b"), b = values("b.momentum");
    for (int i = 0; i < 2; ++i) {
      EXPECT_NEAR(p[i], param[i], 1e-6);
      EXPECT_NEAR(b[i], buf[i], 1e-6);
    }
  }
}

TEST_F(StepTest, SgdWithoutMomentumIsPlainGradientDescent) {
  load(kModel);
  set("b.grad", {0.25f, -0.5f});
  step("sgd_plain", {Tensor::scalar(0.1f), Tensor::scalar(4.0f)});
  std::vector<float> p = values("b");
  EXPECT_NEAR(p[0], 1 - 0.1 * 0.25 * 4, 1e-6);
  EXPECT_NEAR(p[1], 1 + 0.1 * 0.5 * 4, 1e-6);
  EXPECT_EQ(values("b.momentum"), (std::vector<float>{0, 0}));
}

TEST_F(StepTest, EvaluateRejectsAFunctionThatWritesState) {
  load(kModel);
  auto result = evaluate(module->lookupSymbol<func::FuncOp>("grad"),
                         {f32({4}, {1, 2, 3, 4})}, state);
  ASSERT_FALSE(static_cast<bool>(result));
  EXPECT_EQ(llvm::toString(result.takeError()),
            "step.mlir:11:3: error: graph.accumulate: writes training state; "
            "run 'grad' with evaluateStep");
  EXPECT_EQ(values("w.grad"), (std::vector<float>(4, 0.0f)));
}

TEST_F(StepTest, AdamWRejectsStepZero) {
  load(kModel);
  auto result = evaluateStep(
      module->lookupSymbol<func::FuncOp>("adamw"),
      {Tensor::scalar(0.1f), Tensor::scalar(1.0f), step32(0)}, state);
  ASSERT_FALSE(static_cast<bool>(result));
  EXPECT_NE(llvm::toString(result.takeError())
                .find("step.mlir:24:3: error: graph.adamw_update: step 0"),
            std::string::npos);
}

/// §1 of the training spec, in double.
double expectedLr(bool cosine, double base, int64_t warmup, int64_t total,
                  double minLr, int64_t step) {
  if (warmup > 0 && step <= warmup)
    return base * step / warmup;
  if (!cosine)
    return base;
  double p =
      static_cast<double>(step - warmup) / std::max<int64_t>(1, total - warmup);
  p = std::clamp(p, 0.0, 1.0);
  return minLr + 0.5 * (base - minLr) * (1 + std::cos(M_PI * p));
}

TEST_F(StepTest, LrScheduleValues) {
  load(R"(
func.func @lr(%step: tensor<i32>) -> (tensor<f32>, tensor<f32>, tensor<f32>) {
  %c = graph.lr_schedule constant %step base_lr = 1.0e-2
  %w = graph.lr_schedule constant %step base_lr = 1.0e-2 warmup_steps = 4
  %k = graph.lr_schedule cosine %step base_lr = 1.0e-2 warmup_steps = 4 total_steps = 20 min_lr = 1.0e-3
  return %c, %w, %k : tensor<f32>, tensor<f32>, tensor<f32>
}
)");
  for (int64_t s : {1, 2, 4, 5, 10, 12, 19, 20, 21, 100}) {
    auto results = step("lr", {step32(s)});
    ASSERT_EQ(results.size(), 3u);
    EXPECT_FLOAT_EQ(results[0].floats().front(), 1e-2f) << "step " << s;
    EXPECT_FLOAT_EQ(results[1].floats().front(),
                    expectedLr(false, 1e-2, 4, 0, 0, s))
        << "step " << s;
    EXPECT_FLOAT_EQ(results[2].floats().front(),
                    expectedLr(true, 1e-2, 4, 20, 1e-3, s))
        << "step " << s;
  }
  // Hand values: the warmup ramp, the cosine midpoint and its end.
  EXPECT_FLOAT_EQ(step("lr", {step32(2)})[2].floats().front(), 5e-3f);
  EXPECT_FLOAT_EQ(step("lr", {step32(12)})[2].floats().front(), 5.5e-3f);
  EXPECT_FLOAT_EQ(step("lr", {step32(20)})[2].floats().front(), 1e-3f);
}

} // namespace
