//===- Import.cpp - Import a .sg model into strata.graph ------------------===//
//
// The entry point of the importer: parses the file, picks the model, binds its
// arguments (model text and --sg-arg overrides), and elaborates it with the
// Elaborator of ImportElaborator.h. Diagnostics of the whole import pass
// through one handler that counts them and drops exact repeats (a def
// expanded in a loop would otherwise report the same error per iteration).
//
//===----------------------------------------------------------------------===//

#include "strata/Frontend/Import.h"
#include "strata/Frontend/ImportElaborator.h"
#include "strata/Frontend/Parser.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace strata::sg;

namespace {

/// The innermost file location of `loc`: where a diagnostic is shown.
std::string innermostFileLoc(Location loc) {
  if (auto fileLoc = loc->findInstanceOf<FileLineColLoc>())
    return (fileLoc.getFilename().getValue() + ":" +
            llvm::Twine(fileLoc.getLine()) + ":" +
            llvm::Twine(fileLoc.getColumn()))
        .str();
  return "";
}

/// Returns the model to import, or reports why there is none.
const ModelDecl *pickModel(const Module &ast, const ImportOptions &options,
                           Location fileStart) {
  std::string available;
  for (const ModelDecl &model : ast.models) {
    if (model.name == options.modelName)
      return &model;
    available += (available.empty() ? "'" : ", '") + model.name + "'";
  }
  if (ast.models.empty()) {
    emitError(fileStart) << "no model in this file; define one with "
                            "'model NAME = def_name(args)'";
    return nullptr;
  }
  if (options.modelName.empty()) {
    if (ast.models.size() == 1)
      return &ast.models.front();
    emitError(fileStart) << "this file defines several models (" << available
                         << "); pick one with --sg-model=NAME";
    return nullptr;
  }
  emitError(fileStart) << "no model named '" << options.modelName
                       << "' in this file; it defines " << available;
  return nullptr;
}

} // namespace

OwningOpRef<ModuleOp> strata::sg::importModel(const llvm::SourceMgr &sourceMgr,
                                              unsigned bufferId,
                                              MLIRContext *context,
                                              const ImportOptions &options) {
  context->loadDialect<func::FuncDialect>();
  StringRef fileName =
      sourceMgr.getMemoryBuffer(bufferId)->getBufferIdentifier();
  auto toLoc = [&](llvm::SMLoc loc) -> Location {
    if (!loc.isValid())
      return FileLineColLoc::get(context, fileName, 1, 1);
    auto [line, column] = sourceMgr.getLineAndColumn(loc, bufferId);
    return FileLineColLoc::get(context, fileName, line, column);
  };

  // A verifier error would dump the op in generic form, which means nothing
  // to the author of the model: the location says where the error is.
  bool printedOps = context->shouldPrintOpOnDiagnostic();
  context->printOpOnDiagnostic(false);
  llvm::scope_exit restore([&]() { context->printOpOnDiagnostic(printedOps); });

  // Count errors and drop exact repeats (same place, same message).
  unsigned errorCount = 0;
  llvm::StringSet<> seen;
  ScopedDiagnosticHandler handler(context, [&](Diagnostic &diag) {
    if (diag.getSeverity() != DiagnosticSeverity::Error)
      return failure();
    std::string key = innermostFileLoc(diag.getLocation()) + ": " + diag.str();
    if (!seen.insert(key).second)
      return success();
    ++errorCount;
    return failure(); // Let the caller's handler print or verify it.
  });

  std::optional<Module> ast = parseModule(
      sourceMgr, bufferId, [&](llvm::SMLoc loc, const llvm::Twine &message) {
        emitError(toLoc(loc)) << message.str();
      });
  if (!ast || errorCount)
    return nullptr;

  // Anchor model-selection errors at the first model, else the file start.
  Location anchor = ast->models.empty() ? toLoc(llvm::SMLoc())
                                        : toLoc(ast->models.front().loc);
  const ModelDecl *model = pickModel(*ast, options, anchor);
  if (!model)
    return nullptr;

  OwningOpRef<ModuleOp> module = ModuleOp::create(toLoc(model->loc));
  Elaborator elaborator(sourceMgr, bufferId, *ast, *module);
  elaborator.errorCount = &errorCount;
  if (failed(elaborator.elaborateModel(*model, options.argOverrides)) ||
      errorCount)
    return nullptr;
  if (failed(verify(*module)))
    return nullptr;
  return module;
}
