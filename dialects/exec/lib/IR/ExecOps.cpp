//===- ExecOps.cpp - strata.exec ops --------------------------------------===//
//
// Verifiers and the custom assembly of exec.global. A kernel's name is checked
// against the registered graph ops, and its input and output counts against
// that op's operand and result counts, so a kernel the runtime cannot run is
// rejected here rather than at run time.
//
//===----------------------------------------------------------------------===//

#include "strata/Dialect/Exec/IR/ExecOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/StringSwitch.h"

#include <cmath>

using namespace mlir;
using namespace strata::exec;

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

ArrayRef<StringRef> strata::exec::getStateSymbolNames(StringRef kernel) {
  static const StringRef target[] = {"target"};
  static const StringRef adamw[] = {"param", "grad", "m", "v"};
  static const StringRef sgd[] = {"param", "grad", "momentum_buffer"};
  return llvm::StringSwitch<ArrayRef<StringRef>>(kernel)
      .Cases({"accumulate", "zero"}, target)
      .Case("adamw_update", adamw)
      .Case("sgd_update", sgd)
      .Default({});
}

unsigned strata::exec::getNumOptionalStateSymbols(StringRef kernel) {
  return kernel == "sgd_update" ? 1 : 0;
}

bool strata::exec::isBufferType(Type type) {
  auto memref = dyn_cast<MemRefType>(type);
  return memref && memref.hasStaticShape() && memref.getLayout().isIdentity();
}

uint64_t strata::exec::getBufferBytes(MemRefType type) {
  uint64_t elementBytes =
      (type.getElementType().getIntOrFloatBitWidth() + 7) / 8;
  return static_cast<uint64_t>(type.getNumElements()) * elementBytes;
}

static LogicalResult verifyBufferType(Operation *op, Type type,
                                      StringRef what) {
  auto memref = dyn_cast<MemRefType>(type);
  if (!isBufferType(type) || !memref.getElementType().isIntOrFloat())
    return op->emitOpError("expects ")
           << what
           << " to be a memref of integers or floats with a static shape and "
              "the identity layout, got "
           << type;
  return success();
}

//===----------------------------------------------------------------------===//
// GlobalOp
//===----------------------------------------------------------------------===//

/// Numbers each initializer takes, and how a message spells that.
static std::optional<std::pair<size_t, StringRef>>
getInitArity(StringRef init) {
  return llvm::StringSwitch<std::optional<std::pair<size_t, StringRef>>>(init)
      .Cases({"zeros", "ones"}, std::pair<size_t, StringRef>{0, "no numbers"})
      .Case("constant", std::pair<size_t, StringRef>{1, "1 number (value)"})
      .Case("normal", std::pair<size_t, StringRef>{2, "2 numbers (mean, std)"})
      .Case("uniform", std::pair<size_t, StringRef>{2, "2 numbers (low, high)"})
      .Default(std::nullopt);
}

LogicalResult GlobalOp::verify() {
  if (failed(verifyBufferType(*this, getType(), "the type")))
    return failure();
  if (isParam()) {
    if (getStateOf() || getKind())
      return emitOpError("a param has no 'state_of' or 'kind'");
    if (!getInit())
      return emitOpError("a param needs an initializer");
    auto arity = getInitArity(*getInit());
    if (!arity)
      return emitOpError("unknown initializer '")
             << *getInit()
             << "'; expected zeros, ones, constant, normal or uniform";
    ArrayRef<double> args;
    if (getInitArgs())
      args = *getInitArgs();
    if (args.size() != arity->first)
      return emitOpError("initializer '")
             << *getInit() << "' takes " << arity->second << ", got "
             << args.size() << " number(s)";
    for (double arg : args)
      if (!std::isfinite(arg))
        return emitOpError("initializer arguments must be finite");
    return success();
  }
  if (isState()) {
    if (getInit() || getInitArgs())
      return emitOpError("a state buffer is zero-initialized and has no "
                         "'init'");
    if (!getStateOf() || !getKind())
      return emitOpError("a state buffer needs 'state_of' and 'kind'");
    if (!llvm::is_contained({"grad", "momentum", "adam_m", "adam_v"},
                            *getKind()))
      return emitOpError("unknown state kind '")
             << *getKind() << "'; expected grad, momentum, adam_m or adam_v";
    return success();
  }
  return emitOpError("expects role \"param\" or \"state\", got \"")
         << getRole() << "\"";
}

