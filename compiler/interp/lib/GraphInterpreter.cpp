//===- GraphInterpreter.cpp - Reference interpreter for strata.graph ------===//

#include "strata/Interp/GraphInterpreter.h"

#include "strata/Cpu/Kernels.h"
#include "strata/Dialect/Graph/IR/GraphDialect.h"
#include "strata/Dialect/Graph/IR/GraphOps.h"
#include "strata/Runtime/Init.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Location.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <thread>

using namespace mlir;
using namespace strata;
using namespace strata::interp;
using llvm::Expected;

//===----------------------------------------------------------------------===//
// DType and Tensor
//===----------------------------------------------------------------------===//

bool strata::interp::isFloat(DType type) {
  switch (type) {
  case DType::F32:
  case DType::F64:
  case DType::F16:
  case DType::BF16:
  case DType::F8E4M3FN:
  case DType::F8E5M2:
    return true;
  case DType::I1:
  case DType::I32:
  case DType::I64:
    return false;
  }
  return false;
}

llvm::StringRef strata::interp::dtypeName(DType type) {
  switch (type) {
  case DType::F32:
    return "f32";
  case DType::F64:
    return "f64";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  case DType::F8E4M3FN:
    return "f8E4M3FN";
  case DType::F8E5M2:
    return "f8E5M2";
  case DType::I1:
    return "i1";
  case DType::I32:
    return "i32";
  case DType::I64:
    return "i64";
  }
  return "?";
}

Expected<DType> strata::interp::dtypeFromType(Type type) {
  if (type.isF32())
    return DType::F32;
  if (type.isF64())
    return DType::F64;
  if (type.isF16())
    return DType::F16;
  if (type.isBF16())
    return DType::BF16;
  if (isa<Float8E4M3FNType>(type))
    return DType::F8E4M3FN;
  if (isa<Float8E5M2Type>(type))
    return DType::F8E5M2;
  if (type.isSignlessInteger(1))
    return DType::I1;
  if (type.isSignlessInteger(32))
    return DType::I32;
  if (type.isSignlessInteger(64))
    return DType::I64;
  std::string name;
  llvm::raw_string_ostream os(name);
  type.print(os);
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "element type " + name +
                                     " is not supported by the interpreter");
}

static const llvm::fltSemantics *semanticsOf(DType type) {
  switch (type) {
  case DType::F16:
    return &llvm::APFloat::IEEEhalf();
  case DType::BF16:
    return &llvm::APFloat::BFloat();
  case DType::F8E4M3FN:
    return &llvm::APFloat::Float8E4M3FN();
  case DType::F8E5M2:
    return &llvm::APFloat::Float8E5M2();
  default:
    return nullptr;
  }
}

float strata::interp::roundToDType(float value, DType type) {
  const llvm::fltSemantics *semantics = semanticsOf(type);
  if (!semantics)
    return value;
  llvm::APFloat v(value);
  bool losesInfo = false;
  v.convert(*semantics, llvm::APFloat::rmNearestTiesToEven, &losesInfo);
  v.convert(llvm::APFloat::IEEEsingle(), llvm::APFloat::rmNearestTiesToEven,
            &losesInfo);
  return v.convertToFloat();
}

Tensor::Tensor(DType type, llvm::ArrayRef<int64_t> shape)
    : type(type), dims(shape.begin(), shape.end()) {
  if (interp::isFloat(type))
    floatData.assign(numElements(), 0.0f);
  else
    intData.assign(numElements(), 0);
}

Tensor Tensor::fromFloats(llvm::ArrayRef<int64_t> shape,
                          llvm::ArrayRef<float> values, DType type) {
  assert(interp::isFloat(type) && "fromFloats needs a float type");
  Tensor t(type, shape);
  assert(values.size() == t.floatData.size() && "wrong number of values");
  llvm::copy(values, t.floatData.begin());
  t.roundToFormat();
  return t;
}

Tensor Tensor::fromInts(llvm::ArrayRef<int64_t> shape,
                        llvm::ArrayRef<int64_t> values, DType type) {
  assert(!interp::isFloat(type) && "fromInts needs an integer type");
  Tensor t(type, shape);
  assert(values.size() == t.intData.size() && "wrong number of values");
  llvm::copy(values, t.intData.begin());
  return t;
}

int64_t Tensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

void Tensor::roundToFormat() {
  if (!semanticsOf(type))
    return;
  for (float &v : floatData)
    v = roundToDType(v, type);
}

void Tensor::setFloatFormat(DType format) {
  assert(interp::isFloat(type) && interp::isFloat(format) &&
         "setFloatFormat needs float types");
  type = format;
  roundToFormat();
}

