//===- CpuKernels.cpp - Plan kernel dispatch to runtime/cpu --------------===//
//
// The dispatch table (kernel name -> arity and entry point), the checks every
// kernel shares, and the KernelCall helpers. The kernels themselves are in
// CpuKernelsForward.cpp, CpuKernelsGrad.cpp and CpuKernelsTraining.cpp.
//
//===----------------------------------------------------------------------===//

#include "CpuKernelsSupport.h"

#include "strata/Runtime/PlanFile.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <thread>

using namespace strata;
using namespace strata::exec;
using namespace strata::exec::detail;

//===----------------------------------------------------------------------===//
// The dispatch table
//===----------------------------------------------------------------------===//

namespace {
/// Arity of a kernel: inputs in [minInputs, maxInputs] (maxInputs < 0:
/// unbounded), exactly numOutputs outputs.
struct KernelInfo {
  llvm::StringLiteral name;
  int minInputs, maxInputs, numOutputs;
  KernelFn run;
};

constexpr int kVariadic = -1;

const KernelInfo kKernels[] = {
    // Forward graph ops.
    {"add", 2, 2, 1, runBinary},
    {"sub", 2, 2, 1, runBinary},
    {"mul", 2, 2, 1, runBinary},
    {"div", 2, 2, 1, runBinary},
    {"maximum", 2, 2, 1, runBinary},
    {"minimum", 2, 2, 1, runBinary},
    {"pow", 2, 2, 1, runBinary},
    {"neg", 1, 1, 1, runUnary},
    {"exp", 1, 1, 1, runUnary},
    {"log", 1, 1, 1, runUnary},
    {"sqrt", 1, 1, 1, runUnary},
    {"rsqrt", 1, 1, 1, runUnary},
    {"tanh", 1, 1, 1, runUnary},
    {"sigmoid", 1, 1, 1, runUnary},
    {"relu", 1, 1, 1, runUnary},
    {"silu", 1, 1, 1, runUnary},
    {"abs", 1, 1, 1, runUnary},
    {"gelu", 1, 1, 1, runGelu},
    {"cast", 1, 1, 1, runCast},
    {"matmul", 2, 2, 1, runMatmul},
    {"reduce", 1, 1, 1, runReduce},
    {"softmax", 1, 1, 1, runSoftmax},
    {"log_softmax", 1, 1, 1, runSoftmax},
    {"layer_norm", 3, 3, 1, runLayerNorm},
    {"rms_norm", 2, 2, 1, runRmsNorm},
    {"reshape", 1, 1, 1, runReshape},
    {"transpose", 1, 1, 1, runTranspose},
    {"slice", 1, 1, 1, runSlice},
    {"concat", 1, kVariadic, 1, runConcat},
    {"gather", 2, 2, 1, runGather},
    {"iota", 0, 0, 1, runIota},
    {"one_hot", 1, 1, 1, runOneHot},
    {"rope", 1, 1, 1, runRope},
    {"attention", 3, 3, 1, runAttention},
    {"topk", 1, 1, 2, runTopk},
    {"moe_dispatch", 2, 2, 1, runMoeDispatch},
    {"moe_combine", 3, 3, 1, runMoeCombine},
    {"cross_entropy", 2, 2, 1, runCrossEntropy},
    {"constant", 0, 0, 1, runConstant},
    // Gradient ops.
    {"binary_grad", 3, 3, 2, runBinaryGrad},
    {"unary_grad", 3, 3, 1, runUnaryGrad},
    {"gelu_grad", 2, 2, 1, runGeluGrad},
    {"reduce_grad", 3, 3, 1, runReduceGrad},
    {"softmax_grad", 2, 2, 1, runSoftmaxGrad},
    {"log_softmax_grad", 2, 2, 1, runSoftmaxGrad},
    {"layer_norm_grad", 3, 3, 3, runLayerNormGrad},
    {"rms_norm_grad", 3, 3, 2, runRmsNormGrad},
    {"attention_grad", 4, 4, 3, runAttentionGrad},
    {"rope_grad", 1, 1, 1, runRopeGrad},
    {"gather_grad", 2, 2, 1, runGatherGrad},
    {"slice_grad", 1, 1, 1, runSliceGrad},
    {"cross_entropy_grad", 3, 3, 1, runCrossEntropyGrad},
    {"moe_dispatch_grad", 2, 2, 1, runMoeDispatchGrad},
    {"moe_combine_grad", 4, 4, 2, runMoeCombineGrad},
    {"topk_grad", 2, 2, 1, runTopkGrad},
    // Training state and optimizer ops.
    {"accumulate", 2, 2, 0, runAccumulate},
    {"zero", 1, 1, 0, runZero},
    {"global_norm", 0, kVariadic, 1, runGlobalNorm},
    {"lr_schedule", 1, 1, 1, runLrSchedule},
    {"adamw_update", 7, 7, 0, runAdamwUpdate},
    // [param, grad, momentum_buffer, lr, scale]; no buffer when momentum = 0.
    {"sgd_update", 4, 5, 0, runSgdUpdate},
};

const KernelInfo *lookup(llvm::StringRef name) {
  for (const KernelInfo &info : kKernels)
    if (info.name == name)
      return &info;
  return nullptr;
}

std::string locationOf(const plan::Kernel &kernel) {
  return kernel.location().empty() ? std::string("<unknown location>")
                                   : kernel.location();
}

llvm::Error kernelError(const plan::Kernel &kernel,
                        const llvm::Twine &message) {
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      locationOf(kernel) + ": error: " + kernel.op() + ": " + message);
}

