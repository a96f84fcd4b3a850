//===- strata-run.cpp - Train a compiled plan on the CPU ------------------===//
//
//   strata-run model.plan --data train.bin --steps 1000 --checkpoint ck.st
//   strata-run model.plan --text input.txt --steps 200 --log-csv loss.csv
//   strata-run model.plan --resume ck.st --steps 2000 --checkpoint ck.st
//   strata-run model.plan --steps 20 --trace trace.json
//
// Loads a plan that strata-compile wrote, initializes its parameters, and
// runs the training loop of strata/Exec/Trainer.h: inputs named `tokens` and
// `targets` come from the token file (or the text, tokenized one byte a
// token, or synthetic tokens when neither is given), other inputs are seeded
// synthetic values. See docs/strata-run.md.
//
//===----------------------------------------------------------------------===//

#ifdef STRATA_HAVE_CUDA
#include "strata/Cuda/CudaDevice.h"
#endif
#include "strata/Exec/Executor.h"
#include "strata/Exec/Trace.h"
#include "strata/Exec/Trainer.h"
#include "strata/Runtime/Checkpoint.h"
#include "strata/Runtime/Data.h"
#include "strata/Runtime/PlanFile.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <thread>

using namespace strata;

namespace {
llvm::cl::OptionCategory category("strata-run options");

llvm::cl::opt<std::string> planPath(llvm::cl::Positional,
                                    llvm::cl::desc("<model.plan>"),
                                    llvm::cl::Required,
                                    llvm::cl::cat(category));
llvm::cl::opt<std::string>
    dataPath("data",
             llvm::cl::desc("Token file for the inputs 'tokens' and "
                            "'targets' (default: synthetic tokens)"),
             llvm::cl::value_desc("tokens.bin"), llvm::cl::cat(category));
llvm::cl::opt<std::string>
    textPath("text",
             llvm::cl::desc("Text file, tokenized one byte a token, instead "
                            "of --data"),
             llvm::cl::value_desc("file"), llvm::cl::cat(category));
llvm::cl::opt<int64_t>
    steps("steps",
          llvm::cl::desc("Train until this step (default: the plan's "
                         "default_steps)"),
          llvm::cl::value_desc("N"), llvm::cl::cat(category));
llvm::cl::opt<uint64_t>
    seed("seed",
         llvm::cl::desc("Seed of the parameters and synthetic inputs "
                        "(default: the resumed checkpoint's, else the "
                        "plan's)"),
         llvm::cl::value_desc("S"), llvm::cl::cat(category));
llvm::cl::opt<std::string>
    checkpointPath("checkpoint",
                   llvm::cl::desc("Write checkpoints here (safetensors), "
                                  "atomically, after the last step and "
                                  "every --checkpoint-every steps"),
                   llvm::cl::value_desc("file"), llvm::cl::cat(category));
llvm::cl::opt<int64_t> checkpointEvery(
    "checkpoint-every",
    llvm::cl::desc("Checkpoint every K steps (default 0: only at the end)"),
    llvm::cl::value_desc("K"), llvm::cl::init(0), llvm::cl::cat(category));
llvm::cl::opt<std::string>
    resumePath("resume",
               llvm::cl::desc("Continue from this checkpoint: params, "
                              "optimizer state, step and data position"),
               llvm::cl::value_desc("file"), llvm::cl::cat(category));
llvm::cl::opt<std::string>
    csvPath("log-csv",
            llvm::cl::desc("Write step,loss,lr,tokens_per_s,elapsed_s per "
                           "step to this CSV file"),
            llvm::cl::value_desc("file"), llvm::cl::cat(category));
llvm::cl::opt<int64_t> logEvery(
    "log-every",
    llvm::cl::desc("When the output is not a terminal, print a line every N "
                   "steps (default: about 20 lines a run)"),
    llvm::cl::value_desc("N"), llvm::cl::init(0), llvm::cl::cat(category));
llvm::cl::opt<std::string>
    saveInitPath("save-init",
                 llvm::cl::desc("Write the initialized parameters "
                                "(safetensors, named as the params) before "
                                "step 1"),
                 llvm::cl::value_desc("file"), llvm::cl::cat(category));
llvm::cl::opt<std::string> dumpBatchesPath(
    "dump-batches",
    llvm::cl::desc("Write every input of every micro-step (safetensors, "
                   "named <step>.<micro>.<input>)"),
    llvm::cl::value_desc("file"), llvm::cl::cat(category));
llvm::cl::opt<std::string> tracePath(
    "trace",
    llvm::cl::desc("Write a Chrome trace (Perfetto JSON) of every kernel, "
                   "program run, step, data load and checkpoint of the "
                   "traced steps, and print a per-op time table on stderr"),
    llvm::cl::value_desc("file"), llvm::cl::cat(category));
llvm::cl::opt<std::string> deviceName(
    "device",
    llvm::cl::desc("Where the plan runs: cpu, cuda, or auto (cuda when this "
                   "build has the CUDA backend and sees a GPU, else cpu; the "
                   "default)"),
    llvm::cl::value_desc("cpu|cuda|auto"), llvm::cl::init("auto"),
    llvm::cl::cat(category));
llvm::cl::opt<bool> cudaGraphs(
    "cuda-graphs",
    llvm::cl::desc("With --device cuda, replay each program as a CUDA graph "
                   "after its first runs (default true)"),
    llvm::cl::init(true), llvm::cl::cat(category));
llvm::cl::opt<int64_t> traceSteps(
    "trace-steps",
    llvm::cl::desc("Steps --trace records, from the run's second step (the "
                   "first pays one-time costs) (default 5)"),
    llvm::cl::value_desc("N"), llvm::cl::init(5), llvm::cl::cat(category));

int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "strata-run") << message << "\n";
  return 1;
}

