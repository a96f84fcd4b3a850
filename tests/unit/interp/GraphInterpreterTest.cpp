//===- GraphInterpreterTest.cpp - The strata.graph reference interpreter --===//
//
// Small hand-written functions, each checked against a hand computation.
//
//===----------------------------------------------------------------------===//

#include "strata/Interp/GraphInterpreter.h"

#include "strata/Dialect/Graph/IR/GraphDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace mlir;
using namespace strata;
using namespace strata::interp;

namespace {

class InterpTest : public ::testing::Test {
protected:
  InterpTest() {
    DialectRegistry registry;
    registry.insert<graph::GraphDialect, func::FuncDialect>();
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
    context.allowUnregisteredDialects();
  }

  /// Parses `source`, evaluates its first function on `inputs` with freshly
  /// initialized parameters (seed 0) and returns the results, or the error
  /// message.
  llvm::Expected<llvm::SmallVector<Tensor>> run(llvm::StringRef source,
                                                llvm::ArrayRef<Tensor> inputs) {
    module = parseSourceString<ModuleOp>(source, &context, "test.mlir");
    if (!module)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "parse error");
    auto params = initializeParameters(*module, 0);
    if (!params)
      return params.takeError();
    auto func = *module->getOps<func::FuncOp>().begin();
    return evaluate(func, inputs, *params);
  }

  /// The single float result of `source`.
  std::vector<float> floats(llvm::StringRef source,
                            llvm::ArrayRef<Tensor> inputs) {
    auto results = run(source, inputs);
    if (!results) {
      ADD_FAILURE() << llvm::toString(results.takeError());
      return {};
    }
    EXPECT_TRUE(results->front().isFloat());
    llvm::ArrayRef<float> v = results->front().floats();
    return std::vector<float>(v.begin(), v.end());
  }

  std::string error(llvm::StringRef source, llvm::ArrayRef<Tensor> inputs) {
    auto results = run(source, inputs);
    if (results)
      return "(no error)";
    return llvm::toString(results.takeError());
  }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
};

Tensor f32(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<float> v) {
  return Tensor::fromFloats(shape, v);
}
Tensor i32(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> v) {
  return Tensor::fromInts(shape, v, DType::I32);
}

void expectNear(llvm::ArrayRef<float> actual, llvm::ArrayRef<float> expected,
                float tolerance = 1e-5f) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], tolerance) << "at " << i;
}

TEST_F(InterpTest, AddBroadcastsRows) {
  auto out = floats(R"(
    func.func @f(%a: tensor<2x3xf32>, %b: tensor<3xf32>) -> tensor<2x3xf32> {
      %0 = graph.add %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
      return %0 : tensor<2x3xf32>
    })",
                    {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({3}, {10, 20, 30})});
  expectNear(out, {11, 22, 33, 14, 25, 36});
}

TEST_F(InterpTest, MulBroadcastsBothSides) {
  auto out = floats(R"(
    func.func @f(%a: tensor<2x1xf32>, %b: tensor<1x3xf32>) -> tensor<2x3xf32> {
      %0 = graph.mul %a, %b : (tensor<2x1xf32>, tensor<1x3xf32>) -> tensor<2x3xf32>
      return %0 : tensor<2x3xf32>
    })",
                    {f32({2, 1}, {2, 3}), f32({1, 3}, {1, 10, 100})});
  expectNear(out, {2, 20, 200, 3, 30, 300});
}

TEST_F(InterpTest, ScalarAndRankExpandingBroadcast) {
  auto out = floats(R"(
    func.func @f(%s: tensor<f32>, %a: tensor<2x1x3xf32>, %b: tensor<2x3xf32>) -> tensor<2x2x3xf32> {
      %0 = graph.add %a, %b : (tensor<2x1x3xf32>, tensor<2x3xf32>) -> tensor<2x2x3xf32>
      %1 = graph.mul %s, %0 : (tensor<f32>, tensor<2x2x3xf32>) -> tensor<2x2x3xf32>
      return %1 : tensor<2x2x3xf32>
    })",
                    {f32({}, {2}), f32({2, 1, 3}, {0, 0, 0, 10, 10, 10}),
                     f32({2, 3}, {1, 2, 3, 4, 5, 6})});
  expectNear(out, {2, 4, 6, 8, 10, 12, 22, 24, 26, 28, 30, 32});
}