/// The inputs a kernel writes in place (docs/exec-dialect.md): the state it
/// updates.
llvm::SmallVector<unsigned, 3> writtenInputs(const plan::Kernel &kernel,
                                             size_t numInputs) {
  llvm::StringRef op = kernel.op();
  if (op == "accumulate" || op == "zero")
    return {0};
  if (op == "adamw_update")
    return {0, 2, 3};
  if (op == "sgd_update")
    return numInputs == 5 ? llvm::SmallVector<unsigned, 3>{0, 2}
                          : llvm::SmallVector<unsigned, 3>{0};
  return {};
}

/// Runs `run` with every BF16 buffer replaced by an f32 copy, then rounds
/// the copies of the outputs and of the inputs the kernel writes back into
/// their buffers. Inputs are copied before the kernel runs and outputs
/// written after it, so an output may alias an input as in the f32 kernels.
llvm::Error runOnF32Copies(const KernelInfo &info, const plan::Kernel &kernel,
                           llvm::ArrayRef<BufferView> inputs,
                           llvm::ArrayRef<BufferView> outputs, int numThreads) {
  std::vector<std::vector<float>> copies;
  auto widen = [&](const BufferView &view, bool read) {
    BufferView f32 = view;
    if (view.dtype != plan::BF16)
      return f32;
    int64_t n = numElements(view.shape);
    std::vector<float> &copy = copies.emplace_back(n);
    if (read) {
      const uint16_t *bits = static_cast<const uint16_t *>(view.data);
      parallelFor(threadsFor(numThreads, n), n, [&](int64_t b, int64_t e) {
        for (int64_t j = b; j < e; ++j)
          copy[j] = bf16ToFloat(bits[j]);
      });
    }
    f32.data = copy.data();
    f32.dtype = plan::F32;
    return f32;
  };
  auto narrow = [&](const BufferView &f32, const BufferView &view) {
    if (view.dtype != plan::BF16)
      return;
    const float *values = static_cast<const float *>(f32.data);
    uint16_t *bits = static_cast<uint16_t *>(view.data);
    int64_t n = numElements(view.shape);
    parallelFor(threadsFor(numThreads, n), n, [&](int64_t b, int64_t e) {
      for (int64_t j = b; j < e; ++j)
        bits[j] = floatToBf16(values[j]);
    });
  };

  llvm::SmallVector<BufferView, 8> in, out;
  for (const BufferView &view : inputs)
    in.push_back(widen(view, /*read=*/true));
  for (const BufferView &view : outputs)
    out.push_back(widen(view, /*read=*/false));
  STRATA_RETURN_IF_ERROR(info.run(KernelCall(kernel, in, out, numThreads)));
  for (unsigned i : writtenInputs(kernel, inputs.size()))
    narrow(in[i], inputs[i]);
  for (auto [f32, view] : llvm::zip_equal(out, outputs))
    narrow(f32, view);
  return llvm::Error::success();
}

