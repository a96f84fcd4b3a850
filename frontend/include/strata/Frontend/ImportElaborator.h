//===- ImportElaborator.h - Elaboration of a .sg model ----------*- C++ -*-===//
//
// The machinery behind importModel (Import.h), shared by the files of the
// importer: the values an expression evaluates to, the scopes that name them,
// and the Elaborator that walks the syntax tree of one model and emits the
// strata.graph dialect. Not an API for other libraries: include Import.h.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_FRONTEND_IMPORTELABORATOR_H
#define STRATA_FRONTEND_IMPORTELABORATOR_H

#include "strata/Frontend/AST.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/SourceMgr.h"

#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace strata::sg {

/// How much elaboration one import may do: statements run, loop iterations
/// and ops built, together. A model that expands further is an error rather
/// than a compiler that runs for minutes; the largest example
/// (deepseek_moe_16b) needs a few thousand.
inline constexpr int64_t kMaxElaborationWork = 2'000'000;

/// One parsed `.sg` file of an import: the file named on the command line
/// and every file it imports, directly or not.
struct SourceFile {
  SourceFile() = default;
  // Moved, never copied (the syntax tree owns its nodes); noexcept so that a
  // growing std::vector moves rather than tries to copy.
  SourceFile(SourceFile &&) noexcept = default;
  SourceFile &operator=(SourceFile &&) noexcept = default;

  unsigned bufferId = 0;
  Module ast;
  /// The top-level names (constants and defs) that code in this file may
  /// use, its own and those of the files it imports, transitively, each
  /// with the location of its definition.
  llvm::StringMap<llvm::SMLoc> visible;
};

/// What an expression evaluates to: a compile-time value or a tensor.
struct SgValue {
  enum class Kind {
    Int,    ///< 42, or a dynamic dimension (see `dynamic`)
    Float,  ///< 0.02
    Bool,   ///< true
    Str,    ///< "2:4"
    DType,  ///< f32, bf16 (an element type used as a value)
    List,   ///< [a, b]: compile-time values or tensors
    Tensor, ///< an SSA value of ranked tensor type
    Tuple,  ///< the results of a call with several results
  };

  Kind kind = Kind::Int;
  int64_t intValue = 0;
  /// Int only: the value is a dimension unknown until run time (a shape
  /// variable the model leaves unbound). `dynamicName` names its source.
  bool dynamic = false;
  std::string dynamicName;
  double floatValue = 0.0;
  bool boolValue = false;
  std::string str;
  mlir::Type dtype;
  std::vector<SgValue> elements; ///< List and Tuple.
  mlir::Value tensor;

  static SgValue ofInt(int64_t v);
  static SgValue ofDynamic(llvm::StringRef name);
  static SgValue ofFloat(double v);
  static SgValue ofBool(bool v);
  static SgValue ofStr(llvm::StringRef v);
  static SgValue ofDType(mlir::Type t);
  static SgValue ofTensor(mlir::Value v);
  static SgValue ofList(std::vector<SgValue> elements);
  static SgValue ofTuple(std::vector<SgValue> elements);

  bool isNumber() const { return kind == Kind::Int || kind == Kind::Float; }
  bool isTensor() const { return kind == Kind::Tensor; }
  mlir::RankedTensorType tensorType() const {
    return mlir::cast<mlir::RankedTensorType>(tensor.getType());
  }
  /// "int", "tensor<8x64xf32>", ... for messages.
  std::string describe() const;
};

/// `value` the shortest way printf's %g writes it (0.5, 1e-05), for messages.
std::string formatNumber(double value);

/// A name in a scope. A statement that failed binds its names to poison, so
/// that later uses fail quietly instead of repeating the first error.
struct Binding {
  SgValue value;
  llvm::SMLoc loc;
  bool poison = false;
};