TEST_F(InterpTest, DynamicShapesThatDoNotBroadcastAreAnError) {
  const char *source = R"(
    func.func @f(%a: tensor<?xf32>, %b: tensor<3xf32>) -> tensor<3xf32> {
      %0 = graph.add %a, %b : (tensor<?xf32>, tensor<3xf32>) -> tensor<3xf32>
      return %0 : tensor<3xf32>
    })";
  std::string message = error(source, {f32({2}, {1, 2}), f32({3}, {1, 2, 3})});
  EXPECT_NE(message.find("graph.add: shapes [2] and [3] do not broadcast"),
            std::string::npos)
      << message;
}

TEST_F(InterpTest, SubDivMaxMinPow) {
  const char *source = R"(
    func.func @f(%a: tensor<2xf32>, %b: tensor<2xf32>) -> tensor<2xf32> {
      %0 = graph.sub %a, %b : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
      %1 = graph.div %0, %b : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
      %2 = graph.maximum %1, %a : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
      %3 = graph.minimum %2, %b : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
      %4 = graph.pow %3, %b : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
      return %4 : tensor<2xf32>
    })";
  // a = [8, 1], b = [2, 4]: sub [6, -3], div [3, -0.75], max [8, 1],
  // min [2, 1], pow [4, 1].
  expectNear(floats(source, {f32({2}, {8, 1}), f32({2}, {2, 4})}), {4, 1});
}

TEST_F(InterpTest, UnaryChain) {
  const char *source = R"(
    func.func @f(%x: tensor<3xf32>) -> tensor<3xf32> {
      %0 = graph.neg %x : tensor<3xf32>
      %1 = graph.relu %0 : tensor<3xf32>
      %2 = graph.exp %1 : tensor<3xf32>
      return %2 : tensor<3xf32>
    })";
  expectNear(floats(source, {f32({3}, {-1, 0, 2})}), {std::exp(1.0f), 1, 1});
}

TEST_F(InterpTest, ActivationsMatchFormulas) {
  const char *source = R"(
    func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
      %0 = graph.silu %x : tensor<2xf32>
      %1 = graph.gelu %x : tensor<2xf32>
      %2 = graph.add %0, %1 : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
      return %2 : tensor<2xf32>
    })";
  auto expected = [](float x) {
    return x / (1 + std::exp(-x)) +
           0.5f * x * (1 + std::erf(x / std::sqrt(2.f)));
  };
  expectNear(floats(source, {f32({2}, {0.5f, -1.5f})}),
             {expected(0.5f), expected(-1.5f)});
}

TEST_F(InterpTest, Matmul2D) {
  auto out = floats(
      R"(
    func.func @f(%a: tensor<2x3xf32>, %b: tensor<3x2xf32>) -> tensor<2x2xf32> {
      %0 = graph.matmul %a, %b : (tensor<2x3xf32>, tensor<3x2xf32>) -> tensor<2x2xf32>
      return %0 : tensor<2x2xf32>
    })",
      {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({3, 2}, {7, 8, 9, 10, 11, 12})});
  expectNear(out, {58, 64, 139, 154});
}

TEST_F(InterpTest, MatmulBroadcastsBatchDims) {
  // lhs [2, 1, 1, 2] x rhs [3, 2, 1]: batch [2, 3], each a 1x1 result.
  auto out = floats(
      R"(
    func.func @f(%a: tensor<2x1x1x2xf32>, %b: tensor<3x2x1xf32>) -> tensor<2x3x1x1xf32> {
      %0 = graph.matmul %a, %b : (tensor<2x1x1x2xf32>, tensor<3x2x1xf32>) -> tensor<2x3x1x1xf32>
      return %0 : tensor<2x3x1x1xf32>
    })",
      {f32({2, 1, 1, 2}, {1, 0, 0, 1}), f32({3, 2, 1}, {1, 2, 3, 4, 5, 6})});
  // a0 = [1, 0] picks the first row of each b; a1 = [0, 1] the second.
  expectNear(out, {1, 3, 5, 2, 4, 6});
}

