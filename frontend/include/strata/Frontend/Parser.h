//===- Parser.h - Parser of the Strata graph language -----------*- C++ -*-===//
//
// Turns a `.sg` buffer into the syntax tree of AST.h. Errors are reported
// through a DiagnosticReporter as they are found; the parser recovers at the
// next statement so that one run reports several errors.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_FRONTEND_PARSER_H
#define STRATA_FRONTEND_PARSER_H

#include "strata/Frontend/AST.h"
#include "strata/Frontend/Lexer.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

namespace strata::sg {

// DiagnosticReporter is declared in Lexer.h, which reports through it too.

/// The most errors one parse reports before it gives up on the file.
inline constexpr unsigned kMaxParseErrors = 20;

/// How deeply constructs may nest: brackets, calls, unary minus, operator
/// chains and `for` bodies all count. Deeper input is an error rather than
/// a stack overflow, in the parser and in every later walk of the tree.
inline constexpr unsigned kMaxNestingDepth = 256;

/// Parses the buffer `bufferId` of `sourceMgr`. Returns the module when the
/// buffer has no syntax error, std::nullopt otherwise (after reporting every
/// error found, up to kMaxParseErrors). Never aborts, whatever the input.
std::optional<Module> parseModule(const llvm::SourceMgr &sourceMgr,
                                  unsigned bufferId, DiagnosticReporter report);

/// A DiagnosticReporter for tools and tests that do not use MLIR: prints each
/// error through `sourceMgr` (`file:line:col: error: message`, the source
/// line and a caret) to `os`, and counts them.
class PrintingReporter {
public:
  explicit PrintingReporter(const llvm::SourceMgr &sourceMgr,
                            llvm::raw_ostream &os = llvm::errs())
      : sourceMgr(sourceMgr), os(os) {}

  void operator()(llvm::SMLoc loc, const llvm::Twine &message);

  unsigned getNumErrors() const { return numErrors; }

private:
  const llvm::SourceMgr &sourceMgr;
  llvm::raw_ostream &os;
  unsigned numErrors = 0;
};

/// Shorthand for a PrintingReporter, for a parse whose errors only need
/// printing: `parseModule(sourceMgr, id, printingReporter(sourceMgr))`.
inline PrintingReporter printingReporter(const llvm::SourceMgr &sourceMgr,
                                         llvm::raw_ostream &os = llvm::errs()) {
  return PrintingReporter(sourceMgr, os);
}

} // namespace strata::sg

#endif // STRATA_FRONTEND_PARSER_H
