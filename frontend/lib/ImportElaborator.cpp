//===- ImportElaborator.cpp - Elaboration of defs and statements ----------===//
//
// Values, scopes, expressions, statements and def expansion: everything of the
// importer except the builtin functions (ImportBuiltins.cpp). The semantics
// follow docs/graph-ir.md.
//
//===----------------------------------------------------------------------===//

#include "strata/Frontend/ImportElaborator.h"

#include "strata/Dialect/Graph/IR/GraphOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/Format.h"

#include <cmath>

using namespace mlir;
using namespace strata::sg;
namespace graph = strata::graph;

/// The importer reports at most this many errors, then stops elaborating.
static constexpr unsigned kMaxImportErrors = 20;

//===----------------------------------------------------------------------===//
// SgValue and Scope
//===----------------------------------------------------------------------===//

SgValue SgValue::ofInt(int64_t v) {
  SgValue r;
  r.kind = Kind::Int;
  r.intValue = v;
  return r;
}
SgValue SgValue::ofDynamic(StringRef name) {
  SgValue r;
  r.kind = Kind::Int;
  r.dynamic = true;
  r.dynamicName = name.str();
  return r;
}
SgValue SgValue::ofFloat(double v) {
  SgValue r;
  r.kind = Kind::Float;
  r.floatValue = v;
  return r;
}
SgValue SgValue::ofBool(bool v) {
  SgValue r;
  r.kind = Kind::Bool;
  r.boolValue = v;
  return r;
}
SgValue SgValue::ofStr(StringRef v) {
  SgValue r;
  r.kind = Kind::Str;
  r.str = v.str();
  return r;
}
SgValue SgValue::ofDType(Type t) {
  SgValue r;
  r.kind = Kind::DType;
  r.dtype = t;
  return r;
}
SgValue SgValue::ofTensor(Value v) {
  SgValue r;
  r.kind = Kind::Tensor;
  r.tensor = v;
  return r;
}
SgValue SgValue::ofList(std::vector<SgValue> elements) {
  SgValue r;
  r.kind = Kind::List;
  r.elements = std::move(elements);
  return r;
}
SgValue SgValue::ofTuple(std::vector<SgValue> elements) {
  SgValue r;
  r.kind = Kind::Tuple;
  r.elements = std::move(elements);
  return r;
}

std::string SgValue::describe() const {
  switch (kind) {
  case Kind::Int:
    return dynamic ? "dynamic dimension '" + dynamicName + "'" : "int";
  case Kind::Float:
    return "float";
  case Kind::Bool:
    return "bool";
  case Kind::Str:
    return "string";
  case Kind::DType:
    return "element type";
  case Kind::List:
    return "list";
  case Kind::Tuple:
    return std::to_string(elements.size()) + " values";
  case Kind::Tensor: {
    std::string s;
    llvm::raw_string_ostream os(s);
    os << tensor.getType();
    return s;
  }
  }
  llvm_unreachable("unknown value kind");
}

