//===- Lexer.cpp - Lexer of the Strata graph language ---------------------===//
//
// Every read is bounds-checked against the buffer's end rather than relying
// on a NUL terminator, because a `.sg` buffer may contain NUL bytes (and the
// fuzzer feeds it buffers that do).
//
//===----------------------------------------------------------------------===//

#include "strata/Frontend/Lexer.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <limits>

using namespace strata::sg;
using llvm::StringRef;

StringRef strata::sg::getTokenKindSpelling(TokenKind kind) {
  switch (kind) {
  case TokenKind::Eof:
    return "end of file";
  case TokenKind::Error:
    return "invalid text";
  case TokenKind::Newline:
    return "newline";
  case TokenKind::Identifier:
    return "identifier";
  case TokenKind::Int:
    return "integer";
  case TokenKind::Float:
    return "float";
  case TokenKind::String:
    return "string";
  case TokenKind::KwDef:
    return "def";
  case TokenKind::KwModel:
    return "model";
  case TokenKind::KwLet:
    return "let";
  case TokenKind::KwParam:
    return "param";
  case TokenKind::KwFor:
    return "for";
  case TokenKind::KwIn:
    return "in";
  case TokenKind::KwReturn:
    return "return";
  case TokenKind::KwAs:
    return "as";
  case TokenKind::KwTrue:
    return "true";
  case TokenKind::KwFalse:
    return "false";
  case TokenKind::KwIf:
    return "if";
  case TokenKind::KwElse:
    return "else";
  case TokenKind::KwAnd:
    return "and";
  case TokenKind::KwOr:
    return "or";
  case TokenKind::KwNot:
    return "not";
  case TokenKind::KwImport:
    return "import";
  case TokenKind::Plus:
    return "+";
  case TokenKind::Minus:
    return "-";
  case TokenKind::Star:
    return "*";
  case TokenKind::Slash:
    return "/";
  case TokenKind::SlashSlash:
    return "//";
  case TokenKind::Percent:
    return "%";
  case TokenKind::At:
    return "@";
  case TokenKind::LParen:
    return "(";
  case TokenKind::RParen:
    return ")";
  case TokenKind::LBracket:
    return "[";
  case TokenKind::RBracket:
    return "]";
  case TokenKind::LBrace:
    return "{";
  case TokenKind::RBrace:
    return "}";
  case TokenKind::Comma:
    return ",";
  case TokenKind::Colon:
    return ":";
  case TokenKind::Semicolon:
    return ";";
  case TokenKind::Equal:
    return "=";
  case TokenKind::EqualEqual:
    return "==";
  case TokenKind::NotEqual:
    return "!=";
  case TokenKind::Less:
    return "<";
  case TokenKind::LessEqual:
    return "<=";
  case TokenKind::Greater:
    return ">";
  case TokenKind::GreaterEqual:
    return ">=";
  case TokenKind::Arrow:
    return "->";
  case TokenKind::DotDot:
    return "..";
  }
  return "token";
}

std::string strata::sg::quoteSource(StringRef text) {
  constexpr size_t kMaxQuoted = 32;
  std::string result;
  for (char c : text.take_front(kMaxQuoted)) {
    if (llvm::isPrint(c)) {
      result += c;
    } else {
      result += "\\x";
      result +=
          llvm::utohexstr(static_cast<unsigned char>(c), /*LowerCase=*/false,
                          /*Width=*/2);
    }
  }
  if (text.size() > kMaxQuoted)
    result += "...";
  return result;
}

Lexer::Lexer(const llvm::SourceMgr &sourceMgr, unsigned bufferId,
             DiagnosticReporter report)
    : report(report) {
  const llvm::MemoryBuffer *buffer = sourceMgr.getMemoryBuffer(bufferId);
  curPtr = buffer->getBufferStart();
  bufferEnd = buffer->getBufferEnd();
}

Token Lexer::makeToken(TokenKind kind, const char *start) {
  Token token;
  token.kind = kind;
  token.spelling = StringRef(start, curPtr - start);
  token.atLineStart = atLineStart;
  atLineStart = false;
  lastKind = kind;
  return token;
}

Token Lexer::error(const char *start, const char *loc,
                   const llvm::Twine &message) {
  report(llvm::SMLoc::getFromPointer(loc), message);
  return makeToken(TokenKind::Error, start);
}

