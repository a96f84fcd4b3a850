//===- ExportPlan.cpp - exec IR -> strata::plan::Plan ---------------------===//
//
// Buffers are numbered globals first (module order), then inputs (by name,
// shared between programs), then each program's temporaries and the locals
// of its fused kernels. Persistent, input and local offsets are assigned
// here; temporaries keep the arena offsets of strata-memory-plan.
//
//===----------------------------------------------------------------------===//

#include "strata/Lowering/ExportPlan.h"

#include "AttrKeyword.h"
#include "strata/Dialect/Exec/IR/ExecOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Location.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>

using namespace mlir;
using namespace strata;

namespace {

/// Version of the plan format this exporter writes (plan.proto).
constexpr uint32_t kPlanVersion = 2;

/// "file:line:col" of the model source: the innermost file location, so that
/// code inside a def points at the def's line.
std::string formatLocation(Location loc) {
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return (file.getFilename().getValue() + ":" + Twine(file.getLine()) + ":" +
            Twine(file.getColumn()))
        .str();
  if (auto call = dyn_cast<CallSiteLoc>(loc)) {
    std::string callee = formatLocation(call.getCallee());
    return callee.empty() ? formatLocation(call.getCaller()) : callee;
  }
  if (auto name = dyn_cast<NameLoc>(loc))
    return formatLocation(name.getChildLoc());
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      if (std::string text = formatLocation(inner); !text.empty())
        return text;
  return "";
}

llvm::Error errorAt(Location loc, const Twine &message) {
  std::string where = formatLocation(loc);
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      (where.empty() ? message : Twine(where) + ": " + message).str());
}

llvm::Expected<plan::DType> getDType(Type element, Location loc) {
  if (element.isF32())
    return plan::F32;
  if (element.isSignlessInteger(32))
    return plan::I32;
  if (element.isBF16())
    return plan::BF16;
  if (element.isF16())
    return plan::F16;
  std::string text;
  llvm::raw_string_ostream os(text);
  os << element;
  return errorAt(loc, "the plan has no element type " + text +
                          " (f32, i32, bf16, f16)");
}

/// Fills dtype, shape and size of `buffer` from a buffer type.
llvm::Error setType(plan::Buffer &buffer, MemRefType type, Location loc) {
  llvm::Expected<plan::DType> dtype = getDType(type.getElementType(), loc);
  if (!dtype)
    return dtype.takeError();
  buffer.set_dtype(*dtype);
  for (int64_t dim : type.getShape())
    buffer.add_shape(dim);
  buffer.set_size_bytes(exec::getBufferBytes(type));
  return llvm::Error::success();
}

/// A kernel attribute as a plan attribute (TRAINING-SPEC §3).
llvm::Expected<plan::Attribute> convertAttribute(StringRef name, Attribute attr,
                                                 Location loc) {
  plan::Attribute result;
  if (auto flag = dyn_cast<BoolAttr>(attr)) {
    result.set_b(flag.getValue());
  } else if (auto integer = dyn_cast<IntegerAttr>(attr)) {
    result.set_i(integer.getValue().getSExtValue());
  } else if (auto number = dyn_cast<FloatAttr>(attr)) {
    result.set_f(number.getValueAsDouble());
  } else if (isa<UnitAttr>(attr)) {
    result.set_b(true);
  } else if (auto ints = dyn_cast<DenseI64ArrayAttr>(attr)) {
    for (int64_t v : ints.asArrayRef())
      result.mutable_ints()->add_values(v);
  } else if (auto ints = dyn_cast<DenseI32ArrayAttr>(attr)) {
    for (int32_t v : ints.asArrayRef())
      result.mutable_ints()->add_values(v);
  } else if (auto floats = dyn_cast<DenseF64ArrayAttr>(attr)) {
    for (double v : floats.asArrayRef())
      result.mutable_floats()->add_values(v);
  } else if (auto floats = dyn_cast<DenseF32ArrayAttr>(attr)) {
    for (float v : floats.asArrayRef())
      result.mutable_floats()->add_values(v);
  } else if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    // Splats are written out element by element: the kernel sees the tensor.
    if (isa<FloatType>(dense.getElementType())) {
      result.mutable_floats();
      for (const APFloat &v : dense.getValues<APFloat>())
        result.mutable_floats()->add_values(v.convertToDouble());
    } else if (dense.getElementType().isInteger()) {
      result.mutable_ints();
      for (const APInt &v : dense.getValues<APInt>())
        result.mutable_ints()->add_values(dense.getElementType().isInteger(1)
                                              ? v.getZExtValue()
                                              : v.getSExtValue());
    } else {
      return errorAt(loc, "kernel attribute '" + name +
                              "' has elements the plan cannot hold");
    }
  } else if (std::optional<std::string> keyword =
                 lowering::detail::getKeyword(attr)) {
    result.set_s(*keyword);
  } else {
    return errorAt(loc, "kernel attribute '" + name + "' has no plan encoding");
  }
  return result;
}

