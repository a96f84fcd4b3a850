//===- Parser.cpp - Parser of the Strata graph language -------------------===//
//
// A recursive-descent parser over the tokens of Lexer.h. The grammar, loosest
// first (docs/graph-ir.md is the reference):
//
//   module   := (item end)*
//   item     := 'import' STRING
//             | 'let' NAME '=' expr
//             | 'def' NAME '(' argdecls ')' ('->' types)? block
//             | 'model' NAME '=' NAME '(' args ')'
//   block    := newline? '{' (stmt end)* '}'
//   stmt     := 'param' NAME ':' type ('=' expr)? attrs?
//             | 'let' NAME (',' NAME)* '=' expr attrs?
//             | NAME (',' NAME)* '=' expr attrs?
//             | 'for' NAME 'in' expr '..' expr block
//             | 'if' expr block (newline? 'else' ('if' ... | block))?
//             | 'return' expr (',' expr)*
//             | 'error' '(' args ')'
//   attrs    := '{' (NAME '=' expr ',')* '}'
//   expr     := and ('or' and)*
//   and      := not ('and' not)*
//   not      := 'not' not | cmp
//   cmp      := add (('==' | '!=' | '<' | '<=' | '>' | '>=') add)?
//   add      := mul (('+' | '-') mul)*
//   mul      := unary (('*' | '/' | '//' | '%' | '@') unary)*
//   unary    := '-' unary | primary ('as' NAME)?
//   primary  := INT | FLOAT | STRING | 'true' | 'false' | NAME
//             | NAME '(' args ')' | '[' exprs ']' | '(' expr ')'
//   end      := newline | ';'   (or, without being consumed, '}' or EOF)
//
// Inside `(...)`, `[...]` and attribute dictionaries newlines are skipped;
// every comma-separated list there may end with a trailing comma.
//
// Error handling: each parse function reports the first thing it cannot make
// sense of and returns failure; the statement loops then skip to the next
// statement (see `synchronize`). Recursion is bounded by kMaxNestingDepth.
//
//===----------------------------------------------------------------------===//

#include "strata/Frontend/Parser.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringSwitch.h"

#include <deque>

using namespace strata::sg;
using llvm::SMLoc;
using llvm::StringRef;
using llvm::Twine;

void PrintingReporter::operator()(SMLoc loc, const Twine &message) {
  ++numErrors;
  sourceMgr.PrintMessage(os, loc, llvm::SourceMgr::DK_Error, message);
}

namespace {

/// Keywords that begin a statement or an item. After an error, a line that
/// starts with one of them is where parsing resumes.
bool startsStatement(TokenKind kind) {
  switch (kind) {
  case TokenKind::KwDef:
  case TokenKind::KwModel:
  case TokenKind::KwLet:
  case TokenKind::KwParam:
  case TokenKind::KwFor:
  case TokenKind::KwIf:
  case TokenKind::KwReturn:
  case TokenKind::KwImport:
    return true;
  default:
    return false;
  }
}

/// How a token is named in "found ..." messages.
std::string describe(const Token &token) {
  switch (token.kind) {
  case TokenKind::Eof:
  case TokenKind::Newline:
  case TokenKind::Error:
    return getTokenKindSpelling(token.kind).str();
  case TokenKind::String:
    return "string " + quoteSource(token.spelling);
  default:
    return "'" + quoteSource(token.spelling) + "'";
  }
}

class Parser {
public:
  Parser(const llvm::SourceMgr &sourceMgr, unsigned bufferId,
         DiagnosticReporter report)
      : report(report), lexerSink{this}, lexer(sourceMgr, bufferId, lexerSink) {
  }

  std::optional<Module> parseModule();

private:
  //===--------------------------------------------------------------------===//
  // Tokens
  //===--------------------------------------------------------------------===//

  Token fetch() {
    if (lookahead.empty())
      return lexer.lex();
    Token token = std::move(lookahead.front());
    lookahead.pop_front();
    return token;
  }

  /// Consumes the current token.
  void advance() {
    if (!tok.is(TokenKind::Newline) && tok.spelling.data())
      prevEnd = tok.spelling.end();
    tok = fetch();
    if (!openBrackets.empty())
      while (tok.is(TokenKind::Newline))
        tok = fetch();
  }

  /// The token after the current one, as `advance` would produce it now.
  const Token &peekNext() {
    size_t i = 0;
    while (true) {
      if (i == lookahead.size())
        lookahead.push_back(lexer.lex());
      if (openBrackets.empty() || !lookahead[i].is(TokenKind::Newline))
        return lookahead[i];
      ++i;
    }
  }

  /// Pushes an opening bracket (the current token) on entry and consumes it;
  /// `close` consumes the closing one. Inside, newlines are not tokens. The
  /// destructor pops the bracket when an error leaves it open.
  class BracketScope {
  public:
    BracketScope(Parser &parser) : parser(parser) {
      parser.openBrackets.push_back(parser.tok.kind);
      parser.advance();
    }
    ~BracketScope() {
      if (open)
        parser.openBrackets.pop_back();
    }
    void close() {
      parser.openBrackets.pop_back();
      open = false;
      parser.advance();
    }

