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

//===----------------------------------------------------------------------===//
// Inference helpers
//===----------------------------------------------------------------------===//

namespace {

/// Checks operands and attributes of one op being inferred, reporting
/// "'<op>' op <message>" at its location (nothing when there is none).
struct InferChecker {
  std::optional<Location> location;
  StringRef opName;

  template <typename... Args> LogicalResult error(Args &&...args) const {
    return emitOptionalError(location, "'", opName, "' op ",
                             std::forward<Args>(args)...);
  }

  /// The type of operand `name`: a ranked tensor of floats (or of signless
  /// integers with `integer`) whose rank is `rank` (at least `rank` with
  /// `atLeast`; any with rank < 0).
  FailureOr<RankedTensorType> tensor(StringRef name, Value value,
                                     int64_t rank = -1, bool atLeast = false,
                                     bool integer = false) const {
    if (!value)
      return error("is missing operand '", name, "'");
    auto type = dyn_cast<RankedTensorType>(value.getType());
    bool kindOk = type && (integer ? type.getElementType().isSignlessInteger()
                                   : isa<FloatType>(type.getElementType()));
    if (!kindOk)
      return error("expects ", name, " to be a ranked tensor of ",
                   integer ? "integers" : "floats", ", got ", value.getType());
    if (rank >= 0 && (atLeast ? type.getRank() < rank : type.getRank() != rank))
      return error("expects ", name, " to have rank ",
                   atLeast ? "at least " : "", rank, ", got ", type);
    return type;
  }

  /// Checks that `type` (operand `name`) has `shape` (compatible dimensions)
  /// and the element type `elementType`; `what` describes `shape`.
  LogicalResult hasShape(StringRef name, RankedTensorType type,
                         ArrayRef<int64_t> shape, Type elementType,
                         StringRef what) const {
    if (type.getElementType() != elementType)
      return error("expects ", name, " to have element type ", elementType,
                   ", got ", type);
    bool compatible = type.getRank() == static_cast<int64_t>(shape.size());
    for (int64_t d = 0; compatible && d < type.getRank(); ++d)
      compatible = areCompatibleDims(type.getDimSize(d), shape[d]);
    if (!compatible)
      return error("expects ", name, " to have the shape of ", what, " ",
                   RankedTensorType::get(shape, elementType), ", got ", type);
    return success();
  }

  LogicalResult requireAttr(Attribute attr, StringRef name) const {
    if (!attr)
      return error("requires attribute '", name, "'");
    return success();
  }

  /// Checks that a float attribute is finite and > 0.
  LogicalResult positive(FloatAttr attr, StringRef name) const {
    if (failed(requireAttr(attr, name)))
      return failure();
    double value = attr.getValueAsDouble();
    if (std::isfinite(value) && value > 0)
      return success();
    return error("expects ", name, " > 0, got ", value);
  }

  LogicalResult axisInRange(IntegerAttr axis, int64_t rank) const {
    if (failed(requireAttr(axis, "axis")))
      return failure();
    int64_t value = axis.getInt();
    if (value >= 0 && value < rank)
      return success();
    return error("axis ", value, " is out of range for rank ", rank);
  }

  /// Checks dimension `lhs` against `rhs` for compatibility, naming both.
  LogicalResult sameDim(StringRef what, int64_t lhs, int64_t rhs) const {
    if (areCompatibleDims(lhs, rhs))
      return success();
    return error(what, " differ: ", formatDim(lhs), " vs ", formatDim(rhs));
  }

  static std::string formatDim(int64_t dim) {
    return ShapedType::isDynamic(dim) ? "?" : std::to_string(dim);
  }
};

/// Verifier-side counterpart of InferChecker for ops whose result type is
/// written: checks against the op's diagnostics.
InferChecker checkerFor(Operation *op) {
  return InferChecker{op->getLoc(), op->getName().getStringRef()};
}

} // namespace

//===----------------------------------------------------------------------===//
// Elementwise gradients
//===----------------------------------------------------------------------===//

