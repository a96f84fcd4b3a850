//===- Trainer.cpp - The training loop over a plan ------------------------===//

#include "strata/Exec/Trainer.h"

#include "strata/Cpu/Kernels.h"
#include "strata/Exec/Trace.h"
#include "strata/Runtime/Checkpoint.h"
#include "strata/Runtime/Init.h"
#include "strata/Runtime/PlanFile.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/Twine.h"

#include <chrono>
#include <cmath>
#include <cstring>

using namespace strata;
using namespace strata::exec;
using llvm::Twine;

namespace {

int64_t numElements(const plan::Buffer &buffer) {
  int64_t n = 1;
  for (int64_t dim : buffer.shape())
    n *= dim;
  return n;
}

llvm::ArrayRef<int64_t> shapeOf(const plan::Buffer &buffer) {
  return {buffer.shape().data(), size_t(buffer.shape_size())};
}

runtime::DType checkpointDType(plan::DType dtype) {
  switch (dtype) {
  case plan::I32:
    return runtime::DType::I32;
  case plan::BF16:
    return runtime::DType::BF16;
  case plan::F16:
    return runtime::DType::F16;
  default:
    return runtime::DType::F32;
  }
}

std::string formatLoss(double loss) {
  if (std::isnan(loss))
    return "nan";
  if (std::isinf(loss))
    return loss > 0 ? "inf" : "-inf";
  return std::to_string(loss);
}

} // namespace

llvm::Expected<std::unique_ptr<Trainer>>
Trainer::create(Executor &executor, TrainerOptions options) {
  const plan::Plan &plan = executor.plan();
  const std::string &origin = executor.origin();
  auto fail = [&](const Twine &message) {
    return llvm::createStringError(origin + ": " + message);
  };
  if (!plan.has_grad() || !plan.has_apply())
    return fail("model '" + plan.model() +
                "' has no training programs (grad and apply); compile it "
                "with an optimizer to train it");

  std::unique_ptr<Trainer> trainer(new Trainer(executor, std::move(options)));

  // Token inputs share one batch geometry and vocabulary.
  const plan::Buffer *tokenBuffers[2] = {executor.find("tokens"),
                                         executor.find("targets")};
  int64_t vocab = 0;
  const plan::Buffer *firstTokens = nullptr;
  for (const plan::Buffer *buffer : tokenBuffers) {
    if (!buffer || buffer->role() != plan::INPUT)
      continue;
    if (buffer->dtype() != plan::I32)
      return fail("input '" + buffer->name() + "' is " +
                  runtime::planDTypeName(buffer->dtype()) +
                  "; token inputs are i32");
    if (buffer->index_bound() > 0)
      vocab = vocab ? std::min(vocab, buffer->index_bound())
                    : buffer->index_bound();
    if (!firstTokens)
      firstTokens = buffer;
  }

  auto classify = [&](const plan::Program &program, llvm::StringRef name,
                      std::vector<InputSlot> &slots) -> llvm::Error {
    for (int id : program.inputs()) {
      const plan::Buffer &buffer = plan.buffers(id);
      Source source;
      if (name == "apply") {
        if (buffer.name() != "step" || buffer.dtype() != plan::I32 ||
            numElements(buffer) != 1)
          return fail("program 'apply' takes input '" + buffer.name() +
                      "'; the trainer supplies only 'step', one i32 value");
        source = Source::Step;
      } else if (buffer.name() == "tokens") {
        source = Source::Tokens;
      } else if (buffer.name() == "targets") {
        source = Source::Targets;
      } else if (buffer.dtype() == plan::I32) {
        if (buffer.index_bound() <= 0)
          return fail("cannot make up values for integer input '" +
                      buffer.name() +
                      "': the plan gives no index_bound for it");
        source = Source::SyntheticInt;
      } else {
        source = Source::SyntheticFloat;
      }
      slots.push_back({id, source});
    }
    return llvm::Error::success();
  };
  if (llvm::Error err = classify(plan.grad(), "grad", trainer->gradInputs))
    return std::move(err);
  if (llvm::Error err = classify(plan.apply(), "apply", trainer->applyInputs))
    return std::move(err);

  bool needsTokens = llvm::any_of(trainer->gradInputs, [](const InputSlot &s) {
    return s.source == Source::Tokens || s.source == Source::Targets;
  });
  if (!needsTokens)
    return trainer;

  // The batch geometry: the plan's, else the token input's shape [B, T].
  int64_t batchSize = plan.batch_size(), seqLen = plan.seq_len();
  if (batchSize <= 0 || seqLen <= 0) {
    llvm::ArrayRef<int64_t> shape = shapeOf(*firstTokens);
    batchSize = shape.size() >= 2 ? shape[0] : 1;
    seqLen = batchSize ? numElements(*firstTokens) / batchSize : 0;
  }
  if (batchSize <= 0 || seqLen <= 0 || batchSize > UINT32_MAX ||
      seqLen > UINT32_MAX)
    return fail("the token batch geometry " + Twine(batchSize) + " x " +
                Twine(seqLen) + " is not usable");
  for (const plan::Buffer *buffer : tokenBuffers)
    if (buffer && buffer->role() == plan::INPUT &&
        numElements(*buffer) != batchSize * seqLen)
      return fail("input '" + buffer->name() + "' of shape " +
                  runtime::planShapeString(shapeOf(*buffer)) +
                  " does not hold a batch of " + Twine(batchSize) + " x " +
                  Twine(seqLen) + " tokens");

  const runtime::TokenSource *source = trainer->options.data;
  if (!source) {
    if (vocab <= 0 || vocab > 65536)
      return fail("cannot make synthetic tokens: the plan gives no "
                  "vocabulary (index_bound) for the token inputs; pass data");
    runtime::SyntheticTokenOptions synthetic;
    synthetic.seed = trainer->options.seed;
    synthetic.vocabSize = uint32_t(vocab);
    synthetic.numTokens = std::max<uint64_t>(synthetic.numTokens,
                                             uint64_t(batchSize * seqLen) + 1);
    llvm::Expected<runtime::TokenBuffer> tokens =
        runtime::makeSyntheticTokens(synthetic);
    if (!tokens)
      return tokens.takeError();
    trainer->syntheticTokens =
        std::make_unique<runtime::TokenBuffer>(std::move(*tokens));
    source = trainer->syntheticTokens.get();
  }
  std::optional<uint32_t> vocabLimit;
  if (vocab > 0 && vocab <= UINT32_MAX)
    vocabLimit = uint32_t(vocab);
  llvm::Expected<runtime::BatchLoader> loader = runtime::BatchLoader::create(
      *source, uint32_t(batchSize), uint32_t(seqLen), vocabLimit);
  if (!loader)
    return llvm::createStringError(
        "data '" + source->name() + "' does not fit model '" + plan.model() +
        "' (vocabulary " + Twine(vocab) + ", batches of " + Twine(batchSize) +
        " x " + Twine(seqLen) + "): " + llvm::toString(loader.takeError()));
  trainer->loader.emplace(std::move(*loader));
  trainer->batch.emplace();
  trainer->batch->inputs.resize(batchSize * seqLen);
  trainer->batch->targets.resize(batchSize * seqLen);
  return trainer;
}

