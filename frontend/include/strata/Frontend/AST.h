//===- AST.h - Syntax tree of the Strata graph language ---------*- C++ -*-===//
//
// The parser produces this tree; the importer (Import.h) walks it and emits the
// strata.graph dialect. The tree is purely syntactic: names are not resolved
// and nothing is evaluated here. Every node carries the source location of the
// token that starts it (for a binary expression: its operator), so that any
// later error can point at the model file.
//
// The language itself is described in docs/graph-ir.md.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_FRONTEND_AST_H
#define STRATA_FRONTEND_AST_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/SMLoc.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace strata::sg {

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

/// A call argument: positional when `name` is empty, else `name = value`.
struct Arg {
  std::string name;
  llvm::SMLoc nameLoc;
  ExprPtr value;
};

enum class BinaryOp {
  Add,
  Sub,
  Mul,
  Div,
  FloorDiv,
  Mod,
  MatMul,
  // Comparisons and logic, on compile-time values only.
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  And,
  Or,
};
/// The operator as written in the source: `+`, `//`, `and`, ...
inline llvm::StringRef spelling(BinaryOp op) {
  switch (op) {
  case BinaryOp::Add:
    return "+";
  case BinaryOp::Sub:
    return "-";
  case BinaryOp::Mul:
    return "*";
  case BinaryOp::Div:
    return "/";
  case BinaryOp::FloorDiv:
    return "//";
  case BinaryOp::Mod:
    return "%";
  case BinaryOp::MatMul:
    return "@";
  case BinaryOp::Eq:
    return "==";
  case BinaryOp::Ne:
    return "!=";
  case BinaryOp::Lt:
    return "<";
  case BinaryOp::Le:
    return "<=";
  case BinaryOp::Gt:
    return ">";
  case BinaryOp::Ge:
    return ">=";
  case BinaryOp::And:
    return "and";
  case BinaryOp::Or:
    return "or";
  }
  llvm_unreachable("unknown binary op");
}

enum class UnaryOp { Neg, Not };

struct Expr {
  enum class Kind {
    Int,    ///< 42
    Float,  ///< 0.02, 1e-5
    String, ///< "2:4"
    Bool,   ///< true, false
    Name,   ///< x, n_layer, bf16
    List,   ///< [a, b, c]
    Unary,  ///< -x, not x
    Binary, ///< a + b, a @ b, a < b, a and b
    Call,   ///< f(a, b, axis = -1) [as name]
  };

  Kind kind;
  llvm::SMLoc loc;

  // Literals.
  int64_t intValue = 0;
  double floatValue = 0.0;
  bool boolValue = false;
  std::string text; ///< String literal contents (unescaped), or Name / callee.

  // Unary / Binary.
  UnaryOp unaryOp = UnaryOp::Neg;
  BinaryOp binaryOp = BinaryOp::Add;
  ExprPtr lhs, rhs; ///< Unary uses lhs only.

  // List elements, or Call's callee name (in `text`) and arguments.
  std::vector<ExprPtr> elements;
  std::vector<Arg> args;
  /// Call only: `f(x) as name` names the scope of the parameters that the
  /// call creates. Empty when absent.
  std::string scopeName;
  llvm::SMLoc scopeNameLoc;

  Expr(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
};

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

/// A type as written: `f32[B, T, 4*D]`, `[B, T]` (any element type), `f32[]`
/// (a scalar tensor), `tensor` (any tensor), or one of the compile-time kinds
/// `int`, `float`, `bool`, `str` (for def arguments only).
struct TypeExpr {
  enum class Kind { Tensor, Int, Float, Bool, Str };
  Kind kind = Kind::Tensor;
  llvm::SMLoc loc;
  /// Element type name as written (`f32`, `bf16`, `f8e4m3`, `i32`, ...).
  /// Empty means "any element type".
  std::string elementType;
  /// Absent for the bare `tensor` (any rank); present (possibly empty, for a
  /// scalar) when a `[...]` shape was written.
  std::optional<std::vector<ExprPtr>> shape;
};

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

/// `{key = value, ...}` written after a param or let statement.
struct AttrEntry {
  std::string key;
  llvm::SMLoc keyLoc;
  ExprPtr value;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;

struct Stmt {
  enum class Kind {
    Param,  ///< param w: f32[D, F] = normal(std = 0.02) {sparsity = "2:4"}
    Let,    ///< let a, b = expr {attrs}
    Assign, ///< a = expr {attrs}    (rebinds an existing local)
    For,    ///< for i in lo..hi { body }
    If,     ///< if cond { body } else { elseBody }
    Error,  ///< error("message"): value is the call
    Return, ///< return a, b
  };

  Kind kind;
  llvm::SMLoc loc;

  // Param: name, type, initializer (optional), attributes.
  // Let/Assign: names (targets), value, attributes.
  // For: names[0] is the induction variable, lo/hi bounds, body.
  // If: value is the condition, body the taken branch, elseBody the other
  // (empty when no `else`; `else if` is an If statement alone in it).
  // Return: values.
  std::vector<std::string> names;
  std::vector<llvm::SMLoc> nameLocs;
  TypeExpr type;
  ExprPtr value; ///< Param initializer / Let/Assign right-hand side.
  ExprPtr lo, hi;
  std::vector<StmtPtr> body;
  std::vector<StmtPtr> elseBody;
  std::vector<ExprPtr> values;
  std::vector<AttrEntry> attrs;

  Stmt(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
};

//===----------------------------------------------------------------------===//
// Top-level items
//===----------------------------------------------------------------------===//

/// An argument of a def: `x: f32[B, T, D]`, `n_head: int`, `eps: float = 1e-5`.
struct ArgDecl {
  std::string name;
  llvm::SMLoc loc;
  TypeExpr type;
  ExprPtr defaultValue; ///< Only for compile-time kinds; may be null.
};

/// `def name(args) -> results { body }`: a reusable block.
struct DefDecl {
  std::string name;
  llvm::SMLoc loc;
  std::vector<ArgDecl> args;
  std::vector<TypeExpr> results; ///< Empty when no `->` was written.
  std::vector<StmtPtr> body;
};

/// `let NAME = expr` at top level: a compile-time constant.
struct ConstDecl {
  std::string name;
  llvm::SMLoc loc;
  ExprPtr value;
};

/// `model NAME = def_name(args)`: an entry point; the def's tensor arguments
/// become the model's inputs, named arguments bind its compile-time arguments
/// and shape variables.
struct ModelDecl {
  std::string name;
  llvm::SMLoc loc;
  std::string callee;
  llvm::SMLoc calleeLoc;
  std::vector<Arg> args;
};

/// `import "path.sg"`: the constants and defs of another file, its path
/// relative to the directory of the importing file.
struct ImportDecl {
  std::string path;
  llvm::SMLoc loc;
};

/// A whole `.sg` file, items in source order.
struct Module {
  std::vector<ImportDecl> imports;
  std::vector<ConstDecl> consts;
  std::vector<DefDecl> defs;
  std::vector<ModelDecl> models;
};

} // namespace strata::sg

#endif // STRATA_FRONTEND_AST_H