  private:
    Parser &parser;
    bool open = true;
  };

  /// Counts one level of nesting for its lifetime; reports an error instead
  /// when the input is already nested kMaxNestingDepth deep.
  class DepthGuard {
  public:
    DepthGuard(Parser &parser, SMLoc loc) : parser(parser) {
      ok = parser.enterNesting(loc);
    }
    ~DepthGuard() {
      if (ok)
        --parser.depth;
    }
    explicit operator bool() const { return ok; }

  private:
    Parser &parser;
    bool ok;
  };

  bool enterNesting(SMLoc loc) {
    if (depth >= kMaxNestingDepth) {
      emitError(loc, "too deeply nested: more than " + Twine(kMaxNestingDepth) +
                         " levels of brackets, calls, operators or blocks");
      return false;
    }
    ++depth;
    return true;
  }

  //===--------------------------------------------------------------------===//
  // Diagnostics
  //===--------------------------------------------------------------------===//

  /// Reports an error unless the parser is skipping text after an earlier
  /// one (a stray character there would only repeat it) or the limit is
  /// reached.
  void emitError(SMLoc loc, const Twine &message) {
    if (recovering || numErrors >= kMaxParseErrors)
      return;
    ++numErrors;
    bracketsAtError = openBrackets;
    missingCloser = false;
    report(loc, message);
  }

  bool tooManyErrors() const { return numErrors >= kMaxParseErrors; }

  /// Where "found X" points: at the token, except that a newline or the end
  /// of the file is shown right after the previous token, where the missing
  /// text belongs (not after a comment, nor on an empty last line).
  SMLoc foundLoc() const {
    if ((tok.is(TokenKind::Newline) || tok.is(TokenKind::Eof)) && prevEnd)
      return SMLoc::getFromPointer(prevEnd);
    return tok.getLoc();
  }

  /// Reports "expected WHAT, found TOKEN". Nothing is reported for an Error
  /// token: the lexer has said what is wrong with it.
  void errorExpected(const Twine &what) {
    if (tok.is(TokenKind::Error))
      return;
    emitError(foundLoc(), "expected " + what + ", found " + describe(tok));
  }

  /// Takes an identifier into `name` (and its location into `loc`), or
  /// reports "expected WHAT" and returns false.
  bool takeIdentifier(const Twine &what, std::string &name,
                      SMLoc *loc = nullptr) {
    if (!tok.is(TokenKind::Identifier)) {
      errorExpected(what);
      return false;
    }
    name = tok.spelling.str();
    if (loc)
      *loc = tok.getLoc();
    advance();
    return true;
  }

  /// Like errorExpected, for a missing closing bracket. A token that begins a
  /// new line is reported as "found newline" at the end of the previous line:
  /// the usual cause is a bracket left open there, and the newline would
  /// have ended the statement.
  void errorExpectedCloser(const Twine &what) {
    if (tok.is(TokenKind::Error))
      return;
    if (tok.atLineStart && !tok.is(TokenKind::Eof) && prevEnd) {
      emitError(SMLoc::getFromPointer(prevEnd),
                "expected " + what + ", found newline");
      missingCloser = true;
      return;
    }
    errorExpected(what);
  }

  /// Skips to where the next statement can start, after a failed one that
  /// began at `stmtStart`. At the top level, where only items may start a
  /// line, the body of a def whose header failed is skipped whole.
  void synchronize(const char *stmtStart, bool topLevel = false);

  //===--------------------------------------------------------------------===//
  // Grammar
  //===--------------------------------------------------------------------===//

  bool parseImport(Module &module);
  bool parseConst(Module &module);
  bool parseDef(Module &module);
  bool parseModel(Module &module);
  bool parseArgDecls(DefDecl &def);
  bool parseBlock(std::vector<StmtPtr> &body, const std::string &owner);
  StmtPtr parseStatement();
  StmtPtr parseParam();
  StmtPtr parseLetOrAssign();
  StmtPtr parseFor();
  StmtPtr parseIf();
  StmtPtr parseReturn();
  bool parseAttrs(std::vector<AttrEntry> &attrs);
  bool parseStatementEnd();
  bool parseType(TypeExpr &type);
  bool parseShape(TypeExpr &type);
  bool parseCallArgs(std::vector<Arg> &args, StringRef callee);

  ExprPtr parseExpr();
  ExprPtr parseAnd();
  ExprPtr parseNot();
  ExprPtr parseComparison();
  ExprPtr parseAdditive();
  ExprPtr parseMultiplicative();
  ExprPtr parseUnary();
  ExprPtr parsePrimary();
  ExprPtr parseList();

