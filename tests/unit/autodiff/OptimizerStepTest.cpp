//===- OptimizerStepTest.cpp - @M.apply and accumulation by hand ----------===//
//
// One @M.apply step from random parameters, gradients and moments, checked
// against the update computed here in double precision from the formulas of
// spec §1 (PyTorch's AdamW and SGD, clip_grad_norm_, linear warmup then
// cosine). And accumulate = 2: two runs of @M.grad leave the mean of the two
// micro-batches' gradients.
//
//===----------------------------------------------------------------------===//

#include "AutodiffTestUtil.h"

#include <map>

using namespace mlir;
using namespace strata;
using namespace strata::autodifftest;

namespace {

/// A matrix (decayed) and a bias (not decayed).
constexpr llvm::StringLiteral kLinear = R"mlir(
graph.param @w : tensor<3x2xf32> = normal(0.0, 0.5)
graph.param @b : tensor<2xf32> = zeros
func.func @lin(%x: tensor<4x3xf32> {graph.name = "x"},
               %t: tensor<4xi32> {graph.name = "t"}) -> tensor<f32>
    attributes {graph.model} {
  %w = graph.param_ref @w : tensor<3x2xf32>
  %b = graph.param_ref @b : tensor<2xf32>
  %0 = graph.matmul %x, %w : (tensor<4x3xf32>, tensor<3x2xf32>) -> tensor<4x2xf32>
  %1 = graph.add %0, %b : (tensor<4x2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  %loss = graph.cross_entropy %1, %t : (tensor<4x2xf32>, tensor<4xi32>) -> tensor<f32>
  return %loss : tensor<f32>
}
)mlir";

const char *const kParams[] = {"w", "b"};

std::vector<double> toDouble(const Tensor &t) {
  return std::vector<double>(t.floats().begin(), t.floats().end());
}

/// The learning rate of spec §1 at 1-based `step`.
double learningRate(bool cosine, double base, int64_t warmup, int64_t total,
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

class OptimizerStepTest : public AutodiffTest {
protected:
  /// Parses kLinear, differentiates it with `options` and fills every
  /// parameter and state with random values (second moments positive).
  void setUp(const autodiff::StrataAutodiffOptions &options) {
    module = parse(kLinear);
    ASSERT_TRUE(module);
    ASSERT_TRUE(differentiate(*module, options));
    auto initial = interp::initializeParameters(*module, 0);
    ASSERT_TRUE(static_cast<bool>(initial))
        << llvm::toString(initial.takeError());
    state = std::move(*initial);
    for (auto &entry : state) {
      bool positive = llvm::StringRef(entry.getKey()).ends_with(".v");
      entry.getValue() =
          randomTensor(rng, entry.getValue().shape(),
                       positive ? Values::Positive : Values::Normal);
    }
  }

  /// Runs @lin.apply at `step`.
  void apply(int64_t step) {
    func::FuncOp func = getFunc(*module, ".apply");
    ASSERT_TRUE(func);
    auto results = interp::evaluateStep(
        func, {Tensor::fromInts({}, {step}, interp::DType::I32)}, state);
    ASSERT_TRUE(static_cast<bool>(results))
        << llvm::toString(results.takeError());
  }

  /// The clipping scale min(1, clip / (norm + 1e-6)) of the current grads.
  double clipScale(double clip) {
    if (clip == 0)
      return 1.0;
    double squares = 0;
    for (const char *name : kParams)
      for (float g : state[std::string(name) + ".grad"].floats())
        squares += static_cast<double>(g) * g;
    return std::min(1.0, clip / (std::sqrt(squares) + 1e-6));
  }

  void expectClose(llvm::StringRef name, llvm::ArrayRef<double> expected) {
    llvm::ArrayRef<float> actual = state[name].floats();
    ASSERT_EQ(actual.size(), expected.size()) << name.str();
    for (size_t i = 0; i < expected.size(); ++i)
      EXPECT_NEAR(actual[i], expected[i], 1e-5 + 1e-5 * std::fabs(expected[i]))
          << name.str() << "[" << i << "]";
  }

  void expectZero(llvm::StringRef name) {
    for (float v : state[name].floats())
      EXPECT_EQ(v, 0.0f) << name.str();
  }

  std::mt19937 rng{99};
  OwningOpRef<ModuleOp> module;
  ParamMap state;
};

TEST_F(OptimizerStepTest, AdamWWithClippingAndCosine) {
  autodiff::StrataAutodiffOptions options;
  options.optimizer = "adamw";
  options.lr = 0.1;
  options.beta1 = 0.8;
  options.beta2 = 0.9;
  options.epsilon = 1e-3;
  options.weightDecay = 0.25;
  options.clipNorm = 0.5;
  options.schedule = "cosine";
  options.warmupSteps = 2;
  options.totalSteps = 10;
  options.minLr = 0.01;
  setUp(options);
  ASSERT_FALSE(HasFatalFailure());

  const int64_t step = 5;
  double scale = clipScale(options.clipNorm);
  ASSERT_LT(scale, 1.0) << "the test means to clip";
  double lr = learningRate(true, options.lr, options.warmupSteps,
                           options.totalSteps, options.minLr, step);
  std::map<std::string, std::vector<double>> param, m, v;
  for (const char *name : kParams) {
    std::string p(name);
    std::vector<double> x = toDouble(state[p]),
                        g = toDouble(state[p + ".grad"]),
                        m1 = toDouble(state[p + ".m"]),
                        v1 = toDouble(state[p + ".v"]);
    double decay = state[p].rank() >= 2 ? options.weightDecay : 0.0;
    for (size_t i = 0; i < x.size(); ++i) {
      double gi = g[i] * scale;
      x[i] *= 1 - lr * decay;
      m1[i] = options.beta1 * m1[i] + (1 - options.beta1) * gi;
      v1[i] = options.beta2 * v1[i] + (1 - options.beta2) * gi * gi;
      double mHat = m1[i] / (1 - std::pow(options.beta1, step));
      double vHat = v1[i] / (1 - std::pow(options.beta2, step));
      x[i] -= lr * mHat / (std::sqrt(vHat) + options.epsilon);
    }
    param[p] = x;
    m[p] = m1;
    v[p] = v1;
  }

  apply(step);
  for (const char *name : kParams) {
    std::string p(name);
    expectClose(p, param[p]);
    expectClose(p + ".m", m[p]);
    expectClose(p + ".v", v[p]);
    expectZero(p + ".grad");
  }
}

TEST_F(OptimizerStepTest, SgdMomentumDuringWarmup) {
  autodiff::StrataAutodiffOptions options;
  options.optimizer = "sgd";
  options.lr = 0.2;
  options.momentum = 0.9;
  options.weightDecay = 0.05;
  options.warmupSteps = 4;
  setUp(options);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(state.count("w.momentum"));

  const int64_t step = 3;
  double lr = learningRate(false, options.lr, options.warmupSteps, 0, 0, step);
  EXPECT_DOUBLE_EQ(lr, 0.15);
  std::map<std::string, std::vector<double>> param, buffer;
  for (const char *name : kParams) {
    std::string p(name);
    std::vector<double> x = toDouble(state[p]),
                        g = toDouble(state[p + ".grad"]),
                        buf = toDouble(state[p + ".momentum"]);
    double decay = state[p].rank() >= 2 ? options.weightDecay : 0.0;
    for (size_t i = 0; i < x.size(); ++i) {
      double gi = g[i] + decay * x[i];
      buf[i] = options.momentum * buf[i] + gi;
      x[i] -= lr * buf[i];
    }
    param[p] = x;
    buffer[p] = buf;
  }

  apply(step);
  for (const char *name : kParams) {
    std::string p(name);
    expectClose(p, param[p]);
    expectClose(p + ".momentum", buffer[p]);
    expectZero(p + ".grad");
  }
}

TEST_F(OptimizerStepTest, PlainSgdWithClipping) {
  autodiff::StrataAutodiffOptions options;
  options.optimizer = "sgd";
  options.lr = 0.5;
  options.clipNorm = 0.25;
  setUp(options);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_FALSE(state.count("w.momentum")) << "no buffer without momentum";

  double scale = clipScale(options.clipNorm);
  std::map<std::string, std::vector<double>> param;
  for (const char *name : kParams) {
    std::string p(name);
    std::vector<double> x = toDouble(state[p]),
                        g = toDouble(state[p + ".grad"]);
    for (size_t i = 0; i < x.size(); ++i)
      x[i] -= options.lr * g[i] * scale;
    param[p] = x;
  }
  apply(1);
  for (const char *name : kParams) {
    expectClose(name, param[name]);
    expectZero(std::string(name) + ".grad");
  }
}

// accumulate = 2 seeds each micro-batch with 1/2: two runs of @M.grad leave
// the mean of the two batches' gradients, and each returns its own loss.
TEST_F(OptimizerStepTest, AccumulateAveragesMicroBatches) {
  autodiff::StrataAutodiffOptions twice;
  twice.accumulate = 2;
  OwningOpRef<ModuleOp> accumulating = parse(kLinear);
  OwningOpRef<ModuleOp> single = parse(kLinear);
  ASSERT_TRUE(accumulating && single);
  ASSERT_TRUE(differentiate(*accumulating, twice));
  ASSERT_TRUE(differentiate(*single));

  std::vector<std::vector<Tensor>> batches;
  for (int i = 0; i < 2; ++i)
    batches.push_back({randomTensor(rng, {4, 3}), randomInts(rng, {4}, 2)});

  auto initial = interp::initializeParameters(*single, 3);
  ASSERT_TRUE(static_cast<bool>(initial));
  // The mean of two single-batch gradients, each from zeroed states.
  std::map<std::string, std::vector<double>> mean;
  std::vector<float> losses;
  for (const std::vector<Tensor> &batch : batches) {
    ParamMap fresh = *initial;
    auto loss = interp::evaluateStep(getFunc(*single, ".grad"), batch, fresh);
    ASSERT_TRUE(static_cast<bool>(loss)) << llvm::toString(loss.takeError());
    losses.push_back(loss->front().floats().front());
    for (const char *name : kParams) {
      std::string grad = std::string(name) + ".grad";
      std::vector<double> &sum = mean[grad];
      sum.resize(fresh[grad].numElements());
      for (auto [total, g] : llvm::zip(sum, fresh[grad].floats()))
        total += 0.5 * g;
    }
  }

  state = *initial;
  for (auto [batch, expectedLoss] : llvm::zip(batches, losses)) {
    auto loss =
        interp::evaluateStep(getFunc(*accumulating, ".grad"), batch, state);
    ASSERT_TRUE(static_cast<bool>(loss)) << llvm::toString(loss.takeError());
    EXPECT_FLOAT_EQ(loss->front().floats().front(), expectedLoss);
  }
  for (const char *name : kParams)
    expectClose(std::string(name) + ".grad", mean[std::string(name) + ".grad"]);
}

} // namespace

// The whole training step through the interpreter: a few AdamW steps on one
// batch of the MLP example bring its loss well down.
TEST_F(OptimizerStepTest, TrainingStepsReduceTheLoss) {
  OwningOpRef<ModuleOp> mlp = importExample(
      "mlp.sg", "mnist_mlp",
      {{"B", "8"}, {"D", "10"}, {"hidden", "16"}, {"classes", "4"}});
  ASSERT_TRUE(mlp);
  autodiff::StrataAutodiffOptions options;
  options.lr = 0.02;
  options.weightDecay = 0.01;
  options.clipNorm = 1.0;
  ASSERT_TRUE(differentiate(*mlp, options));
  auto initial = interp::initializeParameters(*mlp, 5);
  ASSERT_TRUE(static_cast<bool>(initial));
  state = std::move(*initial);

  std::vector<Tensor> batch = {randomTensor(rng, {8, 10}),
                               randomInts(rng, {8}, 4)};
  func::FuncOp grad = getFunc(*mlp, ".grad"), apply = getFunc(*mlp, ".apply");
  std::vector<float> losses;
  for (int64_t step = 1; step <= 30; ++step) {
    auto loss = interp::evaluateStep(grad, batch, state);
    ASSERT_TRUE(static_cast<bool>(loss)) << llvm::toString(loss.takeError());
    losses.push_back(loss->front().floats().front());
    auto done = interp::evaluateStep(
        apply, {Tensor::fromInts({}, {step}, interp::DType::I32)}, state);
    ASSERT_TRUE(static_cast<bool>(done)) << llvm::toString(done.takeError());
  }
  EXPECT_NEAR(losses.front(), std::log(4.0f), 0.1f) << "starts near chance";
  EXPECT_LT(losses.back(), 0.5f * losses.front());
}
