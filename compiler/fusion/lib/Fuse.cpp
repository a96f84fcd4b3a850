//===- Fuse.cpp - Group exec kernels into exec.fused ops ------------------===//
//
// Each group is found by def-use (who reads a kernel's outputs) and placed by
// memory effects: its kernels move to the first or last member's position,
// past kernels whose reads and writes do not touch theirs.
//
//===----------------------------------------------------------------------===//

#include "strata/Fusion/Passes.h"

#include "strata/Dialect/Exec/IR/ExecOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Format.h"

namespace strata::fusion {
#define GEN_PASS_DEF_FUSEPASS
#include "strata/Fusion/Passes.h.inc"
} // namespace strata::fusion

using namespace mlir;
using namespace strata;
using exec::FusedOp;
using exec::KernelOp;

namespace {

/// What identifies a buffer for memory effects: the symbol of a global (two
/// exec.global_ref of one global are one buffer), else the value.
const void *bufferKey(Value value) {
  if (auto ref = value.getDefiningOp<exec::GlobalRefOp>())
    return ref.getNameAttr().getAttr().getAsOpaquePointer();
  return value.getAsOpaquePointer();
}

/// The inputs a kernel writes in place: state kernels (accumulate, zero,
/// adamw_update, sgd_update) update their leading global inputs.
ValueRange getInPlaceInputs(KernelOp kernel) {
  size_t inPlace = exec::getStateSymbolNames(kernel.getKernel()).size();
  return kernel.getInputs().take_front(
      std::min(inPlace, kernel.getInputs().size()));
}

/// The buffers a kernel or a fused kernel reads and writes.
struct Effects {
  llvm::SmallDenseSet<const void *, 8> reads, writes;

  explicit Effects(KernelOp kernel) {
    for (Value input : kernel.getInputs())
      reads.insert(bufferKey(input));
    for (Value output : kernel.getOutputs())
      writes.insert(bufferKey(output));
    for (Value input : getInPlaceInputs(kernel))
      writes.insert(bufferKey(input));
  }

  explicit Effects(FusedOp fused) {
    for (Value input : fused.getInputs())
      reads.insert(bufferKey(input));
    for (Value output : fused.getOutputs())
      writes.insert(bufferKey(output));
    for (KernelOp kernel : fused.getKernels())
      for (Value input : getInPlaceInputs(kernel))
        writes.insert(
            bufferKey(fused.getOperandOf(cast<BlockArgument>(input))));
  }

  /// The effects of `op`: a kernel, a fused kernel, or none.
  static std::optional<Effects> of(Operation *op) {
    if (auto kernel = dyn_cast<KernelOp>(op))
      return Effects(kernel);
    if (auto fused = dyn_cast<FusedOp>(op))
      return Effects(fused);
    return std::nullopt;
  }

  /// Whether the two kernels may not swap places.
  bool conflictsWith(const Effects &other) const {
    auto intersects = [](const auto &a, const auto &b) {
      return llvm::any_of(a, [&](const void *key) { return b.contains(key); });
    };
    return intersects(writes, other.reads) ||
           intersects(writes, other.writes) || intersects(reads, other.writes);
  }
};

/// Where a group's kernels meet.
enum class Placement { Sink, Hoist };

/// Whether `value` is an f32 or bf16 buffer.
bool isFusibleFloat(Value value) {
  Type element = cast<MemRefType>(value.getType()).getElementType();
  return element.isF32() || element.isBF16();
}

int64_t numElements(Value value) {
  return cast<MemRefType>(value.getType()).getNumElements();
}

/// Whether `shape` broadcasts to `to` (aligned from the right, each dimension
/// equal or 1).
bool broadcastsTo(ArrayRef<int64_t> shape, ArrayRef<int64_t> to) {
  if (shape.size() > to.size())
    return false;
  for (auto [dim, target] : llvm::zip_equal(shape, to.take_back(shape.size())))
    if (dim != 1 && dim != target)
      return false;
  return true;
}

/// Whether an elementwise group may hold `kernel`: an elementwise kernel,
/// cast or reshape of f32/bf16 buffers with one output.
bool isElementwiseCandidate(KernelOp kernel) {
  StringRef name = kernel.getKernel();
  if (!exec::isElementwiseKernel(name) && name != "cast" && name != "reshape")
    return false;
  return kernel.getOutputs().size() == 1 &&
         llvm::all_of(kernel->getOperands(), isFusibleFloat);
}

/// Forms the groups of one function.
class FunctionFuser {
public:
  FunctionFuser(func::FuncOp func, const llvm::StringSet<> &kinds)
      : func(func), kinds(kinds) {}