LogicalResult BinaryGradOp::inferReturnTypes(MLIRContext *,
                                             std::optional<Location> location,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &types) {
  InferChecker check{location, getOperationName()};
  FailureOr<RankedTensorType> lhs = check.tensor("lhs", adaptor.getLhs());
  FailureOr<RankedTensorType> rhs = check.tensor("rhs", adaptor.getRhs());
  FailureOr<RankedTensorType> grad = check.tensor("grad", adaptor.getGrad());
  if (failed(lhs) || failed(rhs) || failed(grad) ||
      failed(check.requireAttr(adaptor.getKindAttr(), "kind")))
    return failure();
  if (lhs->getElementType() != rhs->getElementType())
    return check.error("expects lhs and rhs to have the same element type, "
                       "got ",
                       *lhs, " and ", *rhs);
  std::optional<SmallVector<int64_t>> shape =
      broadcastShapes(lhs->getShape(), rhs->getShape());
  if (!shape)
    return check.error("cannot broadcast ", *lhs, " with ", *rhs);
  if (failed(check.hasShape("grad", *grad, *shape, lhs->getElementType(),
                            "the broadcast result")))
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
  InferChecker check{location, getOperationName()};
  FailureOr<RankedTensorType> input = check.tensor("input", adaptor.getInput());
  FailureOr<RankedTensorType> output =
      check.tensor("output", adaptor.getOutput());
  FailureOr<RankedTensorType> grad = check.tensor("grad", adaptor.getGrad());
  if (failed(input) || failed(output) || failed(grad) ||
      failed(check.requireAttr(adaptor.getKindAttr(), "kind")) ||
      failed(check.requireAttr(adaptor.getAxesAttr(), "axes")))
    return failure();
  ArrayRef<int64_t> axes = adaptor.getAxes();
  for (auto [i, axis] : llvm::enumerate(axes)) {
    if (axis < 0 || axis >= input->getRank())
      return check.error("axis ", axis, " is out of range for rank ",
                         input->getRank());
    if (i > 0 && axes[i - 1] >= axis)
      return check.error("expects axes sorted and unique, got [",
                         llvm::make_range(axes.begin(), axes.end()), "]");
  }
  SmallVector<int64_t> reduced;
  for (auto [dim, size] : llvm::enumerate(input->getShape())) {
    if (!llvm::is_contained(axes, static_cast<int64_t>(dim)))
      reduced.push_back(size);
    else if (adaptor.getKeepdim())
      reduced.push_back(1);
  }
  Type element = input->getElementType();
  if (failed(check.hasShape("output", *output, reduced, element,
                            "the reduced input")) ||
      failed(
          check.hasShape("grad", *grad, reduced, element, "the reduced input")))
    return failure();
  types.push_back(*input);
  return success();
}

// The result types follow from AllTypesMatch (ODS infers them).

LogicalResult SoftmaxGradOp::verify() {
  return checkerFor(*this).axisInRange(
      getAxisAttr(), cast<RankedTensorType>(getOutput().getType()).getRank());
}

LogicalResult LogSoftmaxGradOp::verify() {
  return checkerFor(*this).axisInRange(
      getAxisAttr(), cast<RankedTensorType>(getOutput().getType()).getRank());
}

//===----------------------------------------------------------------------===//
// LayerNormGradOp, RmsNormGradOp
//===----------------------------------------------------------------------===//

/// Both norm gradients: input [..., D], weight [D], grad of input's shape.
/// Pushes the input's and `numWeightGrads` times the weight's type.
static LogicalResult inferNormGrad(InferChecker check, Value input,
                                   Value weight, Value grad, FloatAttr epsilon,
                                   int numWeightGrads,
                                   SmallVectorImpl<Type> &types) {
  FailureOr<RankedTensorType> inputType =
      check.tensor("input", input, 1, /*atLeast=*/true);
  FailureOr<RankedTensorType> weightType = check.tensor("weight", weight, 1);
  FailureOr<RankedTensorType> gradType = check.tensor("grad", grad);
  if (failed(inputType) || failed(weightType) || failed(gradType) ||
      failed(check.positive(epsilon, "epsilon")))
    return failure();
  Type element = inputType->getElementType();
  if (failed(check.hasShape("weight", *weightType,
                            inputType->getShape().take_back(), element,
                            "the input's last dimension")) ||
      failed(check.hasShape("grad", *gradType, inputType->getShape(), element,
                            "input")))
    return failure();
  types.push_back(*inputType);
  types.append(numWeightGrads, *weightType);
  return success();
}

LogicalResult LayerNormGradOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> location, Adaptor adaptor,
    SmallVectorImpl<Type> &types) {
  return inferNormGrad({location, getOperationName()}, adaptor.getInput(),
                       adaptor.getWeight(), adaptor.getGrad(),
                       adaptor.getEpsilonAttr(), 2, types);
}

LogicalResult RmsNormGradOp::inferReturnTypes(MLIRContext *,
                                              std::optional<Location> location,
                                              Adaptor adaptor,
                                              SmallVectorImpl<Type> &types) {
  return inferNormGrad({location, getOperationName()}, adaptor.getInput(),
                       adaptor.getWeight(), adaptor.getGrad(),
                       adaptor.getEpsilonAttr(), 1, types);
}