uint64_t Trainer::tokensPerStep() const {
  if (!loader)
    return 0;
  return uint64_t(loader->batchSize()) * loader->seqLen() *
         uint64_t(executor.plan().accumulate());
}

uint64_t Trainer::dataPosition() const {
  // A micro-batch read ahead of its step is not consumed yet.
  if (prepared)
    return preparedFrom;
  return loader ? loader->position() : 0;
}

llvm::Error Trainer::fillInput(const InputSlot &slot, int64_t step, int micro) {
  const plan::Buffer &buffer = executor.plan().buffers(slot.id);
  llvm::MutableArrayRef<uint8_t> bytes = executor.bytes(buffer);
  int64_t n = numElements(buffer);
  // Synthetic values depend only on the seed, the step, the micro-step and
  // the input's name, so a resumed run draws what the first would have.
  std::string streamName =
      std::to_string(step) + "." + std::to_string(micro) + "." + buffer.name();
  switch (slot.source) {
  case Source::Tokens:
    std::memcpy(bytes.data(), batch->inputs.data(), n * sizeof(int32_t));
    break;
  case Source::Targets:
    std::memcpy(bytes.data(), batch->targets.data(), n * sizeof(int32_t));
    break;
  case Source::SyntheticFloat: {
    std::vector<float> values(n);
    if (llvm::Error err = runtime::initializeParameter(
            runtime::InitKind::Normal, {0.0, 1.0}, streamName, options.seed,
            values.data(), n))
      return err;
    executor.storeFloats(buffer, values);
    break;
  }
  case Source::SyntheticInt: {
    runtime::SplitMix64 stream =
        runtime::SplitMix64::forParameter(options.seed, streamName);
    double bound = double(buffer.index_bound());
    for (int64_t i = 0; i < n; ++i) {
      int32_t value =
          int32_t(std::min(stream.nextUniform() * bound, bound - 1));
      std::memcpy(bytes.data() + i * sizeof(int32_t), &value, sizeof(value));
    }
    break;
  }
  case Source::Step: {
    int32_t value = int32_t(step);
    std::memcpy(bytes.data(), &value, sizeof(value));
    break;
  }
  }
  return llvm::Error::success();
}

