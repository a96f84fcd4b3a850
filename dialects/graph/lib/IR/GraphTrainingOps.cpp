//===- GraphTrainingOps.cpp - strata.graph training ops -------------------===//
//
// Type inference and verification of the gradient, state and optimizer ops
// (GraphTrainingOps.td). As in GraphOps.cpp, inferReturnTypes checks operand
// types and attributes itself: strata-autodiff builds these ops through it,
// so a bad rule gets a located diagnostic instead of a crash.
//
//===----------------------------------------------------------------------===//

#include "strata/Dialect/Graph/IR/GraphOps.h"
#include "strata/Dialect/Graph/IR/GraphShapes.h"

#include "GraphVerifyUtils.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
using namespace strata::graph;
using namespace strata::graph::detail;

//===----------------------------------------------------------------------===//
// Inference helpers
//===----------------------------------------------------------------------===//

/// Checks that `type` (operand `name`) has `shape` (compatible dimensions)
/// and the element type `elementType`; `what` describes `shape`.
static LogicalResult requireShape(std::optional<Location> location,
                                  StringRef opName, StringRef name,
                                  RankedTensorType type,
                                  ArrayRef<int64_t> shape, Type elementType,
                                  StringRef what) {
  if (type.getElementType() != elementType)
    return inferError(location, opName, "expects ", name,
                      " to have element type ", elementType, ", got ", type);
  bool compatible = type.getRank() == static_cast<int64_t>(shape.size());
  for (int64_t d = 0; compatible && d < type.getRank(); ++d)
    compatible = areCompatibleDims(type.getDimSize(d), shape[d]);
  if (!compatible)
    return inferError(
        location, opName, "expects ", name, " to have the shape of ", what, " ",
        RankedTensorType::get(shape, elementType), ", got ", type);
  return success();
}

//===----------------------------------------------------------------------===//
// Elementwise gradients
//===----------------------------------------------------------------------===//

LogicalResult BinaryGradOp::inferReturnTypes(MLIRContext *,
                                             std::optional<Location> location,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &types) {
  StringRef name = getOperationName();
  FailureOr<RankedTensorType> lhs =
      getTensor(location, name, "lhs", adaptor.getLhs(), ElementKind::Float);
  FailureOr<RankedTensorType> rhs =
      getTensor(location, name, "rhs", adaptor.getRhs(), ElementKind::Float);
  FailureOr<RankedTensorType> grad =
      getTensor(location, name, "grad", adaptor.getGrad(), ElementKind::Float);
  if (failed(lhs) || failed(rhs) || failed(grad) ||
      failed(requireAttr(location, name, adaptor.getKindAttr(), "kind")))
    return failure();
  if (failed(requireSameElementType(location, name, "lhs", *lhs, "rhs", *rhs)))
    return failure();
  std::optional<SmallVector<int64_t>> shape =
      broadcastShapes(lhs->getShape(), rhs->getShape());
  if (!shape)
    return inferError(location, name, "cannot broadcast ", *lhs, " with ",
                      *rhs);
  if (failed(requireShape(location, name, "grad", *grad, *shape,
                          lhs->getElementType(), "the broadcast result")))
    return failure();
  types.push_back(*lhs);
  types.push_back(*rhs);
  return success();
}

//===----------------------------------------------------------------------===//
// ReduceGradOp, SoftmaxGradOp, LogSoftmaxGradOp
//===----------------------------------------------------------------------===//

LogicalResult ReduceGradOp::inferReturnTypes(MLIRContext *,
                                             std::optional<Location> location,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &types) {
  StringRef name = getOperationName();
  FailureOr<RankedTensorType> input = getTensor(
      location, name, "input", adaptor.getInput(), ElementKind::Float);
  FailureOr<RankedTensorType> output = getTensor(
      location, name, "output", adaptor.getOutput(), ElementKind::Float);
  FailureOr<RankedTensorType> grad =
      getTensor(location, name, "grad", adaptor.getGrad(), ElementKind::Float);
  if (failed(input) || failed(output) || failed(grad) ||
      failed(requireAttr(location, name, adaptor.getKindAttr(), "kind")) ||
      failed(requireAttr(location, name, adaptor.getAxesAttr(), "axes")))
    return failure();
  FailureOr<SmallVector<int64_t>> reduced = inferReducedShape(
      location, name, *input, adaptor.getAxes(), adaptor.getKeepdim());
  if (failed(reduced))
    return failure();
  Type element = input->getElementType();
  if (failed(requireShape(location, name, "output", *output, *reduced, element,
                          "the reduced input")) ||
      failed(requireShape(location, name, "grad", *grad, *reduced, element,
                          "the reduced input")))
    return failure();
  types.push_back(*input);
  return success();
}