  std::optional<BinaryOp> additiveOp() const {
    if (tok.is(TokenKind::Plus))
      return BinaryOp::Add;
    if (tok.is(TokenKind::Minus))
      return BinaryOp::Sub;
    return std::nullopt;
  }
  std::optional<BinaryOp> comparisonOp() const {
    switch (tok.kind) {
    case TokenKind::EqualEqual:
      return BinaryOp::Eq;
    case TokenKind::NotEqual:
      return BinaryOp::Ne;
    case TokenKind::Less:
      return BinaryOp::Lt;
    case TokenKind::LessEqual:
      return BinaryOp::Le;
    case TokenKind::Greater:
      return BinaryOp::Gt;
    case TokenKind::GreaterEqual:
      return BinaryOp::Ge;
    default:
      return std::nullopt;
    }
  }
  std::optional<BinaryOp> multiplicativeOp() const {
    switch (tok.kind) {
    case TokenKind::Star:
      return BinaryOp::Mul;
    case TokenKind::Slash:
      return BinaryOp::Div;
    case TokenKind::SlashSlash:
      return BinaryOp::FloorDiv;
    case TokenKind::Percent:
      return BinaryOp::Mod;
    case TokenKind::At:
      return BinaryOp::MatMul;
    default:
      return std::nullopt;
    }
  }
  /// One left-associative level of binary operators over `parseOperand`.
  template <typename OpFn, typename OperandFn>
  ExprPtr parseBinaryChain(OpFn op, OperandFn parseOperand);

  /// The lexer reports through the parser, which counts and filters.
  struct LexerSink {
    Parser *parser;
    void operator()(SMLoc loc, const Twine &message) const {
      parser->emitError(loc, message);
    }
  };

  DiagnosticReporter report;
  LexerSink lexerSink;
  Lexer lexer;

  Token tok;
  /// Tokens lexed by peekNext and not yet consumed.
  std::deque<Token> lookahead;
  /// The end of the last consumed token other than a newline (null before
  /// the first).
  const char *prevEnd = nullptr;
  /// Brackets (`(`, `[`, dictionary `{`) open around the current token.
  std::vector<TokenKind> openBrackets;
  unsigned depth = 0;

  unsigned numErrors = 0;
  bool recovering = false;
  /// The brackets open at the last error, for `synchronize`.
  std::vector<TokenKind> bracketsAtError;
  /// The last error was a closing bracket missing at the end of a line.
  bool missingCloser = false;
};

} // namespace

//===----------------------------------------------------------------------===//
// Recovery
//===----------------------------------------------------------------------===//

void Parser::synchronize(const char *stmtStart, bool topLevel) {
  recovering = true;
  auto done = llvm::scope_exit([&] { recovering = false; });

  // A statement that failed on its first token must still move on.
  if (tok.spelling.data() == stmtStart && !tok.is(TokenKind::Eof))
    advance();
  else if (missingCloser && tok.atLineStart)
    return; // The newline before `tok` ended the broken statement.

  // Skip to a newline or `;` outside the brackets that were open at the
  // error, so that a multi-line call with a bad argument is skipped whole. A
  // statement keyword at the start of a line, or a `}` closing no dictionary,
  // ends the skip early: those are statements (or the end of a body) that a
  // bracket left open by mistake would otherwise swallow. At the top level a
  // `{` opens a body to skip, and only an item keyword ends the skip early.
  std::vector<TokenKind> open = std::move(bracketsAtError);
  bracketsAtError.clear();
  while (true) {
    if (tok.is(TokenKind::Eof))
      return;
    if (tok.atLineStart && startsStatement(tok.kind) &&
        (!topLevel || tok.is(TokenKind::KwDef) || tok.is(TokenKind::KwModel) ||
         ((tok.is(TokenKind::KwLet) || tok.is(TokenKind::KwImport)) &&
          open.empty())))
      return;
    switch (tok.kind) {
    case TokenKind::LParen:
    case TokenKind::LBracket:
    case TokenKind::LBrace:
      open.push_back(tok.kind);
      break;
    case TokenKind::RParen:
      if (!open.empty() && open.back() == TokenKind::LParen)
        open.pop_back();
      break;
    case TokenKind::RBracket:
      if (!open.empty() && open.back() == TokenKind::LBracket)
        open.pop_back();
      break;
    case TokenKind::RBrace:
      if (open.empty() || open.back() != TokenKind::LBrace) {
        if (!topLevel)
          return; // It closes the enclosing body.
        break;
      }
      open.pop_back();
      break;
    case TokenKind::Newline:
      if (!open.empty())
        break;
      [[fallthrough]];
    case TokenKind::Semicolon:
      // Errors in the next statement are new errors: report them.
      recovering = false;
      advance();
      return;
    default:
      break;
    }
    advance();
  }
}

//===----------------------------------------------------------------------===//
// Items
//===----------------------------------------------------------------------===//

std::optional<Module> Parser::parseModule() {
  Module module;
  advance();
  while (!tooManyErrors()) {
    if (tok.is(TokenKind::Newline) || tok.is(TokenKind::Semicolon)) {
      advance();
      continue;
    }
    if (tok.is(TokenKind::Eof))
      break;
    const char *start = tok.spelling.data();
    bool ok = false;
    switch (tok.kind) {
    case TokenKind::KwImport:
      ok = parseImport(module);
      break;
    case TokenKind::KwLet:
      ok = parseConst(module);
      break;
    case TokenKind::KwDef:
      ok = parseDef(module);
      break;
    case TokenKind::KwModel:
      ok = parseModel(module);
      break;
    default:
      errorExpected("'def', 'model', 'let' or 'import' at the top level");
      break;
    }
    if (!ok)
      synchronize(start, /*topLevel=*/true);
  }
  if (numErrors > 0)
    return std::nullopt;
  return module;
}

