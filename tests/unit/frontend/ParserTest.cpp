//===- ParserTest.cpp - Tests of the .sg parser ---------------------------===//

#include "strata/Frontend/Parser.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

using namespace strata::sg;

namespace {

/// Parses a buffer, keeping the SourceMgr alive (the tree's locations point
/// into it) and the errors as "line:col: message".
struct Parsed {
  explicit Parsed(llvm::StringRef text) {
    bufferId = sourceMgr.AddNewSourceBuffer(
        llvm::MemoryBuffer::getMemBufferCopy(text, "test.sg"), llvm::SMLoc());
    auto report = [&](llvm::SMLoc loc, const llvm::Twine &message) {
      errors.push_back(position(loc) + ": " + message.str());
    };
    module = parseModule(sourceMgr, bufferId, report);
  }

  std::string position(llvm::SMLoc loc) const {
    if (!loc.isValid())
      return "<invalid>";
    auto [line, col] = sourceMgr.getLineAndColumn(loc, bufferId);
    return std::to_string(line) + ":" + std::to_string(col);
  }

  llvm::SourceMgr sourceMgr;
  unsigned bufferId;
  std::optional<Module> module;
  std::vector<std::string> errors;
};

std::string show(const Expr &expr);

std::string showArgs(const std::vector<Arg> &args) {
  std::string result;
  for (const Arg &arg : args) {
    if (!result.empty())
      result += ", ";
    if (!arg.name.empty())
      result += arg.name + "=";
    result += show(*arg.value);
  }
  return result;
}

/// A fully parenthesized rendering: `(+ a (* b c))`, `f(x, axis=-1) as n`.
std::string show(const Expr &expr) {
  switch (expr.kind) {
  case Expr::Kind::Int:
    return std::to_string(expr.intValue);
  case Expr::Kind::Float: {
    char text[32];
    snprintf(text, sizeof(text), "%g", expr.floatValue);
    return text;
  }
  case Expr::Kind::String:
    return "\"" + expr.text + "\"";
  case Expr::Kind::Bool:
    return expr.boolValue ? "true" : "false";
  case Expr::Kind::Name:
    return expr.text;
  case Expr::Kind::List: {
    std::string result = "[";
    for (size_t i = 0; i < expr.elements.size(); ++i)
      result += (i ? ", " : "") + show(*expr.elements[i]);
    return result + "]";
  }
  case Expr::Kind::Unary:
    return (expr.unaryOp == UnaryOp::Not ? "(not " : "(-") + show(*expr.lhs) +
           ")";
  case Expr::Kind::Binary:
    return std::string("(") + spelling(expr.binaryOp).str() + " " +
           show(*expr.lhs) + " " + show(*expr.rhs) + ")";
  case Expr::Kind::Call: {
    std::string result = expr.text + "(" + showArgs(expr.args) + ")";
    if (!expr.scopeName.empty())
      result += " as " + expr.scopeName;
    return result;
  }
  }
  return "?";
}

std::string show(const TypeExpr &type) {
  switch (type.kind) {
  case TypeExpr::Kind::Int:
    return "int";
  case TypeExpr::Kind::Float:
    return "float";
  case TypeExpr::Kind::Bool:
    return "bool";
  case TypeExpr::Kind::Str:
    return "str";
  case TypeExpr::Kind::Tensor:
    break;
  }
  if (!type.shape)
    return type.elementType.empty() ? "tensor" : type.elementType;
  std::string result = type.elementType + "[";
  for (size_t i = 0; i < type.shape->size(); ++i)
    result += (i ? ", " : "") + show(*(*type.shape)[i]);
  return result + "]";
}

/// The expression of `let x = TEXT` at the top level.
std::string expr(const std::string &text) {
  Parsed parsed("let x = " + text + "\n");
  if (!parsed.module) {
    std::string result = "error:";
    for (const std::string &error : parsed.errors)
      result += " " + error;
    return result;
  }
  return show(*parsed.module->consts.at(0).value);
}

/// The errors of parsing `text`, which must fail.
std::vector<std::string> errorsOf(llvm::StringRef text) {
  Parsed parsed(text);
  EXPECT_FALSE(parsed.module.has_value()) << text.str();
  return parsed.errors;
}

/// The single error of parsing `text`.
std::string errorOf(llvm::StringRef text) {
  std::vector<std::string> errors = errorsOf(text);
  if (errors.size() != 1) {
    std::string all = std::to_string(errors.size()) + " errors:";
    for (const std::string &error : errors)
      all += " [" + error + "]";
    return all;
  }
  return errors[0];
}

//===----------------------------------------------------------------------===//
// Well-formed input
//===----------------------------------------------------------------------===//

TEST(ParserTest, DocumentationExample) {
  Parsed parsed(R"(# A two-layer perceptron.
def mlp(x: f32[B, D], hidden: int, classes: int, targets: i32[B]) {
  param w1: f32[D, hidden] = normal(std = 0.02)
  param b1: f32[hidden] = zeros
  param w2: f32[hidden, classes] = normal(std = 0.02)
  param b2: f32[classes] = zeros
  let h = relu(x @ w1 + b1)
  return cross_entropy(h @ w2 + b2, targets)
}

model mnist_mlp = mlp(hidden = 256, classes = 10, B = 32, D = 784)
)");
  ASSERT_TRUE(parsed.module) << parsed.errors.at(0);
  const Module &module = *parsed.module;
  ASSERT_EQ(module.defs.size(), 1u);
  const DefDecl &def = module.defs[0];
  EXPECT_EQ(def.name, "mlp");
  EXPECT_EQ(parsed.position(def.loc), "2:1");
  ASSERT_EQ(def.args.size(), 4u);
  EXPECT_EQ(def.args[0].name, "x");
  EXPECT_EQ(parsed.position(def.args[0].loc), "2:9");
  EXPECT_EQ(show(def.args[0].type), "f32[B, D]");
  EXPECT_EQ(show(def.args[1].type), "int");
  EXPECT_EQ(show(def.args[3].type), "i32[B]");
  EXPECT_TRUE(def.results.empty());

  ASSERT_EQ(def.body.size(), 6u);
  const Stmt &w1 = *def.body[0];
  EXPECT_EQ(w1.kind, Stmt::Kind::Param);
  EXPECT_EQ(w1.names, std::vector<std::string>{"w1"});
  EXPECT_EQ(parsed.position(w1.loc), "3:3");
  EXPECT_EQ(parsed.position(w1.nameLocs[0]), "3:9");
  EXPECT_EQ(show(w1.type), "f32[D, hidden]");
  EXPECT_EQ(parsed.position(w1.type.loc), "3:13");
  EXPECT_EQ(show(*w1.value), "normal(std=0.02)");
  EXPECT_EQ(show(*def.body[1]->value), "zeros");

  const Stmt &h = *def.body[4];
  EXPECT_EQ(h.kind, Stmt::Kind::Let);
  EXPECT_EQ(show(*h.value), "relu((+ (@ x w1) b1))");
  const Stmt &ret = *def.body[5];
  EXPECT_EQ(ret.kind, Stmt::Kind::Return);
  ASSERT_EQ(ret.values.size(), 1u);
  EXPECT_EQ(show(*ret.values[0]), "cross_entropy((+ (@ h w2) b2), targets)");

  ASSERT_EQ(module.models.size(), 1u);
  const ModelDecl &model = module.models[0];
  EXPECT_EQ(model.name, "mnist_mlp");
  EXPECT_EQ(model.callee, "mlp");
  EXPECT_EQ(parsed.position(model.loc), "11:1");
  EXPECT_EQ(parsed.position(model.calleeLoc), "11:19");
  EXPECT_EQ(showArgs(model.args), "hidden=256, classes=10, B=32, D=784");
  EXPECT_EQ(parsed.position(model.args[2].nameLoc), "11:51");
}

TEST(ParserTest, EmptyAndCommentOnlyFiles) {
  for (llvm::StringRef text : {"", "\n\n", "# nothing\n// here\n", ";;\n;"}) {
    Parsed parsed(text);
    ASSERT_TRUE(parsed.module) << text.str();
    EXPECT_TRUE(parsed.module->defs.empty());
    EXPECT_TRUE(parsed.module->consts.empty());
    EXPECT_TRUE(parsed.module->models.empty());
  }
}

TEST(ParserTest, TopLevelConstants) {
  Parsed parsed("let n_layer = 12\nlet eps = 1e-5; let name = \"gpt\"\n"
                "let dims = [768, 4 * 768]\nlet on = true\n");
  ASSERT_TRUE(parsed.module);
  const auto &consts = parsed.module->consts;
  ASSERT_EQ(consts.size(), 5u);
  EXPECT_EQ(consts[0].name, "n_layer");
  EXPECT_EQ(parsed.position(consts[0].loc), "1:1");
  EXPECT_EQ(show(*consts[1].value), "1e-05");
  EXPECT_EQ(consts[2].name, "name");
  EXPECT_EQ(parsed.position(consts[2].loc), "2:17");
  EXPECT_EQ(show(*consts[2].value), "\"gpt\"");
  EXPECT_EQ(show(*consts[3].value), "[768, (* 4 768)]");
  EXPECT_EQ(show(*consts[4].value), "true");
}

TEST(ParserTest, Types) {
  Parsed parsed("def f(a: f32[B, T, 4*D], b: f32[], c: [B, T], d: tensor,\n"
                "      e: int, g: float = 1e-5, h: bool = false, i: str = "
                "\"x\", j: bf16[2,],) -> f32[] {\n"
                "  return a\n"
                "}\n");
  ASSERT_TRUE(parsed.module) << parsed.errors.at(0);
  const DefDecl &def = parsed.module->defs[0];
  std::vector<std::string> types;
  for (const ArgDecl &arg : def.args)
    types.push_back(show(arg.type));
  EXPECT_EQ(types, (std::vector<std::string>{"f32[B, T, (* 4 D)]", "f32[]",
                                             "[B, T]", "tensor", "int", "float",
                                             "bool", "str", "bf16[2]"}));
  EXPECT_TRUE(def.args[1].type.shape.has_value());
  EXPECT_TRUE(def.args[1].type.shape->empty());
  EXPECT_FALSE(def.args[3].type.shape.has_value());
  EXPECT_EQ(def.args[2].type.elementType, "");
  EXPECT_EQ(def.args[4].defaultValue, nullptr);
  EXPECT_EQ(show(*def.args[5].defaultValue), "1e-05");
  EXPECT_EQ(show(*def.args[7].defaultValue), "\"x\"");
  ASSERT_EQ(def.results.size(), 1u);
  EXPECT_EQ(show(def.results[0]), "f32[]");
}

TEST(ParserTest, SeveralResultTypes) {
  for (llvm::StringRef text :
       {"def f(x: tensor) -> f32[N], i32[N] { return x, x }",
        "def f(x: tensor) -> (f32[N], i32[N]) { return x, x }",
        "def f(x: tensor) -> (f32[N], i32[N],) { return x, x }"}) {
    Parsed parsed(text);
    ASSERT_TRUE(parsed.module) << text.str() << ": " << parsed.errors.at(0);
    const DefDecl &def = parsed.module->defs[0];
    ASSERT_EQ(def.results.size(), 2u);
    EXPECT_EQ(show(def.results[1]), "i32[N]");
    EXPECT_EQ(def.body[0]->values.size(), 2u);
  }
}

TEST(ParserTest, Statements) {
  Parsed parsed(R"(def block(x: f32[B, T, D], n_head: int) -> f32[B, T, D] {
  param w: f32[D, 4*D] = normal(std = 0.02) {sparsity = "2:4"}
  param s: f32[D] {
    shard = ["tp"],
    precision = "bf16",
  }
  let q, k, v = split(x, 3, axis = -1) {precision = "fp8"}
  x = x + attention(q, k, v) as attn
  a, b = topk(x, k = 2)
  for h in 0..n_layer - 1 { x = block(x, n_head) as layer; y = x }
  return x
})");
  ASSERT_TRUE(parsed.module) << parsed.errors.at(0);
  const auto &body = parsed.module->defs[0].body;
  ASSERT_EQ(body.size(), 7u);

