//===- SgFuzzer.cpp - libFuzzer target for the .sg frontend ---------------===//
//
// Feeds arbitrary bytes to the parser and then to the importer, and checks
// the contracts of Parser.h and Import.h on the way: a failed parse reports
// at least one error and at most kMaxParseErrors, and a failed import reports
// at least one error. Crashes, sanitizer reports, leaks, hangs and broken
// contracts all stop the fuzzer with the input saved. See README.md.
//
//===----------------------------------------------------------------------===//

#include "strata/Dialect/Graph/IR/GraphDialect.h"
#include "strata/Frontend/Import.h"
#include "strata/Frontend/Parser.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <cstdlib>

using namespace strata::sg;

/// Reports a broken contract; abort() makes libFuzzer save the input.
static void contractViolated(const char *what) {
  llvm::errs() << "strata-sg-fuzzer: contract violated: " << what << "\n";
  abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  llvm::SourceMgr sourceMgr;
  unsigned bufferId = sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(text, "fuzz.sg"), llvm::SMLoc());

  unsigned parseErrors = 0;
  auto countError = [&](llvm::SMLoc loc, const llvm::Twine &message) {
    // Every location must point into the buffer (or be absent).
    const llvm::MemoryBuffer *buffer = sourceMgr.getMemoryBuffer(bufferId);
    if (loc.isValid() && (loc.getPointer() < buffer->getBufferStart() ||
                          loc.getPointer() > buffer->getBufferEnd()))
      contractViolated("an error location outside the buffer");
    (void)message.str();
    ++parseErrors;
  };
  std::optional<Module> module = parseModule(sourceMgr, bufferId, countError);
  if (!module && parseErrors == 0)
    contractViolated("parseModule failed without reporting an error");
  if (module && parseErrors != 0)
    contractViolated("parseModule reported an error and still succeeded");
  if (parseErrors > kMaxParseErrors)
    contractViolated("parseModule reported more than kMaxParseErrors");

  // Elaborate the last model (in the examples, the small one), so that
  // inputs with several models still get past model selection.
  ImportOptions options;
  // A fuzz input must not read the disk (an `import` is an error).
  options.allowFileImports = false;
  if (module && !module->models.empty())
    options.modelName = module->models.back().name;

  mlir::DialectRegistry registry;
  registry.insert<strata::graph::GraphDialect, mlir::func::FuncDialect>();
  mlir::MLIRContext context(registry, mlir::MLIRContext::Threading::DISABLED);
  context.loadAllAvailableDialects();
  unsigned importErrors = 0;
  mlir::ScopedDiagnosticHandler discard(&context, [&](mlir::Diagnostic &diag) {
    if (diag.getSeverity() == mlir::DiagnosticSeverity::Error)
      ++importErrors;
    return mlir::success();
  });
  mlir::OwningOpRef<mlir::ModuleOp> imported =
      importModel(sourceMgr, bufferId, &context, options);
  if (!imported && importErrors == 0)
    contractViolated("importModel failed without reporting an error");
  return 0;
}