bool Parser::parseImport(Module &module) {
  ImportDecl decl;
  decl.loc = tok.getLoc();
  advance();
  if (!tok.is(TokenKind::String)) {
    errorExpected("a file name in quotes after 'import', as in "
                  "'import \"lib.sg\"'");
    return false;
  }
  decl.path = std::move(tok.stringValue);
  advance();
  if (!parseStatementEnd())
    return false;
  module.imports.push_back(std::move(decl));
  return true;
}

bool Parser::parseConst(Module &module) {
  ConstDecl decl;
  decl.loc = tok.getLoc();
  advance();
  if (!takeIdentifier("a name after 'let'", decl.name))
    return false;
  if (!tok.is(TokenKind::Equal)) {
    errorExpected(tok.is(TokenKind::Comma)
                      ? "'=' after 'let " + decl.name +
                            "' (a top-level constant binds one name)"
                      : "'=' after 'let " + decl.name + "'");
    return false;
  }
  advance();
  decl.value = parseExpr();
  if (!decl.value || !parseStatementEnd())
    return false;
  module.consts.push_back(std::move(decl));
  return true;
}

bool Parser::parseDef(Module &module) {
  DefDecl def;
  def.loc = tok.getLoc();
  advance();
  if (!takeIdentifier("the def's name after 'def'", def.name))
    return false;
  if (!tok.is(TokenKind::LParen)) {
    errorExpected("'(' to open the arguments of def '" + def.name + "'");
    return false;
  }
  if (!parseArgDecls(def))
    return false;

  if (tok.is(TokenKind::Arrow)) {
    advance();
    // `-> t` or `-> t1, t2`, optionally in parentheses.
    std::optional<BracketScope> parens;
    if (tok.is(TokenKind::LParen))
      parens.emplace(*this);
    while (true) {
      TypeExpr type;
      if (!parseType(type))
        return false;
      def.results.push_back(std::move(type));
      if (!tok.is(TokenKind::Comma))
        break;
      advance();
      if (parens && tok.is(TokenKind::RParen))
        break;
    }
    if (parens) {
      if (!tok.is(TokenKind::RParen)) {
        errorExpectedCloser("')' to close the result types of def '" +
                            def.name + "'");
        return false;
      }
      parens->close();
    }
  }

  if (!parseBlock(def.body, "def '" + def.name + "'") || !parseStatementEnd())
    return false;
  module.defs.push_back(std::move(def));
  return true;
}

bool Parser::parseArgDecls(DefDecl &def) {
  BracketScope scope(*this);
  llvm::StringSet<> seen;
  while (true) {
    if (tok.is(TokenKind::RParen)) {
      scope.close();
      return true;
    }
    if (!tok.is(TokenKind::Identifier)) {
      errorExpected("an argument name in def '" + def.name + "'");
      return false;
    }
    ArgDecl arg;
    arg.name = tok.spelling.str();
    arg.loc = tok.getLoc();
    if (!seen.insert(arg.name).second)
      emitError(arg.loc, "argument '" + arg.name +
                             "' is declared twice in def '" + def.name + "'");
    advance();
    if (!tok.is(TokenKind::Colon)) {
      errorExpected("':' and a type after argument '" + arg.name +
                    "' of def '" + def.name + "'");
      return false;
    }
    advance();
    if (!parseType(arg.type))
      return false;
    if (tok.is(TokenKind::Equal)) {
      if (arg.type.kind == TypeExpr::Kind::Tensor)
        emitError(tok.getLoc(),
                  "only compile-time arguments (int, float, bool, str) can "
                  "have a default value, not tensor argument '" +
                      arg.name + "'");
      advance();
      arg.defaultValue = parseExpr();
      if (!arg.defaultValue)
        return false;
    }
    def.args.push_back(std::move(arg));
    if (tok.is(TokenKind::Comma)) {
      advance();
    } else if (!tok.is(TokenKind::RParen)) {
      errorExpectedCloser("')' to close the arguments of def '" + def.name +
                          "'");
      return false;
    }
  }
}

bool Parser::parseModel(Module &module) {
  ModelDecl model;
  model.loc = tok.getLoc();
  advance();
  if (!takeIdentifier("the model's name after 'model'", model.name))
    return false;
  if (!tok.is(TokenKind::Equal)) {
    errorExpected("'=' after 'model " + model.name + "'");
    return false;
  }
  advance();
  if (!takeIdentifier("the name of a def after 'model " + model.name + " ='",
                      model.callee, &model.calleeLoc))
    return false;
  if (!tok.is(TokenKind::LParen)) {
    errorExpected("'(' after 'model " + model.name + " = " + model.callee +
                  "'");
    return false;
  }
  if (!parseCallArgs(model.args, model.callee) || !parseStatementEnd())
    return false;
  module.models.push_back(std::move(model));
  return true;
}

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