  const Stmt &w = *body[0];
  EXPECT_EQ(show(*w.value), "normal(std=0.02)");
  ASSERT_EQ(w.attrs.size(), 1u);
  EXPECT_EQ(w.attrs[0].key, "sparsity");
  EXPECT_EQ(parsed.position(w.attrs[0].keyLoc), "2:46");
  EXPECT_EQ(show(*w.attrs[0].value), "\"2:4\"");

  const Stmt &s = *body[1];
  EXPECT_EQ(s.value, nullptr);
  ASSERT_EQ(s.attrs.size(), 2u);
  EXPECT_EQ(show(*s.attrs[0].value), "[\"tp\"]");
  EXPECT_EQ(s.attrs[1].key, "precision");

  const Stmt &let = *body[2];
  EXPECT_EQ(let.kind, Stmt::Kind::Let);
  EXPECT_EQ(let.names, (std::vector<std::string>{"q", "k", "v"}));
  EXPECT_EQ(parsed.position(let.nameLocs[2]), "7:13");
  EXPECT_EQ(show(*let.value), "split(x, 3, axis=(-1))");
  EXPECT_EQ(let.attrs.size(), 1u);

  const Stmt &assign = *body[3];
  EXPECT_EQ(assign.kind, Stmt::Kind::Assign);
  EXPECT_EQ(parsed.position(assign.loc), "8:3");
  EXPECT_EQ(show(*assign.value), "(+ x attention(q, k, v) as attn)");