//===----------------------------------------------------------------------===//
// AttentionGradOp, RopeGradOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionGradOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> location, Adaptor adaptor,
    SmallVectorImpl<Type> &types) {
  InferChecker check{location, getOperationName()};
  FailureOr<RankedTensorType> q = check.tensor("query", adaptor.getQuery(), 4);
  FailureOr<RankedTensorType> k = check.tensor("key", adaptor.getKey(), 4);
  FailureOr<RankedTensorType> v = check.tensor("value", adaptor.getValue(), 4);
  FailureOr<RankedTensorType> grad = check.tensor("grad", adaptor.getGrad(), 4);
  if (failed(q) || failed(k) || failed(v) || failed(grad) ||
      failed(check.positive(adaptor.getScaleAttr(), "scale")))
    return failure();
  if (k->getElementType() != q->getElementType() ||
      v->getElementType() != q->getElementType())
    return check.error("expects query, key and value to have one element "
                       "type, got ",
                       *q, ", ", *k, " and ", *v);
  // [B, H, T, D] each.
  ArrayRef<int64_t> qs = q->getShape(), ks = k->getShape(), vs = v->getShape();
  if (failed(check.sameDim("batch sizes of query and key", qs[0], ks[0])) ||
      failed(check.sameDim("batch sizes of query and value", qs[0], vs[0])) ||
      failed(check.sameDim("head counts of key and value", ks[1], vs[1])) ||
      failed(
          check.sameDim("sequence lengths of key and value", ks[2], vs[2])) ||
      failed(check.sameDim("head dimensions of query and key", qs[3], ks[3])))
    return failure();
  int64_t queryHeads = qs[1], kvHeads = mergeDims(ks[1], vs[1]);
  if (!ShapedType::isDynamic(queryHeads) && !ShapedType::isDynamic(kvHeads) &&
      (kvHeads == 0 || queryHeads % kvHeads != 0))
    return check.error("expects the query heads (", queryHeads,
                       ") to be a multiple of the key/value heads (", kvHeads,
                       ")");
  SmallVector<int64_t> outShape = {mergeDims(mergeDims(qs[0], ks[0]), vs[0]),
                                   queryHeads, qs[2], vs[3]};
  if (failed(check.hasShape("grad", *grad, outShape, q->getElementType(),
                            "the attention output")))
    return failure();
  types.append({*q, *k, *v});
  return success();
}

LogicalResult RopeGradOp::inferReturnTypes(MLIRContext *,
                                           std::optional<Location> location,
                                           Adaptor adaptor,
                                           SmallVectorImpl<Type> &types) {
  InferChecker check{location, getOperationName()};
  FailureOr<RankedTensorType> grad = check.tensor("grad", adaptor.getGrad(), 4);
  if (failed(grad) || failed(check.positive(adaptor.getThetaAttr(), "theta")))
    return failure();
  int64_t headDim = grad->getDimSize(3);
  if (!ShapedType::isDynamic(headDim) && headDim % 2 != 0)
    return check.error("expects an even head dimension (it rotates pairs), "
                       "got ",
                       headDim);
  types.push_back(*grad);
  return success();
}

//===----------------------------------------------------------------------===//
// GatherGradOp, SliceGradOp (written result types)
//===----------------------------------------------------------------------===//

LogicalResult GatherGradOp::verify() {
  InferChecker check = checkerFor(*this);
  auto grad = cast<RankedTensorType>(getGrad().getType());
  auto indices = cast<RankedTensorType>(getIndices().getType());
  auto table = cast<RankedTensorType>(getTableGrad().getType());
  if (table.getRank() < 1)
    return emitOpError("expects the table gradient to have rank >= 1, got ")
           << table;
  SmallVector<int64_t> gathered(indices.getShape());
  llvm::append_range(gathered, table.getShape().drop_front());
  return check.hasShape("grad", grad, gathered, table.getElementType(),
                        "the gathered rows");
}

LogicalResult SliceGradOp::verify() {
  InferChecker check = checkerFor(*this);
  auto grad = cast<RankedTensorType>(getGrad().getType());
  auto input = cast<RankedTensorType>(getInputGrad().getType());
  if (failed(check.axisInRange(getAxisAttr(), input.getRank())))
    return failure();
  int64_t axis = getAxis(), start = getStart(), end = getEnd();
  int64_t size = input.getDimSize(axis);
  if (start < 0 || start >= end || (!ShapedType::isDynamic(size) && end > size))
    return emitOpError("expects 0 <= start < end <= ")
           << InferChecker::formatDim(size) << " along axis " << axis
           << ", got start = " << start << ", end = " << end;
  SmallVector<int64_t> sliced(input.getShape());
  sliced[axis] = end - start;
  return check.hasShape("grad", grad, sliced, input.getElementType(),
                        "the slice");
}