bool Parser::parseBlock(std::vector<StmtPtr> &body, const std::string &owner) {
  // A body's `{` may sit on the next line: nothing else could follow there.
  if (tok.is(TokenKind::Newline) && peekNext().is(TokenKind::LBrace))
    advance();
  if (!tok.is(TokenKind::LBrace)) {
    errorExpected("'{' to open the body of " + owner);
    return false;
  }
  DepthGuard guard(*this, tok.getLoc());
  if (!guard)
    return false;
  // Not a BracketScope: newlines end statements inside a body.
  advance();
  while (!tooManyErrors()) {
    if (tok.is(TokenKind::Newline) || tok.is(TokenKind::Semicolon)) {
      advance();
      continue;
    }
    if (tok.is(TokenKind::RBrace)) {
      advance();
      return true;
    }
    // An item keyword means the `}` was forgotten; stop here so that the
    // item is parsed at the top level.
    if (tok.is(TokenKind::Eof) || tok.is(TokenKind::KwDef) ||
        tok.is(TokenKind::KwModel)) {
      errorExpected("'}' to close the body of " + owner);
      return false;
    }
    const char *start = tok.spelling.data();
    if (StmtPtr stmt = parseStatement())
      body.push_back(std::move(stmt));
    else
      synchronize(start);
  }
  return false;
}

StmtPtr Parser::parseStatement() {
  switch (tok.kind) {
  case TokenKind::KwParam:
    return parseParam();
  case TokenKind::Identifier:
    // `error("...")` is the one call that stands alone: it only reports.
    if (tok.spelling == "error" && peekNext().is(TokenKind::LParen)) {
      auto stmt = std::make_unique<Stmt>(Stmt::Kind::Error, tok.getLoc());
      stmt->value = parseExpr();
      if (!stmt->value || !parseStatementEnd())
        return nullptr;
      return stmt;
    }
    return parseLetOrAssign();
  case TokenKind::KwLet:
    return parseLetOrAssign();
  case TokenKind::KwFor:
    return parseFor();
  case TokenKind::KwIf:
    return parseIf();
  case TokenKind::KwReturn:
    return parseReturn();
  case TokenKind::KwElse:
    emitError(tok.getLoc(), "'else' without an 'if' before it");
    return nullptr;
  case TokenKind::KwImport:
    emitError(tok.getLoc(), "'import' is a top-level item; it cannot appear "
                            "inside a body");
    return nullptr;
  default:
    errorExpected("a statement (param, let, for, if, return or an assignment)");
    return nullptr;
  }
}

bool Parser::parseStatementEnd() {
  if (tok.is(TokenKind::Newline) || tok.is(TokenKind::Semicolon)) {
    advance();
    return true;
  }
  if (tok.is(TokenKind::RBrace) || tok.is(TokenKind::Eof))
    return true;
  errorExpected("newline or ';' after the statement");
  return false;
}

StmtPtr Parser::parseParam() {
  auto stmt = std::make_unique<Stmt>(Stmt::Kind::Param, tok.getLoc());
  advance();
  std::string name;
  SMLoc nameLoc;
  if (!takeIdentifier("the parameter's name after 'param'", name, &nameLoc))
    return nullptr;
  stmt->names.push_back(name);
  stmt->nameLocs.push_back(nameLoc);
  if (!tok.is(TokenKind::Colon)) {
    errorExpected("':' and a type after parameter '" + name + "'");
    return nullptr;
  }
  advance();
  if (!parseType(stmt->type))
    return nullptr;
  if (tok.is(TokenKind::Equal)) {
    advance();
    stmt->value = parseExpr();
    if (!stmt->value)
      return nullptr;
  }
  if (tok.is(TokenKind::LBrace) && !parseAttrs(stmt->attrs))
    return nullptr;
  if (!parseStatementEnd())
    return nullptr;
  return stmt;
}

StmtPtr Parser::parseLetOrAssign() {
  bool isLet = tok.is(TokenKind::KwLet);
  auto stmt = std::make_unique<Stmt>(
      isLet ? Stmt::Kind::Let : Stmt::Kind::Assign, tok.getLoc());
  if (isLet)
    advance();
  // The targets as written, for messages: "let a, b".
  std::string targets = isLet ? "let " : "";
  while (true) {
    if (!tok.is(TokenKind::Identifier)) {
      errorExpected(stmt->names.empty() ? Twine("a name after 'let'")
                                        : "a name after '" + targets + "'");
      return nullptr;
    }
    if (!stmt->names.empty())
      targets += " ";
    stmt->names.push_back(tok.spelling.str());
    stmt->nameLocs.push_back(tok.getLoc());
    targets += tok.spelling.str();
    advance();
    if (!tok.is(TokenKind::Comma))
      break;
    targets += ",";
    advance();
  }
  if (!tok.is(TokenKind::Equal)) {
    if (!isLet && stmt->names.size() == 1 && tok.is(TokenKind::LParen))
      emitError(tok.getLoc(), "expected '=' after '" + targets +
                                  "', found '(': a call's result must be "
                                  "bound, as in 'let y = " +
                                  targets + "(...)'");
    else
      errorExpected(isLet ? "'=' after '" + targets + "'"
                          : "'=' to assign to '" + targets + "'");
    return nullptr;
  }
  advance();
  stmt->value = parseExpr();
  if (!stmt->value)
    return nullptr;
  if (tok.is(TokenKind::LBrace) && !parseAttrs(stmt->attrs))
    return nullptr;
  if (!parseStatementEnd())
    return nullptr;
  return stmt;
}