// The result types follow from AllTypesMatch (ODS infers them).

LogicalResult SoftmaxGradOp::verify() {
  return requireAxisInRange(
      getLoc(), getOperationName(), getAxis(),
      cast<RankedTensorType>(getOutput().getType()).getRank());
}

LogicalResult LogSoftmaxGradOp::verify() {
  return requireAxisInRange(
      getLoc(), getOperationName(), getAxis(),
      cast<RankedTensorType>(getOutput().getType()).getRank());
}

//===----------------------------------------------------------------------===//
// LayerNormGradOp, RmsNormGradOp
//===----------------------------------------------------------------------===//

/// Both norm gradients: input [..., D], weight [D], grad of input's shape.
/// Pushes the input's and `numWeightGrads` times the weight's type.
static LogicalResult inferNormGrad(std::optional<Location> location,
                                   StringRef name, Value input, Value weight,
                                   Value grad, FloatAttr epsilon,
                                   int numWeightGrads,
                                   SmallVectorImpl<Type> &types) {
  FailureOr<RankedTensorType> inputType = getTensorOfRank(
      location, name, "input", input, ElementKind::Float, 1, /*atLeast=*/true);
  FailureOr<RankedTensorType> weightType =
      getTensorOfRank(location, name, "weight", weight, ElementKind::Float, 1,
                      /*atLeast=*/false);
  FailureOr<RankedTensorType> gradType =
      getTensor(location, name, "grad", grad, ElementKind::Float);
  if (failed(inputType) || failed(weightType) || failed(gradType) ||
      failed(requirePositive(location, name, epsilon, "epsilon")))
    return failure();
  Type element = inputType->getElementType();
  if (failed(requireShape(location, name, "weight", *weightType,
                          inputType->getShape().take_back(), element,
                          "the input's last dimension")) ||
      failed(requireShape(location, name, "grad", *gradType,
                          inputType->getShape(), element, "input")))
    return failure();
  types.push_back(*inputType);
  types.append(numWeightGrads, *weightType);
  return success();
}

LogicalResult LayerNormGradOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> location, Adaptor adaptor,
    SmallVectorImpl<Type> &types) {
  return inferNormGrad(location, getOperationName(), adaptor.getInput(),
                       adaptor.getWeight(), adaptor.getGrad(),
                       adaptor.getEpsilonAttr(), 2, types);
}

LogicalResult RmsNormGradOp::inferReturnTypes(MLIRContext *,
                                              std::optional<Location> location,
                                              Adaptor adaptor,
                                              SmallVectorImpl<Type> &types) {
  return inferNormGrad(location, getOperationName(), adaptor.getInput(),
                       adaptor.getWeight(), adaptor.getGrad(),
                       adaptor.getEpsilonAttr(), 1, types);
}

//===----------------------------------------------------------------------===//
// AttentionGradOp, RopeGradOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionGradOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> location, Adaptor adaptor,
    SmallVectorImpl<Type> &types) {
  StringRef name = getOperationName();
  FailureOr<RankedTensorType> q =
      getTensorOfRank(location, name, "query", adaptor.getQuery(),
                      ElementKind::Float, 4, /*atLeast=*/false);
  FailureOr<RankedTensorType> k =
      getTensorOfRank(location, name, "key", adaptor.getKey(),
                      ElementKind::Float, 4, /*atLeast=*/false);
  FailureOr<RankedTensorType> v =
      getTensorOfRank(location, name, "value", adaptor.getValue(),
                      ElementKind::Float, 4, /*atLeast=*/false);
  FailureOr<RankedTensorType> grad =
      getTensorOfRank(location, name, "grad", adaptor.getGrad(),
                      ElementKind::Float, 4, /*atLeast=*/false);
  if (failed(q) || failed(k) || failed(v) || failed(grad) ||
      failed(requirePositive(location, name, adaptor.getScaleAttr(), "scale")))
    return failure();
  if (k->getElementType() != q->getElementType() ||
      v->getElementType() != q->getElementType())
    return inferError(location, name,
                      "expects query, key and value to have one element "
                      "type, got ",
                      *q, ", ", *k, " and ", *v);
  // [B, H, T, D] each.
  FailureOr<SmallVector<int64_t>> outShape = inferAttentionShape(
      location, name, q->getShape(), k->getShape(), v->getShape());
  if (failed(outShape) ||
      failed(requireShape(location, name, "grad", *grad, *outShape,
                          q->getElementType(), "the attention output")))
    return failure();
  types.append({*q, *k, *v});
  return success();
}

