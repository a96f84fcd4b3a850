//===- strata-compile.cpp - Compile a .sg model into a training plan ------===//
//
// Imports one model of a `.sg` file, derives its training step and lowers it
// to a plan that strata-run executes:
//
//   .sg --import--> strata-autodiff{optimizer options}
//       --> strata-lower-to-exec --> strata-fuse --> strata-memory-plan
//       --> CUDA C++ of the elementwise groups (NVRTC: cubin) --> exportPlan
//       --> plan file (writePlanFile: atomic, so a failed run writes nothing)
//
//   strata-compile examples/gpt2.sg --model gpt2_tiny -o gpt2.plan
//   strata-compile examples/mlp.sg --model mnist_mlp --optimizer sgd \
//       --lr 0.05 --momentum 0.9 -o mlp.plan
//   strata-compile examples/gpt2.sg --model gpt2_tiny --eval-only --print-ir
//
// The passes are named in a textual pipeline, so this tool depends only on
// their names and options (docs/strata-compile.md lists them). A summary of
// the plan (parameters, buffers, kernels, memory) goes to stderr.
//
//===----------------------------------------------------------------------===//

#include "strata/Autodiff/Passes.h"
#include "strata/Dialect/Graph/IR/GraphDialect.h"
#include "strata/Frontend/Import.h"
#include "strata/Fusion/CompileCuda.h"
#include "strata/Fusion/EmitCuda.h"
#include "strata/Fusion/Passes.h"
#include "strata/Lowering/ExportPlan.h"
#include "strata/Lowering/Passes.h"
#include "strata/Precision/Passes.h"
#include "strata/Runtime/PlanFile.h"

#include "plan.pb.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>

using namespace mlir;
using namespace strata;

namespace {

namespace cl = llvm::cl;

/// The command line. Built once in main, so that the options are not globals.
struct CommandLine {
  cl::OptionCategory modelCategory{"Model"};
  cl::OptionCategory optimizerCategory{"Optimizer (not with --eval-only)"};
  cl::OptionCategory outputCategory{"Output"};

  cl::opt<std::string> inputFilename{cl::Positional, cl::desc("<model.sg>"),
                                     cl::Required, cl::cat(modelCategory)};
  cl::opt<std::string> modelName{
      "model",
      cl::desc("Model of the .sg file to compile (may be omitted when "
               "the file defines exactly one)"),
      cl::value_desc("name"), cl::cat(modelCategory)};
  cl::list<std::string> modelArgs{
      "arg",
      cl::desc("Bind or override a named argument of the model "
               "(repeatable): --arg B=16"),
      cl::value_desc("name=value"), cl::cat(modelCategory)};
  cl::opt<bool> evalOnly{
      "eval-only",
      cl::desc("Compile only the forward pass (no gradients, "
               "no optimizer)"),
      cl::cat(modelCategory)};
  cl::opt<std::string> precision{
      "precision", cl::value_desc("bf16|f32"),
      cl::desc("f32 (default), or bf16 mixed precision (strata-autocast): "
               "bf16 matmuls and attention, f32 weights and optimizer"),
      cl::init("f32"), cl::cat(modelCategory)};

