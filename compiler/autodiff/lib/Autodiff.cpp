//===- Autodiff.cpp - strata-autodiff -------------------------------------===//
//
// Builds a model's training step: @M.grad (forward, reverse-mode backward
// through the ops' DifferentiableOpInterface rules, gradients accumulated
// into graph.state) and @M.apply (clipping, learning-rate schedule and one
// optimizer update per parameter). Passes.td describes the result.
//
//===----------------------------------------------------------------------===//

#include "strata/Autodiff/Passes.h"
#include "strata/Dialect/Graph/IR/GraphDialect.h"
#include "strata/Dialect/Graph/IR/GraphOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"

#include <cmath>

namespace strata::autodiff {
#define GEN_PASS_DEF_STRATAAUTODIFF
#include "strata/Autodiff/Passes.h.inc"
} // namespace strata::autodiff

using namespace mlir;
namespace graph = strata::graph;

namespace {

using GraphDialect = graph::GraphDialect;

/// Added to the global norm before dividing by it, as in PyTorch's
/// clip_grad_norm_.
constexpr double kClipEpsilon = 1e-6;

/// A trained parameter and the symbol names of its states. `first` is
/// `@p.m` (AdamW) or `@p.momentum` (SGD with momentum), `second` is `@p.v`;
/// either is empty when the optimizer keeps no such state.
struct TrainedParam {
  graph::ParamOp param;
  std::string grad, first, second;
};

/// A 0-d f32 graph.constant.
Value createScalar(OpBuilder &builder, Location loc, float value) {
  auto type = RankedTensorType::get({}, builder.getF32Type());
  return graph::ConstantOp::create(builder, loc,
                                   DenseElementsAttr::get(type, value));
}

bool isFloatTensor(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  return type && isa<FloatType>(type.getElementType());
}

//===----------------------------------------------------------------------===//
// Reverse-mode sweep
//===----------------------------------------------------------------------===//

/// Appends the backward pass to `func`, a copy of the loss function: the
/// gradient of every op on a path from a parameter to the loss, in reverse
/// order, and a graph.accumulate of each parameter's gradient into its grad
/// state (named by `gradStates`, parameter name -> state name) where that
/// gradient is complete.
class ReverseSweep {
public:
  ReverseSweep(func::FuncOp func, const llvm::StringMap<std::string> &states)
      : func(func), gradStates(states) {}

  /// Emits a located error and fails when an op on the path has no rule, a
  /// rule fails, or a shape is dynamic.
  LogicalResult run(double seed);

private:
  /// Whether gradients flow through `value`: it depends on a parameter and
  /// the loss depends on it.
  bool isActive(Value value) const {
    return varied.contains(value) && useful.contains(value);
  }
  bool hasActiveResult(Operation *op) const {
    return llvm::any_of(op->getResults(),
                        [&](Value result) { return isActive(result); });
  }

  void analyzeActivity(ArrayRef<Operation *> ops, Value loss);
  LogicalResult checkDifferentiable(Operation *op);
  /// The total gradient of `value` (null when it got none); consumes the
  /// contributions.
  Value takeGradient(OpBuilder &builder, Value value);
  Value sum(OpBuilder &builder, Location loc, ArrayRef<Value> terms);

  func::FuncOp func;
  const llvm::StringMap<std::string> &gradStates;
  llvm::DenseSet<Value> varied, useful;
  llvm::DenseMap<Value, SmallVector<Value, 2>> contributions;
};

void ReverseSweep::analyzeActivity(ArrayRef<Operation *> ops, Value loss) {
  for (Operation *op : ops) {
    if (auto ref = dyn_cast<graph::ParamRefOp>(op)) {
      if (gradStates.count(ref.getName()))
        varied.insert(ref.getResult());
      continue;
    }
    if (llvm::none_of(op->getOperands(),
                      [&](Value operand) { return varied.contains(operand); }))
      continue;
    for (Value result : op->getResults())
      if (isFloatTensor(result))
        varied.insert(result);
  }
  useful.insert(loss);
  for (Operation *op : llvm::reverse(ops))
    if (llvm::any_of(op->getResults(),
                     [&](Value result) { return useful.contains(result); }))
      useful.insert(op->operand_begin(), op->operand_end());
}

LogicalResult ReverseSweep::checkDifferentiable(Operation *op) {
  if (!isa<graph::DifferentiableOpInterface>(op))
    return op->emitError("strata-autodiff: '")
           << op->getName()
           << "' has no gradient rule, but the loss depends on a parameter "
              "through it";
  for (Type type :
       llvm::concat<const Type>(op->getOperandTypes(), op->getResultTypes())) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor || !tensor.hasStaticShape())
      return op->emitError("strata-autodiff needs static tensor shapes, got ")
             << type;
  }
  return success();
}

