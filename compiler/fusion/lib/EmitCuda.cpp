//===- EmitCuda.cpp - CUDA C++ of the elementwise groups ------------------===//
//
// One function per distinct group body: the text of a function without its
// name and comments is its identity, so the groups of each transformer layer
// share one function. The formulas follow the CPU reference kernels
// (runtime/cpu/lib/Elementwise.cpp, Activation.cpp) in f32.
//
//===----------------------------------------------------------------------===//

#include "strata/Fusion/EmitCuda.h"

#include "strata/Dialect/Exec/IR/ExecOps.h"
#include "strata/Lowering/ExportPlan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace strata;
using exec::FusedOp;
using exec::KernelOp;

namespace {

/// Device helpers every function may call: loads and stores that convert
/// to and from f32, and the activation formulas of the CPU reference.
constexpr llvm::StringLiteral kPreamble =
    R"cuda(// CUDA C++ of the plan's elementwise groups, emitted by strata-compile
// (compiler/fusion/lib/EmitCuda.cpp). Each function computes in f32 over a
// grid-stride loop on [0, n) and rounds to each output's type on store.
#include <cuda_bf16.h>

namespace {

__device__ __forceinline__ float strata_load(const float *p, long long i) {
  return p[i];
}
__device__ __forceinline__ float strata_load(const __nv_bfloat16 *p,
                                             long long i) {
  return __bfloat162float(p[i]);
}
__device__ __forceinline__ void strata_store(float *p, long long i, float v) {
  p[i] = v;
}
__device__ __forceinline__ void strata_store(__nv_bfloat16 *p, long long i,
                                             float v) {
  p[i] = __float2bfloat16(v);
}
// A bf16 intermediate holds what a bf16 buffer would.
__device__ __forceinline__ float strata_round_bf16(float v) {
  return __bfloat162float(__float2bfloat16(v));
}

__device__ __forceinline__ float strata_sigmoid(float x) {
  return 1.0f / (1.0f + expf(-x));
}
__device__ __forceinline__ float strata_silu(float x) {
  return x * strata_sigmoid(x);
}
__device__ __forceinline__ float strata_gelu_tanh(float x) {
  const float k = 0.7978845608028654f; // sqrt(2 / pi)
  return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}
__device__ __forceinline__ float strata_gelu_erf(float x) {
  return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
}
__device__ __forceinline__ float strata_gelu_tanh_grad(float x, float dy) {
  const float k = 0.7978845608028654f;
  float th = tanhf(k * (x + 0.044715f * x * x * x));
  float du = k * (1.0f + 3.0f * 0.044715f * x * x);
  return dy * (0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du);
}
__device__ __forceinline__ float strata_gelu_erf_grad(float x, float dy) {
  return dy * (0.5f * (1.0f + erff(x * 0.7071067811865476f)) +
               x * 0.3989422804014327f * expf(-0.5f * x * x));
}
__device__ __forceinline__ float strata_silu_grad(float x, float dy) {
  float s = strata_sigmoid(x);
  return dy * s * (1.0f + x * (1.0f - s));
}

} // namespace
)cuda";

/// A unary kernel's formula of `x`.
std::optional<std::string> unaryFormula(StringRef kernel, StringRef x) {
  std::string v = x.str();
  return llvm::StringSwitch<std::optional<std::string>>(kernel)
      .Case("neg", "-" + v)
      .Case("exp", "expf(" + v + ")")
      .Case("log", "logf(" + v + ")")
      .Case("sqrt", "sqrtf(" + v + ")")
      .Case("rsqrt", "1.0f / sqrtf(" + v + ")")
      .Case("tanh", "tanhf(" + v + ")")
      .Case("sigmoid", "strata_sigmoid(" + v + ")")
      .Case("relu", v + " > 0.0f ? " + v + " : 0.0f")
      .Case("silu", "strata_silu(" + v + ")")
      .Case("abs", "fabsf(" + v + ")")
      .Default(std::nullopt);
}

