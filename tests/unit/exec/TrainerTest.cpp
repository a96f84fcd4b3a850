//===- TrainerTest.cpp - The training loop, checkpoints and resume --------===//

#include "strata/Exec/Trainer.h"

#include "strata/Runtime/Checkpoint.h"
#include "strata/Runtime/Init.h"

#include "TestPlans.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace strata;
using namespace strata::exec;
using namespace strata::exec::testing;

namespace {

/// An executor and a trainer over one plan.
struct TrainingRun {
  std::unique_ptr<Executor> executor;
  std::unique_ptr<Trainer> trainer;
  std::vector<double> losses;

  static TrainingRun make(plan::Plan plan, TrainerOptions options = {}) {
    TrainingRun run;
    llvm::Expected<std::unique_ptr<Executor>> executor =
        Executor::create(std::move(plan), "plan 'test'");
    EXPECT_TRUE(bool(executor)) << llvm::toString(executor.takeError());
    if (!executor)
      return run;
    run.executor = std::move(*executor);
    llvm::Expected<std::unique_ptr<Trainer>> trainer =
        Trainer::create(*run.executor, std::move(options));
    EXPECT_TRUE(bool(trainer)) << llvm::toString(trainer.takeError());
    if (trainer)
      run.trainer = std::move(*trainer);
    return run;
  }

  llvm::Error train(int64_t lastStep) {
    return trainer->train(lastStep, [&](const StepResult &result) {
      EXPECT_EQ(result.step, int64_t(losses.size()) + 1 + firstStep - 1);
      losses.push_back(result.loss);
    });
  }

  /// Every param and state, concatenated.
  std::vector<uint8_t> persistentState() const {
    std::vector<uint8_t> bytes;
    for (const plan::Buffer &buffer : executor->plan().buffers())
      if (buffer.role() == plan::PARAM || buffer.role() == plan::STATE) {
        llvm::ArrayRef<uint8_t> data =
            static_cast<const Executor &>(*executor).bytes(buffer);
        bytes.insert(bytes.end(), data.begin(), data.end());
      }
    return bytes;
  }