Value ReverseSweep::sum(OpBuilder &builder, Location loc,
                        ArrayRef<Value> terms) {
  if (terms.empty())
    return Value();
  if (terms.size() == 1)
    return terms.front();

  // The gradients of slices that tile a value (a fused projection split into
  // q, k and v) are its gradient's pieces: concatenate them instead of
  // adding zero-padded copies.
  SmallVector<graph::SliceGradOp> pieces;
  for (Value term : terms)
    if (auto piece = term.getDefiningOp<graph::SliceGradOp>())
      pieces.push_back(piece);
  if (pieces.size() == terms.size() &&
      llvm::all_of(pieces, [&](graph::SliceGradOp piece) {
        return piece.getAxis() == pieces.front().getAxis();
      })) {
    llvm::sort(pieces, [](graph::SliceGradOp a, graph::SliceGradOp b) {
      return a.getStart() < b.getStart();
    });
    uint64_t axis = pieces.front().getAxis(), next = 0;
    bool tiles = true;
    for (graph::SliceGradOp piece : pieces) {
      tiles &= piece.getStart() == next;
      next = piece.getEnd();
    }
    auto type = cast<RankedTensorType>(terms.front().getType());
    if (tiles && static_cast<int64_t>(next) == type.getDimSize(axis)) {
      SmallVector<Value> inputs;
      for (graph::SliceGradOp piece : pieces)
        inputs.push_back(piece.getGrad());
      return graph::ConcatOp::create(builder, loc, inputs, axis);
    }
  }

  Value total = terms.front();
  for (Value term : terms.drop_front())
    total = graph::AddOp::create(builder, loc, total, term);
  return total;
}

Value ReverseSweep::takeGradient(OpBuilder &builder, Value value) {
  auto it = contributions.find(value);
  if (it == contributions.end())
    return Value();
  SmallVector<Value, 2> terms = std::move(it->second);
  contributions.erase(it);
  return sum(builder, value.getLoc(), terms);
}

LogicalResult ReverseSweep::run(double seed) {
  Block &body = func.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  Value loss = ret.getOperand(0);
  SmallVector<Operation *> ops;
  for (Operation &op : body.without_terminator())
    ops.push_back(&op);

  analyzeActivity(ops, loss);
  for (Operation *op : ops)
    if (hasActiveResult(op) && failed(checkDifferentiable(op)))
      return failure();

  // Each parameter's gradient is complete at its first read (in program
  // order); accumulating it there, not at the end, frees it early.
  llvm::StringMap<unsigned> pendingReads;
  llvm::StringMap<SmallVector<Value>> paramGrads;
  for (Operation *op : ops)
    if (auto ref = dyn_cast<graph::ParamRefOp>(op); ref && hasActiveResult(op))
      ++pendingReads[ref.getName()];

  OpBuilder builder(ret);
  if (isActive(loss))
    contributions[loss].push_back(createScalar(builder, loss.getLoc(), seed));

  for (Operation *op : llvm::reverse(ops)) {
    if (!hasActiveResult(op))
      continue;
    if (auto ref = dyn_cast<graph::ParamRefOp>(op)) {
      SmallVector<Value> &grads = paramGrads[ref.getName()];
      if (Value grad = takeGradient(builder, ref.getResult()))
        grads.push_back(grad);
      if (--pendingReads[ref.getName()] == 0 && !grads.empty())
        graph::AccumulateOp::create(builder, ref.getLoc(),
                                    gradStates.lookup(ref.getName()),
                                    sum(builder, ref.getLoc(), grads));
      continue;
    }

    SmallVector<Value> resultGrads;
    for (Value result : op->getResults())
      resultGrads.push_back(isActive(result) ? takeGradient(builder, result)
                                             : Value());
    if (llvm::all_of(resultGrads, [](Value grad) { return !grad; }))
      continue;
    FailureOr<SmallVector<Value>> operandGrads =
        cast<graph::DifferentiableOpInterface>(op).buildGradients(builder,
                                                                  resultGrads);
    if (failed(operandGrads))
      return failure();
    if (operandGrads->size() != op->getNumOperands())
      return op->emitError("strata-autodiff: the gradient rule returned ")
             << operandGrads->size() << " gradients for "
             << op->getNumOperands() << " operands";
    for (auto [operand, grad] :
         llvm::zip_equal(op->getOperands(), *operandGrads)) {
      if (!grad || !isActive(operand))
        continue;
      if (grad.getType() != operand.getType())
        return op->emitError("strata-autodiff: the gradient rule built a ")
               << grad.getType() << " gradient for a " << operand.getType()
               << " operand";
      contributions[operand].push_back(grad);
    }
  }

  // Forward ops that only fed unused gradients, and rule outputs nobody
  // needs (the gradient of an integer-indexed operand, say), go away.
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(body)))
    if (isOpTriviallyDead(&op))
      op.erase();
  return success();
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

