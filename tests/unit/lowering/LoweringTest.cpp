//===- LoweringTest.cpp - Lowering, memory plan and plan export -----------===//
//
// Imports every example model, lowers it to the exec dialect, plans its
// memory, proves the plan in the IR with the independent checker, and exports
// it. The memory numbers are printed for the record; the test requires the
// planned peak to stay within 5% of the lower bound.
//
//===----------------------------------------------------------------------===//

#include "strata/Dialect/Exec/IR/ExecOps.h"
#include "strata/Dialect/Graph/IR/GraphDialect.h"
#include "strata/Dialect/Graph/IR/GraphOps.h"
#include "strata/Frontend/Import.h"
#include "strata/Lowering/ExportPlan.h"
#include "strata/Lowering/Passes.h"
#include "strata/MemPlan/PlanChecker.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <cstdio>

using namespace mlir;
using namespace strata;

namespace {

std::string examplePath(llvm::StringRef file) {
  // tests/unit/lowering/LoweringTest.cpp -> the repository root.
  llvm::SmallString<256> path(__FILE__);
  for (int i = 0; i < 4; ++i)
    llvm::sys::path::remove_filename(path);
  llvm::sys::path::append(path, "examples", file);
  return std::string(path);
}

class LoweringTest : public ::testing::Test {
protected:
  LoweringTest() {
    DialectRegistry registry;
    registry
        .insert<graph::GraphDialect, exec::ExecDialect, func::FuncDialect>();
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  OwningOpRef<ModuleOp> import(llvm::StringRef file, llvm::StringRef model) {
    auto buffer = llvm::MemoryBuffer::getFile(examplePath(file));
    if (!buffer) {
      ADD_FAILURE() << "cannot read " << examplePath(file);
      return nullptr;
    }
    unsigned id = sourceMgr.AddNewSourceBuffer(std::move(*buffer), SMLoc());
    sg::ImportOptions options;
    options.modelName = model.str();
    return sg::importModel(sourceMgr, id, &context, options);
  }

  /// Runs strata-lower-to-exec and strata-memory-plan.
  LogicalResult lowerAndPlan(ModuleOp module) {
    PassManager pm(&context);
    pm.addPass(lowering::createLowerToExecPass());
    pm.addPass(lowering::createMemoryPlanPass());
    return pm.run(module);
  }

  MLIRContext context;
  llvm::SourceMgr sourceMgr;
};

/// Rebuilds a function's memory plan from the IR alone (lifetimes from kernel
/// order, offsets from the allocs, in-place pairs from shared offsets at a
/// handoff) and has the independent checker prove it.
memplan::CheckResult checkFunctionInIR(func::FuncOp func) {
  memplan::PlanProblem problem;
  memplan::MemoryPlan plan;
  DenseMap<Value, size_t> indexOf;
  int64_t step = 0;
  SmallVector<exec::KernelOp> kernels;
  for (Operation &op : func.getBody().front()) {
    if (auto alloc = dyn_cast<exec::AllocOp>(op)) {
      indexOf[alloc] = problem.buffers.size();
      memplan::Buffer buffer;
      buffer.size = exec::getBufferBytes(alloc.getMemRefType());
      buffer.alignment = 64;
      buffer.firstUse = -1;
      buffer.lastUse = -1;
      problem.buffers.push_back(buffer);
      plan.offsets.push_back(alloc.getOffset().value_or(~0ull));
    } else if (auto kernel = dyn_cast<exec::KernelOp>(op)) {
      for (Value v : kernel.getOutputs()) {
        memplan::Buffer &b = problem.buffers[indexOf.lookup(v)];
        if (b.firstUse < 0)
          b.firstUse = step;
        b.lastUse = step;
      }
      for (Value v : kernel.getInputs())
        if (indexOf.count(v))
          problem.buffers[indexOf.lookup(v)].lastUse = step;
      kernels.push_back(kernel);
      ++step;
    } else if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands())
        if (indexOf.count(v))
          problem.buffers[indexOf.lookup(v)].lastUse = step;
    }
  }
  for (memplan::Buffer &b : problem.buffers)
    if (b.firstUse < 0)
      b.firstUse = b.lastUse = 0;
  for (auto [s, kernel] : llvm::enumerate(kernels)) {
    if (kernel.getOutputs().size() != 1)
      continue;
    size_t user = indexOf.lookup(kernel.getOutputs()[0]);
    for (Value v : kernel.getInputs()) {
      if (!indexOf.count(v))
        continue;
      size_t donor = indexOf.lookup(v);
      if (donor != user && plan.offsets[donor] == plan.offsets[user] &&
          problem.buffers[donor].lastUse == static_cast<int64_t>(s) &&
          problem.buffers[user].firstUse == static_cast<int64_t>(s)) {
        memplan::InPlaceHint hint{donor, user};
        problem.inPlaceHints.push_back(hint);
        plan.appliedHints.push_back(hint);
      }
    }
  }
  plan.arenaSize =
      func->getAttrOfType<IntegerAttr>("exec.arena_bytes").getInt();
  return memplan::checkPlan(problem, plan);
}