std::string countString(int min, int max) {
  if (max == kVariadic)
    return "at least " + std::to_string(min);
  if (min == max)
    return std::to_string(min);
  return std::to_string(min) + " or " + std::to_string(max);
}
} // namespace

llvm::Error strata::exec::checkCpuKernel(const plan::Kernel &kernel,
                                         size_t numInputs, size_t numOutputs) {
  const KernelInfo *info = lookup(kernel.op());
  if (!info)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        locationOf(kernel) + ": error: unknown kernel '" + kernel.op() +
            "' (the CPU backend does not implement it)");
  bool inputsOk =
      numInputs >= size_t(info->minInputs) &&
      (info->maxInputs == kVariadic || numInputs <= size_t(info->maxInputs));
  if (!inputsOk)
    return kernelError(
        kernel, "takes " + countString(info->minInputs, info->maxInputs) +
                    " inputs, got " + llvm::Twine(numInputs));
  if (numOutputs != size_t(info->numOutputs))
    return kernelError(kernel, "has " + llvm::Twine(info->numOutputs) +
                                   " outputs, got " + llvm::Twine(numOutputs));
  if (kernel.op() == "sgd_update" && numInputs == 4) {
    KernelCall call(kernel, {}, {}, 1);
    double momentum = 0.0;
    if (llvm::Error err = call.optionalFloatAttr("momentum", momentum))
      return err;
    if (momentum != 0.0)
      return kernelError(kernel, "momentum " +
                                     llvm::formatv("{0}", momentum).str() +
                                     " needs a momentum buffer (5 inputs)");
  }
  return llvm::Error::success();
}

llvm::Error strata::exec::runCpuKernel(const plan::Kernel &kernel,
                                       llvm::ArrayRef<BufferView> inputs,
                                       llvm::ArrayRef<BufferView> outputs,
                                       int numThreads) {
  if (llvm::Error err = checkCpuKernel(kernel, inputs.size(), outputs.size()))
    return err;
  auto checkViews = [&](llvm::ArrayRef<BufferView> views,
                        llvm::StringRef what) -> llvm::Error {
    for (auto [i, view] : llvm::enumerate(views)) {
      if (view.dtype != plan::F32 && view.dtype != plan::I32 &&
          view.dtype != plan::BF16)
        return kernelError(kernel,
                           what + " " + llvm::Twine(i) + " is " +
                               runtime::planDTypeName(view.dtype) +
                               "; the CPU backend supports f32, bf16 and i32");
      for (int64_t d : view.shape)
        if (d < 0)
          return kernelError(kernel, what + " " + llvm::Twine(i) +
                                         " has a negative dimension in " +
                                         shapeString(view.shape));
      if (!view.data && numElements(view.shape) > 0)
        return kernelError(kernel,
                           what + " " + llvm::Twine(i) + " has no storage");
    }
    return llvm::Error::success();
  };
  if (llvm::Error err = checkViews(inputs, "input"))
    return err;
  if (llvm::Error err = checkViews(outputs, "output"))
    return err;
  const KernelInfo &info = *lookup(kernel.op());
  // A reshape copies bytes of any dtype (nothing when the memory planner put
  // its output over its input); converting would only cost two passes.
  auto isBf16 = [](const BufferView &view) { return view.dtype == plan::BF16; };
  if (kernel.op() != "reshape" &&
      (llvm::any_of(inputs, isBf16) || llvm::any_of(outputs, isBf16)))
    return runOnF32Copies(info, kernel, inputs, outputs, numThreads);
  return info.run(KernelCall(kernel, inputs, outputs, numThreads));
}

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