/// Reads one number of the `exec.training` dictionary, spelled with `_` or
/// `-`.
std::optional<double> getNumber(DictionaryAttr dict, StringRef key) {
  std::string dashed = key.str();
  std::replace(dashed.begin(), dashed.end(), '_', '-');
  for (StringRef spelling : {key, StringRef(dashed)}) {
    Attribute value = dict.get(spelling);
    if (auto number = dyn_cast_or_null<FloatAttr>(value))
      return number.getValueAsDouble();
    if (auto integer = dyn_cast_or_null<IntegerAttr>(value))
      return static_cast<double>(integer.getValue().getSExtValue());
  }
  return std::nullopt;
}

std::optional<std::string> getString(DictionaryAttr dict, StringRef key) {
  if (Attribute value = dict.get(key))
    return lowering::detail::getKeyword(value);
  return std::nullopt;
}

/// Bytes of every offset in the local scratch region.
constexpr uint64_t kLocalAlignment = 64;

class PlanExporter {
public:
  PlanExporter(ModuleOp module, const plan::DeviceCode *cuda)
      : module(module), cuda(cuda) {}

  llvm::Expected<plan::Plan> run() {
    result.set_version(kPlanVersion);
    if (llvm::Error error = addGlobals())
      return std::move(error);

    func::FuncOp grad, apply, forward;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func->hasAttr(exec::ExecDialect::kModelAttrName)) {
        if (forward)
          return errorAt(func.getLoc(),
                         "two functions are marked 'exec.model'");
        forward = func;
      }
      auto step =
          func->getAttrOfType<StringAttr>(exec::ExecDialect::kStepAttrName);
      if (!step)
        continue;
      func::FuncOp &slot = step.getValue() == "grad" ? grad : apply;
      if (slot)
        return errorAt(func.getLoc(), "two functions have exec.step = \"" +
                                          step.getValue() + "\"");
      slot = func;
    }

    bool training = grad || apply;
    if (training && (!grad || !apply))
      return errorAt(module.getLoc(),
                     "a training plan needs one function with exec.step = "
                     "\"grad\" and one with \"apply\"");
    if (!training && !forward) {
      auto funcs = llvm::to_vector(module.getOps<func::FuncOp>());
      if (funcs.size() != 1)
        return errorAt(module.getLoc(),
                       "no function is marked 'exec.model' or 'exec.step'");
      forward = funcs.front();
    }

    if (training) {
      if (llvm::Error error = addProgram(grad, "grad", *result.mutable_grad()))
        return std::move(error);
      if (llvm::Error error =
              addProgram(apply, "apply", *result.mutable_apply()))
        return std::move(error);
    } else if (llvm::Error error =
                   addProgram(forward, "forward", *result.mutable_forward())) {
      return std::move(error);
    }

    if (forward)
      result.set_model(forward.getName().str());
    else
      result.set_model(grad.getName().str().substr(
          0,
          grad.getName().size() - (grad.getName().ends_with(".grad") ? 5 : 0)));

    setIndexBounds();
    setBatchGeometry();
    setTraining(training);
    result.set_persistent_bytes(persistentBytes);
    result.set_input_bytes(inputBytes);
    result.set_arena_bytes(arenaBytes);
    result.set_local_bytes(localBytes);
    if (cuda)
      *result.mutable_cuda() = *cuda;
    return std::move(result);
  }