/// A binary kernel's formula of `a` and `b`.
std::optional<std::string> binaryFormula(StringRef kernel, StringRef a,
                                         StringRef b) {
  std::string x = a.str(), y = b.str();
  return llvm::StringSwitch<std::optional<std::string>>(kernel)
      .Case("add", x + " + " + y)
      .Case("sub", x + " - " + y)
      .Case("mul", x + " * " + y)
      .Case("div", x + " / " + y)
      .Case("maximum", x + " >= " + y + " ? " + x + " : " + y)
      .Case("minimum", x + " <= " + y + " ? " + x + " : " + y)
      .Case("pow", "powf(" + x + ", " + y + ")")
      .Default(std::nullopt);
}

/// unary_grad of kind `kind`: the gradient at x given the output y and the
/// incoming gradient dy (runtime/cpu unaryBackward, siluBackward).
std::optional<std::string> unaryGradFormula(StringRef kind, StringRef x,
                                            StringRef y, StringRef dy) {
  std::string v = x.str(), out = y.str(), g = dy.str();
  return llvm::StringSwitch<std::optional<std::string>>(kind)
      .Case("neg", "-" + g)
      .Case("exp", g + " * " + out)
      .Case("log", g + " / " + v)
      .Case("sqrt", g + " * 0.5f / " + out)
      .Case("rsqrt", g + " * -0.5f * " + out + " * " + out + " * " + out)
      .Case("tanh", g + " * (1.0f - " + out + " * " + out + ")")
      .Case("sigmoid", g + " * " + out + " * (1.0f - " + out + ")")
      .Case("relu", v + " > 0.0f ? " + g + " : 0.0f")
      .Case("abs",
            v + " > 0.0f ? " + g + " : (" + v + " < 0.0f ? -" + g + " : 0.0f)")
      .Case("silu", "strata_silu_grad(" + v + ", " + g + ")")
      .Default(std::nullopt);
}

std::string cudaType(Type element) {
  return element.isBF16() ? "__nv_bfloat16" : "float";
}