StmtPtr Parser::parseFor() {
  auto stmt = std::make_unique<Stmt>(Stmt::Kind::For, tok.getLoc());
  advance();
  std::string var;
  SMLoc varLoc;
  if (!takeIdentifier("the loop variable after 'for'", var, &varLoc))
    return nullptr;
  stmt->names.push_back(var);
  stmt->nameLocs.push_back(varLoc);
  if (!tok.is(TokenKind::KwIn)) {
    errorExpected("'in' after 'for " + var + "'");
    return nullptr;
  }
  advance();
  stmt->lo = parseExpr();
  if (!stmt->lo)
    return nullptr;
  if (!tok.is(TokenKind::DotDot)) {
    errorExpected("'..' between the bounds of the loop over '" + var + "'");
    return nullptr;
  }
  advance();
  stmt->hi = parseExpr();
  if (!stmt->hi)
    return nullptr;
  if (!parseBlock(stmt->body, "the loop over '" + var + "'") ||
      !parseStatementEnd())
    return nullptr;
  return stmt;
}

StmtPtr Parser::parseIf() {
  auto stmt = std::make_unique<Stmt>(Stmt::Kind::If, tok.getLoc());
  // `else if` chains nest one If per link; each counts as a level so that a
  // long chain cannot overflow the stack of a later walk of the tree.
  DepthGuard guard(*this, tok.getLoc());
  if (!guard)
    return nullptr;
  advance();
  stmt->value = parseExpr();
  if (!stmt->value)
    return nullptr;
  if (!parseBlock(stmt->body, "the 'if'"))
    return nullptr;
  // `else` may start the next line: a statement cannot begin with it.
  if (tok.is(TokenKind::Newline) && peekNext().is(TokenKind::KwElse))
    advance();
  if (tok.is(TokenKind::KwElse)) {
    advance();
    if (tok.is(TokenKind::KwIf)) {
      // The nested If ends the statement for both.
      StmtPtr elseIf = parseIf();
      if (!elseIf)
        return nullptr;
      stmt->elseBody.push_back(std::move(elseIf));
      return stmt;
    }
    if (!parseBlock(stmt->elseBody, "the 'else'"))
      return nullptr;
  }
  if (!parseStatementEnd())
    return nullptr;
  return stmt;
}

StmtPtr Parser::parseReturn() {
  auto stmt = std::make_unique<Stmt>(Stmt::Kind::Return, tok.getLoc());
  advance();
  while (true) {
    if (stmt->values.empty() &&
        (tok.is(TokenKind::Newline) || tok.is(TokenKind::Semicolon) ||
         tok.is(TokenKind::RBrace) || tok.is(TokenKind::Eof))) {
      errorExpected("a value after 'return'");
      return nullptr;
    }
    ExprPtr value = parseExpr();
    if (!value)
      return nullptr;
    stmt->values.push_back(std::move(value));
    if (!tok.is(TokenKind::Comma))
      break;
    advance();
  }
  if (!parseStatementEnd())
    return nullptr;
  return stmt;
}

bool Parser::parseAttrs(std::vector<AttrEntry> &attrs) {
  BracketScope scope(*this);
  llvm::StringSet<> seen;
  while (true) {
    if (tok.is(TokenKind::RBrace)) {
      scope.close();
      return true;
    }
    if (!tok.is(TokenKind::Identifier)) {
      errorExpected("an attribute name");
      return false;
    }
    AttrEntry entry;
    entry.key = tok.spelling.str();
    entry.keyLoc = tok.getLoc();
    if (!seen.insert(entry.key).second)
      emitError(entry.keyLoc, "attribute '" + entry.key + "' is given twice");
    advance();
    if (!tok.is(TokenKind::Equal)) {
      errorExpected("'=' after attribute '" + entry.key + "'");
      return false;
    }
    advance();
    entry.value = parseExpr();
    if (!entry.value)
      return false;
    attrs.push_back(std::move(entry));
    if (tok.is(TokenKind::Comma)) {
      advance();
    } else if (!tok.is(TokenKind::RBrace)) {
      errorExpectedCloser("'}' to close the attributes");
      return false;
    }
  }
}

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

