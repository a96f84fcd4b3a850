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
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

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

/// Parses a file and, depth first, the files it imports, into `files`: each
/// file after the ones it imports. Every import of one file (by its real
/// path) shares one SourceFile, so a diamond loads it once.
class FileLoader {
public:
  FileLoader(llvm::SourceMgr &sourceMgr, unsigned rootBuffer,
             MLIRContext *context, const ImportOptions &options,
             std::vector<SourceFile> &files)
      : sourceMgr(sourceMgr), rootBuffer(rootBuffer), context(context),
        options(options), files(files) {}

  /// The location of `loc` in whichever buffer holds it.
  Location toLoc(llvm::SMLoc loc, unsigned fallbackBuffer) const {
    unsigned id = loc.isValid() ? sourceMgr.FindBufferContainingLoc(loc) : 0;
    if (!id)
      id = fallbackBuffer ? fallbackBuffer : rootBuffer;
    StringRef name = sourceMgr.getMemoryBuffer(id)->getBufferIdentifier();
    if (!loc.isValid())
      return FileLineColLoc::get(context, name, 1, 1);
    auto [line, column] = sourceMgr.getLineAndColumn(loc, id);
    return FileLineColLoc::get(context, name, line, column);
  }

  /// Parses buffer `bufferId` and what it imports. Returns the index of its
  /// SourceFile, or failure after reporting.
  FailureOr<size_t> load(unsigned bufferId) {
    std::optional<Module> ast = parseModule(
        sourceMgr, bufferId, [&](llvm::SMLoc loc, const llvm::Twine &message) {
          emitError(toLoc(loc, bufferId)) << message.str();
        });
    if (!ast)
      return failure();

    SourceFile file;
    file.bufferId = bufferId;
    // Where each visible name comes from: its definition, and the import of
    // this file that brought it (null for the file's own names).
    llvm::StringMap<std::pair<llvm::SMLoc, llvm::SMLoc>> origin;
    bool ok = true;
    for (const ImportDecl &import : ast->imports) {
      FailureOr<size_t> dep = loadImport(import, bufferId);
      if (failed(dep)) {
        ok = false;
        continue;
      }
      for (const auto &name : files[*dep].visible) {
        llvm::SMLoc defLoc = name.getValue();
        auto [it, inserted] =
            origin.try_emplace(name.getKey(), defLoc, import.loc);
        if (!inserted && it->second.first != defLoc) {
          reportClash(name.getKey(), import.loc, defLoc, it->second.first);
          ok = false;
        }
      }
    }
    auto addOwn = [&](StringRef name, llvm::SMLoc loc) {
      auto [it, inserted] = origin.try_emplace(name, loc, llvm::SMLoc());
      // A name defined twice in this file is the elaborator's to report.
      if (!inserted && it->second.second.isValid()) {
        reportClash(name, it->second.second, it->second.first, loc);
        ok = false;
      }
    };
    for (const ConstDecl &c : ast->consts)
      addOwn(c.name, c.loc);
    for (const DefDecl &d : ast->defs)
      addOwn(d.name, d.loc);
    if (!ok)
      return failure();
    for (const auto &entry : origin)
      file.visible[entry.getKey()] = entry.getValue().first;
    file.ast = std::move(*ast);
    files.push_back(std::move(file));
    return files.size() - 1;
  }

private:
  /// Resolves, reads and loads one `import`, at most once per file.
  FailureOr<size_t> loadImport(const ImportDecl &import, unsigned fromBuffer) {
    Location at = toLoc(import.loc, fromBuffer);
    if (!options.allowFileImports) {
      emitError(at) << "'import' is disabled here (this tool does not read "
                       "other files)";
      return failure();
    }
    // Relative to the importing file, whatever the working directory.
    llvm::SmallString<256> path(import.path);
    if (!llvm::sys::path::is_absolute(path)) {
      path = llvm::sys::path::parent_path(importingFile(fromBuffer));
      llvm::sys::path::append(path, import.path);
    }
    llvm::sys::path::remove_dots(path, /*remove_dot_dot=*/true);
    // The real path identifies a file however it is reached.
    llvm::SmallString<256> key;
    if (llvm::sys::fs::real_path(path, key))
      key = path;

    auto it = byPath.find(key);
    if (it != byPath.end()) {
      if (!it->second) {
        emitError(at) << "import cycle: '" << import.path
                      << "' is being imported already, directly or through "
                         "the files it imports";
        return failure();
      }
      if (*it->second == kFailed)
        return failure(); // Reported at its first import.
      return *it->second;
    }
    if (llvm::sys::fs::is_directory(path)) {
      emitError(at) << "cannot import '" << import.path << "': '" << path
                    << "' is a directory";
      return failure();
    }
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
        llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
    if (!buffer) {
      emitError(at) << "cannot import '" << import.path << "': cannot read '"
                    << path << "': " << buffer.getError().message();
      return failure();
    }
    // The buffer is named by its path, which is what diagnostics print and
    // how MLIR's SourceMgr handlers find the line to show.
    unsigned id = sourceMgr.AddNewSourceBuffer(std::move(*buffer), import.loc);
    byPath[key] = std::nullopt; // Loading: a cycle back here is an error.
    FailureOr<size_t> index = load(id);
    if (failed(index)) {
      // Reported already; importing it again must not report it again.
      byPath[key] = kFailed;
      return failure();
    }
    byPath[key] = *index;
    return *index;
  }