struct AutodiffPass
    : public strata::autodiff::impl::StrataAutodiffBase<AutodiffPass> {
  using Base::Base;

  void runOnOperation() override;

private:
  FailureOr<func::FuncOp> findLossFunction(ModuleOp module);
  LogicalResult checkOptions(func::FuncOp loss);
  LogicalResult checkLoss(func::FuncOp loss);
  /// The states of every parameter, named but not yet created; fails if a
  /// name is taken.
  FailureOr<SmallVector<TrainedParam>> planStates(ModuleOp module,
                                                  func::FuncOp loss);
  void createStates(ModuleOp module, ArrayRef<TrainedParam> params);
  /// Builds `@<lossName>.apply` after `after`.
  void buildApply(ModuleOp module, Operation *after, StringRef lossName,
                  ArrayRef<TrainedParam> params);
  DictionaryAttr getTrainingAttr(Builder &builder);
};

FailureOr<func::FuncOp> AutodiffPass::findLossFunction(ModuleOp module) {
  if (!funcName.empty()) {
    auto func = module.lookupSymbol<func::FuncOp>(funcName);
    if (!func || func.isExternal()) {
      module.emitError("strata-autodiff: no function '@")
          << funcName << "' with a body to differentiate (func=)";
      return failure();
    }
    return func;
  }
  SmallVector<func::FuncOp> candidates;
  for (auto func : module.getOps<func::FuncOp>())
    if (func->hasAttr(GraphDialect::kModelAttrName))
      candidates.push_back(func);
  if (candidates.size() == 1)
    return candidates.front();
  if (candidates.empty()) {
    module.emitError("strata-autodiff: no function is marked 'graph.model'; "
                     "name the loss function with func=");
    return failure();
  }
  InFlightDiagnostic diag =
      module.emitError("strata-autodiff: ")
      << candidates.size()
      << " functions are marked 'graph.model'; choose one with func=";
  for (func::FuncOp func : candidates)
    diag.attachNote(func.getLoc())
        << "candidate '@" << func.getSymName() << "'";
  return failure();
}

LogicalResult AutodiffPass::checkOptions(func::FuncOp loss) {
  auto fail = [&]() {
    return loss.emitError("strata-autodiff of '@")
           << loss.getSymName() << "': ";
  };
  if (optimizer != "adamw" && optimizer != "sgd")
    return fail() << "unknown optimizer '" << optimizer
                  << "' (expected adamw or sgd)";
  if (schedule != "constant" && schedule != "cosine")
    return fail() << "unknown schedule '" << schedule
                  << "' (expected constant or cosine)";
  if (schedule == "cosine" && totalSteps <= 0)
    return fail() << "the cosine schedule needs total-steps > 0";
  if (accumulate < 1)
    return fail() << "accumulate must be >= 1, got " << accumulate.getValue();
  if (warmupSteps < 0 || totalSteps < 0)
    return fail() << "warmup-steps and total-steps must be >= 0";
  for (auto [name, value] : {std::pair<StringRef, double>{"lr", lr},
                             {"epsilon", epsilon},
                             {"weight-decay", weightDecay},
                             {"momentum", momentum},
                             {"clip-norm", clipNorm},
                             {"min-lr", minLr}})
    if (!std::isfinite(value) || value < 0)
      return fail() << name << " must be a finite number >= 0, got " << value;
  for (auto [name, value] :
       {std::pair<StringRef, double>{"beta1", beta1}, {"beta2", beta2}})
    if (!(value >= 0 && value < 1))
      return fail() << name << " must be in [0, 1), got " << value;
  return success();
}

