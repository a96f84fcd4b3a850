//===- ExecutorTest.cpp - Regions, initialization, running programs -------===//

#include "strata/Exec/Executor.h"

#include "strata/Runtime/Init.h"

#include "TestPlans.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>

using namespace strata;
using namespace strata::exec;
using namespace strata::exec::testing;

namespace {

std::unique_ptr<Executor> makeExecutor(plan::Plan plan,
                                       ExecutorOptions options = {}) {
  llvm::Expected<std::unique_ptr<Executor>> executor =
      Executor::create(std::move(plan), "plan 'test'", options);
  EXPECT_TRUE(bool(executor)) << llvm::toString(executor.takeError());
  return executor ? std::move(*executor) : nullptr;
}

std::string createError(plan::Plan plan) {
  llvm::Expected<std::unique_ptr<Executor>> executor =
      Executor::create(std::move(plan), "plan 'test'");
  if (executor)
    return "";
  return llvm::toString(executor.takeError());
}

template <typename T>
void store(Executor &executor, const plan::Buffer &buffer,
           const std::vector<T> &values) {
  ASSERT_EQ(values.size() * sizeof(T), buffer.size_bytes());
  std::memcpy(executor.bytes(buffer).data(), values.data(),
              buffer.size_bytes());
}

TEST(Executor, RegionsAreAllocatedOnceAndAligned) {
  plan::Plan plan = linearModelPlan();
  std::unique_ptr<Executor> executor = makeExecutor(plan);
  ASSERT_TRUE(executor);
  EXPECT_EQ(executor->persistentBytes(), plan.persistent_bytes());
  EXPECT_EQ(executor->inputBytes(), plan.input_bytes());
  EXPECT_EQ(executor->arenaBytes(), plan.arena_bytes());
  for (const plan::Buffer &buffer : executor->plan().buffers()) {
    uintptr_t address = uintptr_t(executor->bytes(buffer).data());
    EXPECT_EQ((address - buffer.offset()) % kRegionAlignment, 0u)
        << buffer.name();
    EXPECT_EQ(executor->bytes(buffer).size(), buffer.size_bytes());
  }
}

TEST(Executor, FindsParamsStatesAndInputsByName) {
  std::unique_ptr<Executor> executor = makeExecutor(linearModelPlan());
  ASSERT_TRUE(executor);
  for (const char *name : {"w", "b", "w.grad", "b.v", "tokens", "step"}) {
    const plan::Buffer *buffer = executor->find(name);
    ASSERT_TRUE(buffer) << name;
    EXPECT_EQ(buffer->name(), name);
  }
  EXPECT_FALSE(executor->find("logits")); // a temporary
  EXPECT_FALSE(executor->find("nothing"));
}

TEST(Executor, ParamsAreSeededLikeTheInterpreter) {
  for (std::optional<uint64_t> seed :
       {std::optional<uint64_t>(), std::optional<uint64_t>(123)}) {
    ExecutorOptions options;
    options.seed = seed;
    std::unique_ptr<Executor> executor =
        makeExecutor(linearModelPlan(), options);
    ASSERT_TRUE(executor);
    uint64_t expectedSeed = seed.value_or(7); // the plan's seed
    EXPECT_EQ(executor->seed(), expectedSeed);
    std::vector<float> expected(16 * 16);
    ASSERT_FALSE(errorMessage(runtime::initializeParameter(
                                  runtime::InitKind::Normal, {0.0, 0.1}, "w",
                                  expectedSeed, expected.data(),
                                  int64_t(expected.size())))
                     .size());
    EXPECT_EQ(executor->loadFloats(*executor->find("w")), expected);
    EXPECT_EQ(executor->loadFloats(*executor->find("b")),
              std::vector<float>(16, 0.0f));
    for (const plan::Buffer &buffer : executor->plan().buffers())
      if (buffer.role() == plan::STATE)
        for (uint8_t byte : executor->bytes(buffer))
          ASSERT_EQ(byte, 0) << buffer.name();
  }
}

TEST(Executor, InitializeZeroesStateAndReseeds) {
  std::unique_ptr<Executor> executor = makeExecutor(linearModelPlan());
  ASSERT_TRUE(executor);
  std::vector<float> before = executor->loadFloats(*executor->find("w"));
  executor->storeFloats(*executor->find("w.m"),
                        std::vector<float>(16 * 16, 1.0f));
  ASSERT_FALSE(errorMessage(executor->initialize(8)).size());
  EXPECT_NE(executor->loadFloats(*executor->find("w")), before);
  EXPECT_EQ(executor->loadFloats(*executor->find("w.m")),
            std::vector<float>(16 * 16, 0.0f));
}

/// The grad program computes the loss of one-hot tokens through w and b and
/// accumulates its gradient; both are checked against a direct computation.
TEST(Executor, GradProgramMatchesDirectComputation) {
  ModelOptions options;
  options.batch = 2;
  options.seq = 3;
  options.vocab = 5;
  std::unique_ptr<Executor> executor = makeExecutor(linearModelPlan(options));
  ASSERT_TRUE(executor);
  const plan::Plan &plan = executor->plan();
  std::vector<float> bias = {0.1f, -0.2f, 0.3f, 0.0f, 0.05f};
  executor->storeFloats(*executor->find("b"), bias);
  std::vector<int32_t> tokens = {0, 1, 2, 3, 4, 1};
  std::vector<int32_t> targets = {1, 2, 3, 4, 0, 0};
  store(*executor, *executor->find("tokens"), tokens);
  store(*executor, *executor->find("targets"), targets);
  std::vector<float> w = executor->loadFloats(*executor->find("w"));

  // Twice: the second run adds the same gradient again.
  for (int run = 1; run <= 2; ++run) {
    ASSERT_FALSE(errorMessage(executor->run(plan.grad(), "grad")).size());
    double expectedLoss = 0;
    std::vector<double> dw(25, 0.0), db(5, 0.0);
    for (size_t n = 0; n < tokens.size(); ++n) {
      double logits[5], maximum = -1e30, sum = 0;
      for (int c = 0; c < 5; ++c) {
        logits[c] = w[tokens[n] * 5 + c] + bias[c];
        maximum = std::max(maximum, logits[c]);
      }
      for (int c = 0; c < 5; ++c)
        sum += std::exp(logits[c] - maximum);
      expectedLoss += maximum + std::log(sum) - logits[targets[n]];
      for (int c = 0; c < 5; ++c) {
        double g = (std::exp(logits[c] - maximum) / sum -
                    (c == targets[n] ? 1.0 : 0.0)) /
                   double(tokens.size());
        dw[tokens[n] * 5 + c] += g;
        db[c] += g;
      }
    }
    expectedLoss /= double(tokens.size());
    float loss = executor->loadFloats(plan.buffers(plan.grad().outputs(0)))[0];
    EXPECT_NEAR(loss, expectedLoss, 1e-5);
    std::vector<float> wGrad = executor->loadFloats(*executor->find("w.grad"));
    std::vector<float> bGrad = executor->loadFloats(*executor->find("b.grad"));
    for (int i = 0; i < 25; ++i)
      EXPECT_NEAR(wGrad[i], run * dw[i], 1e-6) << i;
    for (int i = 0; i < 5; ++i)
      EXPECT_NEAR(bGrad[i], run * db[i], 1e-6) << i;
  }

  // apply updates the params and zeroes the gradients.
  int32_t step = 1;
  store(*executor, *executor->find("step"), std::vector<int32_t>{step});
  ASSERT_FALSE(errorMessage(executor->run(plan.apply(), "apply")).size());
  EXPECT_NE(executor->loadFloats(*executor->find("w")), w);
  EXPECT_EQ(executor->loadFloats(*executor->find("w.grad")),
            std::vector<float>(25, 0.0f));
  EXPECT_NE(executor->loadFloats(*executor->find("w.m")),
            std::vector<float>(25, 0.0f));
}

TEST(Executor, KernelErrorsNameTheKernel) {
  std::unique_ptr<Executor> executor = makeExecutor(linearModelPlan());
  ASSERT_TRUE(executor);
  std::vector<int32_t> tokens(4 * 8, 0);
  tokens[5] = 99; // outside the vocabulary of 16
  store(*executor, *executor->find("tokens"), tokens);
  store(*executor, *executor->find("targets"), std::vector<int32_t>(32, 0));
  std::string message =
      errorMessage(executor->run(executor->plan().grad(), "grad"));
  expectMessage(message, {"test.sg:1:3", "program 'grad', kernel 0 'one_hot'"});
}

TEST(Executor, RejectsPlansTheCpuCannotRun) {
  plan::Plan plan = linearModelPlan();
  plan.mutable_grad()->mutable_kernels(2)->set_op("frobnicate");
  expectMessage(createError(plan),
                {"plan 'test'", "program 'grad', kernel 2 'frobnicate'"});

  plan = linearModelPlan();
  // matmul with a third input.
  plan.mutable_grad()->mutable_kernels(1)->add_inputs(0);
  expectMessage(createError(plan), {"kernel 1 'matmul'"});

  plan = linearModelPlan();
  plan.mutable_buffers(0)->set_dtype(plan::F16);
  plan.mutable_buffers(0)->set_size_bytes(16 * 16 * 2);
  expectMessage(createError(plan), {"plan 'test'", "buffer 0 'w' is f16",
                                    "computes in f32, bf16 and i32 only"});

  plan = linearModelPlan();
  plan.mutable_buffers(1)->set_id(4);
  expectMessage(createError(plan), {"buffer 1 'b' has id 4"});
}

TEST(Executor, InitializerErrorsNameTheParam) {
  plan::Plan plan = linearModelPlan();
  plan.mutable_buffers(0)->set_init_args(1, -1.0); // std < 0
  expectMessage(createError(plan), {"plan 'test'", "'w'"});
}

} // namespace
