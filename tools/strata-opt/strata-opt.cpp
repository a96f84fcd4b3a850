//===- strata-opt.cpp - Strata's optimizer driver -------------------------===//
//
// Like mlir-opt, with Strata's dialects and passes registered. It also reads
// `.sg` model files: the model is imported into the strata.graph dialect, then
// the requested passes run on it exactly as they would on a `.mlir` file.
//
//   strata-opt model.mlir --canonicalize
//   strata-opt examples/gpt2.sg --sg-model=gpt2_tiny --mlir-print-ir-after-all
//   strata-opt bad.sg --verify-diagnostics --split-input-file
//
//===----------------------------------------------------------------------===//

#include "strata/Autodiff/Passes.h"
#include "strata/Dialect/Exec/IR/ExecDialect.h"
#include "strata/Dialect/Graph/IR/GraphDialect.h"
#include "strata/Frontend/Import.h"
#include "strata/Fusion/Passes.h"
#include "strata/Lowering/Passes.h"
#include "strata/Precision/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Shard/IR/ShardDialect.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/ToolUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;

namespace {

/// Splits each `--sg-arg name=value` into its two halves.
FailureOr<std::vector<std::pair<std::string, std::string>>>
parseSgArgs(llvm::ArrayRef<std::string> args) {
  std::vector<std::pair<std::string, std::string>> result;
  for (const std::string &arg : args) {
    auto [name, value] = llvm::StringRef(arg).split('=');
    if (name.empty() || value.empty() || !llvm::StringRef(arg).contains('=')) {
      llvm::errs() << "strata-opt: --sg-arg expects name=value, got '" << arg
                   << "'\n";
      return failure();
    }
    result.emplace_back(name.trim().str(), value.trim().str());
  }
  return result;
}

/// Imports one chunk of a `.sg` file and runs the configured pass pipeline on
/// it, the way MlirOptMain does for `.mlir` input. Diagnostics point into the
/// `.sg` text, so `--verify-diagnostics` reads `expected-error` comments from
/// the model file itself.
LogicalResult processSgChunk(std::unique_ptr<llvm::MemoryBuffer> chunk,
                             llvm::raw_ostream &os, DialectRegistry &registry,
                             const MlirOptMainConfig &config,
                             const strata::sg::ImportOptions &importOptions) {
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  context.allowUnregisteredDialects(config.shouldAllowUnregisteredDialects());

  llvm::SourceMgr sourceMgr;
  unsigned bufferId = sourceMgr.AddNewSourceBuffer(std::move(chunk), SMLoc());

  auto importAndRun = [&]() -> LogicalResult {
    OwningOpRef<ModuleOp> module =
        strata::sg::importModel(sourceMgr, bufferId, &context, importOptions);
    if (!module)
      return failure();
    PassManager pm(module.get()->getName(), PassManager::Nesting::Implicit);
    pm.enableVerifier(config.shouldVerifyPasses());
    if (failed(applyPassManagerCLOptions(pm)) ||
        failed(config.setupPassPipeline(pm)) || failed(pm.run(*module)))
      return failure();
    module->print(os, OpPrintingFlags());
    os << '\n';
    return success();
  };

  if (!config.shouldVerifyDiagnostics()) {
    SourceMgrDiagnosticHandler handler(sourceMgr, &context);
    return importAndRun();
  }
  SourceMgrDiagnosticVerifierHandler handler(sourceMgr, &context,
                                             config.verifyDiagnosticsLevel());
  (void)importAndRun();
  return handler.verify();
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);

  DialectRegistry registry;
  registry.insert<strata::graph::GraphDialect, func::FuncDialect,
                  shard::ShardDialect>();
  registry.insert<strata::exec::ExecDialect>();
  registerTransformsPasses();
  strata::lowering::registerLoweringPasses();
  strata::autodiff::registerAutodiffPasses();
  strata::fusion::registerFusionPasses();
  strata::precision::registerPrecisionPasses();

  llvm::cl::OptionCategory sgCategory("Options for .sg model files");
  llvm::cl::opt<std::string> sgModel(
      "sg-model", llvm::cl::desc("Model of the .sg file to import"),
      llvm::cl::value_desc("name"), llvm::cl::cat(sgCategory));
  llvm::cl::list<std::string> sgArgs(
      "sg-arg",
      llvm::cl::desc("Bind or override a named argument of the model "
                     "(repeatable): --sg-arg B=16"),
      llvm::cl::value_desc("name=value"), llvm::cl::cat(sgCategory));

  auto [inputFilename, outputFilename] = registerAndParseCLIOptions(
      argc, argv, "Strata optimizer driver\n", registry);

  if (!llvm::StringRef(inputFilename).ends_with(".sg"))
    return asMainReturnCode(
        MlirOptMain(argc, argv, inputFilename, outputFilename, registry));

  // Const: MlirOptMainConfig's setters share names with its getters.
  const MlirOptMainConfig config = MlirOptMainConfig::createFromCLOptions();
  auto overrides = parseSgArgs(sgArgs);
  if (failed(overrides))
    return EXIT_FAILURE;
  strata::sg::ImportOptions importOptions{sgModel, *overrides};

  std::string errorMessage;
  std::unique_ptr<llvm::MemoryBuffer> input =
      openInputFile(inputFilename, &errorMessage);
  if (!input) {
    llvm::errs() << "strata-opt: " << errorMessage << "\n";
    return EXIT_FAILURE;
  }
  std::unique_ptr<llvm::ToolOutputFile> output =
      openOutputFile(outputFilename, &errorMessage);
  if (!output) {
    llvm::errs() << "strata-opt: " << errorMessage << "\n";
    return EXIT_FAILURE;
  }

  auto processChunk = [&](std::unique_ptr<llvm::MemoryBuffer> chunk,
                          llvm::raw_ostream &os) {
    return processSgChunk(std::move(chunk), os, registry, config,
                          importOptions);
  };
  if (failed(splitAndProcessBuffer(std::move(input), processChunk, output->os(),
                                   config.inputSplitMarker(),
                                   config.outputSplitMarker())))
    return EXIT_FAILURE;
  output->keep();
  return EXIT_SUCCESS;
}
