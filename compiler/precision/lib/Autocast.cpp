//===- Autocast.cpp - strata-autocast -------------------------------------===//
//
// bf16 mixed precision in the manner of PyTorch's autocast, as a rewrite of
// the graph before strata-autodiff: every op gets the element type it
// computes in from a short list of rules (Passes.td, docs/passes.md), its
// operands are converted with graph.cast where they differ, and its result
// types follow. Parameters stay f32 (the master weights); a parameter is cast
// once per function however many ops read it. Autodiff then differentiates
// through the casts (a cast's gradient casts back), so every parameter's
// gradient, its optimizer state and its update stay f32.
//
//===----------------------------------------------------------------------===//

#include "strata/Dialect/Graph/IR/GraphDialect.h"
#include "strata/Dialect/Graph/IR/GraphOps.h"
#include "strata/Precision/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SetVector.h"

#include <optional>

namespace strata::precision {
#define GEN_PASS_DEF_STRATAAUTOCAST
#include "strata/Precision/Passes.h.inc"
} // namespace strata::precision

using namespace mlir;
namespace graph = strata::graph;

namespace {

using GraphDialect = graph::GraphDialect;

/// How an op picks the element type it computes in.
enum class Rule {
  /// bf16: the contractions (matmul, attention), whose kernels run on tensor
  /// cores and accumulate in f32 themselves.
  Lower,
  /// f32: ops whose results lose accuracy in bf16 (normalizations, softmaxes,
  /// reductions, exp/log/rsqrt/pow), autocast's "fp32" list.
  F32,
  /// The widest float type of the operands (PyTorch's type promotion), so
  /// that an f32 residual stream stays f32 whatever is added to it.
  Widest,
  /// No conversion: the op runs in the type of its (single) float input.
  Keep,
};

/// Float element types autocast converts; f64 and the fp8 formats are left
/// alone, as PyTorch's autocast leaves f64.
bool isAutocastType(Type element) {
  return element.isF32() || element.isBF16() || element.isF16();
}

std::optional<Type> getAutocastElement(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || !isAutocastType(type.getElementType()))
    return std::nullopt;
  return type.getElementType();
}

Rule getRule(Operation *op) {
  if (auto hint =
          op->getAttrOfType<StringAttr>(GraphDialect::kPrecisionAttrName)) {
    if (hint.getValue() == "f32")
      return Rule::F32;
    if (hint.getValue() == "bf16")
      return Rule::Lower;
  }
  if (isa<graph::MatmulOp, graph::AttentionOp>(op))
    return Rule::Lower;
  if (isa<graph::LayerNormOp, graph::RmsNormOp, graph::SoftmaxOp,
          graph::LogSoftmaxOp, graph::ReduceOp, graph::ExpOp, graph::LogOp,
          graph::RsqrtOp, graph::PowOp>(op))
    return Rule::F32;
  if (isa<graph::AddOp, graph::SubOp, graph::MulOp, graph::DivOp,
          graph::MaximumOp, graph::MinimumOp, graph::ConcatOp,
          graph::MoeCombineOp>(op))
    return Rule::Widest;
  // Also graph.cross_entropy: its result is f32 whatever its logits are and
  // its kernels compute in f32, so it reads bf16 logits as they are (an f32
  // copy of [B, T, V] logits would cost memory and change nothing).
  return Rule::Keep;
}

/// A literal such as the `0.5` of `x * 0.5`: like a Python scalar in
/// PyTorch, it takes the type of the tensor it meets instead of widening it.
bool isWeak(Value value) { return value.getDefiningOp<graph::ConstantOp>(); }