struct Example {
  const char *file;
  const char *model;
};

const Example kExamples[] = {{"gpt2.sg", "gpt2_tiny"},
                             {"llama.sg", "llama_tiny"},
                             {"moe.sg", "moe_tiny"},
                             {"mlp.sg", "mnist_mlp"},
                             {"gpt2.sg", "gpt2_124m"}};

TEST_F(LoweringTest, EveryExamplePlansWithinFivePercentOfTheBound) {
  for (const Example &example : kExamples) {
    SCOPED_TRACE(example.model);
    OwningOpRef<ModuleOp> module = import(example.file, example.model);
    ASSERT_TRUE(module);
    ASSERT_TRUE(succeeded(lowerAndPlan(*module)));
    ASSERT_TRUE(succeeded(verify(*module)));
    for (auto func : module->getOps<func::FuncOp>()) {
      memplan::CheckResult check = checkFunctionInIR(func);
      EXPECT_TRUE(check.ok()) << check.message;
      int64_t planned =
          func->getAttrOfType<IntegerAttr>("exec.arena_bytes").getInt();
      int64_t bound =
          func->getAttrOfType<IntegerAttr>("exec.lower_bound_bytes").getInt();
      int64_t naive =
          func->getAttrOfType<IntegerAttr>("exec.naive_bytes").getInt();
      std::printf("%-12s planned %12lld  lower bound %12lld  naive %12lld  "
                  "(%.3f x bound)\n",
                  example.model, static_cast<long long>(planned),
                  static_cast<long long>(bound), static_cast<long long>(naive),
                  static_cast<double>(planned) / static_cast<double>(bound));
      EXPECT_LE(bound, planned);
      EXPECT_LE(planned, naive);
      EXPECT_LE(static_cast<double>(planned),
                1.05 * static_cast<double>(bound));
    }
  }
}