LogicalResult RopeGradOp::inferReturnTypes(MLIRContext *,
                                           std::optional<Location> location,
                                           Adaptor adaptor,
                                           SmallVectorImpl<Type> &types) {
  FailureOr<RankedTensorType> grad =
      getRotaryTensor(location, getOperationName(), "grad", adaptor.getGrad(),
                      adaptor.getThetaAttr());
  if (failed(grad))
    return failure();
  types.push_back(*grad);
  return success();
}

//===----------------------------------------------------------------------===//
// GatherGradOp, SliceGradOp (written result types)
//===----------------------------------------------------------------------===//

LogicalResult GatherGradOp::verify() {
  Location location = getLoc();
  StringRef name = getOperationName();
  auto grad = cast<RankedTensorType>(getGrad().getType());
  auto indices = cast<RankedTensorType>(getIndices().getType());
  auto table = cast<RankedTensorType>(getTableGrad().getType());
  if (table.getRank() < 1)
    return emitOpError("expects the table gradient to have rank >= 1, got ")
           << table;
  SmallVector<int64_t> gathered(indices.getShape());
  llvm::append_range(gathered, table.getShape().drop_front());
  return requireShape(location, name, "grad", grad, gathered,
                      table.getElementType(), "the gathered rows");
}

LogicalResult SliceGradOp::verify() {
  Location location = getLoc();
  StringRef name = getOperationName();
  auto grad = cast<RankedTensorType>(getGrad().getType());
  auto input = cast<RankedTensorType>(getInputGrad().getType());
  if (failed(requireAxisInRange(location, name, getAxis(), input.getRank())))
    return failure();
  int64_t axis = getAxis(), start = getStart(), end = getEnd();
  int64_t size = input.getDimSize(axis);
  if (start < 0 || start >= end || (!ShapedType::isDynamic(size) && end > size))
    return emitOpError("expects 0 <= start < end <= ")
           << formatDim(size) << " along axis " << axis
           << ", got start = " << start << ", end = " << end;
  SmallVector<int64_t> sliced(input.getShape());
  sliced[axis] = end - start;
  return requireShape(location, name, "grad", grad, sliced,
                      input.getElementType(), "the slice");
}

//===----------------------------------------------------------------------===//
// CrossEntropyGradOp
//===----------------------------------------------------------------------===//

LogicalResult CrossEntropyGradOp::inferReturnTypes(
    MLIRContext *context, std::optional<Location> location, Adaptor adaptor,
    SmallVectorImpl<Type> &types) {
  StringRef name = getOperationName();
  FailureOr<RankedTensorType> logits =
      getTensorOfRank(location, name, "logits", adaptor.getLogits(),
                      ElementKind::Float, 1, /*atLeast=*/true);
  FailureOr<RankedTensorType> targets = getTensor(
      location, name, "targets", adaptor.getTargets(), ElementKind::Int);
  FailureOr<RankedTensorType> grad =
      getTensor(location, name, "grad", adaptor.getGrad(), ElementKind::Float);
  if (failed(logits) || failed(targets) || failed(grad) ||
      failed(requireShape(location, name, "grad", *grad, {},
                          Float32Type::get(context), "the loss")))
    return failure();
  if (failed(requireTargetsOf(location, name, *logits, *targets)))
    return failure();
  types.push_back(*logits);
  return success();
}

//===----------------------------------------------------------------------===//
// MoE and topk gradients
//===----------------------------------------------------------------------===//