  cl::opt<std::string> optimizer{"optimizer", cl::value_desc("adamw|sgd"),
                                 cl::desc("adamw (default) or sgd"),
                                 cl::init("adamw"), cl::cat(optimizerCategory)};
  cl::opt<double> lr{"lr", cl::value_desc("x"),
                     cl::desc("Peak learning rate (default 1e-3)"),
                     cl::init(1e-3), cl::cat(optimizerCategory)};
  cl::opt<double> beta1{"beta1", cl::value_desc("x"),
                        cl::desc("AdamW beta1 (default 0.9)"), cl::init(0.9),
                        cl::cat(optimizerCategory)};
  cl::opt<double> beta2{"beta2", cl::value_desc("x"),
                        cl::desc("AdamW beta2 (default 0.999)"),
                        cl::init(0.999), cl::cat(optimizerCategory)};
  cl::opt<double> epsilon{"epsilon", cl::value_desc("x"),
                          cl::desc("AdamW epsilon (default 1e-8)"),
                          cl::init(1e-8), cl::cat(optimizerCategory)};
  cl::opt<double> weightDecay{
      "weight-decay", cl::value_desc("x"),
      cl::desc("Weight decay of parameters of rank >= 2 (default 0)"),
      cl::init(0.0), cl::cat(optimizerCategory)};
  cl::opt<double> momentum{"momentum", cl::value_desc("x"),
                           cl::desc("SGD momentum (default 0)"), cl::init(0.0),
                           cl::cat(optimizerCategory)};
  cl::opt<double> clipNorm{
      "clip-norm", cl::value_desc("x"),
      cl::desc("Clip the global gradient norm to this value "
               "(default 0: no clipping)"),
      cl::init(0.0), cl::cat(optimizerCategory)};
  cl::opt<std::string> schedule{"schedule", cl::value_desc("constant|cosine"),
                                cl::desc("Learning-rate schedule: constant "
                                         "(default) or cosine"),
                                cl::init("constant"),
                                cl::cat(optimizerCategory)};
  cl::opt<int64_t> warmupSteps{"warmup-steps", cl::value_desc("N"),
                               cl::desc("Steps of linear warmup (default 0)"),
                               cl::init(0), cl::cat(optimizerCategory)};
  cl::opt<int64_t> totalSteps{"total-steps", cl::value_desc("N"),
                              cl::desc("Step where the cosine schedule reaches "
                                       "--min-lr (required by cosine)"),
                              cl::init(0), cl::cat(optimizerCategory)};
  cl::opt<double> minLr{"min-lr", cl::value_desc("x"),
                        cl::desc("Final learning rate of the cosine schedule "
                                 "(default 0)"),
                        cl::init(0.0), cl::cat(optimizerCategory)};
  cl::opt<int64_t> accumulate{"accumulate", cl::value_desc("N"),
                              cl::desc("Micro-batches per optimizer step "
                                       "(default 1)"),
                              cl::init(1), cl::cat(optimizerCategory)};

