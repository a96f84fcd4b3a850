//===- AutocastTest.cpp - bf16 mixed precision end to end -----------------===//
//
// strata-autocast against the f32 model it rewrites: the gradients autodiff
// derives through the casts agree with the f32 ones within bf16 accuracy
// (the interpreter rounds every bf16 value), and a bf16 training plan of
// gpt2_tiny trains on the CPU executor with the losses of the f32 plan.
//
//===----------------------------------------------------------------------===//

#include "AutodiffTestUtil.h"

#include "strata/Exec/Executor.h"
#include "strata/Exec/Trainer.h"
#include "strata/Lowering/ExportPlan.h"
#include "strata/Lowering/Passes.h"
#include "strata/Precision/Passes.h"

using namespace mlir;
using namespace strata;
using namespace strata::autodifftest;

namespace {

class AutocastTest : public AutodiffTest {
protected:
  AutocastTest() {
    DialectRegistry registry;
    registry.insert<exec::ExecDialect>();
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  /// Runs strata-autocast (precision=bf16) on `module`.
  ::testing::AssertionResult autocast(ModuleOp module) {
    std::string messages;
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      messages += diag.str() + "\n";
      return success();
    });
    PassManager pm(&context);
    pm.addPass(precision::createStrataAutocast());
    if (failed(pm.run(module)))
      return ::testing::AssertionFailure() << "strata-autocast failed:\n"
                                           << messages;
    return ::testing::AssertionSuccess();
  }

  /// Lowers a trained module to a memory-planned plan.
  plan::Plan lower(ModuleOp module) {
    PassManager pm(&context);
    pm.addPass(lowering::createLowerToExecPass());
    pm.addPass(lowering::createMemoryPlanPass());
    EXPECT_TRUE(succeeded(pm.run(module)));
    llvm::Expected<plan::Plan> plan = lowering::exportPlan(module);
    EXPECT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
    return plan ? std::move(*plan) : plan::Plan();
  }
};