  /// Groups formed, by kind.
  llvm::StringMap<unsigned> run() {
    if (!func.getBody().hasOneBlock())
      return counts;
    if (enabled("cross_entropy"))
      formCrossEntropyGroups();
    if (enabled("matmul_bias") || enabled("matmul_bias_gelu"))
      formMatmulGroups();
    if (enabled("matmul_accumulate"))
      formMatmulAccumulateGroups();
    if (enabled("adamw"))
      formAdamwGroups();
    if (enabled("elementwise"))
      formElementwiseGroups();
    return counts;
  }

private:
  bool enabled(StringRef kind) const {
    return kinds.empty() || kinds.contains(kind);
  }

  Block &body() { return func.getBody().front(); }

  /// The top-level kernels not yet in a group, in order.
  SmallVector<KernelOp> freeKernels() {
    return llvm::to_vector(body().getOps<KernelOp>());
  }

  /// Whether `kernel`, from an earlier freeKernels(), is still there (not
  /// moved into a group since).
  bool isFree(KernelOp kernel) const { return !erased.contains(kernel); }

  /// The kernels that read `value`, and whether anything else (a return, a
  /// fused op) uses it.
  static SmallVector<KernelOp> kernelReaders(Value value, bool &otherUses) {
    SmallVector<KernelOp> readers;
    otherUses = false;
    for (OpOperand &use : value.getUses()) {
      auto kernel = dyn_cast<KernelOp>(use.getOwner());
      if (kernel && llvm::is_contained(kernel.getInputs(), value)) {
        if (!llvm::is_contained(readers, kernel))
          readers.push_back(kernel);
        continue;
      }
      if (!kernel || !llvm::is_contained(kernel.getOutputs(), value))
        otherUses = true;
    }
    return readers;
  }

  /// How the kernels of `members` (sorted in block order) can meet in one
  /// place, if they can.
  std::optional<Placement> place(MutableArrayRef<KernelOp> members) {
    llvm::SmallPtrSet<Operation *, 8> inGroup;
    for (KernelOp member : members)
      inGroup.insert(member);
    // Every op with effects that some member moves past.
    SmallVector<std::pair<Operation *, Effects>> between;
    for (Operation *op = members.front()->getNextNode(); op != members.back();
         op = op->getNextNode()) {
      if (inGroup.count(op))
        continue;
      if (std::optional<Effects> effects = Effects::of(op))
        between.emplace_back(op, std::move(*effects));
      else if (op->getNumRegions() || op->getNumOperands())
        return std::nullopt; // Unknown effects: nothing moves past it.
    }
    if (between.empty())
      return Placement::Sink;
    SmallVector<Effects> memberEffects;
    for (KernelOp member : members)
      memberEffects.emplace_back(member);
    auto legal = [&](Placement placement) {
      for (auto &[other, otherEffects] : between) {
        for (auto [member, effects] : llvm::zip_equal(members, memberEffects)) {
          bool moves = placement == Placement::Sink
                           ? member->isBeforeInBlock(other)
                           : other->isBeforeInBlock(member);
          if (moves && effects.conflictsWith(otherEffects))
            return false;
        }
      }
      return true;
    };
    if (legal(Placement::Sink))
      return Placement::Sink;
    // Rising, the group takes along only operand-less definitions
    // (exec.global_ref, exec.alloc) of its operands.
    for (KernelOp member : members)
      for (Value operand : member->getOperands())
        if (Operation *def = operand.getDefiningOp();
            def && def->getBlock() == members.front()->getBlock() &&
            members.front()->isBeforeInBlock(def) && !inGroup.count(def) &&
            def->getNumOperands() != 0)
          return std::nullopt;
    if (legal(Placement::Hoist))
      return Placement::Hoist;
    return std::nullopt;
  }

  /// Sorts `members` in block order.
  static void sortByPosition(SmallVectorImpl<KernelOp> &members) {
    llvm::sort(members,
               [](KernelOp a, KernelOp b) { return a->isBeforeInBlock(b); });
  }

