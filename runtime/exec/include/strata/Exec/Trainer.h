//===- Trainer.h - The training loop over a plan ----------------*- C++ -*-===//
//
// One optimizer step of a training plan runs `grad` `accumulate` times, each
// on a new micro-batch (gradients sum into the STATE grad buffers), then
// `apply` once with the 1-based step number in its `step` input. The trainer
// fills the inputs (token batches from a TokenSource through a BatchLoader,
// synthetic values for the rest), checks the loss, and writes and restores
// checkpoints: every PARAM and STATE buffer plus the step and the data
// position, so that a resumed run continues bit for bit where the first one
// stopped. With a TraceRecorder on the executor (Executor::setTrace), each
// step, the data loading of each micro-step and each checkpoint write is a
// trace event too. See docs/strata-run.md.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_EXEC_TRAINER_H
#define STRATA_EXEC_TRAINER_H

#include "strata/Exec/Executor.h"
#include "strata/Runtime/Data.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace strata::exec {

/// Metadata keys a checkpoint holds beyond runtime::kStepKey and
/// kDataPositionKey.
inline constexpr llvm::StringLiteral kSeedKey = "strata.seed";
inline constexpr llvm::StringLiteral kModelKey = "strata.model";

struct TrainerOptions {
  /// Seeds the synthetic inputs: the token stream when `data` is null and
  /// every input other than tokens/targets.
  uint64_t seed = 0;
  /// The token stream of the inputs named `tokens` and `targets`; synthetic
  /// tokens (runtime::makeSyntheticTokens) when null. Must outlive the
  /// trainer.
  const runtime::TokenSource *data = nullptr;
  /// Where `train` writes checkpoints ("" for none): every
  /// `checkpointEvery` steps (0: only at the end) and after the last step.
  std::string checkpointPath;
  int64_t checkpointEvery = 0;
  /// Called with every input of every micro-step after it was filled and
  /// before `grad` runs; `step` is 1-based, `micro` 0-based.
  std::function<void(int64_t step, int micro, const plan::Buffer &input,
                     llvm::ArrayRef<uint8_t> bytes)>
      onInput;
};

/// What one optimizer step did.
struct StepResult {
  int64_t step = 0;
  /// Mean of the micro-batches' losses.
  double loss = 0;
  /// The learning rate of the step, from the plan's optimizer settings
  /// (nullopt when the plan has none).
  std::optional<double> learningRate;
  /// Wall time of the step.
  double seconds = 0;
};

class Trainer {
public:
  /// Fails when the executor's plan is not a training plan, or when the
  /// trainer cannot supply one of its programs' inputs (an integer input
  /// without index_bound, token inputs whose shapes disagree with the
  /// batch geometry, a data stream with a token outside the vocabulary).
  static llvm::Expected<std::unique_ptr<Trainer>>
  create(Executor &executor, TrainerOptions options);

  /// Restores every param and state, the step and the data position from a
  /// checkpoint written by `saveCheckpoint`. Fails, changing nothing, when
  /// the checkpoint lacks a buffer of the plan, holds a tensor the plan does
  /// not have, or a tensor's dtype or shape differs from the plan's.
  llvm::Error resume(llvm::StringRef path);

  /// Runs step stepsDone() + 1. Fails, before `apply` runs, when a loss is
  /// not finite, naming the step.
  llvm::Expected<StepResult> step();

  /// Runs steps until stepsDone() == lastStep, checkpointing as the options
  /// say, and calls `onStep` after each. A failure leaves the last
  /// checkpoint written before it untouched.
  llvm::Error train(int64_t lastStep,
                    const std::function<void(const StepResult &)> &onStep = {});

  /// Writes every param and state, the step, the data position, the seed
  /// and the model name to `path` atomically.
  llvm::Error saveCheckpoint(llvm::StringRef path) const;

  int64_t stepsDone() const { return completedSteps; }
  /// Tokens one step consumes (batch × sequence × accumulate), 0 when the
  /// plan has no token inputs.
  uint64_t tokensPerStep() const;
  /// The token source's position (BatchLoader::position), 0 without one.
  uint64_t dataPosition() const;
  /// The step and path of the last checkpoint `train` wrote, if any.
  std::optional<std::pair<int64_t, std::string>> lastCheckpoint() const {
    return lastSaved;
  }

private:
  /// How one program input is filled.
  enum class Source { Tokens, Targets, SyntheticFloat, SyntheticInt, Step };
  struct InputSlot {
    int id;
    Source source;
  };

  Trainer(Executor &executor, TrainerOptions options)
      : executor(executor), options(std::move(options)) {}

  llvm::Error fillInput(const InputSlot &slot, int64_t step, int micro);
  /// Reads the micro-batch (step, micro), fills the grad inputs with it and
  /// stages them on the executor.
  llvm::Error prepareMicro(int64_t step, int micro);

  Executor &executor;
  TrainerOptions options;
  std::vector<InputSlot> gradInputs, applyInputs;
  std::unique_ptr<runtime::TokenSource> syntheticTokens;
  std::optional<runtime::BatchLoader> loader;
  std::optional<runtime::Batch> batch;
  /// The (step, micro) whose inputs are staged ahead of their launch, and
  /// the data position before they were read.
  std::optional<std::pair<int64_t, int>> prepared;
  uint64_t preparedFrom = 0;
  int64_t completedSteps = 0;
  std::optional<std::pair<int64_t, std::string>> lastSaved;
};

} // namespace strata::exec

#endif // STRATA_EXEC_TRAINER_H