LogicalResult AutodiffPass::checkLoss(func::FuncOp loss) {
  auto scalarF32 = RankedTensorType::get({}, Float32Type::get(&getContext()));
  ArrayRef<Type> results = loss.getResultTypes();
  if (results.size() != 1 || results[0] != scalarF32) {
    std::string got;
    llvm::raw_string_ostream os(got);
    llvm::interleaveComma(results, os);
    return loss.emitError("strata-autodiff: '@")
           << loss.getSymName()
           << "' must return one tensor<f32> (the loss), got (" << got << ")";
  }
  if (!loss.getBody().hasOneBlock())
    return loss.emitError("strata-autodiff: '@")
           << loss.getSymName() << "' must have a body of one block";
  return success();
}

FailureOr<SmallVector<TrainedParam>>
AutodiffPass::planStates(ModuleOp module, func::FuncOp loss) {
  SmallVector<TrainedParam> params;
  for (auto param : module.getOps<graph::ParamOp>()) {
    TrainedParam trained{param, (param.getSymName() + ".grad").str(), "", ""};
    if (optimizer == "adamw") {
      trained.first = (param.getSymName() + ".m").str();
      trained.second = (param.getSymName() + ".v").str();
    } else if (momentum != 0) {
      trained.first = (param.getSymName() + ".momentum").str();
    }
    params.push_back(std::move(trained));
  }
  SmallVector<std::string> names = {(loss.getSymName() + ".grad").str(),
                                    (loss.getSymName() + ".apply").str()};
  for (const TrainedParam &param : params)
    for (const std::string &name : {param.grad, param.first, param.second})
      if (!name.empty())
        names.push_back(name);
  for (const std::string &name : names)
    if (Operation *existing = module.lookupSymbol(name)) {
      InFlightDiagnostic diag =
          loss.emitError("strata-autodiff: symbol '@")
          << name << "' already exists (is the module already trained?)";
      diag.attachNote(existing->getLoc()) << "defined here";
      return failure();
    }
  if (module->hasAttr(GraphDialect::kTrainingAttrName)) {
    loss.emitError("strata-autodiff: the module already has '")
        << GraphDialect::kTrainingAttrName << "'";
    return failure();
  }
  return params;
}

void AutodiffPass::createStates(ModuleOp module,
                                ArrayRef<TrainedParam> params) {
  if (params.empty())
    return;
  OpBuilder builder(module.getContext());
  builder.setInsertionPointAfter(params.back().param);
  for (const TrainedParam &trained : params) {
    graph::ParamOp param = trained.param;
    auto type = param.getTensorType();
    auto create = [&](StringRef name, StringRef kind) {
      if (!name.empty())
        graph::StateOp::create(builder, param.getLoc(), name, type,
                               param.getSymName(), kind);
    };
    create(trained.grad, "grad");
    if (optimizer == "adamw") {
      create(trained.first, "adam_m");
      create(trained.second, "adam_v");
    } else {
      create(trained.first, "momentum");
    }
  }
}