  cl::opt<int64_t> steps{"steps", cl::value_desc("N"),
                         cl::desc("Steps strata-run takes by default (default: "
                                  "--total-steps if given, else 100)"),
                         cl::init(0), cl::cat(outputCategory)};
  cl::opt<uint64_t> seed{
      "seed", cl::value_desc("S"),
      cl::desc("Seed strata-run uses by default (default 0)"), cl::init(0),
      cl::cat(outputCategory)};
  cl::opt<bool> noFuse{
      "no-fuse",
      cl::desc("Do not group kernels (strata-fuse): every kernel runs alone "
               "and the plan carries no CUDA code"),
      cl::cat(outputCategory)};
  cl::opt<bool> printIR{"print-ir",
                        cl::desc("Print the final IR (exec dialect) to stdout"),
                        cl::cat(outputCategory)};
  cl::opt<std::string> cudaSource{
      "cuda-source",
      cl::desc("Also write the emitted CUDA C++ of the fused kernels (the "
               "source the plan's cubin was compiled from) to this file"),
      cl::value_desc("file.cu"), cl::cat(outputCategory)};
  cl::opt<std::string> outputFilename{"o", cl::desc("Plan file to write"),
                                      cl::value_desc("model.plan"),
                                      cl::cat(outputCategory)};
};

int failWith(const llvm::Twine &message) {
  llvm::errs() << "strata-compile: " << message << "\n";
  return EXIT_FAILURE;
}

/// The shortest text of `value` that parses back to the same double, so that
/// pass options carry the values exactly and messages stay readable.
std::string formatDouble(double value) {
  char text[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(text, sizeof(text), "%.*g", precision, value);
    if (std::strtod(text, nullptr) == value)
      break;
  }
  return text;
}

/// Checks the option values a user can get wrong; returns the first problem.
std::optional<std::string> validateOptions(const CommandLine &o) {
  auto given = [](const cl::Option &option) {
    return option.getNumOccurrences() > 0;
  };
  auto flag = [](const cl::Option &option) {
    return "--" + option.ArgStr.str();
  };
  auto finite = [](double x) { return std::isfinite(x); };

  if (given(o.steps) && o.steps < 1)
    return "--steps must be at least 1, got " + std::to_string(o.steps);
  if (o.precision != "f32" && o.precision != "bf16")
    return "--precision must be 'bf16' or 'f32', got '" + o.precision + "'";
  const cl::Option *trainingOptions[] = {
      &o.optimizer,   &o.lr,       &o.beta1,     &o.beta2,    &o.epsilon,
      &o.weightDecay, &o.momentum, &o.clipNorm,  &o.schedule, &o.warmupSteps,
      &o.totalSteps,  &o.minLr,    &o.accumulate};
  if (o.evalOnly) {
    for (const cl::Option *option : trainingOptions)
      if (given(*option))
        return flag(*option) +
               " is an optimizer option; it does not apply with --eval-only";
    return std::nullopt;
  }

  if (o.optimizer != "adamw" && o.optimizer != "sgd")
    return "--optimizer must be 'adamw' or 'sgd', got '" + o.optimizer + "'";
  bool adamw = o.optimizer == "adamw";
  const cl::Option *adamwOptions[] = {&o.beta1, &o.beta2, &o.epsilon};
  for (const cl::Option *option : adamwOptions)
    if (!adamw && given(*option))
      return flag(*option) + " applies only to --optimizer adamw";
  if (adamw && given(o.momentum))
    return std::string("--momentum applies only to --optimizer sgd");

  if (!finite(o.lr) || o.lr <= 0)
    return "--lr must be a positive number, got " + formatDouble(o.lr);
  if (!finite(o.beta1) || o.beta1 < 0 || o.beta1 >= 1)
    return "--beta1 must lie in [0, 1), got " + formatDouble(o.beta1);
  if (!finite(o.beta2) || o.beta2 < 0 || o.beta2 >= 1)
    return "--beta2 must lie in [0, 1), got " + formatDouble(o.beta2);
  if (!finite(o.epsilon) || o.epsilon <= 0)
    return "--epsilon must be a positive number, got " +
           formatDouble(o.epsilon);
  if (!finite(o.weightDecay) || o.weightDecay < 0)
    return "--weight-decay must be >= 0, got " + formatDouble(o.weightDecay);
  if (!finite(o.momentum) || o.momentum < 0 || o.momentum >= 1)
    return "--momentum must lie in [0, 1), got " + formatDouble(o.momentum);
  if (!finite(o.clipNorm) || o.clipNorm < 0)
    return "--clip-norm must be >= 0 (0 turns clipping off), got " +
           formatDouble(o.clipNorm);
  if (o.accumulate < 1)
    return "--accumulate must be at least 1, got " +
           std::to_string(o.accumulate);

  if (o.schedule != "constant" && o.schedule != "cosine")
    return "--schedule must be 'constant' or 'cosine', got '" + o.schedule +
           "'";
  if (o.warmupSteps < 0)
    return "--warmup-steps must be >= 0, got " + std::to_string(o.warmupSteps);
  if (o.totalSteps < 0)
    return "--total-steps must be >= 0, got " + std::to_string(o.totalSteps);
  if (o.schedule == "cosine") {
    if (o.totalSteps <= o.warmupSteps)
      return "--schedule cosine needs --total-steps greater than "
             "--warmup-steps (" +
             std::to_string(o.warmupSteps) + "), got " +
             std::to_string(o.totalSteps);
    if (!finite(o.minLr) || o.minLr < 0 || o.minLr > o.lr)
      return "--min-lr must lie in [0, --lr], got " + formatDouble(o.minLr);
    return std::nullopt;
  }
  const cl::Option *cosineOptions[] = {&o.totalSteps, &o.minLr};
  for (const cl::Option *option : cosineOptions)
    if (given(*option))
      return flag(*option) + " applies only to --schedule cosine";
  return std::nullopt;
}

/// The textual pass pipeline on the module (docs/strata-compile.md).
std::string buildPipeline(const CommandLine &o) {
  std::string lowering = o.noFuse ? "strata-lower-to-exec,strata-memory-plan"
                                  : "strata-lower-to-exec,strata-fuse,"
                                    "strata-memory-plan";
  // strata-autocast rewrites the forward graph, before autodiff sees it.
  std::string autocast =
      o.precision == "bf16" ? "strata-autocast{precision=bf16}," : "";
  if (o.evalOnly)
    return autocast + lowering;
  std::string options;
  llvm::raw_string_ostream os(options);
  os << "optimizer=" << o.optimizer << " lr=" << formatDouble(o.lr);
  if (o.optimizer == "adamw")
    os << " beta1=" << formatDouble(o.beta1)
       << " beta2=" << formatDouble(o.beta2)
       << " epsilon=" << formatDouble(o.epsilon);
  else
    os << " momentum=" << formatDouble(o.momentum);
  os << " weight-decay=" << formatDouble(o.weightDecay)
     << " clip-norm=" << formatDouble(o.clipNorm) << " schedule=" << o.schedule
     << " warmup-steps=" << o.warmupSteps << " total-steps=" << o.totalSteps
     << " min-lr=" << formatDouble(o.minLr) << " accumulate=" << o.accumulate;
  return autocast + "strata-autodiff{" + options + "}," + lowering;
}

/// `bytes` in the largest binary unit that keeps the number >= 1.
std::string formatBytes(uint64_t bytes) {
  if (bytes < 1024)
    return std::to_string(bytes) + " B";
  const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  return llvm::formatv("{0:F2} {1}", value, units[unit]).str();
}

/// The summary strata-compile prints on stderr.
void printSummary(const plan::Plan &plan, llvm::raw_ostream &os) {
  int64_t numParams = 0, paramValues = 0, numStates = 0, numInputs = 0,
          numTemps = 0, numLocals = 0;
  for (const plan::Buffer &buffer : plan.buffers()) {
    switch (buffer.role()) {
    case plan::PARAM: {
      ++numParams;
      int64_t values = 1;
      for (int64_t dim : buffer.shape())
        values *= dim;
      paramValues += values;
      break;
    }
    case plan::STATE:
      ++numStates;
      break;
    case plan::INPUT:
      ++numInputs;
      break;
    case plan::LOCAL:
      ++numLocals;
      break;
    default:
      ++numTemps;
      break;
    }
  }
  os << "strata-compile: " << plan.model() << ": " << numParams
     << " parameters (" << paramValues << " values), " << plan.buffers_size()
     << " buffers (" << numStates << " state, " << numInputs << " input, "
     << numTemps << " temporary, " << numLocals << " local)\n";
  const plan::Optimizer &opt = plan.optimizer();
  if (opt.kind().empty())
    os << "  evaluation only\n";
  else
    os << "  " << opt.kind() << ", lr " << formatDouble(opt.lr()) << " ("
       << opt.schedule() << "), accumulate " << plan.accumulate()
       << ", default steps " << plan.default_steps() << "\n";
  for (const plan::Program *program :
       {&plan.forward(), &plan.grad(), &plan.apply()}) {
    if (program->kernels_size() == 0)
      continue;
    os << "  " << program->name() << ": " << program->kernels_size()
       << " kernels, arena " << formatBytes(program->arena_bytes())
       << " planned, " << formatBytes(program->lower_bound_bytes())
       << " lower bound, " << formatBytes(program->naive_bytes()) << " naive\n";
  }
  llvm::StringMap<unsigned> groups;
  std::set<std::string> functions;
  for (const plan::Program *program :
       {&plan.forward(), &plan.grad(), &plan.apply()})
    for (const plan::Kernel &kernel : program->kernels())
      if (kernel.op() == "fused") {
        auto kind = kernel.attrs().find("kind");
        ++groups[kind == kernel.attrs().end() ? "?" : kind->second.s()];
        if (auto function = kernel.attrs().find("function");
            function != kernel.attrs().end())
          functions.insert(function->second.s());
      }
  if (!groups.empty()) {
    os << "  fused:";
    std::vector<std::string> kinds;
    for (const auto &entry : groups)
      kinds.push_back(entry.getKey().str());
    llvm::sort(kinds);
    for (const std::string &kind : kinds)
      os << " " << groups[kind] << " " << kind << ",";
    os << " " << functions.size() << " CUDA functions, ";
    if (!plan.has_cuda())
      os << "no CUDA code\n";
    else if (plan.cuda().cubin().empty())
      os << "source only (no NVRTC in this build)\n";
    else
      os << formatBytes(plan.cuda().cubin().size()) << " cubin ("
         << plan.cuda().compiler() << ", " << plan.cuda().arch() << ")\n";
  }
  os << "  persistent " << formatBytes(plan.persistent_bytes()) << ", inputs "
     << formatBytes(plan.input_bytes()) << ", arena "
     << formatBytes(plan.arena_bytes()) << "\n";
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  registerPassManagerCLOptions();
  autodiff::registerAutodiffPasses();
  lowering::registerLoweringPasses();
  precision::registerPrecisionPasses();
  fusion::registerFusionPasses();
  CommandLine options;
  // libLLVM registers hundreds of codegen options; --help shows ours. The
  // MLIR pass-manager flags still work (docs/strata-compile.md).
  cl::HideUnrelatedOptions({&options.modelCategory, &options.optimizerCategory,
                            &options.outputCategory});
  cl::ParseCommandLineOptions(
      argc, argv, "Compile a Strata .sg model into a training plan\n");

  if (options.outputFilename.empty() && !options.printIR &&
      options.cudaSource.empty())
    return failWith("no output: pass -o model.plan (or --print-ir)");
  if (std::optional<std::string> problem = validateOptions(options))
    return failWith(*problem);

  sg::ImportOptions importOptions;
  importOptions.modelName = options.modelName;
  for (const std::string &arg : options.modelArgs) {
    auto [name, value] = llvm::StringRef(arg).split('=');
    if (name.trim().empty() || value.trim().empty() ||
        !llvm::StringRef(arg).contains('='))
      return failWith("--arg expects name=value, got '" + arg + "'");
    importOptions.argOverrides.emplace_back(name.trim().str(),
                                            value.trim().str());
  }

  auto input = llvm::MemoryBuffer::getFile(options.inputFilename);
  if (!input)
    return failWith("cannot open input file '" + options.inputFilename +
                    "': " + input.getError().message());

  DialectRegistry registry;
  registry.insert<graph::GraphDialect, func::FuncDialect>();
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  // A diagnostic points into the model source; a dump of the whole module
  // after it would bury it (--print-ir shows the IR when wanted).
  context.printOpOnDiagnostic(false);
  llvm::SourceMgr sourceMgr;
  unsigned bufferId = sourceMgr.AddNewSourceBuffer(std::move(*input), SMLoc());
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);