/// The names visible at one point of a def: its arguments and locals, one
/// nested scope per loop body. Top-level constants are looked up last.
struct Scope {
  explicit Scope(Scope *parent) : parent(parent) {}
  Scope *parent;
  llvm::StringMap<Binding> names;

  Binding *lookup(llvm::StringRef name);
};

/// One expansion of a def: where its ops come from and what it returns.
struct Frame {
  const DefDecl *def = nullptr;
  /// Location of the call that expanded this def (a CallSiteLoc for nested
  /// calls); ops inside get CallSiteLoc(their own location, caller).
  mlir::Location caller;
  /// Path segments of the parameters created here: calls and loop
  /// iterations, `h.3.block.attn`.
  std::vector<std::string> path;
  std::optional<std::vector<SgValue>> results;
  llvm::SMLoc returnLoc;
  /// A `return` statement failed: the def has no results to give.
  bool returnFailed = false;
  /// How many `for` loops enclose the current statement (no `return` there).
  unsigned loopDepth = 0;
  /// How many `if` branches enclose the current statement (no `return`
  /// there either: every path must reach the def's one `return`).
  unsigned ifDepth = 0;
};

/// The named arguments of a call matched against the parameters of a callee
/// (a def or a builtin): one entry per parameter, null where not given.
struct MatchedArgs {
  std::vector<const Expr *> exprs;
  std::vector<llvm::SMLoc> locs;
};

/// Walks the syntax tree of one model and emits it into `module`. Every error
/// goes to the MLIR diagnostic engine; each entry point returns failure after
/// reporting, or quietly when an operand was poison.
class Elaborator {
public:
  /// `files` holds the file of the model last, after the files it imports
  /// (each after its own imports).
  Elaborator(const llvm::SourceMgr &sourceMgr, llvm::ArrayRef<SourceFile> files,
             mlir::ModuleOp module);

  /// Elaborates `model` with its named arguments overridden by `overrides`.
  mlir::LogicalResult
  elaborateModel(const ModelDecl &model,
                 llvm::ArrayRef<std::pair<std::string, std::string>> overrides);

  /// The number of distinct errors reported so far (see Import.cpp).
  unsigned *errorCount = nullptr;

  //===--------------------------------------------------------------------===//
  // Locations and diagnostics
  //===--------------------------------------------------------------------===//

  /// The plain file location of `loc`.
  mlir::Location fileLoc(llvm::SMLoc loc) const;
  /// The location of `loc` seen from the def being expanded: wrapped in the
  /// call sites that led here.
  mlir::Location loc(llvm::SMLoc loc) const;
  mlir::InFlightDiagnostic error(llvm::SMLoc at) const;
  mlir::MLIRContext *getContext() const { return context; }

  //===--------------------------------------------------------------------===//
  // Expressions
  //===--------------------------------------------------------------------===//

  mlir::FailureOr<SgValue> eval(const Expr &expr);
  /// Evaluates `expr` and requires a single value (not a tuple).
  mlir::FailureOr<SgValue> evalSingle(const Expr &expr);

  /// Compile-time conversions; `what` names the value in messages.
  mlir::FailureOr<int64_t> requireInt(const SgValue &v, llvm::SMLoc at,
                                      const llvm::Twine &what);
  /// Like requireInt, but a dynamic dimension is allowed (nullopt).
  mlir::FailureOr<std::optional<int64_t>>
  requireDim(const SgValue &v, llvm::SMLoc at, const llvm::Twine &what);
  mlir::FailureOr<double> requireFloat(const SgValue &v, llvm::SMLoc at,
                                       const llvm::Twine &what);
  mlir::FailureOr<bool> requireBool(const SgValue &v, llvm::SMLoc at,
                                    const llvm::Twine &what);
  mlir::FailureOr<std::string> requireStr(const SgValue &v, llvm::SMLoc at,
                                          const llvm::Twine &what);
  mlir::FailureOr<mlir::Value> requireTensor(const SgValue &v, llvm::SMLoc at,
                                             const llvm::Twine &what);
  /// A compile-time value as an attribute (`{key = value}` hints).
  mlir::FailureOr<mlir::Attribute> toAttribute(const SgValue &v,
                                               llvm::SMLoc at);