bool Lexer::slashSlashIsOperator() const {
  if (atLineStart)
    return false;
  switch (lastKind) {
  case TokenKind::Identifier:
  case TokenKind::Int:
  case TokenKind::Float:
  case TokenKind::String:
  case TokenKind::KwTrue:
  case TokenKind::KwFalse:
  case TokenKind::RParen:
  case TokenKind::RBracket:
    return true;
  default:
    return false;
  }
}

const char *Lexer::skipBlanksAndComments() {
  const char *firstLineEnd = nullptr;
  while (curPtr != bufferEnd) {
    char c = *curPtr;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      ++curPtr;
      continue;
    }
    if (c == '\n') {
      if (!firstLineEnd)
        firstLineEnd = curPtr;
      atLineStart = true;
      ++curPtr;
      continue;
    }
    bool isComment = c == '#' || (c == '/' && curPtr + 1 != bufferEnd &&
                                  curPtr[1] == '/' && !slashSlashIsOperator());
    if (!isComment)
      break;
    while (curPtr != bufferEnd && *curPtr != '\n')
      ++curPtr;
  }
  return firstLineEnd;
}

Token Lexer::lex() {
  const char *lineEnd = skipBlanksAndComments();
  // Consecutive line ends fold into one token; so do line ends at the very
  // start of the buffer, where no statement can have been ended.
  if (lineEnd && lastKind != TokenKind::Newline) {
    Token token;
    token.kind = TokenKind::Newline;
    token.spelling = StringRef(lineEnd, 1);
    lastKind = TokenKind::Newline;
    return token;
  }

  const char *start = curPtr;
  if (curPtr == bufferEnd)
    return makeToken(TokenKind::Eof, start);

  auto next = [&]() -> char { return curPtr != bufferEnd ? *curPtr : '\0'; };
  char c = *curPtr++;
  if (llvm::isAlpha(c) || c == '_')
    return lexIdentifierOrKeyword(start);
  if (llvm::isDigit(c))
    return lexNumber(start);

  switch (c) {
  case '"':
    return lexString(start);
  case '+':
    return makeToken(TokenKind::Plus, start);
  case '-':
    if (next() == '>') {
      ++curPtr;
      return makeToken(TokenKind::Arrow, start);
    }
    return makeToken(TokenKind::Minus, start);
  case '*':
    return makeToken(TokenKind::Star, start);
  case '/':
    // skipBlanksAndComments left a `//` here only if it is an operator.
    if (next() == '/') {
      ++curPtr;
      return makeToken(TokenKind::SlashSlash, start);
    }
    return makeToken(TokenKind::Slash, start);
  case '%':
    return makeToken(TokenKind::Percent, start);
  case '@':
    return makeToken(TokenKind::At, start);
  case '(':
    return makeToken(TokenKind::LParen, start);
  case ')':
    return makeToken(TokenKind::RParen, start);
  case '[':
    return makeToken(TokenKind::LBracket, start);
  case ']':
    return makeToken(TokenKind::RBracket, start);
  case '{':
    return makeToken(TokenKind::LBrace, start);
  case '}':
    return makeToken(TokenKind::RBrace, start);
  case ',':
    return makeToken(TokenKind::Comma, start);
  case ':':
    return makeToken(TokenKind::Colon, start);
  case ';':
    return makeToken(TokenKind::Semicolon, start);
  case '=':
    if (next() == '=') {
      ++curPtr;
      return makeToken(TokenKind::EqualEqual, start);
    }
    return makeToken(TokenKind::Equal, start);
  case '!':
    if (next() == '=') {
      ++curPtr;
      return makeToken(TokenKind::NotEqual, start);
    }
    return error(start, start,
                 "unexpected character '!' (write 'not' for negation)");
  case '<':
    if (next() == '=') {
      ++curPtr;
      return makeToken(TokenKind::LessEqual, start);
    }
    return makeToken(TokenKind::Less, start);
  case '>':
    if (next() == '=') {
      ++curPtr;
      return makeToken(TokenKind::GreaterEqual, start);
    }
    return makeToken(TokenKind::Greater, start);
  case '.':
    if (next() == '.') {
      ++curPtr;
      return makeToken(TokenKind::DotDot, start);
    }
    if (llvm::isDigit(next())) {
      while (llvm::isAlnum(next()) || next() == '_' || next() == '.')
        ++curPtr;
      return error(start, start,
                   "expected a digit before '.' in number '" +
                       quoteSource(StringRef(start, curPtr - start)) +
                       "' (write '0" +
                       quoteSource(StringRef(start, curPtr - start)) + "')");
    }
    return lexBadCharacter(start);
  default:
    return lexBadCharacter(start);
  }
}