TEST_F(InterpTest, MatmulTransposeB) {
  auto out =
      floats(R"(
    func.func @f(%a: tensor<2x1x2xf32>, %b: tensor<3x2xf32>) -> tensor<2x1x3xf32> {
      %0 = graph.matmul %a, %b transpose_b : (tensor<2x1x2xf32>, tensor<3x2xf32>) -> tensor<2x1x3xf32>
      return %0 : tensor<2x1x3xf32>
    })",
             {f32({2, 1, 2}, {1, 2, 3, 4}), f32({3, 2}, {1, 0, 0, 1, 1, 1})});
  expectNear(out, {1, 2, 3, 3, 4, 7});
}

TEST_F(InterpTest, ReduceSumKeepdimAndMean) {
  const char *source = R"(
    func.func @f(%x: tensor<2x3xf32>) -> tensor<2x1xf32> {
      %0 = graph.reduce sum %x axes = [1] keepdim : tensor<2x3xf32> -> tensor<2x1xf32>
      return %0 : tensor<2x1xf32>
    })";
  expectNear(floats(source, {f32({2, 3}, {1, 2, 3, 4, 5, 6})}), {6, 15});
  const char *mean = R"(
    func.func @f(%x: tensor<2x3xf32>) -> tensor<3xf32> {
      %0 = graph.reduce mean %x axes = [0] : tensor<2x3xf32> -> tensor<3xf32>
      return %0 : tensor<3xf32>
    })";
  expectNear(floats(mean, {f32({2, 3}, {1, 2, 3, 4, 5, 6})}), {2.5, 3.5, 4.5});
}

TEST_F(InterpTest, SoftmaxOverFirstAxis) {
  const char *source = R"(
    func.func @f(%x: tensor<2x2xf32>) -> tensor<2x2xf32> {
      %0 = graph.softmax %x axis = 0 : tensor<2x2xf32>
      return %0 : tensor<2x2xf32>
    })";
  float p = 1 / (1 + std::exp(-1.0f)); // softmax([1, 0])[0]
  expectNear(floats(source, {f32({2, 2}, {1, 5, 0, 5})}),
             {p, 0.5f, 1 - p, 0.5f});
}

TEST_F(InterpTest, LogSoftmaxLastAxis) {
  const char *source = R"(
    func.func @f(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
      %0 = graph.log_softmax %x axis = 1 : tensor<1x2xf32>
      return %0 : tensor<1x2xf32>
    })";
  expectNear(floats(source, {f32({1, 2}, {0, 0})}),
             {-std::log(2.0f), -std::log(2.0f)});
}

TEST_F(InterpTest, LayerNormAndRmsNorm) {
  const char *source = R"(
    func.func @f(%x: tensor<1x2xf32>, %w: tensor<2xf32>, %b: tensor<2xf32>) -> tensor<1x2xf32> {
      %0 = graph.layer_norm %x, %w, %b epsilon = 1.000000e-05
             : (tensor<1x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
      return %0 : tensor<1x2xf32>
    })";
  // mean 2, var 1: x̂ = [-1, 1] (up to eps).
  expectNear(floats(source, {f32({1, 2}, {1, 3}), f32({2}, {2, 3}),
                             f32({2}, {10, 20})}),
             {8, 23}, 1e-4f);
  const char *rms = R"(
    func.func @f(%x: tensor<1x2xf32>, %w: tensor<2xf32>) -> tensor<1x2xf32> {
      %0 = graph.rms_norm %x, %w epsilon = 1.000000e-06 : (tensor<1x2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
      return %0 : tensor<1x2xf32>
    })";
  // rms([3, 4]) = sqrt(12.5).
  float r = std::sqrt(12.5f);
  expectNear(floats(rms, {f32({1, 2}, {3, 4}), f32({2}, {1, 2})}),
             {3 / r, 8 / r}, 1e-4f);
}