/// Row-major strides of `shape`.
SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int d = int(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

/// The element of an `input`-shaped buffer that broadcasts to element `i` of
/// an `output`-shaped one, as an expression of `i` with constants.
std::string broadcastIndex(ArrayRef<int64_t> input, ArrayRef<int64_t> output) {
  SmallVector<int64_t> outStrides = stridesOf(output);
  SmallVector<int64_t> inStrides = stridesOf(input);
  size_t offset = output.size() - input.size();
  std::string index;
  for (size_t d = 0; d < input.size(); ++d) {
    if (input[d] == 1)
      continue;
    size_t od = d + offset;
    std::string term = "i";
    if (outStrides[od] != 1)
      term = "(" + term + " / " + std::to_string(outStrides[od]) + ")";
    if (od != 0)
      term = "(" + term + " % " + std::to_string(output[od]) + ")";
    if (inStrides[d] != 1)
      term += " * " + std::to_string(inStrides[d]);
    index += (index.empty() ? "" : " + ") + term;
  }
  return index.empty() ? "0" : index;
}

/// The function of one group, without its name: parameter list and body.
class GroupEmitter {
public:
  explicit GroupEmitter(FusedOp op) : op(op) {}

  /// The signature's parameters and the body (the text after the name).
  FailureOr<std::string> emit() {
    std::string params;
    for (auto [i, input] : llvm::enumerate(op.getInputs()))
      params +=
          "const " + elementTypeOf(input) + " *in" + std::to_string(i) + ", ";
    for (auto [i, output] : llvm::enumerate(op.getOutputs()))
      params += elementTypeOf(output) + " *out" + std::to_string(i) + ", ";
    params += "long long n";

    for (KernelOp kernel : op.getKernels())
      if (failed(emitKernel(kernel)))
        return failure();

    // Each thread takes kUnroll elements a stride apart per iteration and
    // loads all of them before computing any: kUnroll independent loads in
    // flight per thread instead of one, which a memory-bound loop needs to
    // approach the bandwidth (no store can be hoisted over, so the order is
    // written out rather than left to the compiler's alias analysis).
    std::string text;
    llvm::raw_string_ostream os(text);
    os << "(" << params << ") {\n"
       << "  const long long stride = (long long)gridDim.x * blockDim.x;\n"
       << "  for (long long base = blockIdx.x * (long long)blockDim.x + "
          "threadIdx.x; base < n;\n"
       << "       base += " << kUnroll << " * stride) {\n";
    if (!loaded.empty()) {
      os << "    float";
      for (auto [k, reg] : llvm::enumerate(loaded))
        os << (k ? ", " : " ") << reg << "[" << kUnroll << "]";
      os << ";\n";
    }
    os << "#pragma unroll\n"
       << "    for (int u = 0; u < " << kUnroll << "; ++u) {\n"
       << "      const long long i = base + u * stride;\n"
       << "      if (i < n) {\n"
       << loadBody << "      }\n"
       << "    }\n"
       << "#pragma unroll\n"
       << "    for (int u = 0; u < " << kUnroll << "; ++u) {\n"
       << "      const long long i = base + u * stride;\n"
       << "      if (i < n) {\n"
       << body << "      }\n"
       << "    }\n"
       << "  }\n}\n";
    return text;
  }

private:
  static std::string elementTypeOf(Value value) {
    return cudaType(cast<MemRefType>(value.getType()).getElementType());
  }

  /// The register holding `value` where a kernel with output shape `shape`
  /// reads it: a value of the group, or a load of a group input (at i, or
  /// at its broadcast index).
  std::string operand(Value value, ArrayRef<int64_t> shape) {
    auto it = names.find(value);
    if (it != names.end())
      return it->second;
    auto arg = cast<BlockArgument>(value);
    auto type = cast<MemRefType>(value.getType());
    int64_t elements = 1;
    for (int64_t dim : shape)
      elements *= dim;
    std::string index = type.getNumElements() == elements
                            ? "i"
                            : broadcastIndex(type.getShape(), shape);
    std::string load = "strata_load(in" + std::to_string(arg.getArgNumber()) +
                       ", " + index + ")";
    auto [cached, inserted] = loads.try_emplace(load, "");
    if (inserted) {
      std::string reg = "x" + std::to_string(loads.size() - 1);
      loaded.push_back(reg);
      cached->second = reg + "[u]";
      loadBody += "        " + reg + "[u] = " + load + ";\n";
    }
    if (index == "i")
      names[value] = cached->second;
    return cached->second;
  }

  LogicalResult emitKernel(KernelOp kernel) {
    StringRef name = kernel.getKernel();
    Value output = kernel.getOutputs()[0];
    auto outType = cast<MemRefType>(output.getType());
    ArrayRef<int64_t> shape = outType.getShape();
    SmallVector<std::string> args;
    for (Value input : kernel.getInputs())
      args.push_back(operand(input, shape));

    std::optional<std::string> formula;
    if (name == "reshape" || name == "cast") {
      formula = args[0];
    } else if (name == "gelu" || name == "gelu_grad") {
      std::optional<std::string> approx;
      if (Attribute attr = kernel.getAttrs().get("approximate"))
        approx = lowering::getAttrKeyword(attr);
      bool tanh = approx && *approx == "tanh";
      if (name == "gelu")
        formula =
            (tanh ? "strata_gelu_tanh(" : "strata_gelu_erf(") + args[0] + ")";
      else
        formula = (tanh ? "strata_gelu_tanh_grad(" : "strata_gelu_erf_grad(") +
                  args[0] + ", " + args[1] + ")";
    } else if (name == "unary_grad") {
      std::optional<std::string> kind;
      if (Attribute attr = kernel.getAttrs().get("kind"))
        kind = lowering::getAttrKeyword(attr);
      if (kind)
        formula = unaryGradFormula(*kind, args[0], args[1], args[2]);
    } else if (args.size() == 1) {
      formula = unaryFormula(name, args[0]);
    } else if (args.size() == 2) {
      formula = binaryFormula(name, args[0], args[1]);
    }
    if (!formula)
      return kernel.emitOpError("has no CUDA formula for an elementwise group");

    std::string reg = "v" + std::to_string(numValues++);
    std::string value = *formula;
    if (outType.getElementType().isBF16())
      value = "strata_round_bf16(" + value + ")";
    body += "        const float " + reg + " = " + value + "; // " +
            name.str() + "\n";
    names[output] = reg;
    if (auto arg = dyn_cast<BlockArgument>(output))
      body += "        strata_store(out" +
              std::to_string(arg.getArgNumber() - op.getInputs().size()) +
              ", i, " + reg + ");\n";
    return success();
  }

  /// Elements each thread takes per loop iteration.
  static constexpr int kUnroll = 4;

  FusedOp op;
  /// The loads of one element (the first unrolled loop) and its arithmetic
  /// and stores (the second).
  std::string loadBody, body;
  /// The registers loads go to, each an array of kUnroll.
  SmallVector<std::string> loaded;
  DenseMap<Value, std::string> names;
  /// Load expression -> register, so that each is loaded once.
  llvm::StringMap<std::string> loads;
  unsigned numValues = 0;
};

/// "sub, mul" of a group's kernels.
std::string kernelList(FusedOp op) {
  std::string text;
  for (KernelOp kernel : op.getKernels())
    text += (text.empty() ? "" : ", ") + kernel.getKernel().str();
  return text;
}

} // namespace