LogicalResult GlobalOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  if (!getStateOf())
    return success();
  auto owner =
      symbolTable.lookupNearestSymbolFrom<GlobalOp>(*this, getStateOfAttr());
  if (!owner || !owner.isParam())
    return emitOpError("'@")
           << *getStateOf() << "' does not name a param exec.global";
  if (owner.getMemRefType().getShape() != getMemRefType().getShape())
    return emitOpError("shape of ")
           << getType() << " differs from the shape of @" << *getStateOf()
           << " (" << owner.getType() << ")";
  return success();
}

// exec.global @w : memref<...> param normal(0.0, 0.02) {attrs}
// exec.global @w.grad : memref<...> state grad of @w {attrs}
ParseResult GlobalOp::parse(OpAsmParser &parser, OperationState &result) {
  StringAttr name;
  Type type;
  StringRef role;
  if (parser.parseSymbolName(name) || parser.parseColonType(type))
    return failure();
  if (parser.parseKeyword(&role))
    return failure();

  MLIRContext *context = parser.getContext();
  Builder builder(context);
  result.addAttribute(getSymNameAttrName(result.name), name);
  result.addAttribute(getTypeAttrName(result.name), TypeAttr::get(type));
  result.addAttribute(getRoleAttrName(result.name),
                      builder.getStringAttr(role));

  StringRef keyword;
  if (role == "param") {
    if (parser.parseKeyword(&keyword))
      return failure();
    SmallVector<double> args;
    if (succeeded(parser.parseOptionalLParen())) {
      if (parser.parseCommaSeparatedList([&]() -> ParseResult {
            return parser.parseFloat(args.emplace_back());
          }) ||
          parser.parseRParen())
        return failure();
    }
    result.addAttribute(getInitAttrName(result.name),
                        builder.getStringAttr(keyword));
    if (!args.empty())
      result.addAttribute(getInitArgsAttrName(result.name),
                          builder.getDenseF64ArrayAttr(args));
  } else if (role == "state") {
    FlatSymbolRefAttr owner;
    if (parser.parseKeyword(&keyword) || parser.parseKeyword("of") ||
        parser.parseAttribute(owner))
      return failure();
    result.addAttribute(getKindAttrName(result.name),
                        builder.getStringAttr(keyword));
    result.addAttribute(getStateOfAttrName(result.name), owner);
  }
  // Any other role parses so that the verifier can name it.
  return parser.parseOptionalAttrDict(result.attributes);
}

void GlobalOp::print(OpAsmPrinter &p) {
  p << ' ';
  p.printSymbolName(getSymName());
  p << " : " << getType();
  // The keyword form only round-trips for a well-formed op; anything else
  // (the verifier rejects it) prints every attribute in the dictionary.
  SmallVector<StringRef> elided = {getSymNameAttrName(), getTypeAttrName()};
  if (isParam() && getInit() && !getStateOf() && !getKind()) {
    p << " param " << *getInit();
    if (getInitArgs() && !getInitArgs()->empty()) {
      p << '(';
      llvm::interleaveComma(*getInitArgs(), p,
                            [&](double arg) { p.printFloat(APFloat(arg)); });
      p << ')';
    }
    elided.append(
        {getRoleAttrName(), getInitAttrName(), getInitArgsAttrName()});
  } else if (isState() && getKind() && getStateOf() && !getInit() &&
             !getInitArgs()) {
    p << " state " << *getKind() << " of ";
    p.printAttributeWithoutType(getStateOfAttr());
    elided.append({getRoleAttrName(), getKindAttrName(), getStateOfAttrName()});
  } else {
    p << ' ' << getRole();
    elided.push_back(getRoleAttrName());
  }
  p.printOptionalAttrDict((*this)->getAttrs(), elided);
}

//===----------------------------------------------------------------------===//
// GlobalRefOp
//===----------------------------------------------------------------------===//

LogicalResult
GlobalRefOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto global =
      symbolTable.lookupNearestSymbolFrom<GlobalOp>(*this, getNameAttr());
  if (!global)
    return emitOpError("'@") << getName() << "' does not name an exec.global";
  if (global.getType() != getType())
    return emitOpError("result type ")
           << getType() << " differs from the type " << global.getType()
           << " of @" << getName();
  return success();
}

//===----------------------------------------------------------------------===//
// AllocOp
//===----------------------------------------------------------------------===//

LogicalResult AllocOp::verify() {
  return verifyBufferType(*this, getType(), "the result");
}

//===----------------------------------------------------------------------===//
// KernelOp
//===----------------------------------------------------------------------===//

namespace {
/// How many operands or results a graph op takes: [min, max], max unset when
/// unbounded.
struct Count {
  unsigned min = 0;
  std::optional<unsigned> max;
};
} // namespace