  int64_t firstStep = 1;
};

std::string createError(plan::Plan plan, TrainerOptions options = {}) {
  llvm::Expected<std::unique_ptr<Executor>> executor =
      Executor::create(std::move(plan), "plan 'test'");
  if (!executor)
    return llvm::toString(executor.takeError());
  llvm::Expected<std::unique_ptr<Trainer>> trainer =
      Trainer::create(**executor, std::move(options));
  if (trainer)
    return "";
  return llvm::toString(trainer.takeError());
}

/// Random tokens in [0, vocab): a stream with nothing to learn but fine to
/// train on, shorter than a run so that the loader wraps.
runtime::TokenBuffer randomTokens(size_t count, uint32_t vocab) {
  runtime::SplitMix64 stream(42);
  std::vector<uint16_t> tokens(count);
  for (uint16_t &token : tokens)
    token = uint16_t(stream.next() % vocab);
  return runtime::TokenBuffer("random tokens", std::move(tokens));
}

double mean(llvm::ArrayRef<double> values) {
  double sum = 0;
  for (double value : values)
    sum += value;
  return sum / double(values.size());
}

TEST(Trainer, LossFallsOnSyntheticTokens) {
  ModelOptions model;
  model.lr = 0.1;
  TrainingRun run = TrainingRun::make(linearModelPlan(model));
  ASSERT_TRUE(run.trainer);
  ASSERT_FALSE(errorMessage(run.train(60)).size());
  ASSERT_EQ(run.losses.size(), 60u);
  EXPECT_EQ(run.trainer->stepsDone(), 60);
  // ln 16 = 2.77 at the start; the bigram table of the synthetic stream
  // (noise 0.1) has an entropy of about 0.5 nats.
  EXPECT_NEAR(run.losses.front(), std::log(16.0), 0.3);
  double entropy = runtime::syntheticTokenEntropy(16, 0.1);
  EXPECT_LT(mean(llvm::ArrayRef(run.losses).take_back(10)), entropy + 0.5);
  EXPECT_GT(mean(llvm::ArrayRef(run.losses).take_back(10)), entropy - 0.2);
  EXPECT_EQ(run.trainer->tokensPerStep(), 4u * 8u);
}

TEST(Trainer, StepResultsCarryTheLearningRate) {
  TrainingRun run = TrainingRun::make(linearModelPlan());
  ASSERT_TRUE(run.trainer);
  llvm::Expected<StepResult> result = run.trainer->step();
  ASSERT_TRUE(bool(result)) << llvm::toString(result.takeError());
  EXPECT_EQ(result->step, 1);
  ASSERT_TRUE(result->learningRate.has_value());
  EXPECT_DOUBLE_EQ(*result->learningRate, 0.05);
  EXPECT_TRUE(std::isfinite(result->loss));
}

/// Trains `total` steps at once, and in two runs joined by a checkpoint
/// after `split`: the losses and the final state must be identical bit for
/// bit.
void expectResumeIsExact(const ModelOptions &model,
                         const runtime::TokenSource *data, int64_t split,
                         int64_t total) {
  ScratchDir dir;
  TrainerOptions options;
  options.seed = 5;
  options.data = data;
  TrainingRun whole = TrainingRun::make(linearModelPlan(model), options);
  ASSERT_TRUE(whole.trainer);
  ASSERT_FALSE(errorMessage(whole.train(total)).size());

  TrainerOptions first = options;
  first.checkpointPath = dir.file("ck.safetensors");
  first.checkpointEvery = split;
  TrainingRun before = TrainingRun::make(linearModelPlan(model), first);
  ASSERT_TRUE(before.trainer);
  ASSERT_FALSE(errorMessage(before.train(split)).size());
  ASSERT_EQ(before.trainer->lastCheckpoint()->first, split);

  // A fresh process: new executor (params initialized anew), new trainer.
  TrainingRun after = TrainingRun::make(linearModelPlan(model), options);
  ASSERT_TRUE(after.trainer);
  ASSERT_FALSE(
      errorMessage(after.trainer->resume(dir.file("ck.safetensors"))).size());
  EXPECT_EQ(after.trainer->stepsDone(), split);
  EXPECT_EQ(after.trainer->dataPosition(), before.trainer->dataPosition());
  after.firstStep = split + 1;
  ASSERT_FALSE(errorMessage(after.train(total)).size());

  std::vector<double> joined = before.losses;
  joined.insert(joined.end(), after.losses.begin(), after.losses.end());
  ASSERT_EQ(joined.size(), whole.losses.size());
  for (size_t i = 0; i < joined.size(); ++i)
    EXPECT_EQ(std::memcmp(&joined[i], &whole.losses[i], sizeof(double)), 0)
        << "step " << i + 1 << ": " << joined[i] << " vs " << whole.losses[i];
  EXPECT_EQ(after.persistentState(), whole.persistentState());
}

TEST(Trainer, ResumeIsBitIdenticalOnSyntheticTokens) {
  expectResumeIsExact(ModelOptions(), nullptr, 7, 15);
}

TEST(Trainer, ResumeIsBitIdenticalWithAccumulationAndWrappingData) {
  ModelOptions model;
  model.accumulate = 3;
  runtime::TokenBuffer tokens = randomTokens(300, 16);
  expectResumeIsExact(model, &tokens, 4, 9);
}

TEST(Trainer, CheckpointHoldsParamsStatesAndPosition) {
  ScratchDir dir;
  TrainerOptions options;
  options.seed = 3;
  TrainingRun run = TrainingRun::make(linearModelPlan(), options);
  ASSERT_TRUE(run.trainer);
  ASSERT_FALSE(errorMessage(run.train(2)).size());
  std::string path = dir.file("state.safetensors");
  ASSERT_FALSE(errorMessage(run.trainer->saveCheckpoint(path)).size());
  llvm::Expected<runtime::Checkpoint> checkpoint =
      runtime::Checkpoint::open(path);
  ASSERT_TRUE(bool(checkpoint)) << llvm::toString(checkpoint.takeError());
  std::vector<std::string> names;
  for (const runtime::TensorEntry &entry : checkpoint->tensors())
    names.push_back(entry.name);
  EXPECT_EQ(names, (std::vector<std::string>{"w", "b", "w.grad", "w.m", "w.v",
                                             "b.grad", "b.m", "b.v"}));
  EXPECT_EQ(*checkpoint->metadata().step(), 2u);
  EXPECT_EQ(*checkpoint->metadata().dataPosition(),
            run.trainer->dataPosition());
  EXPECT_EQ(run.trainer->dataPosition(), 2u * 4u * 8u);
  EXPECT_EQ(*checkpoint->metadata().get(kSeedKey), "3");
  EXPECT_EQ(*checkpoint->metadata().get(kModelKey), "linear");
  const runtime::TensorEntry *w = checkpoint->find("w");
  ASSERT_TRUE(w);
  std::vector<float> saved(w->numElements);
  std::memcpy(saved.data(), w->data.data(), w->data.size());
  EXPECT_EQ(saved, run.executor->loadFloats(*run.executor->find("w")));
}

TEST(Trainer, NonFiniteLossStopsAndKeepsTheLastCheckpoint) {
  ScratchDir dir;
  TrainerOptions options;
  options.checkpointPath = dir.file("ck.safetensors");
  options.checkpointEvery = 1;
  TrainingRun run = TrainingRun::make(linearModelPlan(), options);
  ASSERT_TRUE(run.trainer);
  ASSERT_FALSE(errorMessage(run.train(3)).size());
  std::string good = readFile(options.checkpointPath);

  const plan::Buffer &w = *run.executor->find("w");
  std::vector<float> poisoned = run.executor->loadFloats(w);
  poisoned[0] = std::numeric_limits<float>::quiet_NaN();
  for (size_t i = 0; i < poisoned.size(); i += 16)
    poisoned[i] = std::numeric_limits<float>::quiet_NaN();
  run.executor->storeFloats(w, poisoned);

  std::string message = errorMessage(run.train(6));
  expectMessage(message,
                {"step 4", "loss is nan", "stopped before the optimizer update",
                 "the last checkpoint", "holds step 3"});
  EXPECT_EQ(run.trainer->stepsDone(), 3);
  EXPECT_EQ(readFile(options.checkpointPath), good);
  // apply did not run: the params are as poisoned (compared as bytes, since
  // NaN != NaN).
  llvm::ArrayRef<uint8_t> after =
      static_cast<const Executor &>(*run.executor).bytes(w);
  EXPECT_EQ(std::memcmp(after.data(), poisoned.data(), after.size()), 0);
}

TEST(Trainer, InfiniteLossOnAMicroBatchIsNamed) {
  ModelOptions model;
  model.accumulate = 2;
  TrainingRun run = TrainingRun::make(linearModelPlan(model));
  ASSERT_TRUE(run.trainer);
  run.executor->storeFloats(
      *run.executor->find("b"),
      std::vector<float>(16, std::numeric_limits<float>::infinity()));
  std::string message = errorMessage(run.train(1));
  expectMessage(message, {"step 1", "micro-batch 1 of 2"});
}

TEST(Trainer, ResumeRejectsMismatches) {
  ScratchDir dir;
  std::string path = dir.file("ck.safetensors");
  {
    TrainingRun run = TrainingRun::make(linearModelPlan());
    ASSERT_TRUE(run.trainer);
    ASSERT_FALSE(errorMessage(run.train(1)).size());
    ASSERT_FALSE(errorMessage(run.trainer->saveCheckpoint(path)).size());
  }

  // Another vocabulary: every shape differs.
  ModelOptions small;
  small.vocab = 8;
  TrainingRun other = TrainingRun::make(linearModelPlan(small));
  ASSERT_TRUE(other.trainer);
  std::vector<uint8_t> before = other.persistentState();
  expectMessage(errorMessage(other.trainer->resume(path)),
                {"cannot resume from checkpoint '", "ck.safetensors",
                 "param 'w' is F32 [16, 16] in the checkpoint but F32 [8, 8] "
                 "in the plan"});
  EXPECT_EQ(other.persistentState(), before);
  EXPECT_EQ(other.trainer->stepsDone(), 0);

  // Missing and extra tensors.
  std::vector<float> w(16 * 16, 0.5f);
  runtime::Metadata metadata;
  metadata.setStep(1);
  metadata.setDataPosition(0);
  runtime::TensorRef onlyW{
      "w",
      runtime::DType::F32,
      {16, 16},
      llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(w.data()),
                              w.size() * 4)};
  std::string partial = dir.file("partial.safetensors");
  ASSERT_FALSE(
      errorMessage(runtime::writeCheckpoint(partial, {onlyW}, metadata))
          .size());
  TrainingRun run = TrainingRun::make(linearModelPlan());
  ASSERT_TRUE(run.trainer);
  expectMessage(errorMessage(run.trainer->resume(partial)),
                {"partial.safetensors", "lacks param 'b'"});