  /// Replaces `members` (sorted, placeable) by one exec.fused of `kind`.
  /// A value a member writes becomes an output when anything outside the
  /// group uses it, else a local.
  FusedOp fuse(MutableArrayRef<KernelOp> members, StringRef kind,
               Placement placement) {
    llvm::SmallPtrSet<Operation *, 8> inGroup;
    for (KernelOp member : members)
      inGroup.insert(member);
    llvm::SetVector<Value> inputs, outputs, locals, written;
    for (KernelOp member : members)
      for (Value output : member.getOutputs())
        written.insert(output);
    for (KernelOp member : members) {
      for (Value input : member.getInputs())
        if (!written.contains(input))
          inputs.insert(input);
    }
    for (Value value : written) {
      bool outside = llvm::any_of(value.getUsers(), [&](Operation *user) {
        return !inGroup.count(user);
      });
      (outside ? outputs : locals).insert(value);
    }

    Operation *anchor =
        placement == Placement::Sink ? members.back() : members.front();
    OpBuilder builder(anchor);
    SmallVector<Location> memberLocs;
    for (KernelOp member : members)
      memberLocs.push_back(member.getLoc());
    Location loc = builder.getFusedLoc(memberLocs);
    auto fused = FusedOp::create(builder, loc, builder.getStringAttr(kind),
                                 inputs.getArrayRef(), outputs.getArrayRef(),
                                 /*function=*/nullptr);
    // Operand-less definitions (global_ref, alloc) that come later rise above
    // the group; the placement check guarantees nothing else does.
    for (Value operand : fused->getOperands())
      if (Operation *def = operand.getDefiningOp();
          def && def->getBlock() == fused->getBlock() &&
          fused->isBeforeInBlock(def)) {
        assert(def->getNumOperands() == 0 && "a group input rises");
        def->moveBefore(fused);
      }

    Block *block = builder.createBlock(&fused.getBody());
    IRMapping mapping;
    for (Value value : inputs)
      mapping.map(value, block->addArgument(value.getType(), value.getLoc()));
    for (Value value : outputs)
      mapping.map(value, block->addArgument(value.getType(), value.getLoc()));
    builder.setInsertionPointToEnd(block);
    for (KernelOp member : members) {
      for (Value output : member.getOutputs())
        if (locals.contains(output) && !mapping.contains(output)) {
          auto alloc = output.getDefiningOp<exec::AllocOp>();
          auto local = exec::AllocOp::create(builder, alloc.getLoc(),
                                             alloc.getType(), nullptr);
          mapping.map(output, local.getResult());
        }
      builder.clone(*member, mapping);
    }
    for (KernelOp member : llvm::reverse(members)) {
      erased.insert(member);
      member->erase();
    }
    for (Value local : locals)
      if (Operation *def = local.getDefiningOp(); def && def->use_empty())
        def->erase();
    ++counts[kind];
    return fused;
  }

  /// Forms the group if it can be placed; returns whether it did.
  bool tryFuse(SmallVector<KernelOp> members, StringRef kind) {
    sortByPosition(members);
    std::optional<Placement> placement = place(members);
    if (!placement)
      return false;
    fuse(members, kind, *placement);
    return true;
  }

  void formCrossEntropyGroups() {
    for (KernelOp loss : freeKernels()) {
      if (!isFree(loss) || loss.getKernel() != "cross_entropy" ||
          loss.getInputs().size() != 2)
        continue;
      Value logits = loss.getInputs()[0], targets = loss.getInputs()[1];
      for (Operation *user : logits.getUsers()) {
        auto grad = dyn_cast<KernelOp>(user);
        if (!grad || grad->getBlock() != &body() ||
            grad.getKernel() != "cross_entropy_grad" ||
            grad.getInputs().size() < 2 || grad.getInputs()[0] != logits ||
            grad.getInputs()[1] != targets || !loss->isBeforeInBlock(grad))
          continue;
        if (tryFuse({loss, grad}, "cross_entropy"))
          break;
      }
    }
  }

  /// The add of a rank-1 bias of the last dimension that alone reads the
  /// matmul's result, if there is one.
  static KernelOp getBiasAdd(KernelOp matmul) {
    if (matmul.getOutputs().size() != 1)
      return {};
    Value product = matmul.getOutputs()[0];
    bool otherUses;
    SmallVector<KernelOp> readers = kernelReaders(product, otherUses);
    if (otherUses || readers.size() != 1)
      return {};
    KernelOp add = readers.front();
    if (add.getKernel() != "add" || add->getBlock() != matmul->getBlock() ||
        add.getOutputs().size() != 1 ||
        add.getOutputs()[0].getType() != product.getType())
      return {};
    Value bias =
        add.getInputs()[0] == product ? add.getInputs()[1] : add.getInputs()[0];
    auto productType = cast<MemRefType>(product.getType());
    auto biasType = cast<MemRefType>(bias.getType());
    if (bias == product || productType.getRank() == 0 ||
        biasType.getRank() != 1 ||
        biasType.getDimSize(0) != productType.getShape().back())
      return {};
    return add;
  }