int64_t detail::numElements(llvm::ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string detail::shapeString(llvm::ArrayRef<int64_t> shape) {
  return runtime::planShapeString(shape);
}

void detail::parallelFor(int numThreads, int64_t n,
                         llvm::function_ref<void(int64_t, int64_t)> body) {
  int64_t threads = std::clamp<int64_t>(numThreads, 1, std::max<int64_t>(n, 1));
  if (threads == 1) {
    body(0, n);
    return;
  }
  int64_t chunk = (n + threads - 1) / threads;
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) {
    int64_t begin = t * chunk, end = std::min(n, begin + chunk);
    if (begin < end)
      pool.emplace_back([=] { body(begin, end); });
  }
  body(0, std::min(n, chunk));
  for (std::thread &th : pool)
    th.join();
}

llvm::Error KernelCall::fail(const llvm::Twine &message) const {
  return kernelError(kernel, message);
}

bool KernelCall::hasAttr(llvm::StringRef name) const {
  return kernel.attrs().count(std::string(name)) != 0;
}

namespace {
const plan::Attribute *findAttr(const plan::Kernel &kernel,
                                llvm::StringRef name) {
  auto it = kernel.attrs().find(std::string(name));
  return it == kernel.attrs().end() ? nullptr : &it->second;
}
} // namespace

llvm::Error KernelCall::intAttr(llvm::StringRef name, int64_t &value) const {
  const plan::Attribute *attr = findAttr(kernel, name);
  if (!attr)
    return fail("missing integer attribute '" + name + "'");
  if (attr->value_case() != plan::Attribute::kI)
    return fail("attribute '" + name + "' must be an integer");
  value = attr->i();
  return llvm::Error::success();
}

llvm::Error KernelCall::optionalIntAttr(llvm::StringRef name,
                                        int64_t &value) const {
  if (!hasAttr(name))
    return llvm::Error::success();
  return intAttr(name, value);
}

llvm::Error KernelCall::floatAttr(llvm::StringRef name, double &value) const {
  const plan::Attribute *attr = findAttr(kernel, name);
  if (!attr)
    return fail("missing float attribute '" + name + "'");
  if (attr->value_case() == plan::Attribute::kF)
    value = attr->f();
  else if (attr->value_case() == plan::Attribute::kI)
    value = double(attr->i());
  else
    return fail("attribute '" + name + "' must be a number");
  return llvm::Error::success();
}

llvm::Error KernelCall::optionalFloatAttr(llvm::StringRef name,
                                          double &value) const {
  if (!hasAttr(name))
    return llvm::Error::success();
  return floatAttr(name, value);
}

llvm::Error KernelCall::stringAttr(llvm::StringRef name,
                                   std::string &value) const {
  const plan::Attribute *attr = findAttr(kernel, name);
  if (!attr)
    return fail("missing attribute '" + name + "'");
  if (attr->value_case() != plan::Attribute::kS)
    return fail("attribute '" + name + "' must be a string or enum keyword");
  value = attr->s();
  return llvm::Error::success();
}

llvm::Error KernelCall::intsAttr(llvm::StringRef name,
                                 llvm::SmallVectorImpl<int64_t> &values) const {
  const plan::Attribute *attr = findAttr(kernel, name);
  if (!attr)
    return fail("missing integer list attribute '" + name + "'");
  if (attr->value_case() != plan::Attribute::kInts)
    return fail("attribute '" + name + "' must be a list of integers");
  values.assign(attr->ints().values().begin(), attr->ints().values().end());
  return llvm::Error::success();
}

