//===- GraphOps.cpp - strata.graph ops ------------------------------------===//
//
// Type inference and verification of the graph ops. Every check a user's model
// can fail is a located diagnostic: inferReturnTypes runs on importer input
// before any verifier, so it checks attributes and operand types itself
// instead of relying on ODS constraints.
//
//===----------------------------------------------------------------------===//

#include "strata/Dialect/Graph/IR/GraphOps.h"
#include "strata/Dialect/Graph/IR/GraphShapes.h"

#include "GraphVerifyUtils.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/STLExtras.h"

#include <cmath>

using namespace mlir;
using namespace strata::graph;
using namespace strata::graph::detail;

//===----------------------------------------------------------------------===//
// Custom assembly directives
//===----------------------------------------------------------------------===//

/// An enum attribute written as its bare keyword (`sum`), for op formats.
template <typename AttrT>
static ParseResult parseEnumKeyword(OpAsmParser &parser, AttrT &attr) {
  using EnumT = decltype(attr.getValue());
  SMLoc loc = parser.getCurrentLocation();
  StringRef keyword;
  if (parser.parseKeyword(&keyword))
    return failure();
  std::optional<EnumT> value = symbolizeEnum<EnumT>(keyword);
  if (!value)
    return parser.emitError(loc, "unknown keyword '") << keyword << "'";
  attr = AttrT::get(parser.getContext(), *value);
  return success();
}

template <typename AttrT>
static void printEnumKeyword(OpAsmPrinter &p, Operation *, AttrT attr) {
  p << stringifyEnum(attr.getValue());
}

//===----------------------------------------------------------------------===//
// Shared inference entry points (used by the op classes in GraphOps.td)
//===----------------------------------------------------------------------===//

bool strata::graph::detail::areCompatibleResultTypes(TypeRange lhs,
                                                     TypeRange rhs) {
  if (lhs.size() != rhs.size())
    return false;
  for (auto [l, r] : llvm::zip_equal(lhs, rhs)) {
    auto lt = dyn_cast<RankedTensorType>(l);
    auto rt = dyn_cast<RankedTensorType>(r);
    if (!lt || !rt) {
      if (l != r)
        return false;
      continue;
    }
    if (lt.getElementType() != rt.getElementType() ||
        lt.getRank() != rt.getRank())
      return false;
    for (auto [ld, rd] : llvm::zip_equal(lt.getShape(), rt.getShape()))
      if (!areCompatibleDims(ld, rd))
        return false;
  }
  return true;
}

LogicalResult strata::graph::detail::inferBroadcastOp(
    StringRef opName, std::optional<Location> location, Value lhs, Value rhs,
    SmallVectorImpl<Type> &inferredReturnTypes) {
  FailureOr<RankedTensorType> lhsType =
      getTensor(location, opName, "lhs", lhs, ElementKind::FloatOrInt);
  FailureOr<RankedTensorType> rhsType =
      getTensor(location, opName, "rhs", rhs, ElementKind::FloatOrInt);
  if (failed(lhsType) || failed(rhsType) ||
      failed(requireSameElementType(location, opName, "lhs", *lhsType, "rhs",
                                    *rhsType)))
    return failure();
  std::optional<SmallVector<int64_t>> shape =
      broadcastShapes(lhsType->getShape(), rhsType->getShape());
  if (!shape)
    return inferError(location, opName, "cannot broadcast ", *lhsType, " with ",
                      *rhsType);
  inferredReturnTypes.push_back(
      RankedTensorType::get(*shape, lhsType->getElementType()));
  return success();
}

LogicalResult strata::graph::detail::inferSameFloatType(
    StringRef opName, std::optional<Location> location, Value input,
    SmallVectorImpl<Type> &inferredReturnTypes) {
  FailureOr<RankedTensorType> type =
      getTensor(location, opName, "input", input, ElementKind::Float);
  if (failed(type))
    return failure();
  inferredReturnTypes.push_back(*type);
  return success();
}

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