  /// A tanh gelu that reads the sum, if there is one.
  static KernelOp getGelu(KernelOp add) {
    bool otherUses;
    for (KernelOp reader : kernelReaders(add.getOutputs()[0], otherUses)) {
      if (reader.getKernel() != "gelu" || reader->getBlock() != add->getBlock())
        continue;
      auto approx = reader.getAttrs().get("approximate");
      std::string text;
      llvm::raw_string_ostream os(text);
      if (approx)
        os << approx;
      if (StringRef(text).contains("tanh"))
        return reader;
    }
    return {};
  }

  void formMatmulGroups() {
    for (KernelOp matmul : freeKernels()) {
      if (!isFree(matmul) || matmul.getKernel() != "matmul")
        continue;
      KernelOp add = getBiasAdd(matmul);
      if (!add)
        continue;
      if (enabled("matmul_bias_gelu"))
        if (KernelOp gelu = getGelu(add))
          if (tryFuse({matmul, add, gelu}, "matmul_bias_gelu"))
            continue;
      if (enabled("matmul_bias"))
        (void)tryFuse({matmul, add}, "matmul_bias");
    }
  }

  /// The one kernel that reads `value`, if nothing else uses it.
  static KernelOp getOnlyReader(Value value) {
    bool otherUses;
    SmallVector<KernelOp> readers = kernelReaders(value, otherUses);
    if (otherUses || readers.size() != 1)
      return {};
    return readers.front();
  }

  /// `matmul` and the kernels that add its result to a gradient: a cast of
  /// the result to f32 (bf16 plans) or none (f32 plans), then an accumulate
  /// of that into a global that the matmul does not read, each result read
  /// there alone. Empty when the matmul's result goes elsewhere.
  SmallVector<KernelOp> getAccumulateChain(KernelOp matmul) {
    if (matmul.getOutputs().size() != 1)
      return {};
    SmallVector<KernelOp> chain = {matmul};
    Value value = matmul.getOutputs()[0];
    KernelOp reader = getOnlyReader(value);
    if (reader && reader.getKernel() == "cast") {
      if (reader->getBlock() != &body() || !isFusibleFloat(value))
        return {};
      chain.push_back(reader);
      value = reader.getOutputs()[0];
      reader = getOnlyReader(value);
    }
    if (!reader || reader->getBlock() != &body() ||
        reader.getKernel() != "accumulate" || reader.getInputs().size() != 2 ||
        reader.getInputs()[1] != value)
      return {};
    Value target = reader.getInputs()[0];
    if (!target.getDefiningOp<exec::GlobalRefOp>() ||
        target.getType() != value.getType() ||
        !cast<MemRefType>(target.getType()).getElementType().isF32() ||
        llvm::any_of(matmul.getInputs(), [&](Value input) {
          return bufferKey(input) == bufferKey(target);
        }))
      return {};
    chain.push_back(reader);
    return chain;
  }

  /// Weight gradients: matmul (+ cast) + accumulate into the gradient, which
  /// the backend computes as one GEMM that adds to its output.
  void formMatmulAccumulateGroups() {
    for (KernelOp matmul : freeKernels()) {
      if (!isFree(matmul) || matmul.getKernel() != "matmul")
        continue;
      SmallVector<KernelOp> chain = getAccumulateChain(matmul);
      if (!chain.empty())
        (void)tryFuse(std::move(chain), "matmul_accumulate");
    }
  }

  void formAdamwGroups() {
    SmallVector<KernelOp> updates;
    for (KernelOp kernel : freeKernels())
      if (kernel.getKernel() == "adamw_update")
        updates.push_back(kernel);
    if (updates.size() < 2 || tryFuse(updates, "adamw"))
      return;
    // Runs of adamw_update with no other kernel between them.
    SmallVector<KernelOp> run;
    auto flush = [&]() {
      if (run.size() >= 2)
        (void)tryFuse(run, "adamw");
      run.clear();
    };
    for (KernelOp kernel : freeKernels()) {
      if (kernel.getKernel() == "adamw_update")
        run.push_back(kernel);
      else
        flush();
    }
    flush();
  }