llvm::Error KernelCall::unitAttr(llvm::StringRef name, bool &value) const {
  const plan::Attribute *attr = findAttr(kernel, name);
  value = false;
  if (!attr)
    return llvm::Error::success();
  if (attr->value_case() != plan::Attribute::kB)
    return fail("attribute '" + name + "' must be a boolean");
  value = attr->b();
  return llvm::Error::success();
}

namespace {
llvm::Error expectDType(const KernelCall &call, const BufferView &view,
                        plan::DType dtype, const char *what, unsigned i) {
  if (view.dtype == dtype)
    return llvm::Error::success();
  return call.fail(llvm::Twine(what) + " " + llvm::Twine(i) + " must be " +
                   runtime::planDTypeName(dtype) + ", got " +
                   runtime::planDTypeName(view.dtype));
}
} // namespace

llvm::Error KernelCall::f32In(unsigned i, const float *&data) const {
  data = static_cast<const float *>(inputs[i].data);
  return expectDType(*this, inputs[i], plan::F32, "input", i);
}

llvm::Error KernelCall::i32In(unsigned i, const int32_t *&data) const {
  data = static_cast<const int32_t *>(inputs[i].data);
  return expectDType(*this, inputs[i], plan::I32, "input", i);
}

llvm::Error KernelCall::f32Out(unsigned i, float *&data) const {
  data = static_cast<float *>(outputs[i].data);
  return expectDType(*this, outputs[i], plan::F32, "output", i);
}

llvm::Error KernelCall::i32Out(unsigned i, int32_t *&data) const {
  data = static_cast<int32_t *>(outputs[i].data);
  return expectDType(*this, outputs[i], plan::I32, "output", i);
}

namespace {
/// "<what> i has shape <actual>, expected <expected>": the error of the shape
/// and element count checks.
llvm::Error shapeMismatch(const KernelCall &call, const char *what, unsigned i,
                          llvm::ArrayRef<int64_t> actual,
                          const llvm::Twine &expected) {
  return call.fail(llvm::Twine(what) + " " + llvm::Twine(i) + " has shape " +
                   shapeString(actual) + ", expected " + expected);
}
} // namespace

llvm::Error KernelCall::expectOutShape(unsigned i,
                                       llvm::ArrayRef<int64_t> shape) const {
  if (outputs[i].shape == shape)
    return llvm::Error::success();
  return shapeMismatch(*this, "output", i, outputs[i].shape,
                       shapeString(shape));
}

llvm::Error KernelCall::expectInShape(unsigned i,
                                      llvm::ArrayRef<int64_t> shape) const {
  if (inputs[i].shape == shape)
    return llvm::Error::success();
  return shapeMismatch(*this, "input", i, inputs[i].shape, shapeString(shape));
}

llvm::Error KernelCall::expectInCount(unsigned i, int64_t count) const {
  if (inCount(i) == count)
    return llvm::Error::success();
  return shapeMismatch(*this, "input", i, inputs[i].shape,
                       llvm::Twine(count) + " element(s)");
}

llvm::Error KernelCall::expectOutCount(unsigned i, int64_t count) const {
  if (outCount(i) == count)
    return llvm::Error::success();
  return shapeMismatch(*this, "output", i, outputs[i].shape,
                       llvm::Twine(count) + " element(s)");
}

bool detail::parseBinaryKind(llvm::StringRef name, cpu::BinaryKind &kind) {
  std::optional<cpu::BinaryKind> k =
      llvm::StringSwitch<std::optional<cpu::BinaryKind>>(name)
          .Case("add", cpu::BinaryKind::Add)
          .Case("sub", cpu::BinaryKind::Sub)
          .Case("mul", cpu::BinaryKind::Mul)
          .Case("div", cpu::BinaryKind::Div)
          .Case("maximum", cpu::BinaryKind::Maximum)
          .Case("minimum", cpu::BinaryKind::Minimum)
          .Case("pow", cpu::BinaryKind::Pow)
          .Default(std::nullopt);
  if (k)
    kind = *k;
  return k.has_value();
}