bool Parser::parseType(TypeExpr &type) {
  type.loc = tok.getLoc();
  if (tok.is(TokenKind::LBracket)) {
    type.kind = TypeExpr::Kind::Tensor;
    return parseShape(type);
  }
  if (!tok.is(TokenKind::Identifier)) {
    errorExpected("a type (such as f32[B, D], [B, D], tensor, int, float, "
                  "bool or str)");
    return false;
  }
  std::string name = tok.spelling.str();
  advance();
  if (tok.is(TokenKind::LBracket)) {
    type.kind = TypeExpr::Kind::Tensor;
    type.elementType = name;
    return parseShape(type);
  }
  std::optional<TypeExpr::Kind> kind =
      llvm::StringSwitch<std::optional<TypeExpr::Kind>>(name)
          .Case("tensor", TypeExpr::Kind::Tensor)
          .Case("int", TypeExpr::Kind::Int)
          .Case("float", TypeExpr::Kind::Float)
          .Case("bool", TypeExpr::Kind::Bool)
          .Case("str", TypeExpr::Kind::Str)
          .Default(std::nullopt);
  if (!kind) {
    errorExpected("a shape '[...]' after element type '" + name + "' (write '" +
                  name + "[]' for a scalar)");
    return false;
  }
  type.kind = *kind;
  return true;
}

