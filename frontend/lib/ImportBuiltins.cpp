//===- ImportBuiltins.cpp - Builtin functions of the .sg language ---------===//
//
// The builtins of docs/graph-ir.md ("Builtins"): each is a row of one table
// that names its arguments (so that positional and named arguments are
// matched in one place) and a function that checks what only the frontend
// knows (compile-time arguments, negative axes) and builds the op. Shape
// errors are left to the op's own type inference, which reports them at the
// call.
//
//===----------------------------------------------------------------------===//

#include "strata/Frontend/ImportElaborator.h"

#include "strata/Dialect/Graph/IR/GraphOps.h"

#include "llvm/ADT/StringExtras.h"

#include <cmath>

using namespace mlir;
using namespace strata::sg;
namespace graph = strata::graph;

namespace {

/// The evaluated arguments of one builtin call, by parameter index.
struct Args {
  Elaborator &e;
  const Expr &call;
  ArrayRef<StringRef> names;
  std::vector<std::optional<SgValue>> values;
  std::vector<llvm::SMLoc> locs;

  bool has(size_t i) const { return values[i].has_value(); }
  const SgValue &get(size_t i) const { return *values[i]; }
  llvm::SMLoc loc(size_t i) const { return locs[i]; }
  std::string what(size_t i) const {
    return ("argument '" + names[i] + "' of '" + call.text + "'").str();
  }

  FailureOr<Value> tensor(size_t i) const {
    return e.requireTensor(get(i), loc(i), what(i));
  }
  FailureOr<int64_t> integer(size_t i, std::optional<int64_t> dflt = {}) const {
    if (!has(i) && dflt)
      return *dflt;
    return e.requireInt(get(i), loc(i), what(i));
  }
  FailureOr<double> number(size_t i, double dflt) const {
    if (!has(i))
      return dflt;
    return e.requireFloat(get(i), loc(i), what(i));
  }
  FailureOr<bool> boolean(size_t i, bool dflt) const {
    if (!has(i))
      return dflt;
    return e.requireBool(get(i), loc(i), what(i));
  }

  /// An axis of a tensor of `rank`, negative values counting from the end.
  FailureOr<int64_t> axis(size_t i, int64_t rank,
                          std::optional<int64_t> dflt = {}) const {
    FailureOr<int64_t> a = integer(i, dflt);
    if (failed(a))
      return failure();
    if (*a < -rank || *a >= rank) {
      e.error(has(i) ? loc(i) : call.loc)
          << "axis " << *a << " is out of range for a tensor of rank " << rank;
      return failure();
    }
    return *a < 0 ? *a + rank : *a;
  }