  /// `lhs op rhs` on numbers (evaluated) or tensors (emitted).
  mlir::FailureOr<SgValue> binary(BinaryOp op, const SgValue &lhs,
                                  const SgValue &rhs, llvm::SMLoc at);

  /// Matches the arguments of `call` against `params` (names, in positional
  /// order); `required` is how many leading parameters must be given.
  mlir::FailureOr<MatchedArgs> matchArgs(const Expr &call,
                                         llvm::ArrayRef<llvm::StringRef> params,
                                         size_t required);

  /// Parses an element type name (`f32`, `bf16`, ...); null if it is none.
  mlir::Type parseElementType(llvm::StringRef name) const;

  //===--------------------------------------------------------------------===//
  // Ops
  //===--------------------------------------------------------------------===//

  /// Builds op `OpTy` at `at` without trusting it to accept its operands:
  /// result types come from the op's own inference (which reports errors at
  /// `at`) when it has one, else from `resultTypes`; the op is verified and
  /// erased again if it does not. Never aborts on user input.
  template <typename OpTy>
  mlir::FailureOr<mlir::Operation *>
  createOp(llvm::SMLoc at, mlir::ValueRange operands,
           llvm::ArrayRef<mlir::NamedAttribute> attrs,
           mlir::TypeRange resultTypes = {}) {
    mlir::OperationState state(loc(at), OpTy::getOperationName());
    state.addOperands(operands);
    state.addAttributes(attrs);
    // Inference reads the op's inherent attributes from its properties, so
    // they must exist before the op does.
    if constexpr (!std::is_same_v<typename OpTy::Properties,
                                  mlir::EmptyProperties>)
      (void)state.getOrAddProperties<typename OpTy::Properties>();
    return finishOp(state, builder, resultTypes);
  }

  /// A scalar (rank-0) constant of `elementType` holding `v`.
  mlir::FailureOr<mlir::Value>
  scalarConstant(const SgValue &v, mlir::Type elementType, llvm::SMLoc at);

  /// Builtin calls, in ImportBuiltins.cpp. Returns std::nullopt when `name`
  /// is not a builtin.
  std::optional<mlir::FailureOr<SgValue>> callBuiltin(const Expr &call);

  mlir::OpBuilder builder;

private:
  mlir::FailureOr<mlir::Operation *> finishOp(mlir::OperationState &state,
                                              mlir::OpBuilder &b,
                                              mlir::TypeRange resultTypes);