/// How many numbers each initializer takes, and what they are called.
static std::pair<size_t, StringRef> getInitArity(InitKind kind) {
  switch (kind) {
  case InitKind::zeros:
  case InitKind::ones:
    return {0, "no arguments"};
  case InitKind::constant:
    return {1, "(value)"};
  case InitKind::normal:
    return {2, "(mean, std)"};
  case InitKind::uniform:
    return {2, "(low, high)"};
  }
  llvm_unreachable("unknown initializer");
}

LogicalResult ParamOp::verify() {
  auto type = dyn_cast<RankedTensorType>(getType());
  if (!type || !type.hasStaticShape())
    return emitOpError("expects a static tensor type, got ") << getType();
  if (!isa<FloatType>(type.getElementType()))
    return emitOpError("expects a float element type (parameters are "
                       "trained), got ")
           << type.getElementType();

  ArrayRef<double> args = getInitArgs();
  auto [arity, spelling] = getInitArity(getInit());
  if (args.size() != arity)
    return emitOpError("initializer '")
           << stringifyInitKind(getInit()) << "' takes " << spelling << ", got "
           << args.size() << " number(s)";
  for (double arg : args)
    if (!std::isfinite(arg))
      return emitOpError("initializer arguments must be finite");
  if (getInit() == InitKind::normal && args[1] <= 0)
    return emitOpError("normal initializer expects std > 0, got ") << args[1];
  if (getInit() == InitKind::uniform && args[0] >= args[1])
    return emitOpError("uniform initializer expects low < high, got (")
           << args[0] << ", " << args[1] << ")";
  return success();
}

// graph.param @name : tensor<...> = normal(0.0, 0.02) {attrs}
ParseResult ParamOp::parse(OpAsmParser &parser, OperationState &result) {
  StringAttr name;
  Type type;
  if (parser.parseSymbolName(name) || parser.parseColonType(type) ||
      parser.parseEqual())
    return failure();

  SMLoc initLoc = parser.getCurrentLocation();
  StringRef keyword;
  if (parser.parseKeyword(&keyword))
    return failure();
  std::optional<InitKind> init = symbolizeInitKind(keyword);
  if (!init)
    return parser.emitError(initLoc, "expected an initializer: zeros, ones, "
                                     "constant, normal or uniform");

  SmallVector<double> args;
  if (succeeded(parser.parseOptionalLParen())) {
    if (parser.parseCommaSeparatedList([&]() -> ParseResult {
          return parser.parseFloat(args.emplace_back());
        }) ||
        parser.parseRParen())
      return failure();
  }
  if (parser.parseOptionalAttrDict(result.attributes))
    return failure();

  MLIRContext *context = parser.getContext();
  result.addAttribute(getSymNameAttrName(result.name), name);
  result.addAttribute(getTypeAttrName(result.name), TypeAttr::get(type));
  result.addAttribute(getInitAttrName(result.name),
                      InitKindAttr::get(context, *init));
  result.addAttribute(getInitArgsAttrName(result.name),
                      DenseF64ArrayAttr::get(context, args));
  return success();
}

void ParamOp::print(OpAsmPrinter &p) {
  p << ' ';
  p.printSymbolName(getSymName());
  p << " : " << getType() << " = " << stringifyInitKind(getInit());
  ArrayRef<double> args = getInitArgs();
  if (!args.empty()) {
    p << '(';
    llvm::interleaveComma(args, p,
                          [&](double arg) { p.printFloat(APFloat(arg)); });
    p << ')';
  }
  p.printOptionalAttrDict((*this)->getAttrs(),
                          {getSymNameAttrName(), getTypeAttrName(),
                           getInitAttrName(), getInitArgsAttrName()});
}

//===----------------------------------------------------------------------===//
// ParamRefOp
//===----------------------------------------------------------------------===//

// Reads a graph.param or, in the training functions, a graph.state.
LogicalResult ParamRefOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  Operation *symbol = symbolTable.lookupNearestSymbolFrom(*this, getNameAttr());
  Type type;
  if (auto param = dyn_cast_or_null<ParamOp>(symbol))
    type = param.getType();
  else if (auto state = dyn_cast_or_null<StateOp>(symbol))
    type = state.getType();
  else
    return emitOpError("'@")
           << getName() << "' does not name a graph.param or graph.state";
  if (type != getType())
    return emitOpError("result type ") << getType() << " differs from the type "
                                       << type << " of @" << getName();
  return success();
}

