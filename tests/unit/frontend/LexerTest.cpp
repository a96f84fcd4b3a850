//===- LexerTest.cpp - Tests of the .sg lexer -----------------------------===//

#include "strata/Frontend/Lexer.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace strata::sg;

namespace strata::sg {
/// Lets GoogleTest print token kinds by name.
void PrintTo(TokenKind kind, std::ostream *os) {
  *os << getTokenKindSpelling(kind).str();
}
} // namespace strata::sg

namespace {

/// Lexes a whole buffer, keeping the tokens and the errors ("line:col:
/// message").
struct Lexed {
  explicit Lexed(llvm::StringRef text) {
    bufferId = sourceMgr.AddNewSourceBuffer(
        llvm::MemoryBuffer::getMemBufferCopy(text, "test.sg"), llvm::SMLoc());
    auto report = [&](llvm::SMLoc loc, const llvm::Twine &message) {
      errors.push_back(position(loc) + ": " + message.str());
    };
    Lexer lexer(sourceMgr, bufferId, report);
    // A bound, so that a lexer that stops making progress fails the test
    // instead of hanging it.
    for (size_t i = 0; i <= text.size() + 1; ++i) {
      tokens.push_back(lexer.lex());
      if (tokens.back().is(TokenKind::Eof))
        break;
    }
  }

  std::string position(llvm::SMLoc loc) const {
    auto [line, col] = sourceMgr.getLineAndColumn(loc, bufferId);
    return std::to_string(line) + ":" + std::to_string(col);
  }

  std::vector<TokenKind> kinds() const {
    std::vector<TokenKind> result;
    for (const Token &token : tokens)
      result.push_back(token.kind);
    return result;
  }

  std::vector<std::string> spellings() const {
    std::vector<std::string> result;
    for (const Token &token : tokens)
      result.push_back(token.spelling.str());
    return result;
  }