bool Parser::parseShape(TypeExpr &type) {
  DepthGuard guard(*this, tok.getLoc());
  if (!guard)
    return false;
  BracketScope scope(*this);
  type.shape.emplace();
  while (true) {
    if (tok.is(TokenKind::RBracket)) {
      scope.close();
      return true;
    }
    ExprPtr dim = parseExpr();
    if (!dim)
      return false;
    type.shape->push_back(std::move(dim));
    if (tok.is(TokenKind::Comma)) {
      advance();
    } else if (!tok.is(TokenKind::RBracket)) {
      errorExpectedCloser("']' to close the shape");
      return false;
    }
  }
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

template <typename OpFn, typename OperandFn>
ExprPtr Parser::parseBinaryChain(OpFn op, OperandFn parseOperand) {
  ExprPtr lhs = parseOperand();
  if (!lhs)
    return nullptr;
  // Each operator deepens the (left-leaning) tree by one level, so a chain
  // counts against the nesting limit like brackets do: the tree must stay
  // shallow enough for every later recursive walk, destructors included.
  unsigned levels = 0;
  llvm::scope_exit release([&] { depth -= levels; });
  while (std::optional<BinaryOp> binaryOp = op()) {
    SMLoc opLoc = tok.getLoc();
    if (!enterNesting(opLoc))
      return nullptr;
    ++levels;
    advance();
    ExprPtr rhs = parseOperand();
    if (!rhs)
      return nullptr;
    auto binary = std::make_unique<Expr>(Expr::Kind::Binary, opLoc);
    binary->binaryOp = *binaryOp;
    binary->lhs = std::move(lhs);
    binary->rhs = std::move(rhs);
    lhs = std::move(binary);
  }
  return lhs;
}

ExprPtr Parser::parseExpr() {
  return parseBinaryChain(
      [this]() -> std::optional<BinaryOp> {
        if (tok.is(TokenKind::KwOr))
          return BinaryOp::Or;
        return std::nullopt;
      },
      [this] { return parseAnd(); });
}

ExprPtr Parser::parseAnd() {
  return parseBinaryChain(
      [this]() -> std::optional<BinaryOp> {
        if (tok.is(TokenKind::KwAnd))
          return BinaryOp::And;
        return std::nullopt;
      },
      [this] { return parseNot(); });
}

ExprPtr Parser::parseNot() {
  if (!tok.is(TokenKind::KwNot))
    return parseComparison();
  SMLoc loc = tok.getLoc();
  DepthGuard guard(*this, loc);
  if (!guard)
    return nullptr;
  advance();
  ExprPtr operand = parseNot();
  if (!operand)
    return nullptr;
  auto unary = std::make_unique<Expr>(Expr::Kind::Unary, loc);
  unary->unaryOp = UnaryOp::Not;
  unary->lhs = std::move(operand);
  return unary;
}

ExprPtr Parser::parseComparison() {
  ExprPtr lhs = parseAdditive();
  if (!lhs)
    return nullptr;
  std::optional<BinaryOp> op = comparisonOp();
  if (!op)
    return lhs;
  SMLoc opLoc = tok.getLoc();
  DepthGuard guard(*this, opLoc);
  if (!guard)
    return nullptr;
  advance();
  ExprPtr rhs = parseAdditive();
  if (!rhs)
    return nullptr;
  // `a < b < c` would compare a bool with a number; say what to write.
  if (comparisonOp()) {
    emitError(tok.getLoc(), "comparisons do not chain; write 'a < b and "
                            "b < c'");
    return nullptr;
  }
  auto binary = std::make_unique<Expr>(Expr::Kind::Binary, opLoc);
  binary->binaryOp = *op;
  binary->lhs = std::move(lhs);
  binary->rhs = std::move(rhs);
  return binary;
}

ExprPtr Parser::parseAdditive() {
  return parseBinaryChain([this] { return additiveOp(); },
                          [this] { return parseMultiplicative(); });
}

ExprPtr Parser::parseMultiplicative() {
  return parseBinaryChain([this] { return multiplicativeOp(); },
                          [this] { return parseUnary(); });
}

ExprPtr Parser::parseUnary() {
  if (tok.is(TokenKind::Minus)) {
    SMLoc loc = tok.getLoc();
    DepthGuard guard(*this, loc);
    if (!guard)
      return nullptr;
    advance();
    ExprPtr operand = parseUnary();
    if (!operand)
      return nullptr;
    auto unary = std::make_unique<Expr>(Expr::Kind::Unary, loc);
    unary->unaryOp = UnaryOp::Neg;
    unary->lhs = std::move(operand);
    return unary;
  }

  ExprPtr expr = parsePrimary();
  if (!expr || !tok.is(TokenKind::KwAs))
    return expr;
  if (expr->kind != Expr::Kind::Call) {
    emitError(tok.getLoc(), "'as' names the parameters of a call, so it must "
                            "follow one, as in 'f(x) as name'");
    return nullptr;
  }
  advance();
  if (!takeIdentifier("a name after 'as'", expr->scopeName,
                      &expr->scopeNameLoc))
    return nullptr;
  return expr;
}

ExprPtr Parser::parsePrimary() {
  SMLoc loc = tok.getLoc();
  switch (tok.kind) {
  case TokenKind::Int: {
    auto expr = std::make_unique<Expr>(Expr::Kind::Int, loc);
    expr->intValue = tok.intValue;
    advance();
    return expr;
  }
  case TokenKind::Float: {
    auto expr = std::make_unique<Expr>(Expr::Kind::Float, loc);
    expr->floatValue = tok.floatValue;
    advance();
    return expr;
  }
  case TokenKind::String: {
    auto expr = std::make_unique<Expr>(Expr::Kind::String, loc);
    expr->text = std::move(tok.stringValue);
    advance();
    return expr;
  }
  case TokenKind::KwTrue:
  case TokenKind::KwFalse: {
    auto expr = std::make_unique<Expr>(Expr::Kind::Bool, loc);
    expr->boolValue = tok.is(TokenKind::KwTrue);
    advance();
    return expr;
  }
  case TokenKind::Identifier: {
    std::string name = tok.spelling.str();
    advance();
    if (!tok.is(TokenKind::LParen)) {
      auto expr = std::make_unique<Expr>(Expr::Kind::Name, loc);
      expr->text = std::move(name);
      return expr;
    }
    DepthGuard guard(*this, tok.getLoc());
    if (!guard)
      return nullptr;
    auto call = std::make_unique<Expr>(Expr::Kind::Call, loc);
    call->text = std::move(name);
    if (!parseCallArgs(call->args, call->text))
      return nullptr;
    return call;
  }
  case TokenKind::LBracket:
    return parseList();
  case TokenKind::LParen: {
    DepthGuard guard(*this, loc);
    if (!guard)
      return nullptr;
    BracketScope scope(*this);
    ExprPtr inner = parseExpr();
    if (!inner)
      return nullptr;
    if (!tok.is(TokenKind::RParen)) {
      errorExpectedCloser("')' to close '('");
      return nullptr;
    }
    scope.close();
    return inner;
  }
  default:
    errorExpected("an expression");
    return nullptr;
  }
}

ExprPtr Parser::parseList() {
  auto list = std::make_unique<Expr>(Expr::Kind::List, tok.getLoc());
  DepthGuard guard(*this, tok.getLoc());
  if (!guard)
    return nullptr;
  BracketScope scope(*this);
  while (true) {
    if (tok.is(TokenKind::RBracket)) {
      scope.close();
      return list;
    }
    ExprPtr element = parseExpr();
    if (!element)
      return nullptr;
    list->elements.push_back(std::move(element));
    if (tok.is(TokenKind::Comma)) {
      advance();
    } else if (!tok.is(TokenKind::RBracket)) {
      errorExpectedCloser("']' to close the list");
      return nullptr;
    }
  }
}

bool Parser::parseCallArgs(std::vector<Arg> &args, StringRef callee) {
  BracketScope scope(*this);
  llvm::StringSet<> seen;
  bool sawNamed = false;
  while (true) {
    if (tok.is(TokenKind::RParen)) {
      scope.close();
      return true;
    }
    Arg arg;
    SMLoc argLoc = tok.getLoc();
    bool named =
        tok.is(TokenKind::Identifier) && peekNext().is(TokenKind::Equal);
    if (named) {
      arg.name = tok.spelling.str();
      arg.nameLoc = argLoc;
      if (!seen.insert(arg.name).second)
        emitError(argLoc, "argument '" + arg.name +
                              "' is given twice in the call of '" + callee +
                              "'");
      sawNamed = true;
      advance(); // the name
      advance(); // '='
    }
    arg.value = parseExpr();
    if (!arg.value)
      return false;
    if (!named && sawNamed)
      emitError(argLoc, "positional argument after named arguments in the "
                        "call of '" +
                            callee + "'");
    args.push_back(std::move(arg));
    if (tok.is(TokenKind::Comma)) {
      advance();
    } else if (!tok.is(TokenKind::RParen)) {
      errorExpectedCloser("')' to close the call of '" + callee + "'");
      return false;
    }
  }
}

std::optional<Module> strata::sg::parseModule(const llvm::SourceMgr &sourceMgr,
                                              unsigned bufferId,
                                              DiagnosticReporter report) {
  Parser parser(sourceMgr, bufferId, report);
  return parser.parseModule();
}
