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

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/SourceMgr.h"

#include <optional>

namespace strata::sg {

/// Receives each error the lexer or parser finds, with the location of the
/// offending text. The default (see `printingReporter`) prints it through the
/// SourceMgr as `file:line:col: error: message`, the line, and a caret.
using DiagnosticReporter =
    llvm::function_ref<void(llvm::SMLoc loc, const llvm::Twine &message)>;

/// The most errors one parse reports before it gives up on the file.
inline constexpr unsigned kMaxParseErrors = 20;

/// Parses the buffer `bufferId` of `sourceMgr`. Returns the module when the
/// buffer has no syntax error, std::nullopt otherwise (after reporting every
/// error found, up to kMaxParseErrors). Never aborts, whatever the input.
std::optional<Module> parseModule(const llvm::SourceMgr &sourceMgr,
                                  unsigned bufferId,
                                  DiagnosticReporter report);

} // namespace strata::sg

#endif // STRATA_FRONTEND_PARSER_H