//===----------------------------------------------------------------------===//
// CrossEntropyGradOp
//===----------------------------------------------------------------------===//

LogicalResult CrossEntropyGradOp::inferReturnTypes(
    MLIRContext *context, std::optional<Location> location, Adaptor adaptor,
    SmallVectorImpl<Type> &types) {
  InferChecker check{location, getOperationName()};
  FailureOr<RankedTensorType> logits =
      check.tensor("logits", adaptor.getLogits(), 1, /*atLeast=*/true);
  FailureOr<RankedTensorType> targets =
      check.tensor("targets", adaptor.getTargets(), -1, false,
                   /*integer=*/true);
  FailureOr<RankedTensorType> grad = check.tensor("grad", adaptor.getGrad());
  if (failed(logits) || failed(targets) || failed(grad) ||
      failed(check.hasShape("grad", *grad, {}, Float32Type::get(context),
                            "the loss")))
    return failure();
  if (targets->getRank() + 1 != logits->getRank())
    return check.error("expects logits to have one more dimension (the "
                       "classes) than targets, got ",
                       *logits, " and ", *targets);
  for (auto [dim, sizes] : llvm::enumerate(llvm::zip_equal(
           logits->getShape().drop_back(), targets->getShape())))
    if (!areCompatibleDims(std::get<0>(sizes), std::get<1>(sizes)))
      return check.error("dimension ", dim, " of logits and targets differ: ",
                         InferChecker::formatDim(std::get<0>(sizes)), " vs ",
                         InferChecker::formatDim(std::get<1>(sizes)));
  types.push_back(*logits);
  return success();
}

//===----------------------------------------------------------------------===//
// MoE and topk gradients
//===----------------------------------------------------------------------===//

LogicalResult MoeDispatchGradOp::verify() {
  InferChecker check = checkerFor(*this);
  auto grad = cast<RankedTensorType>(getGrad().getType());
  auto indices = cast<RankedTensorType>(getIndices().getType());
  auto input = cast<RankedTensorType>(getInputGrad().getType());
  if (grad.getRank() != 3)
    return emitOpError("expects grad to be [E, C, D], got ") << grad;
  if (indices.getRank() != 2)
    return emitOpError("expects indices to be [N, k], got ") << indices;
  return check.hasShape("the result", input,
                        {indices.getDimSize(0), grad.getDimSize(2)},
                        grad.getElementType(), "[N, D]");
}

LogicalResult MoeCombineGradOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> location, Adaptor adaptor,
    SmallVectorImpl<Type> &types) {
  InferChecker check{location, getOperationName()};
  FailureOr<RankedTensorType> experts =
      check.tensor("expert_outputs", adaptor.getExpertOutputs(), 3);
  FailureOr<RankedTensorType> indices =
      check.tensor("indices", adaptor.getIndices(), 2, false, /*integer=*/true);
  FailureOr<RankedTensorType> weights =
      check.tensor("weights", adaptor.getWeights(), 2);
  FailureOr<RankedTensorType> grad = check.tensor("grad", adaptor.getGrad(), 2);
  if (failed(experts) || failed(indices) || failed(weights) || failed(grad))
    return failure();
  Type element = experts->getElementType();
  if (failed(check.hasShape("weights", *weights, indices->getShape(), element,
                            "indices")))
    return failure();
  int64_t tokens = mergeDims(indices->getDimSize(0), weights->getDimSize(0));
  if (failed(check.hasShape("grad", *grad, {tokens, experts->getDimSize(2)},
                            element, "the combined output")))
    return failure();
  types.push_back(*experts);
  types.push_back(*weights);
  return success();
}

LogicalResult TopKGradOp::verify() {
  InferChecker check = checkerFor(*this);
  auto grad = cast<RankedTensorType>(getGrad().getType());
  auto indices = cast<RankedTensorType>(getIndices().getType());
  auto input = cast<RankedTensorType>(getInputGrad().getType());
  if (grad.getRank() < 1)
    return emitOpError("expects grad to have rank >= 1, got ") << grad;
  if (failed(check.sameDim("ranks of grad and indices", grad.getRank(),
                           indices.getRank())))
    return failure();
  for (auto [d, sizes] :
       llvm::enumerate(llvm::zip_equal(grad.getShape(), indices.getShape())))
    if (!areCompatibleDims(std::get<0>(sizes), std::get<1>(sizes)))
      return emitOpError("expects grad and indices to have one shape, got ")
             << grad << " and " << indices;
  SmallVector<int64_t> shape(grad.getShape());
  shape.back() = input.getRank() == grad.getRank() ? input.getShape().back()
                                                   : ShapedType::kDynamic;
  if (failed(check.hasShape("the result", input, shape, grad.getElementType(),
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