int fail(llvm::Error err) { return fail(llvm::toString(std::move(err))); }

runtime::DType checkpointDType(plan::DType dtype) {
  return dtype == plan::I32 ? runtime::DType::I32 : runtime::DType::F32;
}

/// Tensors collected for --dump-batches, owning their bytes.
struct DumpedTensor {
  std::string name;
  runtime::DType dtype;
  llvm::SmallVector<int64_t, 4> shape;
  std::vector<uint8_t> bytes;
};

llvm::Error writeTensors(llvm::StringRef path,
                         llvm::ArrayRef<DumpedTensor> dumped) {
  std::vector<runtime::TensorRef> tensors;
  for (const DumpedTensor &tensor : dumped)
    tensors.push_back({tensor.name, tensor.dtype, tensor.shape, tensor.bytes});
  return runtime::writeCheckpoint(path, tensors, runtime::Metadata());
}

std::string formatBytes(uint64_t bytes) {
  char text[32];
  if (bytes >= (uint64_t(1) << 30))
    snprintf(text, sizeof(text), "%.2f GB", double(bytes) / double(1 << 30));
  else if (bytes >= (uint64_t(1) << 20))
    snprintf(text, sizeof(text), "%.1f MB", double(bytes) / double(1 << 20));
  else
    snprintf(text, sizeof(text), "%.1f KB", double(bytes) / 1024.0);
  return text;
}