/// The bias add of a dense layer, `matmul(x, w) + b` with `b` of shape [N]:
/// the `linear` op that autocast runs in bf16 as a whole.
bool isBiasOfLowerMatmul(graph::AddOp add) {
  for (auto [product, bias] : {std::pair(add.getLhs(), add.getRhs()),
                               std::pair(add.getRhs(), add.getLhs())}) {
    auto matmul = product.getDefiningOp<graph::MatmulOp>();
    auto productType = dyn_cast<RankedTensorType>(product.getType());
    auto biasType = dyn_cast<RankedTensorType>(bias.getType());
    if (matmul && productType && biasType &&
        productType.getElementType().isBF16() && biasType.getRank() == 1 &&
        biasType.getDimSize(0) == productType.getShape().back() &&
        getAutocastElement(bias))
      return true;
  }
  return false;
}

/// Rewrites the functions of one module.
class Autocaster {
public:
  explicit Autocaster(MLIRContext *context)
      : bf16(BFloat16Type::get(context)), f32(Float32Type::get(context)) {}

  LogicalResult run(func::FuncOp func) {
    for (Block &block : func.getBody()) {
      for (auto ref : block.getOps<graph::ParamRefOp>())
        firstRead.try_emplace({&block, ref.getNameAttr()}, ref);
      // The casts this pass creates are not in the list, so they are not
      // visited.
      SmallVector<Operation *> ops;
      for (Operation &op : block) {
        ops.push_back(&op);
        if (!isa_and_nonnull<GraphDialect>(op.getDialect()))
          operandTypes[&op] = llvm::to_vector(op.getOperandTypes());
      }
      for (Operation *op : ops)
        if (failed(visit(op)))
          return failure();
    }
    // Reads of a parameter whose users now share the cast of its first read.
    for (graph::ParamRefOp ref : redirected)
      if (ref->use_empty())
        ref.erase();
    return success();
  }

private:
  LogicalResult visit(Operation *op) {
    if (!isa_and_nonnull<GraphDialect>(op->getDialect())) {
      restoreOperandTypes(op);
      return success();
    }
    if (auto cast = dyn_cast<graph::CastOp>(op)) {
      // A cast the model wrote may now convert a value to its own type.
      if (cast.getInput().getType() == cast.getType()) {
        cast.replaceAllUsesWith(cast.getInput());
        cast.erase();
      }
      return success();
    }
    if (std::optional<Type> element = getComputeType(op)) {
      for (OpOperand &operand : op->getOpOperands()) {
        std::optional<Type> current = getAutocastElement(operand.get());
        if (current && *current != *element)
          operand.set(castTo(operand.get(), *element));
      }
    }
    return updateResultTypes(op);
  }

  /// The element type `op`'s float operands are converted to, if any.
  std::optional<Type> getComputeType(Operation *op) {
    auto floats = llvm::make_filter_range(op->getOperands(), [](Value v) {
      return getAutocastElement(v).has_value();
    });
    if (floats.empty())
      return std::nullopt;
    switch (getRule(op)) {
    case Rule::Lower:
      return bf16;
    case Rule::F32:
      return f32;
    case Rule::Keep:
      return std::nullopt;
    case Rule::Widest:
      break;
    }
    if (auto add = dyn_cast<graph::AddOp>(op); add && isBiasOfLowerMatmul(add))
      return bf16;
    bool anyStrong = llvm::any_of(floats, [](Value v) { return !isWeak(v); });
    std::optional<Type> widest;
    for (Value value : floats) {
      if (anyStrong && isWeak(value))
        continue;
      Type element = *getAutocastElement(value);
      if (!widest ||
          element.getIntOrFloatBitWidth() > widest->getIntOrFloatBitWidth())
        widest = element;
      else if (element != *widest && element.getIntOrFloatBitWidth() ==
                                         widest->getIntOrFloatBitWidth())
        widest = f32; // bf16 with f16: neither holds the other.
    }
    return widest;
  }