  std::vector<runtime::TensorRef> tensors;
  std::vector<std::vector<uint8_t>> storage;
  for (const plan::Buffer &buffer : run.executor->plan().buffers())
    if (buffer.role() == plan::PARAM || buffer.role() == plan::STATE) {
      storage.emplace_back(buffer.size_bytes(), 0);
      tensors.push_back({buffer.name(),
                         runtime::DType::F32,
                         {buffer.shape().begin(), buffer.shape().end()},
                         storage.back()});
    }
  storage.emplace_back(4, 0);
  tensors.push_back({"extra", runtime::DType::F32, {1}, storage.back()});
  std::string extra = dir.file("extra.safetensors");
  ASSERT_FALSE(
      errorMessage(runtime::writeCheckpoint(extra, tensors, metadata)).size());
  expectMessage(errorMessage(run.trainer->resume(extra)),
                {"extra.safetensors", "holds tensor 'extra'"});

  // Another seed.
  TrainerOptions seeded;
  seeded.seed = 99;
  TrainingRun reseeded = TrainingRun::make(linearModelPlan(), seeded);
  ASSERT_TRUE(reseeded.trainer);
  expectMessage(errorMessage(reseeded.trainer->resume(path)),
                {"written by a run with seed 0", "this run has seed 99"});