  /// The path of the file that buffer `id` holds. MLIR's
  /// --split-input-file names each chunk `within split at FILE:LINE offset `;
  /// the chunk's imports are relative to FILE all the same.
  StringRef importingFile(unsigned id) const {
    StringRef name = sourceMgr.getMemoryBuffer(id)->getBufferIdentifier();
    if (name.consume_front("within split at ") && name.ends_with(" offset "))
      name = name.rsplit(':').first;
    return name;
  }

  void reportClash(StringRef name, llvm::SMLoc importLoc, llvm::SMLoc first,
                   llvm::SMLoc second) {
    InFlightDiagnostic diag = emitError(toLoc(importLoc, 0))
                              << "this import defines '" << name
                              << "' a second time; a name may be defined in "
                                 "only one of the files an import brings "
                                 "together";
    diag.attachNote(toLoc(first, 0)) << "'" << name << "' is defined here";
    diag.attachNote(toLoc(second, 0)) << "and here";
  }

  static constexpr size_t kFailed = ~size_t(0);
  llvm::SourceMgr &sourceMgr;
  unsigned rootBuffer;
  MLIRContext *context;
  const ImportOptions &options;
  std::vector<SourceFile> &files;
  /// Each imported file by real path: its index in `files`, nullopt while
  /// it loads, kFailed when it failed.
  llvm::StringMap<std::optional<size_t>> byPath;
};

} // namespace

OwningOpRef<ModuleOp> strata::sg::importModel(llvm::SourceMgr &sourceMgr,
                                              unsigned bufferId,
                                              MLIRContext *context,
                                              const ImportOptions &options) {
  context->loadDialect<func::FuncDialect>();

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

  std::vector<SourceFile> files;
  FileLoader loader(sourceMgr, bufferId, context, options, files);
  if (failed(loader.load(bufferId)) || errorCount)
    return nullptr;
  const Module &ast = files.back().ast;
  auto toLoc = [&](llvm::SMLoc loc) { return loader.toLoc(loc, bufferId); };

  // Anchor model-selection errors at the first model, else the file start.
  Location anchor =
      ast.models.empty() ? toLoc(llvm::SMLoc()) : toLoc(ast.models.front().loc);
  const ModelDecl *model = pickModel(ast, options, anchor);
  if (!model)
    return nullptr;

  OwningOpRef<ModuleOp> module = ModuleOp::create(toLoc(model->loc));
  Elaborator elaborator(sourceMgr, files, *module);
  elaborator.errorCount = &errorCount;
  if (failed(elaborator.elaborateModel(*model, options.argOverrides)) ||
      errorCount)
    return nullptr;
  if (failed(verify(*module)))
    return nullptr;
  return module;
}