  EXPECT_EQ(body[4]->kind, Stmt::Kind::Assign);
  EXPECT_EQ(body[4]->names, (std::vector<std::string>{"a", "b"}));

  const Stmt &loop = *body[5];
  EXPECT_EQ(loop.kind, Stmt::Kind::For);
  EXPECT_EQ(loop.names, std::vector<std::string>{"h"});
  EXPECT_EQ(show(*loop.lo), "0");
  EXPECT_EQ(show(*loop.hi), "(- n_layer 1)");
  ASSERT_EQ(loop.body.size(), 2u);
  EXPECT_EQ(show(*loop.body[0]->value), "block(x, n_head) as layer");
  EXPECT_EQ(body[6]->kind, Stmt::Kind::Return);
}

TEST(ParserTest, NestedLoops) {
  // A body's '{' may also open on the next line.
  Parsed parsed("def f(x: tensor)\n{\n"
                "  for i in 0..2\n  {\n"
                "    for j in i..3 {\n"
                "      x = x * 2\n"
                "    }\n"
                "  }\n"
                "  return x\n"
                "}\n");
  ASSERT_TRUE(parsed.module) << parsed.errors.at(0);
  const Stmt &outer = *parsed.module->defs[0].body[0];
  ASSERT_EQ(outer.body.size(), 1u);
  EXPECT_EQ(outer.body[0]->kind, Stmt::Kind::For);
  EXPECT_EQ(outer.body[0]->body.size(), 1u);
}

TEST(ParserTest, Precedence) {
  EXPECT_EQ(expr("a + b * c"), "(+ a (* b c))");
  EXPECT_EQ(expr("a * b + c"), "(+ (* a b) c)");
  EXPECT_EQ(expr("a - b - c"), "(- (- a b) c)");
  EXPECT_EQ(expr("a / b // c % d @ e"), "(@ (% (// (/ a b) c) d) e)");
  EXPECT_EQ(expr("x @ w + b"), "(+ (@ x w) b)");
  EXPECT_EQ(expr("-a * b"), "(* (-a) b)");
  EXPECT_EQ(expr("-a @ b"), "(@ (-a) b)");
  EXPECT_EQ(expr("2 * -3"), "(* 2 (-3))");
  EXPECT_EQ(expr("- -a"), "(-(-a))");
  EXPECT_EQ(expr("a - -b"), "(- a (-b))");
  EXPECT_EQ(expr("(a + b) * c"), "(* (+ a b) c)");
  EXPECT_EQ(expr("-f(x) as n + 1"), "(+ (-f(x) as n) 1)");
  EXPECT_EQ(expr("0.02 / sqrt(2 * n_layer)"), "(/ 0.02 sqrt((* 2 n_layer)))");
  EXPECT_EQ(expr("a // 2"), "(// a 2)");
}

