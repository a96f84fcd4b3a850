//===- GraphDialect.cpp - strata.graph dialect ----------------------------===//
//
// The dialect, its enum attributes, its constant materializer and the checks
// of the discardable hint attributes (docs/graph-dialect.md, "Hint
// attributes").
//
//===----------------------------------------------------------------------===//

#include "strata/Dialect/Graph/IR/GraphDialect.h"
#include "strata/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace strata::graph;

#include "strata/Dialect/Graph/IR/GraphDialect.cpp.inc"
#include "strata/Dialect/Graph/IR/GraphEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "strata/Dialect/Graph/IR/GraphAttrs.cpp.inc"

void GraphDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "strata/Dialect/Graph/IR/GraphOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "strata/Dialect/Graph/IR/GraphAttrs.cpp.inc"
      >();
}

Operation *GraphDialect::materializeConstant(OpBuilder &builder,
                                             Attribute value, Type type,
                                             Location loc) {
  auto elements = dyn_cast<DenseElementsAttr>(value);
  if (!elements || elements.getType() != type)
    return nullptr;
  return ConstantOp::create(builder, loc, elements);
}

//===----------------------------------------------------------------------===//
// Hint attributes
//===----------------------------------------------------------------------===//

/// Checks a `graph.sparsity` value: "dense" or "N:M" with 0 < N < M.
static LogicalResult verifySparsity(Operation *op, Attribute value) {
  auto text = dyn_cast<StringAttr>(value);
  auto fail = [&]() {
    return op->emitOpError("expects 'graph.sparsity' to be \"dense\" or "
                           "\"N:M\" with 0 < N < M, got ")
           << value;
  };
  if (!text)
    return fail();
  if (text.getValue() == "dense")
    return success();
  auto [nText, mText] = text.getValue().split(':');
  unsigned n = 0, m = 0;
  // StringRef::getAsInteger returns true on error.
  if (nText.getAsInteger(10, n) || mText.getAsInteger(10, m) || n == 0 ||
      n >= m)
    return fail();
  return success();
}

static LogicalResult verifyPrecision(Operation *op, Attribute value) {
  auto text = dyn_cast<StringAttr>(value);
  if (!text ||
      !llvm::is_contained({"f32", "bf16", "f16", "fp8"}, text.getValue()))
    return op->emitOpError("expects 'graph.precision' to be one of \"f32\", "
                           "\"bf16\", \"f16\", \"fp8\", got ")
           << value;
  return success();
}

/// Checks a `graph.shard` value: one mesh axis (or "" for replicated) per
/// dimension of the parameter, no axis used twice.
static LogicalResult verifyShard(ParamOp param, Attribute value) {
  auto axes = dyn_cast<ArrayAttr>(value);
  auto type = dyn_cast<RankedTensorType>(param.getType());
  if (!axes || !type)
    return param.emitOpError("expects 'graph.shard' to be an array of "
                             "strings, got ")
           << value;
  if (static_cast<int64_t>(axes.size()) != type.getRank())
    return param.emitOpError("expects 'graph.shard' to have one entry per "
                             "dimension (")
           << type.getRank() << "), got " << axes.size();
  llvm::StringSet<> used;
  for (Attribute axis : axes) {
    auto name = dyn_cast<StringAttr>(axis);
    if (!name ||
        !llvm::is_contained({"", "dp", "tp", "pp", "ep"}, name.getValue()))
      return param.emitOpError("expects each 'graph.shard' entry to be one "
                               "of \"\", \"dp\", \"tp\", \"pp\", \"ep\", "
                               "got ")
             << axis;
    if (!name.getValue().empty() && !used.insert(name.getValue()).second)
      return param.emitOpError("shards two dimensions over mesh axis '")
             << name.getValue() << "'";
  }
  return success();
}

/// Checks the entry function a `graph.model` marks: one `tensor<f32>` result
/// (the loss) and a unique `graph.name` on every argument.
static LogicalResult verifyModel(Operation *op) {
  auto function = dyn_cast<FunctionOpInterface>(op);
  if (!function)
    return op->emitOpError("'graph.model' is only valid on a function");
  ArrayRef<Type> results = function.getResultTypes();
  auto scalarF32 =
      RankedTensorType::get({}, Float32Type::get(op->getContext()));
  if (results.size() != 1 || results[0] != scalarF32)
    return op->emitOpError("a 'graph.model' function returns one "
                           "tensor<f32> (the loss)");
  llvm::StringSet<> names;
  for (unsigned i = 0, e = function.getNumArguments(); i < e; ++i) {
    auto name =
        function.getArgAttrOfType<StringAttr>(i, GraphDialect::kNameAttrName);
    if (!name)
      return op->emitOpError("argument #")
             << i << " of a 'graph.model' function needs a 'graph.name'";
    if (!names.insert(name.getValue()).second)
      return op->emitOpError("two arguments are named '")
             << name.getValue() << "'";
  }
  return success();
}

LogicalResult GraphDialect::verifyOperationAttribute(Operation *op,
                                                     NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  Attribute value = attr.getValue();
  if (name == kModelAttrName) {
    if (!isa<UnitAttr>(value))
      return op->emitOpError("expects 'graph.model' to be a unit attribute");
    return verifyModel(op);
  }
  if (name == kSparsityAttrName) {
    if (!isa<ParamOp>(op))
      return op->emitOpError("'graph.sparsity' is only valid on graph.param");
    return verifySparsity(op, value);
  }
  if (name == kShardAttrName) {
    auto param = dyn_cast<ParamOp>(op);
    if (!param)
      return op->emitOpError("'graph.shard' is only valid on graph.param");
    return verifyShard(param, value);
  }
  if (name == kPrecisionAttrName) {
    if (!isa<GraphDialect>(op->getDialect()))
      return op->emitOpError("'graph.precision' is only valid on graph ops");
    return verifyPrecision(op, value);
  }
  if (name == kStepAttrName) {
    auto step = dyn_cast<StringAttr>(value);
    if (!isa<FunctionOpInterface>(op) || !step ||
        (step.getValue() != "grad" && step.getValue() != "apply"))
      return op->emitOpError("expects 'graph.step' to be \"grad\" or "
                             "\"apply\" on a function");
    return success();
  }
  if (name == kTrainingAttrName) {
    if (!isa<ModuleOp>(op) || !isa<DictionaryAttr>(value))
      return op->emitOpError("expects 'graph.training' to be a dictionary on "
                             "the module");
    return success();
  }
  if (name == kNameAttrName)
    return op->emitOpError("'graph.name' is only valid on the arguments of "
                           "a 'graph.model' function");
  return op->emitOpError("unknown attribute '") << name << "'";
}

LogicalResult GraphDialect::verifyRegionArgAttribute(Operation *op,
                                                     unsigned regionIndex,
                                                     unsigned argIndex,
                                                     NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name != kNameAttrName)
    return op->emitOpError("unknown argument attribute '")
           << name << "' on argument #" << argIndex;
  auto text = dyn_cast<StringAttr>(attr.getValue());
  if (!text || text.getValue().empty())
    return op->emitOpError("expects 'graph.name' of argument #")
           << argIndex << " to be a non-empty string";
  if (!isa<FunctionOpInterface>(op) || regionIndex != 0)
    return op->emitOpError("'graph.name' is only valid on function "
                           "arguments");
  return success();
}

LogicalResult GraphDialect::verifyRegionResultAttribute(Operation *op, unsigned,
                                                        unsigned resultIndex,
                                                        NamedAttribute attr) {
  return op->emitOpError("unknown result attribute '")
         << attr.getName().getValue() << "' on result #" << resultIndex;
}