/// ‖a - b‖ / ‖b‖.
double relativeError(llvm::ArrayRef<float> a, llvm::ArrayRef<float> b) {
  double diff = 0, norm = 0;
  for (auto [x, y] : llvm::zip_equal(a, b)) {
    diff += (double(x) - y) * (double(x) - y);
    norm += double(y) * y;
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

// The casts' gradients bring every parameter's gradient back to f32, into
// f32 states; its values are the f32 model's within bf16 accuracy.
TEST_F(AutocastTest, GradientsAgreeWithTheF32Model) {
  for (auto [file, model] : {std::pair("gpt2.sg", "gpt2_tiny"),
                             std::pair("llama.sg", "llama_tiny")}) {
    SCOPED_TRACE(model);
    std::vector<std::pair<std::string, std::string>> args = {
        {"vocab", "11"}, {"n_layer", "2"}, {"B", "2"}, {"T", "8"}};
    if (llvm::StringRef(model) == "gpt2_tiny")
      args.insert(args.end(), {{"ctx", "8"}, {"n_head", "2"}, {"d", "16"}});
    else
      args.insert(
          args.end(),
          {{"d", "16"}, {"n_head", "4"}, {"n_kv_head", "2"}, {"hidden", "24"}});
    OwningOpRef<ModuleOp> f32 = importExample(file, model, args);
    OwningOpRef<ModuleOp> bf16 = importExample(file, model, args);
    ASSERT_TRUE(f32 && bf16);
    ASSERT_TRUE(autocast(*bf16));
    ASSERT_TRUE(differentiate(*f32));
    ASSERT_TRUE(differentiate(*bf16));
    for (auto state : bf16->getOps<graph::StateOp>())
      EXPECT_TRUE(
          cast<RankedTensorType>(state.getType()).getElementType().isF32())
          << state.getSymName().str();

    std::mt19937 rng(5);
    auto params = interp::initializeParameters(*f32, 7);
    ASSERT_TRUE(bool(params)) << llvm::toString(params.takeError());
    func::FuncOp forward = getFunc(*f32);
    llvm::StringMap<Tensor> given;
    given["tokens"] = randomInts(rng, {2, 8}, 11);
    given["targets"] = randomInts(rng, {2, 8}, 11);
    std::vector<Tensor> inputs = makeInputs(forward, rng, given);

    ParamMap f32State = *params, bf16State = *params;
    auto f32Loss =
        interp::evaluateStep(getFunc(*f32, ".grad"), inputs, f32State);
    auto bf16Loss =
        interp::evaluateStep(getFunc(*bf16, ".grad"), inputs, bf16State);
    ASSERT_TRUE(bool(f32Loss)) << llvm::toString(f32Loss.takeError());
    ASSERT_TRUE(bool(bf16Loss)) << llvm::toString(bf16Loss.takeError());
    float loss = f32Loss->front().floats().front();
    EXPECT_NEAR(bf16Loss->front().floats().front(), loss, 0x1p-8 * loss);

    // Each op rounds to bf16 (relative 2^-9): about 0.5% on these models.
    for (auto param : f32->getOps<graph::ParamOp>()) {
      std::string grad = (param.getSymName() + ".grad").str();
      llvm::ArrayRef<float> want = f32State[grad].floats();
      EXPECT_TRUE(llvm::any_of(want, [](float g) { return g != 0; })) << grad;
      EXPECT_LT(relativeError(bf16State[grad].floats(), want), 0.03) << grad;
    }
  }
}

/// The losses of `steps` steps of `plan` on the CPU.
std::vector<double> train(plan::Plan plan, int64_t steps) {
  std::vector<double> losses;
  auto executor = exec::Executor::create(std::move(plan), "test plan");
  EXPECT_TRUE(bool(executor)) << llvm::toString(executor.takeError());
  if (!executor)
    return losses;
  exec::TrainerOptions options;
  options.seed = 3;
  auto trainer = exec::Trainer::create(**executor, options);
  EXPECT_TRUE(bool(trainer)) << llvm::toString(trainer.takeError());
  if (!trainer)
    return losses;
  if (llvm::Error err = (*trainer)->train(
          steps, [&](const exec::StepResult &r) { losses.push_back(r.loss); }))
    ADD_FAILURE() << llvm::toString(std::move(err));
  return losses;
}

// The bf16 plan keeps parameters, gradients and AdamW state in f32 and its
// activations in bf16; 20 AdamW steps on the CPU give the f32 plan's losses
// within bf16 accuracy (one bf16 ulp, 2^-8 relative; they differ by ~1e-4).
TEST_F(AutocastTest, Bf16PlanTrainsLikeTheF32Plan) {
  OwningOpRef<ModuleOp> f32 = importExample("gpt2.sg", "gpt2_tiny", {});
  OwningOpRef<ModuleOp> bf16 = importExample("gpt2.sg", "gpt2_tiny", {});
  ASSERT_TRUE(f32 && bf16);
  ASSERT_TRUE(autocast(*bf16));
  autodiff::StrataAutodiffOptions options;
  options.lr = 3e-3;
  ASSERT_TRUE(differentiate(*f32, options));
  ASSERT_TRUE(differentiate(*bf16, options));
  plan::Plan f32Plan = lower(*f32), bf16Plan = lower(*bf16);

  int bf16Temporaries = 0;
  for (const plan::Buffer &buffer : bf16Plan.buffers()) {
    if (buffer.role() == plan::PARAM || buffer.role() == plan::STATE)
      EXPECT_EQ(buffer.dtype(), plan::F32) << buffer.name();
    bf16Temporaries += buffer.dtype() == plan::BF16;
  }
  EXPECT_GT(bf16Temporaries, 50);
  EXPECT_LT(bf16Plan.grad().arena_bytes(), f32Plan.grad().arena_bytes());

  constexpr int64_t kSteps = 20;
  std::vector<double> f32Losses = train(std::move(f32Plan), kSteps);
  std::vector<double> bf16Losses = train(std::move(bf16Plan), kSteps);
  ASSERT_EQ(f32Losses.size(), size_t(kSteps));
  ASSERT_EQ(bf16Losses.size(), size_t(kSteps));
  for (int64_t step = 0; step < kSteps; ++step)
    EXPECT_NEAR(bf16Losses[step], f32Losses[step], 0x1p-8 * f32Losses[step])
        << "step " << step + 1;
  EXPECT_LT(bf16Losses.back(), bf16Losses.front() - 0.1);
}

} // namespace