TEST_F(LoweringTest, ExportsTheForwardPlanOfEveryExample) {
  for (const Example &example : kExamples) {
    SCOPED_TRACE(example.model);
    OwningOpRef<ModuleOp> module = import(example.file, example.model);
    ASSERT_TRUE(module);
    size_t numParams = llvm::range_size(module->getOps<graph::ParamOp>());
    ASSERT_TRUE(succeeded(lowerAndPlan(*module)));
    size_t numKernels = 0;
    module->walk([&](exec::KernelOp) { ++numKernels; });

    llvm::Expected<plan::Plan> exported = lowering::exportPlan(*module);
    ASSERT_TRUE(static_cast<bool>(exported))
        << llvm::toString(exported.takeError());
    const plan::Plan &plan = *exported;
    EXPECT_EQ(plan.version(), 2u);
    EXPECT_EQ(plan.model(), example.model);
    EXPECT_TRUE(plan.has_forward());
    EXPECT_FALSE(plan.has_grad());
    EXPECT_EQ(static_cast<size_t>(plan.forward().kernels_size()), numKernels);
    EXPECT_EQ(plan.forward().outputs_size(), 1);
    EXPECT_EQ(plan.arena_bytes(), plan.forward().arena_bytes());

    size_t params = 0;
    uint64_t persistentEnd = 0, inputEnd = 0;
    for (auto [i, buffer] : llvm::enumerate(plan.buffers())) {
      EXPECT_EQ(buffer.id(), static_cast<int32_t>(i));
      uint64_t elements = 1;
      for (int64_t dim : buffer.shape())
        elements *= dim;
      EXPECT_EQ(buffer.size_bytes(), elements * 4) << buffer.name();
      switch (buffer.role()) {
      case plan::PARAM:
        ++params;
        EXPECT_NE(buffer.init(), plan::INIT_UNSPECIFIED);
        [[fallthrough]];
      case plan::STATE:
        EXPECT_EQ(buffer.offset() % 64, 0u);
        EXPECT_GE(buffer.offset(), persistentEnd);
        persistentEnd = buffer.offset() + buffer.size_bytes();
        break;
      case plan::INPUT:
        EXPECT_EQ(buffer.offset() % 64, 0u);
        EXPECT_GE(buffer.offset(), inputEnd);
        inputEnd = buffer.offset() + buffer.size_bytes();
        if (buffer.dtype() == plan::I32)
          EXPECT_GT(buffer.index_bound(), 0) << buffer.name();
        break;
      case plan::TEMP:
        EXPECT_LE(buffer.offset() + buffer.size_bytes(), plan.arena_bytes());
        break;
      default:
        ADD_FAILURE() << "buffer without a role: " << buffer.name();
      }
    }
    EXPECT_EQ(params, numParams);
    EXPECT_EQ(plan.persistent_bytes(), persistentEnd);
    EXPECT_EQ(plan.input_bytes(), inputEnd);
    for (const plan::Kernel &kernel : plan.forward().kernels()) {
      EXPECT_FALSE(kernel.location().empty()) << kernel.op();
      for (int32_t id : kernel.inputs())
        EXPECT_LT(id, plan.buffers_size());
      for (int32_t id : kernel.outputs())
        EXPECT_EQ(plan.buffers(id).role(), plan::TEMP);
    }
  }
}

/// Finds the first kernel named `op` in `program`.
const plan::Kernel *findKernel(const plan::Program &program,
                               llvm::StringRef op) {
  for (const plan::Kernel &kernel : program.kernels())
    if (kernel.op() == op)
      return &kernel;
  return nullptr;
}

