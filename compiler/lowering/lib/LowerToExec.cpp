//===- LowerToExec.cpp - graph ops on tensors -> exec kernels -------------===//
//
// The lowering is generic: a graph op becomes the kernel of the same name,
// its operands the kernel's inputs and its results fresh buffers. Only
// parameters and state (globals), param_ref (a reference to a global) and the
// ops that write state (their symbols become the first inputs) are special.
//
//===----------------------------------------------------------------------===//

#include "strata/Lowering/Passes.h"

#include "AttrKeyword.h"
#include "strata/Dialect/Exec/IR/ExecOps.h"
#include "strata/Dialect/Graph/IR/GraphDialect.h"
#include "strata/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

namespace strata::lowering {
#define GEN_PASS_DEF_LOWERTOEXECPASS
#include "strata/Lowering/Passes.h.inc"
} // namespace strata::lowering

using namespace mlir;
using namespace strata;

namespace {

constexpr StringLiteral kGraphTrainingAttrName = "graph.training";
constexpr StringLiteral kGraphStepAttrName = "graph.step";

/// The buffer type of a tensor value, or a diagnostic at `loc`.
FailureOr<MemRefType> getBufferType(Type type, Location loc) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return emitError(loc, "strata-lower-to-exec expects ranked tensors, got ")
           << type;
  if (!tensor.hasStaticShape())
    return emitError(loc, "strata-lower-to-exec needs static shapes; bind B "
                          "and T in the model (got ")
           << type << ")";
  return MemRefType::get(tensor.getShape(), tensor.getElementType());
}

/// graph.param -> exec.global param.
LogicalResult lowerParam(graph::ParamOp param) {
  FailureOr<MemRefType> type = getBufferType(param.getType(), param.getLoc());
  if (failed(type))
    return failure();
  OpBuilder builder(param);
  DenseF64ArrayAttr args;
  if (!param.getInitArgs().empty())
    args = param.getInitArgsAttr();
  exec::GlobalOp::create(
      builder, param.getLoc(), param.getSymNameAttr(), TypeAttr::get(*type),
      builder.getStringAttr("param"),
      builder.getStringAttr(graph::stringifyInitKind(param.getInit())), args,
      FlatSymbolRefAttr(), StringAttr());
  param.erase();
  return success();
}

/// graph.state -> exec.global state. Read through the generic op API: the
/// state op's attributes are `sym_name`, `type`, `state_of` and `kind`.
LogicalResult lowerState(Operation *state) {
  auto name = state->getAttrOfType<StringAttr>("sym_name");
  auto type = state->getAttrOfType<TypeAttr>("type");
  auto owner = state->getAttrOfType<FlatSymbolRefAttr>("state_of");
  Attribute kindAttr = state->getAttr("kind");
  std::optional<std::string> kind;
  if (kindAttr)
    kind = lowering::detail::getKeyword(kindAttr);
  if (!name || !type || !owner || !kind)
    return state->emitOpError("expects 'sym_name', 'type', 'state_of' and "
                              "'kind' attributes");
  FailureOr<MemRefType> buffer =
      getBufferType(type.getValue(), state->getLoc());
  if (failed(buffer))
    return failure();
  OpBuilder builder(state);
  exec::GlobalOp::create(builder, state->getLoc(), name, TypeAttr::get(*buffer),
                         builder.getStringAttr("state"), StringAttr(),
                         DenseF64ArrayAttr(), owner,
                         builder.getStringAttr(*kind));
  state->erase();
  return success();
}

/// Lowers the ops of one function, replacing each graph op in place.
class FunctionLowering {
public:
  FunctionLowering(func::FuncOp func, SymbolTable &symbols)
      : func(func), symbols(symbols) {}

  LogicalResult run() {
    if (failed(lowerSignature()))
      return failure();
    if (func.isExternal())
      return success();
    if (!func.getBody().hasOneBlock())
      return func.emitOpError("strata-lower-to-exec expects a function body "
                              "of one block");
    for (Operation &op :
         llvm::make_early_inc_range(func.getBody().front().getOperations())) {
      if (isa<func::ReturnOp>(op))
        continue;
      if (!isa_and_nonnull<graph::GraphDialect>(op.getDialect()))
        return op.emitOpError("strata-lower-to-exec cannot lower this op: "
                              "only graph ops lower to exec kernels");
      if (failed(lowerOp(&op)))
        return failure();
    }
    return success();
  }

private:
  /// Arguments and results become buffers; the graph function attributes
  /// become their exec counterparts.
  LogicalResult lowerSignature() {
    SmallVector<Type> inputs, results;
    for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
      Location loc =
          func.isExternal() ? func.getLoc() : func.getArgument(i).getLoc();
      FailureOr<MemRefType> type =
          getBufferType(func.getArgumentTypes()[i], loc);
      if (failed(type))
        return failure();
      inputs.push_back(*type);
      if (!func.isExternal())
        func.getArgument(i).setType(*type);
      if (auto name = func.getArgAttrOfType<StringAttr>(
              i, graph::GraphDialect::kNameAttrName)) {
        func.removeArgAttr(i, graph::GraphDialect::kNameAttrName);
        func.setArgAttr(i, exec::ExecDialect::kInputAttrName, name);
      }
    }
    for (Type type : func.getResultTypes()) {
      FailureOr<MemRefType> buffer = getBufferType(type, func.getLoc());
      if (failed(buffer))
        return failure();
      results.push_back(*buffer);
    }
    func.setType(FunctionType::get(func.getContext(), inputs, results));

