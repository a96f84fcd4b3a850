//===- MemoryPlan.cpp - Place exec.alloc buffers in one arena -------------===//
//
// Translates each function's temporaries into a compiler/memplan problem
// (lifetimes in kernel steps, in-place hints), plans it, has the independent
// checker prove the plan, and writes the offsets back into the IR.
//
//===----------------------------------------------------------------------===//

#include "strata/Lowering/Passes.h"

#include "strata/Dialect/Exec/IR/ExecOps.h"
#include "strata/MemPlan/MemoryPlanner.h"
#include "strata/MemPlan/PlanChecker.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MathExtras.h"

namespace strata::lowering {
#define GEN_PASS_DEF_MEMORYPLANPASS
#include "strata/Lowering/Passes.h.inc"
} // namespace strata::lowering

using namespace mlir;
using namespace strata;

namespace {

/// Bytes of one function's memory plan, for the summary.
struct FunctionSummary {
  std::string name;
  size_t numBuffers = 0;
  memplan::MemoryPlan plan;
};

struct MemoryPlanPass
    : strata::lowering::impl::MemoryPlanPassBase<MemoryPlanPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (alignment == 0 || !llvm::isPowerOf2_64(alignment)) {
      module.emitError("strata-memory-plan: alignment must be a power of "
                       "two, got ")
          << alignment;
      return signalPassFailure();
    }
    SmallVector<FunctionSummary> summaries;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      FailureOr<FunctionSummary> summary = planFunction(func);
      if (failed(summary))
        return signalPassFailure();
      summaries.push_back(std::move(*summary));
    }
    if (printSummary)
      printTable(summaries);
  }

  FailureOr<FunctionSummary> planFunction(func::FuncOp func) {
    if (!func.getBody().hasOneBlock())
      return func.emitOpError("strata-memory-plan expects a function body of "
                              "one block"),
             failure();
    Block &body = func.getBody().front();

    // Steps are kernel positions; a returned buffer lives one step past the
    // last kernel.
    SmallVector<exec::AllocOp> allocs;
    DenseMap<Value, size_t> indexOf;
    memplan::PlanProblem problem;
    SmallVector<bool> written;
    int64_t step = 0;
    for (Operation &op : body) {
      if (auto alloc = dyn_cast<exec::AllocOp>(op)) {
        indexOf[alloc.getResult()] = allocs.size();
        allocs.push_back(alloc);
        memplan::Buffer buffer;
        buffer.size = exec::getBufferBytes(alloc.getMemRefType());
        buffer.alignment = alignment;
        buffer.firstUse = buffer.lastUse = step;
        problem.buffers.push_back(buffer);
        written.push_back(false);
        continue;
      }
      // A fused kernel is one step: it reads its inputs and writes its
      // outputs; its locals are not temporaries of the function.
      ValueRange inputs, outputs;
      StringRef name;
      if (auto kernel = dyn_cast<exec::KernelOp>(op)) {
        inputs = kernel.getInputs();
        outputs = kernel.getOutputs();
        name = kernel.getKernel();
      } else if (auto fused = dyn_cast<exec::FusedOp>(op)) {
        inputs = fused.getInputs();
        outputs = fused.getOutputs();
        name = fused.getKind();
      } else {
        continue;
      }
      for (auto [i, output] : llvm::enumerate(outputs)) {
        size_t index = indexOf.lookup(output);
        memplan::Buffer &buffer = problem.buffers[index];
        if (!written[index]) {
          buffer.firstUse = step;
          buffer.name = (name + "@" + Twine(step) + "#" + Twine(i)).str();
          written[index] = true;
        }
        buffer.lastUse = std::max(buffer.lastUse, step);
      }
      for (Value input : inputs) {
        auto it = indexOf.find(input);
        if (it == indexOf.end())
          continue;
        if (!written[it->second])
          return op.emitOpError("reads a temporary that no earlier kernel "
                                "writes"),
                 failure();
        problem.buffers[it->second].lastUse =
            std::max(problem.buffers[it->second].lastUse, step);
      }
      ++step;
    }
    int64_t numSteps = step;

    for (auto [index, alloc] : llvm::enumerate(allocs)) {
      for (OpOperand &use : alloc->getUses()) {
        Operation *user = use.getOwner();
        if (isa<func::ReturnOp>(user)) {
          problem.buffers[index].lastUse = numSteps;
          continue;
        }
        if (!isa<exec::KernelOp, exec::FusedOp>(user))
          return user->emitOpError("uses a temporary; strata-memory-plan only "
                                   "knows exec.kernel, exec.fused and "
                                   "func.return"),
                 failure();
      }
      if (problem.buffers[index].name.empty())
        problem.buffers[index].name = "unused alloc #" + std::to_string(index);
    }

    if (inPlace)
      addInPlaceHints(body, indexOf, problem);

    memplan::PlanResult result = memplan::planMemory(problem);
    if (!result.ok())
      return func.emitOpError("strata-memory-plan: ") << result.error,
             failure();
    memplan::CheckResult check = memplan::checkPlan(problem, result.plan);
    if (!check.ok()) {
      InFlightDiagnostic diag =
          func.emitOpError("strata-memory-plan produced an unsafe plan: ");
      diag << check.message;
      if (check.first != memplan::CheckResult::kNoBuffer)
        diag.attachNote(allocs[check.first].getLoc()) << "first buffer";
      if (check.second != memplan::CheckResult::kNoBuffer)
        diag.attachNote(allocs[check.second].getLoc()) << "second buffer";
      return failure();
    }

    Builder builder(func.getContext());
    for (auto [alloc, offset] : llvm::zip_equal(allocs, result.plan.offsets))
      alloc.setOffsetAttr(builder.getI64IntegerAttr(offset));
    func->setAttr(exec::ExecDialect::kArenaBytesAttrName,
                  builder.getI64IntegerAttr(result.plan.arenaSize));
    func->setAttr(exec::ExecDialect::kLowerBoundBytesAttrName,
                  builder.getI64IntegerAttr(result.plan.lowerBound));
    func->setAttr(exec::ExecDialect::kNaiveBytesAttrName,
                  builder.getI64IntegerAttr(result.plan.naiveSize));
    return FunctionSummary{func.getName().str(), allocs.size(),
                           std::move(result.plan)};
  }

  /// The (input, output) pairs of `op` whose output may be written over the
  /// input's bytes when the input dies at `op` (docs/memory-plan.md,
  /// "In-place kernels"):
  /// - an elementwise kernel with one output: each input of the output's
  ///   type; the kernels read element i of every input before writing
  ///   element i of the output;
  /// - a reshape: its input, so that it becomes a no-op (the runtimes copy
  ///   nothing when input and output are the same memory);
  /// - a cross_entropy group: the logits and their gradient, which both
  ///   backends compute row by row, reading a row of logits before writing
  ///   that row of the gradient, after the loss has read it.
  /// Other fused kernels never do: run kernel by kernel, a body kernel could
  /// overwrite an input a later one reads.
  static SmallVector<std::pair<Value, Value>> getInPlacePairs(Operation &op) {
    SmallVector<std::pair<Value, Value>> pairs;
    if (auto kernel = dyn_cast<exec::KernelOp>(op)) {
      if (kernel.getOutputs().size() != 1)
        return pairs;
      Value output = kernel.getOutputs()[0];
      if (exec::isElementwiseKernel(kernel.getKernel())) {
        for (Value input : kernel.getInputs())
          if (input.getType() == output.getType())
            pairs.emplace_back(input, output);
      } else if (kernel.getKernel() == "reshape" &&
                 kernel.getInputs().size() == 1) {
        pairs.emplace_back(kernel.getInputs()[0], output);
      }
      return pairs;
    }
    auto fused = dyn_cast<exec::FusedOp>(op);
    if (!fused || fused.getKind() != "cross_entropy")
      return pairs;
    SmallVector<exec::KernelOp> body = llvm::to_vector(fused.getKernels());
    for (auto [position, kernel] : llvm::enumerate(body)) {
      if (kernel.getKernel() != "cross_entropy_grad" ||
          kernel.getInputs().empty() || kernel.getOutputs().size() != 1)
        continue;
      auto logits = dyn_cast<BlockArgument>(kernel.getInputs()[0]);
      auto grad = dyn_cast<BlockArgument>(kernel.getOutputs()[0]);
      if (!logits || !grad || fused.isOutputArgument(logits) ||
          !fused.isOutputArgument(grad) || logits.getType() != grad.getType())
        continue;
      // Kernel by kernel, nothing after the gradient may read the logits.
      bool readLater = llvm::any_of(
          ArrayRef(body).drop_front(position + 1), [&](exec::KernelOp later) {
            return llvm::is_contained(later.getInputs(), logits);
          });
      if (!readLater)
        pairs.emplace_back(fused.getOperandOf(logits),
                           fused.getOperandOf(grad));
    }
    return pairs;
  }

  /// Hints each pair of getInPlacePairs whose input is a temporary that dies
  /// at its kernel.
  static void addInPlaceHints(Block &body,
                              const DenseMap<Value, size_t> &indexOf,
                              memplan::PlanProblem &problem) {
    int64_t step = 0;
    for (Operation &op : body) {
      if (!isa<exec::KernelOp, exec::FusedOp>(op))
        continue;
      int64_t current = step++;
      llvm::SmallDenseSet<std::pair<size_t, size_t>> hinted;
      for (auto [input, output] : getInPlacePairs(op)) {
        auto donor = indexOf.find(input);
        auto user = indexOf.find(output);
        if (donor == indexOf.end() || user == indexOf.end() ||
            donor->second == user->second ||
            problem.buffers[donor->second].lastUse != current ||
            !hinted.insert({donor->second, user->second}).second)
          continue;
        problem.inPlaceHints.push_back({donor->second, user->second});
      }
    }
  }

  static void printTable(ArrayRef<FunctionSummary> summaries) {
    llvm::raw_ostream &os = llvm::errs();
    os << llvm::format("%-24s %8s %14s %14s %14s %14s\n", "function", "buffers",
                       "planned", "lower bound", "naive", "planned/bound");
    for (const FunctionSummary &summary : summaries) {
      const memplan::MemoryPlan &plan = summary.plan;
      double ratio = plan.lowerBound == 0
                         ? 1.0
                         : static_cast<double>(plan.arenaSize) /
                               static_cast<double>(plan.lowerBound);
      os << llvm::format(
          "%-24s %8zu %14llu %14llu %14llu %14.3f\n", summary.name.c_str(),
          summary.numBuffers, static_cast<unsigned long long>(plan.arenaSize),
          static_cast<unsigned long long>(plan.lowerBound),
          static_cast<unsigned long long>(plan.naiveSize), ratio);
    }
  }
};

} // namespace
