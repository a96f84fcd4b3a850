//===- GraphGradients.cpp - Reverse-mode rules of the graph ops -----------===//
//
// DifferentiableOpInterface for every forward op: given d(loss)/d(results),
// build d(loss)/d(operands) with the op's location. Where a plain op
// expresses the gradient (add, reshape, transpose, concat, matmul), the rule
// uses it; otherwise it emits the gradient op of docs/graph-dialect.md
// ("Training ops") that mirrors a CPU backward kernel. Every rule is checked
// against finite differences in tests/unit/autodiff.
//
//===----------------------------------------------------------------------===//

#include "strata/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

#include <numeric>

using namespace mlir;
using namespace strata::graph;

#include "strata/Dialect/Graph/IR/GraphInterfaces.cpp.inc"

namespace {

using Gradients = FailureOr<SmallVector<Value>>;

RankedTensorType getTensorType(Value value) {
  return cast<RankedTensorType>(value.getType());
}

/// Whether gradients flow through `value`: a tensor of floats. Integer
/// operands (indices, targets) have none.
bool isDifferentiable(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  return type && isa<FloatType>(type.getElementType());
}

/// No gradient for any of `op`'s operands.
SmallVector<Value> noGradients(Operation *op) {
  return SmallVector<Value>(op->getNumOperands(), Value());
}

/// Sums `grad`, which has a broadcast result's shape, back to `type`: over
/// the leading dimensions `type` lacks and those where it has 1 (NumPy's
/// rule, undone). Returns `grad` itself when nothing was broadcast.
Value unbroadcast(OpBuilder &builder, Location loc, Value grad,
                  RankedTensorType type) {
  RankedTensorType gradType = getTensorType(grad);
  if (gradType == type)
    return grad;
  ArrayRef<int64_t> from = gradType.getShape(), to = type.getShape();
  int64_t leading = static_cast<int64_t>(from.size() - to.size());
  SmallVector<int64_t> axes;
  for (int64_t dim = 0, e = from.size(); dim < e; ++dim)
    if (dim < leading || (to[dim - leading] == 1 && from[dim] != 1))
      axes.push_back(dim);
  Value sum = grad;
  if (!axes.empty())
    sum = ReduceOp::create(builder, loc, grad, ReduceKind::sum, axes);
  if (getTensorType(sum) != type)
    sum = ReshapeOp::create(builder, loc, type, sum);
  return sum;
}

/// The rule shared by the elementwise unary ops with a unary_grad kind.
Gradients unaryRule(Operation *op, OpBuilder &builder,
                    ArrayRef<Value> resultGrads, UnaryKind kind) {
  if (!resultGrads[0])
    return noGradients(op);
  Value input = op->getOperand(0), result = op->getResult(0);
  return SmallVector<Value>{UnaryGradOp::create(builder, op->getLoc(), input,
                                                result, resultGrads[0], kind)};
}

/// The rule shared by the broadcasting binary ops whose derivative reads
/// the operands (mul, div, maximum, minimum, pow): one binary_grad, which
/// also sums over broadcast dimensions.
Gradients binaryRule(Operation *op, OpBuilder &builder,
                     ArrayRef<Value> resultGrads, BinaryKind kind) {
  Value lhs = op->getOperand(0), rhs = op->getOperand(1);
  if (!resultGrads[0] || !isDifferentiable(lhs))
    return noGradients(op);
  auto grad = BinaryGradOp::create(builder, op->getLoc(), lhs, rhs,
                                   resultGrads[0], kind);
  return SmallVector<Value>{grad.getLhsGrad(), grad.getRhsGrad()};
}

/// lhs @ rhs with the given transposes, summed back to `type` over batch
/// dimensions that the product broadcast.
Value product(OpBuilder &builder, Location loc, Value lhs, Value rhs,
              bool transposeA, bool transposeB, RankedTensorType type) {
  Value result =
      MatmulOp::create(builder, loc, lhs, rhs, transposeA, transposeB);
  return unbroadcast(builder, loc, result, type);
}

/// `value` as a matrix: its leading dimensions folded into the rows.
Value foldRows(OpBuilder &builder, Location loc, Value value) {
  RankedTensorType type = getTensorType(value);
  ArrayRef<int64_t> shape = type.getShape();
  int64_t rows = std::accumulate(shape.begin(), shape.end() - 1, int64_t{1},
                                 std::multiplies<int64_t>());
  auto matrix =
      RankedTensorType::get({rows, shape.back()}, type.getElementType());
  return ReshapeOp::create(builder, loc, matrix, value);
}

} // namespace

//===----------------------------------------------------------------------===//
// Sources: no float operands, nothing to propagate.
//===----------------------------------------------------------------------===//

Gradients ParamRefOp::buildGradients(OpBuilder &, ArrayRef<Value>) {
  return SmallVector<Value>();
}