TEST_F(InterpTest, LayoutOpsOnIntegers) {
  const char *source = R"(
    func.func @f(%x: tensor<2x3xi32>) -> tensor<5x2xi32> {
      %0 = graph.transpose %x permutation = [1, 0] : tensor<2x3xi32> -> tensor<3x2xi32>
      %1 = graph.slice %0 axis = 0 start = 1 end = 3 : tensor<3x2xi32> -> tensor<2x2xi32>
      %2 = graph.concat %0, %1 axis = 0 : (tensor<3x2xi32>, tensor<2x2xi32>) -> tensor<5x2xi32>
      %3 = graph.reshape %2 : tensor<5x2xi32> -> tensor<10xi32>
      %4 = graph.reshape %3 : tensor<10xi32> -> tensor<5x2xi32>
      return %4 : tensor<5x2xi32>
    })";
  auto results = run(source, {i32({2, 3}, {1, 2, 3, 4, 5, 6})});
  ASSERT_TRUE(static_cast<bool>(results))
      << llvm::toString(results.takeError());
  const Tensor &out = results->front();
  EXPECT_EQ(out.dtype(), DType::I32);
  EXPECT_EQ(out.shape(), llvm::ArrayRef<int64_t>({5, 2}));
  std::vector<int64_t> expected = {1, 4, 2, 5, 3, 6, 2, 5, 3, 6};
  EXPECT_EQ(std::vector<int64_t>(out.ints().begin(), out.ints().end()),
            expected);
}

TEST_F(InterpTest, ReshapeInfersDynamicDim) {
  const char *source = R"(
    func.func @f(%x: tensor<2x3xf32>) -> tensor<?x2xf32> {
      %0 = graph.reshape %x : tensor<2x3xf32> -> tensor<?x2xf32>
      return %0 : tensor<?x2xf32>
    })";
  auto results = run(source, {f32({2, 3}, {1, 2, 3, 4, 5, 6})});
  ASSERT_TRUE(static_cast<bool>(results))
      << llvm::toString(results.takeError());
  EXPECT_EQ(results->front().shape(), llvm::ArrayRef<int64_t>({3, 2}));
}

TEST_F(InterpTest, GatherAndOneHot) {
  const char *source = R"(
    func.func @f(%t: tensor<3x2xf32>, %i: tensor<2x2xi32>) -> tensor<2x2x2xf32> {
      %0 = graph.gather %t[%i] : (tensor<3x2xf32>, tensor<2x2xi32>) -> tensor<2x2x2xf32>
      return %0 : tensor<2x2x2xf32>
    })";
  expectNear(floats(source, {f32({3, 2}, {0, 1, 10, 11, 20, 21}),
                             i32({2, 2}, {2, 0, 1, 1})}),
             {20, 21, 0, 1, 10, 11, 10, 11});
  const char *oneHot = R"(
    func.func @f(%i: tensor<2xi32>) -> tensor<2x3xf32> {
      %0 = graph.one_hot %i num_classes = 3 : tensor<2xi32> -> tensor<2x3xf32>
      return %0 : tensor<2x3xf32>
    })";
  expectNear(floats(oneHot, {i32({2}, {2, 0})}), {0, 0, 1, 1, 0, 0});
}

TEST_F(InterpTest, GatherOutOfRangeIsLocatedError) {
  const char *source = R"(
    func.func @f(%t: tensor<3x2xf32>, %i: tensor<2xi32>) -> tensor<2x2xf32> {
      %0 = graph.gather %t[%i] : (tensor<3x2xf32>, tensor<2xi32>) -> tensor<2x2xf32>
      return %0 : tensor<2x2xf32>
    })";
  std::string message =
      error(source, {f32({3, 2}, {0, 1, 2, 3, 4, 5}), i32({2}, {1, 7})});
  EXPECT_NE(message.find("test.mlir:3:12: error: graph.gather: index 7 at "
                         "position 1 is out of range [0, 3)"),
            std::string::npos)
      << message;
}