std::string formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0)
    return "?";
  int64_t s = int64_t(seconds + 0.5);
  char text[32];
  if (s >= 3600)
    snprintf(text, sizeof(text), "%lldh%02lldm", (long long)(s / 3600),
             (long long)(s / 60 % 60));
  else if (s >= 60)
    snprintf(text, sizeof(text), "%lldm%02llds", (long long)(s / 60),
             (long long)(s % 60));
  else
    snprintf(text, sizeof(text), "%.1fs", seconds);
  return text;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // libLLVM registers an undocumented `threads` option of its own; ours takes
  // its place (two options of one name are a fatal error).
  auto &registered = llvm::cl::getRegisteredOptions();
  if (auto it = registered.find("threads"); it != registered.end())
    it->second->removeArgument();
  llvm::cl::opt<int> threads(
      "threads",
      llvm::cl::desc("Threads a kernel may use (default: all cores)"),
      llvm::cl::value_desc("N"), llvm::cl::cat(category));
  llvm::cl::HideUnrelatedOptions(category);
  llvm::cl::ParseCommandLineOptions(
      argc, argv, "Strata plan runner: trains a compiled model on the CPU\n");

  if (!dataPath.empty() && !textPath.empty())
    return fail("--data and --text both name training data; pass one");
  if (checkpointEvery < 0)
    return fail("--checkpoint-every must not be negative");
  if (checkpointEvery > 0 && checkpointPath.empty())
    return fail("--checkpoint-every needs --checkpoint <file>");
  if (threads.getNumOccurrences() && threads < 1)
    return fail("--threads must be at least 1");
  if (traceSteps < 1)
    return fail("--trace-steps must be at least 1");
  if (traceSteps.getNumOccurrences() && tracePath.empty())
    return fail("--trace-steps needs --trace <file>");

  llvm::Expected<plan::Plan> plan = runtime::readPlanFile(planPath);
  if (!plan)
    return fail(plan.takeError());
  int64_t lastStep =
      steps.getNumOccurrences() ? steps.getValue() : plan->default_steps();
  if (lastStep <= 0)
    return fail(steps.getNumOccurrences()
                    ? "--steps must be positive"
                    : "plan file '" + planPath +
                          "' sets no default step count; pass --steps N");

  // The seed: given, else the resumed run's (so that its synthetic data
  // continues), else the plan's.
  uint64_t runSeed = plan->seed();
  if (seed.getNumOccurrences()) {
    runSeed = seed;
  } else if (!resumePath.empty()) {
    llvm::Expected<runtime::Checkpoint> checkpoint =
        runtime::Checkpoint::open(resumePath);
    if (!checkpoint)
      return fail(checkpoint.takeError());
    if (checkpoint->metadata().get(exec::kSeedKey)) {
      llvm::Expected<uint64_t> saved =
          checkpoint->metadata().getUInt(exec::kSeedKey);
      if (!saved)
        return fail(saved.takeError());
      runSeed = *saved;
    }
  }

  exec::ExecutorOptions executorOptions;
  executorOptions.seed = runSeed;
  if (deviceName != "cpu" && deviceName != "cuda" && deviceName != "auto")
    return fail("--device must be cpu, cuda or auto, not '" + deviceName + "'");
#ifdef STRATA_HAVE_CUDA
  if (deviceName == "cuda" ||
      (deviceName == "auto" && cuda::cudaDeviceAvailable())) {
    cuda::CudaDeviceOptions cudaOptions;
    cudaOptions.graphs = cudaGraphs;
    llvm::Expected<std::shared_ptr<exec::Device>> device =
        cuda::createCudaDevice(cudaOptions);
    if (!device)
      return fail("--device cuda: " + llvm::toString(device.takeError()));
    executorOptions.device = std::move(*device);
  }
#else
  if (deviceName == "cuda")
    return fail("--device cuda: this strata-run was built without the CUDA "
                "backend (no nvcc at build time); use --device cpu");