TEST(ParserTest, Atoms) {
  EXPECT_EQ(expr("42"), "42");
  EXPECT_EQ(expr("3.0e+2"), "300");
  EXPECT_EQ(expr("\"a\\tb\""), "\"a\tb\"");
  EXPECT_EQ(expr("false"), "false");
  EXPECT_EQ(expr("bf16"), "bf16");
  EXPECT_EQ(expr("[]"), "[]");
  EXPECT_EQ(expr("[1, [2, 3], x,]"), "[1, [2, 3], x]");
  EXPECT_EQ(expr("f()"), "f()");
  EXPECT_EQ(expr("f(a, b,)"), "f(a, b)");
  EXPECT_EQ(expr("cast(x, bf16)"), "cast(x, bf16)");
  EXPECT_EQ(expr("reshape(x, [-1, D])"), "reshape(x, [(-1), D])");
}

TEST(ParserTest, NewlinesInsideBrackets) {
  EXPECT_EQ(expr("matmul(\n  a,\n\n  b, # comment\n  transpose_b = true\n)"),
            "matmul(a, b, transpose_b=true)");
  EXPECT_EQ(expr("[1,\n 2]"), "[1, 2]");
  EXPECT_EQ(expr("(a\n + b)"), "(+ a b)");
  EXPECT_EQ(expr("f(axis\n = 1)"), "f(axis=1)");
}

TEST(ParserTest, Locations) {
  Parsed parsed("let x = a + f(b, k = -c) as s * [d]");
  ASSERT_TRUE(parsed.module);
  const Expr &add = *parsed.module->consts[0].value;
  EXPECT_EQ(add.kind, Expr::Kind::Binary);
  EXPECT_EQ(parsed.position(add.loc), "1:11"); // the operator
  EXPECT_EQ(parsed.position(add.lhs->loc), "1:9");
  const Expr &mul = *add.rhs;
  EXPECT_EQ(parsed.position(mul.loc), "1:31");
  const Expr &call = *mul.lhs;
  EXPECT_EQ(call.kind, Expr::Kind::Call);
  EXPECT_EQ(parsed.position(call.loc), "1:13");
  EXPECT_EQ(parsed.position(call.args[1].nameLoc), "1:18");
  EXPECT_EQ(parsed.position(call.args[1].value->loc), "1:22"); // the '-'
  EXPECT_EQ(call.args[0].nameLoc.isValid(), false);
  EXPECT_EQ(call.scopeName, "s");
  EXPECT_EQ(parsed.position(call.scopeNameLoc), "1:29");
  EXPECT_EQ(parsed.position(mul.rhs->loc), "1:33"); // the '['
}

TEST(ParserTest, DoubleSlashCommentsAndDivision) {
  Parsed parsed("// RUN: strata-opt %s\n"
                "let half = n // 2 # a trailing comment\n"
                "// -----\n"
                "let y = // comment after '='\n"
                "  3\n");
  // `let y =` then a comment: the newline ends the statement, so it fails.
  EXPECT_FALSE(parsed.module);
  EXPECT_EQ(parsed.errors, (std::vector<std::string>{
                               "4:8: expected an expression, found newline",
                               "5:3: expected 'def', 'model', 'let' or "
                               "'import' at the top level, found "
                               "'3'"}));

  Parsed good("// RUN: x\nlet half = n // 2 # c\n// -----\nlet y = 3\n");
  ASSERT_TRUE(good.module);
  EXPECT_EQ(show(*good.module->consts[0].value), "(// n 2)");
}

TEST(ParserTest, PrintingReporterFormat) {
  llvm::SourceMgr sourceMgr;
  unsigned id = sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy("let x = matmul(a, b\nlet y = 1\n",
                                           "model.sg"),
      llvm::SMLoc());
  std::string out;
  llvm::raw_string_ostream os(out);
  PrintingReporter reporter(sourceMgr, os);
  EXPECT_FALSE(parseModule(sourceMgr, id, reporter));
  EXPECT_EQ(reporter.getNumErrors(), 1u);
  EXPECT_EQ(out, "model.sg:1:20: error: expected ')' to close the call of "
                 "'matmul', found newline\n"
                 "let x = matmul(a, b\n"
                 "                   ^\n");

  // The shorthand, as tools use it.
  std::string out2;
  llvm::raw_string_ostream os2(out2);
  EXPECT_FALSE(parseModule(sourceMgr, id, printingReporter(sourceMgr, os2)));
  EXPECT_EQ(out2, out);
}

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

