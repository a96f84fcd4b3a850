//===- InPlaceTrainingTest.cpp - In-place plans train as before -----------===//
//
// strata-memory-plan lets a reshape and a cross_entropy group's logits
// gradient take the bytes of an input that dies there (docs/memory-plan.md,
// "In-place kernels"). On the CPU executor gpt2_tiny's plans must train to
// the same bits with and without those hints, fused or not, in f32 and bf16;
// and with or without matmul_accumulate groups, whose bodies the CPU runs
// (the product's local replaces an arena temporary, the matmul moves to the
// accumulate).
//
//===----------------------------------------------------------------------===//

#include "strata/Autodiff/Passes.h"
#include "strata/Dialect/Exec/IR/ExecOps.h"
#include "strata/Dialect/Graph/IR/GraphDialect.h"
#include "strata/Exec/Executor.h"
#include "strata/Exec/Trainer.h"
#include "strata/Frontend/Import.h"
#include "strata/Fusion/CompileCuda.h"
#include "strata/Fusion/EmitCuda.h"
#include "strata/Fusion/Passes.h"
#include "strata/Lowering/ExportPlan.h"
#include "strata/Lowering/Passes.h"
#include "strata/Precision/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace strata;

namespace {

std::string examplePath(llvm::StringRef file) {
  // tests/unit/fusion/InPlaceTrainingTest.cpp -> the repository root.
  llvm::SmallString<256> path(__FILE__);
  for (int i = 0; i < 4; ++i)
    llvm::sys::path::remove_filename(path);
  llvm::sys::path::append(path, "examples", file);
  return std::string(path);
}

struct Variant {
  bool bf16, fuse, inPlace;
  /// With fuse: whether strata-fuse forms matmul_accumulate groups.
  bool matmulAccumulate = true;
};

class InPlaceTrainingTest : public ::testing::Test {
protected:
  InPlaceTrainingTest() {
    DialectRegistry registry;
    registry
        .insert<graph::GraphDialect, exec::ExecDialect, func::FuncDialect>();
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  /// gpt2_tiny's training step compiled as `variant` says; the memory-planned
  /// module in `module`.
  plan::Plan compile(Variant variant, OwningOpRef<ModuleOp> &module) {
    auto buffer = llvm::MemoryBuffer::getFile(examplePath("gpt2.sg"));
    if (!buffer) {
      ADD_FAILURE() << "cannot read " << examplePath("gpt2.sg");
      return {};
    }
    unsigned id = sourceMgr.AddNewSourceBuffer(std::move(*buffer), SMLoc());
    sg::ImportOptions options;
    options.modelName = "gpt2_tiny";
    module = sg::importModel(sourceMgr, id, &context, options);
    if (!module) {
      ADD_FAILURE() << "import failed";
      return {};
    }
    PassManager pm(&context);
    if (variant.bf16)
      pm.addPass(precision::createStrataAutocast());
    autodiff::StrataAutodiffOptions autodiffOptions;
    autodiffOptions.lr = 3e-3;
    pm.addPass(autodiff::createStrataAutodiff(autodiffOptions));
    pm.addPass(lowering::createLowerToExecPass());
    if (variant.fuse) {
      fusion::FusePassOptions fuseOptions;
      if (!variant.matmulAccumulate)
        for (StringRef kind : exec::getFusedKinds())
          if (kind != "matmul_accumulate")
            fuseOptions.kinds.push_back(kind.str());
      pm.addPass(fusion::createFusePass(fuseOptions));
    }
    lowering::MemoryPlanPassOptions planOptions;
    planOptions.inPlace = variant.inPlace;
    pm.addPass(lowering::createMemoryPlanPass(planOptions));
    if (failed(pm.run(*module))) {
      ADD_FAILURE() << "the pipeline failed";
      return {};
    }
    // The CPU runs elementwise groups through their bodies; the plan still
    // carries the source of the emitted function of each.
    plan::DeviceCode cuda;
    if (variant.fuse) {
      FailureOr<fusion::CudaSource> source = fusion::emitCudaKernels(*module);
      if (failed(source)) {
        ADD_FAILURE() << "emission failed";
        return {};
      }
      cuda.set_arch(fusion::kCudaArch.str());
      cuda.set_source(source->source);
    }
    llvm::Expected<plan::Plan> plan =
        lowering::exportPlan(*module, variant.fuse ? &cuda : nullptr);
    if (!plan) {
      ADD_FAILURE() << llvm::toString(plan.takeError());
      return {};
    }
    return std::move(*plan);
  }

  /// The losses of `steps` steps of `plan` on the CPU.
  static std::vector<double> train(plan::Plan plan, int64_t steps) {
    std::vector<double> losses;
    // Threads split the cross-entropy rows as they would in a real run.
    exec::ExecutorOptions executorOptions;
    executorOptions.numThreads = 4;
    auto executor =
        exec::Executor::create(std::move(plan), "test plan", executorOptions);
    EXPECT_TRUE(bool(executor)) << llvm::toString(executor.takeError());
    if (!executor)
      return losses;
    exec::TrainerOptions options;
    options.seed = 3;
    auto trainer = exec::Trainer::create(**executor, options);
    EXPECT_TRUE(bool(trainer)) << llvm::toString(trainer.takeError());
    if (!trainer)
      return losses;
    if (llvm::Error err =
            (*trainer)->train(steps, [&](const exec::StepResult &r) {
              losses.push_back(r.loss);
            }))
      ADD_FAILURE() << llvm::toString(std::move(err));
    return losses;
  }

  /// Four AdamW steps of every variant of `bf16` give the same losses.
  void checkTrainsAsBefore(bool bf16) {
    constexpr int64_t kSteps = 4;
    const Variant variants[] = {{bf16, true, true},
                                {bf16, true, false},
                                {bf16, false, true},
                                {bf16, false, false},
                                {bf16, true, true, false}};
    std::vector<std::vector<double>> losses;
    for (Variant variant : variants) {
      OwningOpRef<ModuleOp> module;
      plan::Plan plan = compile(variant, module);
      ASSERT_TRUE(module);
      losses.push_back(train(std::move(plan), kSteps));
      ASSERT_EQ(losses.back().size(), size_t(kSteps));
    }
    for (size_t i = 1; i < losses.size(); ++i)
      for (int64_t step = 0; step < kSteps; ++step)
        EXPECT_EQ(losses[i][step], losses[0][step])
            << "variant " << i << " (fuse " << variants[i].fuse << ", in-place "
            << variants[i].inPlace << ", matmul_accumulate "
            << variants[i].matmulAccumulate << "), step " << step + 1;
    EXPECT_LT(losses[0].back(), losses[0].front());
  }

  MLIRContext context;
  llvm::SourceMgr sourceMgr;
};

/// The grad function of a memory-planned module.
func::FuncOp getGrad(ModuleOp module) {
  for (auto func : module.getOps<func::FuncOp>())
    if (auto step = func->getAttrOfType<StringAttr>("exec.step");
        step && step.getValue() == "grad")
      return func;
  return {};
}

/// The offset of the exec.alloc that defines `value`.
std::optional<int64_t> offsetOf(Value value) {
  auto alloc = value.getDefiningOp<exec::AllocOp>();
  if (!alloc || !alloc.getOffset())
    return std::nullopt;
  return static_cast<int64_t>(*alloc.getOffset());
}

// The fused plan's gradient of the logits lies over the logits, and every
// reshape whose input dies at it is a no-op; the grad arena shrinks.
TEST_F(InPlaceTrainingTest, LogitsGradientAndReshapesReuseTheirInputs) {
  for (bool bf16 : {false, true}) {
    SCOPED_TRACE(bf16 ? "bf16" : "f32");
    OwningOpRef<ModuleOp> inPlace, separate;
    plan::Plan inPlacePlan = compile({bf16, true, true}, inPlace);
    plan::Plan separatePlan = compile({bf16, true, false}, separate);
    ASSERT_TRUE(inPlace && separate);
    EXPECT_LT(inPlacePlan.grad().arena_bytes(),
              separatePlan.grad().arena_bytes());

    func::FuncOp grad = getGrad(*inPlace);
    ASSERT_TRUE(grad);
    int crossEntropy = 0, reshapes = 0;
    grad.walk([&](exec::FusedOp fused) {
      if (fused.getKind() != "cross_entropy")
        return;
      ++crossEntropy;
      EXPECT_TRUE(offsetOf(fused.getInputs()[0]).has_value());
      EXPECT_EQ(offsetOf(fused.getInputs()[0]),
                offsetOf(fused.getOutputs()[1]));
    });
    for (auto kernel : grad.getBody().getOps<exec::KernelOp>()) {
      if (kernel.getKernel() != "reshape")
        continue;
      Value input = kernel.getInputs()[0];
      bool dies = llvm::all_of(input.getUsers(), [&](Operation *user) {
        return user == kernel || user->isBeforeInBlock(kernel);
      });
      if (!dies || !input.getDefiningOp<exec::AllocOp>())
        continue;
      ++reshapes;
      EXPECT_TRUE(offsetOf(input).has_value());
      EXPECT_EQ(offsetOf(input), offsetOf(kernel.getOutputs()[0]));
    }
    EXPECT_EQ(crossEntropy, 1);
    EXPECT_GT(reshapes, 0);
  }
}

// Four AdamW steps give the same losses, to the bit, with in-place hints or
// without, fused or not, with matmul_accumulate groups or without.
TEST_F(InPlaceTrainingTest, F32PlansTrainToTheSameBits) {
  checkTrainsAsBefore(/*bf16=*/false);
}

TEST_F(InPlaceTrainingTest, Bf16PlansTrainToTheSameBits) {
  checkTrainsAsBefore(/*bf16=*/true);
}

// The weight gradients form matmul_accumulate groups: every weight but the
// tied embedding, in f32 (matmul, accumulate) and bf16 (matmul, cast,
// accumulate), each adding to a gradient global that is a group input.
TEST_F(InPlaceTrainingTest, WeightGradientsAccumulateInTheirGroups) {
  for (bool bf16 : {false, true}) {
    SCOPED_TRACE(bf16 ? "bf16" : "f32");
    OwningOpRef<ModuleOp> module;
    plan::Plan plan = compile({bf16, true, true}, module);
    ASSERT_TRUE(module);
    EXPECT_GT(plan.local_bytes(), 0u);
    func::FuncOp grad = getGrad(*module);
    ASSERT_TRUE(grad);
    int groups = 0;
    grad.walk([&](exec::FusedOp fused) {
      if (fused.getKind() != "matmul_accumulate")
        return;
      ++groups;
      EXPECT_TRUE(fused.getOutputs().empty());
      auto kernels = llvm::to_vector(fused.getBody().getOps<exec::KernelOp>());
      ASSERT_EQ(kernels.size(), bf16 ? 3u : 2u);
      Value target = fused.getOperandOf(
          cast<BlockArgument>(kernels.back().getInputs()[0]));
      auto ref = target.getDefiningOp<exec::GlobalRefOp>();
      ASSERT_TRUE(ref);
      EXPECT_TRUE(ref.getName().ends_with(".grad")) << ref.getName().str();
    });
    EXPECT_EQ(groups, 8);
  }
}

} // namespace
