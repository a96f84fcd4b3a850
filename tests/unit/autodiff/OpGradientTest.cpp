//===- OpGradientTest.cpp - Each gradient rule against finite differences -===//
//
// One forward op per test, fed by parameters (so that its operand gradients
// land in `.grad` states) with small random values, never zeros. The loss is
// sum(op(params) * w) with random weights w, so every output element gets a
// different gradient.
//
//===----------------------------------------------------------------------===//

#include "AutodiffTestUtil.h"

#include "mlir/AsmParser/AsmParser.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace strata;
using namespace strata::autodifftest;

namespace {

/// A parameter of the tested op: its symbol (also the SSA name it is read
/// into), type, and how its values are drawn.
struct Param {
  std::string name;
  std::string type;
  Values values = Values::Normal;
};

class OpGradientTest : public AutodiffTest {
protected:
  /// Builds the loss module around `body`, which defines `%out` of type
  /// `outType` from the parameters (read as `%<name>`) and from `args`
  /// (extra function arguments, e.g. integer indices, given in `inputs` by
  /// name), differentiates it and checks every gradient entry.
  void check(llvm::ArrayRef<Param> params, llvm::StringRef body,
             llvm::StringRef outType, llvm::StringRef args = "",
             const llvm::StringMap<Tensor> &inputs = {},
             const Tolerance &tol = {}) {
    auto type =
        dyn_cast_or_null<RankedTensorType>(parseType(outType, &context));
    ASSERT_TRUE(type) << outType.str();

    std::string source;
    llvm::raw_string_ostream os(source);
    for (const Param &param : params)
      os << "graph.param @" << param.name << " : " << param.type
         << " = zeros\n";
    os << "func.func @m(%w: " << outType << " {graph.name = \"w\"}";
    if (!args.empty())
      os << ", " << args;
    os << ") -> tensor<f32> attributes {graph.model} {\n";
    for (const Param &param : params)
      os << "  %" << param.name << " = graph.param_ref @" << param.name << " : "
         << param.type << "\n";
    os << "  " << body << "\n";
    os << "  %prod = graph.mul %out, %w : (" << outType << ", " << outType
       << ") -> " << outType << "\n";
    if (type.getRank() == 0) {
      os << "  return %prod : tensor<f32>\n}\n";
    } else {
      SmallVector<std::string> axes;
      for (int64_t i = 0; i < type.getRank(); ++i)
        axes.push_back(std::to_string(i));
      os << "  %loss = graph.reduce sum %prod axes = ["
         << llvm::join(axes, ", ") << "] : " << outType
         << " -> tensor<f32>\n  return %loss : tensor<f32>\n}\n";
    }

    OwningOpRef<ModuleOp> module = parse(source);
    ASSERT_TRUE(module);
    ASSERT_TRUE(differentiate(*module)) << source;

    std::mt19937 rng(1234);
    auto state = interp::initializeParameters(*module, 0);
    ASSERT_TRUE(static_cast<bool>(state)) << llvm::toString(state.takeError());
    for (const Param &param : params) {
      auto paramType = cast<RankedTensorType>(parseType(param.type, &context));
      (*state)[param.name] =
          randomTensor(rng, paramType.getShape(), param.values);
    }
    std::vector<Tensor> values = makeInputs(getFunc(*module), rng, inputs);
    expectGradientsMatch(*module, values, std::move(*state), rng, tol);
  }
};

//===----------------------------------------------------------------------===//
// Elementwise binary ops, with broadcasting
//===----------------------------------------------------------------------===//

TEST_F(OpGradientTest, AddBroadcastsBias) {
  check({{"x", "tensor<3x4xf32>"}, {"b", "tensor<4xf32>"}},
        "%out = graph.add %x, %b : (tensor<3x4xf32>, tensor<4xf32>) -> "
        "tensor<3x4xf32>",
        "tensor<3x4xf32>");
}

TEST_F(OpGradientTest, AddSameShape) {
  check({{"x", "tensor<2x3xf32>"}, {"y", "tensor<2x3xf32>"}},
        "%out = graph.add %x, %y : (tensor<2x3xf32>, tensor<2x3xf32>) -> "
        "tensor<2x3xf32>",
        "tensor<2x3xf32>");
}

TEST_F(OpGradientTest, SubBroadcastsOnes) {
  check({{"x", "tensor<1x4xf32>"}, {"y", "tensor<3x1xf32>"}},
        "%out = graph.sub %x, %y : (tensor<1x4xf32>, tensor<3x1xf32>) -> "
        "tensor<3x4xf32>",
        "tensor<3x4xf32>");
}

TEST_F(OpGradientTest, Mul) {
  check({{"x", "tensor<2x3x4xf32>"}, {"y", "tensor<3x1xf32>"}},
        "%out = graph.mul %x, %y : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> "
        "tensor<2x3x4xf32>",
        "tensor<2x3x4xf32>");
}

TEST_F(OpGradientTest, Div) {
  check({{"x", "tensor<3x4xf32>"}, {"y", "tensor<4xf32>", Values::Positive}},
        "%out = graph.div %x, %y : (tensor<3x4xf32>, tensor<4xf32>) -> "
        "tensor<3x4xf32>",
        "tensor<3x4xf32>");
}

// Distinct and DistinctOffset values never tie.
TEST_F(OpGradientTest, Maximum) {
  check({{"x", "tensor<3x4xf32>", Values::Distinct},
         {"y", "tensor<3x4xf32>", Values::DistinctOffset}},
        "%out = graph.maximum %x, %y : (tensor<3x4xf32>, tensor<3x4xf32>) -> "
        "tensor<3x4xf32>",
        "tensor<3x4xf32>");
}

TEST_F(OpGradientTest, Minimum) {
  check({{"x", "tensor<3x4xf32>", Values::Distinct},
         {"y", "tensor<4xf32>", Values::DistinctOffset}},
        "%out = graph.minimum %x, %y : (tensor<3x4xf32>, tensor<4xf32>) -> "
        "tensor<3x4xf32>",
        "tensor<3x4xf32>");
}

TEST_F(OpGradientTest, Pow) {
  check({{"x", "tensor<3x4xf32>", Values::Positive}, {"y", "tensor<4xf32>"}},
        "%out = graph.pow %x, %y : (tensor<3x4xf32>, tensor<4xf32>) -> "
        "tensor<3x4xf32>",
        "tensor<3x4xf32>");
}

//===----------------------------------------------------------------------===//
// Elementwise unary ops
//===----------------------------------------------------------------------===//

/// A unary op on one [3, 4] parameter.
std::string unary(llvm::StringRef op) {
  return ("%out = graph." + op + " %x : tensor<3x4xf32>").str();
}

TEST_F(OpGradientTest, Neg) {
  check({{"x", "tensor<3x4xf32>"}}, unary("neg"), "tensor<3x4xf32>");
}

TEST_F(OpGradientTest, Exp) {
  check({{"x", "tensor<3x4xf32>"}}, unary("exp"), "tensor<3x4xf32>");
}

TEST_F(OpGradientTest, Log) {
  check({{"x", "tensor<3x4xf32>", Values::Positive}}, unary("log"),
        "tensor<3x4xf32>");
}

TEST_F(OpGradientTest, Sqrt) {
  check({{"x", "tensor<3x4xf32>", Values::Positive}}, unary("sqrt"),
        "tensor<3x4xf32>");
}

TEST_F(OpGradientTest, Rsqrt) {
  check({{"x", "tensor<3x4xf32>", Values::Positive}}, unary("rsqrt"),
        "tensor<3x4xf32>");
}

TEST_F(OpGradientTest, Tanh) {
  check({{"x", "tensor<3x4xf32>"}}, unary("tanh"), "tensor<3x4xf32>");
}

TEST_F(OpGradientTest, Sigmoid) {
  check({{"x", "tensor<3x4xf32>"}}, unary("sigmoid"), "tensor<3x4xf32>");
}

TEST_F(OpGradientTest, Relu) {
  check({{"x", "tensor<3x4xf32>", Values::AwayFromZero}}, unary("relu"),
        "tensor<3x4xf32>");
}

TEST_F(OpGradientTest, Silu) {
  check({{"x", "tensor<3x4xf32>"}}, unary("silu"), "tensor<3x4xf32>");
}

TEST_F(OpGradientTest, Abs) {
  check({{"x", "tensor<3x4xf32>", Values::AwayFromZero}}, unary("abs"),
        "tensor<3x4xf32>");
}

TEST_F(OpGradientTest, GeluExact) {
  check({{"x", "tensor<3x4xf32>"}}, unary("gelu"), "tensor<3x4xf32>");
}

TEST_F(OpGradientTest, GeluTanh) {
  check({{"x", "tensor<3x4xf32>"}},
        "%out = graph.gelu %x approximate = tanh : tensor<3x4xf32>",
        "tensor<3x4xf32>");
}

// f32 -> f64 -> f32: the interpreter keeps f64 exact, so the round trip is
// the identity and the gradient passes through both casts.
TEST_F(OpGradientTest, Cast) {
  check({{"x", "tensor<3x4xf32>"}},
        "%d = graph.cast %x : tensor<3x4xf32> -> tensor<3x4xf64>\n"
        "  %e = graph.exp %d : tensor<3x4xf64>\n"
        "  %out = graph.cast %e : tensor<3x4xf64> -> tensor<3x4xf32>",
        "tensor<3x4xf32>");
}

//===----------------------------------------------------------------------===//
// Matmul: transposes and broadcast batch dimensions
//===----------------------------------------------------------------------===//

TEST_F(OpGradientTest, Matmul) {
  check({{"a", "tensor<3x4xf32>"}, {"b", "tensor<4x5xf32>"}},
        "%out = graph.matmul %a, %b : (tensor<3x4xf32>, tensor<4x5xf32>) -> "
        "tensor<3x5xf32>",
        "tensor<3x5xf32>");
}

TEST_F(OpGradientTest, MatmulTransposeA) {
  check({{"a", "tensor<4x3xf32>"}, {"b", "tensor<4x5xf32>"}},
        "%out = graph.matmul %a, %b transpose_a : (tensor<4x3xf32>, "
        "tensor<4x5xf32>) -> tensor<3x5xf32>",
        "tensor<3x5xf32>");
}

TEST_F(OpGradientTest, MatmulTransposeB) {
  check({{"a", "tensor<3x4xf32>"}, {"b", "tensor<5x4xf32>"}},
        "%out = graph.matmul %a, %b transpose_b : (tensor<3x4xf32>, "
        "tensor<5x4xf32>) -> tensor<3x5xf32>",
        "tensor<3x5xf32>");
}

TEST_F(OpGradientTest, MatmulTransposeBoth) {
  check({{"a", "tensor<4x3xf32>"}, {"b", "tensor<5x4xf32>"}},
        "%out = graph.matmul %a, %b transpose_a transpose_b : "
        "(tensor<4x3xf32>, tensor<5x4xf32>) -> tensor<3x5xf32>",
        "tensor<3x5xf32>");
}

// A weight applied to a batch of rows (the folded-rows path).
TEST_F(OpGradientTest, MatmulBatchTimesWeight) {
  check({{"a", "tensor<2x3x4xf32>"}, {"b", "tensor<4x5xf32>"}},
        "%out = graph.matmul %a, %b : (tensor<2x3x4xf32>, tensor<4x5xf32>) -> "
        "tensor<2x3x5xf32>",
        "tensor<2x3x5xf32>");
}

TEST_F(OpGradientTest, MatmulBatchTimesTransposedWeight) {
  check({{"a", "tensor<2x3x4xf32>"}, {"b", "tensor<5x4xf32>"}},
        "%out = graph.matmul %a, %b transpose_b : (tensor<2x3x4xf32>, "
        "tensor<5x4xf32>) -> tensor<2x3x5xf32>",
        "tensor<2x3x5xf32>");
}

TEST_F(OpGradientTest, MatmulTransposedBatchTimesWeight) {
  check({{"a", "tensor<2x4x3xf32>"}, {"b", "tensor<4x5xf32>"}},
        "%out = graph.matmul %a, %b transpose_a : (tensor<2x4x3xf32>, "
        "tensor<4x5xf32>) -> tensor<2x3x5xf32>",
        "tensor<2x3x5xf32>");
}

TEST_F(OpGradientTest, MatmulMatrixTimesBatch) {
  check({{"a", "tensor<3x4xf32>"}, {"b", "tensor<2x4x5xf32>"}},
        "%out = graph.matmul %a, %b : (tensor<3x4xf32>, tensor<2x4x5xf32>) -> "
        "tensor<2x3x5xf32>",
        "tensor<2x3x5xf32>");
}

TEST_F(OpGradientTest, MatmulBroadcastBatchDims) {
  check({{"a", "tensor<2x1x3x4xf32>"}, {"b", "tensor<3x5x4xf32>"}},
        "%out = graph.matmul %a, %b transpose_b : (tensor<2x1x3x4xf32>, "
        "tensor<3x5x4xf32>) -> tensor<2x3x3x5xf32>",
        "tensor<2x3x3x5xf32>");
}

TEST_F(OpGradientTest, MatmulSameBatch) {
  check({{"a", "tensor<2x3x4xf32>"}, {"b", "tensor<2x4x5xf32>"}},
        "%out = graph.matmul %a, %b : (tensor<2x3x4xf32>, tensor<2x4x5xf32>) "
        "-> tensor<2x3x5xf32>",
        "tensor<2x3x5xf32>");
}

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

TEST_F(OpGradientTest, ReduceSum) {
  check({{"x", "tensor<2x3x4xf32>"}},
        "%out = graph.reduce sum %x axes = [0, 2] : tensor<2x3x4xf32> -> "
        "tensor<3xf32>",
        "tensor<3xf32>");
}

TEST_F(OpGradientTest, ReduceMeanKeepdim) {
  check({{"x", "tensor<3x4xf32>"}},
        "%out = graph.reduce mean %x axes = [1] keepdim : tensor<3x4xf32> -> "
        "tensor<3x1xf32>",
        "tensor<3x1xf32>");
}

TEST_F(OpGradientTest, ReduceMax) {
  check({{"x", "tensor<3x4xf32>", Values::Distinct}},
        "%out = graph.reduce max %x axes = [1] : tensor<3x4xf32> -> "
        "tensor<3xf32>",
        "tensor<3xf32>");
}

TEST_F(OpGradientTest, ReduceMin) {
  check({{"x", "tensor<3x4xf32>", Values::Distinct}},
        "%out = graph.reduce min %x axes = [0] keepdim : tensor<3x4xf32> -> "
        "tensor<1x4xf32>",
        "tensor<1x4xf32>");
}

TEST_F(OpGradientTest, Softmax) {
  check({{"x", "tensor<3x4xf32>"}},
        "%out = graph.softmax %x axis = 1 : tensor<3x4xf32>",
        "tensor<3x4xf32>");
}

TEST_F(OpGradientTest, SoftmaxInnerAxis) {
  check({{"x", "tensor<3x4x2xf32>"}},
        "%out = graph.softmax %x axis = 1 : tensor<3x4x2xf32>",
        "tensor<3x4x2xf32>");
}

TEST_F(OpGradientTest, LogSoftmax) {
  check({{"x", "tensor<3x4xf32>"}},
        "%out = graph.log_softmax %x axis = 0 : tensor<3x4xf32>",
        "tensor<3x4xf32>");
}

TEST_F(OpGradientTest, LayerNorm) {
  check({{"x", "tensor<2x3x4xf32>"},
         {"g", "tensor<4xf32>"},
         {"b", "tensor<4xf32>"}},
        "%out = graph.layer_norm %x, %g, %b epsilon = 1.000000e-05 : "
        "(tensor<2x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> "
        "tensor<2x3x4xf32>",
        "tensor<2x3x4xf32>");
}

TEST_F(OpGradientTest, RmsNorm) {
  check({{"x", "tensor<2x3x4xf32>"}, {"g", "tensor<4xf32>"}},
        "%out = graph.rms_norm %x, %g epsilon = 1.000000e-05 : "
        "(tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>",
        "tensor<2x3x4xf32>");
}

//===----------------------------------------------------------------------===//
// Shape manipulation and indexing
//===----------------------------------------------------------------------===//

TEST_F(OpGradientTest, ReshapeThenBroadcast) {
  check({{"x", "tensor<3x4xf32>"}, {"y", "tensor<2x6xf32>"}},
        "%r = graph.reshape %x : tensor<3x4xf32> -> tensor<2x6xf32>\n"
        "  %out = graph.mul %r, %y : (tensor<2x6xf32>, tensor<2x6xf32>) -> "
        "tensor<2x6xf32>",
        "tensor<2x6xf32>");
}

TEST_F(OpGradientTest, Transpose) {
  check({{"x", "tensor<2x3x4xf32>"}},
        "%out = graph.transpose %x permutation = [2, 0, 1] : "
        "tensor<2x3x4xf32> -> tensor<4x2x3xf32>",
        "tensor<4x2x3xf32>");
}

TEST_F(OpGradientTest, Slice) {
  check({{"x", "tensor<3x5xf32>"}},
        "%out = graph.slice %x axis = 1 start = 1 end = 4 : tensor<3x5xf32> "
        "-> tensor<3x3xf32>",
        "tensor<3x3xf32>");
}

// Slices that tile their input: the rule concatenates their gradients.
TEST_F(OpGradientTest, SlicesThatTile) {
  check({{"x", "tensor<3x5xf32>"}},
        "%a = graph.slice %x axis = 1 start = 0 end = 2 : tensor<3x5xf32> -> "
        "tensor<3x2xf32>\n"
        "  %b = graph.slice %x axis = 1 start = 2 end = 5 : tensor<3x5xf32> -> "
        "tensor<3x3xf32>\n"
        "  %c = graph.exp %a : tensor<3x2xf32>\n"
        "  %out = graph.concat %b, %c axis = 1 : (tensor<3x3xf32>, "
        "tensor<3x2xf32>) -> tensor<3x5xf32>",
        "tensor<3x5xf32>");
}

TEST_F(OpGradientTest, Concat) {
  check({{"x", "tensor<2x3xf32>"}, {"y", "tensor<2x2xf32>"}},
        "%out = graph.concat %x, %y, %x axis = 1 : (tensor<2x3xf32>, "
        "tensor<2x2xf32>, tensor<2x3xf32>) -> tensor<2x8xf32>",
        "tensor<2x8xf32>");
}

TEST_F(OpGradientTest, Gather) {
  check({{"table", "tensor<5x3xf32>"}},
        "%out = graph.gather %table[%idx] : (tensor<5x3xf32>, "
        "tensor<2x3xi32>) -> tensor<2x3x3xf32>",
        "tensor<2x3x3xf32>", "%idx: tensor<2x3xi32> {graph.name = \"idx\"}",
        {{"idx", Tensor::fromInts({2, 3}, {0, 3, 3, 4, 0, 1})}});
}

// iota and one_hot have no gradient; the parameter they scale does.
TEST_F(OpGradientTest, OneHotAndIota) {
  check({{"x", "tensor<4x5xf32>"}},
        "%i = graph.iota : tensor<4xi32>\n"
        "  %h = graph.one_hot %i num_classes = 5 : tensor<4xi32> -> "
        "tensor<4x5xf32>\n"
        "  %out = graph.mul %h, %x : (tensor<4x5xf32>, tensor<4x5xf32>) -> "
        "tensor<4x5xf32>",
        "tensor<4x5xf32>");
}

//===----------------------------------------------------------------------===//
// Transformer and mixture-of-experts ops
//===----------------------------------------------------------------------===//

TEST_F(OpGradientTest, Rope) {
  check({{"x", "tensor<1x2x3x6xf32>"}},
        "%out = graph.rope %x theta = 1.000000e+04 : tensor<1x2x3x6xf32>",
        "tensor<1x2x3x6xf32>");
}

TEST_F(OpGradientTest, Attention) {
  check({{"q", "tensor<2x2x3x4xf32>"},
         {"k", "tensor<2x2x3x4xf32>"},
         {"v", "tensor<2x2x3x4xf32>"}},
        "%out = graph.attention %q, %k, %v scale = 5.000000e-01 : "
        "(tensor<2x2x3x4xf32>, tensor<2x2x3x4xf32>, tensor<2x2x3x4xf32>) -> "
        "tensor<2x2x3x4xf32>",
        "tensor<2x2x3x4xf32>");
}

// Causal grouped-query attention: 4 query heads share 2 key/value heads.
TEST_F(OpGradientTest, AttentionCausalGrouped) {
  check({{"q", "tensor<1x4x3x2xf32>"},
         {"k", "tensor<1x2x3x2xf32>"},
         {"v", "tensor<1x2x3x2xf32>"}},
        "%out = graph.attention %q, %k, %v scale = 7.000000e-01 causal : "
        "(tensor<1x4x3x2xf32>, tensor<1x2x3x2xf32>, tensor<1x2x3x2xf32>) -> "
        "tensor<1x4x3x2xf32>",
        "tensor<1x4x3x2xf32>");
}

TEST_F(OpGradientTest, TopK) {
  check({{"x", "tensor<3x5xf32>", Values::Distinct}},
        "%out, %i = graph.topk %x k = 2 : tensor<3x5xf32> -> "
        "(tensor<3x2xf32>, tensor<3x2xi32>)",
        "tensor<3x2xf32>");
}

// Expert 0 gets three assignments for capacity 2: the last is dropped.
TEST_F(OpGradientTest, MoeDispatch) {
  check({{"x", "tensor<4x3xf32>"}},
        "%out = graph.moe_dispatch %x, %idx num_experts = 3 capacity = 2 : "
        "(tensor<4x3xf32>, tensor<4x2xi32>) -> tensor<3x2x3xf32>",
        "tensor<3x2x3xf32>", "%idx: tensor<4x2xi32> {graph.name = \"idx\"}",
        {{"idx", Tensor::fromInts({4, 2}, {0, 1, 2, 0, 0, 1, 2, 1})}});
}

TEST_F(OpGradientTest, MoeCombine) {
  check({{"e", "tensor<3x2x3xf32>"}, {"g", "tensor<4x2xf32>"}},
        "%out = graph.moe_combine %e, %idx, %g : (tensor<3x2x3xf32>, "
        "tensor<4x2xi32>, tensor<4x2xf32>) -> tensor<4x3xf32>",
        "tensor<4x3xf32>", "%idx: tensor<4x2xi32> {graph.name = \"idx\"}",
        {{"idx", Tensor::fromInts({4, 2}, {0, 1, 2, 0, 0, 1, 2, 1})}});
}

TEST_F(OpGradientTest, CrossEntropy) {
  check({{"logits", "tensor<2x3x5xf32>"}},
        "%out = graph.cross_entropy %logits, %t : (tensor<2x3x5xf32>, "
        "tensor<2x3xi32>) -> tensor<f32>",
        "tensor<f32>", "%t: tensor<2x3xi32> {graph.name = \"t\"}",
        {{"t", Tensor::fromInts({2, 3}, {0, 4, 2, 2, 1, 3})}});
}

// The same value used by several ops: its gradients are summed.
TEST_F(OpGradientTest, ValueUsedTwice) {
  check({{"x", "tensor<3x4xf32>"}},
        "%e = graph.exp %x : tensor<3x4xf32>\n"
        "  %out = graph.mul %e, %x : (tensor<3x4xf32>, tensor<3x4xf32>) -> "
        "tensor<3x4xf32>",
        "tensor<3x4xf32>");
}

} // namespace