FailureOr<fusion::CudaSource> strata::fusion::emitCudaKernels(ModuleOp module) {
  CudaSource result;
  // Function text (without the name) -> its groups, in first-use order.
  llvm::MapVector<StringRef, SmallVector<FusedOp>> functions;
  llvm::StringMap<std::string> texts;
  SmallVector<FusedOp> groups;
  module.walk([&](FusedOp op) {
    if (op.getKind() == "elementwise")
      groups.push_back(op);
  });
  for (FusedOp op : groups) {
    FailureOr<std::string> text = GroupEmitter(op).emit();
    if (failed(text))
      return failure();
    auto [it, inserted] = texts.try_emplace(*text, *text);
    functions[it->getKey()].push_back(op);
  }

  std::string source = kPreamble.str();
  llvm::raw_string_ostream os(source);
  Builder builder(module.getContext());
  for (auto [index, entry] : llvm::enumerate(functions)) {
    auto &[text, users] = entry;
    std::string name = "strata_elementwise_" + std::to_string(index);
    FusedOp first = users.front();
    int64_t elements =
        cast<MemRefType>(first.getOutputs()[0].getType()).getNumElements();
    os << "\n// " << name << ": " << kernelList(first) << " over " << elements
       << " elements; " << users.size() << " group(s).\n";
    for (KernelOp kernel : first.getKernels()) {
      std::string where = lowering::formatSourceLocation(kernel.getLoc());
      os << "//   " << kernel.getKernel() << " at "
         << (where.empty() ? "<unknown>" : where) << "\n";
    }
    constexpr size_t kListed = 4;
    for (auto [i, user] :
         llvm::enumerate(MutableArrayRef(users).drop_front())) {
      if (i == kListed) {
        os << "//   ... and " << users.size() - 1 - kListed << " more\n";
        break;
      }
      auto func = user->getParentOfType<func::FuncOp>();
      std::string where = lowering::formatSourceLocation(user.getLoc());
      os << "//   also " << (func ? func.getName() : "?") << " at "
         << (where.empty() ? "<unknown>" : where) << "\n";
    }
    os << "extern \"C\" __global__ void " << name << text;
    for (FusedOp user : users)
      user.setFunctionAttr(builder.getStringAttr(name));
  }
  result.source = std::move(source);
  result.numFunctions = functions.size();
  result.numGroups = groups.size();
  return result;
}