  /// A list of axes (or a single one), normalized, sorted and unique.
  FailureOr<SmallVector<int64_t>> axes(size_t i, int64_t rank) const {
    SmallVector<int64_t> result;
    const SgValue &v = get(i);
    if (v.kind != SgValue::Kind::List) {
      FailureOr<int64_t> a = axis(i, rank);
      if (failed(a))
        return failure();
      result.push_back(*a);
      return result;
    }
    for (const SgValue &element : v.elements) {
      FailureOr<int64_t> a = e.requireInt(element, loc(i), "an axis");
      if (failed(a))
        return failure();
      if (*a < -rank || *a >= rank) {
        e.error(loc(i)) << "axis " << *a
                        << " is out of range for a tensor of rank " << rank;
        return failure();
      }
      result.push_back(*a < 0 ? *a + rank : *a);
    }
    llvm::sort(result);
    if (std::adjacent_find(result.begin(), result.end()) != result.end()) {
      e.error(loc(i)) << "an axis is listed twice";
      return failure();
    }
    return result;
  }
};

using BuiltinFn = FailureOr<SgValue> (*)(Args &);

struct Builtin {
  StringRef name;
  SmallVector<StringRef, 4> params;
  /// How many leading parameters must be given.
  size_t required;
  BuiltinFn fn;
};

FailureOr<SgValue> single(FailureOr<Operation *> op) {
  if (failed(op))
    return failure();
  return SgValue::ofTensor((*op)->getResult(0));
}

NamedAttribute named(Elaborator &e, StringRef name, Attribute attr) {
  return e.builder.getNamedAttr(name, attr);
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

/// `op(x, y)` with a number on either side made a scalar constant.
template <typename OpTy>
FailureOr<SgValue> elementwise2(Args &args,
                                double (*onNumbers)(double, double)) {
  const SgValue &x = args.get(0), &y = args.get(1);
  if (x.isNumber() && y.isNumber()) {
    FailureOr<double> a = args.e.requireFloat(x, args.loc(0), args.what(0));
    FailureOr<double> b = args.e.requireFloat(y, args.loc(1), args.what(1));
    if (failed(a) || failed(b))
      return failure();
    double r = onNumbers(*a, *b);
    if (x.kind == SgValue::Kind::Int && y.kind == SgValue::Kind::Int &&
        r == std::floor(r) && std::abs(r) < 9.0e18)
      return SgValue::ofInt(int64_t(r));
    return SgValue::ofFloat(r);
  }
  Value operands[2];
  for (size_t i = 0; i < 2; ++i) {
    const SgValue &v = args.get(i);
    const SgValue &other = args.get(1 - i);
    if (v.isTensor()) {
      operands[i] = v.tensor;
      continue;
    }
    if (!v.isNumber() || !other.isTensor()) {
      (void)args.e.requireTensor(v, args.loc(i), args.what(i));
      return failure();
    }
    FailureOr<Value> c = args.e.scalarConstant(
        v, other.tensorType().getElementType(), args.loc(i));
    if (failed(c))
      return failure();
    operands[i] = *c;
  }
  return single(args.e.createOp<OpTy>(args.call.loc, operands, {}));
}

template <BinaryOp op> FailureOr<SgValue> arithmetic(Args &args) {
  return args.e.binary(op, args.get(0), args.get(1), args.call.loc);
}

template <typename OpTy, double (*fn)(double)>
FailureOr<SgValue> elementwise1(Args &args) {
  const SgValue &x = args.get(0);
  if (x.isTensor())
    return single(args.e.createOp<OpTy>(args.call.loc, {x.tensor}, {}));
  FailureOr<double> a = args.e.requireFloat(x, args.loc(0), args.what(0));
  if (failed(a))
    return failure();
  double r = fn(*a);
  if (!std::isfinite(r)) {
    args.e.error(args.call.loc)
        << "'" << args.call.text << "' of " << *a << " is not a finite number";
    return failure();
  }
  return SgValue::ofFloat(r);
}

double negF(double x) { return -x; }
double expF(double x) { return std::exp(x); }
double logF(double x) { return std::log(x); }
double sqrtF(double x) { return std::sqrt(x); }
double rsqrtF(double x) { return 1.0 / std::sqrt(x); }
double tanhF(double x) { return std::tanh(x); }
double sigmoidF(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double reluF(double x) { return x > 0 ? x : 0.0; }
double siluF(double x) { return x * sigmoidF(x); }
double absF(double x) { return std::abs(x); }
double maxF(double a, double b) { return std::max(a, b); }
double minF(double a, double b) { return std::min(a, b); }
double powF(double a, double b) { return std::pow(a, b); }

/// `min`/`max` of numbers: compile-time only (`minimum`/`maximum` and
/// `amin`/`amax` are the tensor forms).
template <bool isMax> FailureOr<SgValue> minMax(Args &args) {
  for (size_t i = 0; i < 2; ++i) {
    if (!args.get(i).isNumber() || args.get(i).dynamic) {
      args.e.error(args.loc(i))
          << "'" << args.call.text << "' takes compile-time numbers, not "
          << args.get(i).describe() << "; for tensors use '"
          << (isMax ? "maximum" : "minimum") << "' or '"
          << (isMax ? "amax" : "amin") << "'";
      return failure();
    }
  }
  const SgValue &a = args.get(0), &b = args.get(1);
  if (a.kind == SgValue::Kind::Int && b.kind == SgValue::Kind::Int)
    return SgValue::ofInt(isMax ? std::max(a.intValue, b.intValue)
                                : std::min(a.intValue, b.intValue));
  double x = a.kind == SgValue::Kind::Int ? a.intValue : a.floatValue;
  double y = b.kind == SgValue::Kind::Int ? b.intValue : b.floatValue;
  return SgValue::ofFloat(isMax ? std::max(x, y) : std::min(x, y));
}

/// `error("message")`: the model's own compile-time error, reported at the
/// call (and its call sites), for a combination of arguments it rejects:
/// `else { error("unknown gating") }`.
FailureOr<SgValue> userError(Args &args) {
  FailureOr<std::string> message =
      args.e.requireStr(args.get(0), args.loc(0), args.what(0));
  if (failed(message))
    return failure();
  args.e.error(args.call.loc) << *message;
  return failure();
}

FailureOr<SgValue> gelu(Args &args) {
  FailureOr<Value> x = args.tensor(0);
  if (failed(x))
    return failure();
  std::string mode = "none";
  if (args.has(1)) {
    FailureOr<std::string> s =
        args.e.requireStr(args.get(1), args.loc(1), args.what(1));
    if (failed(s))
      return failure();
    mode = *s;
  }
  std::optional<graph::GeluApprox> approx = graph::symbolizeGeluApprox(mode);
  if (!approx) {
    args.e.error(args.loc(1)) << "'approximate' of 'gelu' is \"none\" or "
                                 "\"tanh\", not \""
                              << mode << "\"";
    return failure();
  }
  return single(args.e.createOp<graph::GeluOp>(
      args.call.loc, {*x},
      {named(args.e, "approximate",
             graph::GeluApproxAttr::get(args.e.getContext(), *approx))}));
}

FailureOr<SgValue> castTo(Args &args) {
  FailureOr<Value> x = args.tensor(0);
  if (failed(x))
    return failure();
  if (args.get(1).kind != SgValue::Kind::DType) {
    args.e.error(args.loc(1))
        << args.what(1) << " must be an element type "
        << "(f32, bf16, ...), not " << args.get(1).describe();
    return failure();
  }
  auto type = cast<RankedTensorType>(x->getType()).clone(args.get(1).dtype);
  return single(
      args.e.createOp<graph::CastOp>(args.call.loc, {*x}, {}, {type}));
}

//===----------------------------------------------------------------------===//
// Contractions, reductions, normalizations
//===----------------------------------------------------------------------===//

FailureOr<SgValue> matmul(Args &args) {
  FailureOr<Value> a = args.tensor(0), b = args.tensor(1);
  FailureOr<bool> ta = args.boolean(2, false), tb = args.boolean(3, false);
  if (failed(a) || failed(b) || failed(ta) || failed(tb))
    return failure();
  SmallVector<NamedAttribute> attrs;
  if (*ta)
    attrs.push_back(named(args.e, "transpose_a", args.e.builder.getUnitAttr()));
  if (*tb)
    attrs.push_back(named(args.e, "transpose_b", args.e.builder.getUnitAttr()));
  return single(
      args.e.createOp<graph::MatmulOp>(args.call.loc, {*a, *b}, attrs));
}

template <graph::ReduceKind kind> FailureOr<SgValue> reduce(Args &args) {
  FailureOr<Value> x = args.tensor(0);
  FailureOr<bool> keepdim = args.boolean(2, false);
  if (failed(x) || failed(keepdim))
    return failure();
  int64_t rank = cast<RankedTensorType>(x->getType()).getRank();
  SmallVector<int64_t> axes;
  if (args.has(1)) {
    FailureOr<SmallVector<int64_t>> given = args.axes(1, rank);
    if (failed(given))
      return failure();
    axes = *given;
  } else {
    axes = llvm::to_vector(llvm::seq<int64_t>(0, rank));
  }
  SmallVector<NamedAttribute> attrs = {
      named(args.e, "kind",
            graph::ReduceKindAttr::get(args.e.getContext(), kind)),
      named(args.e, "axes", args.e.builder.getDenseI64ArrayAttr(axes))};
  if (*keepdim)
    attrs.push_back(named(args.e, "keepdim", args.e.builder.getUnitAttr()));
  return single(args.e.createOp<graph::ReduceOp>(args.call.loc, {*x}, attrs));
}

template <typename OpTy> FailureOr<SgValue> softmaxLike(Args &args) {
  FailureOr<Value> x = args.tensor(0);
  if (failed(x))
    return failure();
  FailureOr<int64_t> axis =
      args.axis(1, cast<RankedTensorType>(x->getType()).getRank(), -1);
  if (failed(axis))
    return failure();
  return single(args.e.createOp<OpTy>(
      args.call.loc, {*x},
      {named(args.e, "axis", args.e.builder.getI64IntegerAttr(*axis))}));
}

FailureOr<SgValue> layerNorm(Args &args) {
  FailureOr<Value> x = args.tensor(0), w = args.tensor(1), b = args.tensor(2);
  FailureOr<double> eps = args.number(3, 1e-5);
  if (failed(x) || failed(w) || failed(b) || failed(eps))
    return failure();
  return single(args.e.createOp<graph::LayerNormOp>(
      args.call.loc, {*x, *w, *b},
      {named(args.e, "epsilon", args.e.builder.getF64FloatAttr(*eps))}));
}

FailureOr<SgValue> rmsNorm(Args &args) {
  FailureOr<Value> x = args.tensor(0), w = args.tensor(1);
  FailureOr<double> eps = args.number(2, 1e-6);
  if (failed(x) || failed(w) || failed(eps))
    return failure();
  return single(args.e.createOp<graph::RmsNormOp>(
      args.call.loc, {*x, *w},
      {named(args.e, "epsilon", args.e.builder.getF64FloatAttr(*eps))}));
}

//===----------------------------------------------------------------------===//
// Shapes
//===----------------------------------------------------------------------===//

FailureOr<SgValue> reshape(Args &args) {
  FailureOr<Value> x = args.tensor(0);
  if (failed(x))
    return failure();
  auto inputType = cast<RankedTensorType>(x->getType());
  const SgValue &shapeValue = args.get(1);
  if (shapeValue.kind != SgValue::Kind::List) {
    args.e.error(args.loc(1)) << "the shape of 'reshape' is a list of "
                                 "dimensions, like [B * T, -1]";
    return failure();
  }
  SmallVector<int64_t> shape;
  std::optional<size_t> inferred;
  for (auto [i, element] : llvm::enumerate(shapeValue.elements)) {
    FailureOr<std::optional<int64_t>> dim =
        args.e.requireDim(element, args.loc(1), "a dimension of 'reshape'");
    if (failed(dim))
      return failure();
    if (*dim && **dim == -1) {
      if (inferred) {
        args.e.error(args.loc(1)) << "only one dimension of 'reshape' may be "
                                     "-1";
        return failure();
      }
      inferred = i;
    } else if (*dim && **dim < 0) {
      args.e.error(args.loc(1)) << "dimension " << i << " of 'reshape' is "
                                << **dim << "; only -1 (inferred) may be "
                                << "negative";
      return failure();
    }
    shape.push_back(*dim ? **dim : ShapedType::kDynamic);
  }
  if (inferred) {
    // Inferred when everything else is known, else left dynamic.
    shape[*inferred] = ShapedType::kDynamic;
    int64_t known = 1;
    bool allStatic = inputType.hasStaticShape();
    for (auto [i, d] : llvm::enumerate(shape))
      if (i != *inferred) {
        if (ShapedType::isDynamic(d))
          allStatic = false;
        else
          known *= d;
      }
    if (allStatic) {
      int64_t total = inputType.getNumElements();
      if (known == 0 || total % known != 0) {
        args.e.error(args.call.loc)
            << "cannot reshape " << inputType << " (" << total
            << " elements) into a shape with " << known
            << " elements per step of the -1 dimension";
        return failure();
      }
      shape[*inferred] = total / known;
    }
  }
  auto type = RankedTensorType::get(shape, inputType.getElementType());
  return single(
      args.e.createOp<graph::ReshapeOp>(args.call.loc, {*x}, {}, {type}));
}

FailureOr<SgValue> transpose(Args &args) {
  FailureOr<Value> x = args.tensor(0);
  if (failed(x))
    return failure();
  int64_t rank = cast<RankedTensorType>(x->getType()).getRank();
  SmallVector<int64_t> perm;
  if (!args.has(1)) {
    if (rank < 2) {
      args.e.error(args.call.loc)
          << "'transpose' swaps the last two dimensions, but its input has "
             "rank "
          << rank;
      return failure();
    }
    perm = llvm::to_vector(llvm::seq<int64_t>(0, rank));
    std::swap(perm[rank - 1], perm[rank - 2]);
  } else {
    const SgValue &list = args.get(1);
    if (list.kind != SgValue::Kind::List) {
      args.e.error(args.loc(1)) << "the permutation of 'transpose' is a list, "
                                   "like [0, 2, 1, 3]";
      return failure();
    }
    for (const SgValue &element : list.elements) {
      FailureOr<int64_t> p =
          args.e.requireInt(element, args.loc(1), "a permutation entry");
      if (failed(p))
        return failure();
      perm.push_back(*p < 0 ? *p + rank : *p);
    }
  }
  return single(args.e.createOp<graph::TransposeOp>(
      args.call.loc, {*x},
      {named(args.e, "permutation",
             args.e.builder.getDenseI64ArrayAttr(perm))}));
}

FailureOr<Operation *> makeSlice(Args &args, Value x, int64_t axis,
                                 int64_t start, int64_t end) {
  OpBuilder &b = args.e.builder;
  return args.e.createOp<graph::SliceOp>(
      args.call.loc, {x},
      {named(args.e, "axis", b.getI64IntegerAttr(axis)),
       named(args.e, "start", b.getI64IntegerAttr(start)),
       named(args.e, "end", b.getI64IntegerAttr(end))});
}

FailureOr<SgValue> slice(Args &args) {
  FailureOr<Value> x = args.tensor(0);
  if (failed(x))
    return failure();
  FailureOr<int64_t> axis =
      args.axis(1, cast<RankedTensorType>(x->getType()).getRank());
  FailureOr<int64_t> start = args.integer(2), end = args.integer(3);
  if (failed(axis) || failed(start) || failed(end))
    return failure();
  return single(makeSlice(args, *x, *axis, *start, *end));
}

FailureOr<SgValue> split(Args &args) {
  FailureOr<Value> x = args.tensor(0);
  FailureOr<int64_t> parts = args.integer(1);
  if (failed(x) || failed(parts))
    return failure();
  auto type = cast<RankedTensorType>(x->getType());
  FailureOr<int64_t> axis = args.axis(2, type.getRank());
  if (failed(axis))
    return failure();
  int64_t dim = type.getDimSize(*axis);
  if (*parts < 1 || ShapedType::isDynamic(dim) || dim % *parts != 0) {
    auto diag = args.e.error(args.call.loc);
    diag << "'split' cannot cut dimension " << *axis << " of " << type
         << " into " << *parts << " equal parts";
    if (ShapedType::isDynamic(dim))
      diag << " (the dimension is dynamic)";
    return failure();
  }
  int64_t size = dim / *parts;
  std::vector<SgValue> results;
  for (int64_t i = 0; i < *parts; ++i) {
    FailureOr<SgValue> part =
        single(makeSlice(args, *x, *axis, i * size, (i + 1) * size));
    if (failed(part))
      return failure();
    results.push_back(*part);
  }
  return SgValue::ofTuple(std::move(results));
}

FailureOr<SgValue> concat(Args &args) {
  const SgValue &list = args.get(0);
  if (list.kind != SgValue::Kind::List || list.elements.empty()) {
    args.e.error(args.loc(0)) << "'concat' joins a non-empty list of tensors: "
                                 "concat([x, y], axis = -1)";
    return failure();
  }
  SmallVector<Value> inputs;
  for (const SgValue &element : list.elements) {
    FailureOr<Value> t =
        args.e.requireTensor(element, args.loc(0), "an element of 'concat'");
    if (failed(t))
      return failure();
    inputs.push_back(*t);
  }
  FailureOr<int64_t> axis =
      args.axis(1, cast<RankedTensorType>(inputs[0].getType()).getRank());
  if (failed(axis))
    return failure();
  return single(args.e.createOp<graph::ConcatOp>(
      args.call.loc, inputs,
      {named(args.e, "axis", args.e.builder.getI64IntegerAttr(*axis))}));
}

//===----------------------------------------------------------------------===//
// Indexing, transformer and mixture-of-experts ops
//===----------------------------------------------------------------------===//

/// An op taking only tensors, in parameter order.
template <typename OpTy> FailureOr<SgValue> tensorsOnly(Args &args) {
  SmallVector<Value> operands;
  for (size_t i = 0; i < args.names.size(); ++i) {
    FailureOr<Value> t = args.tensor(i);
    if (failed(t))
      return failure();
    operands.push_back(*t);
  }
  return single(args.e.createOp<OpTy>(args.call.loc, operands, {}));
}

FailureOr<SgValue> arange(Args &args) {
  FailureOr<int64_t> n = args.integer(0);
  if (failed(n))
    return failure();
  if (*n < 1) {
    args.e.error(args.loc(0)) << "'arange' needs n >= 1, got " << *n;
    return failure();
  }
  auto type = RankedTensorType::get({*n}, args.e.builder.getI32Type());
  return single(args.e.createOp<graph::IotaOp>(args.call.loc, {}, {}, {type}));
}

FailureOr<SgValue> oneHot(Args &args) {
  FailureOr<Value> indices = args.tensor(0);
  FailureOr<int64_t> n = args.integer(1);
  if (failed(indices) || failed(n))
    return failure();
  return single(args.e.createOp<graph::OneHotOp>(
      args.call.loc, {*indices},
      {named(args.e, "num_classes", args.e.builder.getI64IntegerAttr(*n))}));
}

FailureOr<SgValue> rope(Args &args) {
  FailureOr<Value> x = args.tensor(0);
  FailureOr<double> theta = args.number(1, 10000.0);
  if (failed(x) || failed(theta))
    return failure();
  return single(args.e.createOp<graph::RopeOp>(
      args.call.loc, {*x},
      {named(args.e, "theta", args.e.builder.getF64FloatAttr(*theta))}));
}

FailureOr<SgValue> attention(Args &args) {
  FailureOr<Value> q = args.tensor(0), k = args.tensor(1), v = args.tensor(2);
  FailureOr<bool> causal = args.boolean(3, true);
  if (failed(q) || failed(k) || failed(v) || failed(causal))
    return failure();
  double scale = 1.0;
  if (args.has(4)) {
    FailureOr<double> s = args.number(4, 1.0);
    if (failed(s))
      return failure();
    scale = *s;
  } else {
    // 1/sqrt(Dh); a query of the wrong rank is left to the op to report.
    auto qType = cast<RankedTensorType>(q->getType());
    if (qType.getRank() > 0) {
      int64_t dh = qType.getDimSize(qType.getRank() - 1);
      if (ShapedType::isDynamic(dh) || dh == 0) {
        args.e.error(args.call.loc)
            << "the default scale of 'attention' is 1/sqrt(Dh), but the head "
               "dimension of "
            << qType << " is not known; pass scale = ...";
        return failure();
      }
      scale = 1.0 / std::sqrt(double(dh));
    }
  }
  SmallVector<NamedAttribute> attrs = {
      named(args.e, "scale", args.e.builder.getF64FloatAttr(scale))};
  if (*causal)
    attrs.push_back(named(args.e, "causal", args.e.builder.getUnitAttr()));
  return single(
      args.e.createOp<graph::AttentionOp>(args.call.loc, {*q, *k, *v}, attrs));
}

FailureOr<SgValue> topk(Args &args) {
  FailureOr<Value> x = args.tensor(0);
  FailureOr<int64_t> k = args.integer(1);
  if (failed(x) || failed(k))
    return failure();
  FailureOr<Operation *> op = args.e.createOp<graph::TopKOp>(
      args.call.loc, {*x},
      {named(args.e, "k", args.e.builder.getI64IntegerAttr(*k))});
  if (failed(op))
    return failure();
  return SgValue::ofTuple({SgValue::ofTensor((*op)->getResult(0)),
                           SgValue::ofTensor((*op)->getResult(1))});
}

FailureOr<SgValue> moeDispatch(Args &args) {
  FailureOr<Value> x = args.tensor(0), indices = args.tensor(1);
  FailureOr<int64_t> experts = args.integer(2), capacity = args.integer(3);
  if (failed(x) || failed(indices) || failed(experts) || failed(capacity))
    return failure();
  OpBuilder &b = args.e.builder;
  return single(args.e.createOp<graph::MoeDispatchOp>(
      args.call.loc, {*x, *indices},
      {named(args.e, "num_experts", b.getI64IntegerAttr(*experts)),
       named(args.e, "capacity", b.getI64IntegerAttr(*capacity))}));
}

/// The table of builtins. Parameter names are what named arguments use.
const Builtin kBuiltins[] = {
    {"matmul", {"a", "b", "transpose_a", "transpose_b"}, 2, matmul},
    {"add", {"x", "y"}, 2, arithmetic<BinaryOp::Add>},
    {"sub", {"x", "y"}, 2, arithmetic<BinaryOp::Sub>},
    {"mul", {"x", "y"}, 2, arithmetic<BinaryOp::Mul>},
    {"div", {"x", "y"}, 2, arithmetic<BinaryOp::Div>},
    {"maximum",
     {"x", "y"},
     2,
     [](Args &a) { return elementwise2<graph::MaximumOp>(a, maxF); }},
    {"minimum",
     {"x", "y"},
     2,
     [](Args &a) { return elementwise2<graph::MinimumOp>(a, minF); }},
    {"pow",
     {"x", "y"},
     2,
     [](Args &a) { return elementwise2<graph::PowOp>(a, powF); }},
    {"neg", {"x"}, 1, elementwise1<graph::NegOp, negF>},
    {"exp", {"x"}, 1, elementwise1<graph::ExpOp, expF>},
    {"log", {"x"}, 1, elementwise1<graph::LogOp, logF>},
    {"sqrt", {"x"}, 1, elementwise1<graph::SqrtOp, sqrtF>},
    {"rsqrt", {"x"}, 1, elementwise1<graph::RsqrtOp, rsqrtF>},
    {"tanh", {"x"}, 1, elementwise1<graph::TanhOp, tanhF>},
    {"sigmoid", {"x"}, 1, elementwise1<graph::SigmoidOp, sigmoidF>},
    {"relu", {"x"}, 1, elementwise1<graph::ReluOp, reluF>},
    {"silu", {"x"}, 1, elementwise1<graph::SiluOp, siluF>},
    {"abs", {"x"}, 1, elementwise1<graph::AbsOp, absF>},
    {"gelu", {"x", "approximate"}, 1, gelu},
    {"error", {"message"}, 1, userError},
    {"min", {"a", "b"}, 2, minMax<false>},
    {"max", {"a", "b"}, 2, minMax<true>},
    {"sum", {"x", "axis", "keepdim"}, 1, reduce<graph::ReduceKind::sum>},
    {"mean", {"x", "axis", "keepdim"}, 1, reduce<graph::ReduceKind::mean>},
    {"amax", {"x", "axis", "keepdim"}, 1, reduce<graph::ReduceKind::max>},
    {"amin", {"x", "axis", "keepdim"}, 1, reduce<graph::ReduceKind::min>},
    {"softmax", {"x", "axis"}, 1, softmaxLike<graph::SoftmaxOp>},
    {"log_softmax", {"x", "axis"}, 1, softmaxLike<graph::LogSoftmaxOp>},
    {"layer_norm", {"x", "weight", "bias", "eps"}, 3, layerNorm},
    {"rms_norm", {"x", "weight", "eps"}, 2, rmsNorm},
    {"reshape", {"x", "shape"}, 2, reshape},
    {"transpose", {"x", "perm"}, 1, transpose},
    {"slice", {"x", "axis", "start", "end"}, 4, slice},
    {"split", {"x", "n", "axis"}, 3, split},
    {"concat", {"tensors", "axis"}, 2, concat},
    {"gather", {"table", "indices"}, 2, tensorsOnly<graph::GatherOp>},
    {"arange", {"n"}, 1, arange},
    {"one_hot", {"indices", "n"}, 2, oneHot},
    {"rope", {"x", "theta"}, 1, rope},
    {"attention", {"q", "k", "v", "causal", "scale"}, 3, attention},
    {"topk", {"x", "k"}, 2, topk},
    {"moe_dispatch", {"x", "indices", "experts", "capacity"}, 4, moeDispatch},
    {"moe_combine",
     {"y", "indices", "weights"},
     3,
     tensorsOnly<graph::MoeCombineOp>},
    {"cross_entropy",
     {"logits", "targets"},
     2,
     tensorsOnly<graph::CrossEntropyOp>},
    {"cast", {"x", "dtype"}, 2, castTo},
};

} // namespace

std::optional<FailureOr<SgValue>> Elaborator::callBuiltin(const Expr &call) {
  const Builtin *builtin = llvm::find_if(
      kBuiltins, [&](const Builtin &b) { return b.name == call.text; });
  if (builtin == std::end(kBuiltins))
    return std::nullopt;
  FailureOr<MatchedArgs> matched =
      matchArgs(call, builtin->params, builtin->required);
  if (failed(matched))
    return FailureOr<SgValue>(failure());
  Args args{*this, call, builtin->params, {}, matched->locs};
  bool ok = true;
  for (const Expr *expr : matched->exprs) {
    if (!expr) {
      args.values.emplace_back();
      continue;
    }
    FailureOr<SgValue> v = evalSingle(*expr);
    ok &= succeeded(v);
    args.values.push_back(succeeded(v) ? std::optional<SgValue>(*v)
                                       : std::nullopt);
  }
  if (!ok)
    return FailureOr<SgValue>(failure());
  return builtin->fn(args);
}