  // Elaboration of defs and statements (ImportElaborator.cpp).
  mlir::FailureOr<SgValue> evalName(const Expr &expr);
  mlir::FailureOr<SgValue> evalCall(const Expr &expr);
  mlir::FailureOr<SgValue> callDef(const DefDecl &def, const Expr &call);
  /// Checks tensor `actual` against the declared type `want` (an argument or
  /// a declared result, named by `what` in messages): element type, rank, and
  /// each dimension, binding shape variables in `callee` as it goes.
  mlir::LogicalResult bindTensorArg(const std::string &what,
                                    const TypeExpr &want, const SgValue &actual,
                                    llvm::SMLoc actualLoc, Scope &callee);
  /// Checks `value` against the declared kind of `arg` (an int for `int`,
  /// ...); an int given for a float is converted in place.
  mlir::LogicalResult checkArgKind(const ArgDecl &arg, SgValue &value,
                                   llvm::SMLoc at, llvm::StringRef defName,
                                   llvm::StringRef prefix = "");
  /// Checks the results of the def just run against its declared results.
  mlir::LogicalResult checkResults(Scope &callee);
  mlir::LogicalResult runBody(const std::vector<StmtPtr> &body);
  mlir::LogicalResult runStmt(const Stmt &stmt);
  mlir::LogicalResult runParam(const Stmt &stmt);
  mlir::LogicalResult runBinding(const Stmt &stmt);
  mlir::LogicalResult runFor(const Stmt &stmt);
  mlir::LogicalResult runIf(const Stmt &stmt);
  /// Counts `amount` units of elaboration work done at `at`; reports once
  /// and fails when the budget (kMaxElaborationWork) is spent.
  mlir::LogicalResult spendWork(int64_t amount, mlir::Location at);
  /// `lhs op rhs` for the comparisons (`==` ... `>=`): compile-time only.
  mlir::FailureOr<SgValue> compare(BinaryOp op, const SgValue &lhs,
                                   const SgValue &rhs, llvm::SMLoc at);
  /// Whether the top-level `name` may be used by the text at `at`: it is
  /// defined in that file or in one it imports.
  bool isVisible(llvm::StringRef name, llvm::SMLoc at) const;
  /// The top-level constant `name` as seen from `at`, or null.
  const Binding *lookupConstant(llvm::StringRef name, llvm::SMLoc at) const;
  /// The def `name` as seen from `at`, or null.
  const DefDecl *lookupDef(llvm::StringRef name, llvm::SMLoc at) const;
  /// Whether `name` is bound where a def's argument types are evaluated (the
  /// def's scope so far, or a constant visible at `at`): an unbound bare
  /// name in a tensor argument's shape is a new shape variable.
  bool isBound(Scope &scope, llvm::StringRef name, llvm::SMLoc at) const;
  mlir::LogicalResult runReturn(const Stmt &stmt);
  mlir::LogicalResult checkNewName(llvm::StringRef name, llvm::SMLoc at);
  /// Evaluates a parameter initializer into its kind (`normal`) and its
  /// arguments with defaults filled in (`[mean, std]`).
  mlir::FailureOr<SgValue> evalInitializer(const Expr &init,
                                           llvm::SmallVectorImpl<double> &args,
                                           std::string &kind);
  /// Creates the module-level graph.param op.
  mlir::FailureOr<mlir::Operation *>
  createParam(llvm::SMLoc at, llvm::StringRef path, mlir::RankedTensorType type,
              llvm::StringRef initKind, llvm::ArrayRef<double> initArgs);
  /// Sets the `{key = value}` hints on `op` as `graph.key` attributes, each
  /// checked by the dialect and reported at its key.
  mlir::LogicalResult attachHints(mlir::Operation *op,
                                  const std::vector<AttrEntry> &attrs);
  /// Binds the names a failed statement would have defined to poison.
  void poisonTargets(const Stmt &stmt);
  bool tooManyErrors() const;
  mlir::LogicalResult evalConstants();
  /// Reads the value of `--sg-arg name=text`: a bool, int, float or string.
  static mlir::FailureOr<SgValue> parseOverride(llvm::StringRef text);

  const llvm::SourceMgr &sourceMgr;
  llvm::ArrayRef<SourceFile> files;
  mlir::MLIRContext *context;
  mlir::ModuleOp module;
  /// Elaboration work done so far, and whether the budget ran out (which
  /// stops everything, like too many errors do).
  int64_t work = 0;
  bool outOfBudget = false;
  /// Inserts graph.param ops at module level, before the model's function.
  mlir::OpBuilder paramBuilder;

  llvm::StringMap<const DefDecl *> defs;
  llvm::StringMap<Binding> constants;
  /// Parameter paths created so far, for the duplicate check.
  llvm::StringMap<llvm::SMLoc> paramPaths;

  std::vector<Frame> frames;
  Scope *scope = nullptr;
  /// Defs being expanded, to reject recursion.
  llvm::SmallVector<const DefDecl *> callStack;
};

} // namespace strata::sg

#endif // STRATA_FRONTEND_IMPORTELABORATOR_H