TEST(ParserTest, ComparisonAndLogicPrecedence) {
  // Loosest first: or, and, not, comparisons, + -, * / // % @, unary -.
  EXPECT_EQ(expr("a or b and c"), "(or a (and b c))");
  EXPECT_EQ(expr("a and b or c"), "(or (and a b) c)");
  EXPECT_EQ(expr("not a and b"), "(and (not a) b)");
  EXPECT_EQ(expr("not a == b"), "(not (== a b))");
  EXPECT_EQ(expr("not not a"), "(not (not a))");
  EXPECT_EQ(expr("a + 1 < b * 2"), "(< (+ a 1) (* b 2))");
  EXPECT_EQ(expr("a == b or c != d"), "(or (== a b) (!= c d))");
  EXPECT_EQ(expr("a <= b and b >= -c"), "(and (<= a b) (>= b (-c)))");
  EXPECT_EQ(expr("a > b"), "(> a b)");
  EXPECT_EQ(expr("(a < b) == c"), "(== (< a b) c)");
  EXPECT_EQ(expr("a or b or c"), "(or (or a b) c)");
  EXPECT_EQ(expr("g == \"softmax\""), "(== g \"softmax\")");
  // A named argument is `name = value`; `name == value` is a comparison.
  EXPECT_EQ(expr("f(a == 1, b = 2)"), "f((== a 1), b=2)");
}

TEST(ParserTest, ComparisonErrors) {
  EXPECT_EQ(expr("a < b < c"),
            "error: 1:15: comparisons do not chain; write 'a < b and b < c'");
  EXPECT_EQ(expr("a and"),
            "error: 1:14: expected an expression, found newline");
  EXPECT_EQ(expr("not"), "error: 1:12: expected an expression, found newline");
}

TEST(ParserTest, IfStatements) {
  Parsed parsed(R"(def f(x: tensor, g: str) {
  if g == "a" { x = x * 2 }
  if g == "b" {
    x = x + 1
  } else if g == "c" {
    x = x - 1
  }
  else {
    error("unknown g")
  }
  if true
  {
    let y = x
  }
  return x
})");
  ASSERT_TRUE(parsed.module) << parsed.errors.at(0);
  const auto &body = parsed.module->defs[0].body;
  ASSERT_EQ(body.size(), 4u);
  const Stmt &first = *body[0];
  EXPECT_EQ(first.kind, Stmt::Kind::If);
  EXPECT_EQ(show(*first.value), "(== g \"a\")");
  EXPECT_EQ(first.body.size(), 1u);
  EXPECT_TRUE(first.elseBody.empty());

  const Stmt &chain = *body[1];
  EXPECT_EQ(parsed.position(chain.loc), "3:3");
  ASSERT_EQ(chain.elseBody.size(), 1u);
  const Stmt &elseIf = *chain.elseBody[0];
  EXPECT_EQ(elseIf.kind, Stmt::Kind::If);
  EXPECT_EQ(parsed.position(elseIf.loc), "5:10");
  EXPECT_EQ(show(*elseIf.value), "(== g \"c\")");
  ASSERT_EQ(elseIf.elseBody.size(), 1u);
  EXPECT_EQ(elseIf.elseBody[0]->kind, Stmt::Kind::Error);
  EXPECT_EQ(show(*elseIf.elseBody[0]->value), "error(\"unknown g\")");

  EXPECT_EQ(body[2]->kind, Stmt::Kind::If);
  EXPECT_EQ(body[2]->body.size(), 1u);
  EXPECT_EQ(body[3]->kind, Stmt::Kind::Return);
}

TEST(ParserTest, IfErrors) {
  auto inDef = [](const std::string &body) {
    return errorOf("def f(x: tensor) {\n" + body + "\n}\n");
  };
  EXPECT_EQ(inDef("  if { x = x }"), "2:6: expected an expression, found '{'");
  EXPECT_EQ(inDef("  if a x = x"),
            "2:8: expected '{' to open the body of the 'if', found 'x'");
  EXPECT_EQ(inDef("  if a { x = x } else x = x"),
            "2:23: expected '{' to open the body of the 'else', found 'x'");
  EXPECT_EQ(inDef("  else { x = x }"), "2:3: 'else' without an 'if' before it");
  EXPECT_EQ(
      inDef("  import \"a.sg\""),
      "2:3: 'import' is a top-level item; it cannot appear inside a body");
  // Other calls still need a binding; only error(...) stands alone.
  EXPECT_EQ(inDef("  f(x)"),
            "2:4: expected '=' after 'f', found '(': a call's result must be "
            "bound, as in 'let y = f(...)'");
}

TEST(ParserTest, Imports) {
  Parsed parsed("import \"lib/a.sg\"\nimport \"b.sg\"; let n = 1\n");
  ASSERT_TRUE(parsed.module) << parsed.errors.at(0);
  ASSERT_EQ(parsed.module->imports.size(), 2u);
  EXPECT_EQ(parsed.module->imports[0].path, "lib/a.sg");
  EXPECT_EQ(parsed.position(parsed.module->imports[1].loc), "2:1");
  EXPECT_EQ(parsed.module->imports[1].path, "b.sg");
  EXPECT_EQ(errorOf("import lib"),
            "1:8: expected a file name in quotes after 'import', as in "
            "'import \"lib.sg\"', found 'lib'");
  EXPECT_EQ(errorOf("import \"a.sg\" x"),
            "1:15: expected newline or ';' after the statement, found 'x'");
}

TEST(ParserTest, LongElseIfChainsHitTheNestingLimit) {
  std::string text = "def f(x: tensor) {\n  if a { x = x }";
  for (int i = 0; i < 300; ++i)
    text += " else if a { x = x }";
  text += "\n  return x\n}\n";
  std::vector<std::string> errors = errorsOf(text);
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors[0].find("too deeply nested"), std::string::npos)
      << errors[0];
}