bool detail::parseUnaryKind(llvm::StringRef name, cpu::UnaryKind &kind) {
  std::optional<cpu::UnaryKind> k =
      llvm::StringSwitch<std::optional<cpu::UnaryKind>>(name)
          .Case("neg", cpu::UnaryKind::Neg)
          .Case("exp", cpu::UnaryKind::Exp)
          .Case("log", cpu::UnaryKind::Log)
          .Case("sqrt", cpu::UnaryKind::Sqrt)
          .Case("rsqrt", cpu::UnaryKind::Rsqrt)
          .Case("tanh", cpu::UnaryKind::Tanh)
          .Case("sigmoid", cpu::UnaryKind::Sigmoid)
          .Case("relu", cpu::UnaryKind::Relu)
          .Case("abs", cpu::UnaryKind::Abs)
          .Default(std::nullopt);
  if (k)
    kind = *k;
  return k.has_value();
}

llvm::Error KernelCall::badIndex(llvm::StringRef what, unsigned i,
                                 int64_t position, int64_t bound) const {
  int64_t value = static_cast<const int32_t *>(inputs[i].data)[position];
  return fail(what + " " + llvm::Twine(value) + " at position " +
              llvm::Twine(position) + " is out of range [0, " +
              llvm::Twine(bound) + ")");
}

llvm::Error FloatInput::init(const KernelCall &call, unsigned i) {
  const BufferView &view = call.inputs[i];
  if (view.dtype == plan::F32) {
    pointer = static_cast<const float *>(view.data);
    return llvm::Error::success();
  }
  const int32_t *ints = static_cast<const int32_t *>(view.data);
  int64_t n = numElements(view.shape);
  converted.resize(n);
  for (int64_t j = 0; j < n; ++j) {
    if (ints[j] > (1 << 24) || ints[j] < -(1 << 24))
      return call.fail("integer " + llvm::Twine(ints[j]) + " at position " +
                       llvm::Twine(j) + " of input " + llvm::Twine(i) +
                       " is too large for the f32 kernels");
    converted[j] = float(ints[j]);
  }
  pointer = converted.data();
  return llvm::Error::success();
}

llvm::Error FloatOutput::init(const KernelCall &call, unsigned i) {
  const BufferView &view = call.outputs[i];
  if (view.dtype == plan::F32) {
    pointer = static_cast<float *>(view.data);
    return llvm::Error::success();
  }
  ints = static_cast<int32_t *>(view.data);
  scratch.resize(numElements(view.shape));
  pointer = scratch.data();
  return llvm::Error::success();
}

void FloatOutput::finish() {
  if (!ints)
    return;
  // Truncation, like the interpreter; integer inputs give exact values
  // except for a mean.
  for (size_t j = 0; j < scratch.size(); ++j)
    ints[j] = int32_t(static_cast<int64_t>(scratch[j]));
}

llvm::Error detail::expectSameDType(const KernelCall &call,
                                    llvm::ArrayRef<unsigned> inputs,
                                    unsigned output) {
  plan::DType dtype = call.outputs[output].dtype;
  for (unsigned i : inputs)
    if (call.inputs[i].dtype != dtype)
      return call.fail("input " + llvm::Twine(i) + " is " +
                       runtime::planDTypeName(call.inputs[i].dtype) +
                       " but output " + llvm::Twine(output) + " is " +
                       runtime::planDTypeName(dtype));
  return llvm::Error::success();
}