Gradients ConstantOp::buildGradients(OpBuilder &, ArrayRef<Value>) {
  return SmallVector<Value>();
}

Gradients IotaOp::buildGradients(OpBuilder &, ArrayRef<Value>) {
  return SmallVector<Value>();
}

Gradients OneHotOp::buildGradients(OpBuilder &, ArrayRef<Value>) {
  return noGradients(*this);
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

// d(a + b) = g, summed over what each side was broadcast along.
Gradients AddOp::buildGradients(OpBuilder &builder,
                                ArrayRef<Value> resultGrads) {
  Value grad = resultGrads[0];
  if (!grad || !isDifferentiable(getLhs()))
    return noGradients(*this);
  return SmallVector<Value>{
      unbroadcast(builder, getLoc(), grad, getTensorType(getLhs())),
      unbroadcast(builder, getLoc(), grad, getTensorType(getRhs()))};
}

// d(a - b) = (g, -g); the negation runs on the (smaller) reduced gradient.
Gradients SubOp::buildGradients(OpBuilder &builder,
                                ArrayRef<Value> resultGrads) {
  Value grad = resultGrads[0];
  if (!grad || !isDifferentiable(getLhs()))
    return noGradients(*this);
  Value rhsGrad = unbroadcast(builder, getLoc(), grad, getTensorType(getRhs()));
  return SmallVector<Value>{
      unbroadcast(builder, getLoc(), grad, getTensorType(getLhs())),
      NegOp::create(builder, getLoc(), rhsGrad)};
}

Gradients MulOp::buildGradients(OpBuilder &builder,
                                ArrayRef<Value> resultGrads) {
  return binaryRule(*this, builder, resultGrads, BinaryKind::mul);
}

Gradients DivOp::buildGradients(OpBuilder &builder,
                                ArrayRef<Value> resultGrads) {
  return binaryRule(*this, builder, resultGrads, BinaryKind::div);
}

Gradients MaximumOp::buildGradients(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads) {
  return binaryRule(*this, builder, resultGrads, BinaryKind::maximum);
}

Gradients MinimumOp::buildGradients(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads) {
  return binaryRule(*this, builder, resultGrads, BinaryKind::minimum);
}

Gradients PowOp::buildGradients(OpBuilder &builder,
                                ArrayRef<Value> resultGrads) {
  return binaryRule(*this, builder, resultGrads, BinaryKind::pow);
}

Gradients NegOp::buildGradients(OpBuilder &builder,
                                ArrayRef<Value> resultGrads) {
  if (!resultGrads[0])
    return noGradients(*this);
  return SmallVector<Value>{NegOp::create(builder, getLoc(), resultGrads[0])};
}

Gradients ExpOp::buildGradients(OpBuilder &builder,
                                ArrayRef<Value> resultGrads) {
  return unaryRule(*this, builder, resultGrads, UnaryKind::exp);
}

Gradients LogOp::buildGradients(OpBuilder &builder,
                                ArrayRef<Value> resultGrads) {
  return unaryRule(*this, builder, resultGrads, UnaryKind::log);
}

Gradients SqrtOp::buildGradients(OpBuilder &builder,
                                 ArrayRef<Value> resultGrads) {
  return unaryRule(*this, builder, resultGrads, UnaryKind::sqrt);
}

Gradients RsqrtOp::buildGradients(OpBuilder &builder,
                                  ArrayRef<Value> resultGrads) {
  return unaryRule(*this, builder, resultGrads, UnaryKind::rsqrt);
}

Gradients TanhOp::buildGradients(OpBuilder &builder,
                                 ArrayRef<Value> resultGrads) {
  return unaryRule(*this, builder, resultGrads, UnaryKind::tanh);
}

Gradients SigmoidOp::buildGradients(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads) {
  return unaryRule(*this, builder, resultGrads, UnaryKind::sigmoid);
}

Gradients ReluOp::buildGradients(OpBuilder &builder,
                                 ArrayRef<Value> resultGrads) {
  return unaryRule(*this, builder, resultGrads, UnaryKind::relu);
}

Gradients SiluOp::buildGradients(OpBuilder &builder,
                                 ArrayRef<Value> resultGrads) {
  return unaryRule(*this, builder, resultGrads, UnaryKind::silu);
}

Gradients AbsOp::buildGradients(OpBuilder &builder,
                                ArrayRef<Value> resultGrads) {
  return unaryRule(*this, builder, resultGrads, UnaryKind::abs);
}

Gradients GeluOp::buildGradients(OpBuilder &builder,
                                 ArrayRef<Value> resultGrads) {
  if (!resultGrads[0])
    return noGradients(*this);
  return SmallVector<Value>{GeluGradOp::create(
      builder, getLoc(), getInput(), resultGrads[0], getApproximate())};
}

// A float-to-float cast passes the gradient back in the input's format; a
// cast from or to integers has none.
Gradients CastOp::buildGradients(OpBuilder &builder,
                                 ArrayRef<Value> resultGrads) {
  Value grad = resultGrads[0];
  if (!grad || !isDifferentiable(getInput()) || !isDifferentiable(getResult()))
    return noGradients(*this);
  RankedTensorType inputType = getTensorType(getInput());
  if (getTensorType(grad) == inputType)
    return SmallVector<Value>{grad};
  return SmallVector<Value>{CastOp::create(builder, getLoc(), inputType, grad)};
}

//===----------------------------------------------------------------------===//
// Contractions, reductions and normalizations
//===----------------------------------------------------------------------===//

// C = op(A) op(B): d op(A) = G op(B)^T, d op(B) = op(A)^T G, each transposed
// back when the operand is stored transposed, and summed over batch
// dimensions the operand was broadcast along.
Gradients MatmulOp::buildGradients(OpBuilder &builder,
                                   ArrayRef<Value> resultGrads) {
  Value grad = resultGrads[0];
  Value lhs = getLhs(), rhs = getRhs();
  if (!grad || !isDifferentiable(lhs))
    return noGradients(*this);
  Location loc = getLoc();
  bool ta = getTransposeA(), tb = getTransposeB();
  RankedTensorType lhsType = getTensorType(lhs), rhsType = getTensorType(rhs);

  Value lhsGrad = ta ? product(builder, loc, rhs, grad, tb, true, lhsType)
                     : product(builder, loc, grad, rhs, false, !tb, lhsType);

  // A weight [K, N] applied to a batch of rows [..., M, K]: fold the batch
  // into the rows so the gradient is one product instead of a batched one
  // and a sum over the batch.
  Value rhsGrad;
  if (rhsType.getRank() == 2 && lhsType.getRank() > 2 && !ta) {
    Value rows = foldRows(builder, loc, lhs);
    Value gradRows = foldRows(builder, loc, grad);
    rhsGrad = tb ? MatmulOp::create(builder, loc, gradRows, rows, true, false)
                 : MatmulOp::create(builder, loc, rows, gradRows, true, false);
  } else {
    rhsGrad = tb ? product(builder, loc, grad, lhs, true, ta, rhsType)
                 : product(builder, loc, lhs, grad, !ta, false, rhsType);
  }
  return SmallVector<Value>{lhsGrad, rhsGrad};
}

Gradients ReduceOp::buildGradients(OpBuilder &builder,
                                   ArrayRef<Value> resultGrads) {
  if (!resultGrads[0] || !isDifferentiable(getInput()))
    return noGradients(*this);
  return SmallVector<Value>{
      ReduceGradOp::create(builder, getLoc(), getInput(), getResult(),
                           resultGrads[0], getKind(), getAxes(), getKeepdim())};
}

Gradients SoftmaxOp::buildGradients(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads) {
  if (!resultGrads[0])
    return noGradients(*this);
  return SmallVector<Value>{SoftmaxGradOp::create(
      builder, getLoc(), getResult(), resultGrads[0], getAxis())};
}

Gradients LogSoftmaxOp::buildGradients(OpBuilder &builder,
                                       ArrayRef<Value> resultGrads) {
  if (!resultGrads[0])
    return noGradients(*this);
  return SmallVector<Value>{LogSoftmaxGradOp::create(
      builder, getLoc(), getResult(), resultGrads[0], getAxis())};
}

Gradients LayerNormOp::buildGradients(OpBuilder &builder,
                                      ArrayRef<Value> resultGrads) {
  if (!resultGrads[0])
    return noGradients(*this);
  auto grad =
      LayerNormGradOp::create(builder, getLoc(), getInput(), getWeight(),
                              resultGrads[0], getEpsilonAttr());
  return SmallVector<Value>{grad.getInputGrad(), grad.getWeightGrad(),
                            grad.getBiasGrad()};
}

Gradients RmsNormOp::buildGradients(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads) {
  if (!resultGrads[0])
    return noGradients(*this);
  auto grad = RmsNormGradOp::create(builder, getLoc(), getInput(), getWeight(),
                                    resultGrads[0], getEpsilonAttr());
  return SmallVector<Value>{grad.getInputGrad(), grad.getWeightGrad()};
}

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

Gradients ReshapeOp::buildGradients(OpBuilder &builder,
                                    ArrayRef<Value> resultGrads) {
  if (!resultGrads[0] || !isDifferentiable(getInput()))
    return noGradients(*this);
  return SmallVector<Value>{ReshapeOp::create(
      builder, getLoc(), getTensorType(getInput()), resultGrads[0])};
}

// The gradient goes back through the inverse permutation.
Gradients TransposeOp::buildGradients(OpBuilder &builder,
                                      ArrayRef<Value> resultGrads) {
  if (!resultGrads[0] || !isDifferentiable(getInput()))
    return noGradients(*this);
  ArrayRef<int64_t> permutation = getPermutation();
  SmallVector<int64_t> inverse(permutation.size());
  for (auto [dim, source] : llvm::enumerate(permutation))
    inverse[source] = static_cast<int64_t>(dim);
  return SmallVector<Value>{
      TransposeOp::create(builder, getLoc(), resultGrads[0], inverse)};
}

Gradients SliceOp::buildGradients(OpBuilder &builder,
                                  ArrayRef<Value> resultGrads) {
  if (!resultGrads[0] || !isDifferentiable(getInput()))
    return noGradients(*this);
  return SmallVector<Value>{SliceGradOp::create(
      builder, getLoc(), getTensorType(getInput()), resultGrads[0],
      getAxisAttr(), getStartAttr(), getEndAttr())};
}

// Each input gets its own slice of the gradient.
Gradients ConcatOp::buildGradients(OpBuilder &builder,
                                   ArrayRef<Value> resultGrads) {
  Value grad = resultGrads[0];
  if (!grad || !isDifferentiable(getResult()))
    return noGradients(*this);
  if (getInputs().size() == 1)
    return SmallVector<Value>{grad};
  SmallVector<Value> grads;
  uint64_t axis = getAxis(), offset = 0;
  for (Value input : getInputs()) {
    uint64_t size = getTensorType(input).getDimSize(axis);
    grads.push_back(
        SliceOp::create(builder, getLoc(), grad, axis, offset, offset + size));
    offset += size;
  }
  return grads;
}

Gradients GatherOp::buildGradients(OpBuilder &builder,
                                   ArrayRef<Value> resultGrads) {
  if (!resultGrads[0] || !isDifferentiable(getTable()))
    return noGradients(*this);
  return SmallVector<Value>{GatherGradOp::create(builder, getLoc(),
                                                 getTensorType(getTable()),
                                                 resultGrads[0], getIndices()),
                            Value()};
}

//===----------------------------------------------------------------------===//
// Transformer and mixture-of-experts ops
//===----------------------------------------------------------------------===//

Gradients RopeOp::buildGradients(OpBuilder &builder,
                                 ArrayRef<Value> resultGrads) {
  if (!resultGrads[0])
    return noGradients(*this);
  return SmallVector<Value>{
      RopeGradOp::create(builder, getLoc(), resultGrads[0], getThetaAttr())};
}

Gradients AttentionOp::buildGradients(OpBuilder &builder,
                                      ArrayRef<Value> resultGrads) {
  if (!resultGrads[0])
    return noGradients(*this);
  auto grad = AttentionGradOp::create(builder, getLoc(), getQuery(), getKey(),
                                      getValue(), resultGrads[0],
                                      getScaleAttr(), getCausalAttr());
  return SmallVector<Value>{grad.getQueryGrad(), grad.getKeyGrad(),
                            grad.getValueGrad()};
}

// Only the values carry a gradient; the indices are integers.
Gradients TopKOp::buildGradients(OpBuilder &builder,
                                 ArrayRef<Value> resultGrads) {
  if (!resultGrads[0] || !isDifferentiable(getInput()))
    return noGradients(*this);
  return SmallVector<Value>{TopKGradOp::create(builder, getLoc(),
                                               getTensorType(getInput()),
                                               resultGrads[0], getIndices())};
}

Gradients MoeDispatchOp::buildGradients(OpBuilder &builder,
                                        ArrayRef<Value> resultGrads) {
  if (!resultGrads[0])
    return noGradients(*this);
  return SmallVector<Value>{
      MoeDispatchGradOp::create(builder, getLoc(), getTensorType(getInput()),
                                resultGrads[0], getIndices()),
      Value()};
}

Gradients MoeCombineOp::buildGradients(OpBuilder &builder,
                                       ArrayRef<Value> resultGrads) {
  if (!resultGrads[0])
    return noGradients(*this);
  auto grad =
      MoeCombineGradOp::create(builder, getLoc(), getExpertOutputs(),
                               getIndices(), getWeights(), resultGrads[0]);
  return SmallVector<Value>{grad.getExpertOutputsGrad(), Value(),
                            grad.getWeightsGrad()};
}

Gradients CrossEntropyOp::buildGradients(OpBuilder &builder,
                                         ArrayRef<Value> resultGrads) {
  if (!resultGrads[0])
    return noGradients(*this);
  return SmallVector<Value>{
      CrossEntropyGradOp::create(builder, getLoc(), getLogits(), getTargets(),
                                 resultGrads[0]),
      Value()};
}
