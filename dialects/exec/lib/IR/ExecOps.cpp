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

bool strata::exec::isElementwiseKernel(StringRef kernel) {
  return llvm::is_contained(
      {"add",  "sub",  "mul", "div",  "maximum",    "minimum",  "pow",
       "neg",  "exp",  "log", "sqrt", "rsqrt",      "tanh",     "sigmoid",
       "relu", "silu", "abs", "gelu", "unary_grad", "gelu_grad"},
      kernel);
}

ArrayRef<StringRef> strata::exec::getFusedKinds() {
  static const StringRef kinds[] = {
      "elementwise",       "matmul_bias", "matmul_bias_gelu",
      "matmul_accumulate", "adamw",       "cross_entropy"};
  return kinds;
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
    if (output.getDefiningOp<AllocOp>())
      continue;
    auto arg = dyn_cast<BlockArgument>(output);
    auto fused =
        arg ? dyn_cast<FusedOp>(arg.getOwner()->getParentOp()) : FusedOp();
    if (!fused || !fused.isOutputArgument(arg))
      return emitOpError("expects every output to be an exec.alloc buffer "
                         "(or, in an exec.fused, one of its outputs)");
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

//===----------------------------------------------------------------------===//
// FusedOp
//===----------------------------------------------------------------------===//

// exec.fused "kind" ins(%a = %x, ...) outs(%o = %y, ...) {attrs}
//     : (input types) -> output types { body }
ParseResult FusedOp::parse(OpAsmParser &parser, OperationState &result) {
  StringAttr kind;
  SmallVector<OpAsmParser::Argument> inArgs, outArgs;
  SmallVector<OpAsmParser::UnresolvedOperand> inputs, outputs;
  if (parser.parseAttribute(kind) || parser.parseKeyword("ins") ||
      parser.parseAssignmentList(inArgs, inputs))
    return failure();
  if (succeeded(parser.parseOptionalKeyword("outs")) &&
      parser.parseAssignmentList(outArgs, outputs))
    return failure();
  result.addAttribute(getKindAttrName(result.name), kind);
  FunctionType type;
  SMLoc typeLoc = parser.getCurrentLocation();
  if (parser.parseOptionalAttrDict(result.attributes) ||
      parser.parseColonType(type))
    return failure();
  if (type.getNumInputs() != inputs.size() ||
      type.getNumResults() != outputs.size())
    return parser.emitError(typeLoc, "expects ")
           << inputs.size() << " input and " << outputs.size()
           << " output type(s), got " << type;
  if (parser.resolveOperands(inputs, type.getInputs(), typeLoc,
                             result.operands) ||
      parser.resolveOperands(outputs, type.getResults(), typeLoc,
                             result.operands))
    return failure();
  result.addAttribute(getOperandSegmentSizesAttrName(result.name),
                      parser.getBuilder().getDenseI32ArrayAttr(
                          {static_cast<int32_t>(inputs.size()),
                           static_cast<int32_t>(outputs.size())}));
  SmallVector<OpAsmParser::Argument> args;
  for (auto [arg, argType] : llvm::zip_equal(inArgs, type.getInputs()))
    args.push_back(arg), args.back().type = argType;
  for (auto [arg, argType] : llvm::zip_equal(outArgs, type.getResults()))
    args.push_back(arg), args.back().type = argType;
  Region *body = result.addRegion();
  if (parser.parseRegion(*body, args))
    return failure();
  if (body->empty())
    body->emplaceBlock();
  return success();
}

void FusedOp::print(OpAsmPrinter &p) {
  p << ' ';
  p.printAttributeWithoutType(getKindAttr());
  auto printList = [&](StringRef keyword, ValueRange operands,
                       unsigned firstArg) {
    p << ' ' << keyword << '(';
    for (auto [i, operand] : llvm::enumerate(operands)) {
      if (i)
        p << ", ";
      p << getBody().front().getArgument(firstArg + i) << " = " << operand;
    }
    p << ')';
  };
  printList("ins", getInputs(), 0);
  if (!getOutputs().empty())
    printList("outs", getOutputs(), getInputs().size());
  p.printOptionalAttrDict(
      (*this)->getAttrs(),
      {getKindAttrName(), getOperandSegmentSizesAttrName()});
  p << " : ";
  p.printFunctionalType(getInputs().getTypes(), getOutputs().getTypes());
  p << ' ';
  p.printRegion(getBody(), /*printEntryBlockArgs=*/false);
}

LogicalResult FusedOp::verify() {
  if (!llvm::is_contained(getFusedKinds(), getKind()))
    return emitOpError("unknown kind '")
           << getKind()
           << "'; expected elementwise, matmul_bias, matmul_bias_gelu, "
              "matmul_accumulate, adamw or cross_entropy";
  if (getFunction() && getKind() != "elementwise")
    return emitOpError("only an elementwise group has a 'function'");
  if (getFunction() && getFunction()->empty())
    return emitOpError("expects 'function' to be a non-empty name");
  for (Value input : getInputs())
    if (failed(verifyBufferType(*this, input.getType(), "every input")))
      return failure();
  for (Value output : getOutputs()) {
    if (failed(verifyBufferType(*this, output.getType(), "every output")))
      return failure();
    if (!output.getDefiningOp<AllocOp>())
      return emitOpError("expects every output to be an exec.alloc buffer");
  }
  Block &block = getBody().front();
  if (block.getNumArguments() != getNumOperands())
    return emitOpError("expects one block argument per input and output (")
           << getNumOperands() << "), got " << block.getNumArguments();
  for (auto [operand, arg] :
       llvm::zip_equal(getOperands(), block.getArguments()))
    if (operand.getType() != arg.getType())
      return emitOpError("block argument #")
             << arg.getArgNumber() << " has type " << arg.getType()
             << ", but the operand it stands for has type "
             << operand.getType();
  return success();
}

namespace {
/// The kernels of a group's body in order, for the kind checks.
using KernelList = SmallVector<KernelOp>;
} // namespace

/// Whether `shape` broadcasts to `to` (dimensions aligned from the right,
/// equal or 1).
static bool broadcastsTo(ArrayRef<int64_t> shape, ArrayRef<int64_t> to) {
  if (shape.size() > to.size())
    return false;
  for (auto [dim, target] : llvm::zip_equal(shape, to.take_back(shape.size())))
    if (dim != 1 && dim != target)
      return false;
  return true;
}

static std::string describeKernels(MutableArrayRef<KernelOp> kernels) {
  std::string text;
  llvm::raw_string_ostream os(text);
  llvm::interleaveComma(kernels, os, [&](KernelOp &kernel) {
    os << '\'' << kernel.getKernel() << '\'';
  });
  return text;
}

/// Elementwise kernels over one iteration space of f32/bf16 values: every
/// kernel writes that many elements, values of the group are read with that
/// many elements, and only the group's inputs broadcast.
static LogicalResult verifyElementwiseGroup(FusedOp op,
                                            MutableArrayRef<KernelOp> kernels) {
  std::optional<int64_t> elements;
  auto isGroupInput = [&](Value value) {
    auto arg = dyn_cast<BlockArgument>(value);
    return arg && !op.isOutputArgument(arg);
  };
  for (KernelOp kernel : kernels) {
    StringRef name = kernel.getKernel();
    if (!isElementwiseKernel(name) && name != "cast" && name != "reshape")
      return op.emitOpError("kernel '")
             << name << "' is not elementwise; an elementwise group holds "
             << "elementwise kernels, cast and reshape";
    for (Value value : kernel->getOperands()) {
      Type element = cast<MemRefType>(value.getType()).getElementType();
      if (!element.isF32() && !element.isBF16())
        return op.emitOpError("kernel '")
               << name << "' of an elementwise group uses a buffer of "
               << value.getType() << "; the group computes on f32 and bf16";
    }
    if (kernel.getOutputs().size() != 1)
      return op.emitOpError("kernel '")
             << name << "' writes " << kernel.getOutputs().size()
             << " outputs; expected 1";
    auto outType = cast<MemRefType>(kernel.getOutputs()[0].getType());
    if (!elements)
      elements = outType.getNumElements();
    if (outType.getNumElements() != *elements)
      return op.emitOpError("kernel '")
             << name << "' writes " << outType.getNumElements()
             << " elements, but the group's iteration space has " << *elements;
    for (Value input : kernel.getInputs()) {
      auto inType = cast<MemRefType>(input.getType());
      if (inType.getNumElements() == *elements)
        continue;
      if (isGroupInput(input) && name != "reshape" && name != "cast" &&
          broadcastsTo(inType.getShape(), outType.getShape()))
        continue;
      return op.emitOpError("kernel '")
             << name << "' reads " << input.getType()
             << ", which neither has the group's " << *elements
             << " elements nor is an input of the group that broadcasts to "
             << outType;
    }
  }
  return success();
}

/// matmul, add of a [N] bias, and for matmul_bias_gelu gelu (tanh) of the sum.
static LogicalResult
verifyMatmulGroup(FusedOp op, MutableArrayRef<KernelOp> kernels, bool gelu) {
  SmallVector<StringRef> expected = {"matmul", "add"};
  if (gelu)
    expected.push_back("gelu");
  if (kernels.size() != expected.size() ||
      !llvm::all_of(llvm::seq<size_t>(0, kernels.size()), [&](size_t i) {
        return kernels[i].getKernel() == expected[i];
      }))
    return op.emitOpError("a ")
           << op.getKind() << " group runs "
           << (gelu ? "'matmul', 'add', 'gelu'" : "'matmul', 'add'") << ", got "
           << describeKernels(kernels);
  Value product = kernels[0].getOutputs()[0];
  if (!product.getDefiningOp<AllocOp>())
    return op.emitOpError("the matmul's result must be a local of the group");
  KernelOp add = kernels[1];
  Value bias;
  if (add.getInputs()[0] == product)
    bias = add.getInputs()[1];
  else if (add.getInputs()[1] == product)
    bias = add.getInputs()[0];
  else
    return op.emitOpError("the add must read the matmul's result");
  auto productType = cast<MemRefType>(product.getType());
  auto biasType = cast<MemRefType>(bias.getType());
  if (!isa<BlockArgument>(bias) || biasType.getRank() != 1 ||
      productType.getRank() == 0 ||
      biasType.getDimSize(0) != productType.getShape().back())
    return op.emitOpError("the add's bias must be an input of the group of "
                          "shape [")
           << (productType.getRank() ? productType.getShape().back() : 0)
           << "] (the matmul's last dimension), got " << bias.getType();
  if (add.getOutputs()[0].getType() != product.getType())
    return op.emitOpError("the add must write the matmul's type");
  if (gelu) {
    KernelOp act = kernels[2];
    if (act.getInputs()[0] != add.getOutputs()[0])
      return op.emitOpError("the gelu must read the add's result");
    Attribute approx = act.getAttrs().get("approximate");
    std::string text;
    llvm::raw_string_ostream os(text);
    if (approx)
      os << approx;
    if (!StringRef(text).contains("tanh"))
      return op.emitOpError("a matmul_bias_gelu group needs the tanh gelu");
  }
  return success();
}

/// matmul, optionally a cast of its result, and accumulate of that into an f32
/// input of the group (a gradient written in place, as adamw's state).
static LogicalResult
verifyMatmulAccumulateGroup(FusedOp op, MutableArrayRef<KernelOp> kernels) {
  bool withCast = kernels.size() == 3;
  if ((kernels.size() != 2 && !withCast) ||
      kernels.front().getKernel() != "matmul" ||
      (withCast && kernels[1].getKernel() != "cast") ||
      kernels.back().getKernel() != "accumulate")
    return op.emitOpError("a matmul_accumulate group runs 'matmul', "
                          "'accumulate' or 'matmul', 'cast', 'accumulate', "
                          "got ")
           << describeKernels(kernels);
  Value product = kernels[0].getOutputs()[0];
  if (!product.getDefiningOp<AllocOp>())
    return op.emitOpError("the matmul's result must be a local of the group");
  Value value = product;
  if (withCast) {
    KernelOp castKernel = kernels[1];
    if (castKernel.getInputs()[0] != product)
      return op.emitOpError("the cast must read the matmul's result");
    value = castKernel.getOutputs()[0];
    if (!value.getDefiningOp<AllocOp>())
      return op.emitOpError("the cast's result must be a local of the group");
  }
  KernelOp accumulate = kernels.back();
  Value target = accumulate.getInputs()[0];
  auto targetArg = dyn_cast<BlockArgument>(target);
  if (!targetArg || op.isOutputArgument(targetArg))
    return op.emitOpError("the accumulate's target must be an input of the "
                          "group (written in place)");
  if (accumulate.getInputs()[1] != value)
    return op.emitOpError("the accumulate must add the ")
           << (withCast ? "cast's" : "matmul's") << " result";
  auto targetType = cast<MemRefType>(target.getType());
  if (!targetType.getElementType().isF32() ||
      targetType.getShape() != cast<MemRefType>(value.getType()).getShape() ||
      !cast<MemRefType>(value.getType()).getElementType().isF32())
    return op.emitOpError("the accumulate must add an f32 value of the "
                          "target's shape to an f32 target, got ")
           << value.getType() << " into " << target.getType();
  if (llvm::is_contained(kernels[0].getInputs(), target))
    return op.emitOpError("the matmul must not read the buffer the group "
                          "accumulates into");
  return success();
}

LogicalResult FusedOp::verifyRegions() {
  Block &block = getBody().front();
  KernelList kernels;
  for (Operation &nested : block) {
    if (isa<FusedOp>(nested))
      return nested.emitOpError("cannot be nested in another exec.fused");
    if (auto kernel = dyn_cast<KernelOp>(nested)) {
      kernels.push_back(kernel);
      continue;
    }
    if (!isa<AllocOp>(nested))
      return nested.emitOpError("is not allowed in an exec.fused body (only "
                                "exec.kernel and exec.alloc)");
  }
  if (kernels.empty())
    return emitOpError("expects at least one kernel in its body");

  // Each output and local is written once, before any kernel reads it.
  DenseMap<Value, unsigned> writes;
  for (KernelOp kernel : kernels) {
    for (Value input : kernel.getInputs()) {
      auto arg = dyn_cast<BlockArgument>(input);
      bool written =
          (arg && !isOutputArgument(arg)) || writes.count(input) != 0;
      if (!written)
        return kernel.emitOpError("reads ")
               << (arg ? "an output of the group" : "a local buffer")
               << " before a kernel of the group writes it";
    }
    for (Value output : kernel.getOutputs())
      ++writes[output];
  }
  for (unsigned i = 0, e = getOutputs().size(); i < e; ++i)
    if (unsigned n = writes.lookup(getOutputArgument(i)); n != 1)
      return emitOpError("output #") << i << " is written by " << n
                                     << " kernels of the group; expected 1";
  for (AllocOp local : getLocals()) {
    if (local.getOffset())
      return local.emitOpError("is a local of an exec.fused and has no arena "
                               "offset");
    if (unsigned n = writes.lookup(local.getResult()); n != 1)
      return local.emitOpError("is a local of an exec.fused written by ")
             << n << " kernels; expected 1";
  }

  StringRef kind = getKind();
  if (kind == "elementwise")
    return verifyElementwiseGroup(*this, kernels);
  if (kind == "matmul_bias" || kind == "matmul_bias_gelu")
    return verifyMatmulGroup(*this, kernels, kind == "matmul_bias_gelu");
  if (kind == "matmul_accumulate")
    return verifyMatmulAccumulateGroup(*this, kernels);
  if (kind == "adamw") {
    for (KernelOp kernel : kernels)
      if (kernel.getKernel() != "adamw_update")
        return emitOpError("an adamw group runs only 'adamw_update' kernels, "
                           "got '")
               << kernel.getKernel() << "'";
    return success();
  }
  // cross_entropy
  if (kernels.size() != 2 || kernels[0].getKernel() != "cross_entropy" ||
      kernels[1].getKernel() != "cross_entropy_grad")
    return emitOpError("a cross_entropy group runs 'cross_entropy', "
                       "'cross_entropy_grad', got ")
           << describeKernels(kernels);
  if (kernels[0].getInputs()[0] != kernels[1].getInputs()[0] ||
      kernels[0].getInputs()[1] != kernels[1].getInputs()[1])
    return emitOpError("cross_entropy and cross_entropy_grad must read the "
                       "same logits and targets");
  return success();
}

#define GET_OP_CLASSES
#include "strata/Dialect/Exec/IR/ExecOps.cpp.inc"