private:
  plan::Buffer &newBuffer(StringRef name, plan::BufferRole role) {
    plan::Buffer &buffer = *result.add_buffers();
    buffer.set_id(result.buffers_size() - 1);
    buffer.set_name(name.str());
    buffer.set_role(role);
    return buffer;
  }

  llvm::Error addGlobals() {
    for (auto global : module.getOps<exec::GlobalOp>()) {
      plan::Buffer &buffer = newBuffer(
          global.getSymName(), global.isParam() ? plan::PARAM : plan::STATE);
      if (llvm::Error error =
              setType(buffer, global.getMemRefType(), global.getLoc()))
        return error;
      persistentBytes =
          llvm::alignTo(persistentBytes, lowering::kRegionAlignment);
      buffer.set_offset(persistentBytes);
      persistentBytes += buffer.size_bytes();
      if (global.isParam()) {
        auto init = llvm::StringSwitch<plan::InitKind>(*global.getInit())
                        .Case("zeros", plan::ZEROS)
                        .Case("ones", plan::ONES)
                        .Case("constant", plan::CONSTANT)
                        .Case("normal", plan::NORMAL)
                        .Case("uniform", plan::UNIFORM)
                        .Default(plan::INIT_UNSPECIFIED);
        buffer.set_init(init);
        if (DenseF64ArrayAttr args = global.getInitArgsAttr())
          for (double arg : args.asArrayRef())
            buffer.add_init_args(arg);
      } else {
        buffer.set_state_of(global.getStateOf()->str());
        buffer.set_state_kind(global.getKind()->str());
      }
      globalIds[global.getSymName()] = buffer.id();
    }
    return llvm::Error::success();
  }

  /// The INPUT buffer named `name`, shared by every program that takes it.
  llvm::Expected<int32_t> getInput(StringRef name, MemRefType type,
                                   Location loc) {
    auto it = inputIds.find(name);
    if (it != inputIds.end()) {
      const plan::Buffer &existing = result.buffers(it->second);
      if (static_cast<size_t>(existing.shape_size()) !=
              type.getShape().size() ||
          !llvm::equal(existing.shape(), type.getShape()) ||
          existing.size_bytes() != exec::getBufferBytes(type))
        return errorAt(loc, "input '" + name +
                                "' has different types in two programs");
      return it->second;
    }
    plan::Buffer &buffer = newBuffer(name, plan::INPUT);
    if (llvm::Error error = setType(buffer, type, loc))
      return std::move(error);
    inputBytes = llvm::alignTo(inputBytes, lowering::kRegionAlignment);
    buffer.set_offset(inputBytes);
    inputBytes += buffer.size_bytes();
    inputIds[name] = buffer.id();
    return buffer.id();
  }

  llvm::Error addProgram(func::FuncOp func, StringRef name,
                         plan::Program &program) {
    program.set_name(name.str());
    if (func.isExternal() || !func.getBody().hasOneBlock())
      return errorAt(func.getLoc(),
                     "program '" + name + "' needs a body of one block");
    DenseMap<Value, int32_t> ids;
    for (BlockArgument arg : func.getArguments()) {
      std::string inputName = "arg" + std::to_string(arg.getArgNumber());
      if (auto attr = func.getArgAttrOfType<StringAttr>(
              arg.getArgNumber(), exec::ExecDialect::kInputAttrName))
        inputName = attr.getValue().str();
      auto type = dyn_cast<MemRefType>(arg.getType());
      if (!type || !exec::isBufferType(type))
        return errorAt(arg.getLoc(), "argument of program '" + name +
                                         "' is not a buffer; run "
                                         "strata-lower-to-exec first");
      llvm::Expected<int32_t> id = getInput(inputName, type, arg.getLoc());
      if (!id)
        return id.takeError();
      ids[arg] = *id;
      program.add_inputs(*id);
    }

    auto arena = func->getAttrOfType<IntegerAttr>(
        exec::ExecDialect::kArenaBytesAttrName);
    auto lowerBound = func->getAttrOfType<IntegerAttr>(
        exec::ExecDialect::kLowerBoundBytesAttrName);
    auto naive = func->getAttrOfType<IntegerAttr>(
        exec::ExecDialect::kNaiveBytesAttrName);
    if (!arena || !lowerBound || !naive)
      return errorAt(func.getLoc(), "program '" + name +
                                        "' has no memory plan; run "
                                        "strata-memory-plan first");
    program.set_arena_bytes(arena.getInt());
    program.set_lower_bound_bytes(lowerBound.getInt());
    program.set_naive_bytes(naive.getInt());
    arenaBytes = std::max<uint64_t>(arenaBytes, arena.getInt());

    int64_t numTemps = 0;
    for (Operation &op : func.getBody().front()) {
      if (auto ref = dyn_cast<exec::GlobalRefOp>(op)) {
        auto it = globalIds.find(ref.getName());
        if (it == globalIds.end())
          return errorAt(ref.getLoc(),
                         "'@" + ref.getName() + "' names no exec.global");
        ids[ref.getResult()] = it->second;
      } else if (auto alloc = dyn_cast<exec::AllocOp>(op)) {
        if (!alloc.getOffset())
          return errorAt(alloc.getLoc(), "exec.alloc has no offset; run "
                                         "strata-memory-plan first");
        // Named after the kernel that writes it, for messages.
        std::string writer = getWriterName(alloc.getResult());
        plan::Buffer &buffer = newBuffer(
            (name + "." + Twine(numTemps++) + "." + writer).str(), plan::TEMP);
        if (llvm::Error error =
                setType(buffer, alloc.getMemRefType(), alloc.getLoc()))
          return error;
        buffer.set_offset(*alloc.getOffset());
        if (buffer.offset() + buffer.size_bytes() >
            static_cast<uint64_t>(arena.getInt()))
          return errorAt(alloc.getLoc(), "exec.alloc lies outside the arena "
                                         "of its function");
        ids[alloc.getResult()] = buffer.id();
      } else if (auto kernel = dyn_cast<exec::KernelOp>(op)) {
        if (llvm::Error error = addKernel(kernel, ids, *program.add_kernels()))
          return error;
      } else if (auto fused = dyn_cast<exec::FusedOp>(op)) {
        if (llvm::Error error = addFused(fused, name, ids, program))
          return error;
      } else if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        for (Value value : ret.getOperands()) {
          auto it = ids.find(value);
          if (it == ids.end())
            return errorAt(ret.getLoc(), "returns a value that is no buffer");
          program.add_outputs(it->second);
        }
      } else {
        return errorAt(op.getLoc(), "the plan has no counterpart of '" +
                                        op.getName().getStringRef() + "'");
      }
    }
    return llvm::Error::success();
  }

  /// The name of the kernel that writes `buffer` (in a fused kernel, the
  /// body kernel), or "unused".
  static std::string getWriterName(Value buffer) {
    for (OpOperand &use : buffer.getUses()) {
      if (auto kernel = dyn_cast<exec::KernelOp>(use.getOwner()))
        if (llvm::is_contained(kernel.getOutputs(), buffer))
          return kernel.getKernel().str();
      if (auto fused = dyn_cast<exec::FusedOp>(use.getOwner()))
        if (use.getOperandNumber() >= fused.getInputs().size())
          return getWriterName(
              fused.getBody().getArgument(use.getOperandNumber()));
    }
    return "unused";
  }

  /// A fused kernel: its inputs and outputs, attrs `kind` (and `function`,
  /// `elements` for elementwise groups), the body kernels, and one LOCAL
  /// buffer per local at offsets from 0 in the local scratch region.
  llvm::Error addFused(exec::FusedOp fused, StringRef programName,
                       const DenseMap<Value, int32_t> &ids,
                       plan::Program &program) {
    plan::Kernel &entry = *program.add_kernels();
    entry.set_op("fused");
    entry.set_location(formatLocation(fused.getLoc()));
    DenseMap<Value, int32_t> bodyIds;
    for (auto [operand, arg] : llvm::zip_equal(
             fused->getOperands(), fused.getBody().getArguments())) {
      auto it = ids.find(operand);
      if (it == ids.end())
        return errorAt(fused.getLoc(), "fused kernel '" + fused.getKind() +
                                           "' uses a value that is no buffer");
      bodyIds[arg] = it->second;
      (arg.getArgNumber() < fused.getInputs().size()
           ? entry.add_inputs(it->second)
           : entry.add_outputs(it->second));
    }
    uint64_t localOffset = 0;
    for (exec::AllocOp local : fused.getLocals()) {
      plan::Buffer &buffer =
          newBuffer((programName + ".local." + Twine(numLocals++) + "." +
                     getWriterName(local.getResult()))
                        .str(),
                    plan::LOCAL);
      if (llvm::Error error =
              setType(buffer, local.getMemRefType(), local.getLoc()))
        return error;
      localOffset = llvm::alignTo(localOffset, kLocalAlignment);
      buffer.set_offset(localOffset);
      localOffset += buffer.size_bytes();
      bodyIds[local.getResult()] = buffer.id();
      entry.add_locals(buffer.id());
    }
    localBytes = std::max(localBytes, localOffset);
    for (exec::KernelOp kernel : fused.getKernels())
      if (llvm::Error error = addKernel(kernel, bodyIds, *entry.add_body()))
        return error;

    auto &attrs = *entry.mutable_attrs();
    attrs["kind"].set_s(fused.getKind().str());
    if (fused.getKind() == "elementwise") {
      if (!fused.getFunction())
        return errorAt(fused.getLoc(),
                       "elementwise group has no emitted function; run the "
                       "CUDA emitter (strata::fusion::emitCudaKernels) before "
                       "exportPlan");
      attrs["function"].set_s(fused.getFunction()->str());
      attrs["elements"].set_i(
          cast<MemRefType>(fused.getOutputs()[0].getType()).getNumElements());
    }
    return llvm::Error::success();
  }

  llvm::Error addKernel(exec::KernelOp kernel,
                        const DenseMap<Value, int32_t> &ids,
                        plan::Kernel &entry) {
    entry.set_op(kernel.getKernel().str());
    entry.set_location(formatLocation(kernel.getLoc()));
    auto lookup = [&](Value value) -> llvm::Expected<int32_t> {
      auto it = ids.find(value);
      if (it == ids.end())
        return errorAt(kernel.getLoc(), "kernel '" + kernel.getKernel() +
                                            "' uses a value that is no buffer");
      return it->second;
    };
    for (Value input : kernel.getInputs()) {
      llvm::Expected<int32_t> id = lookup(input);
      if (!id)
        return id.takeError();
      entry.add_inputs(*id);
    }
    for (Value output : kernel.getOutputs()) {
      llvm::Expected<int32_t> id = lookup(output);
      if (!id)
        return id.takeError();
      entry.add_outputs(*id);
    }
    for (NamedAttribute attr : kernel.getAttrs()) {
      llvm::Expected<plan::Attribute> value = convertAttribute(
          attr.getName().getValue(), attr.getValue(), kernel.getLoc());
      if (!value)
        return value.takeError();
      (*entry.mutable_attrs())[attr.getName().getValue().str()] =
          std::move(*value);
    }
    return llvm::Error::success();
  }

  /// The values an integer INPUT may take: a cross-entropy target indexes
  /// the logits' last dimension, a gather index the table's rows, a one-hot
  /// index `num_classes`. Indices reach those kernels directly or through
  /// reshapes; the tightest bound over all uses wins.
  void setIndexBounds() {
    for (const plan::Program *program :
         {&result.grad(), &result.apply(), &result.forward()}) {
      // Buffer id -> the INPUT whose values it holds.
      DenseMap<int32_t, int32_t> sourceOf;
      for (int32_t input : program->inputs())
        sourceOf[input] = input;
      auto bound = [&](int32_t indices, int64_t limit) {
        auto it = sourceOf.find(indices);
        if (it == sourceOf.end() || limit <= 0)
          return;
        plan::Buffer &input = *result.mutable_buffers(it->second);
        if (input.dtype() != plan::I32)
          return;
        if (input.index_bound() == 0 || limit < input.index_bound())
          input.set_index_bound(limit);
      };
      auto shapeOf = [&](int32_t id) { return result.buffers(id).shape(); };
      // Body kernels of fused kernels name the same buffers.
      SmallVector<const plan::Kernel *> kernels;
      for (const plan::Kernel &kernel : program->kernels()) {
        kernels.push_back(&kernel);
        for (const plan::Kernel &inner : kernel.body())
          kernels.push_back(&inner);
      }
      for (const plan::Kernel *entry : kernels) {
        const plan::Kernel &kernel = *entry;
        const std::string &op = kernel.op();
        if (op == "reshape" && kernel.inputs_size() == 1 &&
            kernel.outputs_size() == 1) {
          auto it = sourceOf.find(kernel.inputs(0));
          if (it != sourceOf.end())
            sourceOf[kernel.outputs(0)] = it->second;
        } else if ((op == "cross_entropy" || op == "cross_entropy_grad") &&
                   kernel.inputs_size() >= 2 &&
                   shapeOf(kernel.inputs(0)).size() > 0) {
          auto logits = shapeOf(kernel.inputs(0));
          bound(kernel.inputs(1), logits[logits.size() - 1]);
        } else if (op == "gather" && kernel.inputs_size() == 2 &&
                   shapeOf(kernel.inputs(0)).size() > 0) {
          bound(kernel.inputs(1), shapeOf(kernel.inputs(0))[0]);
        } else if (op == "gather_grad" && kernel.inputs_size() == 2 &&
                   kernel.outputs_size() == 1 &&
                   shapeOf(kernel.outputs(0)).size() > 0) {
          bound(kernel.inputs(1), shapeOf(kernel.outputs(0))[0]);
        } else if (op == "one_hot" && kernel.inputs_size() == 1) {
          auto it = kernel.attrs().find("num_classes");
          if (it != kernel.attrs().end())
            bound(kernel.inputs(0), it->second.i());
        }
      }
    }
  }

  void setBatchGeometry() {
    auto it = inputIds.find("tokens");
    if (it == inputIds.end())
      return;
    const plan::Buffer &tokens = result.buffers(it->second);
    if (tokens.shape_size() != 2)
      return;
    result.set_batch_size(tokens.shape(0));
    result.set_seq_len(tokens.shape(1));
  }

  void setTraining(bool training) {
    result.set_accumulate(1);
    auto dict = module->getAttrOfType<DictionaryAttr>(
        exec::ExecDialect::kTrainingAttrName);
    if (!training)
      return;
    if (!dict)
      dict = DictionaryAttr::get(module.getContext());
    // Defaults of strata-autodiff's options, for keys the dictionary lacks.
    plan::Optimizer &optimizer = *result.mutable_optimizer();
    optimizer.set_kind(getString(dict, "optimizer").value_or("adamw"));
    optimizer.set_lr(getNumber(dict, "lr").value_or(1e-3));
    optimizer.set_beta1(getNumber(dict, "beta1").value_or(0.9));
    optimizer.set_beta2(getNumber(dict, "beta2").value_or(0.999));
    optimizer.set_epsilon(getNumber(dict, "epsilon").value_or(1e-8));
    optimizer.set_weight_decay(getNumber(dict, "weight_decay").value_or(0));
    optimizer.set_momentum(getNumber(dict, "momentum").value_or(0));
    optimizer.set_clip_norm(getNumber(dict, "clip_norm").value_or(0));
    optimizer.set_schedule(getString(dict, "schedule").value_or("constant"));
    optimizer.set_warmup_steps(getNumber(dict, "warmup_steps").value_or(0));
    optimizer.set_total_steps(getNumber(dict, "total_steps").value_or(0));
    optimizer.set_min_lr(getNumber(dict, "min_lr").value_or(0));
    result.set_accumulate(
        std::max<int64_t>(1, getNumber(dict, "accumulate").value_or(1)));
    result.set_default_steps(getNumber(dict, "steps").value_or(0));
    result.set_seed(getNumber(dict, "seed").value_or(0));
  }

  ModuleOp module;
  plan::Plan result;
  llvm::StringMap<int32_t> globalIds;
  llvm::StringMap<int32_t> inputIds;
  uint64_t persistentBytes = 0;
  uint64_t inputBytes = 0;
  uint64_t arenaBytes = 0;
  uint64_t localBytes = 0;
  int64_t numLocals = 0;
  const plan::DeviceCode *cuda;
};

} // namespace

std::string strata::lowering::formatSourceLocation(Location loc) {
  return formatLocation(loc);
}

std::optional<std::string> strata::lowering::getAttrKeyword(Attribute attr) {
  return detail::getKeyword(attr);
}

llvm::Expected<plan::Plan>
strata::lowering::exportPlan(ModuleOp module, const plan::DeviceCode *cuda) {
  return PlanExporter(module, cuda).run();
}