  OwningOpRef<ModuleOp> module =
      sg::importModel(sourceMgr, bufferId, &context, importOptions);
  if (!module)
    return EXIT_FAILURE;

  PassManager pm(&context, ModuleOp::getOperationName());
  if (failed(applyPassManagerCLOptions(pm)))
    return EXIT_FAILURE;
  std::string pipeline = buildPipeline(options);
  std::string pipelineError;
  llvm::raw_string_ostream pipelineErrorStream(pipelineError);
  if (failed(parsePassPipeline(pipeline, pm, pipelineErrorStream)))
    return failWith("cannot build the pass pipeline '" + pipeline +
                    "': " + pipelineError);
  if (failed(pm.run(*module)))
    return EXIT_FAILURE;

  // The elementwise groups' CUDA C++, named in the IR before it is printed,
  // and its cubin when this build has NVRTC.
  std::optional<plan::DeviceCode> cuda;
  FailureOr<fusion::CudaSource> source = fusion::emitCudaKernels(*module);
  if (failed(source))
    return EXIT_FAILURE;
  if (source->numFunctions > 0) {
    cuda.emplace();
    cuda->set_arch(fusion::kCudaArch.str());
    cuda->set_source(source->source);
    if (fusion::haveNvrtc()) {
      llvm::Expected<fusion::CudaBinary> binary =
          fusion::compileCuda(source->source);
      if (!binary)
        return failWith("cannot compile the emitted CUDA kernels: " +
                        llvm::toString(binary.takeError()));
      cuda->set_cubin(std::move(binary->cubin));
      cuda->set_compiler(binary->compiler);
    }
  }

  if (options.printIR) {
    module->print(llvm::outs());
    llvm::outs() << "\n";
  }

  llvm::Expected<plan::Plan> plan =
      lowering::exportPlan(*module, cuda ? &*cuda : nullptr);
  if (!plan)
    return failWith(llvm::toString(plan.takeError()));
  int64_t defaultSteps = options.steps;
  if (!options.steps.getNumOccurrences())
    defaultSteps = !options.evalOnly && options.totalSteps > 0
                       ? options.totalSteps.getValue()
                       : 100;
  plan->set_default_steps(defaultSteps);
  plan->set_seed(options.seed);

  if (!options.outputFilename.empty())
    if (llvm::Error err = runtime::writePlanFile(options.outputFilename, *plan))
      return failWith(llvm::toString(std::move(err)));
  if (!options.cudaSource.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream os(options.cudaSource, ec);
    if (ec)
      return failWith("cannot write '" + options.cudaSource +
                      "': " + ec.message());
    os << plan->cuda().source();
  }
  printSummary(*plan, llvm::errs());
  return EXIT_SUCCESS;
}