LogicalResult MoeDispatchGradOp::verify() {
  Location location = getLoc();
  StringRef name = getOperationName();
  auto grad = cast<RankedTensorType>(getGrad().getType());
  auto indices = cast<RankedTensorType>(getIndices().getType());
  auto input = cast<RankedTensorType>(getInputGrad().getType());
  if (grad.getRank() != 3)
    return emitOpError("expects grad to be [E, C, D], got ") << grad;
  if (indices.getRank() != 2)
    return emitOpError("expects indices to be [N, k], got ") << indices;
  return requireShape(location, name, "the result", input,
                      {indices.getDimSize(0), grad.getDimSize(2)},
                      grad.getElementType(), "[N, D]");
}

LogicalResult MoeCombineGradOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> location, Adaptor adaptor,
    SmallVectorImpl<Type> &types) {
  StringRef name = getOperationName();
  FailureOr<RankedTensorType> experts = getTensorOfRank(
      location, name, "expert_outputs", adaptor.getExpertOutputs(),
      ElementKind::Float, 3, /*atLeast=*/false);
  FailureOr<RankedTensorType> indices =
      getTensorOfRank(location, name, "indices", adaptor.getIndices(),
                      ElementKind::Int, 2, /*atLeast=*/false);
  FailureOr<RankedTensorType> weights =
      getTensorOfRank(location, name, "weights", adaptor.getWeights(),
                      ElementKind::Float, 2, /*atLeast=*/false);
  FailureOr<RankedTensorType> grad =
      getTensorOfRank(location, name, "grad", adaptor.getGrad(),
                      ElementKind::Float, 2, /*atLeast=*/false);
  if (failed(experts) || failed(indices) || failed(weights) || failed(grad))
    return failure();
  Type element = experts->getElementType();
  if (failed(requireShape(location, name, "weights", *weights,
                          indices->getShape(), element, "indices")))
    return failure();
  int64_t tokens = mergeDims(indices->getDimSize(0), weights->getDimSize(0));
  if (failed(requireShape(location, name, "grad", *grad,
                          {tokens, experts->getDimSize(2)}, element,
                          "the combined output")))
    return failure();
  types.push_back(*experts);
  types.push_back(*weights);
  return success();
}

LogicalResult TopKGradOp::verify() {
  Location location = getLoc();
  StringRef name = getOperationName();
  auto grad = cast<RankedTensorType>(getGrad().getType());
  auto indices = cast<RankedTensorType>(getIndices().getType());
  auto input = cast<RankedTensorType>(getInputGrad().getType());
  if (grad.getRank() < 1)
    return emitOpError("expects grad to have rank >= 1, got ") << grad;
  if (failed(requireCompatibleDims(location, name, "ranks of grad and indices",
                                   grad.getRank(), indices.getRank())))
    return failure();
  for (auto [d, sizes] :
       llvm::enumerate(llvm::zip_equal(grad.getShape(), indices.getShape())))
    if (!areCompatibleDims(std::get<0>(sizes), std::get<1>(sizes)))
      return emitOpError("expects grad and indices to have one shape, got ")
             << grad << " and " << indices;
  SmallVector<int64_t> shape(grad.getShape());
  shape.back() = input.getRank() == grad.getRank() ? input.getShape().back()
                                                   : ShapedType::kDynamic;
  if (failed(requireShape(location, name, "the result", input, shape,
                          grad.getElementType(),
                          "grad with the input's last dimension")))
    return failure();
  int64_t k = grad.getShape().back(), n = input.getShape().back();
  if (!ShapedType::isDynamic(k) && !ShapedType::isDynamic(n) && k > n)
    return emitOpError("expects k = ")
           << k << " to be at most the last dimension " << n
           << " of the result";
  return success();
}

//===----------------------------------------------------------------------===//
// GlobalNormOp, LrScheduleOp
//===----------------------------------------------------------------------===//

// The result type of both is fixed (ODS infers it).

LogicalResult GlobalNormOp::verify() {
  if (getInputs().empty())
    return emitOpError("expects at least one input");
  return success();
}

LogicalResult LrScheduleOp::verify() {
  for (auto [name, value] :
       {std::pair<StringRef, double>{"base_lr", getBaseLr().convertToDouble()},
        {"min_lr", getMinLr().convertToDouble()}})
    if (!std::isfinite(value) || value < 0)
      return emitOpError("expects ") << name << " >= 0, got " << value;
  int64_t warmup = getWarmupSteps(), total = getTotalSteps();
  if (warmup < 0 || total < 0)
    return emitOpError("expects warmup_steps and total_steps >= 0, got ")
           << warmup << " and " << total;
  if (getKind() == LrScheduleKind::cosine && total <= warmup)
    return emitOpError("cosine schedule expects total_steps > warmup_steps, "
                       "got ")
           << total << " and " << warmup;
  return success();
}

