//===- Import.h - Import a .sg model into strata.graph ----------*- C++ -*-===//
//
// Parses a `.sg` file and elaborates one of its models into a module of the
// strata.graph dialect: defs are expanded at each call, loops unrolled,
// compile-time arithmetic evaluated, and every op built with a location
// (`FileLineColLoc`, wrapped in `CallSiteLoc` for code inside a def) that
// points at the model text. Errors, syntactic or semantic, go to the MLIR
// diagnostic engine of the context at those locations.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_FRONTEND_IMPORT_H
#define STRATA_FRONTEND_IMPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"

#include <string>
#include <utility>
#include <vector>

namespace strata::sg {

struct ImportOptions {
  /// The model to import; may be empty when the file defines exactly one.
  std::string modelName;
  /// `name=value` pairs that bind or override the model's named arguments
  /// (compile-time arguments and shape variables), as given on the command
  /// line with `--sg-arg`. Values are integers, floats, `true`/`false` or
  /// strings.
  std::vector<std::pair<std::string, std::string>> argOverrides;
  /// Whether `import "file.sg"` may read files. Off for input that must not
  /// touch the disk (the fuzzer); an `import` is then an error.
  bool allowFileImports = true;
};

/// Imports buffer `bufferId` of `sourceMgr`. The files it imports are added
/// to `sourceMgr`, named by their paths, so that diagnostics can show their
/// lines. Returns null after reporting at least one error. The returned
/// module verifies.
mlir::OwningOpRef<mlir::ModuleOp> importModel(llvm::SourceMgr &sourceMgr,
                                              unsigned bufferId,
                                              mlir::MLIRContext *context,
                                              const ImportOptions &options);

} // namespace strata::sg

#endif // STRATA_FRONTEND_IMPORT_H