Binding *Scope::lookup(StringRef name) {
  for (Scope *s = this; s; s = s->parent) {
    auto it = s->names.find(name);
    if (it != s->names.end())
      return &it->second;
  }
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Elaborator: setup, locations, op creation
//===----------------------------------------------------------------------===//

Elaborator::Elaborator(const llvm::SourceMgr &sourceMgr,
                       ArrayRef<SourceFile> files, ModuleOp module)
    : builder(module.getContext()), sourceMgr(sourceMgr), files(files),
      context(module.getContext()), module(module),
      paramBuilder(module.getContext()) {
  context->loadDialect<graph::GraphDialect, func::FuncDialect>();
  // One namespace for all files: the import step has already rejected a
  // name defined in two files, so a clash here is within one file.
  for (const SourceFile &file : files) {
    for (const DefDecl &def : file.ast.defs) {
      auto [it, inserted] = defs.try_emplace(def.name, &def);
      if (!inserted)
        (error(def.loc) << "def '" << def.name << "' is already defined")
                .attachNote(fileLoc(it->second->loc))
            << "previous definition of '" << def.name << "' here";
    }
  }
}

Location Elaborator::fileLoc(llvm::SMLoc at) const {
  // The root file, where a location-less diagnostic (an --sg-arg) belongs.
  unsigned bufferId = files.back().bufferId;
  if (at.isValid())
    if (unsigned id = sourceMgr.FindBufferContainingLoc(at))
      bufferId = id;
  StringRef name = sourceMgr.getMemoryBuffer(bufferId)->getBufferIdentifier();
  if (!at.isValid())
    return FileLineColLoc::get(context, name, 1, 1);
  auto [line, column] = sourceMgr.getLineAndColumn(at, bufferId);
  return FileLineColLoc::get(context, name, line, column);
}

bool Elaborator::isVisible(StringRef name, llvm::SMLoc at) const {
  if (!at.isValid())
    return true;
  unsigned id = sourceMgr.FindBufferContainingLoc(at);
  for (const SourceFile &file : files)
    if (file.bufferId == id)
      return file.visible.contains(name);
  return true;
}

const Binding *Elaborator::lookupConstant(StringRef name,
                                          llvm::SMLoc at) const {
  auto it = constants.find(name);
  if (it == constants.end() || !isVisible(name, at))
    return nullptr;
  return &it->second;
}

const DefDecl *Elaborator::lookupDef(StringRef name, llvm::SMLoc at) const {
  auto it = defs.find(name);
  if (it == defs.end() || !isVisible(name, at))
    return nullptr;
  return it->second;
}

bool Elaborator::isBound(Scope &scope, StringRef name, llvm::SMLoc at) const {
  return scope.lookup(name) || lookupConstant(name, at);
}

LogicalResult Elaborator::spendWork(int64_t amount, Location at) {
  if (outOfBudget)
    return failure();
  work += amount;
  if (work <= kMaxElaborationWork)
    return success();
  outOfBudget = true;
  emitError(at) << "the model expands too far: elaborating it takes more than "
                << kMaxElaborationWork
                << " steps (statements, loop iterations and ops); check the "
                   "loop bounds and the calls in loops";
  return failure();
}

Location Elaborator::loc(llvm::SMLoc at) const {
  if (frames.empty())
    return fileLoc(at);
  return CallSiteLoc::get(fileLoc(at), frames.back().caller);
}

InFlightDiagnostic Elaborator::error(llvm::SMLoc at) const {
  return emitError(loc(at));
}

bool Elaborator::tooManyErrors() const {
  return outOfBudget || (errorCount && *errorCount >= kMaxImportErrors);
}

FailureOr<Operation *> Elaborator::finishOp(OperationState &state, OpBuilder &b,
                                            TypeRange resultTypes) {
  if (!b.getInsertionBlock()) {
    emitError(state.location)
        << "'" << state.name.getStringRef()
        << "' computes a tensor, which only a def can do; a top-level "
           "'let' must be a compile-time value";
    return failure();
  }
  RegisteredOperationName opName = *state.name.getRegisteredInfo();
  DictionaryAttr attrs = state.attributes.getDictionary(context);
  auto emitAtOp = [&]() { return emitError(state.location); };
  if (state.getRawProperties() &&
      failed(opName.setOpPropertiesFromAttribute(
          state.name, state.getRawProperties(), attrs, emitAtOp)))
    return failure();
  if (auto *infer = opName.getInterface<InferTypeOpInterface>()) {
    SmallVector<Type> inferred;
    if (failed(infer->inferReturnTypes(context, state.location, state.operands,
                                       attrs, state.getRawProperties(),
                                       state.regions, inferred)))
      return failure();
    state.addTypes(inferred);
  } else {
    state.addTypes(resultTypes);
  }
  if (failed(spendWork(1, state.location)))
    return failure();
  Operation *op = b.create(state);
  if (failed(verify(op))) {
    op->erase();
    return failure();
  }
  return op;
}

Type Elaborator::parseElementType(StringRef name) const {
  MLIRContext *ctx = context;
  return llvm::StringSwitch<Type>(name)
      .Case("f32", Float32Type::get(ctx))
      .Case("f16", Float16Type::get(ctx))
      .Case("bf16", BFloat16Type::get(ctx))
      .Case("f8e4m3", Float8E4M3FNType::get(ctx))
      .Case("f8e5m2", Float8E5M2Type::get(ctx))
      .Case("i1", IntegerType::get(ctx, 1))
      .Case("i32", IntegerType::get(ctx, 32))
      .Case("i64", IntegerType::get(ctx, 64))
      .Default(Type());
}

FailureOr<Value> Elaborator::scalarConstant(const SgValue &v, Type elementType,
                                            llvm::SMLoc at) {
  auto type = RankedTensorType::get({}, elementType);
  DenseElementsAttr value;
  if (auto floatType = dyn_cast<FloatType>(elementType)) {
    double d = v.kind == SgValue::Kind::Int ? double(v.intValue) : v.floatValue;
    llvm::APFloat f(d);
    bool losesInfo = false;
    f.convert(floatType.getFloatSemantics(), llvm::APFloat::rmNearestTiesToEven,
              &losesInfo);
    value = DenseElementsAttr::get(type, f);
  } else if (auto intType = dyn_cast<IntegerType>(elementType)) {
    if (v.kind != SgValue::Kind::Int) {
      error(at) << "the float " << formatNumber(v.floatValue)
                << " cannot be mixed with a tensor of " << elementType
                << "; cast the tensor first";
      return failure();
    }
    value = DenseElementsAttr::get(type, APInt(intType.getWidth(), v.intValue,
                                               /*isSigned=*/true,
                                               /*implicitTrunc=*/true));
  } else {
    error(at) << "cannot make a constant of element type " << elementType;
    return failure();
  }
  FailureOr<Operation *> op = createOp<graph::ConstantOp>(
      at, {}, {builder.getNamedAttr("value", value)}, {type});
  if (failed(op))
    return failure();
  return (*op)->getResult(0);
}

//===----------------------------------------------------------------------===//
// Compile-time values
//===----------------------------------------------------------------------===//

FailureOr<std::optional<int64_t>>
Elaborator::requireDim(const SgValue &v, llvm::SMLoc at, const Twine &what) {
  if (v.kind != SgValue::Kind::Int) {
    error(at) << what << " must be an integer, not " << v.describe();
    return failure();
  }
  if (v.dynamic)
    return std::optional<int64_t>();
  return std::optional<int64_t>(v.intValue);
}

FailureOr<int64_t> Elaborator::requireInt(const SgValue &v, llvm::SMLoc at,
                                          const Twine &what) {
  FailureOr<std::optional<int64_t>> dim = requireDim(v, at, what);
  if (failed(dim))
    return failure();
  if (!*dim) {
    error(at) << what << " must be known at compile time, but it depends on '"
              << v.dynamicName
              << "', a shape variable the model leaves dynamic; bind it in "
                 "the model or with --sg-arg";
    return failure();
  }
  return **dim;
}

FailureOr<double> Elaborator::requireFloat(const SgValue &v, llvm::SMLoc at,
                                           const Twine &what) {
  if (v.kind == SgValue::Kind::Float)
    return v.floatValue;
  if (v.kind == SgValue::Kind::Int) {
    FailureOr<int64_t> i = requireInt(v, at, what);
    if (failed(i))
      return failure();
    return double(*i);
  }
  error(at) << what << " must be a number, not " << v.describe();
  return failure();
}

FailureOr<bool> Elaborator::requireBool(const SgValue &v, llvm::SMLoc at,
                                        const Twine &what) {
  if (v.kind == SgValue::Kind::Bool)
    return v.boolValue;
  error(at) << what << " must be true or false, not " << v.describe();
  return failure();
}

FailureOr<std::string> Elaborator::requireStr(const SgValue &v, llvm::SMLoc at,
                                              const Twine &what) {
  if (v.kind == SgValue::Kind::Str)
    return v.str;
  error(at) << what << " must be a string, not " << v.describe();
  return failure();
}

FailureOr<Value> Elaborator::requireTensor(const SgValue &v, llvm::SMLoc at,
                                           const Twine &what) {
  if (v.kind == SgValue::Kind::Tensor)
    return v.tensor;
  error(at) << what << " must be a tensor, not " << v.describe();
  return failure();
}

FailureOr<Attribute> Elaborator::toAttribute(const SgValue &v, llvm::SMLoc at) {
  switch (v.kind) {
  case SgValue::Kind::Int: {
    FailureOr<int64_t> i = requireInt(v, at, "an attribute value");
    if (failed(i))
      return failure();
    return Attribute(builder.getI64IntegerAttr(*i));
  }
  case SgValue::Kind::Float:
    return Attribute(builder.getF64FloatAttr(v.floatValue));
  case SgValue::Kind::Bool:
    return Attribute(builder.getBoolAttr(v.boolValue));
  case SgValue::Kind::Str:
    return Attribute(builder.getStringAttr(v.str));
  case SgValue::Kind::DType:
    return Attribute(TypeAttr::get(v.dtype));
  case SgValue::Kind::List: {
    SmallVector<Attribute> elements;
    for (const SgValue &e : v.elements) {
      FailureOr<Attribute> a = toAttribute(e, at);
      if (failed(a))
        return failure();
      elements.push_back(*a);
    }
    return Attribute(builder.getArrayAttr(elements));
  }
  case SgValue::Kind::Tensor:
  case SgValue::Kind::Tuple:
    break;
  }
  error(at) << "an attribute value must be known at compile time, not "
            << v.describe();
  return failure();
}

std::string strata::sg::formatNumber(double value) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format("%g", value);
  return s;
}

/// Python's floor division and modulo, so that `-7 // 2 == -4`.
static int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
static int64_t floorMod(int64_t a, int64_t b) { return a - floorDiv(a, b) * b; }

static bool isComparison(BinaryOp op) {
  return op == BinaryOp::Eq || op == BinaryOp::Ne || op == BinaryOp::Lt ||
         op == BinaryOp::Le || op == BinaryOp::Gt || op == BinaryOp::Ge;
}

