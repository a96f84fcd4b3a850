//===- GraphInferTest.cpp - inferReturnTypes on importer-style input ------===//
//
// The frontend calls inferReturnTypes on operands and attributes straight from
// a user's model, before any verifier has run. These tests feed it what a
// .mlir file cannot (ODS constraints reject that first) and check that it
// answers with a located diagnostic instead of crashing.
//
//===----------------------------------------------------------------------===//

#include "strata/Dialect/Graph/IR/GraphDialect.h"
#include "strata/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace strata::graph;

namespace {

class GraphInferTest : public ::testing::Test {
protected:
  GraphInferTest()
      : loc(FileLineColLoc::get(&context, "model.sg", 3, 7)),
        handler(&context, [this](Diagnostic &diag) {
          messages.push_back(diag.str());
          locations.push_back(diag.getLocation());
          return success();
        }) {
    context.loadDialect<GraphDialect>();
  }

  /// A value of `type`, as a block argument, standing for an import result.
  Value value(Type type) { return block.addArgument(type, loc); }

  RankedTensorType tensor(ArrayRef<int64_t> shape, Type elementType) {
    return RankedTensorType::get(shape, elementType);
  }
  Type f32() { return Float32Type::get(&context); }
  Type i32() { return IntegerType::get(&context, 32); }

  /// Infers `OpTy`'s result types from operands and inherent attributes the
  /// way the importer does: through the registered interface, with the
  /// attributes turned into properties first.
  template <typename OpTy>
  LogicalResult infer(ValueRange operands, ArrayRef<NamedAttribute> attrs,
                      SmallVectorImpl<Type> &types) {
    OperationState state(loc, OpTy::getOperationName());
    state.addOperands(operands);
    state.addAttributes(attrs);
    if constexpr (!std::is_same_v<typename OpTy::Properties, EmptyProperties>)
      (void)state.getOrAddProperties<typename OpTy::Properties>();
    DictionaryAttr dict = state.attributes.getDictionary(&context);
    RegisteredOperationName name = *state.name.getRegisteredInfo();
    if (state.getRawProperties() &&
        failed(name.setOpPropertiesFromAttribute(
            state.name, state.getRawProperties(), dict,
            [&]() { return emitError(loc); })))
      return failure();
    return OpTy::inferReturnTypes(&context, loc, state.operands, dict,
                                  state.getRawProperties(), {}, types);
  }

  MLIRContext context;
  Location loc;
  Block block;
  std::vector<std::string> messages;
  std::vector<Location> locations;
  ScopedDiagnosticHandler handler;
};

TEST_F(GraphInferTest, BroadcastPropagatesDynamicDims) {
  SmallVector<Type> types;
  Value lhs = value(tensor({ShapedType::kDynamic, 1}, f32()));
  Value rhs = value(tensor({8}, f32()));
  ASSERT_TRUE(succeeded(infer<AddOp>({lhs, rhs}, {}, types)));
  EXPECT_EQ(types[0], tensor({ShapedType::kDynamic, 8}, f32()));
  EXPECT_TRUE(messages.empty());
}

TEST_F(GraphInferTest, UnrankedOperandIsADiagnostic) {
  SmallVector<Type> types;
  Value lhs = value(UnrankedTensorType::get(f32()));
  Value rhs = value(tensor({8}, f32()));
  EXPECT_TRUE(failed(infer<AddOp>({lhs, rhs}, {}, types)));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0], "'graph.add' op expects lhs to be a ranked tensor of "
                         "floats or integers, got 'tensor<*xf32>'");
  EXPECT_EQ(locations[0], loc);
}

TEST_F(GraphInferTest, WrongElementTypesAreDiagnostics) {
  SmallVector<Type> types;
  Value table = value(tensor({4, 8}, f32()));
  Value floatIndices = value(tensor({2}, f32()));
  EXPECT_TRUE(failed(infer<GatherOp>({table, floatIndices}, {}, types)));
  Value ints = value(tensor({4}, i32()));
  EXPECT_TRUE(failed(infer<ExpOp>({ints}, {}, types)));
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0], "'graph.gather' op expects indices to be a ranked "
                         "tensor of integers, got 'tensor<2xf32>'");
  EXPECT_EQ(messages[1], "'graph.exp' op expects input to be a ranked tensor "
                         "of floats, got 'tensor<4xi32>'");
}

TEST_F(GraphInferTest, MissingAttributeIsADiagnostic) {
  SmallVector<Type> types;
  Builder b(&context);
  Value input = value(tensor({4, 8}, f32()));
  NamedAttribute kind(b.getStringAttr("kind"),
                      ReduceKindAttr::get(&context, ReduceKind::sum));
  EXPECT_TRUE(failed(infer<ReduceOp>({input}, {kind}, types)));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0], "'graph.reduce' op requires attribute 'axes'");
}

TEST_F(GraphInferTest, NoLocationMeansNoDiagnostic) {
  SmallVector<Type> types;
  Value lhs = value(tensor({4, 8}, f32()));
  Value rhs = value(tensor({7, 16}, f32()));
  MatmulOp::Properties properties;
  EXPECT_TRUE(failed(MatmulOp::inferReturnTypes(
      &context, std::nullopt, MatmulOp::Adaptor({lhs, rhs}, {}, properties),
      types)));
  EXPECT_TRUE(messages.empty());
}

TEST_F(GraphInferTest, MatmulInfersBatchAndTransposes) {
  SmallVector<Type> types;
  Builder b(&context);
  Value lhs = value(tensor({ShapedType::kDynamic, 1, 8, 4}, f32()));
  Value rhs = value(tensor({3, 16, 8}, f32()));
  NamedAttribute transposeA(b.getStringAttr("transpose_a"), b.getUnitAttr());
  NamedAttribute transposeB(b.getStringAttr("transpose_b"), b.getUnitAttr());
  ASSERT_TRUE(
      succeeded(infer<MatmulOp>({lhs, rhs}, {transposeA, transposeB}, types)));
  EXPECT_EQ(types[0], tensor({ShapedType::kDynamic, 3, 4, 16}, f32()));
}

TEST_F(GraphInferTest, BuildersInferResultTypes) {
  OpBuilder builder(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  builder.setInsertionPointToEnd(module->getBody());
  auto x =
      ConstantOp::create(builder, loc,
                         DenseElementsAttr::get(tensor({2, 3}, f32()),
                                                builder.getF32FloatAttr(1)));
  auto y = TransposeOp::create(builder, loc, x,
                               builder.getDenseI64ArrayAttr({1, 0}));
  auto topk = TopKOp::create(builder, loc, y, builder.getI64IntegerAttr(1));
  EXPECT_EQ(y.getType(), tensor({3, 2}, f32()));
  EXPECT_EQ(topk.getValues().getType(), tensor({3, 1}, f32()));
  EXPECT_EQ(topk.getIndices().getType(), tensor({3, 1}, i32()));
  EXPECT_TRUE(succeeded(mlir::verify(*module)));
}

} // namespace