    if (func->removeAttr(graph::GraphDialect::kModelAttrName))
      func->setAttr(exec::ExecDialect::kModelAttrName,
                    UnitAttr::get(func.getContext()));
    if (Attribute step = func->removeAttr(kGraphStepAttrName))
      func->setAttr(exec::ExecDialect::kStepAttrName, step);
    return success();
  }

  /// The buffer of global `@name`, through a fresh exec.global_ref.
  FailureOr<Value> getGlobal(OpBuilder &builder, Location loc,
                             FlatSymbolRefAttr name) {
    auto global = symbols.lookup<exec::GlobalOp>(name.getValue());
    if (!global)
      return emitError(loc, "'@")
             << name.getValue() << "' does not name a graph.param or "
             << "graph.state";
    return exec::GlobalRefOp::create(builder, loc, global.getMemRefType(), name)
        .getResult();
  }

  LogicalResult lowerOp(Operation *op) {
    OpBuilder builder(op);
    Location loc = op->getLoc();
    if (auto ref = dyn_cast<graph::ParamRefOp>(op)) {
      FailureOr<Value> global = getGlobal(builder, loc, ref.getNameAttr());
      if (failed(global))
        return failure();
      ref.getResult().replaceAllUsesWith(*global);
      ref.erase();
      return success();
    }

    StringRef kernel = op->getName().stripDialect();
    ArrayRef<StringRef> stateSymbols = exec::getStateSymbolNames(kernel);
    SmallVector<Value> inputs;
    for (auto [i, name] : llvm::enumerate(stateSymbols)) {
      auto symbol = op->getAttrOfType<FlatSymbolRefAttr>(name);
      bool optional =
          i + exec::getNumOptionalStateSymbols(kernel) >= stateSymbols.size();
      if (!symbol) {
        if (optional)
          break;
        return op->emitOpError("expects a symbol attribute '") << name << "'";
      }
      FailureOr<Value> global = getGlobal(builder, loc, symbol);
      if (failed(global))
        return failure();
      inputs.push_back(*global);
    }
    for (Value operand : op->getOperands()) {
      if (!exec::isBufferType(operand.getType()))
        return op->emitOpError("operand of type ")
               << operand.getType() << " was not lowered to a buffer";
      inputs.push_back(operand);
    }

    SmallVector<NamedAttribute> attrs;
    for (StringAttr name : op->getName().getAttributeNames()) {
      if (llvm::is_contained(stateSymbols, name.getValue()))
        continue;
      Attribute value = op->getAttr(name);
      if (!value)
        continue;
      if (isa<SymbolRefAttr>(value))
        return op->emitOpError("strata-lower-to-exec does not know which "
                               "buffer symbol attribute '")
               << name.getValue() << "' stands for";
      attrs.emplace_back(name, value);
    }

    SmallVector<Value> outputs;
    for (OpResult result : op->getResults()) {
      FailureOr<MemRefType> type = getBufferType(result.getType(), loc);
      if (failed(type))
        return failure();
      outputs.push_back(
          exec::AllocOp::create(builder, loc, *type, IntegerAttr()));
    }
    exec::KernelOp::create(builder, loc, builder.getStringAttr(kernel), inputs,
                           outputs, builder.getDictionaryAttr(attrs));
    for (auto [result, output] : llvm::zip_equal(op->getResults(), outputs))
      result.replaceAllUsesWith(output);
    op->erase();
    return success();
  }

  func::FuncOp func;
  SymbolTable &symbols;
};

struct LowerToExecPass
    : strata::lowering::impl::LowerToExecPassBase<LowerToExecPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (Operation &op :
         llvm::make_early_inc_range(module.getBody()->getOperations())) {
      LogicalResult lowered = success();
      if (auto param = dyn_cast<graph::ParamOp>(op))
        lowered = lowerParam(param);
      else if (op.getName().getStringRef() == "graph.state")
        lowered = lowerState(&op);
      if (failed(lowered))
        return signalPassFailure();
    }

    SymbolTable symbols(module);
    for (auto func : module.getOps<func::FuncOp>())
      if (failed(FunctionLowering(func, symbols).run()))
        return signalPassFailure();

    if (Attribute training = module->removeAttr(kGraphTrainingAttrName))
      module->setAttr(exec::ExecDialect::kTrainingAttrName, training);
  }
};

} // namespace