  /// `value` converted to `element`: one graph.cast per value and type,
  /// placed right after the value's definition so that every user can share
  /// it. Reads of a parameter share the cast of its first read in the block.
  Value castTo(Value value, Type element) {
    if (auto ref = value.getDefiningOp<graph::ParamRefOp>()) {
      auto first = firstRead.lookup({ref->getBlock(), ref.getNameAttr()});
      if (first != ref)
        redirected.insert(ref);
      value = first.getResult();
    }
    auto [it, inserted] = casts.try_emplace({value, element}, Value());
    if (!inserted)
      return it->second;
    OpBuilder builder(value.getContext());
    Location loc = value.getLoc();
    if (Operation *def = value.getDefiningOp())
      builder.setInsertionPointAfter(def);
    else
      builder.setInsertionPointToStart(value.getParentBlock());
    auto type = cast<RankedTensorType>(value.getType()).clone(element);
    it->second = graph::CastOp::create(builder, loc, type, value);
    return it->second;
  }

  /// Gives `op`'s results the element types its operands now imply; the
  /// shapes stay as written.
  LogicalResult updateResultTypes(Operation *op) {
    SmallVector<Type> inferred;
    if (auto infer = dyn_cast<InferTypeOpInterface>(op)) {
      if (failed(infer.inferReturnTypes(
              op->getContext(), op->getLoc(), op->getOperands(),
              op->getRawDictionaryAttrs(), op->getPropertiesStorage(),
              op->getRegions(), inferred)))
        return failure();
    } else if (auto reshape = dyn_cast<graph::ReshapeOp>(op)) {
      Type input = reshape.getInput().getType();
      inferred.push_back(cast<RankedTensorType>(reshape.getType())
                             .clone(cast<ShapedType>(input).getElementType()));
    } else {
      return success();
    }
    for (auto [result, type] : llvm::zip_equal(op->getResults(), inferred)) {
      auto old = cast<RankedTensorType>(result.getType());
      Type element = cast<ShapedType>(type).getElementType();
      if (old.getElementType() != element)
        result.setType(old.clone(element));
    }
    return success();
  }

  /// An op outside the graph dialect (the function's return) sees the types
  /// the model gave its operands.
  void restoreOperandTypes(Operation *op) {
    for (auto [operand, type] :
         llvm::zip_equal(op->getOpOperands(), operandTypes.lookup(op))) {
      if (operand.get().getType() != type)
        operand.set(
            castTo(operand.get(), cast<ShapedType>(type).getElementType()));
    }
  }

  Type bf16, f32;
  /// The first graph.param_ref of each parameter in each block.
  DenseMap<std::pair<Block *, Attribute>, graph::ParamRefOp> firstRead;
  /// Reads of a parameter that were replaced by its first read somewhere.
  llvm::SetVector<graph::ParamRefOp> redirected;
  /// (value, element type) -> the cast of the value to that type.
  DenseMap<std::pair<Value, Type>, Value> casts;
  /// The operand types of the ops outside the graph dialect, as written.
  DenseMap<Operation *, SmallVector<Type>> operandTypes;
};

struct AutocastPass
    : strata::precision::impl::StrataAutocastBase<AutocastPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (precision != "bf16" && precision != "f32") {
      module.emitError("strata-autocast: unknown precision '")
          << precision << "' (expected bf16 or f32)";
      return signalPassFailure();
    }
    if (failed(checkNotTrained(module)))
      return signalPassFailure();
    if (precision == "f32")
      return;
    Autocaster autocaster(&getContext());
    for (auto func : module.getOps<func::FuncOp>())
      if (failed(autocaster.run(func)))
        return signalPassFailure();
  }

  /// The rules are for forward ops: after strata-autodiff, the gradient ops
  /// would need their own, and the gradients already have their types.
  static LogicalResult checkNotTrained(ModuleOp module) {
    if (module->hasAttr(GraphDialect::kTrainingAttrName))
      return module.emitError("strata-autocast must run before "
                              "strata-autodiff, but the module already has "
                              "'")
             << GraphDialect::kTrainingAttrName << "'";
    for (Operation &op : module.getOps()) {
      bool trained =
          isa<graph::StateOp>(op) || op.hasAttr(GraphDialect::kStepAttrName);
      if (trained)
        return op.emitError("strata-autocast must run before "
                            "strata-autodiff, but the module already has a "
                            "training step");
    }
    return success();
  }
};

} // namespace