  llvm::SourceMgr sourceMgr;
  unsigned bufferId;
  std::vector<Token> tokens;
  std::vector<std::string> errors;
};

using K = TokenKind;

TEST(LexerTest, KeywordsAndIdentifiers) {
  Lexed lexed("def model let param for in return as true false foo _x f32 "
              "bf16 define");
  EXPECT_EQ(
      lexed.kinds(),
      (std::vector<K>{K::KwDef, K::KwModel, K::KwLet, K::KwParam, K::KwFor,
                      K::KwIn, K::KwReturn, K::KwAs, K::KwTrue, K::KwFalse,
                      K::Identifier, K::Identifier, K::Identifier,
                      K::Identifier, K::Identifier, K::Eof}));
  EXPECT_EQ(lexed.tokens[12].spelling, "f32");
  EXPECT_TRUE(lexed.errors.empty());
}

TEST(LexerTest, Operators) {
  Lexed lexed("+ - * / % @ ( ) [ ] { } , : ; = -> .. a // b");
  EXPECT_EQ(
      lexed.kinds(),
      (std::vector<K>{K::Plus,       K::Minus,    K::Star,       K::Slash,
                      K::Percent,    K::At,       K::LParen,     K::RParen,
                      K::LBracket,   K::RBracket, K::LBrace,     K::RBrace,
                      K::Comma,      K::Colon,    K::Semicolon,  K::Equal,
                      K::Arrow,      K::DotDot,   K::Identifier, K::SlashSlash,
                      K::Identifier, K::Eof}));
  EXPECT_TRUE(lexed.errors.empty());
}

TEST(LexerTest, OperatorsWithoutSpaces) {
  Lexed lexed("x->y-z//2..n");
  EXPECT_EQ(lexed.spellings(),
            (std::vector<std::string>{"x", "->", "y", "-", "z", "//", "2", "..",
                                      "n", ""}));
}

TEST(LexerTest, Comments) {
  Lexed lexed("# a comment\n"
              "// RUN: strata-opt %s\n"
              "a = b # trailing\n"
              "// -----\n"
              "c = (// inside\n"
              "d) // e\n");
  // `// e` follows `)`, an operand, so it is integer division.
  EXPECT_EQ(lexed.spellings(),
            (std::vector<std::string>{"a", "=", "b", "\n", "c", "=", "(", "\n",
                                      "d", ")", "//", "e", "\n", ""}));
  EXPECT_TRUE(lexed.errors.empty());
}

TEST(LexerTest, DoubleSlashAfterOperatorIsAComment) {
  Lexed lexed("x = // not division\n1");
  EXPECT_EQ(lexed.kinds(), (std::vector<K>{K::Identifier, K::Equal, K::Newline,
                                           K::Int, K::Eof}));
}

TEST(LexerTest, NewlinesFoldAndMarkLineStarts) {
  Lexed lexed("\n\n  a\n\n# c\n\n b ; c\r\n  d");
  EXPECT_EQ(
      lexed.kinds(),
      (std::vector<K>{K::Identifier, K::Newline, K::Identifier, K::Semicolon,
                      K::Identifier, K::Newline, K::Identifier, K::Eof}));
  EXPECT_TRUE(lexed.tokens[0].atLineStart);  // a
  EXPECT_TRUE(lexed.tokens[2].atLineStart);  // b
  EXPECT_FALSE(lexed.tokens[3].atLineStart); // ;
  EXPECT_FALSE(lexed.tokens[4].atLineStart); // c
  EXPECT_TRUE(lexed.tokens[6].atLineStart);  // d
  EXPECT_EQ(lexed.position(lexed.tokens[1].getLoc()), "3:4");
  EXPECT_EQ(lexed.position(lexed.tokens[6].getLoc()), "8:3");
}

TEST(LexerTest, Numbers) {
  Lexed lexed("0 42 9223372036854775807 0.02 1e-5 3.0e+2 2E3 007");
  ASSERT_EQ(lexed.tokens.size(), 9u);
  EXPECT_TRUE(lexed.errors.empty());
  EXPECT_EQ(lexed.tokens[0].intValue, 0);
  EXPECT_EQ(lexed.tokens[1].intValue, 42);
  EXPECT_EQ(lexed.tokens[2].intValue, INT64_MAX);
  EXPECT_EQ(lexed.tokens[3].kind, K::Float);
  EXPECT_DOUBLE_EQ(lexed.tokens[3].floatValue, 0.02);
  EXPECT_DOUBLE_EQ(lexed.tokens[4].floatValue, 1e-5);
  EXPECT_DOUBLE_EQ(lexed.tokens[5].floatValue, 300.0);
  EXPECT_DOUBLE_EQ(lexed.tokens[6].floatValue, 2000.0);
  EXPECT_EQ(lexed.tokens[7].kind, K::Int);
  EXPECT_EQ(lexed.tokens[7].intValue, 7);
}

TEST(LexerTest, RangeIsNotAFloat) {
  Lexed lexed("0..n_layer 1..2 3.5..4");
  EXPECT_EQ(lexed.kinds(),
            (std::vector<K>{K::Int, K::DotDot, K::Identifier, K::Int, K::DotDot,
                            K::Int, K::Float, K::DotDot, K::Int, K::Eof}));
  EXPECT_TRUE(lexed.errors.empty());
}

TEST(LexerTest, Strings) {
  Lexed lexed(R"("2:4" "" "a\"b\\c\nd\te")");
  ASSERT_EQ(lexed.tokens.size(), 4u);
  EXPECT_TRUE(lexed.errors.empty());
  EXPECT_EQ(lexed.tokens[0].stringValue, "2:4");
  EXPECT_EQ(lexed.tokens[0].spelling, "\"2:4\"");
  EXPECT_EQ(lexed.tokens[1].stringValue, "");
  EXPECT_EQ(lexed.tokens[2].stringValue, "a\"b\\c\nd\te");
}

/// The single error that lexing `text` reports.
std::string lexError(llvm::StringRef text) {
  Lexed lexed(text);
  if (lexed.errors.size() != 1)
    return "got " + std::to_string(lexed.errors.size()) + " errors";
  bool hasErrorToken = false;
  for (const Token &token : lexed.tokens)
    hasErrorToken |= token.is(K::Error);
  if (!hasErrorToken)
    return "no Error token";
  return lexed.errors[0];
}

TEST(LexerTest, NumberErrors) {
  EXPECT_EQ(lexError("x = 9223372036854775808"),
            "1:5: integer literal '9223372036854775808' is too large (the "
            "largest is 9223372036854775807)");
  EXPECT_EQ(lexError("99999999999999999999999999999999999999999"),
            "1:1: integer literal '99999999999999999999999999999999...' is "
            "too large (the largest is 9223372036854775807)");
  EXPECT_EQ(lexError("1e999"), "1:1: float literal '1e999' is out of range");
  EXPECT_EQ(lexError("1. + 2"),
            "1:1: expected a digit after '.' in number '1.'");
  EXPECT_EQ(lexError("1.e5"),
            "1:1: expected a digit after '.' in number '1.e5'");
  EXPECT_EQ(lexError("a 1e"),
            "1:3: expected a digit in the exponent of number '1e'");
  EXPECT_EQ(lexError("1e+ 2"),
            "1:1: expected a digit in the exponent of number '1e+'");
  EXPECT_EQ(lexError("f32[4D]"),
            "1:5: invalid number '4D': a number cannot run into a name (write "
            "'*' to multiply)");
  EXPECT_EQ(lexError("x = .5"),
            "1:5: expected a digit before '.' in number '.5' (write '0.5')");
}

TEST(LexerTest, StringErrors) {
  EXPECT_EQ(lexError("x = \"abc\ny"),
            "1:5: unterminated string: expected a closing '\"' before the end "
            "of the line");
  EXPECT_EQ(lexError("x = \"abc"),
            "1:5: unterminated string: expected a closing '\"' before the end "
            "of the file");
  EXPECT_EQ(lexError("x = \"abc\\"),
            "1:5: unterminated string: expected a closing '\"' before the end "
            "of the file");
  EXPECT_EQ(lexError(R"(x = "a\qb\z")"),
            "1:7: unknown escape sequence '\\q' in string (the escapes are "
            "\\\", \\\\, \\n and \\t)");
}

TEST(LexerTest, BadCharacters) {
  EXPECT_EQ(lexError("a $ b"), "1:3: unexpected character '$'");
  EXPECT_EQ(lexError("a . b"), "1:3: unexpected character '.'");
  EXPECT_EQ(lexError(llvm::StringRef("a \0 b", 5)),
            "1:3: unexpected byte 0x00");
  EXPECT_EQ(lexError("a \x01"), "1:3: unexpected byte 0x01");
  EXPECT_EQ(lexError("caf\xC3\xA9"),
            "1:4: unexpected character U+00E9 (names and operators are "
            "ASCII)");
  EXPECT_EQ(lexError("\xF0\x9F\x98\x80"),
            "1:1: unexpected character U+1F600 (names and operators are "
            "ASCII)");
  EXPECT_EQ(lexError("a \xFF"), "1:3: invalid UTF-8 byte 0xFF");
  // A truncated sequence is invalid; the continuation byte is one more.
  Lexed truncated("\xE2\x82 x");
  EXPECT_EQ(truncated.errors,
            (std::vector<std::string>{"1:1: invalid UTF-8 byte 0xE2",
                                      "1:2: invalid UTF-8 byte 0x82"}));
}

TEST(LexerTest, NulInsideStringIsKept) {
  Lexed lexed(llvm::StringRef("\"a\0b\"", 5));
  ASSERT_EQ(lexed.tokens.size(), 2u);
  EXPECT_EQ(lexed.tokens[0].stringValue, std::string("a\0b", 3));
}

TEST(LexerTest, EofRepeats) {
  llvm::SourceMgr sourceMgr;
  unsigned id = sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy("x", "t.sg"), llvm::SMLoc());
  auto report = [](llvm::SMLoc, const llvm::Twine &) {};
  Lexer lexer(sourceMgr, id, report);
  EXPECT_EQ(lexer.lex().kind, K::Identifier);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(lexer.lex().kind, K::Eof);
}