TEST_F(InterpTest, IotaAndCrossEntropy) {
  const char *source = R"(
    func.func @f(%logits: tensor<2x4xf32>) -> tensor<f32> {
      %t = graph.iota : tensor<2xi32>
      %0 = graph.cross_entropy %logits, %t : (tensor<2x4xf32>, tensor<2xi32>) -> tensor<f32>
      return %0 : tensor<f32>
    })";
  // Uniform logits: ln 4 whatever the targets.
  expectNear(floats(source, {f32({2, 4}, std::vector<float>(8, 0.5f))}),
             {std::log(4.0f)});
}

TEST_F(InterpTest, CrossEntropyBadTarget) {
  const char *source = R"(
    func.func @f(%logits: tensor<2x4xf32>, %t: tensor<2xi32>) -> tensor<f32> {
      %0 = graph.cross_entropy %logits, %t : (tensor<2x4xf32>, tensor<2xi32>) -> tensor<f32>
      return %0 : tensor<f32>
    })";
  std::string message =
      error(source, {f32({2, 4}, std::vector<float>(8, 0)), i32({2}, {0, -1})});
  EXPECT_NE(message.find("target -1 at position 1 is out of range [0, 4)"),
            std::string::npos)
      << message;
}

TEST_F(InterpTest, CastRoundsThroughBf16) {
  const char *source = R"(
    func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
      %0 = graph.cast %x : tensor<2xf32> -> tensor<2xbf16>
      %1 = graph.cast %0 : tensor<2xbf16> -> tensor<2xf32>
      return %1 : tensor<2xf32>
    })";
  // bf16 keeps 8 significant bits: 1.01 -> 1.0078125; 1 + 2^-9 -> 1.
  auto out = floats(source, {f32({2}, {1.01f, 1.001953125f})});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], 1.0078125f);
  EXPECT_EQ(out[1], 1.0f);
}

TEST_F(InterpTest, CastFloatToInt) {
  const char *source = R"(
    func.func @f(%x: tensor<2xf32>) -> tensor<2xi32> {
      %0 = graph.cast %x : tensor<2xf32> -> tensor<2xi32>
      return %0 : tensor<2xi32>
    })";
  auto results = run(source, {f32({2}, {2.7f, -1.5f})});
  ASSERT_TRUE(static_cast<bool>(results))
      << llvm::toString(results.takeError());
  EXPECT_EQ(results->front().ints()[0], 2);
  EXPECT_EQ(results->front().ints()[1], -1);
}

TEST_F(InterpTest, AttentionWithOneKeyCopiesValue) {
  const char *source = R"(
    func.func @f(%q: tensor<1x2x1x2xf32>, %k: tensor<1x1x1x2xf32>, %v: tensor<1x1x1x3xf32>) -> tensor<1x2x1x3xf32> {
      %0 = graph.attention %q, %k, %v scale = 5.000000e-01 causal
             : (tensor<1x2x1x2xf32>, tensor<1x1x1x2xf32>, tensor<1x1x1x3xf32>) -> tensor<1x2x1x3xf32>
      return %0 : tensor<1x2x1x3xf32>
    })";
  expectNear(
      floats(source, {f32({1, 2, 1, 2}, {1, 2, 3, 4}),
                      f32({1, 1, 1, 2}, {5, 6}), f32({1, 1, 1, 3}, {7, 8, 9})}),
      {7, 8, 9, 7, 8, 9});
}

TEST_F(InterpTest, RopeRotatesByPosition) {
  const char *source = R"(
    func.func @f(%x: tensor<1x1x2x2xf32>) -> tensor<1x1x2x2xf32> {
      %0 = graph.rope %x theta = 1.000000e+04 : tensor<1x1x2x2xf32>
      return %0 : tensor<1x1x2x2xf32>
    })";
  // Position 0 is unrotated; position 1 rotates (1, 0) by 1 radian.
  expectNear(floats(source, {f32({1, 1, 2, 2}, {1, 0, 1, 0})}),
             {1, 0, std::cos(1.0f), std::sin(1.0f)});
}