std::string strata::interp::formatLocation(Location loc) {
  std::string result;
  loc->walk([&](Location inner) {
    if (auto file = dyn_cast<FileLineColLoc>(inner)) {
      result = llvm::formatv("{0}:{1}:{2}", file.getFilename().getValue(),
                             file.getLine(), file.getColumn())
                   .str();
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (result.empty()) {
    llvm::raw_string_ostream os(result);
    loc.print(os);
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

static runtime::InitKind toRuntimeInit(graph::InitKind kind) {
  switch (kind) {
  case graph::InitKind::zeros:
    return runtime::InitKind::Zeros;
  case graph::InitKind::ones:
    return runtime::InitKind::Ones;
  case graph::InitKind::constant:
    return runtime::InitKind::Constant;
  case graph::InitKind::normal:
    return runtime::InitKind::Normal;
  case graph::InitKind::uniform:
    return runtime::InitKind::Uniform;
  }
  return runtime::InitKind::Zeros;
}

static llvm::Error errorAt(Location loc, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 formatLocation(loc) + ": error: " + message);
}

Expected<ParamMap> strata::interp::initializeParameters(ModuleOp module,
                                                        uint64_t seed) {
  ParamMap params;
  for (auto param : module.getOps<graph::ParamOp>()) {
    RankedTensorType type = param.getType();
    Expected<DType> dtype = dtypeFromType(type.getElementType());
    if (!dtype)
      return errorAt(param.getLoc(), llvm::toString(dtype.takeError()));
    if (!type.hasStaticShape() || !isFloat(*dtype))
      return errorAt(param.getLoc(), "parameter '" + param.getSymName() +
                                         "' needs a static float tensor type");
    Tensor value(DType::F32, type.getShape());
    if (llvm::Error err = runtime::initializeParameter(
            toRuntimeInit(param.getInit()), param.getInitArgs(),
            param.getSymName(), seed, value.floats().data(),
            value.numElements()))
      return errorAt(param.getLoc(), llvm::toString(std::move(err)));
    value.setFloatFormat(*dtype);
    params[param.getSymName()] = std::move(value);
  }
  for (auto state : module.getOps<graph::StateOp>()) {
    RankedTensorType type = state.getTensorType();
    Expected<DType> dtype = dtypeFromType(type.getElementType());
    if (!dtype)
      return errorAt(state.getLoc(), llvm::toString(dtype.takeError()));
    if (!type.hasStaticShape() || !isFloat(*dtype))
      return errorAt(state.getLoc(), "state '" + state.getSymName() +
                                         "' needs a static float tensor type");
    params[state.getSymName()] = Tensor(*dtype, type.getShape());
  }
  return params;
}

//===----------------------------------------------------------------------===//
// Evaluation
//===----------------------------------------------------------------------===//

namespace {

cpu::Shape viewOf(llvm::ArrayRef<int64_t> shape) {
  return cpu::Shape{shape.data(), static_cast<int>(shape.size())};
}

int64_t product(llvm::ArrayRef<int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

std::string shapeString(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleave(
      shape, os,
      [&](int64_t d) {
        if (ShapedType::isDynamic(d))
          os << "?";
        else
          os << d;
      },
      ", ");
  os << "]";
  return s;
}

int numThreads() {
  unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(n, 1u, 8u));
}

/// Evaluates one function. Values live in `values` until the function
/// returns; every op's result is checked against its declared type.
class Evaluator {
public:
  /// `state` is null for evaluate(): then ops that write state fail.
  Evaluator(const ParamMap &params, ParamMap *state)
      : params(params), state(state) {}

  Expected<llvm::SmallVector<Tensor>> run(func::FuncOp func,
                                          llvm::ArrayRef<Tensor> inputs);

private:
  llvm::Error fail(Operation *op, const llvm::Twine &message) {
    return errorAt(op->getLoc(), op->getName().getStringRef() + ": " + message);
  }

  /// The gather, topk and MoE kernels return the flat position of the first
  /// index outside [0, bound) in `indices`; `what` names the index ("expert
  /// id").
  llvm::Error outOfRange(Operation *op, llvm::StringRef what,
                         const Tensor &indices, int64_t position,
                         int64_t bound) {
    return fail(op, llvm::Twine(what) + " " +
                        llvm::Twine(indices.ints()[position]) +
                        " at position " + llvm::Twine(position) +
                        " is out of range [0, " + llvm::Twine(bound) + ")");
  }

  const Tensor &get(Value v) { return values.find(v)->second; }

  /// Checks `t` against `result`'s type, gives float results the declared
  /// format, and binds it.
  llvm::Error bind(Operation *op, Value result, Tensor t);
  /// bind() for an op of one result.
  llvm::Error bindResult(Operation *op, Expected<Tensor> t);
  /// bind() of each of `op`'s results, in order.
  llvm::Error bindResults(Operation *op, llvm::MutableArrayRef<Tensor> results);

  llvm::Error evalOp(Operation *op);

  /// Runs a float kernel on a float tensor, or on an integer tensor whose
  /// values are exact in f32 (layout ops on indices).
  Expected<Tensor> viaFloats(
      Operation *op, llvm::ArrayRef<const Tensor *> inputs,
      llvm::ArrayRef<int64_t> outShape,
      llvm::function_ref<void(llvm::ArrayRef<const float *>, float *)> kernel);

  Expected<llvm::SmallVector<int32_t>> indicesOf(Operation *op,
                                                 const Tensor &t);

  Expected<Tensor> evalBinary(Operation *op, cpu::BinaryKind kind);
  Expected<Tensor> evalUnary(Operation *op, cpu::UnaryKind kind);
  Expected<Tensor> evalMatmul(graph::MatmulOp op);
  Expected<Tensor> evalSoftmax(Operation *op, int64_t axis, bool logSoftmax);
  /// rope and rope_grad: rotates operand 0 (`what`, "an input", [B, H, T,
  /// Dh]) by `theta`, backwards for the gradient.
  Expected<Tensor> evalRope(Operation *op, llvm::StringRef what, double theta,
                            bool backward);
  /// softmax_grad and log_softmax_grad, operands (output, grad).
  Expected<Tensor> evalSoftmaxGrad(Operation *op, int64_t axis,
                                   bool logSoftmax);
  Expected<Tensor> evalCast(graph::CastOp op);
  Expected<Tensor> evalReshape(graph::ReshapeOp op);
  Expected<Tensor> evalConstant(graph::ConstantOp op);

  /// The class index of each row of `logits` [..., V] for cross entropy and
  /// its gradient: `targets` holds one per row, each in [0, V).
  Expected<llvm::SmallVector<int32_t>>
  crossEntropyTargets(Operation *op, const Tensor &logits,
                      const Tensor &targets);
  /// The kernel shape of attention (or its gradient) over `q`, `k`, `v`.
  Expected<cpu::AttentionShape> attentionShape(Operation *op, const Tensor &q,
                                               const Tensor &k, const Tensor &v,
                                               bool causal, double scale);

  /// Runs `rowKernel(in, out, rows, cols)` on row-major [rows, cols] views of
  /// `inputs` (all of one shape) with `axis` moved last, and moves the result
  /// back.
  Tensor alongAxis(llvm::ArrayRef<const Tensor *> inputs, int64_t axis,
                   llvm::function_ref<void(llvm::ArrayRef<const float *>,
                                           float *, int64_t, int64_t)>
                       rowKernel);

  /// The gradient, state and optimizer ops (GraphTrainingOps.td); nullopt
  /// for any other op.
  std::optional<llvm::Error> evalTrainingOp(Operation *op);
  llvm::Error evalStateUpdate(Operation *op);
  /// The tensor of a graph.param or graph.state that `op` updates.
  Expected<Tensor *> stateOf(Operation *op, llvm::StringRef name);

  const ParamMap &params;
  ParamMap *state;
  llvm::DenseMap<Value, Tensor> values;
};

} // namespace

llvm::Error Evaluator::bind(Operation *op, Value result, Tensor t) {
  auto type = cast<RankedTensorType>(result.getType());
  if (type.getRank() != t.rank())
    return fail(op, "computed rank " + llvm::Twine(t.rank()) +
                        " but the result type has rank " +
                        llvm::Twine(type.getRank()));
  for (auto [declared, actual] : llvm::zip(type.getShape(), t.shape()))
    if (!ShapedType::isDynamic(declared) && declared != actual)
      return fail(op, "computed shape " + shapeString(t.shape()) +
                          " does not match the result type's shape " +
                          shapeString(type.getShape()));
  Expected<DType> dtype = dtypeFromType(type.getElementType());
  if (!dtype)
    return fail(op, llvm::toString(dtype.takeError()));
  if (isFloat(*dtype) != t.isFloat())
    return fail(op, "computed a tensor of the wrong element kind");
  if (t.isFloat())
    t.setFloatFormat(*dtype);
  else if (*dtype != t.dtype())
    t = Tensor::fromInts(t.shape(), t.ints(), *dtype);
  values[result] = std::move(t);
  return llvm::Error::success();
}

llvm::Error Evaluator::bindResult(Operation *op, Expected<Tensor> t) {
  if (!t)
    return t.takeError();
  return bind(op, op->getResult(0), std::move(*t));
}

llvm::Error Evaluator::bindResults(Operation *op,
                                   llvm::MutableArrayRef<Tensor> results) {
  for (auto [result, t] : llvm::zip_equal(op->getResults(), results))
    if (llvm::Error err = bind(op, result, std::move(t)))
      return err;
  return llvm::Error::success();
}

Expected<Tensor> Evaluator::viaFloats(
    Operation *op, llvm::ArrayRef<const Tensor *> inputs,
    llvm::ArrayRef<int64_t> outShape,
    llvm::function_ref<void(llvm::ArrayRef<const float *>, float *)> kernel) {
  bool isInt = !inputs.front()->isFloat();
  llvm::SmallVector<std::vector<float>> converted;
  llvm::SmallVector<const float *> pointers;
  for (const Tensor *t : inputs) {
    if (t->isFloat() == isInt)
      return fail(op, "operands mix float and integer tensors");
    if (!isInt) {
      pointers.push_back(t->floats().data());
      continue;
    }
    std::vector<float> &floats = converted.emplace_back();
    for (int64_t v : t->ints()) {
      if (v > (1 << 24) || v < -(1 << 24))
        return fail(op, "integer value " + llvm::Twine(v) +
                            " is too large for the interpreter's f32 kernels");
      floats.push_back(static_cast<float>(v));
    }
    pointers.push_back(floats.data());
  }
  if (!isInt) {
    Tensor out(DType::F32, outShape);
    kernel(pointers, out.floats().data());
    return out;
  }
  std::vector<float> result(product(outShape));
  kernel(pointers, result.data());
  Tensor out(inputs.front()->dtype(), outShape);
  for (auto [dst, src] : llvm::zip(out.ints(), result))
    dst = static_cast<int64_t>(src);
  return out;
}

Expected<llvm::SmallVector<int32_t>> Evaluator::indicesOf(Operation *op,
                                                          const Tensor &t) {
  if (t.isFloat())
    return fail(op, "indices must be integers");
  llvm::SmallVector<int32_t> result;
  result.reserve(t.numElements());
  for (int64_t v : t.ints())
    // -1 is out of range for every kernel, so an index beyond int32 is
    // reported as bad rather than wrapped.
    result.push_back(v < INT32_MIN || v > INT32_MAX ? -1
                                                    : static_cast<int32_t>(v));
  return result;
}

static Expected<llvm::SmallVector<int64_t>>
broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  llvm::SmallVector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "shapes " + shapeString(a) + " and " +
                                         shapeString(b) + " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Expected<Tensor> Evaluator::evalBinary(Operation *op, cpu::BinaryKind kind) {
  const Tensor &a = get(op->getOperand(0)), &b = get(op->getOperand(1));
  auto shape = broadcastShapes(a.shape(), b.shape());
  if (!shape)
    return fail(op, llvm::toString(shape.takeError()));
  if (!a.isFloat() &&
      (kind == cpu::BinaryKind::Div || kind == cpu::BinaryKind::Pow))
    return fail(op, "integer operands are not supported by the interpreter");
  return viaFloats(op, {&a, &b}, *shape,
                   [&](llvm::ArrayRef<const float *> in, float *out) {
                     cpu::binaryForward(kind, in[0], viewOf(a.shape()), in[1],
                                        viewOf(b.shape()), out, viewOf(*shape));
                   });
}

Expected<Tensor> Evaluator::evalUnary(Operation *op, cpu::UnaryKind kind) {
  const Tensor &x = get(op->getOperand(0));
  Tensor out(DType::F32, x.shape());
  cpu::unaryForward(kind, x.floats().data(), out.floats().data(),
                    x.numElements());
  return out;
}

Expected<Tensor> Evaluator::evalMatmul(graph::MatmulOp op) {
  const Tensor &a = get(op.getLhs()), &b = get(op.getRhs());
  if (!a.isFloat())
    return fail(op, "integer operands are not supported by the interpreter");
  bool transA = op.getTransposeA(), transB = op.getTransposeB();
  llvm::ArrayRef<int64_t> as = a.shape(), bs = b.shape();
  int64_t m = transA ? as.back() : as[as.size() - 2];
  int64_t k = transA ? as[as.size() - 2] : as.back();
  int64_t kb = transB ? bs.back() : bs[bs.size() - 2];
  int64_t n = transB ? bs[bs.size() - 2] : bs.back();
  if (k != kb)
    return fail(op, "contracting dimensions differ: " + shapeString(as) +
                        " and " + shapeString(bs));
  llvm::ArrayRef<int64_t> aBatch = as.drop_back(2), bBatch = bs.drop_back(2);
  auto batch = broadcastShapes(aBatch, bBatch);
  if (!batch)
    return fail(op, llvm::toString(batch.takeError()));
  llvm::SmallVector<int64_t> outShape(*batch);
  outShape.append({m, n});
  Tensor out(DType::F32, outShape);

  // A rank-2 right operand is shared by every batch: fold the batch of the
  // left operand into its rows with one kernel call.
  if (bBatch.empty() && !transA) {
    cpu::MatmulShape shape{1, product(aBatch) * m, n, k, false, transB};
    cpu::matmulForward(out.floats().data(), a.floats().data(),
                       b.floats().data(), shape, false, numThreads());
    return out;
  }
  int64_t numBatches = product(*batch);
  int64_t rank = batch->size();
  cpu::MatmulShape shape{1, m, n, k, transA, transB};
  llvm::SmallVector<int64_t> index(rank, 0);
  for (int64_t flat = 0; flat < numBatches; ++flat) {
    int64_t rem = flat;
    for (int64_t d = rank - 1; d >= 0; --d) {
      index[d] = rem % (*batch)[d];
      rem /= (*batch)[d];
    }
    auto offsetIn = [&](llvm::ArrayRef<int64_t> dims) {
      int64_t offset = 0, lead = rank - dims.size();
      for (size_t d = 0; d < dims.size(); ++d)
        offset = offset * dims[d] + (dims[d] == 1 ? 0 : index[lead + d]);
      return offset;
    };
    cpu::matmulForward(out.floats().data() + flat * m * n,
                       a.floats().data() + offsetIn(aBatch) * m * k,
                       b.floats().data() + offsetIn(bBatch) * k * n, shape,
                       false, numThreads());
  }
  return out;
}

Tensor
Evaluator::alongAxis(llvm::ArrayRef<const Tensor *> inputs, int64_t axis,
                     llvm::function_ref<void(llvm::ArrayRef<const float *>,
                                             float *, int64_t, int64_t)>
                         rowKernel) {
  llvm::ArrayRef<int64_t> shape = inputs.front()->shape();
  int64_t rank = shape.size(), numElements = product(shape);
  Tensor out(DType::F32, shape);
  auto rowsOf = [&](int64_t cols) {
    return cols == 0 ? 0 : numElements / cols;
  };
  if (axis == rank - 1) {
    llvm::SmallVector<const float *> in;
    for (const Tensor *t : inputs)
      in.push_back(t->floats().data());
    rowKernel(in, out.floats().data(), rowsOf(shape.back()), shape.back());
    return out;
  }
  // Move `axis` last, run the rows, and move it back.
  llvm::SmallVector<int64_t> perm, inverse(rank), moved;
  for (int64_t d = 0; d < rank; ++d)
    if (d != axis)
      perm.push_back(d);
  perm.push_back(axis);
  for (int64_t d = 0; d < rank; ++d) {
    inverse[perm[d]] = d;
    moved.push_back(shape[perm[d]]);
  }
  llvm::SmallVector<std::vector<float>> transposed;
  llvm::SmallVector<const float *> in;
  for (const Tensor *t : inputs) {
    std::vector<float> &buffer = transposed.emplace_back(numElements);
    cpu::transposeForward(t->floats().data(), viewOf(shape), perm.data(),
                          buffer.data());
    in.push_back(buffer.data());
  }
  std::vector<float> result(numElements);
  rowKernel(in, result.data(), rowsOf(moved.back()), moved.back());
  cpu::transposeForward(result.data(), viewOf(moved), inverse.data(),
                        out.floats().data());
  return out;
}

Expected<Tensor> Evaluator::evalSoftmax(Operation *op, int64_t axis,
                                        bool logSoftmax) {
  const Tensor &x = get(op->getOperand(0));
  if (x.rank() == 0)
    return fail(op, "needs a ranked input of rank >= 1");
  return alongAxis({&x}, axis,
                   [&](llvm::ArrayRef<const float *> in, float *out,
                       int64_t rows, int64_t cols) {
                     if (logSoftmax)
                       cpu::logSoftmaxForward(in[0], out, rows, cols);
                     else
                       cpu::softmaxForward(out, in[0], rows, cols);
                   });
}

Expected<Tensor> Evaluator::evalRope(Operation *op, llvm::StringRef what,
                                     double theta, bool backward) {
  const Tensor &x = get(op->getOperand(0));
  if (x.rank() != 4 || x.shape()[3] % 2 != 0)
    return fail(op, "needs " + what + " [B, H, T, Dh] with Dh even");
  llvm::ArrayRef<int64_t> s = x.shape();
  Tensor out(DType::F32, s);
  if (backward)
    cpu::ropeBackward(out.floats().data(), x.floats().data(), s[0], s[1], s[2],
                      s[3], theta);
  else
    cpu::ropeForward(out.floats().data(), x.floats().data(), s[0], s[1], s[2],
                     s[3], theta);
  return out;
}

Expected<Tensor> Evaluator::evalSoftmaxGrad(Operation *op, int64_t axis,
                                            bool logSoftmax) {
  const Tensor &y = get(op->getOperand(0)), &dy = get(op->getOperand(1));
  if (dy.shape() != y.shape() || y.rank() == 0)
    return fail(op, "output and grad must have one shape of rank >= 1");
  return alongAxis({&y, &dy}, axis,
                   [&](llvm::ArrayRef<const float *> in, float *dx,
                       int64_t rows, int64_t cols) {
                     if (logSoftmax)
                       cpu::logSoftmaxBackward(in[0], in[1], dx, rows, cols);
                     else
                       cpu::softmaxBackward(dx, in[1], in[0], rows, cols);
                   });
}

Expected<llvm::SmallVector<int32_t>>
Evaluator::crossEntropyTargets(Operation *op, const Tensor &logits,
                               const Tensor &targets) {
  if (!logits.isFloat() || logits.rank() == 0)
    return fail(op, "logits must be a float tensor of rank >= 1");
  int64_t vocab = logits.shape().back();
  int64_t rows = vocab ? logits.numElements() / vocab : 0;
  if (targets.numElements() != rows)
    return fail(op, "targets " + shapeString(targets.shape()) +
                        " do not match logits " + shapeString(logits.shape()));
  auto indices = indicesOf(op, targets);
  if (!indices)
    return indices.takeError();
  for (auto [n, v] : llvm::enumerate(targets.ints()))
    if (v < 0 || v >= vocab)
      return outOfRange(op, "target", targets, n, vocab);
  return indices;
}

Expected<cpu::AttentionShape>
Evaluator::attentionShape(Operation *op, const Tensor &q, const Tensor &k,
                          const Tensor &v, bool causal, double scale) {
  if (q.rank() != 4 || k.rank() != 4 || v.rank() != 4)
    return fail(op, "query, key and value must have rank 4");
  llvm::ArrayRef<int64_t> qs = q.shape(), ks = k.shape(), vs = v.shape();
  if (qs[0] != ks[0] || qs[0] != vs[0] || ks[1] != vs[1] || ks[2] != vs[2] ||
      qs[3] != ks[3] || ks[1] == 0 || qs[1] % ks[1] != 0)
    return fail(op, "incompatible shapes " + shapeString(qs) + ", " +
                        shapeString(ks) + ", " + shapeString(vs));
  cpu::AttentionShape shape;
  shape.batch = qs[0];
  shape.qHeads = qs[1];
  shape.kvHeads = ks[1];
  shape.qLen = qs[2];
  shape.kvLen = ks[2];
  shape.headDim = qs[3];
  shape.valueDim = vs[3];
  shape.causal = causal;
  shape.scale = scale;
  return shape;
}

Expected<Tensor> Evaluator::evalCast(graph::CastOp op) {
  const Tensor &x = get(op.getInput());
  Type elementType =
      cast<RankedTensorType>(op.getResult().getType()).getElementType();
  Expected<DType> to = dtypeFromType(elementType);
  if (!to)
    return fail(op, llvm::toString(to.takeError()));
  if (isFloat(*to)) {
    Tensor out(DType::F32, x.shape());
    if (x.isFloat())
      llvm::copy(x.floats(), out.floats().begin());
    else
      for (auto [dst, src] : llvm::zip(out.floats(), x.ints()))
        dst = static_cast<float>(src);
    return out; // bind() rounds to the target format
  }
  Tensor out(*to, x.shape());
  auto wrap = [&](int64_t v) -> int64_t {
    if (*to == DType::I1)
      return v & 1;
    if (*to == DType::I32)
      return static_cast<int32_t>(static_cast<uint32_t>(v));
    return v;
  };
  if (x.isFloat()) {
    for (auto [dst, src] : llvm::zip(out.ints(), x.floats())) {
      if (!std::isfinite(src) || std::fabs(src) >= 0x1p63)
        return fail(op, "cannot convert " + llvm::formatv("{0}", src).str() +
                            " to an integer");
      dst = wrap(static_cast<int64_t>(src)); // rounds toward zero
    }
  } else {
    for (auto [dst, src] : llvm::zip(out.ints(), x.ints()))
      dst = wrap(src);
  }
  return out;
}

Expected<Tensor> Evaluator::evalReshape(graph::ReshapeOp op) {
  const Tensor &x = get(op.getInput());
  auto type = cast<RankedTensorType>(op.getResult().getType());
  llvm::SmallVector<int64_t> shape(type.getShape());
  int64_t known = 1, dynamicDim = -1;
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (!ShapedType::isDynamic(d)) {
      known *= d;
      continue;
    }
    if (dynamicDim >= 0)
      return fail(op, "cannot infer more than one dynamic dimension of " +
                          shapeString(shape));
    dynamicDim = i;
  }
  if (dynamicDim >= 0) {
    if (known == 0 || x.numElements() % known != 0)
      return fail(op, "cannot reshape " + shapeString(x.shape()) + " to " +
                          shapeString(shape));
    shape[dynamicDim] = x.numElements() / known;
  }
  if (product(shape) != x.numElements())
    return fail(op, "cannot reshape " + shapeString(x.shape()) + " to " +
                        shapeString(shape));
  return x.isFloat() ? Tensor::fromFloats(shape, x.floats(), x.dtype())
                     : Tensor::fromInts(shape, x.ints(), x.dtype());
}

Expected<Tensor> Evaluator::evalConstant(graph::ConstantOp op) {
  DenseElementsAttr attr = op.getValue();
  auto type = cast<RankedTensorType>(attr.getType());
  if (!type.hasStaticShape())
    return fail(op, "needs a static shape");
  Type elementType = type.getElementType();
  if (isa<FloatType>(elementType)) {
    llvm::SmallVector<float> values;
    for (llvm::APFloat v : attr.getValues<llvm::APFloat>()) {
      bool losesInfo = false;
      v.convert(llvm::APFloat::IEEEsingle(), llvm::APFloat::rmNearestTiesToEven,
                &losesInfo);
      values.push_back(v.convertToFloat());
    }
    return Tensor::fromFloats(type.getShape(), values);
  }
  Expected<DType> dtype = dtypeFromType(elementType);
  if (!dtype)
    return fail(op, llvm::toString(dtype.takeError()));
  llvm::SmallVector<int64_t> values;
  for (const llvm::APInt &v : attr.getValues<llvm::APInt>())
    values.push_back(*dtype == DType::I1 ? v.getZExtValue() : v.getSExtValue());
  return Tensor::fromInts(type.getShape(), values, *dtype);
}

static cpu::BinaryKind toCpuKind(graph::BinaryKind kind) {
  switch (kind) {
  case graph::BinaryKind::add:
    return cpu::BinaryKind::Add;
  case graph::BinaryKind::sub:
    return cpu::BinaryKind::Sub;
  case graph::BinaryKind::mul:
    return cpu::BinaryKind::Mul;
  case graph::BinaryKind::div:
    return cpu::BinaryKind::Div;
  case graph::BinaryKind::maximum:
    return cpu::BinaryKind::Maximum;
  case graph::BinaryKind::minimum:
    return cpu::BinaryKind::Minimum;
  case graph::BinaryKind::pow:
    return cpu::BinaryKind::Pow;
  }
  llvm_unreachable("unknown binary kind");
}

/// The cpu::UnaryKind of `kind`; silu has a kernel of its own (nullopt).
static std::optional<cpu::UnaryKind> toCpuKind(graph::UnaryKind kind) {
  switch (kind) {
  case graph::UnaryKind::neg:
    return cpu::UnaryKind::Neg;
  case graph::UnaryKind::exp:
    return cpu::UnaryKind::Exp;
  case graph::UnaryKind::log:
    return cpu::UnaryKind::Log;
  case graph::UnaryKind::sqrt:
    return cpu::UnaryKind::Sqrt;
  case graph::UnaryKind::rsqrt:
    return cpu::UnaryKind::Rsqrt;
  case graph::UnaryKind::tanh:
    return cpu::UnaryKind::Tanh;
  case graph::UnaryKind::sigmoid:
    return cpu::UnaryKind::Sigmoid;
  case graph::UnaryKind::relu:
    return cpu::UnaryKind::Relu;
  case graph::UnaryKind::abs:
    return cpu::UnaryKind::Abs;
  case graph::UnaryKind::silu:
    return std::nullopt;
  }
  llvm_unreachable("unknown unary kind");
}

static cpu::ReduceKind toCpuKind(graph::ReduceKind kind) {
  switch (kind) {
  case graph::ReduceKind::sum:
    return cpu::ReduceKind::Sum;
  case graph::ReduceKind::mean:
    return cpu::ReduceKind::Mean;
  case graph::ReduceKind::max:
    return cpu::ReduceKind::Max;
  case graph::ReduceKind::min:
    return cpu::ReduceKind::Min;
  }
  llvm_unreachable("unknown reduce kind");
}

llvm::Error Evaluator::evalOp(Operation *op) {
  using cpu::BinaryKind;
  using cpu::UnaryKind;
  // Float-only ops: say so instead of reading empty storage.
  if (isa_and_nonnull<graph::GraphDialect>(op->getDialect()) &&
      !isa<graph::CastOp, graph::ReshapeOp, graph::TransposeOp, graph::SliceOp,
           graph::ConcatOp, graph::GatherOp, graph::OneHotOp,
           graph::CrossEntropyOp, graph::MoeDispatchOp, graph::MoeCombineOp,
           func::ReturnOp, graph::AddOp, graph::SubOp, graph::MulOp,
           graph::DivOp, graph::MaximumOp, graph::MinimumOp, graph::PowOp,
           graph::ReduceOp, graph::GatherGradOp, graph::CrossEntropyGradOp,
           graph::MoeDispatchGradOp, graph::MoeCombineGradOp, graph::TopKGradOp,
           graph::LrScheduleOp, graph::AdamWUpdateOp>(op))
    for (Value operand : op->getOperands())
      if (!get(operand).isFloat())
        return fail(op, "integer operands are not supported by the "
                        "interpreter");

  return llvm::TypeSwitch<Operation *, llvm::Error>(op)
      .Case([&](graph::ParamRefOp ref) -> llvm::Error {
        auto it = params.find(ref.getName());
        if (it == params.end())
          return fail(op, "no value for parameter '" + ref.getName() + "'");
        return bind(op, ref.getResult(), it->second);
      })
      .Case(
          [&](graph::ConstantOp c) { return bindResult(op, evalConstant(c)); })
      .Case([&](graph::AddOp) {
        return bindResult(op, evalBinary(op, BinaryKind::Add));
      })
      .Case([&](graph::SubOp) {
        return bindResult(op, evalBinary(op, BinaryKind::Sub));
      })
      .Case([&](graph::MulOp) {
        return bindResult(op, evalBinary(op, BinaryKind::Mul));
      })
      .Case([&](graph::DivOp) {
        return bindResult(op, evalBinary(op, BinaryKind::Div));
      })
      .Case([&](graph::MaximumOp) {
        return bindResult(op, evalBinary(op, BinaryKind::Maximum));
      })
      .Case([&](graph::MinimumOp) {
        return bindResult(op, evalBinary(op, BinaryKind::Minimum));
      })
      .Case([&](graph::PowOp) {
        return bindResult(op, evalBinary(op, BinaryKind::Pow));
      })
      .Case([&](graph::NegOp) {
        return bindResult(op, evalUnary(op, UnaryKind::Neg));
      })
      .Case([&](graph::ExpOp) {
        return bindResult(op, evalUnary(op, UnaryKind::Exp));
      })
      .Case([&](graph::LogOp) {
        return bindResult(op, evalUnary(op, UnaryKind::Log));
      })
      .Case([&](graph::SqrtOp) {
        return bindResult(op, evalUnary(op, UnaryKind::Sqrt));
      })
      .Case([&](graph::RsqrtOp) {
        return bindResult(op, evalUnary(op, UnaryKind::Rsqrt));
      })
      .Case([&](graph::TanhOp) {
        return bindResult(op, evalUnary(op, UnaryKind::Tanh));
      })
      .Case([&](graph::SigmoidOp) {
        return bindResult(op, evalUnary(op, UnaryKind::Sigmoid));
      })
      .Case([&](graph::ReluOp) {
        return bindResult(op, evalUnary(op, UnaryKind::Relu));
      })
      .Case([&](graph::AbsOp) {
        return bindResult(op, evalUnary(op, UnaryKind::Abs));
      })
      .Case([&](graph::SiluOp s) {
        const Tensor &x = get(s.getInput());
        Tensor out(DType::F32, x.shape());
        cpu::siluForward(out.floats().data(), x.floats().data(),
                         x.numElements());
        return bindResult(op, std::move(out));
      })
      .Case([&](graph::GeluOp g) {
        const Tensor &x = get(g.getInput());
        Tensor out(DType::F32, x.shape());
        cpu::geluForward(out.floats().data(), x.floats().data(),
                         x.numElements(),
                         g.getApproximate() == graph::GeluApprox::tanh
                             ? cpu::GeluApproximation::Tanh
                             : cpu::GeluApproximation::None);
        return bindResult(op, std::move(out));
      })
      .Case([&](graph::CastOp c) { return bindResult(op, evalCast(c)); })
      .Case([&](graph::MatmulOp m) { return bindResult(op, evalMatmul(m)); })
      .Case([&](graph::ReduceOp r) -> llvm::Error {
        const Tensor &x = get(r.getInput());
        llvm::ArrayRef<int64_t> axes = r.getAxes();
        llvm::SmallVector<int64_t> shape;
        for (auto [d, size] : llvm::enumerate(x.shape())) {
          if (!llvm::is_contained(axes, static_cast<int64_t>(d)))
            shape.push_back(size);
          else if (r.getKeepdim())
            shape.push_back(1);
        }
        cpu::ReduceKind kind = toCpuKind(r.getKind());
        return bindResult(
            op, viaFloats(op, {&x}, shape,
                          [&](llvm::ArrayRef<const float *> in, float *out) {
                            cpu::reduceForward(
                                kind, in[0], viewOf(x.shape()), axes.data(),
                                static_cast<int>(axes.size()), out);
                          }));
      })
      .Case([&](graph::SoftmaxOp s) {
        return bindResult(op, evalSoftmax(op, s.getAxis(), false));
      })
      .Case([&](graph::LogSoftmaxOp s) {
        return bindResult(op, evalSoftmax(op, s.getAxis(), true));
      })
      .Case([&](graph::LayerNormOp ln) -> llvm::Error {
        const Tensor &x = get(ln.getInput()), &w = get(ln.getWeight()),
                     &b = get(ln.getBias());
        int64_t dim = x.rank() ? x.shape().back() : 1;
        if (w.numElements() != dim || b.numElements() != dim)
          return fail(op, "weight and bias must have " + llvm::Twine(dim) +
                              " elements");
        int64_t rows = dim ? x.numElements() / dim : 0;
        Tensor out(DType::F32, x.shape());
        std::vector<float> mean(rows), rstd(rows);
        cpu::layerNormForward(out.floats().data(), mean.data(), rstd.data(),
                              x.floats().data(), w.floats().data(),
                              b.floats().data(), rows, dim,
                              ln.getEpsilon().convertToDouble());
        return bindResult(op, std::move(out));
      })
      .Case([&](graph::RmsNormOp rn) -> llvm::Error {
        const Tensor &x = get(rn.getInput()), &w = get(rn.getWeight());
        int64_t dim = x.rank() ? x.shape().back() : 1;
        if (w.numElements() != dim)
          return fail(op, "weight must have " + llvm::Twine(dim) + " elements");
        int64_t rows = dim ? x.numElements() / dim : 0;
        Tensor out(DType::F32, x.shape());
        std::vector<float> rstd(rows);
        cpu::rmsNormForward(out.floats().data(), rstd.data(), x.floats().data(),
                            w.floats().data(), rows, dim,
                            rn.getEpsilon().convertToDouble());
        return bindResult(op, std::move(out));
      })
      .Case([&](graph::ReshapeOp r) { return bindResult(op, evalReshape(r)); })
      .Case([&](graph::TransposeOp t) {
        const Tensor &x = get(t.getInput());
        llvm::ArrayRef<int64_t> perm = t.getPermutation();
        llvm::SmallVector<int64_t> shape;
        for (int64_t p : perm)
          shape.push_back(x.shape()[p]);
        return bindResult(
            op, viaFloats(op, {&x}, shape,
                          [&](llvm::ArrayRef<const float *> in, float *out) {
                            cpu::transposeForward(in[0], viewOf(x.shape()),
                                                  perm.data(), out);
                          }));
      })
      .Case([&](graph::SliceOp s) -> llvm::Error {
        const Tensor &x = get(s.getInput());
        int64_t axis = s.getAxis(), start = s.getStart(), end = s.getEnd();
        if (end > x.shape()[axis])
          return fail(op, "slice end " + llvm::Twine(end) +
                              " is past the dimension's size " +
                              llvm::Twine(x.shape()[axis]));
        llvm::SmallVector<int64_t> shape(x.shape());
        shape[axis] = end - start;
        return bindResult(
            op, viaFloats(op, {&x}, shape,
                          [&](llvm::ArrayRef<const float *> in, float *out) {
                            cpu::sliceForward(in[0], viewOf(x.shape()),
                                              static_cast<int>(axis), start,
                                              end, out);
                          }));
      })
      .Case([&](graph::ConcatOp c) -> llvm::Error {
        int64_t axis = c.getAxis();
        llvm::SmallVector<const Tensor *> inputs;
        llvm::SmallVector<cpu::Shape> shapes;
        llvm::SmallVector<int64_t> shape(get(c.getInputs().front()).shape());
        shape[axis] = 0;
        for (Value v : c.getInputs()) {
          const Tensor &t = get(v);
          for (int64_t d = 0; d < t.rank(); ++d)
            if (d != axis && t.shape()[d] != shape[d])
              return fail(op, "inputs disagree on dimension " + llvm::Twine(d));
          shape[axis] += t.shape()[axis];
          inputs.push_back(&t);
          shapes.push_back(viewOf(t.shape()));
        }
        return bindResult(
            op, viaFloats(op, inputs, shape,
                          [&](llvm::ArrayRef<const float *> in, float *out) {
                            cpu::concatForward(in.data(), shapes.data(),
                                               static_cast<int>(in.size()),
                                               static_cast<int>(axis), out);
                          }));
      })
      .Case([&](graph::GatherOp g) -> llvm::Error {
        const Tensor &table = get(g.getTable()), &idx = get(g.getIndices());
        if (table.rank() == 0)
          return fail(op, "the table must have rank >= 1");
        auto indices = indicesOf(op, idx);
        if (!indices)
          return indices.takeError();
        llvm::SmallVector<int64_t> shape(idx.shape());
        shape.append(table.shape().begin() + 1, table.shape().end());
        int64_t numRows = table.shape().front();
        int64_t rowSize = product(table.shape().drop_front());
        int64_t bad = -1;
        auto out = viaFloats(op, {&table}, shape,
                             [&](llvm::ArrayRef<const float *> in, float *out) {
                               bad = cpu::gatherForward(in[0], numRows, rowSize,
                                                        indices->data(),
                                                        idx.numElements(), out);
                             });
        if (out && bad >= 0)
          return outOfRange(op, "index", idx, bad, numRows);
        return bindResult(op, std::move(out));
      })
      .Case([&](graph::IotaOp i) -> llvm::Error {
        auto type = cast<RankedTensorType>(i.getResult().getType());
        if (!type.hasStaticShape() || type.getRank() != 1)
          return fail(op, "needs a static 1-D result");
        Tensor out(DType::I64, type.getShape());
        for (auto [n, v] : llvm::enumerate(out.ints()))
          v = static_cast<int64_t>(n);
        return bindResult(op, std::move(out));
      })
      .Case([&](graph::OneHotOp o) -> llvm::Error {
        const Tensor &idx = get(o.getIndices());
        int64_t classes = o.getNumClasses();
        llvm::SmallVector<int64_t> shape(idx.shape());
        shape.push_back(classes);
        Tensor out(DType::F32, shape);
        for (auto [n, v] : llvm::enumerate(idx.ints())) {
          if (v < 0 || v >= classes)
            return outOfRange(op, "index", idx, n, classes);
          out.floats()[n * classes + v] = 1.0f;
        }
        return bindResult(op, std::move(out));
      })
      .Case([&](graph::RopeOp r) {
        return bindResult(op, evalRope(op, "an input",
                                       r.getTheta().convertToDouble(), false));
      })
      .Case([&](graph::AttentionOp a) -> llvm::Error {
        const Tensor &q = get(a.getQuery()), &k = get(a.getKey()),
                     &v = get(a.getValue());
        auto shape = attentionShape(op, q, k, v, a.getCausal(),
                                    a.getScale().convertToDouble());
        if (!shape)
          return shape.takeError();
        Tensor out(DType::F32,
                   {shape->batch, shape->qHeads, shape->qLen, shape->valueDim});
        cpu::attentionForward(out.floats().data(), q.floats().data(),
                              k.floats().data(), v.floats().data(), *shape);
        return bindResult(op, std::move(out));
      })
      .Case([&](graph::TopKOp t) -> llvm::Error {
        const Tensor &x = get(t.getInput());
        int64_t k = t.getK();
        if (x.rank() == 0 || k > x.shape().back())
          return fail(op, "k = " + llvm::Twine(k) +
                              " exceeds the last dimension of " +
                              shapeString(x.shape()));
        int64_t cols = x.shape().back();
        int64_t rows = cols ? x.numElements() / cols : 0;
        llvm::SmallVector<int64_t> shape(x.shape());
        shape.back() = k;
        Tensor values(DType::F32, shape);
        std::vector<int32_t> indices(product(shape));
        cpu::topkForward(x.floats().data(), rows, cols, k,
                         values.floats().data(), indices.data());
        Tensor idx(DType::I32, shape);
        llvm::copy(indices, idx.ints().begin());
        if (llvm::Error err = bind(op, t.getValues(), std::move(values)))
          return err;
        return bind(op, t.getIndices(), std::move(idx));
      })
      .Case([&](graph::MoeDispatchOp d) -> llvm::Error {
        const Tensor &x = get(d.getInput()), &idx = get(d.getIndices());
        if (x.rank() != 2 || idx.rank() != 2 || x.shape()[0] != idx.shape()[0])
          return fail(op, "needs input [N, D] and indices [N, k]");
        if (!x.isFloat())
          return fail(op, "input must be floats");
        auto indices = indicesOf(op, idx);
        if (!indices)
          return indices.takeError();
        int64_t experts = d.getNumExperts(), capacity = d.getCapacity();
        int64_t tokens = x.shape()[0], dim = x.shape()[1], k = idx.shape()[1];
        Tensor out(DType::F32, {experts, capacity, dim});
        int64_t bad = cpu::moeDispatchForward(
            x.floats().data(), indices->data(), tokens, dim, k, experts,
            capacity, out.floats().data());
        if (bad >= 0)
          return outOfRange(op, "expert id", idx, bad, experts);
        return bindResult(op, std::move(out));
      })
      .Case([&](graph::MoeCombineOp c) -> llvm::Error {
        const Tensor &y = get(c.getExpertOutputs()), &idx = get(c.getIndices()),
                     &w = get(c.getWeights());
        if (!y.isFloat())
          return fail(op, "expert outputs must be floats");
        if (y.rank() != 3 || idx.rank() != 2 || w.shape() != idx.shape())
          return fail(op, "needs expert_outputs [E, C, D] and indices, "
                          "weights [N, k]");
        if (!w.isFloat())
          return fail(op, "weights must be floats");
        auto indices = indicesOf(op, idx);
        if (!indices)
          return indices.takeError();
        int64_t experts = y.shape()[0], capacity = y.shape()[1],
                dim = y.shape()[2], tokens = idx.shape()[0], k = idx.shape()[1];
        Tensor out(DType::F32, {tokens, dim});
        int64_t bad = cpu::moeCombineForward(
            y.floats().data(), indices->data(), w.floats().data(), tokens, dim,
            k, experts, capacity, out.floats().data());
        if (bad >= 0)
          return outOfRange(op, "expert id", idx, bad, experts);
        return bindResult(op, std::move(out));
      })
      .Case([&](graph::CrossEntropyOp ce) -> llvm::Error {
        const Tensor &logits = get(ce.getLogits()),
                     &targets = get(ce.getTargets());
        auto indices = crossEntropyTargets(op, logits, targets);
        if (!indices)
          return indices.takeError();
        int64_t vocab = logits.shape().back(), rows = targets.numElements();
        float loss = cpu::crossEntropyForward(logits.floats().data(),
                                              indices->data(), rows, vocab);
        return bindResult(op, Tensor::scalar(loss));
      })
      .Default([&](Operation *) {
        if (std::optional<llvm::Error> err = evalTrainingOp(op))
          return std::move(*err);
        return fail(op, "op is not supported by the interpreter");
      });
}

//===----------------------------------------------------------------------===//
// Training ops: gradients, state and optimizer updates
//===----------------------------------------------------------------------===//

/// The ops that write a graph.param or graph.state in place.
static bool isStateWriter(Operation *op) {
  return isa<graph::AccumulateOp, graph::ZeroOp, graph::AdamWUpdateOp,
             graph::SgdUpdateOp>(op);
}

/// The static shape of `value`'s type (results whose shape no operand gives).
static std::optional<llvm::SmallVector<int64_t>> staticShapeOf(Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  if (!type.hasStaticShape())
    return std::nullopt;
  return llvm::SmallVector<int64_t>(type.getShape());
}

Expected<Tensor *> Evaluator::stateOf(Operation *op, llvm::StringRef name) {
  auto it = state->find(name);
  if (it == state->end())
    return fail(op, "no value for '" + name + "'");
  if (!it->second.isFloat())
    return fail(op, "'" + name + "' is not a float tensor");
  return &it->second;
}

llvm::Error Evaluator::evalStateUpdate(Operation *op) {
  if (!state)
    return fail(op, "writes training state; run the function with "
                    "evaluateStep");
  /// The named tensors, all of `shape` (the first one's when empty).
  auto lookup = [&](llvm::ArrayRef<llvm::StringRef> names)
      -> Expected<llvm::SmallVector<Tensor *>> {
    llvm::SmallVector<Tensor *> tensors;
    for (llvm::StringRef name : names) {
      Expected<Tensor *> t = stateOf(op, name);
      if (!t)
        return t.takeError();
      if (!tensors.empty() && (*t)->shape() != tensors.front()->shape())
        return fail(op, "'" + name + "' is " + shapeString((*t)->shape()) +
                            " but '" + names.front() + "' is " +
                            shapeString(tensors.front()->shape()));
      tensors.push_back(*t);
    }
    return tensors;
  };
  auto scalar = [&](Value v) { return get(v).floats().front(); };

  return llvm::TypeSwitch<Operation *, llvm::Error>(op)
      .Case([&](graph::AccumulateOp a) -> llvm::Error {
        auto target = lookup({a.getTarget()});
        if (!target)
          return target.takeError();
        Tensor &t = *target->front();
        const Tensor &value = get(a.getValue());
        if (value.shape() != t.shape())
          return fail(op, "value " + shapeString(value.shape()) +
                              " does not match '" + a.getTarget() + "' " +
                              shapeString(t.shape()));
        for (auto [dst, src] : llvm::zip(t.floats(), value.floats()))
          dst += src;
        t.roundToFormat();
        return llvm::Error::success();
      })
      .Case([&](graph::ZeroOp z) -> llvm::Error {
        auto target = lookup({z.getTarget()});
        if (!target)
          return target.takeError();
        llvm::fill(target->front()->floats(), 0.0f);
        return llvm::Error::success();
      })
      .Case([&](graph::AdamWUpdateOp u) -> llvm::Error {
        auto tensors = lookup({u.getParam(), u.getGrad(), u.getM(), u.getV()});
        if (!tensors)
          return tensors.takeError();
        int64_t step = get(u.getStep()).ints().front();
        if (step < 1)
          return fail(op, "step " + llvm::Twine(step) +
                              " is not >= 1 (steps count from 1)");
        cpu::AdamWConfig config;
        config.learningRate = scalar(u.getLr());
        config.gradScale = scalar(u.getScale());
        config.beta1 = u.getBeta1().convertToDouble();
        config.beta2 = u.getBeta2().convertToDouble();
        config.epsilon = u.getEpsilon().convertToDouble();
        config.weightDecay = u.getWeightDecay().convertToDouble();
        Tensor &param = *(*tensors)[0];
        cpu::adamwUpdate(param.floats().data(), (*tensors)[1]->floats().data(),
                         (*tensors)[2]->floats().data(),
                         (*tensors)[3]->floats().data(), param.numElements(),
                         step, config);
        for (Tensor *t : {&param, (*tensors)[2], (*tensors)[3]})
          t->roundToFormat();
        return llvm::Error::success();
      })
      .Case([&](graph::SgdUpdateOp u) -> llvm::Error {
        llvm::SmallVector<llvm::StringRef> names = {u.getParam(), u.getGrad()};
        if (std::optional<llvm::StringRef> buffer = u.getMomentumBuffer())
          names.push_back(*buffer);
        auto tensors = lookup(names);
        if (!tensors)
          return tensors.takeError();
        Tensor &param = *(*tensors)[0];
        Tensor *buffer = tensors->size() == 3 ? (*tensors)[2] : nullptr;
        cpu::sgdUpdate(param.floats().data(), (*tensors)[1]->floats().data(),
                       buffer ? buffer->floats().data() : nullptr,
                       param.numElements(), scalar(u.getLr()),
                       scalar(u.getScale()), u.getMomentum().convertToDouble(),
                       u.getWeightDecay().convertToDouble());
        param.roundToFormat();
        if (buffer)
          buffer->roundToFormat();
        return llvm::Error::success();
      })
      .Default([&](Operation *) -> llvm::Error {
        llvm_unreachable("not a state-writing op");
      });
}

std::optional<llvm::Error> Evaluator::evalTrainingOp(Operation *op) {
  if (isStateWriter(op))
    return evalStateUpdate(op);

  auto needStaticResult =
      [&](Value result) -> Expected<llvm::SmallVector<int64_t>> {
    std::optional<llvm::SmallVector<int64_t>> shape = staticShapeOf(result);
    if (!shape)
      return fail(op, "needs a static result type");
    return *shape;
  };

  /// The rows and width D of a norm gradient's input [..., D], checking
  /// weight [D] and a grad of the input's shape.
  auto normSizes =
      [&](const Tensor &x, const Tensor &w,
          const Tensor &dy) -> Expected<std::pair<int64_t, int64_t>> {
    int64_t dim = x.rank() ? x.shape().back() : 1;
    if (w.numElements() != dim || dy.shape() != x.shape())
      return fail(op, "needs weight [" + llvm::Twine(dim) +
                          "] and grad of the input's shape");
    return std::make_pair(dim ? x.numElements() / dim : 0, dim);
  };

  return llvm::TypeSwitch<Operation *, std::optional<llvm::Error>>(op)
      .Case([&](graph::BinaryGradOp g) -> llvm::Error {
        const Tensor &a = get(g.getLhs()), &b = get(g.getRhs()),
                     &dy = get(g.getGrad());
        auto shape = broadcastShapes(a.shape(), b.shape());
        if (!shape)
          return fail(op, llvm::toString(shape.takeError()));
        if (dy.shape() != llvm::ArrayRef<int64_t>(*shape))
          return fail(op, "grad " + shapeString(dy.shape()) +
                              " is not the broadcast shape " +
                              shapeString(*shape));
        llvm::SmallVector<Tensor, 2> results = {Tensor(DType::F32, a.shape()),
                                                Tensor(DType::F32, b.shape())};
        cpu::binaryBackward(toCpuKind(g.getKind()), a.floats().data(),
                            viewOf(a.shape()), b.floats().data(),
                            viewOf(b.shape()), dy.floats().data(),
                            viewOf(dy.shape()), results[0].floats().data(),
                            results[1].floats().data());
        return bindResults(op, results);
      })
      .Case([&](graph::UnaryGradOp g) -> llvm::Error {
        const Tensor &x = get(g.getInput()), &y = get(g.getOutput()),
                     &dy = get(g.getGrad());
        if (y.shape() != x.shape() || dy.shape() != x.shape())
          return fail(op, "input, output and grad must have one shape");
        Tensor dx(DType::F32, x.shape());
        if (std::optional<cpu::UnaryKind> kind = toCpuKind(g.getKind()))
          cpu::unaryBackward(*kind, x.floats().data(), y.floats().data(),
                             dy.floats().data(), dx.floats().data(),
                             x.numElements());
        else
          cpu::siluBackward(dx.floats().data(), dy.floats().data(),
                            x.floats().data(), x.numElements());
        return bindResult(op, std::move(dx));
      })
      .Case([&](graph::GeluGradOp g) -> llvm::Error {
        const Tensor &x = get(g.getInput()), &dy = get(g.getGrad());
        if (dy.shape() != x.shape())
          return fail(op, "input and grad must have one shape");
        Tensor dx(DType::F32, x.shape());
        cpu::geluBackward(dx.floats().data(), dy.floats().data(),
                          x.floats().data(), x.numElements(),
                          g.getApproximate() == graph::GeluApprox::tanh
                              ? cpu::GeluApproximation::Tanh
                              : cpu::GeluApproximation::None);
        return bindResult(op, std::move(dx));
      })
      .Case([&](graph::ReduceGradOp g) -> llvm::Error {
        const Tensor &x = get(g.getInput()), &y = get(g.getOutput()),
                     &dy = get(g.getGrad());
        llvm::ArrayRef<int64_t> axes = g.getAxes();
        int64_t reduced = 1;
        for (auto [d, size] : llvm::enumerate(x.shape()))
          if (!llvm::is_contained(axes, static_cast<int64_t>(d)))
            reduced *= size;
        if (y.numElements() != reduced || dy.numElements() != reduced)
          return fail(op, "output and grad must have the reduced shape of " +
                              shapeString(x.shape()));
        Tensor dx(DType::F32, x.shape());
        cpu::reduceBackward(toCpuKind(g.getKind()), x.floats().data(),
                            viewOf(x.shape()), axes.data(),
                            static_cast<int>(axes.size()), y.floats().data(),
                            dy.floats().data(), dx.floats().data());
        return bindResult(op, std::move(dx));
      })
      .Case([&](graph::SoftmaxGradOp g) {
        return bindResult(op, evalSoftmaxGrad(op, g.getAxis(), false));
      })
      .Case([&](graph::LogSoftmaxGradOp g) {
        return bindResult(op, evalSoftmaxGrad(op, g.getAxis(), true));
      })
      .Case([&](graph::LayerNormGradOp g) -> llvm::Error {
        const Tensor &x = get(g.getInput()), &w = get(g.getWeight()),
                     &dy = get(g.getGrad());
        auto sizes = normSizes(x, w, dy);
        if (!sizes)
          return sizes.takeError();
        auto [rows, dim] = *sizes;
        // The backward kernel reads the forward pass's statistics.
        std::vector<float> out(x.numElements()), zeros(dim), mean(rows),
            rstd(rows);
        cpu::layerNormForward(out.data(), mean.data(), rstd.data(),
                              x.floats().data(), w.floats().data(),
                              zeros.data(), rows, dim,
                              g.getEpsilon().convertToDouble());
        llvm::SmallVector<Tensor, 3> results = {Tensor(DType::F32, x.shape()),
                                                Tensor(DType::F32, w.shape()),
                                                Tensor(DType::F32, w.shape())};
        cpu::layerNormBackward(
            results[0].floats().data(), results[1].floats().data(),
            results[2].floats().data(), dy.floats().data(), x.floats().data(),
            w.floats().data(), mean.data(), rstd.data(), rows, dim);
        return bindResults(op, results);
      })
      .Case([&](graph::RmsNormGradOp g) -> llvm::Error {
        const Tensor &x = get(g.getInput()), &w = get(g.getWeight()),
                     &dy = get(g.getGrad());
        auto sizes = normSizes(x, w, dy);
        if (!sizes)
          return sizes.takeError();
        auto [rows, dim] = *sizes;
        std::vector<float> out(x.numElements()), rstd(rows);
        cpu::rmsNormForward(out.data(), rstd.data(), x.floats().data(),
                            w.floats().data(), rows, dim,
                            g.getEpsilon().convertToDouble());
        llvm::SmallVector<Tensor, 2> results = {Tensor(DType::F32, x.shape()),
                                                Tensor(DType::F32, w.shape())};
        cpu::rmsNormBackward(results[0].floats().data(),
                             results[1].floats().data(), dy.floats().data(),
                             x.floats().data(), w.floats().data(), rstd.data(),
                             rows, dim);
        return bindResults(op, results);
      })
      .Case([&](graph::AttentionGradOp g) -> llvm::Error {
        const Tensor &q = get(g.getQuery()), &k = get(g.getKey()),
                     &v = get(g.getValue()), &dy = get(g.getGrad());
        auto shape = attentionShape(op, q, k, v, g.getCausal(),
                                    g.getScale().convertToDouble());
        if (!shape)
          return shape.takeError();
        llvm::SmallVector<int64_t> outShape = {shape->batch, shape->qHeads,
                                               shape->qLen, shape->valueDim};
        if (dy.shape() != llvm::ArrayRef<int64_t>(outShape))
          return fail(op, "grad " + shapeString(dy.shape()) +
                              " is not the output shape " +
                              shapeString(outShape));
        llvm::SmallVector<Tensor, 3> results = {Tensor(DType::F32, q.shape()),
                                                Tensor(DType::F32, k.shape()),
                                                Tensor(DType::F32, v.shape())};
        cpu::attentionBackward(
            results[0].floats().data(), results[1].floats().data(),
            results[2].floats().data(), dy.floats().data(), q.floats().data(),
            k.floats().data(), v.floats().data(), *shape);
        return bindResults(op, results);
      })
      .Case([&](graph::RopeGradOp g) {
        return bindResult(
            op, evalRope(op, "a grad", g.getTheta().convertToDouble(), true));
      })
      .Case([&](graph::GatherGradOp g) -> llvm::Error {
        const Tensor &dy = get(g.getGrad()), &idx = get(g.getIndices());
        auto tableShape = needStaticResult(g.getTableGrad());
        if (!tableShape)
          return tableShape.takeError();
        int64_t numRows = tableShape->front();
        int64_t rowSize = product(llvm::ArrayRef(*tableShape).drop_front());
        if (dy.numElements() != idx.numElements() * rowSize)
          return fail(op, "grad " + shapeString(dy.shape()) +
                              " does not hold one row per index");
        auto indices = indicesOf(op, idx);
        if (!indices)
          return indices.takeError();
        Tensor dtable(DType::F32, *tableShape);
        int64_t bad = cpu::gatherBackward(dy.floats().data(), indices->data(),
                                          idx.numElements(), rowSize,
                                          dtable.floats().data(), numRows);
        if (bad >= 0)
          return outOfRange(op, "index", idx, bad, numRows);
        return bindResult(op, std::move(dtable));
      })
      .Case([&](graph::SliceGradOp g) -> llvm::Error {
        const Tensor &dy = get(g.getGrad());
        auto shape = needStaticResult(g.getInputGrad());
        if (!shape)
          return shape.takeError();
        int64_t axis = g.getAxis(), start = g.getStart(), end = g.getEnd();
        llvm::SmallVector<int64_t> sliced(*shape);
        sliced[axis] = end - start;
        if (dy.shape() != llvm::ArrayRef<int64_t>(sliced))
          return fail(op, "grad " + shapeString(dy.shape()) +
                              " is not the slice shape " + shapeString(sliced));
        Tensor dx(DType::F32, *shape);
        cpu::sliceBackward(dy.floats().data(), viewOf(*shape),
                           static_cast<int>(axis), start, end,
                           dx.floats().data());
        return bindResult(op, std::move(dx));
      })
      .Case([&](graph::CrossEntropyGradOp g) -> llvm::Error {
        const Tensor &logits = get(g.getLogits()),
                     &targets = get(g.getTargets()), &dloss = get(g.getGrad());
        auto indices = crossEntropyTargets(op, logits, targets);
        if (!indices)
          return indices.takeError();
        int64_t vocab = logits.shape().back(), rows = targets.numElements();
        Tensor dlogits(DType::F32, logits.shape());
        cpu::crossEntropyBackward(dlogits.floats().data(),
                                  logits.floats().data(), indices->data(), rows,
                                  vocab, dloss.floats().front());
        return bindResult(op, std::move(dlogits));
      })
      .Case([&](graph::MoeDispatchGradOp g) -> llvm::Error {
        const Tensor &dy = get(g.getGrad()), &idx = get(g.getIndices());
        if (dy.rank() != 3 || idx.rank() != 2)
          return fail(op, "needs grad [E, C, D] and indices [N, k]");
        auto indices = indicesOf(op, idx);
        if (!indices)
          return indices.takeError();
        int64_t experts = dy.shape()[0], capacity = dy.shape()[1],
                dim = dy.shape()[2], tokens = idx.shape()[0],
                k = idx.shape()[1];
        Tensor dx(DType::F32, {tokens, dim});
        int64_t bad = cpu::moeDispatchBackward(
            dy.floats().data(), indices->data(), tokens, dim, k, experts,
            capacity, dx.floats().data());
        if (bad >= 0)
          return outOfRange(op, "expert id", idx, bad, experts);
        return bindResult(op, std::move(dx));
      })
      .Case([&](graph::MoeCombineGradOp g) -> llvm::Error {
        const Tensor &y = get(g.getExpertOutputs()), &idx = get(g.getIndices()),
                     &w = get(g.getWeights()), &dy = get(g.getGrad());
        if (y.rank() != 3 || idx.rank() != 2 || w.shape() != idx.shape())
          return fail(op, "needs expert_outputs [E, C, D] and indices, "
                          "weights [N, k]");
        int64_t experts = y.shape()[0], capacity = y.shape()[1],
                dim = y.shape()[2], tokens = idx.shape()[0], k = idx.shape()[1];
        if (dy.rank() != 2 || dy.shape()[0] != tokens || dy.shape()[1] != dim)
          return fail(op, "grad " + shapeString(dy.shape()) + " is not [" +
                              llvm::Twine(tokens) + ", " + llvm::Twine(dim) +
                              "]");
        auto indices = indicesOf(op, idx);
        if (!indices)
          return indices.takeError();
        llvm::SmallVector<Tensor, 2> results = {Tensor(DType::F32, y.shape()),
                                                Tensor(DType::F32, w.shape())};
        int64_t bad = cpu::moeCombineBackward(
            y.floats().data(), indices->data(), w.floats().data(),
            dy.floats().data(), tokens, dim, k, experts, capacity,
            results[0].floats().data(), results[1].floats().data());
        if (bad >= 0)
          return outOfRange(op, "expert id", idx, bad, experts);
        return bindResults(op, results);
      })
      .Case([&](graph::TopKGradOp g) -> llvm::Error {
        const Tensor &dy = get(g.getGrad()), &idx = get(g.getIndices());
        auto shape = needStaticResult(g.getInputGrad());
        if (!shape)
          return shape.takeError();
        if (dy.rank() == 0 || dy.shape() != idx.shape() ||
            dy.rank() != static_cast<int64_t>(shape->size()) ||
            dy.shape().drop_back() != llvm::ArrayRef(*shape).drop_back())
          return fail(op, "needs grad and indices [..., k] and a result "
                          "[..., N] with the same leading dimensions");
        auto indices = indicesOf(op, idx);
        if (!indices)
          return indices.takeError();
        int64_t cols = shape->back(), k = dy.shape().back();
        int64_t rows = k ? dy.numElements() / k : 0;
        Tensor dx(DType::F32, *shape);
        int64_t bad = cpu::topkBackward(dy.floats().data(), indices->data(),
                                        rows, cols, k, dx.floats().data());
        if (bad >= 0)
          return outOfRange(op, "index", idx, bad, cols);
        return bindResult(op, std::move(dx));
      })
      .Case([&](graph::GlobalNormOp g) -> llvm::Error {
        double sum = 0;
        for (Value input : g.getInputs()) {
          const Tensor &t = get(input);
          sum += cpu::sumOfSquares(t.floats().data(), t.numElements());
        }
        return bindResult(op,
                          Tensor::scalar(static_cast<float>(std::sqrt(sum))));
      })
      .Case([&](graph::LrScheduleOp s) -> llvm::Error {
        const Tensor &step = get(s.getStep());
        if (step.isFloat() || step.numElements() != 1)
          return fail(op, "step must be an integer scalar");
        cpu::LrSchedule schedule;
        schedule.kind = s.getKind() == graph::LrScheduleKind::cosine
                            ? cpu::LrScheduleKind::Cosine
                            : cpu::LrScheduleKind::Constant;
        schedule.baseLr = s.getBaseLr().convertToDouble();
        schedule.warmupSteps = s.getWarmupSteps();
        schedule.totalSteps = s.getTotalSteps();
        schedule.minLr = s.getMinLr().convertToDouble();
        double lr = cpu::learningRate(schedule, step.ints().front());
        return bindResult(op, Tensor::scalar(static_cast<float>(lr)));
      })
      .Default([](Operation *) { return std::nullopt; });
}

Expected<llvm::SmallVector<Tensor>>
Evaluator::run(func::FuncOp func, llvm::ArrayRef<Tensor> inputs) {
  if (func.isExternal())
    return errorAt(func.getLoc(), "function '" + func.getSymName() +
                                      "' has no body to evaluate");
  Block &body = func.getBody().front();
  if (inputs.size() != body.getNumArguments())
    return errorAt(func.getLoc(),
                   llvm::formatv("'{0}' takes {1} inputs, got {2}",
                                 func.getSymName(), body.getNumArguments(),
                                 inputs.size())
                       .str());
  for (auto [i, arg] : llvm::enumerate(body.getArguments())) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type)
      return errorAt(arg.getLoc(),
                     "argument " + llvm::Twine(i) + " is not a ranked tensor");
    Expected<DType> dtype = dtypeFromType(type.getElementType());
    if (!dtype)
      return errorAt(arg.getLoc(), llvm::toString(dtype.takeError()));
    const Tensor &input = inputs[i];
    bool matches = input.dtype() == *dtype && input.rank() == type.getRank();
    for (int64_t d = 0; matches && d < type.getRank(); ++d)
      matches = type.isDynamicDim(d) || type.getDimSize(d) == input.shape()[d];
    if (!matches)
      return errorAt(
          arg.getLoc(),
          llvm::formatv("input {0} is {1}{2} but the argument is "
                        "{3}{4}",
                        i, dtypeName(input.dtype()), shapeString(input.shape()),
                        dtypeName(*dtype), shapeString(type.getShape()))
              .str());
    values[arg] = input;
  }
  for (Operation &op : body) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      llvm::SmallVector<Tensor> results;
      for (Value v : ret.getOperands())
        results.push_back(get(v));
      return results;
    }
    if (llvm::Error err = evalOp(&op))
      return std::move(err);
  }
  return errorAt(func.getLoc(), "function has no return");
}

Expected<llvm::SmallVector<Tensor>>
strata::interp::evaluate(func::FuncOp func, llvm::ArrayRef<Tensor> inputs,
                         const ParamMap &params) {
  Operation *writer = nullptr;
  func.walk([&](Operation *op) {
    if (isStateWriter(op)) {
      writer = op;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (writer)
    return errorAt(writer->getLoc(), writer->getName().getStringRef() +
                                         ": writes training state; run '" +
                                         func.getSymName() +
                                         "' with evaluateStep");
  return Evaluator(params, nullptr).run(func, inputs);
}

Expected<llvm::SmallVector<Tensor>>
strata::interp::evaluateStep(func::FuncOp func, llvm::ArrayRef<Tensor> inputs,
                             ParamMap &state) {
  return Evaluator(state, &state).run(func, inputs);
}
