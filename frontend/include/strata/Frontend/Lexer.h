//===- Lexer.h - Lexer of the Strata graph language -------------*- C++ -*-===//
//
// Splits a `.sg` buffer into tokens. Every token points into the SourceMgr
// buffer, so its location is exact. The lexer reports malformed text (a stray
// character, an unterminated string, an integer that does not fit in 64 bits)
// and returns an Error token for it, so that the parser can recover without
// reporting the same mistake twice.
//
// Newlines are tokens: they end statements. Whether a newline matters (it
// does not inside `(...)`, `[...]` and attribute dictionaries) is the parser's
// call, because only the parser knows which `{` opens a dictionary and which
// opens a body.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_FRONTEND_LEXER_H
#define STRATA_FRONTEND_LEXER_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/SMLoc.h"
#include "llvm/Support/SourceMgr.h"

#include <cstdint>
#include <string>

namespace strata::sg {

/// Receives each error the lexer or parser finds, with the location of the
/// offending text. The default (see `printingReporter` in Parser.h) prints it
/// through the SourceMgr as `file:line:col: error: message`, the line, and a
/// caret.
using DiagnosticReporter =
    llvm::function_ref<void(llvm::SMLoc loc, const llvm::Twine &message)>;

enum class TokenKind {
  Eof,
  /// Malformed text; the lexer has already reported it.
  Error,
  /// One or more line ends (blank and comment-only lines fold into one).
  Newline,

  Identifier,
  Int,
  Float,
  String,

  // Keywords.
  KwDef,
  KwModel,
  KwLet,
  KwParam,
  KwFor,
  KwIn,
  KwReturn,
  KwAs,
  KwTrue,
  KwFalse,
  KwIf,
  KwElse,
  KwAnd,
  KwOr,
  KwNot,
  KwImport,

  // Operators and punctuation.
  Plus,         ///< +
  Minus,        ///< -
  Star,         ///< *
  Slash,        ///< /
  SlashSlash,   ///< //  (integer division; see Lexer for the comment rule)
  Percent,      ///< %
  At,           ///< @
  LParen,       ///< (
  RParen,       ///< )
  LBracket,     ///< [
  RBracket,     ///< ]
  LBrace,       ///< {
  RBrace,       ///< }
  Comma,        ///< ,
  Colon,        ///< :
  Semicolon,    ///< ;
  Equal,        ///< =
  EqualEqual,   ///< ==
  NotEqual,     ///< !=
  Less,         ///< <
  LessEqual,    ///< <=
  Greater,      ///< >
  GreaterEqual, ///< >=
  Arrow,        ///< ->
  DotDot,       ///< ..
};

/// The text of an operator or keyword (`"->"`, `"let"`), or a description of
/// the other kinds (`"identifier"`, `"newline"`, ...).
llvm::StringRef getTokenKindSpelling(TokenKind kind);

/// Source text made safe to quote in a message: bytes that are not printable
/// ASCII become `\xNN`, and text longer than 32 bytes is cut with `...`.
std::string quoteSource(llvm::StringRef text);

struct Token {
  TokenKind kind = TokenKind::Eof;
  /// The token's text in the buffer (empty for Eof, which sits at the end of
  /// the buffer). For a Newline token: the first line end it covers.
  llvm::StringRef spelling;
  /// True when nothing but blanks and comments precede the token on its line.
  /// The parser uses it to tell a missing `)` at the end of a line from a
  /// stray token, and to resume at the next statement after an error.
  bool atLineStart = false;

  int64_t intValue = 0;    ///< Int only.
  double floatValue = 0.0; ///< Float only.
  std::string stringValue; ///< String only: the contents, escapes resolved.

  bool is(TokenKind k) const { return kind == k; }
  llvm::SMLoc getLoc() const {
    return llvm::SMLoc::getFromPointer(spelling.data());
  }
  /// The location just past the token's last character.
  llvm::SMLoc getEndLoc() const {
    return llvm::SMLoc::getFromPointer(spelling.data() + spelling.size());
  }
};

/// A hand-written lexer over one SourceMgr buffer. The buffer may hold any
/// bytes, NULs and invalid UTF-8 included; `lex` always makes progress and
/// returns Eof forever once the end is reached.
///
/// Comments run from `#` to the end of the line, and from `//` to the end of
/// the line when `//` cannot be the integer-division operator: `//` right
/// after an operand (a name, a literal, `)` or `]`) on the same line divides,
/// `a // 2`; anywhere else (a line's start, after an operator or an opening
/// bracket) it starts a comment, which is what `// RUN:` lines and
/// `// -----` split markers need. A trailing comment after a statement should
/// therefore use `#`.
class Lexer {
public:
  Lexer(const llvm::SourceMgr &sourceMgr, unsigned bufferId,
        DiagnosticReporter report);

  /// Returns the next token.
  Token lex();

private:
  Token makeToken(TokenKind kind, const char *start);
  Token lexIdentifierOrKeyword(const char *start);
  Token lexNumber(const char *start);
  Token lexString(const char *start);
  Token lexBadCharacter(const char *start);
  /// Skips blanks and comments, noting line ends. Returns the first line end
  /// seen, or null.
  const char *skipBlanksAndComments();
  Token error(const char *start, const char *loc, const llvm::Twine &message);
  /// True when a `//` at the current position is integer division.
  bool slashSlashIsOperator() const;

  const char *curPtr;
  const char *bufferEnd;
  DiagnosticReporter report;
  TokenKind lastKind = TokenKind::Newline;
  bool atLineStart = true;
};

} // namespace strata::sg

#endif // STRATA_FRONTEND_LEXER_H