TEST_F(InterpTest, TopKThenMoeRoundTrip) {
  // Each token goes to its top-1 expert with weight 1; with enough capacity,
  // combine(dispatch(x)) is x.
  const char *source = R"(
    func.func @f(%x: tensor<3x2xf32>, %router: tensor<3x2xf32>) -> tensor<3x2xf32> {
      %w, %i = graph.topk %router k = 1 : tensor<3x2xf32> -> (tensor<3x1xf32>, tensor<3x1xi32>)
      %ones = graph.constant dense<1.000000e+00> : tensor<3x1xf32>
      %d = graph.moe_dispatch %x, %i num_experts = 2 capacity = 3
             : (tensor<3x2xf32>, tensor<3x1xi32>) -> tensor<2x3x2xf32>
      %c = graph.moe_combine %d, %i, %ones
             : (tensor<2x3x2xf32>, tensor<3x1xi32>, tensor<3x1xf32>) -> tensor<3x2xf32>
      return %c : tensor<3x2xf32>
    })";
  expectNear(floats(source, {f32({3, 2}, {1, 2, 3, 4, 5, 6}),
                             f32({3, 2}, {0, 1, 1, 0, 0, 1})}),
             {1, 2, 3, 4, 5, 6});
}

TEST_F(InterpTest, MoeDropsOverCapacity) {
  const char *source = R"(
    func.func @f(%x: tensor<2x1xf32>, %i: tensor<2x1xi32>) -> tensor<1x1x1xf32> {
      %d = graph.moe_dispatch %x, %i num_experts = 1 capacity = 1
             : (tensor<2x1xf32>, tensor<2x1xi32>) -> tensor<1x1x1xf32>
      return %d : tensor<1x1x1xf32>
    })";
  expectNear(floats(source, {f32({2, 1}, {5, 6}), i32({2, 1}, {0, 0})}), {5});
}

TEST_F(InterpTest, ParametersAreInitialized) {
  const char *source = R"(
    graph.param @w : tensor<2xf32> = constant(3.000000e+00)
    graph.param @n : tensor<1000xf32> = normal(0.000000e+00, 1.000000e+00)
    func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
      %w = graph.param_ref @w : tensor<2xf32>
      %0 = graph.mul %x, %w : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
      return %0 : tensor<2xf32>
    })";
  expectNear(floats(source, {f32({2}, {1, 2})}), {3, 6});
  auto params = initializeParameters(*module, 0);
  ASSERT_TRUE(static_cast<bool>(params));
  const Tensor &n = (*params)["n"];
  double sum = 0;
  for (float v : n.floats())
    sum += v;
  EXPECT_NEAR(sum / 1000, 0.0, 0.1);
  EXPECT_NE(n.floats()[0], n.floats()[1]);
}

TEST_F(InterpTest, UnknownOpIsAnError) {
  const char *source = R"(
    func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
      %0 = "test.mystery"(%x) : (tensor<2xf32>) -> tensor<2xf32>
      return %0 : tensor<2xf32>
    })";
  std::string message = error(source, {f32({2}, {1, 2})});
  EXPECT_NE(message.find("test.mlir:3:12: error: test.mystery: op is not "
                         "supported by the interpreter"),
            std::string::npos)
      << message;
}

TEST_F(InterpTest, InputShapeMismatchIsAnError) {
  const char *source = R"(
    func.func @f(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
      return %x : tensor<?x2xf32>
    })";
  EXPECT_TRUE(
      static_cast<bool>(run(source, {f32({3, 2}, {1, 2, 3, 4, 5, 6})})));
  std::string message = error(source, {f32({1, 3}, {1, 2, 3})});
  EXPECT_NE(message.find("input 0 is f32[1, 3] but the argument is f32[?, 2]"),
            std::string::npos)
      << message;
}

} // namespace