  // Not a checkpoint at all.
  std::string garbage = dir.file("garbage.safetensors");
  writeFile(garbage, "not a checkpoint");
  expectMessage(errorMessage(run.trainer->resume(garbage)),
                {"garbage.safetensors"});
}

TEST(Trainer, DataOutsideTheVocabularyIsRejected) {
  runtime::TokenBuffer tokens = randomTokens(200, 40);
  TrainerOptions options;
  options.data = &tokens;
  expectMessage(createError(linearModelPlan(), options),
                {"data 'random tokens' does not fit model 'linear'",
                 "vocabulary 16", "out of range for a vocabulary of 16"});
}

TEST(Trainer, DataShorterThanASequenceIsRejected) {
  runtime::TokenBuffer tokens = randomTokens(5, 16);
  TrainerOptions options;
  options.data = &tokens;
  expectMessage(createError(linearModelPlan(), options),
                {"does not fit model 'linear'", "at least 9 tokens"});
}

TEST(Trainer, PlansWithoutTrainingProgramsAreRejected) {
  plan::Plan plan = linearModelPlan();
  *plan.mutable_forward() = plan.grad();
  plan.clear_grad();
  plan.clear_apply();
  expectMessage(createError(plan),
                {"plan 'test'", "model 'linear' has no training programs"});
}

TEST(Trainer, InputsItCannotSupplyAreRejected) {
  plan::Plan plan = linearModelPlan();
  for (plan::Buffer &buffer : *plan.mutable_buffers())
    if (buffer.role() == plan::INPUT && buffer.name() != "step")
      buffer.set_index_bound(0);
  expectMessage(createError(plan), {"cannot make synthetic tokens",
                                    "no vocabulary (index_bound)"});

  plan = linearModelPlan();
  for (plan::Buffer &buffer : *plan.mutable_buffers())
    if (buffer.name() == "step")
      buffer.set_name("iteration");
  expectMessage(createError(plan), {"program 'apply' takes input 'iteration'"});
}