void AutodiffPass::buildApply(ModuleOp module, Operation *after,
                              StringRef lossName,
                              ArrayRef<TrainedParam> params) {
  MLIRContext *context = module.getContext();
  OpBuilder builder(context);
  builder.setInsertionPointAfter(after);
  Location loc = after->getLoc();
  auto stepType = RankedTensorType::get({}, builder.getI32Type());
  auto apply = func::FuncOp::create(builder, loc, (lossName + ".apply").str(),
                                    builder.getFunctionType({stepType}, {}));
  apply.setArgAttr(0, GraphDialect::kNameAttrName,
                   builder.getStringAttr("step"));
  apply->setAttr(GraphDialect::kStepAttrName, builder.getStringAttr("apply"));
  Block *entry = apply.addEntryBlock();
  builder.setInsertionPointToStart(entry);
  Value step = entry->getArgument(0);

  Value scale;
  if (clipNorm > 0 && !params.empty()) {
    SmallVector<Value> grads;
    for (const TrainedParam &trained : params) {
      graph::ParamOp param = trained.param;
      grads.push_back(graph::ParamRefOp::create(
          builder, loc, param.getTensorType(), trained.grad));
    }
    Value norm = graph::GlobalNormOp::create(
        builder, loc, RankedTensorType::get({}, builder.getF32Type()), grads);
    Value denominator = graph::AddOp::create(
        builder, loc, norm, createScalar(builder, loc, kClipEpsilon));
    Value ratio = graph::DivOp::create(
        builder, loc, createScalar(builder, loc, clipNorm), denominator);
    scale = graph::MinimumOp::create(builder, loc,
                                     createScalar(builder, loc, 1.0f), ratio);
  } else {
    scale = createScalar(builder, loc, 1.0f);
  }
  Value rate = graph::LrScheduleOp::create(
      builder, loc, step,
      schedule == "cosine" ? graph::LrScheduleKind::cosine
                           : graph::LrScheduleKind::constant,
      APFloat(lr.getValue()), warmupSteps, totalSteps,
      APFloat(minLr.getValue()));

  for (const TrainedParam &trained : params) {
    graph::ParamOp param = trained.param;
    // Decay matrices and embeddings only, not biases and norm gains.
    double decay = param.getTensorType().getRank() >= 2 ? weightDecay : 0.0;
    if (optimizer == "adamw") {
      graph::AdamWUpdateOp::create(builder, param.getLoc(), param.getSymName(),
                                   trained.grad, trained.first, trained.second,
                                   rate, scale, step, APFloat(beta1.getValue()),
                                   APFloat(beta2.getValue()),
                                   APFloat(epsilon.getValue()), APFloat(decay));
    } else {
      FlatSymbolRefAttr buffer =
          trained.first.empty()
              ? FlatSymbolRefAttr()
              : FlatSymbolRefAttr::get(context, trained.first);
      graph::SgdUpdateOp::create(builder, param.getLoc(), param.getSymName(),
                                 trained.grad, buffer, rate, scale,
                                 APFloat(momentum.getValue()), APFloat(decay));
    }
  }
  for (const TrainedParam &trained : params) {
    graph::ParamOp param = trained.param;
    graph::ZeroOp::create(builder, param.getLoc(), trained.grad);
  }
  func::ReturnOp::create(builder, loc);
}

DictionaryAttr AutodiffPass::getTrainingAttr(Builder &builder) {
  NamedAttrList attrs;
  attrs.append("optimizer", builder.getStringAttr(optimizer));
  attrs.append("lr", builder.getF64FloatAttr(lr));
  attrs.append("beta1", builder.getF64FloatAttr(beta1));
  attrs.append("beta2", builder.getF64FloatAttr(beta2));
  attrs.append("epsilon", builder.getF64FloatAttr(epsilon));
  attrs.append("weight_decay", builder.getF64FloatAttr(weightDecay));
  attrs.append("momentum", builder.getF64FloatAttr(momentum));
  attrs.append("clip_norm", builder.getF64FloatAttr(clipNorm));
  attrs.append("schedule", builder.getStringAttr(schedule));
  attrs.append("warmup_steps", builder.getI64IntegerAttr(warmupSteps));
  attrs.append("total_steps", builder.getI64IntegerAttr(totalSteps));
  attrs.append("min_lr", builder.getF64FloatAttr(minLr));
  attrs.append("accumulate", builder.getI64IntegerAttr(accumulate));
  return builder.getDictionaryAttr(attrs);
}

void AutodiffPass::runOnOperation() {
  ModuleOp module = getOperation();
  FailureOr<func::FuncOp> loss = findLossFunction(module);
  if (failed(loss) || failed(checkOptions(*loss)) || failed(checkLoss(*loss)))
    return signalPassFailure();
  FailureOr<SmallVector<TrainedParam>> params = planStates(module, *loss);
  if (failed(params))
    return signalPassFailure();

  llvm::StringMap<std::string> gradStates;
  for (TrainedParam &trained : *params)
    gradStates[trained.param.getSymName()] = trained.grad;

  Builder builder(&getContext());
  func::FuncOp grad = loss->clone();
  grad.setSymName((loss->getSymName() + ".grad").str());
  grad->removeAttr(GraphDialect::kModelAttrName);
  grad->setAttr(GraphDialect::kStepAttrName, builder.getStringAttr("grad"));
  module.getBody()->getOperations().insertAfter(Block::iterator(*loss), grad);
  if (failed(ReverseSweep(grad, gradStates)
                 .run(1.0 / static_cast<double>(accumulate)))) {
    grad.erase();
    return signalPassFailure();
  }

  createStates(module, *params);
  buildApply(module, grad, loss->getSymName(), *params);
  module->setAttr(GraphDialect::kTrainingAttrName, getTrainingAttr(builder));
}

} // namespace