llvm::Error detail::broadcastShapes(const KernelCall &call,
                                    llvm::ArrayRef<int64_t> a,
                                    llvm::ArrayRef<int64_t> b,
                                    llvm::SmallVectorImpl<int64_t> &out) {
  size_t rank = std::max(a.size(), b.size());
  out.assign(rank, 0);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return call.fail("shapes " + shapeString(a) + " and " + shapeString(b) +
                       " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return llvm::Error::success();
}

llvm::Error detail::reduceAxes(const KernelCall &call,
                               llvm::ArrayRef<int64_t> shape,
                               llvm::SmallVectorImpl<int64_t> &axes,
                               llvm::SmallVectorImpl<int64_t> &reducedShape) {
  bool keepdim = false;
  if (llvm::Error err = call.intsAttr("axes", axes))
    return err;
  if (llvm::Error err = call.unitAttr("keepdim", keepdim))
    return err;
  int64_t rank = shape.size();
  for (int64_t &axis : axes) {
    if (axis < -rank || axis >= rank)
      return call.fail("axis " + llvm::Twine(axis) + " is out of range for " +
                       shapeString(shape));
    if (axis < 0)
      axis += rank;
  }
  llvm::sort(axes);
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    return call.fail("axes repeat a dimension");
  reducedShape.clear();
  for (int64_t d = 0; d < rank; ++d) {
    if (!llvm::is_contained(axes, d))
      reducedShape.push_back(shape[d]);
    else if (keepdim)
      reducedShape.push_back(1);
  }
  return llvm::Error::success();
}

llvm::Error detail::reduceKind(const KernelCall &call, cpu::ReduceKind &kind) {
  std::string name;
  if (llvm::Error err = call.stringAttr("kind", name))
    return err;
  if (name == "sum")
    kind = cpu::ReduceKind::Sum;
  else if (name == "mean")
    kind = cpu::ReduceKind::Mean;
  else if (name == "max")
    kind = cpu::ReduceKind::Max;
  else if (name == "min")
    kind = cpu::ReduceKind::Min;
  else
    return call.fail("unknown reduce kind '" + name + "'");
  return llvm::Error::success();
}

llvm::Error detail::geluApproximation(const KernelCall &call,
                                      cpu::GeluApproximation &approx) {
  std::string name = "none";
  if (call.hasAttr("approximate"))
    if (llvm::Error err = call.stringAttr("approximate", name))
      return err;
  if (name == "none")
    approx = cpu::GeluApproximation::None;
  else if (name == "tanh")
    approx = cpu::GeluApproximation::Tanh;
  else
    return call.fail("unknown gelu approximation '" + name + "'");
  return llvm::Error::success();
}

llvm::Error detail::softmaxAxis(const KernelCall &call, int64_t rank,
                                int64_t &axis) {
  if (llvm::Error err = call.intAttr("axis", axis))
    return err;
  if (rank == 0)
    return call.fail("needs an input of rank >= 1");
  if (axis < -rank || axis >= rank)
    return call.fail("axis " + llvm::Twine(axis) +
                     " is out of range for rank " + llvm::Twine(rank));
  if (axis < 0)
    axis += rank;
  return llvm::Error::success();
}

void detail::alongAxis(llvm::ArrayRef<const float *> in, float *out,
                       llvm::ArrayRef<int64_t> shape, int64_t axis,
                       llvm::function_ref<void(llvm::ArrayRef<const float *>,
                                               float *, int64_t, int64_t)>
                           rowKernel) {
  int64_t rank = shape.size(), n = numElements(shape);
  int64_t cols = shape[axis], rows = cols ? n / cols : 0;
  if (axis == rank - 1) {
    rowKernel(in, out, rows, cols);
    return;
  }
  llvm::SmallVector<int64_t> perm, inverse(rank), moved;
  for (int64_t d = 0; d < rank; ++d)
    if (d != axis)
      perm.push_back(d);
  perm.push_back(axis);
  for (int64_t d = 0; d < rank; ++d) {
    inverse[perm[d]] = d;
    moved.push_back(shape[perm[d]]);
  }
  std::vector<std::vector<float>> movedIn(in.size(), std::vector<float>(n));
  llvm::SmallVector<const float *> pointers;
  for (auto [src, dst] : llvm::zip(in, movedIn)) {
    cpu::transposeForward(src, viewOf(shape), perm.data(), dst.data());
    pointers.push_back(dst.data());
  }
  std::vector<float> result(n);
  rowKernel(pointers, result.data(), rows, cols);
  cpu::transposeForward(result.data(), viewOf(moved), inverse.data(), out);
}