TEST_F(LoweringTest, ExportsGpt2GeometryBoundsAndAttributes) {
  OwningOpRef<ModuleOp> module = import("gpt2.sg", "gpt2_tiny");
  ASSERT_TRUE(module);
  ASSERT_TRUE(succeeded(lowerAndPlan(*module)));
  llvm::Expected<plan::Plan> exported = lowering::exportPlan(*module);
  ASSERT_TRUE(static_cast<bool>(exported))
      << llvm::toString(exported.takeError());
  const plan::Plan &plan = *exported;
  EXPECT_EQ(plan.batch_size(), 8);
  EXPECT_EQ(plan.seq_len(), 64);
  ASSERT_EQ(plan.forward().inputs_size(), 2);
  const plan::Buffer &tokens = plan.buffers(plan.forward().inputs(0));
  const plan::Buffer &targets = plan.buffers(plan.forward().inputs(1));
  EXPECT_EQ(tokens.name(), "tokens");
  EXPECT_EQ(tokens.role(), plan::INPUT);
  EXPECT_EQ(tokens.dtype(), plan::I32);
  EXPECT_EQ(tokens.index_bound(), 256); // rows of wte
  EXPECT_EQ(targets.name(), "targets");
  EXPECT_EQ(targets.index_bound(), 256); // last dim of the logits

  const plan::Buffer &wte = plan.buffers(0);
  EXPECT_EQ(wte.name(), "wte");
  EXPECT_EQ(wte.init(), plan::NORMAL);
  ASSERT_EQ(wte.init_args_size(), 2);
  EXPECT_DOUBLE_EQ(wte.init_args(1), 0.02);

  const plan::Kernel *gelu = findKernel(plan.forward(), "gelu");
  ASSERT_TRUE(gelu);
  EXPECT_EQ(gelu->attrs().at("approximate").s(), "tanh");
  EXPECT_NE(gelu->location().find("gpt2.sg:"), std::string::npos);
  const plan::Kernel *norm = findKernel(plan.forward(), "layer_norm");
  ASSERT_TRUE(norm);
  EXPECT_DOUBLE_EQ(norm->attrs().at("epsilon").f(), 1e-5);
  const plan::Kernel *transpose = findKernel(plan.forward(), "transpose");
  ASSERT_TRUE(transpose);
  EXPECT_EQ(transpose->attrs().at("permutation").ints().values_size(), 4);
  const plan::Kernel *attention = findKernel(plan.forward(), "attention");
  ASSERT_TRUE(attention);
  EXPECT_TRUE(attention->attrs().at("causal").b());
  EXPECT_DOUBLE_EQ(attention->attrs().at("scale").f(), 0.25);
  bool sawTransposedMatmul = false;
  for (const plan::Kernel &kernel : plan.forward().kernels())
    if (kernel.op() == "matmul" && kernel.attrs().count("transpose_b"))
      sawTransposedMatmul = kernel.attrs().at("transpose_b").b();
  EXPECT_TRUE(sawTransposedMatmul); // the tied output projection
}

/// A hand-written training step in the exec dialect: one parameter with
/// AdamW state, a grad program and an apply program.
constexpr const char *kTrainingModule = R"mlir(
module attributes {exec.training = {optimizer = "adamw", lr = 3.0e-4 : f64,
    beta1 = 0.8 : f64, beta2 = 0.95 : f64, epsilon = 1.0e-6 : f64,
    weight_decay = 0.1 : f64, momentum = 0.0 : f64, clip_norm = 1.0 : f64,
    schedule = "cosine", warmup_steps = 10 : i64, total_steps = 100 : i64,
    min_lr = 3.0e-5 : f64, accumulate = 4 : i64}} {
  exec.global @w : memref<4x3xf32> param uniform(-1.0, 1.0)
  exec.global @w.grad : memref<4x3xf32> state grad of @w
  exec.global @w.m : memref<4x3xf32> state adam_m of @w
  exec.global @w.v : memref<4x3xf32> state adam_v of @w
  func.func @m.grad(%x: memref<2x4xf32> {exec.input = "x"},
                    %t: memref<2xi32> {exec.input = "targets"}) -> memref<f32>
      attributes {exec.step = "grad"} {
    %w = exec.global_ref @w : memref<4x3xf32>
    %y = exec.alloc : memref<2x3xf32>
    exec.kernel "matmul"(%x, %w) outs(%y) : (memref<2x4xf32>, memref<4x3xf32>) -> memref<2x3xf32>
    %l = exec.alloc : memref<f32>
    exec.kernel "cross_entropy"(%y, %t) outs(%l) : (memref<2x3xf32>, memref<2xi32>) -> memref<f32>
    %s = exec.alloc : memref<f32>
    exec.kernel "constant"() outs(%s) attrs {value = dense<2.5e-1> : tensor<f32>} : () -> memref<f32>
    %dy = exec.alloc : memref<2x3xf32>
    exec.kernel "cross_entropy_grad"(%y, %t, %s) outs(%dy) : (memref<2x3xf32>, memref<2xi32>, memref<f32>) -> memref<2x3xf32>
    %dw = exec.alloc : memref<4x3xf32>
    exec.kernel "matmul"(%x, %dy) outs(%dw) attrs {transpose_a} : (memref<2x4xf32>, memref<2x3xf32>) -> memref<4x3xf32>
    %g = exec.global_ref @w.grad : memref<4x3xf32>
    exec.kernel "accumulate"(%g, %dw) : (memref<4x3xf32>, memref<4x3xf32>) -> ()
    return %l : memref<f32>
  }
  func.func @m.apply(%step: memref<i32> {exec.input = "step"})
      attributes {exec.step = "apply"} {
    %lr = exec.alloc : memref<f32>
    exec.kernel "constant"() outs(%lr) attrs {value = dense<3.0e-4> : tensor<f32>} : () -> memref<f32>
    %one = exec.alloc : memref<f32>
    exec.kernel "constant"() outs(%one) attrs {value = dense<1.0> : tensor<f32>} : () -> memref<f32>
    %w = exec.global_ref @w : memref<4x3xf32>
    %g = exec.global_ref @w.grad : memref<4x3xf32>
    %m = exec.global_ref @w.m : memref<4x3xf32>
    %v = exec.global_ref @w.v : memref<4x3xf32>
    exec.kernel "adamw_update"(%w, %g, %m, %v, %lr, %one, %step)
        attrs {beta1 = 0.8 : f64, beta2 = 0.95 : f64, epsilon = 1.0e-6 : f64, weight_decay = 0.1 : f64}
        : (memref<4x3xf32>, memref<4x3xf32>, memref<4x3xf32>, memref<4x3xf32>, memref<f32>, memref<f32>, memref<i32>) -> ()
    exec.kernel "zero"(%g) : (memref<4x3xf32>) -> ()
    return
  }
}
)mlir";

