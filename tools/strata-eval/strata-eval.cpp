//===- strata-eval.cpp - Evaluate a model with the reference interpreter --===//
//
// Imports a model (a .sg file, or a .mlir file holding a `graph.model`
// function), initializes its parameters, builds its inputs and prints the
// loss that the reference interpreter computes:
//
//   strata-eval examples/gpt2.sg --sg-model=gpt2_tiny
//   strata-eval examples/gpt2.sg --sg-model=gpt2_tiny --data tokens.bin
//   strata-eval model.mlir --seed 3
//
// Integer inputs come from --data (cut into batches by the runtime's
// BatchLoader: the input named `targets` gets the targets, the others the
// inputs) or, without it, from the synthetic token stream, with the vocabulary
// read off the model (a gather table's rows or the logits' last dimension).
// Float inputs are seeded standard normals.
//
//===----------------------------------------------------------------------===//

#include "strata/Dialect/Graph/IR/GraphDialect.h"
#include "strata/Dialect/Graph/IR/GraphOps.h"
#include "strata/Frontend/Import.h"
#include "strata/Interp/GraphInterpreter.h"
#include "strata/Runtime/Data.h"
#include "strata/Runtime/Init.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <optional>

using namespace mlir;
using namespace strata;

namespace {

int failWith(const llvm::Twine &message) {
  llvm::errs() << "strata-eval: " << message << "\n";
  return EXIT_FAILURE;
}

/// The vocabulary an integer value indexes: the rows of a gather table it
/// indexes or the classes of the cross_entropy it is the target of, looking
/// through ops that only move the ids around.
std::optional<int64_t> inferVocab(Value value) {
  std::optional<int64_t> vocab;
  auto merge = [&](int64_t v) {
    if (!ShapedType::isDynamic(v))
      vocab = vocab ? std::min(*vocab, v) : v;
  };
  for (OpOperand &use : value.getUses()) {
    Operation *user = use.getOwner();
    if (auto gather = dyn_cast<graph::GatherOp>(user)) {
      if (use.getOperandNumber() == 1)
        merge(
            cast<RankedTensorType>(gather.getTable().getType()).getDimSize(0));
    } else if (auto ce = dyn_cast<graph::CrossEntropyOp>(user)) {
      if (use.getOperandNumber() == 1) {
        auto logits = cast<RankedTensorType>(ce.getLogits().getType());
        merge(logits.getDimSize(logits.getRank() - 1));
      }
    } else if (auto oneHot = dyn_cast<graph::OneHotOp>(user)) {
      merge(oneHot.getNumClasses());
    } else if (isa<graph::ReshapeOp, graph::TransposeOp, graph::SliceOp,
                   graph::ConcatOp, graph::CastOp>(user)) {
      if (auto inner = inferVocab(user->getResult(0)))
        merge(*inner);
    }
  }
  return vocab;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  llvm::cl::opt<std::string> inputFilename(
      llvm::cl::Positional, llvm::cl::desc("<model.sg | model.mlir>"),
      llvm::cl::Required);
  llvm::cl::opt<std::string> sgModel(
      "sg-model",
      llvm::cl::desc("Model to evaluate (the graph.model function "
                     "of that name in a .mlir file)"),
      llvm::cl::value_desc("name"));
  llvm::cl::list<std::string> sgArgs(
      "sg-arg",
      llvm::cl::desc("Bind or override a named argument of the model "
                     "(repeatable): --sg-arg B=16"),
      llvm::cl::value_desc("name=value"));
  llvm::cl::opt<uint64_t> seed(
      "seed", llvm::cl::desc("Seed of the parameters and synthetic inputs"),
      llvm::cl::init(0));
  llvm::cl::opt<std::string> dataPath(
      "data", llvm::cl::desc("Token file for the integer inputs"),
      llvm::cl::value_desc("tokens.bin"));
  llvm::cl::ParseCommandLineOptions(
      argc, argv, "Evaluate a Strata model with the reference interpreter\n");

  DialectRegistry registry;
  registry.insert<graph::GraphDialect, func::FuncDialect>();
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  auto input = llvm::MemoryBuffer::getFileOrSTDIN(inputFilename);
  if (!input)
    return failWith("cannot open input file '" + inputFilename +
                    "': " + input.getError().message());
  llvm::SourceMgr sourceMgr;
  unsigned bufferId = sourceMgr.AddNewSourceBuffer(std::move(*input), SMLoc());
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);

  OwningOpRef<ModuleOp> module;
  if (llvm::StringRef(inputFilename).ends_with(".sg")) {
    sg::ImportOptions options;
    options.modelName = sgModel;
    for (const std::string &arg : sgArgs) {
      auto [name, value] = llvm::StringRef(arg).split('=');
      if (name.empty() || value.empty() || !llvm::StringRef(arg).contains('='))
        return failWith("--sg-arg expects name=value, got '" + arg + "'");
      options.argOverrides.emplace_back(name.trim().str(), value.trim().str());
    }
    module = sg::importModel(sourceMgr, bufferId, &context, options);
  } else {
    if (!sgArgs.empty())
      return failWith("--sg-arg applies only to .sg files");
    module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  }
  if (!module)
    return EXIT_FAILURE;