/// A plan whose grad program also takes a float input and an integer input
/// that are neither tokens nor targets: the trainer makes them up.
TEST(Trainer, SyntheticInputsAreSeededPerStepAndMicroStep) {
  auto build = [] {
    ModelOptions model;
    model.accumulate = 2;
    plan::Plan plan = linearModelPlan(model);
    auto addInput = [&](const std::string &name, plan::DType dtype,
                        int64_t count, int64_t bound) {
      plan::Buffer &buffer = *plan.add_buffers();
      buffer.set_id(plan.buffers_size() - 1);
      buffer.set_name(name);
      buffer.set_role(plan::INPUT);
      buffer.set_dtype(dtype);
      buffer.add_shape(count);
      buffer.set_size_bytes(4 * count);
      buffer.set_offset(plan.input_bytes());
      buffer.set_index_bound(bound);
      plan.set_input_bytes(plan.input_bytes() + 64);
      plan.mutable_grad()->add_inputs(buffer.id());
    };
    addInput("noise", plan::F32, 6, 0);
    addInput("labels", plan::I32, 9, 5);
    return plan;
  };

  struct Seen {
    int64_t step;
    int micro;
    std::string name;
    std::vector<uint8_t> bytes;
  };
  auto record = [](std::vector<Seen> &seen) {
    return [&seen](int64_t step, int micro, const plan::Buffer &input,
                   llvm::ArrayRef<uint8_t> bytes) {
      seen.push_back({step, micro, input.name(), {bytes.begin(), bytes.end()}});
    };
  };
  std::vector<Seen> first, second;
  TrainerOptions options;
  options.seed = 11;
  options.onInput = record(first);
  TrainingRun run = TrainingRun::make(build(), options);
  ASSERT_TRUE(run.trainer);
  ASSERT_FALSE(errorMessage(run.train(2)).size());
  options.onInput = record(second);
  TrainingRun again = TrainingRun::make(build(), options);
  ASSERT_TRUE(again.trainer);
  ASSERT_FALSE(errorMessage(again.train(2)).size());

  // 2 steps × 2 micro-steps × 4 inputs, in program order.
  ASSERT_EQ(first.size(), 16u);
  const char *names[] = {"tokens", "targets", "noise", "labels"};
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].step, int64_t(i / 8) + 1);
    EXPECT_EQ(first[i].micro, int(i / 4 % 2));
    EXPECT_EQ(first[i].name, names[i % 4]);
    EXPECT_EQ(first[i].bytes, second[i].bytes) << i;
  }
  // Floats are normal(0, 1) drawn from the stream "<step>.<micro>.<name>".
  std::vector<float> expected(6);
  ASSERT_FALSE(errorMessage(runtime::initializeParameter(
                                runtime::InitKind::Normal, {0.0, 1.0},
                                "2.1.noise", 11, expected.data(), 6))
                   .size());
  std::vector<float> noise(6);
  std::memcpy(noise.data(), first[14].bytes.data(), 24);
  EXPECT_EQ(noise, expected);
  EXPECT_NE(first[2].bytes, first[6].bytes);
  // Integers lie in [0, index_bound).
  for (const Seen &seen : first)
    if (seen.name == "labels")
      for (size_t i = 0; i < 9; ++i) {
        int32_t label;
        std::memcpy(&label, seen.bytes.data() + 4 * i, 4);
        EXPECT_GE(label, 0);
        EXPECT_LT(label, 5);
      }
  // Targets are the tokens shifted by one in the stream.
  std::vector<int32_t> tokens(32), targets(32);
  std::memcpy(tokens.data(), first[0].bytes.data(), 128);
  std::memcpy(targets.data(), first[1].bytes.data(), 128);
  for (int i = 0; i + 1 < 8; ++i)
    EXPECT_EQ(targets[i], tokens[i + 1]);
}

} // namespace