TEST(ParserTest, TopLevelErrors) {
  EXPECT_EQ(
      errorOf("param w: f32[D]"),
      "1:1: expected 'def', 'model', 'let' or 'import' at the top level, found "
      "'param'");
  EXPECT_EQ(
      errorOf("x = 1"),
      "1:1: expected 'def', 'model', 'let' or 'import' at the top level, found "
      "'x'");
  EXPECT_EQ(errorOf("}"), "1:1: expected 'def', 'model', 'let' or 'import' at "
                          "the top level, found '}'");
  EXPECT_EQ(errorOf("let = 3"), "1:5: expected a name after 'let', found '='");
  EXPECT_EQ(errorOf("let in = 3"),
            "1:5: expected a name after 'let', found 'in'");
  EXPECT_EQ(errorOf("let a, b = 3"),
            "1:6: expected '=' after 'let a' (a top-level constant binds one "
            "name), found ','");
  EXPECT_EQ(errorOf("let a 3"), "1:7: expected '=' after 'let a', found '3'");
  EXPECT_EQ(errorOf("let a = 1 2"),
            "1:11: expected newline or ';' after the statement, found '2'");
  EXPECT_EQ(errorOf("model = f()"),
            "1:7: expected the model's name after 'model', found '='");
  EXPECT_EQ(errorOf("model m f()"),
            "1:9: expected '=' after 'model m', found 'f'");
  EXPECT_EQ(errorOf("model m = 3"),
            "1:11: expected the name of a def after 'model m =', found '3'");
  EXPECT_EQ(errorOf("model m = f\n"),
            "1:12: expected '(' after 'model m = f', found newline");
  EXPECT_EQ(errorOf("model m = f(B = 8"),
            "1:18: expected ')' to close the call of 'f', found end of file");
}

TEST(ParserTest, DefErrors) {
  EXPECT_EQ(errorOf("def (x: int) {}"),
            "1:5: expected the def's name after 'def', found '('");
  EXPECT_EQ(errorOf("def f {}"),
            "1:7: expected '(' to open the arguments of def 'f', found '{'");
  EXPECT_EQ(errorOf("def f(1) {}"),
            "1:7: expected an argument name in def 'f', found '1'");
  EXPECT_EQ(errorOf("def f(x) {}"),
            "1:8: expected ':' and a type after argument 'x' of def 'f', found "
            "')'");
  EXPECT_EQ(errorOf("def f(x: f32) {}"),
            "1:13: expected a shape '[...]' after element type 'f32' (write "
            "'f32[]' for a scalar), found ')'");
  EXPECT_EQ(errorOf("def f(x: 3) {}"),
            "1:10: expected a type (such as f32[B, D], [B, D], tensor, int, "
            "float, bool or str), found '3'");
  EXPECT_EQ(errorOf("def f(x: int y: int) {}"),
            "1:14: expected ')' to close the arguments of def 'f', found 'y'");
  EXPECT_EQ(errorOf("def f(x: f32[B) {}"),
            "1:15: expected ']' to close the shape, found ')'");
  EXPECT_EQ(errorOf("def f(x: int, x: int) {}"),
            "1:15: argument 'x' is declared twice in def 'f'");
  EXPECT_EQ(errorOf("def f(x: f32[N] = 3) {}"),
            "1:17: only compile-time arguments (int, float, bool, str) can "
            "have a default value, not tensor argument 'x'");
  EXPECT_EQ(errorOf("def f(x: int) -> {}"),
            "1:18: expected a type (such as f32[B, D], [B, D], tensor, int, "
            "float, bool or str), found '{'");
  EXPECT_EQ(errorOf("def f(x: int) -> (f32[] {}"),
            "1:25: expected ')' to close the result types of def 'f', found "
            "'{'");
  EXPECT_EQ(errorOf("def f(x: int) x"),
            "1:15: expected '{' to open the body of def 'f', found 'x'");
  EXPECT_EQ(errorOf("def f(x: int)\n\nlet y = 1"),
            "1:14: expected '{' to open the body of def 'f', found newline");
  EXPECT_EQ(errorOf("def f(x: int) {\n  return x\n"),
            "2:11: expected '}' to close the body of def 'f', found end of "
            "file");
  EXPECT_EQ(errorOf("def f(x: int) { return x } let y = 1"),
            "1:28: expected newline or ';' after the statement, found 'let'");
}