//===----------------------------------------------------------------------===//
// StateOp
//===----------------------------------------------------------------------===//

static bool isStateKind(StringRef kind) {
  return llvm::is_contained({"grad", "momentum", "adam_m", "adam_v"}, kind);
}

LogicalResult StateOp::verify() {
  auto type = dyn_cast<RankedTensorType>(getType());
  if (!type || !type.hasStaticShape())
    return emitOpError("expects a static tensor type, got ") << getType();
  if (!isa<FloatType>(type.getElementType()))
    return emitOpError("expects a float element type, got ")
           << type.getElementType();
  if (!isStateKind(getKind()))
    return emitOpError("kind must be \"grad\", \"momentum\", \"adam_m\" or "
                       "\"adam_v\", got \"")
           << getKind() << "\"";
  return success();
}

LogicalResult StateOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto param =
      symbolTable.lookupNearestSymbolFrom<ParamOp>(*this, getStateOfAttr());
  if (!param)
    return emitOpError("state_of '@")
           << getStateOf() << "' does not name a graph.param";
  if (param.getType() != getType())
    return emitOpError("type ") << getType() << " differs from the type "
                                << param.getType() << " of @" << getStateOf();
  return success();
}

// graph.state @name : tensor<...> {kind = "grad", state_of = @param}
ParseResult StateOp::parse(OpAsmParser &parser, OperationState &result) {
  StringAttr name;
  Type type;
  if (parser.parseSymbolName(name) || parser.parseColonType(type) ||
      parser.parseOptionalAttrDict(result.attributes))
    return failure();
  result.addAttribute(getSymNameAttrName(result.name), name);
  result.addAttribute(getTypeAttrName(result.name), TypeAttr::get(type));
  return success();
}

void StateOp::print(OpAsmPrinter &p) {
  p << ' ';
  p.printSymbolName(getSymName());
  p << " : " << getType();
  // The dictionary holds the inherent kind and state_of as well.
  p.printOptionalAttrDict(getOperation()->getAttrDictionary().getValue(),
                          {getSymNameAttrName(), getTypeAttrName()});
}

//===----------------------------------------------------------------------===//
// State-writing ops
//===----------------------------------------------------------------------===//

namespace {

/// Resolves the symbol operands of one state-writing op, reporting at it.
struct SymbolChecker {
  Operation *op;
  SymbolTableCollection &symbolTable;

  FailureOr<ParamOp> param(StringRef role, FlatSymbolRefAttr ref) const {
    auto param = symbolTable.lookupNearestSymbolFrom<ParamOp>(op, ref);
    if (!param)
      return op->emitOpError()
             << role << " '" << ref << "' does not name a graph.param";
    return param;
  }

  /// A graph.state; when `param` is given, one of that param of `kind`.
  FailureOr<StateOp> state(StringRef role, FlatSymbolRefAttr ref,
                           ParamOp param = {}, StringRef kind = {}) const {
    auto state = symbolTable.lookupNearestSymbolFrom<StateOp>(op, ref);
    if (!state)
      return op->emitOpError()
             << role << " '" << ref << "' does not name a graph.state";
    if (param && state.getStateOf() != param.getSymName())
      return op->emitOpError()
             << role << " " << ref << " is state of @" << state.getStateOf()
             << ", not of @" << param.getSymName();
    if (!kind.empty() && state.getKind() != kind)
      return op->emitOpError()
             << role << " " << ref << " has kind \"" << state.getKind()
             << "\", expected \"" << kind << "\"";
    return state;
  }
};

using EffectList =
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>;

void readsAndWrites(EffectList &effects, ArrayRef<SymbolRefAttr> read,
                    ArrayRef<SymbolRefAttr> written) {
  for (SymbolRefAttr symbol : read)
    effects.emplace_back(MemoryEffects::Read::get(), symbol);
  for (SymbolRefAttr symbol : written)
    effects.emplace_back(MemoryEffects::Write::get(), symbol);
}

/// A number as a user writes it (`0.9`, not `9.000000e-01`).
std::string formatNumber(double value) {
  std::string text;
  llvm::raw_string_ostream(text) << llvm::format("%g", value);
  return text;
}

/// Checks an optimizer hyperparameter: finite and in [low, high) (or
/// [low, inf) without `high`).
LogicalResult checkRange(Operation *op, StringRef name, double value,
                         double low, std::optional<double> high = {}) {
  if (std::isfinite(value) && value >= low && (!high || value < *high))
    return success();
  return op->emitOpError("expects ")
         << name << " in [" << formatNumber(low) << ", "
         << (high ? formatNumber(*high) + ")" : std::string("inf)")) << ", got "
         << formatNumber(value);
}

} // namespace