TEST(LexerTest, QuoteSource) {
  EXPECT_EQ(quoteSource("abc"), "abc");
  EXPECT_EQ(quoteSource(llvm::StringRef("a\0\n", 3)), "a\\x00\\x0A");
  EXPECT_EQ(quoteSource(std::string(40, 'x')), std::string(32, 'x') + "...");
}

} // namespace

TEST(LexerTest, ConditionalAndImportKeywords) {
  Lexed lexed("if else and or not import iffy nothing");
  EXPECT_EQ(
      lexed.kinds(),
      (std::vector<K>{K::KwIf, K::KwElse, K::KwAnd, K::KwOr, K::KwNot,
                      K::KwImport, K::Identifier, K::Identifier, K::Eof}));
  EXPECT_TRUE(lexed.errors.empty());
}

TEST(LexerTest, ComparisonOperators) {
  Lexed lexed("a == b != c < d <= e > f >= g = h");
  EXPECT_EQ(lexed.spellings(),
            (std::vector<std::string>{"a", "==", "b", "!=", "c", "<", "d", "<=",
                                      "e", ">", "f", ">=", "g", "=", "h", ""}));
  EXPECT_EQ(lexed.tokens[1].kind, K::EqualEqual);
  EXPECT_EQ(lexed.tokens[3].kind, K::NotEqual);
  EXPECT_EQ(lexed.tokens[5].kind, K::Less);
  EXPECT_EQ(lexed.tokens[7].kind, K::LessEqual);
  EXPECT_EQ(lexed.tokens[9].kind, K::Greater);
  EXPECT_EQ(lexed.tokens[11].kind, K::GreaterEqual);
  // Without spaces; `->` stays an arrow.
  Lexed tight("a<=b>=c==d!=e->f");
  EXPECT_EQ(tight.spellings(),
            (std::vector<std::string>{"a", "<=", "b", ">=", "c", "==", "d",
                                      "!=", "e", "->", "f", ""}));
}

TEST(LexerTest, LoneBangSuggestsNot) {
  EXPECT_EQ(lexError("! a"),
            "1:1: unexpected character '!' (write 'not' for negation)");
}