// A read of the symbol, like the state-writing ops' effects
// (GraphTrainingOps.cpp): CSE does not merge two reads across a write of the
// same graph.state, and an unused read is still dead.
void ParamRefOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  effects.emplace_back(MemoryEffects::Read::get(), getNameAttr());
}

//===----------------------------------------------------------------------===//
// ConstantOp
//===----------------------------------------------------------------------===//

LogicalResult ConstantOp::inferReturnTypes(MLIRContext *,
                                           std::optional<Location> location,
                                           Adaptor adaptor,
                                           SmallVectorImpl<Type> &types) {
  DenseElementsAttr value = adaptor.getValueAttr();
  if (failed(requireAttr(location, getOperationName(), value, "value")))
    return failure();
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || !hasElementKind(type.getElementType(), ElementKind::FloatOrInt))
    return inferError(location, getOperationName(),
                      "expects a tensor of floats or integers, got ",
                      value.getType());
  types.push_back(type);
  return success();
}

//===----------------------------------------------------------------------===//
// GeluOp, CastOp
//===----------------------------------------------------------------------===//

LogicalResult GeluOp::inferReturnTypes(MLIRContext *,
                                       std::optional<Location> location,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &types) {
  return strata::graph::detail::inferSameFloatType(getOperationName(), location,
                                                   adaptor.getInput(), types);
}

LogicalResult CastOp::verify() {
  auto inputType = cast<RankedTensorType>(getInput().getType());
  auto resultType = cast<RankedTensorType>(getType());
  if (failed(verifyCompatibleShape(inputType, resultType)))
    return emitOpError("expects the result to have the input's shape, got ")
           << inputType << " -> " << resultType;
  return success();
}

//===----------------------------------------------------------------------===//
// MatmulOp
//===----------------------------------------------------------------------===//