TEST(ParserTest, StatementErrors) {
  auto inDef = [](const std::string &body) {
    return errorOf("def f(x: tensor) {\n" + body + "\n}\n");
  };
  EXPECT_EQ(inDef("  + x"), "2:3: expected a statement (param, let, for, "
                            "if, return or an assignment), found '+'");
  EXPECT_EQ(inDef("  param : f32[]"),
            "2:9: expected the parameter's name after 'param', found ':'");
  EXPECT_EQ(inDef("  param w = zeros"),
            "2:11: expected ':' and a type after parameter 'w', found '='");
  EXPECT_EQ(inDef("  param w: f32[D] = zeros ones"),
            "2:27: expected newline or ';' after the statement, found 'ones'");
  EXPECT_EQ(inDef("  let a, = x"),
            "2:10: expected a name after 'let a,', found '='");
  EXPECT_EQ(inDef("  let a, b x"),
            "2:12: expected '=' after 'let a, b', found 'x'");
  EXPECT_EQ(inDef("  x + 1"), "2:5: expected '=' to assign to 'x', found '+'");
  EXPECT_EQ(inDef("  relu(x)"),
            "2:7: expected '=' after 'relu', found '(': a call's result must "
            "be bound, as in 'let y = relu(...)'");
  EXPECT_EQ(inDef("  for in 0..3 { }"),
            "2:7: expected the loop variable after 'for', found 'in'");
  EXPECT_EQ(inDef("  for i 0..3 { }"),
            "2:9: expected 'in' after 'for i', found '0'");
  EXPECT_EQ(inDef("  for i in 0 to 3 { }"),
            "2:14: expected '..' between the bounds of the loop over 'i', "
            "found 'to'");
  EXPECT_EQ(inDef("  for i in 0..3\n  x = 1"),
            "2:16: expected '{' to open the body of the loop over 'i', found "
            "newline");
  EXPECT_EQ(inDef("  return"),
            "2:9: expected a value after 'return', found newline");
  EXPECT_EQ(inDef("  return x,"),
            "2:12: expected an expression, found newline");
  EXPECT_EQ(inDef("  let y = x {1 = 2}"),
            "2:14: expected an attribute name, found '1'");
  EXPECT_EQ(inDef("  let y = x {a 2}"),
            "2:16: expected '=' after attribute 'a', found '2'");
  EXPECT_EQ(inDef("  let y = x {a = 1 b = 2}"),
            "2:20: expected '}' to close the attributes, found 'b'");
  EXPECT_EQ(inDef("  let y = x {a = 1, a = 2}"),
            "2:21: attribute 'a' is given twice");
}

TEST(ParserTest, ExpressionErrors) {
  EXPECT_EQ(errorOf("let x = "), "1:8: expected an expression, found end of "
                                 "file");
  EXPECT_EQ(errorOf("let x = )"), "1:9: expected an expression, found ')'");
  EXPECT_EQ(errorOf("let x = +1"), "1:9: expected an expression, found '+'");
  EXPECT_EQ(errorOf("let x = (a + b"),
            "1:15: expected ')' to close '(', found end of file");
  EXPECT_EQ(errorOf("let x = [a b]"),
            "1:12: expected ']' to close the list, found 'b'");
  EXPECT_EQ(errorOf("let x = f(a b)"),
            "1:13: expected ')' to close the call of 'f', found 'b'");
  EXPECT_EQ(errorOf("let x = f(a = 1, 2)"),
            "1:18: positional argument after named arguments in the call of "
            "'f'");
  EXPECT_EQ(errorOf("let x = f(a = 1, a = 2)"),
            "1:18: argument 'a' is given twice in the call of 'f'");
  EXPECT_EQ(errorOf("let x = a as b"),
            "1:11: 'as' names the parameters of a call, so it must follow one, "
            "as in 'f(x) as name'");
  EXPECT_EQ(errorOf("let x = f(a) as 3"),
            "1:17: expected a name after 'as', found '3'");
  EXPECT_EQ(errorOf("let x = \"a\" \"b\""),
            "1:13: expected newline or ';' after the statement, found string "
            "\"b\"");
}

TEST(ParserTest, MissingCloserAtEndOfLine) {
  // The error points where the ')' belongs, and the next line still parses.
  EXPECT_EQ(errorsOf("def f(x: tensor) {\n"
                     "  let h = relu(x @ w1 + b1\n"
                     "  return h $\n"
                     "}\n"),
            (std::vector<std::string>{
                "2:27: expected ')' to close the call of 'relu', found newline",
                "3:12: unexpected character '$'"}));
  EXPECT_EQ(errorsOf("let a = [1, 2\nlet b = (3\nlet c = f(x,\n  y\nlet d ="),
            (std::vector<std::string>{
                "1:14: expected ']' to close the list, found newline",
                "2:11: expected ')' to close '(', found newline",
                "4:4: expected ')' to close the call of 'f', found newline",
                "5:8: expected an expression, found end of file"}));
}

TEST(ParserTest, LexerErrorsAreReportedOnce) {
  // The rest of a bad line is skipped without more errors; the next line's
  // errors are reported.
  EXPECT_EQ(errorsOf("let a = 1 $ $ $\nlet b = 99999999999999999999 $\n"
                     "let c = \"open\nlet d = 1"),
            (std::vector<std::string>{
                "1:11: unexpected character '$'",
                "2:9: integer literal '99999999999999999999' is too large (the "
                "largest is 9223372036854775807)",
                "3:9: unterminated string: expected a closing '\"' before the "
                "end of the line"}));
}