/// The operand count of `op` from its ODS traits.
static Count getOperandCount(RegisteredOperationName op) {
  if (op.hasTrait<OpTrait::ZeroOperands>())
    return {0, 0};
  if (op.hasTrait<OpTrait::OneOperand>())
    return {1, 1};
  if (op.hasTrait<OpTrait::AtLeastNOperands<1>::Impl>())
    return {1, std::nullopt};
#define STRATA_N_OPERANDS(n)                                                   \
  if (op.hasTrait<OpTrait::NOperands<n>::Impl>())                              \
    return {n, n};                                                             \
  if (op.hasTrait<OpTrait::AtLeastNOperands<n>::Impl>())                       \
    return {n, std::nullopt};
  STRATA_N_OPERANDS(2)
  STRATA_N_OPERANDS(3)
  STRATA_N_OPERANDS(4)
  STRATA_N_OPERANDS(5)
  STRATA_N_OPERANDS(6)
  STRATA_N_OPERANDS(7)
  STRATA_N_OPERANDS(8)
#undef STRATA_N_OPERANDS
  return {0, std::nullopt};
}

/// The result count of `op` from its ODS traits.
static Count getResultCount(RegisteredOperationName op) {
  if (op.hasTrait<OpTrait::ZeroResults>())
    return {0, 0};
  if (op.hasTrait<OpTrait::OneResult>())
    return {1, 1};
  if (op.hasTrait<OpTrait::AtLeastNResults<1>::Impl>())
    return {1, std::nullopt};
#define STRATA_N_RESULTS(n)                                                    \
  if (op.hasTrait<OpTrait::NResults<n>::Impl>())                               \
    return {n, n};                                                             \
  if (op.hasTrait<OpTrait::AtLeastNResults<n>::Impl>())                        \
    return {n, std::nullopt};
  STRATA_N_RESULTS(2)
  STRATA_N_RESULTS(3)
  STRATA_N_RESULTS(4)
  STRATA_N_RESULTS(5)
  STRATA_N_RESULTS(6)
#undef STRATA_N_RESULTS
  return {0, std::nullopt};
}

static std::string describe(Count count) {
  if (!count.max)
    return "at least " + std::to_string(count.min);
  if (*count.max == count.min)
    return std::to_string(count.min);
  return std::to_string(count.min) + " to " + std::to_string(*count.max);
}

static bool contains(Count count, size_t n) {
  return n >= count.min && (!count.max || n <= *count.max);
}

LogicalResult KernelOp::verify() {
  StringRef kernel = getKernel();
  std::optional<RegisteredOperationName> graphOp =
      RegisteredOperationName::lookup(("graph." + kernel).str(), getContext());
  if (!graphOp)
    return emitOpError("unknown kernel '")
           << kernel << "': not the name of a graph op";
  // Parameters and state are globals, not kernels.
  if (llvm::is_contained({"param", "state", "param_ref"}, kernel))
    return emitOpError("'") << kernel
                            << "' is not a kernel: use exec.global or "
                               "exec.global_ref";

  for (Value input : getInputs())
    if (failed(verifyBufferType(*this, input.getType(), "every input")))
      return failure();
  for (Value output : getOutputs()) {
    if (failed(verifyBufferType(*this, output.getType(), "every output")))
      return failure();
    if (!output.getDefiningOp<AllocOp>())
      return emitOpError("expects every output to be an exec.alloc buffer");
  }

  Count inputs = getOperandCount(*graphOp);
  unsigned numSymbols = getStateSymbolNames(kernel).size();
  inputs.min += numSymbols - getNumOptionalStateSymbols(kernel);
  if (inputs.max)
    *inputs.max += numSymbols;
  if (!contains(inputs, getInputs().size()))
    return emitOpError("kernel '") << kernel << "' takes " << describe(inputs)
                                   << " input(s), got " << getInputs().size();
  Count outputs = getResultCount(*graphOp);
  if (!contains(outputs, getOutputs().size()))
    return emitOpError("kernel '") << kernel << "' writes " << describe(outputs)
                                   << " output(s), got " << getOutputs().size();
  if (kernel == "sgd_update") {
    // The momentum buffer is there exactly when momentum is not 0.
    auto momentum = getAttrs().getAs<FloatAttr>("momentum");
    size_t expected = momentum && momentum.getValueAsDouble() != 0
                          ? inputs.min + 1
                          : inputs.min;
    if (getInputs().size() != expected)
      return emitOpError("kernel 'sgd_update' with momentum ")
             << (momentum ? momentum.getValueAsDouble() : 0.0) << " takes "
             << expected << " inputs, got " << getInputs().size();
  }
  return success();
}

#define GET_OP_CLASSES
#include "strata/Dialect/Exec/IR/ExecOps.cpp.inc"