LogicalResult
AccumulateOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  FailureOr<StateOp> state =
      SymbolChecker{*this, symbolTable}.state("target", getTargetAttr());
  if (failed(state))
    return failure();
  if (state->getType() != getValue().getType())
    return emitOpError("value type ")
           << getValue().getType() << " differs from the type "
           << state->getType() << " of " << getTargetAttr();
  return success();
}

void AccumulateOp::getEffects(EffectList &effects) {
  readsAndWrites(effects, {getTargetAttr()}, {getTargetAttr()});
}

LogicalResult ZeroOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  return SymbolChecker{*this, symbolTable}.state("target", getTargetAttr());
}

void ZeroOp::getEffects(EffectList &effects) {
  readsAndWrites(effects, {}, {getTargetAttr()});
}

LogicalResult AdamWUpdateOp::verify() {
  if (failed(checkRange(*this, "beta1", getBeta1().convertToDouble(), 0, 1)) ||
      failed(checkRange(*this, "beta2", getBeta2().convertToDouble(), 0, 1)) ||
      failed(checkRange(*this, "weight_decay",
                        getWeightDecay().convertToDouble(), 0)))
    return failure();
  double epsilon = getEpsilon().convertToDouble();
  if (!std::isfinite(epsilon) || epsilon <= 0)
    return emitOpError("expects epsilon > 0, got ") << epsilon;
  return success();
}

LogicalResult
AdamWUpdateOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  SymbolChecker check{*this, symbolTable};
  FailureOr<ParamOp> param = check.param("param", getParamAttr());
  if (failed(param))
    return failure();
  if (failed(check.state("grad", getGradAttr(), *param, "grad")) ||
      failed(check.state("m", getMAttr(), *param, "adam_m")) ||
      failed(check.state("v", getVAttr(), *param, "adam_v")))
    return failure();
  return success();
}

void AdamWUpdateOp::getEffects(EffectList &effects) {
  readsAndWrites(effects,
                 {getParamAttr(), getGradAttr(), getMAttr(), getVAttr()},
                 {getParamAttr(), getMAttr(), getVAttr()});
}

LogicalResult SgdUpdateOp::verify() {
  double momentum = getMomentum().convertToDouble();
  if (failed(checkRange(*this, "momentum", momentum, 0)) ||
      failed(checkRange(*this, "weight_decay",
                        getWeightDecay().convertToDouble(), 0)))
    return failure();
  if (momentum != 0 && !getMomentumBufferAttr())
    return emitOpError("momentum ")
           << formatNumber(momentum) << " needs a momentum buffer operand";
  if (momentum == 0 && getMomentumBufferAttr())
    return emitOpError("has a momentum buffer but momentum is 0");
  return success();
}

LogicalResult
SgdUpdateOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  SymbolChecker check{*this, symbolTable};
  FailureOr<ParamOp> param = check.param("param", getParamAttr());
  if (failed(param) ||
      failed(check.state("grad", getGradAttr(), *param, "grad")))
    return failure();
  if (FlatSymbolRefAttr buffer = getMomentumBufferAttr())
    return check.state("momentum_buffer", buffer, *param, "momentum");
  return success();
}

void SgdUpdateOp::getEffects(EffectList &effects) {
  SmallVector<SymbolRefAttr> read = {getParamAttr(), getGradAttr()};
  SmallVector<SymbolRefAttr> written = {getParamAttr()};
  if (FlatSymbolRefAttr buffer = getMomentumBufferAttr()) {
    read.push_back(buffer);
    written.push_back(buffer);
  }
  readsAndWrites(effects, read, written);
}