FailureOr<SgValue> Elaborator::compare(BinaryOp op, const SgValue &lhs,
                                       const SgValue &rhs, llvm::SMLoc at) {
  // The result as a function of the three-way comparison of lhs and rhs.
  auto fromOrder = [&](int order) {
    switch (op) {
    case BinaryOp::Eq:
      return order == 0;
    case BinaryOp::Ne:
      return order != 0;
    case BinaryOp::Lt:
      return order < 0;
    case BinaryOp::Le:
      return order <= 0;
    case BinaryOp::Gt:
      return order > 0;
    default:
      return order >= 0;
    }
  };
  bool equality = op == BinaryOp::Eq || op == BinaryOp::Ne;
  if (lhs.isNumber() && rhs.isNumber()) {
    if (lhs.kind == SgValue::Kind::Int && rhs.kind == SgValue::Kind::Int) {
      FailureOr<int64_t> a = requireInt(lhs, at, "the left operand");
      FailureOr<int64_t> b = requireInt(rhs, at, "the right operand");
      if (failed(a) || failed(b))
        return failure();
      return SgValue::ofBool(fromOrder(*a < *b ? -1 : *a > *b ? 1 : 0));
    }
    FailureOr<double> a = requireFloat(lhs, at, "the left operand");
    FailureOr<double> b = requireFloat(rhs, at, "the right operand");
    if (failed(a) || failed(b))
      return failure();
    // NaN is unordered: only `!=` holds.
    if (std::isnan(*a) || std::isnan(*b))
      return SgValue::ofBool(op == BinaryOp::Ne);
    return SgValue::ofBool(fromOrder(*a < *b ? -1 : *a > *b ? 1 : 0));
  }
  if (lhs.kind == SgValue::Kind::Str && rhs.kind == SgValue::Kind::Str)
    return SgValue::ofBool(fromOrder(StringRef(lhs.str).compare(rhs.str)));
  if (equality && lhs.kind == rhs.kind &&
      (lhs.kind == SgValue::Kind::Bool || lhs.kind == SgValue::Kind::DType)) {
    bool same = lhs.kind == SgValue::Kind::Bool ? lhs.boolValue == rhs.boolValue
                                                : lhs.dtype == rhs.dtype;
    return SgValue::ofBool(fromOrder(same ? 0 : 1));
  }
  auto diag = error(at);
  diag << "'" << spelling(op) << "' cannot compare " << lhs.describe()
       << " and " << rhs.describe();
  if (lhs.isTensor() || rhs.isTensor())
    diag << "; comparisons are on compile-time values, not tensors";
  else if (lhs.kind == rhs.kind && !equality)
    diag << "; only numbers and strings are ordered";
  return failure();
}