TEST_F(LoweringTest, ExportsATrainingPlan) {
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(kTrainingModule, &context);
  ASSERT_TRUE(module);
  PassManager pm(&context);
  pm.addPass(lowering::createMemoryPlanPass());
  ASSERT_TRUE(succeeded(pm.run(*module)));
  llvm::Expected<plan::Plan> exported = lowering::exportPlan(*module);
  ASSERT_TRUE(static_cast<bool>(exported))
      << llvm::toString(exported.takeError());
  const plan::Plan &plan = *exported;

  EXPECT_EQ(plan.model(), "m");
  EXPECT_TRUE(plan.has_grad());
  EXPECT_TRUE(plan.has_apply());
  EXPECT_FALSE(plan.has_forward());
  EXPECT_EQ(plan.accumulate(), 4);
  const plan::Optimizer &opt = plan.optimizer();
  EXPECT_EQ(opt.kind(), "adamw");
  EXPECT_DOUBLE_EQ(opt.lr(), 3e-4);
  EXPECT_DOUBLE_EQ(opt.beta1(), 0.8);
  EXPECT_DOUBLE_EQ(opt.beta2(), 0.95);
  EXPECT_DOUBLE_EQ(opt.epsilon(), 1e-6);
  EXPECT_DOUBLE_EQ(opt.weight_decay(), 0.1);
  EXPECT_DOUBLE_EQ(opt.clip_norm(), 1.0);
  EXPECT_EQ(opt.schedule(), "cosine");
  EXPECT_EQ(opt.warmup_steps(), 10);
  EXPECT_EQ(opt.total_steps(), 100);
  EXPECT_DOUBLE_EQ(opt.min_lr(), 3e-5);

  // Globals first, in module order: one param and three states, 64-byte
  // aligned in the persistent region.
  ASSERT_GE(plan.buffers_size(), 4);
  EXPECT_EQ(plan.buffers(0).role(), plan::PARAM);
  EXPECT_EQ(plan.buffers(0).init(), plan::UNIFORM);
  EXPECT_EQ(plan.buffers(1).role(), plan::STATE);
  EXPECT_EQ(plan.buffers(1).state_of(), "w");
  EXPECT_EQ(plan.buffers(1).state_kind(), "grad");
  EXPECT_EQ(plan.buffers(2).state_kind(), "adam_m");
  EXPECT_EQ(plan.buffers(3).state_kind(), "adam_v");
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(plan.buffers(i).offset(), static_cast<uint64_t>(i) * 64);
  EXPECT_EQ(plan.persistent_bytes(), 3u * 64 + 48);

  // Inputs: x, targets (bounded by the 3 classes), step.
  ASSERT_EQ(plan.grad().inputs_size(), 2);
  ASSERT_EQ(plan.apply().inputs_size(), 1);
  const plan::Buffer &targets = plan.buffers(plan.grad().inputs(1));
  EXPECT_EQ(targets.name(), "targets");
  EXPECT_EQ(targets.index_bound(), 3);
  const plan::Buffer &step = plan.buffers(plan.apply().inputs(0));
  EXPECT_EQ(step.name(), "step");
  EXPECT_EQ(step.index_bound(), 0);
  EXPECT_EQ(plan.input_bytes(), 64u + 64 + 4);

  // Kernels keep their order, inputs and attributes.
  ASSERT_EQ(plan.grad().kernels_size(), 6);
  const plan::Kernel &accumulate = plan.grad().kernels(5);
  EXPECT_EQ(accumulate.op(), "accumulate");
  ASSERT_EQ(accumulate.inputs_size(), 2);
  EXPECT_EQ(accumulate.inputs(0), 1); // w.grad
  EXPECT_EQ(accumulate.outputs_size(), 0);
  const plan::Kernel &constant = plan.grad().kernels(2);
  ASSERT_EQ(constant.attrs().at("value").floats().values_size(), 1);
  EXPECT_DOUBLE_EQ(constant.attrs().at("value").floats().values(0), 0.25);
  EXPECT_TRUE(plan.grad().kernels(4).attrs().at("transpose_a").b());
  ASSERT_EQ(plan.grad().outputs_size(), 1);
  EXPECT_EQ(plan.buffers(plan.grad().outputs(0)).role(), plan::TEMP);

  const plan::Kernel &adamw = plan.apply().kernels(2);
  EXPECT_EQ(adamw.op(), "adamw_update");
  ASSERT_EQ(adamw.inputs_size(), 7);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(adamw.inputs(i), i);
  EXPECT_EQ(adamw.inputs(6), plan.apply().inputs(0));
  EXPECT_DOUBLE_EQ(adamw.attrs().at("weight_decay").f(), 0.1);
  EXPECT_EQ(plan.arena_bytes(),
            std::max(plan.grad().arena_bytes(), plan.apply().arena_bytes()));
}