llvm::Error Trainer::prepareMicro(int64_t step, int micro) {
  const plan::Plan &plan = executor.plan();
  TraceScope dataEvent(executor.trace(), TraceKind::Data, "data");
  preparedFrom = dataPosition();
  if (loader)
    loader->next(batch->inputs, batch->targets);
  for (const InputSlot &slot : gradInputs) {
    if (llvm::Error err = fillInput(slot, step, micro))
      return err;
    if (options.onInput) {
      const plan::Buffer &buffer = plan.buffers(slot.id);
      options.onInput(step, micro, buffer, executor.bytes(buffer));
    }
  }
  if (llvm::Error err = executor.stage())
    return err;
  prepared = {step, micro};
  return llvm::Error::success();
}

llvm::Expected<StepResult> Trainer::step() {
  auto start = std::chrono::steady_clock::now();
  const plan::Plan &plan = executor.plan();
  StepResult result;
  result.step = completedSteps + 1;
  TraceRecorder *trace = executor.trace();
  if (trace)
    trace->beginStep(result.step);
  TraceScope stepEvent(trace, TraceKind::Step,
                       trace ? "step " + std::to_string(result.step) : "");
  const plan::Buffer &lossBuffer = plan.buffers(plan.grad().outputs(0));
  // On a device, the next micro-batch is read and staged while the current
  // one computes; on the CPU there is nothing to overlap with.
  bool prefetch = executor.device() != nullptr;
  auto stepError = [&](llvm::Error err) {
    return llvm::createStringError("step " + Twine(result.step) + ": " +
                                   llvm::toString(std::move(err)));
  };
  double lossSum = 0;
  for (int micro = 0; micro < plan.accumulate(); ++micro) {
    if (trace)
      trace->setMicro(micro);
    if (prepared != std::make_pair(result.step, micro))
      if (llvm::Error err = prepareMicro(result.step, micro))
        return std::move(err);
    prepared.reset();
    if (llvm::Error err = executor.launch(plan.grad(), "grad"))
      return stepError(std::move(err));
    if (prefetch && micro + 1 < plan.accumulate())
      if (llvm::Error err = prepareMicro(result.step, micro + 1))
        return std::move(err);
    if (llvm::Error err = executor.wait())
      return stepError(std::move(err));
    float loss;
    std::memcpy(&loss, executor.bytes(lossBuffer).data(), sizeof(loss));
    if (!std::isfinite(loss)) {
      std::string message = "step " + std::to_string(result.step) +
                            ": the loss is " + formatLoss(loss);
      if (plan.accumulate() > 1)
        message += " on micro-batch " + std::to_string(micro + 1) + " of " +
                   std::to_string(plan.accumulate());
      message += "; stopped before the optimizer update";
      if (lastSaved)
        message += " (the last checkpoint, '" + lastSaved->second +
                   "', holds step " + std::to_string(lastSaved->first) + ")";
      return llvm::createStringError(message);
    }
    lossSum += loss;
  }
  if (trace)
    trace->setMicro(-1);
  for (const InputSlot &slot : applyInputs)
    if (llvm::Error err = fillInput(slot, result.step, 0))
      return std::move(err);
  if (llvm::Error err = executor.stage())
    return std::move(err);
  if (llvm::Error err = executor.launch(plan.apply(), "apply"))
    return stepError(std::move(err));
  if (prefetch)
    if (llvm::Error err = prepareMicro(result.step + 1, 0))
      return std::move(err);
  if (llvm::Error err = executor.wait())
    return stepError(std::move(err));
  completedSteps = result.step;
  result.loss = lossSum / plan.accumulate();
  const plan::Optimizer &optimizer = plan.optimizer();
  if (!optimizer.kind().empty()) {
    cpu::LrSchedule schedule;
    schedule.kind = optimizer.schedule() == "cosine"
                        ? cpu::LrScheduleKind::Cosine
                        : cpu::LrScheduleKind::Constant;
    schedule.baseLr = optimizer.lr();
    schedule.warmupSteps = optimizer.warmup_steps();
    schedule.totalSteps = optimizer.total_steps();
    schedule.minLr = optimizer.min_lr();
    result.learningRate = cpu::learningRate(schedule, result.step);
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return result;
}

llvm::Error
Trainer::train(int64_t lastStep,
               const std::function<void(const StepResult &)> &onStep) {
  while (completedSteps < lastStep) {
    llvm::Expected<StepResult> result = step();
    if (!result)
      return result.takeError();
    if (onStep)
      onStep(*result);
    bool due = options.checkpointEvery > 0 &&
               completedSteps % options.checkpointEvery == 0;
    if (!options.checkpointPath.empty() &&
        (due || completedSteps == lastStep)) {
      TraceScope event(executor.trace(), TraceKind::Checkpoint, "checkpoint");
      if (llvm::Error err = saveCheckpoint(options.checkpointPath))
        return err;
      lastSaved = {completedSteps, options.checkpointPath};
    }
  }
  return llvm::Error::success();
}

llvm::Error Trainer::saveCheckpoint(llvm::StringRef path) const {
  const plan::Plan &plan = executor.plan();
  if (llvm::Error err = executor.syncHost())
    return err;
  std::vector<runtime::TensorRef> tensors;
  for (const plan::Buffer &buffer : plan.buffers()) {
    if (buffer.role() != plan::PARAM && buffer.role() != plan::STATE)
      continue;
    runtime::TensorRef tensor;
    tensor.name = buffer.name();
    tensor.dtype = checkpointDType(buffer.dtype());
    tensor.shape.assign(buffer.shape().begin(), buffer.shape().end());
    tensor.data = executor.bytes(buffer);
    tensors.push_back(std::move(tensor));
  }
  runtime::Metadata metadata;
  metadata.setStep(uint64_t(completedSteps));
  metadata.setDataPosition(dataPosition());
  metadata.setUInt(kSeedKey, options.seed);
  metadata.set(kModelKey, plan.model());
  return runtime::writeCheckpoint(path, tensors, metadata);
}

llvm::Error Trainer::resume(llvm::StringRef path) {
  llvm::Expected<runtime::Checkpoint> checkpoint =
      runtime::Checkpoint::open(path);
  if (!checkpoint)
    return checkpoint.takeError();
  const plan::Plan &plan = executor.plan();
  std::string what = ("cannot resume from checkpoint '" + path + "'").str();
  auto fail = [&](const Twine &message) {
    return llvm::createStringError(what + ": " + message);
  };

  // Everything is checked before anything is overwritten.
  llvm::StringSet<> planNames;
  for (const plan::Buffer &buffer : plan.buffers()) {
    if (buffer.role() != plan::PARAM && buffer.role() != plan::STATE)
      continue;
    planNames.insert(buffer.name());
    std::string kind = runtime::planRoleName(buffer.role());
    const runtime::TensorEntry *entry = checkpoint->find(buffer.name());
    if (!entry)
      return fail("it lacks " + kind + " '" + buffer.name() +
                  "' of the plan (a checkpoint of another model?)");
    runtime::DType dtype = checkpointDType(buffer.dtype());
    if (entry->dtype != dtype ||
        llvm::ArrayRef<int64_t>(entry->shape) != shapeOf(buffer))
      return fail(kind + " '" + buffer.name() + "' is " +
                  runtime::dtypeName(entry->dtype) + " " +
                  runtime::planShapeString(entry->shape) +
                  " in the checkpoint but " + runtime::dtypeName(dtype) + " " +
                  runtime::planShapeString(shapeOf(buffer)) + " in the plan");
  }
  for (const runtime::TensorEntry &entry : checkpoint->tensors())
    if (!planNames.contains(entry.name))
      return fail("it holds tensor '" + entry.name +
                  "', which the plan does not have (a checkpoint of another "
                  "model?)");
  const runtime::Metadata &metadata = checkpoint->metadata();
  llvm::Expected<uint64_t> step = metadata.step();
  if (!step)
    return fail(llvm::toString(step.takeError()));
  llvm::Expected<uint64_t> position = metadata.dataPosition();
  if (!position)
    return fail(llvm::toString(position.takeError()));
  if (std::optional<llvm::StringRef> seed = metadata.get(kSeedKey))
    if (*seed != std::to_string(options.seed))
      return fail("it was written by a run with seed " + *seed +
                  ", this run has seed " + Twine(options.seed) +
                  " (its synthetic data would differ)");
  if (llvm::Error err = executor.syncHost())
    return fail(llvm::toString(std::move(err)));
  if (loader)
    if (llvm::Error err = loader->setPosition(*position))
      return fail(llvm::toString(std::move(err)));
  prepared.reset();

  for (const plan::Buffer &buffer : plan.buffers()) {
    if (buffer.role() != plan::PARAM && buffer.role() != plan::STATE)
      continue;
    if (llvm::Error err =
            checkpoint->read(buffer.name(), checkpointDType(buffer.dtype()),
                             shapeOf(buffer), executor.bytes(buffer)))
      return fail(llvm::toString(std::move(err)));
  }
  completedSteps = int64_t(*step);
  return llvm::Error::success();
}