#endif
  executorOptions.numThreads =
      threads.getNumOccurrences()
          ? threads.getValue()
          : std::max(1, int(std::thread::hardware_concurrency()));
  llvm::Expected<std::unique_ptr<exec::Executor>> executor =
      exec::Executor::create(std::move(*plan), "plan file '" + planPath + "'",
                             executorOptions);
  if (!executor)
    return fail(executor.takeError());
  const plan::Plan &thePlan = (*executor)->plan();

  // Training data.
  std::unique_ptr<runtime::TokenSource> data;
  if (!dataPath.empty()) {
    llvm::Expected<std::unique_ptr<runtime::TokenFile>> file =
        runtime::TokenFile::open(dataPath);
    if (!file)
      return fail(file.takeError());
    data = std::move(*file);
  } else if (!textPath.empty()) {
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> text =
        llvm::MemoryBuffer::getFile(textPath, /*IsText=*/false,
                                    /*RequiresNullTerminator=*/false);
    if (!text)
      return fail("cannot read text file '" + textPath +
                  "': " + text.getError().message());
    data = std::make_unique<runtime::TokenBuffer>(
        textPath, runtime::bytes::encode((*text)->getBuffer()));
  }

  std::vector<DumpedTensor> dumped;
  exec::TrainerOptions trainerOptions;
  trainerOptions.seed = runSeed;
  trainerOptions.data = data.get();
  trainerOptions.checkpointPath = checkpointPath;
  trainerOptions.checkpointEvery = checkpointEvery;
  if (!dumpBatchesPath.empty())
    trainerOptions.onInput = [&](int64_t step, int micro,
                                 const plan::Buffer &input,
                                 llvm::ArrayRef<uint8_t> bytes) {
      dumped.push_back({std::to_string(step) + "." + std::to_string(micro) +
                            "." + input.name(),
                        checkpointDType(input.dtype()),
                        {input.shape().begin(), input.shape().end()},
                        {bytes.begin(), bytes.end()}});
    };
  llvm::Expected<std::unique_ptr<exec::Trainer>> trainer =
      exec::Trainer::create(**executor, std::move(trainerOptions));
  if (!trainer)
    return fail(trainer.takeError());

  if (!saveInitPath.empty()) {
    std::vector<DumpedTensor> params;
    for (const plan::Buffer &buffer : thePlan.buffers())
      if (buffer.role() == plan::PARAM) {
        llvm::ArrayRef<uint8_t> bytes =
            static_cast<const exec::Executor &>(**executor).bytes(buffer);
        params.push_back({buffer.name(),
                          checkpointDType(buffer.dtype()),
                          {buffer.shape().begin(), buffer.shape().end()},
                          {bytes.begin(), bytes.end()}});
      }
    if (llvm::Error err = writeTensors(saveInitPath, params))
      return fail(std::move(err));
  }
  if (!resumePath.empty())
    if (llvm::Error err = (*trainer)->resume(resumePath))
      return fail(std::move(err));

  std::optional<llvm::raw_fd_ostream> csv;
  if (!csvPath.empty()) {
    std::error_code ec;
    csv.emplace(csvPath, ec, llvm::sys::fs::OF_Text);
    if (ec)
      return fail("cannot write '" + csvPath + "': " + ec.message());
    *csv << "step,loss,lr,tokens_per_s,elapsed_s\n";
  }

  exec::Executor &exe = **executor;
  std::string memory = formatBytes(thePlan.arena_bytes() +
                                   exe.persistentBytes() + exe.inputBytes());
  int64_t firstStep = (*trainer)->stepsDone() + 1;
  llvm::raw_ostream &out = llvm::outs();
  bool terminal = out.is_displayed();
  std::string where = exe.device() ? exe.device()->description() : "cpu";
  out << "strata-run: model '" << thePlan.model() << "' on " << where
      << ", memory " << memory << " (arena "
      << formatBytes(thePlan.arena_bytes()) << ", persistent "
      << formatBytes(exe.persistentBytes()) << "), seed " << runSeed
      << ", steps " << firstStep << ".." << lastStep << "\n";
  if (exe.device())
    out << "strata-run: " << formatBytes(exe.device()->allocatedBytes())
        << " of device memory allocated (" << exe.device()->allocatedBytes()
        << " bytes)\n";
  if (firstStep > lastStep) {
    out << "nothing to do: the run is at step " << (firstStep - 1)
        << ", --steps is " << lastStep << "\n";
    return 0;
  }
  // The trace skips the run's first step, which pays for first touches of
  // the arena and the kernels' thread start-up, unless it is the only one.
  std::optional<exec::TraceRecorder> trace;
  if (!tracePath.empty()) {
    exec::TraceOptions traceOptions;
    traceOptions.firstStep = firstStep + (lastStep > firstStep ? 1 : 0);
    traceOptions.lastStep =
        std::min(lastStep, traceOptions.firstStep + traceSteps - 1);
    trace.emplace(traceOptions);
    exe.setTrace(&*trace);
  }
  int64_t interval =
      logEvery > 0 ? logEvery.getValue()
                   : std::max<int64_t>(1, (lastStep - firstStep + 20) / 20);
  uint64_t tokensPerStep = (*trainer)->tokensPerStep();
  auto start = std::chrono::steady_clock::now();
  double lastLoss = 0;
  // A terminal line is redrawn at most ten times a second.
  double lastDrawn = -1;

  llvm::Error trained =
      (*trainer)->train(lastStep, [&](const exec::StepResult &result) {
        double elapsed = std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - start)
                             .count();
        int64_t done = result.step - firstStep + 1;
        double throughput =
            elapsed > 0 ? double(tokensPerStep * done) / elapsed : 0;
        double eta = elapsed / double(done) * double(lastStep - result.step);
        lastLoss = result.loss;
        if (csv) {
          *csv << result.step << "," << llvm::format("%.6f", result.loss)
               << ",";
          if (result.learningRate)
            *csv << llvm::format("%.6g", *result.learningRate);
          *csv << "," << llvm::format("%.1f", throughput) << ","
               << llvm::format("%.6f", elapsed) << "\n";
        }
        std::string line;
        llvm::raw_string_ostream os(line);
        os << "step " << result.step << "/" << lastStep << "  loss "
           << llvm::format("%.4f", result.loss);
        if (result.learningRate)
          os << "  lr " << llvm::format("%.2e", *result.learningRate);
        if (tokensPerStep)
          os << "  " << llvm::format("%.0f", throughput) << " tok/s";
        else
          os << "  " << llvm::format("%.2f", elapsed > 0 ? done / elapsed : 0.0)
             << " steps/s";
        os << "  mem " << memory;
        bool last = result.step == lastStep;
        if (terminal) {
          if (!last && lastDrawn >= 0 && elapsed - lastDrawn < 0.1)
            return;
          lastDrawn = elapsed;
          os << "  eta " << formatDuration(eta);
          out << "\r" << line << "\x1b[K";
          if (last)
            out << "\n";
          out.flush();
        } else if (last || done == 1 || result.step % interval == 0) {
          os << "  elapsed " << formatDuration(elapsed);
          out << line << "\n";
          out.flush();
        }
      });
  if (terminal && lastDrawn >= 0 && trained)
    out << "\n";

  // The batches and the trace are written even after a failure: they show
  // what the failing step saw and how far it got.
  if (!dumpBatchesPath.empty())
    if (llvm::Error err = writeTensors(dumpBatchesPath, dumped)) {
      if (trained)
        llvm::consumeError(std::move(trained));
      return fail(std::move(err));
    }
  if (trace) {
    exe.setTrace(nullptr);
    if (llvm::Error err =
            trace->write(tracePath, "strata-run '" + thePlan.model() + "'")) {
      if (trained)
        llvm::consumeError(std::move(trained));
      return fail(std::move(err));
    }
    trace->printSummary(llvm::errs());
    llvm::errs() << "trace: written to '" << tracePath << "'\n";
  }
  if (trained)
    return fail(std::move(trained));
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  out << "done: step " << lastStep << ", loss "
      << llvm::format("%.4f", lastLoss) << ", " << formatDuration(elapsed);
  if (!checkpointPath.empty())
    out << ", checkpoint '" << checkpointPath << "'";
  out << "\n";
  return 0;
}