LogicalResult MatmulOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> location,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  StringRef name = getOperationName();
  FailureOr<RankedTensorType> lhs =
      getTensorOfRank(location, name, "lhs", adaptor.getLhs(),
                      ElementKind::FloatOrInt, 2, /*atLeast=*/true);
  FailureOr<RankedTensorType> rhs =
      getTensorOfRank(location, name, "rhs", adaptor.getRhs(),
                      ElementKind::FloatOrInt, 2, /*atLeast=*/true);
  if (failed(lhs) || failed(rhs) ||
      failed(requireSameElementType(location, name, "lhs", *lhs, "rhs", *rhs)))
    return failure();

  ArrayRef<int64_t> lhsShape = lhs->getShape(), rhsShape = rhs->getShape();
  int64_t lhsRows = lhsShape[lhsShape.size() - 2], lhsCols = lhsShape.back();
  int64_t rhsRows = rhsShape[rhsShape.size() - 2], rhsCols = rhsShape.back();
  if (adaptor.getTransposeA())
    std::swap(lhsRows, lhsCols);
  if (adaptor.getTransposeB())
    std::swap(rhsRows, rhsCols);
  if (failed(requireCompatibleDims(location, name,
                                   "contracting dimensions of lhs and rhs",
                                   lhsCols, rhsRows)))
    return failure();

  std::optional<SmallVector<int64_t>> shape =
      broadcastShapes(lhsShape.drop_back(2), rhsShape.drop_back(2));
  if (!shape)
    return inferError(location, name, "batch dimensions of ", *lhs, " and ",
                      *rhs, " do not broadcast");
  shape->append({lhsRows, rhsCols});
  types.push_back(RankedTensorType::get(*shape, lhs->getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// ReduceOp
//===----------------------------------------------------------------------===//

LogicalResult ReduceOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> location,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  StringRef name = getOperationName();
  FailureOr<RankedTensorType> input = getTensor(
      location, name, "input", adaptor.getInput(), ElementKind::FloatOrInt);
  if (failed(input) ||
      failed(requireAttr(location, name, adaptor.getKindAttr(), "kind")) ||
      failed(requireAttr(location, name, adaptor.getAxesAttr(), "axes")))
    return failure();
  if (adaptor.getKind() == ReduceKind::mean &&
      !isa<FloatType>(input->getElementType()))
    return inferError(location, name, "'mean' needs a float input, got ",
                      *input);

  FailureOr<SmallVector<int64_t>> shape = inferReducedShape(
      location, name, *input, adaptor.getAxes(), adaptor.getKeepdim());
  if (failed(shape))
    return failure();
  types.push_back(RankedTensorType::get(*shape, input->getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// SoftmaxOp, LogSoftmaxOp
//===----------------------------------------------------------------------===//

/// Both softmax ops keep the input's type and only need a valid axis.
static LogicalResult inferSoftmax(StringRef name,
                                  std::optional<Location> location, Value input,
                                  IntegerAttr axis,
                                  SmallVectorImpl<Type> &types) {
  FailureOr<RankedTensorType> type =
      getTensor(location, name, "input", input, ElementKind::Float);
  if (failed(type) || failed(requireAttr(location, name, axis, "axis")) ||
      failed(
          requireAxisInRange(location, name, axis.getInt(), type->getRank())))
    return failure();
  types.push_back(*type);
  return success();
}

LogicalResult SoftmaxOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> location,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &types) {
  return inferSoftmax(getOperationName(), location, adaptor.getInput(),
                      adaptor.getAxisAttr(), types);
}

LogicalResult LogSoftmaxOp::inferReturnTypes(MLIRContext *,
                                             std::optional<Location> location,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &types) {
  return inferSoftmax(getOperationName(), location, adaptor.getInput(),
                      adaptor.getAxisAttr(), types);
}

//===----------------------------------------------------------------------===//
// LayerNormOp, RmsNormOp
//===----------------------------------------------------------------------===//

/// Both norms normalize over the last dimension D of `input` and scale (and
/// shift) with 1-D operands of size D; `bias` is null for rms_norm.
static LogicalResult inferNorm(StringRef name, std::optional<Location> location,
                               Value input, Value weight, Value bias,
                               FloatAttr epsilon,
                               SmallVectorImpl<Type> &types) {
  FailureOr<RankedTensorType> inputType = getTensorOfRank(
      location, name, "input", input, ElementKind::Float, 1, /*atLeast=*/true);
  if (failed(inputType) ||
      failed(requirePositive(location, name, epsilon, "epsilon")))
    return failure();
  int64_t features = inputType->getShape().back();
  for (auto [operandName, operand] :
       {std::pair<StringRef, Value>{"weight", weight}, {"bias", bias}}) {
    if (operandName == "bias" && !bias)
      continue;
    FailureOr<RankedTensorType> type =
        getTensorOfRank(location, name, operandName, operand,
                        ElementKind::Float, 1, /*atLeast=*/false);
    if (failed(type) ||
        failed(requireSameElementType(location, name, "input", *inputType,
                                      operandName, *type)) ||
        failed(requireCompatibleDims(
            location, name,
            ("last dimension of input and size of " + operandName).str(),
            features, type->getShape()[0])))
      return failure();
  }
  types.push_back(*inputType);
  return success();
}

LogicalResult LayerNormOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> location,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  if (!adaptor.getBias())
    return inferError(location, getOperationName(),
                      "is missing operand 'bias'");
  return inferNorm(getOperationName(), location, adaptor.getInput(),
                   adaptor.getWeight(), adaptor.getBias(),
                   adaptor.getEpsilonAttr(), types);
}

LogicalResult RmsNormOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> location,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &types) {
  return inferNorm(getOperationName(), location, adaptor.getInput(),
                   adaptor.getWeight(), /*bias=*/Value(),
                   adaptor.getEpsilonAttr(), types);
}

//===----------------------------------------------------------------------===//
// ReshapeOp
//===----------------------------------------------------------------------===//

/// With one side static, the static dimensions of the other side must divide
/// its element count (the `?`s make up the rest).
static bool canHoldElements(ArrayRef<int64_t> partial, int64_t numElements) {
  int64_t known = 1;
  for (int64_t dim : partial)
    if (!ShapedType::isDynamic(dim))
      known *= dim;
  return known == 0 ? numElements == 0 : numElements % known == 0;
}

LogicalResult ReshapeOp::verify() {
  auto inputType = cast<RankedTensorType>(getInput().getType());
  auto resultType = cast<RankedTensorType>(getType());
  if (inputType.getElementType() != resultType.getElementType())
    return emitOpError("expects the input's element type, got ")
           << inputType << " -> " << resultType;
  std::optional<int64_t> inputCount = getNumElements(inputType.getShape());
  std::optional<int64_t> resultCount = getNumElements(resultType.getShape());
  bool fits = true;
  if (inputCount && resultCount)
    fits = *inputCount == *resultCount;
  else if (inputCount)
    fits = canHoldElements(resultType.getShape(), *inputCount);
  else if (resultCount)
    fits = canHoldElements(inputType.getShape(), *resultCount);
  if (!fits)
    return emitOpError("cannot reshape ") << inputType << " into " << resultType
                                          << ": the element counts differ";
  return success();
}

//===----------------------------------------------------------------------===//
// TransposeOp, SliceOp, ConcatOp
//===----------------------------------------------------------------------===//

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> location,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  StringRef name = getOperationName();
  FailureOr<RankedTensorType> input = getTensor(
      location, name, "input", adaptor.getInput(), ElementKind::FloatOrInt);
  if (failed(input) ||
      failed(requireAttr(location, name, adaptor.getPermutationAttr(),
                         "permutation")))
    return failure();
  ArrayRef<int64_t> permutation = adaptor.getPermutation();
  if (!isPermutation(permutation, input->getRank()))
    return inferError(location, name, "permutation [",
                      llvm::make_range(permutation.begin(), permutation.end()),
                      "] is not a permutation of 0..", input->getRank() - 1);
  SmallVector<int64_t> shape;
  for (int64_t dim : permutation)
    shape.push_back(input->getDimSize(dim));
  types.push_back(RankedTensorType::get(shape, input->getElementType()));
  return success();
}