  func::FuncOp model;
  for (auto func : module->getOps<func::FuncOp>()) {
    if (!func->hasAttr(graph::GraphDialect::kModelAttrName))
      continue;
    if (!sgModel.empty() && !llvm::StringRef(inputFilename).ends_with(".sg") &&
        func.getSymName() != sgModel)
      continue;
    model = func;
    break;
  }
  if (!model)
    return failWith(sgModel.empty()
                        ? llvm::Twine("no function marked graph.model")
                        : "no graph.model function named '" + sgModel + "'");

  // Inputs.
  std::unique_ptr<runtime::TokenSource> source;
  if (!dataPath.empty()) {
    auto file = runtime::TokenFile::open(dataPath);
    if (!file)
      return failWith(llvm::toString(file.takeError()));
    source = std::move(*file);
  }
  std::optional<runtime::Batch> batch;
  llvm::SmallVector<interp::Tensor> inputs;
  for (BlockArgument arg : model.getArguments()) {
    auto nameAttr = model.getArgAttrOfType<StringAttr>(
        arg.getArgNumber(), graph::GraphDialect::kNameAttrName);
    std::string name = nameAttr ? nameAttr.getValue().str()
                                : "arg" + std::to_string(arg.getArgNumber());
    auto type = cast<RankedTensorType>(arg.getType());
    if (!type.hasStaticShape())
      return failWith("input '" + name +
                      "' has a dynamic shape; bind it with --sg-arg");
    auto dtype = interp::dtypeFromType(type.getElementType());
    if (!dtype)
      return failWith("input '" + name + "': " + toString(dtype.takeError()));
    if (interp::isFloat(*dtype)) {
      interp::Tensor t(interp::DType::F32, type.getShape());
      if (llvm::Error err = runtime::initializeParameter(
              runtime::InitKind::Normal, {0.0, 1.0}, name, seed,
              t.floats().data(), t.numElements()))
        return failWith(toString(std::move(err)));
      t.setFloatFormat(*dtype);
      inputs.push_back(std::move(t));
      continue;
    }
    // Integer inputs share one batch: [B, T] (or [N], one row).
    int64_t rows = type.getRank() >= 2 ? type.getDimSize(0) : 1;
    int64_t cols = type.getNumElements() / std::max<int64_t>(rows, 1);
    if (!batch) {
      std::optional<int64_t> vocab;
      for (BlockArgument other : model.getArguments())
        if (isa<IntegerType>(
                cast<RankedTensorType>(other.getType()).getElementType()))
          if (auto v = inferVocab(other))
            vocab = vocab ? std::min(*vocab, *v) : *v;
      if (!source) {
        if (!vocab || *vocab < 1 || *vocab > 65536)
          return failWith("cannot infer the vocabulary of input '" + name +
                          "' for synthetic tokens; pass --data");
        runtime::SyntheticTokenOptions options;
        options.seed = seed;
        options.vocabSize = static_cast<uint32_t>(*vocab);
        options.numTokens = static_cast<uint64_t>(rows * cols + 1);
        auto tokens = runtime::makeSyntheticTokens(options);
        if (!tokens)
          return failWith(toString(tokens.takeError()));
        source = std::make_unique<runtime::TokenBuffer>(std::move(*tokens));
      }
      std::optional<uint32_t> vocabLimit;
      if (vocab)
        vocabLimit = static_cast<uint32_t>(*vocab);
      auto loader =
          runtime::BatchLoader::create(*source, static_cast<uint32_t>(rows),
                                       static_cast<uint32_t>(cols), vocabLimit);
      if (!loader)
        return failWith(toString(loader.takeError()));
      batch = loader->next();
    }
    const std::vector<int32_t> &ids =
        name == "targets" ? batch->targets : batch->inputs;
    if (static_cast<int64_t>(ids.size()) != type.getNumElements())
      return failWith("integer inputs of the model have different shapes");
    llvm::SmallVector<int64_t> values(ids.begin(), ids.end());
    inputs.push_back(interp::Tensor::fromInts(type.getShape(), values, *dtype));
  }

  auto start = std::chrono::steady_clock::now();
  auto params = interp::initializeParameters(*module, seed);
  if (!params)
    return failWith(toString(params.takeError()));
  auto results = interp::evaluate(model, inputs, *params);
  if (!results) {
    llvm::errs() << toString(results.takeError()) << "\n";
    return EXIT_FAILURE;
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  const interp::Tensor &loss = results->front();
  if (!loss.isFloat() || loss.numElements() != 1)
    return failWith("the model's result is not a scalar float");
  llvm::outs() << "loss " << llvm::format("%.6f", loss.floats()[0]) << "\n";
  llvm::outs() << "time " << llvm::format("%.3f", seconds * 1e3) << " ms\n";
  return EXIT_SUCCESS;
}