FailureOr<SgValue> Elaborator::binary(BinaryOp op, const SgValue &lhs,
                                      const SgValue &rhs, llvm::SMLoc at) {
  if (isComparison(op))
    return compare(op, lhs, rhs, at);
  if (op == BinaryOp::And || op == BinaryOp::Or) {
    FailureOr<bool> a =
        requireBool(lhs, at, "an operand of '" + spelling(op) + "'");
    FailureOr<bool> b =
        requireBool(rhs, at, "an operand of '" + spelling(op) + "'");
    if (failed(a) || failed(b))
      return failure();
    return SgValue::ofBool(op == BinaryOp::And ? *a && *b : *a || *b);
  }
  // Tensor arithmetic: a number on one side becomes a scalar constant of the
  // other side's element type.
  if (lhs.isTensor() || rhs.isTensor()) {
    if ((!lhs.isTensor() && !lhs.isNumber()) ||
        (!rhs.isTensor() && !rhs.isNumber())) {
      error(at) << "'" << spelling(op) << "' cannot combine " << lhs.describe()
                << " and " << rhs.describe();
      return failure();
    }
    Value l = lhs.tensor, r = rhs.tensor;
    if (op == BinaryOp::MatMul && (!l || !r)) {
      error(at) << "'@' needs two tensors, not " << lhs.describe() << " and "
                << rhs.describe();
      return failure();
    }
    if (!l || !r) {
      const SgValue &number = l ? rhs : lhs;
      if (number.dynamic) {
        error(at) << "the dynamic dimension '" << number.dynamicName
                  << "' cannot be used as a tensor value";
        return failure();
      }
      Type elementType = (l ? lhs : rhs).tensorType().getElementType();
      FailureOr<Value> c = scalarConstant(number, elementType, at);
      if (failed(c))
        return failure();
      (l ? r : l) = *c;
    }
    FailureOr<Operation *> result = failure();
    switch (op) {
    case BinaryOp::Add:
      result = createOp<graph::AddOp>(at, {l, r}, {});
      break;
    case BinaryOp::Sub:
      result = createOp<graph::SubOp>(at, {l, r}, {});
      break;
    case BinaryOp::Mul:
      result = createOp<graph::MulOp>(at, {l, r}, {});
      break;
    case BinaryOp::Div:
      result = createOp<graph::DivOp>(at, {l, r}, {});
      break;
    case BinaryOp::MatMul:
      result = createOp<graph::MatmulOp>(at, {l, r}, {});
      break;
    case BinaryOp::FloorDiv:
    case BinaryOp::Mod:
      error(at) << "'" << spelling(op)
                << "' is integer arithmetic on compile-time numbers; it does "
                   "not apply to tensors";
      return failure();
    default:
      llvm_unreachable("comparisons and logic are handled above");
    }
    if (failed(result))
      return failure();
    return SgValue::ofTensor((*result)->getResult(0));
  }

  if (!lhs.isNumber() || !rhs.isNumber() || op == BinaryOp::MatMul) {
    error(at) << "'" << spelling(op) << "' cannot combine " << lhs.describe()
              << " and " << rhs.describe();
    return failure();
  }

  // Integer arithmetic; a dynamic operand makes a dynamic result, so that
  // `B * T` of a dynamic `B` is a dynamic dimension.
  if (lhs.kind == SgValue::Kind::Int && rhs.kind == SgValue::Kind::Int &&
      op != BinaryOp::Div) {
    if (lhs.dynamic || rhs.dynamic)
      return SgValue::ofDynamic(lhs.dynamic ? lhs.dynamicName
                                            : rhs.dynamicName);
    int64_t a = lhs.intValue, b = rhs.intValue;
    std::optional<int64_t> r;
    switch (op) {
    case BinaryOp::Add:
      r = llvm::checkedAdd(a, b);
      break;
    case BinaryOp::Sub:
      r = llvm::checkedSub(a, b);
      break;
    case BinaryOp::Mul:
      r = llvm::checkedMul(a, b);
      break;
    case BinaryOp::FloorDiv:
    case BinaryOp::Mod:
      if (b == 0) {
        error(at) << "integer division by zero";
        return failure();
      }
      r = op == BinaryOp::FloorDiv ? floorDiv(a, b) : floorMod(a, b);
      break;
    default:
      llvm_unreachable("handled above");
    }
    if (!r) {
      error(at) << "integer overflow in " << a << " " << spelling(op) << " "
                << b;
      return failure();
    }
    return SgValue::ofInt(*r);
  }

  FailureOr<double> a = requireFloat(lhs, at, "the left operand");
  FailureOr<double> b = requireFloat(rhs, at, "the right operand");
  if (failed(a) || failed(b))
    return failure();
  switch (op) {
  case BinaryOp::Add:
    return SgValue::ofFloat(*a + *b);
  case BinaryOp::Sub:
    return SgValue::ofFloat(*a - *b);
  case BinaryOp::Mul:
    return SgValue::ofFloat(*a * *b);
  case BinaryOp::Div:
  case BinaryOp::FloorDiv:
  case BinaryOp::Mod:
    if (*b == 0.0) {
      error(at) << "division by zero";
      return failure();
    }
    if (op == BinaryOp::Div)
      return SgValue::ofFloat(*a / *b);
    if (op == BinaryOp::FloorDiv)
      return SgValue::ofFloat(std::floor(*a / *b));
    return SgValue::ofFloat(*a - std::floor(*a / *b) * *b);
  default:
    break;
  }
  llvm_unreachable("handled above");
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

FailureOr<SgValue> Elaborator::evalSingle(const Expr &expr) {
  FailureOr<SgValue> v = eval(expr);
  if (failed(v))
    return failure();
  if (v->kind == SgValue::Kind::Tuple) {
    error(expr.loc) << "this call returns " << v->elements.size()
                    << " values; bind them with 'let a, b = ...'";
    return failure();
  }
  return v;
}

FailureOr<SgValue> Elaborator::eval(const Expr &expr) {
  switch (expr.kind) {
  case Expr::Kind::Int:
    return SgValue::ofInt(expr.intValue);
  case Expr::Kind::Float:
    return SgValue::ofFloat(expr.floatValue);
  case Expr::Kind::String:
    return SgValue::ofStr(expr.text);
  case Expr::Kind::Bool:
    return SgValue::ofBool(expr.boolValue);
  case Expr::Kind::Name:
    return evalName(expr);
  case Expr::Kind::List: {
    std::vector<SgValue> elements;
    bool ok = true;
    for (const ExprPtr &e : expr.elements) {
      FailureOr<SgValue> v = evalSingle(*e);
      if (failed(v))
        ok = false;
      else
        elements.push_back(std::move(*v));
    }
    if (!ok)
      return failure();
    return SgValue::ofList(std::move(elements));
  }
  case Expr::Kind::Unary: {
    FailureOr<SgValue> v = evalSingle(*expr.lhs);
    if (failed(v))
      return failure();
    if (expr.unaryOp == UnaryOp::Not) {
      FailureOr<bool> b =
          requireBool(*v, expr.lhs->loc, "the operand of 'not'");
      if (failed(b))
        return failure();
      return SgValue::ofBool(!*b);
    }
    if (v->isTensor()) {
      FailureOr<Operation *> op =
          createOp<graph::NegOp>(expr.loc, {v->tensor}, {});
      if (failed(op))
        return failure();
      return SgValue::ofTensor((*op)->getResult(0));
    }
    return binary(BinaryOp::Sub, SgValue::ofInt(0), *v, expr.loc);
  }
  case Expr::Kind::Binary: {
    if (expr.binaryOp == BinaryOp::And || expr.binaryOp == BinaryOp::Or) {
      // Short-circuit, so that `n > 0 and 12 // n == 3` is safe.
      bool isAnd = expr.binaryOp == BinaryOp::And;
      StringRef what = isAnd ? "an operand of 'and'" : "an operand of 'or'";
      FailureOr<SgValue> lhs = evalSingle(*expr.lhs);
      if (failed(lhs))
        return failure();
      FailureOr<bool> a = requireBool(*lhs, expr.lhs->loc, what);
      if (failed(a))
        return failure();
      if (*a != isAnd)
        return SgValue::ofBool(*a);
      FailureOr<SgValue> rhs = evalSingle(*expr.rhs);
      if (failed(rhs))
        return failure();
      FailureOr<bool> b = requireBool(*rhs, expr.rhs->loc, what);
      if (failed(b))
        return failure();
      return SgValue::ofBool(*b);
    }
    FailureOr<SgValue> lhs = evalSingle(*expr.lhs);
    FailureOr<SgValue> rhs = evalSingle(*expr.rhs);
    if (failed(lhs) || failed(rhs))
      return failure();
    return binary(expr.binaryOp, *lhs, *rhs, expr.loc);
  }
  case Expr::Kind::Call:
    return evalCall(expr);
  }
  llvm_unreachable("unknown expression kind");
}

FailureOr<SgValue> Elaborator::evalName(const Expr &expr) {
  const Binding *binding = scope ? scope->lookup(expr.text) : nullptr;
  if (!binding)
    binding = lookupConstant(expr.text, expr.loc);
  if (binding) {
    if (binding->poison)
      return failure();
    return binding->value;
  }
  if (Type t = parseElementType(expr.text))
    return SgValue::ofDType(t);
  if (lookupDef(expr.text, expr.loc)) {
    error(expr.loc) << "'" << expr.text << "' is a def; call it: " << expr.text
                    << "(...)";
    return failure();
  }
  error(expr.loc) << "unknown name '" << expr.text << "'";
  return failure();
}

FailureOr<MatchedArgs> Elaborator::matchArgs(const Expr &call,
                                             ArrayRef<StringRef> params,
                                             size_t required) {
  MatchedArgs matched;
  matched.exprs.assign(params.size(), nullptr);
  matched.locs.assign(params.size(), call.loc);
  size_t positional = 0;
  bool ok = true;
  for (const Arg &arg : call.args) {
    size_t index;
    if (arg.name.empty()) {
      index = positional++;
      if (index >= params.size()) {
        error(arg.value->loc)
            << "'" << call.text << "' takes " << params.size() << " argument"
            << (params.size() == 1 ? "" : "s") << ", but more were given";
        return failure();
      }
    } else {
      auto it = llvm::find(params, arg.name);
      if (it == params.end()) {
        auto diag = error(arg.nameLoc);
        diag << "'" << call.text << "' has no argument '" << arg.name
             << "'; its arguments are: " << llvm::join(params, ", ");
        ok = false;
        continue;
      }
      index = it - params.begin();
    }
    if (matched.exprs[index]) {
      error(arg.name.empty() ? arg.value->loc : arg.nameLoc)
          << "argument '" << params[index] << "' of '" << call.text
          << "' is given twice";
      ok = false;
      continue;
    }
    matched.exprs[index] = arg.value.get();
    matched.locs[index] = arg.value->loc;
  }
  for (size_t i = 0; i < required && ok; ++i) {
    if (!matched.exprs[i]) {
      error(call.loc) << "'" << call.text << "' needs argument '" << params[i]
                      << "'";
      ok = false;
    }
  }
  if (!ok)
    return failure();
  return matched;
}

FailureOr<SgValue> Elaborator::evalCall(const Expr &call) {
  if (const DefDecl *def = lookupDef(call.text, call.loc))
    return callDef(*def, call);
  if (!call.scopeName.empty()) {
    error(call.scopeNameLoc)
        << "'as " << call.scopeName << "' names the parameters a def creates; '"
        << call.text << "' is not a def";
    return failure();
  }
  if (std::optional<FailureOr<SgValue>> result = callBuiltin(call))
    return *result;
  error(call.loc) << "unknown function '" << call.text << "'";
  return failure();
}

//===----------------------------------------------------------------------===//
// Defs
//===----------------------------------------------------------------------===//

/// Runs `fn` with `scope` temporarily replaced by `inner`.
template <typename Fn>
static auto withScope(Scope *&scope, Scope *inner, Fn fn) {
  Scope *saved = scope;
  scope = inner;
  auto result = fn();
  scope = saved;
  return result;
}

LogicalResult Elaborator::bindTensorArg(const std::string &what,
                                        const TypeExpr &want,
                                        const SgValue &actual,
                                        llvm::SMLoc actualLoc, Scope &callee) {
  if (!actual.isTensor()) {
    error(actualLoc) << what << ": expected a tensor, got "
                     << actual.describe();
    return failure();
  }
  RankedTensorType type = actual.tensorType();
  if (!want.elementType.empty()) {
    Type elementType = parseElementType(want.elementType);
    if (!elementType) {
      error(want.loc) << "unknown element type '" << want.elementType << "'";
      return failure();
    }
    if (elementType != type.getElementType()) {
      error(actualLoc) << what << ": expected element type " << elementType
                       << ", got " << type;
      return failure();
    }
  }
  if (!want.shape)
    return success();
  if (want.shape->size() != size_t(type.getRank())) {
    error(actualLoc) << what << ": expected rank " << want.shape->size()
                     << ", got " << type;
    return failure();
  }
  for (auto [i, dimExpr] : llvm::enumerate(*want.shape)) {
    int64_t actualDim = type.getDimSize(i);
    if (dimExpr->kind == Expr::Kind::Name &&
        !isBound(callee, dimExpr->text, dimExpr->loc)) {
      // A new shape variable, bound by this argument.
      callee.names[dimExpr->text] = Binding{
          ShapedType::isDynamic(actualDim) ? SgValue::ofDynamic(dimExpr->text)
                                           : SgValue::ofInt(actualDim),
          dimExpr->loc};
      continue;
    }
    const Expr &dimE = *dimExpr;
    FailureOr<SgValue> expected =
        withScope(scope, &callee, [&]() { return evalSingle(dimE); });
    if (failed(expected))
      return failure();
    FailureOr<std::optional<int64_t>> dim =
        requireDim(*expected, dimExpr->loc, "a dimension");
    if (failed(dim))
      return failure();
    if (!*dim || ShapedType::isDynamic(actualDim) || **dim == actualDim)
      continue;
    if (dimExpr->kind == Expr::Kind::Name) {
      const Binding *b = callee.lookup(dimExpr->text);
      auto diag = error(actualLoc);
      diag << what << ": dimension '" << dimExpr->text << "' is bound to "
           << **dim << " but is " << actualDim << " here (" << type << ")";
      if (b)
        diag.attachNote(fileLoc(b->loc))
            << "'" << dimExpr->text << "' is bound here";
    } else {
      error(actualLoc) << what << ": dimension " << i << " should be " << **dim
                       << ", got " << actualDim << " (" << type << ")";
    }
    return failure();
  }
  return success();
}

LogicalResult Elaborator::checkArgKind(const ArgDecl &arg, SgValue &value,
                                       llvm::SMLoc at, StringRef defName,
                                       StringRef prefix) {
  bool good = true;
  StringRef kind;
  switch (arg.type.kind) {
  case TypeExpr::Kind::Tensor:
    kind = "a tensor";
    good = value.isTensor();
    break;
  case TypeExpr::Kind::Int:
    kind = "an int";
    good = value.kind == SgValue::Kind::Int;
    break;
  case TypeExpr::Kind::Float:
    kind = "a float";
    good = value.isNumber() && !value.dynamic;
    if (good && value.kind == SgValue::Kind::Int)
      value = SgValue::ofFloat(double(value.intValue));
    break;
  case TypeExpr::Kind::Bool:
    kind = "a bool";
    good = value.kind == SgValue::Kind::Bool;
    break;
  case TypeExpr::Kind::Str:
    kind = "a string";
    good = value.kind == SgValue::Kind::Str;
    break;
  }
  if (good)
    return success();
  error(at) << prefix << "argument '" << arg.name << "' of '" << defName
            << "' must be " << kind << ", not " << value.describe();
  return failure();
}

FailureOr<SgValue> Elaborator::callDef(const DefDecl &def, const Expr &call) {
  if (llvm::is_contained(callStack, &def)) {
    error(call.loc) << "'" << def.name << "' calls itself; defs are expanded "
                    << "at each call, so recursion would never end";
    return failure();
  }
  SmallVector<StringRef> names;
  for (const ArgDecl &arg : def.args)
    names.push_back(arg.name);
  FailureOr<MatchedArgs> matched = matchArgs(call, names, 0);
  if (failed(matched))
    return failure();

  // Arguments are evaluated and bound in the caller, so that errors about
  // them point at the call.
  Scope callee(nullptr);
  for (auto [i, arg] : llvm::enumerate(def.args)) {
    std::string what = "argument '" + arg.name + "' of '" + def.name + "'";
    const Expr *expr = matched->exprs[i];
    llvm::SMLoc at = expr ? matched->locs[i] : call.loc;
    FailureOr<SgValue> value = failure();
    if (expr) {
      value = evalSingle(*expr);
    } else if (arg.defaultValue && arg.type.kind != TypeExpr::Kind::Tensor) {
      const Expr &dflt = *arg.defaultValue;
      value = withScope(scope, &callee, [&]() { return evalSingle(dflt); });
    } else {
      error(call.loc) << "'" << def.name << "' needs argument '" << arg.name
                      << "'";
      return failure();
    }
    if (failed(value))
      return failure();
    if (arg.type.kind == TypeExpr::Kind::Tensor &&
        failed(bindTensorArg(what, arg.type, *value, at, callee)))
      return failure();
    if (failed(checkArgKind(arg, *value, at, def.name)))
      return failure();
    if (Binding *previous = callee.lookup(arg.name)) {
      error(arg.loc) << "argument '" << arg.name << "' of '" << def.name
                     << "' has the name of a shape variable of an earlier "
                        "argument";
      (void)previous;
      return failure();
    }
    callee.names[arg.name] = Binding{*value, arg.loc};
  }

  Frame frame{&def, loc(call.loc), frames.back().path, std::nullopt, {}};
  frame.path.push_back(call.scopeName.empty() ? def.name : call.scopeName);
  frames.push_back(std::move(frame));
  callStack.push_back(&def);
  LogicalResult ran = withScope(scope, &callee, [&]() {
    if (failed(runBody(def.body)))
      return failure();
    return checkResults(callee);
  });
  Frame done = std::move(frames.back());
  frames.pop_back();
  callStack.pop_back();
  if (failed(ran))
    return failure();
  if (!done.results)
    return SgValue::ofTuple({});
  if (done.results->size() == 1)
    return done.results->front();
  return SgValue::ofTuple(*done.results);
}

LogicalResult Elaborator::checkResults(Scope &callee) {
  Frame &frame = frames.back();
  const DefDecl &def = *frame.def;
  if (def.results.empty())
    return success();
  size_t count = frame.results ? frame.results->size() : 0;
  if (def.results.size() != count) {
    error(frame.results ? frame.returnLoc : def.loc)
        << "'" << def.name << "' declares " << def.results.size() << " result"
        << (def.results.size() == 1 ? "" : "s") << " but returns " << count;
    return failure();
  }
  for (auto [i, type] : llvm::enumerate(def.results)) {
    if (type.kind != TypeExpr::Kind::Tensor) {
      error(type.loc) << "a def's declared results are tensor types";
      return failure();
    }
    std::string what = "result " + std::to_string(i) + " of '" + def.name + "'";
    if (failed(bindTensorArg(what, type, (*frame.results)[i], frame.returnLoc,
                             callee)))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

LogicalResult Elaborator::runBody(const std::vector<StmtPtr> &body) {
  bool ok = true;
  for (const StmtPtr &stmt : body) {
    if (tooManyErrors())
      return failure();
    if (frames.back().returnFailed)
      return failure();
    if (frames.back().results) {
      error(stmt->loc) << "statement after 'return'";
      return failure();
    }
    if (failed(spendWork(1, loc(stmt->loc))))
      return failure();
    if (failed(runStmt(*stmt))) {
      poisonTargets(*stmt);
      ok = false;
    }
  }
  return success(ok);
}

LogicalResult Elaborator::runStmt(const Stmt &stmt) {
  switch (stmt.kind) {
  case Stmt::Kind::Param:
    return runParam(stmt);
  case Stmt::Kind::Let:
  case Stmt::Kind::Assign:
    return runBinding(stmt);
  case Stmt::Kind::For:
    return runFor(stmt);
  case Stmt::Kind::If:
    return runIf(stmt);
  case Stmt::Kind::Error:
    return eval(*stmt.value);
  case Stmt::Kind::Return:
    return runReturn(stmt);
  }
  llvm_unreachable("unknown statement kind");
}

void Elaborator::poisonTargets(const Stmt &stmt) {
  if (stmt.kind == Stmt::Kind::Return) {
    // The def cannot produce its results; its caller fails quietly.
    frames.back().returnFailed = true;
    return;
  }
  if (stmt.kind != Stmt::Kind::Param && stmt.kind != Stmt::Kind::Let &&
      stmt.kind != Stmt::Kind::Assign)
    return;
  for (const std::string &name : stmt.names) {
    Binding *b = scope->lookup(name);
    if (stmt.kind == Stmt::Kind::Assign && b) {
      b->poison = true;
      continue;
    }
    if (!b)
      scope->names[name] = Binding{SgValue(), stmt.loc, /*poison=*/true};
  }
}

/// Whether a `let`/`param` may introduce `name`; reports a redefinition.
LogicalResult Elaborator::checkNewName(StringRef name, llvm::SMLoc at) {
  Binding *previous = scope->lookup(name);
  if (!previous)
    return success();
  (error(at) << "'" << name << "' is already defined; to rebind it, write '"
             << name << " = ...' without 'let'")
          .attachNote(fileLoc(previous->loc))
      << "previous definition of '" << name << "' here";
  return failure();
}

FailureOr<SgValue> Elaborator::evalInitializer(const Expr &init,
                                               SmallVectorImpl<double> &args,
                                               std::string &kind) {
  if (init.kind == Expr::Kind::Name &&
      (init.text == "zeros" || init.text == "ones")) {
    kind = init.text;
    return SgValue();
  }
  if (init.kind != Expr::Kind::Call ||
      !llvm::is_contained({"constant", "normal", "uniform"}, init.text)) {
    error(init.loc) << "a parameter's initializer is zeros, ones, constant(v), "
                       "normal(mean, std) or uniform(low, high)";
    return failure();
  }
  kind = init.text;
  SmallVector<StringRef> names;
  SmallVector<double> defaults;
  size_t required = 0;
  if (kind == "constant") {
    names = {"value"};
    defaults = {0.0};
    required = 1;
  } else if (kind == "normal") {
    names = {"mean", "std"};
    defaults = {0.0, 1.0};
  } else {
    names = {"low", "high"};
    defaults = {-1.0, 1.0};
  }
  FailureOr<MatchedArgs> matched = matchArgs(init, names, required);
  if (failed(matched))
    return failure();
  for (auto [i, expr] : llvm::enumerate(matched->exprs)) {
    if (!expr) {
      args.push_back(defaults[i]);
      continue;
    }
    FailureOr<SgValue> v = evalSingle(*expr);
    if (failed(v))
      return failure();
    FailureOr<double> d =
        requireFloat(*v, expr->loc, "'" + names[i] + "' of " + kind);
    if (failed(d))
      return failure();
    args.push_back(*d);
  }
  if (kind == "normal" && args[1] < 0) {
    error(matched->locs[1]) << "'std' of normal must not be negative";
    return failure();
  }
  if (kind == "uniform" && args[0] > args[1]) {
    error(init.loc) << "uniform(low, high) needs low <= high";
    return failure();
  }
  return SgValue();
}

LogicalResult Elaborator::runParam(const Stmt &stmt) {
  const std::string &name = stmt.names.front();
  llvm::SMLoc nameLoc = stmt.nameLocs.front();
  if (failed(checkNewName(name, nameLoc)))
    return failure();
  const TypeExpr &type = stmt.type;
  Type elementType = parseElementType(type.elementType);
  if (type.kind != TypeExpr::Kind::Tensor || !type.shape || !elementType) {
    error(type.loc) << "parameter '" << name
                    << "' needs a tensor type with an element type and a "
                       "shape, like f32[D, 4*D]";
    return failure();
  }
  SmallVector<int64_t> shape;
  for (auto [i, dimExpr] : llvm::enumerate(*type.shape)) {
    FailureOr<SgValue> v = evalSingle(*dimExpr);
    if (failed(v))
      return failure();
    FailureOr<std::optional<int64_t>> dim =
        requireDim(*v, dimExpr->loc, "a dimension");
    if (failed(dim))
      return failure();
    if (!*dim) {
      error(dimExpr->loc) << "dimension " << i << " of parameter '" << name
                          << "' is dynamic (it depends on shape variable '"
                          << v->dynamicName
                          << "', which the model leaves unbound); a "
                             "parameter's shape must be static";
      return failure();
    }
    if (**dim < 0) {
      error(dimExpr->loc) << "dimension " << i << " of parameter '" << name
                          << "' is negative (" << **dim << ")";
      return failure();
    }
    shape.push_back(**dim);
  }
  if (!stmt.value) {
    error(nameLoc) << "parameter '" << name
                   << "' needs an initializer: '= zeros', '= normal(std = "
                      "0.02)', ...";
    return failure();
  }
  SmallVector<double> initArgs;
  std::string initKind;
  if (failed(evalInitializer(*stmt.value, initArgs, initKind)))
    return failure();

  SmallVector<std::string> segments(frames.back().path.begin(),
                                    frames.back().path.end());
  segments.push_back(name);
  std::string path = llvm::join(segments, ".");
  auto [it, inserted] = paramPaths.try_emplace(path, nameLoc);
  if (!inserted) {
    (error(nameLoc) << "parameter '" << path
                    << "' is defined twice; name the calls apart with "
                       "'f(...) as name'")
            .attachNote(fileLoc(it->second))
        << "first definition of '" << path << "' here";
    return failure();
  }

  auto tensorType = RankedTensorType::get(shape, elementType);
  FailureOr<Operation *> param =
      createParam(nameLoc, path, tensorType, initKind, initArgs);
  if (failed(param))
    return failure();
  if (failed(attachHints(*param, stmt.attrs)))
    return failure();
  FailureOr<Operation *> ref = createOp<graph::ParamRefOp>(
      nameLoc, {},
      {builder.getNamedAttr("name", FlatSymbolRefAttr::get(context, path))},
      {tensorType});
  if (failed(ref))
    return failure();
  scope->names[name] =
      Binding{SgValue::ofTensor((*ref)->getResult(0)), nameLoc};
  return success();
}

LogicalResult Elaborator::attachHints(Operation *op,
                                      const std::vector<AttrEntry> &attrs) {
  bool ok = true;
  for (const AttrEntry &entry : attrs) {
    FailureOr<SgValue> v = evalSingle(*entry.value);
    if (failed(v)) {
      ok = false;
      continue;
    }
    FailureOr<Attribute> attr = toAttribute(*v, entry.value->loc);
    if (failed(attr)) {
      ok = false;
      continue;
    }
    std::string key = "graph." + entry.key;
    if (op->hasAttr(key)) {
      error(entry.keyLoc) << "attribute '" << entry.key << "' is given twice";
      ok = false;
      continue;
    }
    // The dialect checks its hints when the op verifies; verify with the
    // location of the key, so that a bad hint is reported where it is written.
    op->setAttr(key, *attr);
    Location opLoc = op->getLoc();
    op->setLoc(loc(entry.keyLoc));
    LogicalResult verified = verify(op, /*verifyRecursively=*/false);
    op->setLoc(opLoc);
    if (failed(verified)) {
      op->removeAttr(key);
      ok = false;
    }
  }
  return success(ok);
}

LogicalResult Elaborator::runBinding(const Stmt &stmt) {
  bool isLet = stmt.kind == Stmt::Kind::Let;
  if (isLet) {
    for (auto [name, at] : llvm::zip(stmt.names, stmt.nameLocs))
      if (failed(checkNewName(name, at)))
        return failure();
  } else {
    for (auto [name, at] : llvm::zip(stmt.names, stmt.nameLocs)) {
      if (scope->lookup(name))
        continue;
      if (lookupConstant(name, at))
        error(at) << "'" << name
                  << "' is a top-level constant; it cannot be rebound";
      else
        error(at) << "unknown name '" << name << "'; 'let " << name
                  << " = ...' defines a new name";
      return failure();
    }
  }

  FailureOr<SgValue> value = eval(*stmt.value);
  if (failed(value))
    return failure();
  std::vector<SgValue> values;
  if (stmt.names.size() == 1 && value->kind != SgValue::Kind::Tuple) {
    values.push_back(*value);
  } else if (value->kind == SgValue::Kind::Tuple &&
             value->elements.size() == stmt.names.size()) {
    values = value->elements;
  } else {
    size_t got =
        value->kind == SgValue::Kind::Tuple ? value->elements.size() : 1;
    error(stmt.value->loc) << "binding " << stmt.names.size() << " name"
                           << (stmt.names.size() == 1 ? "" : "s") << " to "
                           << got << " value" << (got == 1 ? "" : "s");
    return failure();
  }

  if (!stmt.attrs.empty()) {
    SmallVector<Operation *> ops;
    for (const SgValue &v : values)
      if (v.isTensor())
        if (Operation *op = v.tensor.getDefiningOp())
          if (!llvm::is_contained(ops, op))
            ops.push_back(op);
    if (ops.empty()) {
      error(stmt.attrs.front().keyLoc)
          << "attributes attach to the op that computes the value, but no "
             "op computes '"
          << stmt.names.front() << "'";
      return failure();
    }
    bool ok = true;
    for (Operation *op : ops)
      ok &= succeeded(attachHints(op, stmt.attrs));
    if (!ok)
      return failure();
  }

  for (auto [i, name] : llvm::enumerate(stmt.names)) {
    if (isLet) {
      scope->names[name] = Binding{values[i], stmt.nameLocs[i]};
    } else {
      Binding *b = scope->lookup(name);
      b->value = values[i];
      b->poison = false;
    }
  }
  return success();
}

LogicalResult Elaborator::runFor(const Stmt &stmt) {
  const std::string &var = stmt.names.front();
  FailureOr<SgValue> lo = evalSingle(*stmt.lo);
  FailureOr<SgValue> hi = evalSingle(*stmt.hi);
  if (failed(lo) || failed(hi))
    return failure();
  FailureOr<int64_t> from = requireInt(*lo, stmt.lo->loc, "a loop bound");
  FailureOr<int64_t> to = requireInt(*hi, stmt.hi->loc, "a loop bound");
  if (failed(from) || failed(to))
    return failure();
  // Checked before the first iteration, so that `0..100000000` fails at once
  // and with its own message instead of after running out of budget. The
  // subtraction cannot overflow: __int128 holds any difference of two int64.
  __int128 trips = __int128(*to) - __int128(*from);
  if (trips > kMaxElaborationWork) {
    error(stmt.hi->loc) << "the loop over '" << var << "' runs "
                        << int64_t(trips > INT64_MAX ? INT64_MAX : trips)
                        << " times; a loop is unrolled at compile time, so "
                           "at most "
                        << kMaxElaborationWork << " iterations are allowed";
    return failure();
  }
  Frame &frame = frames.back();
  ++frame.loopDepth;
  bool ok = true;
  for (int64_t i = *from; i < *to && !tooManyErrors(); ++i) {
    // An empty body still costs its iterations.
    if (failed(spendWork(1, loc(stmt.loc)))) {
      ok = false;
      break;
    }
    Scope body(scope);
    body.names[var] = Binding{SgValue::ofInt(i), stmt.nameLocs.front()};
    frames.back().path.push_back(var + "." + std::to_string(i));
    ok &= succeeded(
        withScope(scope, &body, [&]() { return runBody(stmt.body); }));
    frames.back().path.pop_back();
  }
  --frames.back().loopDepth;
  return success(ok);
}

LogicalResult Elaborator::runIf(const Stmt &stmt) {
  FailureOr<SgValue> cond = evalSingle(*stmt.value);
  if (failed(cond))
    return failure();
  FailureOr<bool> taken =
      requireBool(*cond, stmt.value->loc, "the condition of an 'if'");
  if (failed(taken))
    return failure();
  // As for a loop body: `let` in a branch is local to it, `x = ...` rebinds
  // the `x` outside. The branch not taken is not elaborated at all, so it may
  // use names or shapes that only make sense when it is taken.
  Scope branch(scope);
  ++frames.back().ifDepth;
  LogicalResult ran = withScope(scope, &branch, [&]() {
    return runBody(*taken ? stmt.body : stmt.elseBody);
  });
  --frames.back().ifDepth;
  return ran;
}

LogicalResult Elaborator::runReturn(const Stmt &stmt) {
  Frame &frame = frames.back();
  if (frame.loopDepth) {
    error(stmt.loc) << "'return' inside a loop; return after the loop";
    return failure();
  }
  if (frame.ifDepth) {
    error(stmt.loc) << "'return' inside an 'if'; bind the result in each "
                       "branch ('y = ...') and return it after the 'if'";
    return failure();
  }
  std::vector<SgValue> results;
  bool ok = true;
  for (const ExprPtr &expr : stmt.values) {
    FailureOr<SgValue> v = evalSingle(*expr);
    if (failed(v))
      ok = false;
    else
      results.push_back(std::move(*v));
  }
  if (!ok)
    return failure();
  frame.results = std::move(results);
  frame.returnLoc = stmt.loc;
  return success();
}

//===----------------------------------------------------------------------===//
// The model
//===----------------------------------------------------------------------===//

LogicalResult Elaborator::evalConstants() {
  bool ok = true;
  for (const SourceFile &file : files) {
    for (const ConstDecl &c : file.ast.consts) {
      if (failed(spendWork(1, fileLoc(c.loc))))
        return failure();
      auto it = constants.find(c.name);
      if (it != constants.end()) {
        (error(c.loc) << "constant '" << c.name << "' is already defined")
                .attachNote(fileLoc(it->second.loc))
            << "previous definition of '" << c.name << "' here";
        ok = false;
        continue;
      }
      FailureOr<SgValue> v = evalSingle(*c.value);
      if (failed(v)) {
        constants[c.name] = Binding{SgValue(), c.loc, /*poison=*/true};
        ok = false;
        continue;
      }
      constants[c.name] = Binding{*v, c.loc};
    }
  }
  return success(ok);
}

FailureOr<SgValue> Elaborator::parseOverride(StringRef text) {
  if (text == "true" || text == "false")
    return SgValue::ofBool(text == "true");
  int64_t i;
  if (!text.getAsInteger(10, i))
    return SgValue::ofInt(i);
  double d;
  if (llvm::to_float(text, d))
    return SgValue::ofFloat(d);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"')
    text = text.drop_front().drop_back();
  return SgValue::ofStr(text);
}

LogicalResult Elaborator::elaborateModel(
    const ModelDecl &model,
    ArrayRef<std::pair<std::string, std::string>> overrides) {
  bool ok = succeeded(evalConstants());
  const DefDecl *callee = lookupDef(model.callee, model.calleeLoc);
  if (!callee) {
    error(model.calleeLoc) << "unknown def '" << model.callee << "'";
    return failure();
  }
  const DefDecl &def = *callee;

  // The model's named arguments, then the command line's on top.
  struct Given {
    SgValue value;
    llvm::SMLoc loc;
    std::string prefix; ///< "--sg-arg x=1: " for overrides.
  };
  llvm::MapVector<StringRef, Given> given;
  for (const Arg &arg : model.args) {
    if (arg.name.empty()) {
      error(arg.value->loc) << "a model's arguments are named: write "
                               "'name = value'";
      ok = false;
      continue;
    }
    if (given.count(arg.name)) {
      error(arg.nameLoc) << "argument '" << arg.name << "' is given twice";
      ok = false;
      continue;
    }
    FailureOr<SgValue> v = evalSingle(*arg.value);
    if (failed(v)) {
      ok = false;
      continue;
    }
    given[arg.name] = Given{*v, arg.value->loc, ""};
  }
  for (const auto &[name, text] : overrides) {
    FailureOr<SgValue> v = parseOverride(text);
    given[name] = Given{*v, model.loc, "--sg-arg " + name + "=" + text + ": "};
  }

  // Bind the entry def's arguments; its tensor arguments become the inputs.
  Scope entry(nullptr);
  SmallVector<Type> inputTypes;
  SmallVector<size_t> inputArgs;
  for (auto [i, arg] : llvm::enumerate(def.args)) {
    auto givenIt = given.find(arg.name);
    if (arg.type.kind == TypeExpr::Kind::Tensor) {
      if (givenIt != given.end()) {
        error(givenIt->second.loc)
            << givenIt->second.prefix << "'" << arg.name
            << "' is a tensor input of '" << def.name
            << "'; a model binds only compile-time arguments and shape "
               "variables";
        given.erase(givenIt);
        ok = false;
      }
      Type elementType = parseElementType(arg.type.elementType);
      if (!elementType || !arg.type.shape) {
        error(arg.type.loc)
            << "input '" << arg.name << "' of model '" << model.name
            << "' needs an element type and a shape, like "
               "f32[B, T]";
        ok = false;
      }
      if (!arg.type.shape)
        continue;
      SmallVector<int64_t> shape;
      for (const ExprPtr &dimExpr : *arg.type.shape) {
        if (dimExpr->kind == Expr::Kind::Name &&
            !isBound(entry, dimExpr->text, dimExpr->loc)) {
          // A shape variable: the model binds it, or it stays dynamic.
          SgValue dim = SgValue::ofDynamic(dimExpr->text);
          auto varIt = given.find(dimExpr->text);
          if (varIt != given.end()) {
            FailureOr<int64_t> v =
                requireInt(varIt->second.value, varIt->second.loc,
                           varIt->second.prefix + "shape variable '" +
                               dimExpr->text + "'");
            if (failed(v) || *v < 0) {
              if (succeeded(v))
                error(varIt->second.loc)
                    << varIt->second.prefix << "shape variable '"
                    << dimExpr->text << "' must not be negative";
              ok = false;
              dim = SgValue::ofInt(1);
            } else {
              dim = SgValue::ofInt(*v);
            }
            given.erase(varIt);
          }
          entry.names[dimExpr->text] = Binding{dim, dimExpr->loc};
          shape.push_back(dim.dynamic ? ShapedType::kDynamic : dim.intValue);
          continue;
        }
        FailureOr<SgValue> v =
            withScope(scope, &entry, [&]() { return evalSingle(*dimExpr); });
        FailureOr<std::optional<int64_t>> dim =
            failed(v) ? FailureOr<std::optional<int64_t>>(failure())
                      : requireDim(*v, dimExpr->loc, "a dimension");
        if (failed(dim)) {
          ok = false;
          shape.push_back(ShapedType::kDynamic);
          continue;
        }
        shape.push_back(*dim ? **dim : ShapedType::kDynamic);
      }
      if (elementType) {
        inputTypes.push_back(RankedTensorType::get(shape, elementType));
        inputArgs.push_back(i);
      }
      continue;
    }

    SgValue value;
    llvm::SMLoc at = model.loc;
    std::string prefix;
    if (givenIt != given.end()) {
      value = givenIt->second.value;
      at = givenIt->second.loc;
      prefix = givenIt->second.prefix;
      given.erase(givenIt);
    } else if (arg.defaultValue) {
      const Expr &dflt = *arg.defaultValue;
      FailureOr<SgValue> v =
          withScope(scope, &entry, [&]() { return evalSingle(dflt); });
      if (failed(v)) {
        ok = false;
        continue;
      }
      value = *v;
    } else {
      error(model.loc) << "model '" << model.name
                       << "' does not bind argument '" << arg.name << "' of '"
                       << def.name << "'; add '" << arg.name
                       << " = ...' or --sg-arg " << arg.name << "=...";
      ok = false;
      continue;
    }
    if (failed(checkArgKind(arg, value, at, def.name, prefix))) {
      ok = false;
      continue;
    }
    entry.names[arg.name] = Binding{value, arg.loc};
  }
  for (auto &[name, g] : given) {
    error(g.loc) << g.prefix << "'" << name
                 << "' is neither an argument nor a shape variable of '"
                 << def.name << "'";
    ok = false;
  }
  if (!ok)
    return failure();

  // The model's function: inputs in the def's order, the loss as result.
  builder.setInsertionPointToEnd(module.getBody());
  auto lossType = RankedTensorType::get({}, builder.getF32Type());
  auto func =
      func::FuncOp::create(builder, fileLoc(model.loc), model.name,
                           builder.getFunctionType(inputTypes, {lossType}));
  func->setAttr("graph.model", builder.getUnitAttr());
  Block *body = func.addEntryBlock();
  for (auto [i, argIndex] : llvm::enumerate(inputArgs)) {
    const ArgDecl &arg = def.args[argIndex];
    func.setArgAttr(i, "graph.name", builder.getStringAttr(arg.name));
    entry.names[arg.name] =
        Binding{SgValue::ofTensor(body->getArgument(i)), arg.loc};
  }
  builder.setInsertionPointToEnd(body);
  paramBuilder.setInsertionPoint(func);

  frames.push_back(Frame{&def, fileLoc(model.loc), {}, std::nullopt, {}});
  callStack.push_back(&def);
  LogicalResult ran = withScope(scope, &entry, [&]() {
    if (failed(runBody(def.body)))
      return failure();
    return checkResults(entry);
  });
  if (failed(ran))
    return failure();
  Frame &frame = frames.back();
  if (!frame.results || frame.results->size() != 1 ||
      !frame.results->front().isTensor() ||
      frame.results->front().tensor.getType() != lossType) {
    std::string got = "nothing";
    if (frame.results && frame.results->size() == 1)
      got = frame.results->front().describe();
    else if (frame.results)
      got = std::to_string(frame.results->size()) + " values";
    error(frame.results ? frame.returnLoc : def.loc)
        << "model '" << model.name << "' must return the loss as a scalar "
        << "f32 tensor (tensor<f32>), but '" << def.name << "' returns " << got;
    return failure();
  }
  func::ReturnOp::create(builder, loc(frame.returnLoc),
                         ValueRange{frame.results->front().tensor});
  return success();
}

FailureOr<Operation *> Elaborator::createParam(llvm::SMLoc at, StringRef path,
                                               RankedTensorType type,
                                               StringRef initKind,
                                               ArrayRef<double> initArgs) {
  std::optional<graph::InitKind> kind = graph::symbolizeInitKind(initKind);
  assert(kind && "evalInitializer returns a known initializer");
  OperationState state(loc(at), graph::ParamOp::getOperationName());
  state.addAttribute("sym_name", builder.getStringAttr(path));
  state.addAttribute("type", TypeAttr::get(type));
  state.addAttribute("init", graph::InitKindAttr::get(context, *kind));
  state.addAttribute("init_args", builder.getDenseF64ArrayAttr(initArgs));
  (void)state.getOrAddProperties<graph::ParamOp::Properties>();
  return finishOp(state, paramBuilder, {});
}