LogicalResult SliceOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> location,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &types) {
  StringRef name = getOperationName();
  FailureOr<RankedTensorType> input = getTensor(
      location, name, "input", adaptor.getInput(), ElementKind::FloatOrInt);
  if (failed(input) ||
      failed(requireAttr(location, name, adaptor.getAxisAttr(), "axis")) ||
      failed(requireAttr(location, name, adaptor.getStartAttr(), "start")) ||
      failed(requireAttr(location, name, adaptor.getEndAttr(), "end")))
    return failure();
  int64_t axis = adaptor.getAxis(), start = adaptor.getStart(),
          end = adaptor.getEnd();
  if (failed(requireAxisInRange(location, name, axis, input->getRank())))
    return failure();
  int64_t size = input->getDimSize(axis);
  if (start < 0 || start >= end || (!ShapedType::isDynamic(size) && end > size))
    return inferError(
        location, name, "expects 0 <= start < end <= ", formatDim(size),
        " along axis ", axis, ", got start = ", start, ", end = ", end);
  SmallVector<int64_t> shape(input->getShape());
  shape[axis] = end - start;
  types.push_back(RankedTensorType::get(shape, input->getElementType()));
  return success();
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> location,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  StringRef name = getOperationName();
  ValueRange inputs = adaptor.getInputs();
  if (inputs.empty())
    return inferError(location, name, "expects at least one input");
  if (failed(requireAttr(location, name, adaptor.getAxisAttr(), "axis")))
    return failure();

  FailureOr<RankedTensorType> first =
      getTensor(location, name, "input #0", inputs[0], ElementKind::FloatOrInt);
  if (failed(first))
    return failure();
  int64_t axis = adaptor.getAxis();
  if (failed(requireAxisInRange(location, name, axis, first->getRank())))
    return failure();

  SmallVector<int64_t> shape(first->getShape());
  for (auto [i, value] : llvm::enumerate(inputs.drop_front())) {
    std::string operandName = "input #" + std::to_string(i + 1);
    FailureOr<RankedTensorType> type =
        getTensor(location, name, operandName, value, ElementKind::FloatOrInt);
    if (failed(type) ||
        failed(requireSameElementType(location, name, "input #0", *first,
                                      operandName, *type)))
      return failure();
    if (type->getRank() != first->getRank())
      return inferError(location, name, "expects inputs of one rank, got ",
                        *first, " and ", *type);
    for (auto [dim, size] : llvm::enumerate(type->getShape())) {
      if (static_cast<int64_t>(dim) == axis) {
        shape[dim] =
            ShapedType::isDynamic(shape[dim]) || ShapedType::isDynamic(size)
                ? ShapedType::kDynamic
                : shape[dim] + size;
        continue;
      }
      if (!areCompatibleDims(shape[dim], size))
        return inferError(location, name, "dimension ", dim, " of ",
                          operandName, " is ", formatDim(size),
                          " where the inputs before have ",
                          formatDim(shape[dim]));
      shape[dim] = mergeDims(shape[dim], size);
    }
  }
  types.push_back(RankedTensorType::get(shape, first->getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// GatherOp, IotaOp, OneHotOp
//===----------------------------------------------------------------------===//

LogicalResult GatherOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> location,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  StringRef name = getOperationName();
  FailureOr<RankedTensorType> table =
      getTensorOfRank(location, name, "table", adaptor.getTable(),
                      ElementKind::FloatOrInt, 1, /*atLeast=*/true);
  FailureOr<RankedTensorType> indices = getTensor(
      location, name, "indices", adaptor.getIndices(), ElementKind::Int);
  if (failed(table) || failed(indices))
    return failure();
  SmallVector<int64_t> shape(indices->getShape());
  llvm::append_range(shape, table->getShape().drop_front());
  types.push_back(RankedTensorType::get(shape, table->getElementType()));
  return success();
}

LogicalResult IotaOp::verify() {
  auto type = cast<RankedTensorType>(getType());
  if (type.getRank() != 1 || !type.hasStaticShape())
    return emitOpError("expects a static 1-D result, got ") << type;
  return success();
}

LogicalResult OneHotOp::inferReturnTypes(MLIRContext *context,
                                         std::optional<Location> location,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  StringRef name = getOperationName();
  FailureOr<RankedTensorType> indices = getTensor(
      location, name, "indices", adaptor.getIndices(), ElementKind::Int);
  if (failed(indices))
    return failure();
  FailureOr<int64_t> numClasses = requirePositive(
      location, name, adaptor.getNumClassesAttr(), "num_classes");
  if (failed(numClasses))
    return failure();
  SmallVector<int64_t> shape(indices->getShape());
  shape.push_back(*numClasses);
  types.push_back(RankedTensorType::get(shape, Float32Type::get(context)));
  return success();
}

//===----------------------------------------------------------------------===//
// RopeOp, AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult RopeOp::inferReturnTypes(MLIRContext *,
                                       std::optional<Location> location,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &types) {
  FailureOr<RankedTensorType> input =
      getRotaryTensor(location, getOperationName(), "input", adaptor.getInput(),
                      adaptor.getThetaAttr());
  if (failed(input))
    return failure();
  types.push_back(*input);
  return success();
}

LogicalResult AttentionOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> location,
                                            Adaptor adaptor,
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
  if (failed(q) || failed(k) || failed(v) ||
      failed(requireSameElementType(location, name, "query", *q, "key", *k)) ||
      failed(
          requireSameElementType(location, name, "query", *q, "value", *v)) ||
      failed(requirePositive(location, name, adaptor.getScaleAttr(), "scale")))
    return failure();

  // [B, H, T, D] each.
  FailureOr<SmallVector<int64_t>> shape = inferAttentionShape(
      location, name, q->getShape(), k->getShape(), v->getShape());
  if (failed(shape))
    return failure();
  types.push_back(RankedTensorType::get(*shape, q->getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// TopKOp, MoeDispatchOp, MoeCombineOp
//===----------------------------------------------------------------------===//

LogicalResult TopKOp::inferReturnTypes(MLIRContext *context,
                                       std::optional<Location> location,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &types) {
  StringRef name = getOperationName();
  FailureOr<RankedTensorType> input =
      getTensorOfRank(location, name, "input", adaptor.getInput(),
                      ElementKind::FloatOrInt, 1, /*atLeast=*/true);
  if (failed(input))
    return failure();
  FailureOr<int64_t> k =
      requirePositive(location, name, adaptor.getKAttr(), "k");
  if (failed(k))
    return failure();
  int64_t size = input->getShape().back();
  if (!ShapedType::isDynamic(size) && *k > size)
    return inferError(location, name, "expects k <= ", size,
                      " (the last dimension), got ", *k);
  SmallVector<int64_t> shape(input->getShape());
  shape.back() = *k;
  types.push_back(RankedTensorType::get(shape, input->getElementType()));
  types.push_back(RankedTensorType::get(shape, IntegerType::get(context, 32)));
  return success();
}

LogicalResult MoeDispatchOp::inferReturnTypes(MLIRContext *,
                                              std::optional<Location> location,
                                              Adaptor adaptor,
                                              SmallVectorImpl<Type> &types) {
  StringRef name = getOperationName();
  FailureOr<RankedTensorType> input =
      getTensorOfRank(location, name, "input", adaptor.getInput(),
                      ElementKind::Float, 2, /*atLeast=*/false);
  FailureOr<RankedTensorType> indices =
      getTensorOfRank(location, name, "indices", adaptor.getIndices(),
                      ElementKind::I32, 2, /*atLeast=*/false);
  if (failed(input) || failed(indices) ||
      failed(requireCompatibleDims(
          location, name, "token counts of input and indices",
          input->getDimSize(0), indices->getDimSize(0))))
    return failure();
  FailureOr<int64_t> experts = requirePositive(
      location, name, adaptor.getNumExpertsAttr(), "num_experts");
  if (failed(experts))
    return failure();
  FailureOr<int64_t> capacity =
      requirePositive(location, name, adaptor.getCapacityAttr(), "capacity");
  if (failed(capacity))
    return failure();
  types.push_back(RankedTensorType::get(
      {*experts, *capacity, input->getDimSize(1)}, input->getElementType()));
  return success();
}

LogicalResult MoeCombineOp::inferReturnTypes(MLIRContext *,
                                             std::optional<Location> location,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &types) {
  StringRef name = getOperationName();
  FailureOr<RankedTensorType> experts = getTensorOfRank(
      location, name, "expert_outputs", adaptor.getExpertOutputs(),
      ElementKind::Float, 3, /*atLeast=*/false);
  FailureOr<RankedTensorType> indices =
      getTensorOfRank(location, name, "indices", adaptor.getIndices(),
                      ElementKind::I32, 2, /*atLeast=*/false);
  FailureOr<RankedTensorType> weights =
      getTensorOfRank(location, name, "weights", adaptor.getWeights(),
                      ElementKind::Float, 2, /*atLeast=*/false);
  if (failed(experts) || failed(indices) || failed(weights) ||
      failed(requireSameElementType(location, name, "expert_outputs", *experts,
                                    "weights", *weights)) ||
      failed(requireCompatibleDims(
          location, name, "token counts of indices and weights",
          indices->getDimSize(0), weights->getDimSize(0))) ||
      failed(requireCompatibleDims(
          location, name, "choices per token of indices and weights",
          indices->getDimSize(1), weights->getDimSize(1))))
    return failure();
  int64_t tokens = mergeDims(indices->getDimSize(0), weights->getDimSize(0));
  types.push_back(RankedTensorType::get({tokens, experts->getDimSize(2)},
                                        experts->getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// CrossEntropyOp
//===----------------------------------------------------------------------===//

LogicalResult CrossEntropyOp::inferReturnTypes(MLIRContext *context,
                                               std::optional<Location> location,
                                               Adaptor adaptor,
                                               SmallVectorImpl<Type> &types) {
  StringRef name = getOperationName();
  FailureOr<RankedTensorType> logits =
      getTensorOfRank(location, name, "logits", adaptor.getLogits(),
                      ElementKind::Float, 1, /*atLeast=*/true);
  FailureOr<RankedTensorType> targets = getTensor(
      location, name, "targets", adaptor.getTargets(), ElementKind::Int);
  if (failed(logits) || failed(targets) ||
      failed(requireTargetsOf(location, name, *logits, *targets)))
    return failure();
  types.push_back(RankedTensorType::get({}, Float32Type::get(context)));
  return success();
}

#define GET_OP_CLASSES
#include "strata/Dialect/Graph/IR/GraphOps.cpp.inc"