  /// Whether `kernel` fits an elementwise group over `elements`, given the
  /// values the group writes: one output of that many elements; inputs the
  /// group writes, inputs of as many elements, or (for the arithmetic
  /// kernels) inputs that broadcast to its output.
  static bool fitsIterationSpace(KernelOp kernel, int64_t elements) {
    if (!isElementwiseCandidate(kernel))
      return false;
    Value output = kernel.getOutputs()[0];
    if (numElements(output) != elements)
      return false;
    bool view = kernel.getKernel() == "reshape" || kernel.getKernel() == "cast";
    for (Value input : kernel.getInputs()) {
      if (numElements(input) == elements)
        continue;
      if (view || !broadcastsTo(cast<MemRefType>(input.getType()).getShape(),
                                cast<MemRefType>(output.getType()).getShape()))
        return false;
    }
    return true;
  }

  void formElementwiseGroups() {
    for (KernelOp seed : freeKernels()) {
      if (!isFree(seed) || !isElementwiseCandidate(seed))
        continue;
      int64_t elements = numElements(seed.getOutputs()[0]);
      if (!fitsIterationSpace(seed, elements))
        continue;
      SmallVector<KernelOp> members = {seed};
      llvm::SmallPtrSet<Operation *, 8> tried = {seed.getOperation()};
      // Grow through consumers and producers until nothing more fits.
      bool grew = true;
      while (grew) {
        grew = false;
        SmallVector<KernelOp> candidates;
        for (KernelOp member : members) {
          bool otherUses;
          for (KernelOp reader :
               kernelReaders(member.getOutputs()[0], otherUses))
            candidates.push_back(reader);
          for (Value input : member.getInputs())
            if (auto producer = input.getDefiningOp<exec::AllocOp>())
              for (Operation *user : producer->getUsers())
                if (auto writer = dyn_cast<KernelOp>(user);
                    writer && llvm::is_contained(writer.getOutputs(), input))
                  candidates.push_back(writer);
        }
        for (KernelOp candidate : candidates) {
          if (candidate->getBlock() != &body() ||
              !tried.insert(candidate).second ||
              !fitsIterationSpace(candidate, elements))
            continue;
          SmallVector<KernelOp> extended = members;
          extended.push_back(candidate);
          sortByPosition(extended);
          if (!place(extended))
            continue;
          members = std::move(extended);
          grew = true;
        }
      }
      bool computes = llvm::any_of(members, [](KernelOp kernel) {
        return kernel.getKernel() != "reshape";
      });
      if (members.size() < 2 || !computes)
        continue;
      std::optional<Placement> placement = place(members);
      assert(placement && "every extension was checked");
      fuse(members, "elementwise", *placement);
    }
  }

  func::FuncOp func;
  const llvm::StringSet<> &kinds;
  llvm::StringMap<unsigned> counts;
  /// Kernels fuse() moved into a group (their old addresses).
  llvm::DenseSet<Operation *> erased;
};

struct FusePass : strata::fusion::impl::FusePassBase<FusePass> {
  using Base::Base;

  void runOnOperation() override {
    llvm::StringSet<> selected;
    for (const std::string &kind : kinds) {
      if (!llvm::is_contained(exec::getFusedKinds(), kind)) {
        getOperation().emitError("strata-fuse: unknown group kind '")
            << kind
            << "'; expected elementwise, matmul_bias, matmul_bias_gelu, "
               "matmul_accumulate, adamw or cross_entropy";
        return signalPassFailure();
      }
      selected.insert(kind);
    }
    SmallVector<std::pair<std::string, llvm::StringMap<unsigned>>> summary;
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      summary.emplace_back(func.getName().str(),
                           FunctionFuser(func, selected).run());
    }
    if (!printSummary)
      return;
    llvm::raw_ostream &os = llvm::errs();
    os << llvm::format("%-24s", "function");
    for (StringRef kind : exec::getFusedKinds())
      os << llvm::format(" %17s", kind.str().c_str());
    os << "\n";
    for (const auto &[name, counts] : summary) {
      os << llvm::format("%-24s", name.c_str());
      for (StringRef kind : exec::getFusedKinds())
        os << llvm::format(" %17u", counts.lookup(kind));
      os << "\n";
    }
  }
};

} // namespace