Token Lexer::lexIdentifierOrKeyword(const char *start) {
  while (curPtr != bufferEnd && (llvm::isAlnum(*curPtr) || *curPtr == '_'))
    ++curPtr;
  StringRef text(start, curPtr - start);
  TokenKind kind = llvm::StringSwitch<TokenKind>(text)
                       .Case("def", TokenKind::KwDef)
                       .Case("model", TokenKind::KwModel)
                       .Case("let", TokenKind::KwLet)
                       .Case("param", TokenKind::KwParam)
                       .Case("for", TokenKind::KwFor)
                       .Case("in", TokenKind::KwIn)
                       .Case("return", TokenKind::KwReturn)
                       .Case("as", TokenKind::KwAs)
                       .Case("true", TokenKind::KwTrue)
                       .Case("false", TokenKind::KwFalse)
                       .Case("if", TokenKind::KwIf)
                       .Case("else", TokenKind::KwElse)
                       .Case("and", TokenKind::KwAnd)
                       .Case("or", TokenKind::KwOr)
                       .Case("not", TokenKind::KwNot)
                       .Case("import", TokenKind::KwImport)
                       .Default(TokenKind::Identifier);
  return makeToken(kind, start);
}

Token Lexer::lexNumber(const char *start) {
  auto at = [&](const char *p) -> char { return p < bufferEnd ? *p : '\0'; };
  auto spelling = [&] { return StringRef(start, curPtr - start); };
  // After a malformed number, swallow the rest of what looks like one so
  // that a single mistake gives a single error.
  auto skipNumberTail = [&] {
    while (llvm::isAlnum(at(curPtr)) || at(curPtr) == '_' ||
           (at(curPtr) == '.' && at(curPtr + 1) != '.'))
      ++curPtr;
  };

  while (llvm::isDigit(at(curPtr)))
    ++curPtr;
  bool isFloat = false;
  if (at(curPtr) == '.' && at(curPtr + 1) != '.') {
    // `0..n` is a range, so a `.` belongs to the number only when it is not
    // the first half of `..`.
    ++curPtr;
    if (!llvm::isDigit(at(curPtr))) {
      skipNumberTail();
      return error(start, start,
                   "expected a digit after '.' in number '" +
                       quoteSource(spelling()) + "'");
    }
    isFloat = true;
    while (llvm::isDigit(at(curPtr)))
      ++curPtr;
  }
  if (at(curPtr) == 'e' || at(curPtr) == 'E') {
    ++curPtr;
    if (at(curPtr) == '+' || at(curPtr) == '-')
      ++curPtr;
    if (!llvm::isDigit(at(curPtr))) {
      skipNumberTail();
      return error(start, start,
                   "expected a digit in the exponent of number '" +
                       quoteSource(spelling()) + "'");
    }
    isFloat = true;
    while (llvm::isDigit(at(curPtr)))
      ++curPtr;
  }
  if (llvm::isAlpha(at(curPtr)) || at(curPtr) == '_' ||
      (at(curPtr) == '.' && at(curPtr + 1) != '.')) {
    skipNumberTail();
    return error(start, start,
                 "invalid number '" + quoteSource(spelling()) +
                     "': a number cannot run into a name (write '*' to "
                     "multiply)");
  }

  if (isFloat) {
    llvm::APFloat value(llvm::APFloat::IEEEdouble());
    llvm::Expected<llvm::APFloat::opStatus> status =
        value.convertFromString(spelling(), llvm::APFloat::rmNearestTiesToEven);
    if (!status) {
      llvm::consumeError(status.takeError());
      return error(start, start,
                   "invalid number '" + quoteSource(spelling()) + "'");
    }
    if (*status & llvm::APFloat::opOverflow)
      return error(start, start,
                   "float literal '" + quoteSource(spelling()) +
                       "' is out of range");
    Token token = makeToken(TokenKind::Float, start);
    token.floatValue = value.convertToDouble();
    return token;
  }

  uint64_t value = 0;
  if (spelling().getAsInteger(10, value) ||
      value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return error(start, start,
                 "integer literal '" + quoteSource(spelling()) +
                     "' is too large (the largest is " +
                     llvm::Twine(std::numeric_limits<int64_t>::max()) + ")");
  Token token = makeToken(TokenKind::Int, start);
  token.intValue = static_cast<int64_t>(value);
  return token;
}

Token Lexer::lexString(const char *start) {
  std::string value;
  const char *badEscape = nullptr;
  while (true) {
    if (curPtr == bufferEnd || *curPtr == '\n')
      return error(start, start,
                   llvm::Twine("unterminated string: expected a closing '\"' "
                               "before the end of the ") +
                       (curPtr == bufferEnd ? "file" : "line"));
    char c = *curPtr++;
    if (c == '"')
      break;
    if (c != '\\') {
      value += c;
      continue;
    }
    // A backslash at the end of the line leaves the string unterminated;
    // the check at the top of the loop reports it.
    if (curPtr == bufferEnd || *curPtr == '\n')
      continue;
    char escaped = *curPtr++;
    switch (escaped) {
    case '"':
    case '\\':
      value += escaped;
      break;
    case 'n':
      value += '\n';
      break;
    case 't':
      value += '\t';
      break;
    default:
      if (!badEscape)
        badEscape = curPtr - 2;
      break;
    }
  }
  if (badEscape)
    return error(start, badEscape,
                 "unknown escape sequence '" +
                     quoteSource(StringRef(badEscape, 2)) +
                     "' in string (the escapes are \\\", \\\\, \\n and \\t)");
  Token token = makeToken(TokenKind::String, start);
  token.stringValue = std::move(value);
  return token;
}

/// The length of the well-formed UTF-8 sequence at `p` (which holds a byte
/// >= 0x80), or 0 when it is not one; stores the code point.
static unsigned decodeUtf8(const unsigned char *p, const unsigned char *end,
                           uint32_t &codePoint) {
  unsigned char lead = p[0];
  unsigned length;
  // Bounds of the second byte exclude overlong forms and surrogates.
  unsigned char lo = 0x80, hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    codePoint = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    codePoint = lead & 0x0F;
    if (lead == 0xE0)
      lo = 0xA0;
    if (lead == 0xED)
      hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    codePoint = lead & 0x07;
    if (lead == 0xF0)
      lo = 0x90;
    if (lead == 0xF4)
      hi = 0x8F;
  } else {
    return 0;
  }
  if (end - p < static_cast<std::ptrdiff_t>(length))
    return 0;
  for (unsigned i = 1; i < length; ++i) {
    unsigned char byte = p[i];
    if (byte < (i == 1 ? lo : 0x80) || byte > (i == 1 ? hi : 0xBF))
      return 0;
    codePoint = (codePoint << 6) | (byte & 0x3F);
  }
  return length;
}

Token Lexer::lexBadCharacter(const char *start) {
  unsigned char c = static_cast<unsigned char>(*start);
  if (c >= 0x80) {
    uint32_t codePoint = 0;
    unsigned length = decodeUtf8(
        reinterpret_cast<const unsigned char *>(start),
        reinterpret_cast<const unsigned char *>(bufferEnd), codePoint);
    if (length == 0)
      return error(start, start,
                   "invalid UTF-8 byte 0x" +
                       llvm::utohexstr(c, /*LowerCase=*/false, /*Width=*/2));
    // One error for the whole character, not one per byte.
    curPtr = start + length;
    return error(start, start,
                 "unexpected character U+" +
                     llvm::utohexstr(codePoint, /*LowerCase=*/false,
                                     /*Width=*/codePoint > 0xFFFF ? 0 : 4) +
                     " (names and operators are ASCII)");
  }
  if (llvm::isPrint(static_cast<char>(c)))
    return error(start, start,
                 llvm::Twine("unexpected character '") +
                     llvm::Twine(static_cast<char>(c)) + "'");
  return error(start, start,
               "unexpected byte 0x" +
                   llvm::utohexstr(c, /*LowerCase=*/false, /*Width=*/2));
}