TEST(ParserTest, RecoveryReportsSeveralErrors) {
  EXPECT_EQ(errorsOf(R"(let a = 1 +
def f(x: tensor) {
  param w: f32[D] = normal(std = ) {sparsity = "2:4"}
  let h = matmul(x, w
  x = h @ @ w
  for i in 0..3 {
    x = f(x, [1, 2)
    y = 1
  }
  return x
}
def g(x: tensor) {
  let y = ]
model m = f(B = 8)
model n = g(
  B = 8,
  C = $,
)
let ok = 1
let z = 1 2
)"),
            (std::vector<std::string>{
                "1:12: expected an expression, found newline",
                "3:34: expected an expression, found ')'",
                "4:22: expected ')' to close the call of 'matmul', found "
                "newline",
                "5:11: expected an expression, found '@'",
                "7:19: expected ']' to close the list, found ')'",
                "13:11: expected an expression, found ']'",
                "14:1: expected '}' to close the body of def 'g', found "
                "'model'",
                "17:7: unexpected character '$'",
                "20:11: expected newline or ';' after the statement, found "
                "'2'"}));
}

TEST(ParserTest, BrokenDefHeaderSkipsItsBody) {
  // Only the header's error: the body is skipped, up to the next item.
  EXPECT_EQ(errorsOf("def f(x: f32, n: int) {\n"
                     "  let y = x\n"
                     "  for i in 0..n { y = y + 1 }\n"
                     "  return y\n"
                     "}\n"
                     "let c = 1\n"
                     "model m = f(n = $)\n"),
            (std::vector<std::string>{
                "1:13: expected a shape '[...]' after element type 'f32' "
                "(write 'f32[]' for a scalar), found ','",
                "7:17: unexpected character '$'"}));
}

TEST(ParserTest, StopsAfterMaxErrors) {
  std::string text;
  for (int i = 0; i < 50; ++i)
    text += "let x = )\n";
  std::vector<std::string> errors = errorsOf(text);
  ASSERT_EQ(errors.size(), kMaxParseErrors);
  EXPECT_EQ(errors.back(), "20:9: expected an expression, found ')'");
}

//===----------------------------------------------------------------------===//
// Pathological input
//===----------------------------------------------------------------------===//

const std::string kTooDeep =
    "too deeply nested: more than 256 levels of brackets, calls, operators or "
    "blocks";

TEST(ParserTest, DeepNestingIsAnError) {
  std::string parens =
      "let x = " + std::string(100000, '(') + "1" + std::string(100000, ')');
  EXPECT_EQ(errorOf(parens), "1:265: " + kTooDeep);

  std::string lists = "let x = " + std::string(100000, '[');
  EXPECT_EQ(errorOf(lists), "1:265: " + kTooDeep);

  std::string minus = "let x = " + std::string(100000, '-') + "1";
  EXPECT_EQ(errorOf(minus), "1:265: " + kTooDeep);

  std::string calls = "let x = ";
  for (int i = 0; i < 10000; ++i)
    calls += "f(";
  EXPECT_EQ(errorOf(calls), "1:522: " + kTooDeep);

  // A long operator chain builds a deep tree too.
  std::string chain = "let x = 1";
  for (int i = 0; i < 100000; ++i)
    chain += "+1";
  EXPECT_EQ(errorOf(chain), "1:522: " + kTooDeep);

  std::string loops = "def f(x: tensor) {\n";
  for (int i = 0; i < 10000; ++i)
    loops += "for i in 0..1 {\n";
  std::vector<std::string> errors = errorsOf(loops);
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0], "257:15: " + kTooDeep);
}

TEST(ParserTest, NestingBelowTheLimitIsFine) {
  std::string text =
      "let x = " + std::string(200, '(') + "1" + std::string(200, ')');
  EXPECT_EQ(expr(std::string(200, '(') + "1" + std::string(200, ')')), "1");
  std::string chain = "1";
  for (int i = 0; i < 200; ++i)
    chain += " + 1";
  Parsed parsed("let x = " + chain);
  EXPECT_TRUE(parsed.module);
}

TEST(ParserTest, HugeNumbers) {
  EXPECT_EQ(errorOf("let x = 18446744073709551616"),
            "1:9: integer literal '18446744073709551616' is too large (the "
            "largest is 9223372036854775807)");
  EXPECT_EQ(errorOf("let x = 1e400"),
            "1:9: float literal '1e400' is out of range");
  EXPECT_EQ(expr("9223372036854775807"), "9223372036854775807");
  EXPECT_EQ(expr("1e-400"), "0");
  std::string digits(100000, '7');
  EXPECT_EQ(errorOf("let x = " + digits),
            "1:9: integer literal '" + std::string(32, '7') +
                "...' is too large (the largest is 9223372036854775807)");
}

TEST(ParserTest, NulBytesAndInvalidUtf8) {
  EXPECT_EQ(errorsOf(llvm::StringRef("let x = 1\0\nlet y = \xFF\n", 21)),
            (std::vector<std::string>{"1:10: unexpected byte 0x00",
                                      "2:9: invalid UTF-8 byte 0xFF"}));
  EXPECT_EQ(errorOf(llvm::StringRef("\0", 1)), "1:1: unexpected byte 0x00");
}

/// Parsing arbitrary bytes must terminate, report at least one error for a
/// failed parse, and never more than the limit. (The fuzzer in tests/fuzz
/// explores far more; this keeps a cheap version in every test run.)
TEST(ParserTest, RandomInputNeverCrashes) {
  std::mt19937 rng(1234);
  const std::string alphabet = "defmodelparamforinreturnas x1.e([{}])\n,:;=-> "
                               "+*/%@#\"\\\t0..9";
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    size_t length = rng() % 200;
    bool bytes = round % 3 == 0;
    for (size_t i = 0; i < length; ++i)
      text += bytes ? static_cast<char>(rng() % 256)
                    : alphabet[rng() % alphabet.size()];
    Parsed parsed(text);
    if (!parsed.module)
      EXPECT_FALSE(parsed.errors.empty()) << text;
    EXPECT_LE(parsed.errors.size(), kMaxParseErrors);
  }
}

} // namespace