TEST_F(LoweringTest, ExportNeedsAMemoryPlan) {
  OwningOpRef<ModuleOp> module = import("mlp.sg", "mnist_mlp");
  ASSERT_TRUE(module);
  PassManager pm(&context);
  pm.addPass(lowering::createLowerToExecPass());
  ASSERT_TRUE(succeeded(pm.run(*module)));
  llvm::Expected<plan::Plan> exported = lowering::exportPlan(*module);
  ASSERT_FALSE(static_cast<bool>(exported));
  std::string message = llvm::toString(exported.takeError());
  EXPECT_NE(message.find("run strata-memory-plan first"), std::string::npos)
      << message;
}

TEST_F(LoweringTest, DynamicShapesAreALocatedError) {
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(
      R"mlir(
      func.func @m(%x: tensor<?x4xf32> {graph.name = "x"}) -> tensor<?x4xf32> {
        %y = graph.relu %x : tensor<?x4xf32>
        return %y : tensor<?x4xf32>
      })mlir",
      &context);
  ASSERT_TRUE(module);
  std::string diagnostics;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    diagnostics += diag.str();
    return success();
  });
  PassManager pm(&context);
  pm.addPass(lowering::createLowerToExecPass());
  EXPECT_TRUE(failed(pm.run(*module)));
  EXPECT_NE(diagnostics.find("needs static shapes; bind B and T"),
            std::string::npos)
      << diagnostics;
}

} // namespace
